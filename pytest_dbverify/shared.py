"""One throwaway server per test run, shared by every pytest-xdist worker.

Without xdist the pytest process starts each server kind on first use. Under xdist the
controller starts them while it sets up its workers (``pytest_configure_node``) and
passes how to reach them in ``workerinput``; workers never start servers of their own.
The controller stops them at the end of the run, and the reaper covers a killed run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import pytest

from pytest_dbverify.binaries import ServerKind, find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer

WORKERINPUT_KEY = "dbverify_servers"

Prepare = Callable[[ServerInfo], None]


class SharedServers:
    """A pytest plugin object that owns the run's throwaway servers.

    ``prepare`` runs once per server right after it starts (for instance to apply
    migrations to a template database), in the process that started it.
    """

    def __init__(
        self,
        config: pytest.Config,
        *,
        kinds: Iterable[ServerKind],
        prepare: Prepare | None = None,
    ) -> None:
        self._config = config
        self.kinds = tuple(kinds)
        self._prepare = prepare
        self._servers: dict[ServerKind, ThrowawayServer] = {}
        self._infos: dict[str, ServerInfo] = {}
        workerinput: dict[str, str] | None = getattr(config, "workerinput", None)
        if workerinput is not None and WORKERINPUT_KEY in workerinput:
            shared = json.loads(workerinput[WORKERINPUT_KEY])
            self._infos = {kind: ServerInfo.from_json(text) for kind, text in shared.items()}
        self.is_worker = workerinput is not None

    def get(self, kind: ServerKind) -> ServerInfo:
        """Return the run's server of ``kind``, starting it if this process owns servers."""
        if kind in self._infos:
            return self._infos[kind]
        if self.is_worker:
            raise RuntimeError(
                f"no shared {kind} server was handed to this xdist worker: "
                f"the controller shares only {', '.join(self.kinds) or 'none'}"
            )
        server = ThrowawayServer(find_binaries(kind))
        self._servers[kind] = server
        info = server.start()
        if self._prepare is not None:
            self._prepare(info)
        self._infos[kind] = info
        return info

    def stop(self) -> None:
        """Stop every server this process started."""
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
        if not self.is_worker:
            self._infos.clear()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: object) -> None:
        """Start the servers once and hand them to each xdist worker being set up."""
        shared = {kind: self.get(kind).to_json() for kind in self.kinds}
        node.workerinput[WORKERINPUT_KEY] = json.dumps(shared)  # type: ignore[attr-defined]

    def pytest_unconfigure(self) -> None:
        """Stop the servers at the end of the run."""
        self.stop()
