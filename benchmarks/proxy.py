"""A counting TCP proxy for PostgreSQL connections, with optional added latency.

Usage: python benchmarks/proxy.py --upstream HOST:PORT [--listen-port P] [--delay-ms N]
(prints its port, then its counters when stopped with Ctrl-C). From Python::

    with CountingProxy("127.0.0.1", 5432, delay_ms=20) as proxy:
        ...  # connect to 127.0.0.1:proxy.port
        print(proxy.counters())

A round trip is a burst of client->server bytes followed by server->client bytes: it
is counted when the first reply byte arrives after the client has sent something, per
connection. Startup and authentication count like any other exchange. The proxy also
parses the frontend protocol to count the statements the client drives (a simple
``Query`` or an extended-protocol ``Execute`` message is one statement).

``delay_ms`` delays every chunk by that many milliseconds in each direction, without
limiting throughput (chunks in flight overlap), like a long, fat network link.

Counters can be read from another process: the proxy answers a connection to its
``control_port`` with one JSON line of its counters (see ``read_counters``), which is
how ``benchmarks/probe.py`` attributes round trips to each pytest item.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from dataclasses import asdict, dataclass
from types import TracebackType

_CHUNK = 1 << 16
_STATEMENT_MESSAGES = (b"Q", b"E")


@dataclass
class Counters:
    """What crossed the proxy since it started."""

    connections: int = 0
    round_trips: int = 0
    statements: int = 0
    client_bytes: int = 0
    server_bytes: int = 0


class _FrontendParser:
    """Splits the client's byte stream into protocol messages to count statements."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._startup = True  # the first message (and SSL/GSS requests) has no type byte

    def feed(self, data: bytes) -> int:
        """Consume ``data``; return how many statement messages it completed."""
        self._buffer += data
        statements = 0
        while True:
            if self._startup:
                if len(self._buffer) < 8:
                    return statements
                length, code = struct.unpack("!ii", self._buffer[:8])
                if len(self._buffer) < length:
                    return statements
                del self._buffer[:length]
                # SSLRequest / GSSENCRequest are followed by another untyped startup.
                self._startup = code in (80877103, 80877104)
                continue
            if len(self._buffer) < 5:
                return statements
            (length,) = struct.unpack("!i", self._buffer[1:5])
            if len(self._buffer) < 1 + length:
                return statements
            if bytes(self._buffer[:1]) in _STATEMENT_MESSAGES:
                statements += 1
            del self._buffer[: 1 + length]


class CountingProxy:
    """Forward ``127.0.0.1:port`` to ``upstream``, counting round trips and statements.

    Runs its own event loop in a daemon thread; ``start()``/``stop()`` or a ``with`` block.
    """

    def __init__(
        self, upstream_host: str, upstream_port: int, *, delay_ms: float = 0.0, port: int = 0
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay_ms / 1000
        self.port = port
        self.control_port = 0
        self._counters = Counters()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    def __enter__(self) -> CountingProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def counters(self) -> Counters:
        """Return a copy of the counters."""
        with self._lock:
            return Counters(**asdict(self._counters))

    def reset(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._counters = Counters()

    def start(self) -> None:
        """Listen; return once both ports are bound."""
        self._thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting proxy did not start within 10 s")

    def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    # -- the event loop ---------------------------------------------------------------

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        control = await asyncio.start_server(self._answer_control, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.control_port = control.sockets[0].getsockname()[1]
        self._ready.set()
        async with server, control:
            await self._stop.wait()
            server.close()
            control.close()

    async def _answer_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(json.dumps(asdict(self.counters())).encode() + b"\n")
        await writer.drain()
        writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        for writer in (client_w, server_w):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._counters.connections += 1
        # True while the client has sent bytes that the server has not yet answered.
        state = {"awaiting_reply": False}
        parser = _FrontendParser()
        try:
            await asyncio.gather(
                self._pump(client_r, server_w, state, parser),
                self._pump(server_r, client_w, state, None),
                return_exceptions=True,
            )
        except asyncio.CancelledError:  # the proxy is stopping: drop the connection quietly
            client_w.close()
            server_w.close()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        state: dict[str, bool],
        parser: _FrontendParser | None,
    ) -> None:
        from_client = parser is not None
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._deliver(queue, writer))
        try:
            while data := await reader.read(_CHUNK):
                with self._lock:
                    if from_client:
                        assert parser is not None
                        self._counters.client_bytes += len(data)
                        self._counters.statements += parser.feed(data)
                        state["awaiting_reply"] = True
                    else:
                        self._counters.server_bytes += len(data)
                        if state["awaiting_reply"]:
                            self._counters.round_trips += 1
                            state["awaiting_reply"] = False
                queue.put_nowait((time.monotonic() + self.delay, data))
        finally:
            queue.put_nowait((0.0, b""))
            await sender

    async def _deliver(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


def read_counters(control_port: int, host: str = "127.0.0.1") -> dict[str, int]:
    """Return a running proxy's counters through its control port (from any process)."""
    with socket.create_connection((host, control_port), timeout=5) as sock:
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    result: dict[str, int] = json.loads(b"".join(chunks))
    return result


def main() -> None:
    """Run a proxy until Ctrl-C, then print its counters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the PostgreSQL server")
    parser.add_argument("--listen-port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added latency each way")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    with CountingProxy(host, int(port), delay_ms=args.delay_ms, port=args.listen_port) as proxy:
        print(f"listening on 127.0.0.1:{proxy.port} (counters on port {proxy.control_port})")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        print(json.dumps(asdict(proxy.counters())))


if __name__ == "__main__":
    main()
