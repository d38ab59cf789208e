"""Health: the report, the ``dbverify health`` command and its HTTP endpoint, on real servers.

Every database URL carries a planted password (the throwaway servers trust local
connections, so any password works): it must appear in no report, output or HTTP body.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from pytest_dbverify.cli import parse_serve
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.health import HealthReport, assess, health_check
from pytest_dbverify.migrations import migration_files
from tests.conftest import (
    LEARNING_TEMPLATE,
    MIGRATIONS_DIR,
    Database,
    create_database,
    drop_database,
)

SECRET = "planted-secret"
VERSIONS = tuple(file.version for file in migration_files(MIGRATIONS_DIR))
NEWEST = VERSIONS[-1]
TIMEOUT = 60  # seconds any child process may take before the test fails and kills it
_SERVING = re.compile(r"^dbverify: serving health on (http://\S+/healthz)$")


def planted_url(server: ServerInfo, dbname: str, user: str = "postgres") -> str:
    return f"postgres://{user}:{SECRET}@{server.host}:{server.port}/{dbname}?sslmode=disable"


def closed_port_url() -> str:
    with socket.socket() as sock:  # bound then closed: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgres://postgres:{SECRET}@127.0.0.1:{port}/db?sslmode=disable"


def libpq_env(server: ServerInfo, dbname: str) -> dict[str, str]:
    return {"PGHOST": server.host, "PGPORT": str(server.port), "PGUSER": server.user,
            "PGDATABASE": dbname, "PGPASSWORD": SECRET, "PGSSLMODE": "disable"}  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any target (DATABASE_URL, PG*, DBVERIFY_*), plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith(("PG", "DBVERIFY_"))
    }
    return {**env, **extra}


def run_cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, script: bool = False
) -> subprocess.CompletedProcess[str]:
    program = (
        [str(Path(sys.executable).with_name("dbverify"))]
        if script
        else [sys.executable, "-m", "pytest_dbverify.cli"]
    )
    return subprocess.run(
        [*program, "health", *args],
        cwd=cwd,
        env=dict(env if env is not None else clean_env()),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,  # run() kills the child on timeout
        check=False,
    )


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def assert_one_line_usage_error(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dbverify: error: ")


@pytest.fixture
def own_db(pg_server: ServerInfo) -> Iterator[Database]:
    """A migrated database of this test's own, to break on purpose."""
    db = create_database(pg_server, template=LEARNING_TEMPLATE)
    yield db
    drop_database(db)


@pytest.fixture
def bare_role(own_db: Database) -> Iterator[str]:
    """A LOGIN role with no privileges; its grants in ``own_db`` go before the role does."""
    role = f"health_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(own_db.server.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    yield role
    with own_db.connect(autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
    with psycopg.connect(own_db.server.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP ROLE "{role}"')


def forget_newest_migration(db: Database) -> None:
    with db.connect(autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", [NEWEST])


# -- pure logic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8080", ("127.0.0.1", 8080)),
        ("0", ("127.0.0.1", 0)),
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_parse_serve_accepts_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_serve(text) == expected


@pytest.mark.parametrize("text", ["", "nope", "70000", "host:", ":8080", "-1", "::1:80", "[::1]"])
def test_parse_serve_rejects_other_shapes(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(text.strip()) if text else None):
        parse_serve(text)


def test_old_server_is_unhealthy() -> None:
    problems = assess(version="12.9", version_num=120009, pending=(), not_readable=())
    assert problems == ("PostgreSQL 12.9 is older than 13, the oldest supported",)
    assert assess(version="13.0", version_num=130000, pending=(), not_readable=()) == ()


def test_report_json_round_trips() -> None:
    report = HealthReport(status="healthy", target="postgres://u:***@h/db", latency_ms=1.5,
                          migrations_applied=("1", "2"))  # fmt: skip
    data = json.loads(report.to_json())
    assert data["status"] == "healthy"
    assert data["migrations_applied"] == ["1", "2"]
    assert data["error"] is None
    assert set(data) == {
        "status", "target", "latency_ms", "server_version", "database", "migrations_applied",
        "migrations_pending", "tables_not_readable", "problems", "error",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"schemas": "public"}, "schemas="),
        ({"schemas": ()}, "schemas="),
        ({"connect_timeout": 0}, "connect_timeout="),
        ({"connect_timeout": float("nan")}, "connect_timeout="),
        ({"migrations_table": "a.b.c"}, "migrations_table="),
        ({"migrations_dir": Path("/nonexistent/migrations")}, "migrations_dir="),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs: dict[str, object], names: str) -> None:
    with pytest.raises(ValueError, match=names):
        health_check("postgres://u@h/db", **kwargs)  # type: ignore[arg-type]


def test_unparsable_url_is_a_usage_error_without_the_password() -> None:
    with pytest.raises(pytest.UsageError) as info:
        health_check(f"mysql://u:{SECRET}@h/db")
    assert_no_secret(str(info.value))


# -- health_check on real servers -----------------------------------------------------------


def test_migrated_database_is_healthy(pg_server: ServerInfo, learning_db: Database) -> None:
    report = health_check(planted_url(pg_server, learning_db.name), migrations_dir=MIGRATIONS_DIR)
    assert report.status == "healthy", report
    assert report.healthy
    assert report.migrations_applied == VERSIONS
    assert report.migrations_pending == ()
    assert report.tables_not_readable == ()
    assert report.problems == ()
    assert report.error is None
    assert report.database == learning_db.name
    assert report.server_version is not None
    assert report.server_version.split(".")[0] == str(pg_server.major)
    assert report.latency_ms is not None
    assert report.latency_ms > 0
    assert "***" in report.target
    assert_no_secret(report.to_json(), repr(report))


def test_without_migrations_dir_nothing_is_pending(learning_db: Database) -> None:
    report = health_check(learning_db.url)
    assert report.healthy, report
    assert report.migrations_applied == VERSIONS
    assert report.migrations_pending == ()


def test_empty_conninfo_means_libpq_variables(
    pg_server: ServerInfo, learning_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in libpq_env(pg_server, learning_db.name).items():
        monkeypatch.setenv(name, value)
    report = health_check("")
    assert report.healthy, report
    assert report.database == learning_db.name
    assert report.target  # something to show, even with no conninfo
    assert_no_secret(report.to_json())


def test_pending_migration_is_unhealthy_and_named(pg_server: ServerInfo, own_db: Database) -> None:
    forget_newest_migration(own_db)
    report = health_check(planted_url(pg_server, own_db.name), migrations_dir=MIGRATIONS_DIR)
    assert report.status == "unhealthy"
    assert report.migrations_pending == (NEWEST,)
    assert report.migrations_applied == VERSIONS[:-1]
    assert report.problems == (f"migrations pending: {NEWEST}",)
    assert report.error is None
    assert_no_secret(report.to_json())


def test_missing_migrations_table_means_none_applied(own_db: Database) -> None:
    with own_db.connect(autocommit=True) as conn:
        conn.execute("DROP TABLE schema_migrations")
    report = health_check(own_db.url, migrations_dir=MIGRATIONS_DIR)
    assert report.status == "unhealthy"
    assert report.migrations_applied == ()
    assert report.migrations_pending == VERSIONS
    assert report.tables_not_readable == ()


def test_migrations_table_in_another_schema(own_db: Database) -> None:
    with own_db.connect(autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "ops schema"')
        conn.execute('ALTER TABLE schema_migrations SET SCHEMA "ops schema"')
    report = health_check(
        own_db.url, migrations_dir=MIGRATIONS_DIR, migrations_table="ops schema.schema_migrations"
    )
    assert report.healthy, report
    assert report.migrations_applied == VERSIONS


def test_table_the_role_cannot_read_is_named(
    pg_server: ServerInfo, own_db: Database, bare_role: str
) -> None:
    with own_db.connect(autocommit=True) as conn:
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{bare_role}"')
        conn.execute(f'REVOKE SELECT ON public.content FROM "{bare_role}"')
    url = planted_url(pg_server, own_db.name, user=bare_role)
    report = health_check(url, migrations_dir=MIGRATIONS_DIR)
    assert report.status == "unhealthy"
    assert len(report.tables_not_readable) == 1, report.tables_not_readable
    entry = report.tables_not_readable[0]
    assert entry.startswith("public.content: ")
    assert "permission denied" in entry
    assert "42501" in entry
    assert report.problems == ("tables not readable: public.content",)
    assert report.migrations_pending == ()
    assert_no_secret(report.to_json())


def test_role_without_privileges_cannot_tell_applied_migrations(
    pg_server: ServerInfo, own_db: Database, bare_role: str
) -> None:
    url = planted_url(pg_server, own_db.name, user=bare_role)
    report = health_check(url, migrations_dir=MIGRATIONS_DIR)
    assert report.status == "unhealthy"
    assert report.migrations_applied == ()
    assert report.migrations_pending == ()  # unknown, not "all pending"
    assert any("cannot read the migrations table" in p for p in report.problems), report
    unreadable = {entry.split(": ", 1)[0] for entry in report.tables_not_readable}
    assert {"public.content", "public.schema_migrations"} <= unreadable
    assert_no_secret(report.to_json())


def test_locked_table_is_unreadable_without_stalling_the_probe(own_db: Database) -> None:
    with own_db.connect() as locker:
        locker.execute("LOCK TABLE public.content IN ACCESS EXCLUSIVE MODE")
        began = time.monotonic()
        report = health_check(own_db.url, migrations_dir=MIGRATIONS_DIR)
        elapsed = time.monotonic() - began
        locker.rollback()
    assert elapsed < 5  # lock_timeout of the probe (1 s), once in the batch and once alone
    assert report.status == "unhealthy"
    assert len(report.tables_not_readable) == 1, report.tables_not_readable
    assert report.tables_not_readable[0].startswith("public.content: ")
    assert "lock timeout" in report.tables_not_readable[0]
    assert report.migrations_pending == ()


def test_unreachable_server_is_unhealthy_quickly_in_one_line() -> None:
    began = time.monotonic()
    report = health_check(closed_port_url(), migrations_dir=MIGRATIONS_DIR, connect_timeout=1)
    assert time.monotonic() - began < 5
    assert report.status == "unhealthy"
    assert report.error is not None
    assert "\n" not in report.error
    assert report.error.startswith("cannot connect to postgres://postgres:***@127.0.0.1:")
    assert report.problems == (report.error,)
    assert report.latency_ms is None
    assert_no_secret(report.to_json())


def test_wrong_database_fails_at_once(pg_server: ServerInfo) -> None:
    began = time.monotonic()
    report = health_check(planted_url(pg_server, "no_such_db"), connect_timeout=30)
    assert time.monotonic() - began < 5  # a permanent error is not retried for 30 s
    assert report.error is not None
    assert 'database "no_such_db" does not exist' in report.error
    assert_no_secret(report.to_json())


# -- the command ----------------------------------------------------------------------------


def test_cli_healthy_exits_0_with_json(
    pg_server: ServerInfo, learning_db: Database, tmp_path: Path
) -> None:
    url = planted_url(pg_server, learning_db.name)
    result = run_cli("--url", url, "--migrations-dir", str(MIGRATIONS_DIR), cwd=tmp_path,
                     script=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "healthy"
    assert report["migrations_applied"] == list(VERSIONS)
    assert_no_secret(result.stdout, result.stderr)


def test_cli_reads_database_url_from_dotenv(learning_db: Database, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f'DATABASE_URL="{learning_db.url}"\n')
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["database"] == learning_db.name


def test_cli_uses_libpq_variables(
    pg_server: ServerInfo, learning_db: Database, tmp_path: Path
) -> None:
    env = clean_env(**libpq_env(pg_server, learning_db.name))
    result = run_cli(cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["database"] == learning_db.name
    assert_no_secret(result.stdout, result.stderr)


def test_cli_unhealthy_exits_1(pg_server: ServerInfo, own_db: Database, tmp_path: Path) -> None:
    forget_newest_migration(own_db)
    env = clean_env(DATABASE_URL=planted_url(pg_server, own_db.name))
    result = run_cli("--migrations-dir", str(MIGRATIONS_DIR), cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["migrations_pending"] == [NEWEST]
    assert_no_secret(result.stdout, result.stderr)


def test_cli_unreachable_exits_1_with_one_line_error(tmp_path: Path) -> None:
    result = run_cli("--url", closed_port_url(), "--connect-timeout", "0.5", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["status"] == "unhealthy"
    assert "\n" not in report["error"]
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_cli_without_target_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert_one_line_usage_error(result)
    assert "no database to check" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--serve", "nope"],
        ["--serve", "127.0.0.1:70000"],
        ["--serve"],
        ["--connect-timeout", "0"],
        ["--schemas", ","],
        ["--no-such-flag"],
        ["--migrations-dir", "/nonexistent/migrations"],
        ["--migrations-table", "a.b.c"],
    ],
    ids=lambda args: " ".join(args),
)
def test_cli_bad_arguments_are_usage_errors(args: list[str], tmp_path: Path) -> None:
    result = run_cli(*args, "--url", closed_port_url(), cwd=tmp_path)
    assert_one_line_usage_error(result)
    assert_no_secret(result.stderr)


def test_cli_bad_url_is_a_usage_error_without_the_password(tmp_path: Path) -> None:
    result = run_cli("--url", f"mysql://u:{SECRET}@h/db", cwd=tmp_path)
    assert_one_line_usage_error(result)
    assert_no_secret(result.stderr)


# -- the endpoint ---------------------------------------------------------------------------


@dataclass
class Served:
    """A ``dbverify health --serve`` child process and what it wrote on stderr."""

    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=TIMEOUT)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``dbverify health --serve 127.0.0.1:0 ARGS`` and wait for its address."""
    started: list[Served] = []

    def start(*args: str, env: Mapping[str, str]) -> Served:
        argv = [sys.executable, "-m", "pytest_dbverify.cli", "health", "--serve", "127.0.0.1:0"]
        process = subprocess.Popen(
            [*argv, *args], cwd=tmp_path, env=dict(env), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        served = Served(process)
        started.append(served)
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                served.lines.append(line)
                lines.put(line)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while not served.url:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no address line; stderr: {served.lines}"
            try:
                match = _SERVING.match(lines.get(timeout=remaining).rstrip("\n"))
            except queue.Empty:
                continue
            if match:
                served.url = match[1]
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
        served.process.wait(timeout=TIMEOUT)
        for stream in (served.process.stdout, served.process.stderr):
            if stream is not None:
                stream.close()


def http_get(url: str | urllib.request.Request) -> tuple[int, str, str]:
    """GET ``url`` with a real HTTP client (no proxy); return status, content type and body."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read().decode()


def test_serve_answers_200_then_503_then_stops_cleanly(
    pg_server: ServerInfo, own_db: Database, serve: Callable[..., Served]
) -> None:
    env = clean_env(DATABASE_URL=planted_url(pg_server, own_db.name))
    served: Served = serve("--migrations-dir", str(MIGRATIONS_DIR), env=env)
    assert served.url.startswith("http://127.0.0.1:")
    bodies = []

    status, content_type, body = http_get(served.url)
    bodies.append(body)
    assert (status, content_type) == (200, "application/json"), body
    assert json.loads(body)["status"] == "healthy"

    forget_newest_migration(own_db)  # each request checks afresh
    status, content_type, body = http_get(served.url)
    bodies.append(body)
    assert (status, content_type) == (503, "application/json"), body
    report = json.loads(body)
    assert report["status"] == "unhealthy"
    assert report["migrations_pending"] == [NEWEST]

    head = urllib.request.Request(served.url, method="HEAD")
    status, content_type, body = http_get(head)
    assert (status, content_type, body) == (503, "application/json", "")

    status, _, body = http_get(served.url.replace("/healthz", "/other"))
    bodies.append(body)
    assert status == 404

    status, _, body = http_get(f"{served.url}?token={SECRET}")  # query strings are not logged
    bodies.append(body)
    assert status == 503

    assert served.stop(signal.SIGTERM) == 0
    assert served.process.stdout is not None
    assert_no_secret(*bodies, "".join(served.lines), served.process.stdout.read())
    assert not any("Traceback" in line for line in served.lines)


def test_serve_unreachable_is_503_and_ctrl_c_exits_0(serve: Callable[..., Served]) -> None:
    env = clean_env(DATABASE_URL=closed_port_url())
    served: Served = serve("--connect-timeout", "0.5", env=env)
    status, _, body = http_get(served.url)
    assert status == 503
    assert json.loads(body)["error"].startswith("cannot connect to ")
    assert served.stop(signal.SIGINT) == 0
    assert_no_secret(body, "".join(served.lines))
