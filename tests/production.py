"""Helpers for the production-safety tests: a password-checking server, pytest runs, output.

Shared by the bad-input matrix, the secrets test, the fault tests and the managed-database
tests. Servers here are ThrowawayServers of their own (not the shared per-run ones), since
these tests change pg_hba.conf, roles, TLS or restart the server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pytest_dbverify.binaries import ServerKind, find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from pytest_dbverify.migrations import Dbmate
from tests.conftest import MIGRATIONS_DIR

# The planted password: long and unusual, so that any occurrence in output is a leak.
SECRET = "Pl4nted-s3cret-pw_7f3a9c"
APP = "app"
HBA = (
    "local all all trust\n"
    "host all postgres 127.0.0.1/32 trust\n"
    "host all blocked 127.0.0.1/32 reject\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
)
# Where our own code would show in a traceback.
_OUR_FRAME = re.compile(r"pytest_dbverify[/\\][\w/\\]+\.py:\d+")


@contextmanager
def password_server(
    settings: Mapping[str, str] | None = None,
    *,
    port: int | None = None,
    kind: ServerKind = "embedded",
) -> Iterator[ThrowawayServer]:
    """Run a server that checks passwords over TCP; role ``app`` has SECRET."""
    with ThrowawayServer(find_binaries(kind), settings=settings, port=port) as server:
        assert server.run_dir is not None
        (server.run_dir / "data" / "pg_hba.conf").write_text(HBA)
        with psycopg.connect(server.info.conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {APP} LOGIN PASSWORD '{SECRET}'")
            conn.execute("SELECT pg_reload_conf()")
        yield server


def url(
    info: ServerInfo,
    dbname: str,
    *,
    user: str = APP,
    password: str | None = SECRET,
    query: str = "sslmode=disable",
) -> str:
    """Return a TCP URL to ``dbname`` on ``info`` as ``user``."""
    auth = f"{user}:{password}" if password is not None else user
    return f"postgresql://{auth}@127.0.0.1:{info.port}/{dbname}?{query}"


def admin(info: ServerInfo, dbname: str = "postgres") -> psycopg.Connection:
    """Return an autocommit superuser connection over the unix socket."""
    return psycopg.connect(info.conninfo(dbname), autocommit=True)


def create_learning_db(info: ServerInfo, name: str, *, owner: str = APP) -> None:
    """Create ``name`` owned by ``owner`` and apply the migrations as that owner."""
    with admin(info) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    with admin(info, name) as conn:
        conn.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
    password = SECRET if owner == APP else None
    Dbmate(
        url(info, name, user=owner, password=password),
        migrations_dir=MIGRATIONS_DIR,
        pg_bindir=Path(info.bindir),
    ).up()


@dataclass(frozen=True)
class Run:
    """One finished ``pytest --dbverify`` subprocess and what it left behind."""

    ret: int
    out: str
    err: str
    junit: str
    log: str
    seconds: float
    report: str = ""  # the JSON report (--dbverify-report), when asked for
    summary: str = ""  # what was appended to GITHUB_STEP_SUMMARY, when asked for

    @property
    def output(self) -> str:
        return self.out + "\n" + self.err

    def everything(self) -> str:
        """Return every text the run produced: streams, JUnit XML, log file and reports."""
        return "\n".join([self.out, self.err, self.junit, self.log, self.report, self.summary])

    def has_line(self, pattern: str) -> bool:
        """Return True when a whole line of stdout or stderr matches ``pattern``.

        ``*`` matches anything (ports, temporary paths); every other character is literal.
        """
        return self.count_lines(pattern) > 0

    def count_lines(self, pattern: str) -> int:
        """Return how many whole lines of stdout and stderr match ``pattern`` (as has_line)."""
        regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
        return sum(1 for line in self.output.splitlines() if regex.fullmatch(line))

    def our_traceback(self) -> list[str]:
        """Return the lines that show a traceback or a frame of pytest_dbverify.

        pytest's ``-rs`` summary names where a skip was raised: a location, not a frame.
        """
        return [
            line
            for line in self.output.splitlines()
            if "Traceback (most recent call last)" in line
            or (_OUR_FRAME.search(line) and not line.startswith("SKIPPED ["))
        ]


def run_dbverify(
    project: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    reports: bool = False,
) -> Run:
    """Run ``pytest --dbverify`` in ``project`` as a user would, with JUnit XML and a log file.

    The log file records every logger at DEBUG (psycopg, psycopg_pool, ours), so that a
    secret in any log record is seen. ``reports`` adds the JSON report and the GitHub step
    summary.
    """
    import time

    junit = project / "junit.xml"
    log = project / "pytest.log"
    report = project / "dbverify.json"
    summary = project / "step-summary.md"
    for path in (junit, log, report, summary):
        path.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "pytest", "--dbverify", "-p", "no:cacheprovider", "-rA",
        f"--junitxml={junit}", f"--log-file={log}", "--log-file-level=DEBUG",
        "--log-level=DEBUG", *args,
    ]  # fmt: skip
    env = dict(env or {})
    if reports:
        argv.append(f"--dbverify-report={report}")
        env["GITHUB_STEP_SUMMARY"] = str(summary)
    began = time.monotonic()
    completed = subprocess.run(
        argv, cwd=project, env=clean_env(env), capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    seconds = time.monotonic() - began
    return Run(
        ret=completed.returncode,
        out=completed.stdout,
        err=completed.stderr,
        junit=_read(junit),
        log=_read(log),
        seconds=seconds,
        report=_read(report),
        summary=_read(summary),
    )


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def run_health(project: Path, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> Run:
    """Run ``dbverify health`` in ``project``."""
    import time

    began = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_dbverify.cli", "health", *args], cwd=project,
        env=clean_env(env), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return Run(
        completed.returncode, completed.stdout, completed.stderr, "", "", time.monotonic() - began
    )


def serve_health(project: Path, args: Sequence[str], *, env: Mapping[str, str]) -> Run:
    """Run ``dbverify health --serve`` in ``project``, GET /healthz once, then stop it.

    ``out`` holds the HTTP answer (status and body), ``err`` what the command said; a
    command that refuses its arguments answers nothing.
    """
    import threading
    import time
    import urllib.error
    import urllib.request

    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_dbverify.cli", "health", "--serve", "127.0.0.1:0", *args],
        cwd=project, env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    lines: list[str] = []
    address: list[str] = []
    serving = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if line.startswith("dbverify: serving health on "):
                address.append(line.rsplit(" ", 1)[-1].strip())
                serving.set()
        serving.set()  # the command ended without serving

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    answer = ""
    try:
        if serving.wait(timeout=60) and address:
            url = address[0]
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(url, timeout=60) as response:
                    answer = f"{response.status} {response.read().decode()}"
            except urllib.error.HTTPError as err:
                with err:
                    answer = f"{err.code} {err.read().decode()}"
    finally:
        if process.poll() is None:
            process.terminate()
        ret = process.wait(timeout=60)
        reader.join(timeout=60)
        assert process.stdout is not None
        out = process.stdout.read()
        process.stdout.close()
        assert process.stderr is not None
        process.stderr.close()
    return Run(ret, f"{answer}\n{out}", "".join(lines), "", "", time.monotonic() - began)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without any target, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith(("PG", "DBVERIFY_", "PYTEST_"))
    }
    # The subprocess must import this checkout's package and tests, whatever the cwd.
    root = str(MIGRATIONS_DIR.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    if os.environ.get("DBVERIFY_TMPDIR"):
        env["DBVERIFY_TMPDIR"] = os.environ["DBVERIFY_TMPDIR"]
    env.update(extra or {})
    return env


def project_dir(base: Path, *, migrations: Path | None = MIGRATIONS_DIR) -> Path:
    """Create an empty project in ``base``, with a copy of ``migrations`` as db/migrations.

    Their checksum ledger (``migrations.sum`` beside them) comes along when there is one.
    """
    base.mkdir(parents=True, exist_ok=True)
    if migrations is not None:
        shutil.copytree(migrations, base / "db" / "migrations")
        ledger = migrations.with_name(migrations.name + ".sum")
        if ledger.exists():
            shutil.copy(ledger, base / "db" / ledger.name)
    return base
