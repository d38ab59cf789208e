"""The migration ledger and `dbverify ledger update|check` (files only, no database)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_dbverify import ledger
from pytest_dbverify.cli import main
from tests.conftest import MIGRATIONS_DIR


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    target = tmp_path / "db" / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_the_committed_ledger_matches_the_migrations():
    assert ledger.problems(MIGRATIONS_DIR, ledger.default_ledger_path(MIGRATIONS_DIR)) == []


def test_update_then_check(migrations: Path, capsys):
    code, err = run(capsys, "ledger", "check", "--migrations-dir", str(migrations))
    assert code == 1
    assert "no migration ledger at" in err
    assert "dbverify ledger update" in err
    code, err = run(capsys, "ledger", "update", "--migrations-dir", str(migrations))
    assert code == 0
    assert err.count("added ") == 6
    path = migrations.parent / "migrations.sum"
    assert path.read_text().startswith("# Migration ledger")
    assert len(ledger.read_ledger(path)) == 6
    code, err = run(capsys, "ledger", "check", "--migrations-dir", str(migrations))
    assert (code, err.strip()) == (0, f"dbverify: {path}: matches the 6 migration files")
    code, err = run(capsys, "ledger", "update", "--migrations-dir", str(migrations))
    assert (code, err.strip()) == (0, f"dbverify: {path}: up to date")


def test_edited_unrecorded_and_deleted_files(migrations: Path, capsys):
    path = migrations.parent / "migrations.sum"
    ledger.update(migrations, path)
    files = sorted(migrations.glob("*.sql"))
    files[0].write_text(files[0].read_text() + "\n-- a harmless-looking edit\n")
    files[1].unlink()
    (migrations / "20270101000000_new.sql").write_text("-- migrate:up\n-- migrate:down\n")
    assert [(p.kind, p.name) for p in ledger.problems(migrations, path)] == [
        ("edited", files[0].name),
        ("deleted", files[1].name),
        ("unrecorded", "20270101000000_new.sql"),
    ]
    code, err = run(capsys, "ledger", "check", "--migrations-dir", str(migrations))
    assert code == 1
    assert f"{files[0].name} changed since migrations.sum recorded it" in err
    assert f"{files[1].name} is recorded in migrations.sum but the file is gone" in err
    assert "20270101000000_new.sql is not in migrations.sum" in err
    # update adds the new file but refuses to hide the edit and the deletion...
    code, err = run(capsys, "ledger", "update", "--migrations-dir", str(migrations))
    assert code == 1
    assert "must not be edited" in err
    assert "20270101000000_new.sql" not in ledger.read_ledger(path)
    # ...unless forced.
    code, err = run(capsys, "ledger", "update", "--migrations-dir", str(migrations), "--force")
    assert code == 0
    assert f"rewrote {files[0].name}" in err
    assert f"removed {files[1].name}" in err
    assert ledger.problems(migrations, path) == []


def test_line_endings_do_not_change_the_checksum(tmp_path: Path):
    unix, windows = tmp_path / "a.sql", tmp_path / "b.sql"
    unix.write_bytes(b"-- migrate:up\nSELECT 1;\n")
    windows.write_bytes(b"-- migrate:up\r\nSELECT 1;\r\n")
    assert ledger.checksum(unix) == ledger.checksum(windows)


def test_a_malformed_ledger_names_the_line(migrations: Path, capsys):
    path = migrations.parent / "migrations.sum"
    path.write_text("# comment\n20260105090000_x.sql md5:abc\n")
    code, err = run(capsys, "ledger", "check", "--migrations-dir", str(migrations))
    assert code == 1
    assert f"{path}:2: expected '<migration file> sha256:<64 hex digits>'" in err


def test_a_custom_ledger_path_and_a_missing_directory(tmp_path: Path, migrations: Path, capsys):
    custom = tmp_path / "ledger.txt"
    assert (
        run(
            capsys, "ledger", "update", "--migrations-dir", str(migrations), "--ledger", str(custom)
        )[0]
        == 0
    )
    assert custom.is_file()
    with pytest.raises(SystemExit) as exit_:
        main(["ledger", "check", "--migrations-dir", str(tmp_path / "nope")])
    assert exit_.value.code == 2
    assert "not a directory" in capsys.readouterr().err
