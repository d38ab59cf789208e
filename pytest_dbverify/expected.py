"""The expected schema: the migrations applied to a throwaway server of our own.

Checks are generated from this database's catalog and run against the target, so that
an object the migrations create but the target lacks fails its check by name. It is
never the target: destructive work (dbmate up, and later round trips) happens here only.

The embedded PostgreSQL 18 wheel has no pgcrypto or uuid-ossp: when the migrations need
an extension a server kind lacks, the other kind is tried; when none has it, the run
stops: the target's own catalog is the expectation only when the user asks for it
(``--dbverify-expect=target``), never as a quiet fallback.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import sql

from pytest_dbverify.binaries import SERVER_KINDS, ServerKind, find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from pytest_dbverify.errors import DbverifyError, ExpectationError, MigrationError
from pytest_dbverify.migrations import Dbmate

EXPECTED_DB = "dbverify"
_MISSING_EXTENSION = re.compile(
    r'extension "(?P<name>[^"]+)" is not available|could not open extension control file'
    r'.*?/(?P<file>[^/"]+)\.control',
    re.IGNORECASE,
)


class Say(Protocol):
    """Writes progress to the terminal; ``end=" "`` leaves the line open for the outcome."""

    def __call__(self, line: str, *, end: str = ...) -> None:
        """Write ``line`` followed by ``end`` (a newline by default)."""


@dataclass(frozen=True)
class Expectation:
    """Where the expected catalog comes from; ``conninfo`` is None for the target's own."""

    conninfo: str | None
    source: str
    server: str | None = None  # ServerInfo.to_json() when it is a throwaway server of ours


@dataclass
class ExpectedServers:
    """The throwaway servers a run started for its expected schema; stop them at the end."""

    servers: list[ThrowawayServer] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every server, newest first."""
        while self.servers:
            self.servers.pop().stop()

    def build(
        self, migrations_dir: Path, preferred: ServerKind, say: Say, setup: Path | None = None
    ) -> Expectation:
        """Apply ``migrations_dir`` to a throwaway server, trying the other kind if needed.

        ``setup`` (SQL) runs in the new database first, as superuser.

        Raises:
            MigrationError: the migrations fail for a reason other than a missing extension.
            ExpectationError: every server kind lacks an extension the migrations create.
        """
        kinds = [preferred, *(kind for kind in SERVER_KINDS if kind != preferred)]
        missing: list[str] = []
        for kind in kinds:
            try:
                binaries = find_binaries(kind)
            except DbverifyError:
                continue  # that kind is not installed here: nothing to fall back to
            server = ThrowawayServer(binaries)
            self.servers.append(server)
            with _step(say, f"starting a throwaway PostgreSQL ({kind})") as outcome:
                info = server.start()
                outcome[0] = f"PostgreSQL {info.version} ready"
            dbmate = Dbmate(
                info.url(EXPECTED_DB), migrations_dir=migrations_dir, pg_bindir=Path(info.bindir)
            )
            with _step(say, f"applying the migrations of {migrations_dir}") as outcome:
                try:
                    if setup is not None:
                        create_database(info, EXPECTED_DB)
                        run_setup(info.conninfo(EXPECTED_DB), setup)
                    dbmate.up()
                    outcome[0] = "done"
                except MigrationError as err:
                    extension = _missing_extension(f"{err} {err.output}")
                    if extension is None and err.detail.startswith("setup "):
                        raise  # the setup's own words: no migration to blame
                    if extension is None:
                        raise MigrationError(
                            f"the migrations of {migrations_dir} do not apply to an empty "
                            f"PostgreSQL {info.version} ({kind}): {err.detail}; fix that "
                            "migration (`dbmate up` on an empty database shows the same error)",
                            output=err.output,
                            detail=err.detail,
                        ) from None
                    outcome[0] = f"PostgreSQL {info.version} lacks extension {extension}"
            if outcome[0] != "done":
                missing.append(f"{kind} {outcome[0]}")
                self.servers.remove(server)
                server.stop()
                continue
            return Expectation(
                conninfo=info.url(EXPECTED_DB),
                source=f"{migrations_dir} applied to a throwaway {kind} PostgreSQL {info.version}",
                server=info.to_json(),
            )
        raise ExpectationError(
            f"the migrations of {migrations_dir} could not be applied to any throwaway server "
            f"({'; '.join(missing or ['no PostgreSQL server installed'])}): install the "
            "extension's package for a server kind (--dbverify-server system), name a "
            "database that holds the migrated schema (--dbverify-expected-url), or take the "
            "target's own catalog as the expectation (--dbverify-expect=target)"
        )


def create_database(server: ServerInfo, name: str) -> None:
    """Create database ``name`` on a throwaway server of ours."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run_setup(conninfo: str, setup: Path) -> None:
    """Run the setup SQL in a database of ours, as superuser, before the migrations.

    Raises:
        MigrationError: the setup fails; the server's words name the statement.
    """
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(setup.read_text(encoding="utf-8").encode())
    except psycopg.Error as err:
        words = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MigrationError(
            f"the setup {setup} (--dbverify-setup) fails on a new database: {words}",
            detail=f"setup {setup.name}: {words}",
        ) from None


@contextmanager
def _step(say: Say, doing: str) -> Iterator[list[str]]:
    """Say ``doing ...`` at once, then end that line with the outcome and the time taken.

    One line per slow step, shown before the step starts: a slow start is never silent.
    """
    began = time.perf_counter()
    say(f"dbverify: {doing} ...", end=" ")
    outcome = ["failed"]
    try:
        yield outcome
    finally:
        say(f"{outcome[0]} in {time.perf_counter() - began:.2f}s")


def _missing_extension(text: str) -> str | None:
    match = _MISSING_EXTENSION.search(text)
    if match is None:
        return None
    return match.group("name") or match.group("file")
