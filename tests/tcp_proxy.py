"""A loopback TCP proxy for fault tests: it forwards, or it turns into a black hole.

``blackhole()`` makes the network go silent: bytes from either side are read and dropped,
and new connections are accepted but never forwarded, as when a route or a security group
drops packets. Nothing is refused or reset: a client notices only by its own timeouts.
"""

from __future__ import annotations

import selectors
import socket
import threading
from contextlib import suppress
from types import TracebackType


class TcpProxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:<target_port> until told to go silent."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._silent = threading.Event()
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Accept and forward connections in a background thread."""
        self._spawn(self._accept_loop)

    def blackhole(self) -> None:
        """Stop forwarding anything, in both directions, without closing a connection."""
        self._silent.set()

    def stop(self) -> None:
        """Close every socket and wait for the threads (bounded)."""
        self._stopped.set()
        for sock in [self._listener, *self._sockets]:
            with suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._sockets.append(client)
            if self._silent.is_set():
                continue  # accepted, never answered
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._sockets.append(server)
            self._spawn(self._pipe, client, server)

    def _pipe(self, client: socket.socket, server: socket.socket) -> None:
        peer = {client: server, server: client}
        with selectors.DefaultSelector() as selector:
            for sock in peer:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stopped.is_set():
                for key, _ in selector.select(timeout=0.2):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        with suppress(OSError):
                            peer[sock].shutdown(socket.SHUT_WR)
                        selector.unregister(sock)
                        if not selector.get_map():
                            return
                        continue
                    if self._silent.is_set():
                        continue  # dropped on the floor
                    try:
                        peer[sock].sendall(data)
                    except OSError:
                        return
