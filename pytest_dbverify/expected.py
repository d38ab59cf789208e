"""The expected schema: the migrations applied to a throwaway server of our own.

Checks are generated from this database's catalog and run against the target, so that
an object the migrations create but the target lacks fails its check by name. It is
never the target: destructive work (dbmate up, and later round trips) happens here only.

The embedded PostgreSQL 18 wheel has no pgcrypto or uuid-ossp: when the migrations need
an extension a server kind lacks, the other kind is tried; when none has it, the run
falls back to the target's own catalog and says so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_dbverify.binaries import SERVER_KINDS, ServerKind, find_binaries
from pytest_dbverify.embedded import ThrowawayServer
from pytest_dbverify.errors import DbverifyError, MigrationError
from pytest_dbverify.migrations import Dbmate

EXPECTED_DB = "dbverify"
_MISSING_EXTENSION = re.compile(
    r'extension "(?P<name>[^"]+)" is not available|could not open extension control file'
    r'.*?/(?P<file>[^/"]+)\.control',
    re.IGNORECASE,
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class Expectation:
    """Where the expected catalog comes from; ``conninfo`` is None for the target's own."""

    conninfo: str | None
    source: str
    warning: str | None = None


@dataclass
class ExpectedServers:
    """The throwaway servers a run started for its expected schema; stop them at the end."""

    servers: list[ThrowawayServer] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every server, newest first."""
        while self.servers:
            self.servers.pop().stop()

    def build(self, migrations_dir: Path, preferred: ServerKind, say: Say) -> Expectation:
        """Apply ``migrations_dir`` to a throwaway server, trying the other kind if needed.

        Raises:
            MigrationError: the migrations fail for a reason other than a missing extension.
        """
        kinds = [preferred, *(kind for kind in SERVER_KINDS if kind != preferred)]
        missing: list[str] = []
        for kind in kinds:
            try:
                binaries = find_binaries(kind)
            except DbverifyError:
                continue  # that kind is not installed here: nothing to fall back to
            began = time.perf_counter()
            server = ThrowawayServer(binaries)
            self.servers.append(server)
            info = server.start()
            say(
                f"dbverify: started a throwaway PostgreSQL {info.version} ({kind}) "
                f"in {time.perf_counter() - began:.2f}s"
            )
            began = time.perf_counter()
            dbmate = Dbmate(
                info.url(EXPECTED_DB), migrations_dir=migrations_dir, pg_bindir=Path(info.bindir)
            )
            try:
                dbmate.up()
            except MigrationError as err:
                extension = _missing_extension(f"{err} {err.output}")
                if extension is None:
                    raise MigrationError(
                        f"the migrations of {migrations_dir} do not apply to an empty "
                        f"PostgreSQL {info.version} ({kind}): {err.detail}; fix that "
                        "migration (`dbmate up` on an empty database shows the same error)",
                        output=err.output,
                        detail=err.detail,
                    ) from None
                missing.append(f"{kind} PostgreSQL {info.version} lacks extension {extension}")
                self.servers.remove(server)
                server.stop()
                continue
            say(
                f"dbverify: applied the migrations of {migrations_dir} "
                f"in {time.perf_counter() - began:.2f}s"
            )
            return Expectation(
                conninfo=info.url(EXPECTED_DB),
                source=f"{migrations_dir} applied to a throwaway {kind} PostgreSQL {info.version}",
            )
        return Expectation(
            conninfo=None,
            source="the target's own catalog",
            warning=(
                "the migrations could not be applied to any throwaway server ("
                + "; ".join(missing or ["no PostgreSQL server installed"])
                + "): checks come from the target's own catalog, so an object missing "
                "there is not noticed; install the extension's package or use a system "
                "server that has it (--dbverify-server system)"
            ),
        )


def _missing_extension(text: str) -> str | None:
    match = _MISSING_EXTENSION.search(text)
    if match is None:
        return None
    return match.group("name") or match.group("file")
