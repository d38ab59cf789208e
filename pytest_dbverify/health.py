"""Health of a deployed database: one typed report, and an HTTP endpoint that serves it.

A check opens one read-only connection with a short connect budget, learns the server's
version, reads dbmate's migrations table and tries ``SELECT * FROM t LIMIT 0`` on every
table of the checked schemas, in one transaction that is always rolled back. It never
raises for a database problem: an unreachable or broken database is an unhealthy report
whose ``error`` is one redacted line. Every text in a report is redacted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from pytest_dbverify.catalog import TableName, list_tables, minimum_version_ok
from pytest_dbverify.migrations import migration_files
from pytest_dbverify.pool import ConnectError, connect, server_words
from pytest_dbverify.redact import redact_text
from pytest_dbverify.settings import Settings
from pytest_dbverify.target import Target, resolve_target

Status = Literal["healthy", "unhealthy"]
HEALTH_PATH = "/healthz"
# A table locked for longer than this is reported unreadable instead of stalling the probe.
LOCK_TIMEOUT = 1.0
# Each probe opens a connection: a burst of probes must not exhaust max_connections.
MAX_CONCURRENT_CHECKS = 4

_FACTS = """
SELECT current_setting('server_version'), current_setting('server_version_num')::int,
       current_database(), to_regclass(%s) IS NOT NULL
"""


@dataclass(frozen=True)
class HealthReport:
    """The outcome of one health check; every text in it is redacted.

    Attributes:
        status: ``healthy`` exactly when ``problems`` is empty.
        target: The database checked, password replaced by ``***``.
        latency_ms: The first query's round trip; None if no connection was made.
        server_version: ``server_version`` as the server reports it.
        database: ``current_database()``.
        migrations_applied: Versions in dbmate's table, oldest first.
        migrations_pending: Versions of migration files not in dbmate's table.
        tables_not_readable: ``schema.table: reason [SQLSTATE]`` per table not readable.
        problems: One line per reason the database is unhealthy.
        error: Why the check could not complete (no connection, lost connection).
    """

    status: Status
    target: str
    latency_ms: float | None = None
    server_version: str | None = None
    database: str | None = None
    migrations_applied: tuple[str, ...] = ()
    migrations_pending: tuple[str, ...] = ()
    tables_not_readable: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    error: str | None = None

    @property
    def healthy(self) -> bool:
        """Return True when the status is ``healthy``."""
        return self.status == "healthy"

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON types (tuples become lists)."""
        return {
            field.name: list(value) if isinstance(value, tuple) else value
            for field in dataclasses.fields(self)
            for value in [getattr(self, field.name)]
        }

    def to_json(self) -> str:
        """Return the report as one line of JSON."""
        return json.dumps(self.to_dict())


def health_check(
    conninfo: str,
    *,
    migrations_dir: Path | None = None,
    schemas: Sequence[str] = ("public",),
    migrations_table: str = "schema_migrations",
    connect_timeout: float = 5.0,
) -> HealthReport:
    """Check the database at ``conninfo`` (a URL or conninfo; "" means libpq's PG* variables).

    Args:
        conninfo: The database to check; a password in it never reaches the report.
        migrations_dir: dbmate migrations; files not applied are pending. None: no check.
        schemas: Schemas whose tables must be readable.
        migrations_table: dbmate's table, ``table`` or ``schema.table``.
        connect_timeout: Seconds to keep retrying a connection; also bounds each query.

    Returns:
        The report; unhealthy, never an exception, for any database problem.

    Raises:
        ValueError: An argument is invalid (the message names it).
        pytest.UsageError: ``conninfo`` is not a connection string libpq can parse.
    """
    if not isinstance(conninfo, str):
        raise ValueError(f"conninfo={conninfo!r}: expected a URL or conninfo string")
    settings = health_settings(
        conninfo,
        schemas=schemas,
        migrations_table=migrations_table,
        connect_timeout=connect_timeout,
        url_source="health_check(conninfo)",
    )
    target = resolve_target(settings)
    assert target is not None  # settings.url is set, so it is the target
    return check_target(target, settings, migrations_dir=_checked_dir(migrations_dir))


def health_settings(
    url: str | None,
    *,
    schemas: Sequence[str] = ("public",),
    migrations_table: str = "schema_migrations",
    connect_timeout: float = 5.0,
    url_source: str = "--url",
) -> Settings:
    """Return the settings of a health check: read-only, with short timeouts.

    Raises:
        ValueError: An argument is invalid (the message names it).
    """
    if isinstance(schemas, str) or not schemas or not all(schemas):
        raise ValueError(f"schemas={schemas!r}: expected a sequence of schema names")
    parts = migrations_table.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise ValueError(
            f"migrations_table={migrations_table!r}: expected 'table' or 'schema.table'"
        )
    if not (connect_timeout > 0 and math.isfinite(connect_timeout)):
        raise ValueError(f"connect_timeout={connect_timeout!r}: expected seconds > 0")
    defaults = Settings.defaults()
    return dataclasses.replace(
        defaults,
        sources={**defaults.sources, "url": url_source},
        url=url,
        schemas=tuple(schemas),
        migrations_table=migrations_table,
        connect_timeout=connect_timeout,
        lock_timeout=min(LOCK_TIMEOUT, connect_timeout),
        statement_timeout=connect_timeout,
        read_only=True,
    )


def check_target(
    target: Target, settings: Settings, *, migrations_dir: Path | None
) -> HealthReport:
    """Check an already resolved target with ``settings``; never raise for database problems."""
    try:
        conn = connect(target, settings, budget_setting="--connect-timeout")
    except ConnectError as err:
        return _failed(target, str(err))
    except psycopg.Error as err:  # libpq refused the conninfo, or the session setup failed
        return _failed(target, f"cannot open a session on {_shown(target)}: {_words(err, target)}")
    try:
        return _inspect(conn, target, settings, migrations_dir)
    except psycopg.Error as err:
        return _failed(target, f"health check failed on {_shown(target)}: {_words(err, target)}")
    finally:
        conn.close()  # the transaction was rolled back already; nothing to commit


def assess(
    *,
    version: str,
    version_num: int,
    pending: Sequence[str],
    not_readable: Sequence[TableName],
    migrations_unknown: str | None = None,
) -> tuple[str, ...]:
    """Return one line per reason that makes a completed check unhealthy."""
    problems: list[str] = []
    if not minimum_version_ok(version_num):
        problems.append(f"PostgreSQL {version} is older than 13, the oldest supported")
    if migrations_unknown is not None:
        problems.append(migrations_unknown)
    if pending:
        problems.append(f"migrations pending: {', '.join(pending)}")
    if not_readable:
        problems.append(f"tables not readable: {', '.join(map(str, not_readable))}")
    return tuple(problems)


def _inspect(
    conn: psycopg.Connection, target: Target, settings: Settings, migrations_dir: Path | None
) -> HealthReport:
    migrations_table = sql.Identifier(*settings.migrations_table.split("."))
    # Pipeline mode: statements travel together and each sync is one round trip, so a
    # healthy check costs a handful of round trips whatever the number of tables.
    with conn.pipeline(), conn.transaction(force_rollback=True):
        began = time.perf_counter()
        facts = conn.execute(_FACTS, [migrations_table.as_string(conn)])
        tables = list_tables(conn, settings.schemas)  # fetching syncs both queries
        latency_ms = round((time.perf_counter() - began) * 1000, 2)
        row = facts.fetchone()
        assert row is not None
        version, version_num, database, has_migrations_table = row
        versions = sql.SQL("SELECT version::text FROM {} ORDER BY version").format(migrations_table)
        reads = _read(conn, versions if has_migrations_table else None, tables)
    unknown = None
    if isinstance(reads.applied, psycopg.Error):
        unknown = (
            f"cannot read the migrations table {settings.migrations_table} "
            f"({_words(reads.applied, target)}): applied migrations unknown"
        )
    applied = () if isinstance(reads.applied, psycopg.Error) else reads.applied
    pending: tuple[str, ...] = ()
    if migrations_dir is not None and unknown is None:
        pending = tuple(
            file.version for file in migration_files(migrations_dir) if file.version not in applied
        )
    problems = assess(
        version=version,
        version_num=version_num,
        pending=pending,
        not_readable=[table for table, _ in reads.failures],
        migrations_unknown=unknown,
    )
    return HealthReport(
        status="unhealthy" if problems else "healthy",
        target=_shown(target),
        latency_ms=latency_ms,
        server_version=version,
        database=database,
        migrations_applied=applied,
        migrations_pending=pending,
        tables_not_readable=tuple(
            f"{table}: {_words(err, target)}" for table, err in reads.failures
        ),
        problems=problems,
    )


@dataclass(frozen=True)
class _Reads:
    """The applied versions (or why they could not be read) and the tables that failed."""

    applied: tuple[str, ...] | psycopg.Error
    failures: list[tuple[TableName, psycopg.Error]]


def _read(
    conn: psycopg.Connection, versions: sql.Composed | None, tables: Sequence[TableName]
) -> _Reads:
    """Read the applied versions and try ``SELECT * FROM t LIMIT 0`` on every table."""
    reads = [
        sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier(table.schema, table.name))
        for table in tables
    ]
    try:  # the usual case, everything readable: one savepoint, one round trip for all
        with conn.transaction():
            applied = conn.execute(versions) if versions is not None else None
            for statement in reads:
                conn.execute(statement)
        return _Reads(_versions(applied), [])
    except psycopg.Error:
        if conn.broken:
            raise
    # A pipeline stops at the first error: read each on its own to learn every failure.
    result: tuple[str, ...] | psycopg.Error = ()
    if versions is not None:
        try:
            with conn.transaction():
                applied = conn.execute(versions)
            result = _versions(applied)
        except psycopg.Error as err:
            if conn.broken:
                raise
            result = err
    failures: list[tuple[TableName, psycopg.Error]] = []
    for table, statement in zip(tables, reads, strict=True):
        try:
            with conn.transaction():
                conn.execute(statement)
        except psycopg.Error as err:
            if conn.broken:
                raise
            failures.append((table, err))
    return _Reads(result, failures)


def _versions(cursor: psycopg.Cursor[Any] | None) -> tuple[str, ...]:
    return () if cursor is None else tuple(version for (version,) in cursor.fetchall())


def _failed(target: Target, error: str) -> HealthReport:
    error = redact_text(error, target.secrets)
    return HealthReport(status="unhealthy", target=_shown(target), problems=(error,), error=error)


def _shown(target: Target) -> str:
    # An empty conninfo leaves everything to libpq's defaults and PG* variables.
    return target.shown or "(libpq defaults and PG* variables)"


def _words(err: psycopg.Error, target: Target) -> str:
    words = redact_text(server_words(err), target.secrets)
    return f"{words} [{err.sqlstate}]" if err.sqlstate else words


def _checked_dir(migrations_dir: Path | None) -> Path | None:
    if migrations_dir is not None and not Path(migrations_dir).is_dir():
        raise ValueError(f"migrations_dir={str(migrations_dir)!r}: not a directory")
    return None if migrations_dir is None else Path(migrations_dir)


# -- the endpoint ----------------------------------------------------------------------


class HealthServer(ThreadingHTTPServer):
    """``GET /healthz``: a fresh check per request, 200 when healthy, else 503; JSON body."""

    daemon_threads = True  # a probe still running must not delay shutdown

    def __init__(self, address: tuple[str, int], check: Callable[[], HealthReport]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _HealthHandler)
        self.check = check
        self.slots = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)
        self.log: Callable[[str], None] = lambda line: None

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host, which can stall startup."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Log one line, not socketserver's traceback (a client that hung up, say)."""
        error = sys.exc_info()[1]
        self.log(f"request failed: {type(error).__name__}: {redact_text(str(error))}")

    @property
    def url(self) -> str:
        """Return the endpoint's URL on the address actually bound (port 0 resolved)."""
        host = f"[{self.server_name}]" if ":" in self.server_name else self.server_name
        return f"http://{host}:{self.server_port}{HEALTH_PATH}"


class _HealthHandler(BaseHTTPRequestHandler):
    server: HealthServer
    server_version = "dbverify"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        began = time.perf_counter()
        if urlsplit(self.path).path != HEALTH_PATH:
            code, payload = 404, json.dumps({"error": f"not found: try {HEALTH_PATH}"})
        else:
            try:
                with self.server.slots:
                    report = self.server.check()
                code, payload = (200 if report.healthy else 503), report.to_json()
            except Exception as err:  # a bug, not the database: answer, and say nothing secret
                code, payload = (
                    500,
                    json.dumps({"error": f"health check crashed: {type(err).__name__}"}),
                )
        data = payload.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)
        # The path without its query string: a caller may have put anything there.
        self.server.log(
            f"{self.command} {urlsplit(self.path).path} {code} "
            f"{(time.perf_counter() - began) * 1000:.0f}ms"
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: the default echoes raw request lines, query strings included."""
