"""The migration history: files vs ``schema_migrations`` vs the checksum ledger.

- every file is applied on the target (a pending one fails by name; one older than the
  newest applied is called out as out of order);
- nothing is applied without its file;
- every file matches its checksum in the ledger (``db/migrations.sum``), so an applied
  migration edited afterwards fails, and every file the ledger records still exists.

Nothing here writes to the target: it reads ``schema_migrations`` and the files.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify import ledger
from pytest_dbverify.batch import run_all
from pytest_dbverify.migrations import MigrationFile, migration_files
from pytest_dbverify.run import VerificationRun, get_run
from pytest_dbverify.settings import Settings

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per migration file of the migrations directory."""
    if "recorded" in metafunc.fixturenames:
        _recorded(metafunc)
    if "migration" not in metafunc.fixturenames:
        return
    run = get_run(metafunc.config)
    migrations_dir = run.settings.migrations_dir
    if not migrations_dir.is_dir():
        reason = f"no migrations directory at {migrations_dir} (--dbverify-migrations-dir)"
        metafunc.parametrize(
            "migration",
            [pytest.param(None, id="no-migrations-dir", marks=pytest.mark.skip(reason=reason))],
        )
        return
    files = migration_files(migrations_dir)
    metafunc.parametrize("migration", files, ids=[file.name for file in files])


def _recorded(metafunc: pytest.Metafunc) -> None:
    """One item per ledger entry (``recorded``): its file must still exist."""
    run = get_run(metafunc.config)
    path = ledger.ledger_of(run.settings)
    try:
        names = sorted(ledger.read_ledger(path))
    except ledger.LedgerError as err:
        skip = pytest.mark.skip(reason=str(err))
        metafunc.parametrize("recorded", [pytest.param(None, id="no-ledger", marks=skip)])
        return
    metafunc.parametrize("recorded", names, ids=[Path(n).stem for n in names])


def applied_versions(run: VerificationRun) -> list[str]:
    """Return the versions recorded in dbmate's table, or fail saying it is missing.

    Read once per run (one round trip), for every item that asks.
    """
    settings = run.settings
    if run.applied_versions is None:
        table = sql.Identifier(*settings.migrations_table.split("."))
        with run.checks_connection() as conn:
            [read] = run_all(
                conn, sql.SQL("SELECT version::text FROM {} ORDER BY version").format(table)
            )
        if isinstance(read.error, psycopg.errors.UndefinedTable):
            pytest.fail(
                f"no table {settings.migrations_table}: dbmate has never migrated this "
                "database (or --dbverify-migrations-table names another table)",
                pytrace=False,
            )
        if read.error is not None:
            raise read.error
        run.applied_versions = [row[0] for row in read.rows]
    return run.applied_versions


def test_migration_applied(migration: MigrationFile, dbverify_run: VerificationRun) -> None:
    """The migration file's version is recorded as applied on the target."""
    applied = applied_versions(dbverify_run)
    if migration.version in applied:
        return
    newest = max(applied, default=None)
    if newest is not None and migration.version < newest:
        pytest.fail(
            f"migration {migration.path.name} is pending but older than the newest applied "
            f"({newest}): it was merged after a newer migration was deployed, so "
            "`dbmate migrate` would apply it out of order (after the newer one; "
            "`dbmate --strict` refuses): give it a new version, or check that it does not "
            "depend on the order",
            pytrace=False,
        )
    pytest.fail(
        f"migration {migration.path.name} is pending: not applied to the target "
        f"(newest applied: {newest or 'none'}): run `dbmate migrate`",
        pytrace=False,
    )


def test_migration_checksum(migration: MigrationFile, dbverify_settings: Settings) -> None:
    """The file's checksum is the one the ledger recorded (an applied file was not edited)."""
    path = ledger.ledger_of(dbverify_settings)
    try:
        recorded = ledger.read_ledger(path)
    except ledger.LedgerError as err:
        pytest.skip(str(err))
    name = migration.path.name
    digest = ledger.checksum(migration.path)
    if recorded.get(name) != digest:
        problem = ledger.LedgerProblem("edited" if name in recorded else "unrecorded", name)
        pytest.fail(problem.describe(path), pytrace=False)


def test_migration_file_present(recorded: str, dbverify_settings: Settings) -> None:
    """Every migration the ledger records still has its file (none was deleted)."""
    if not (dbverify_settings.migrations_dir / recorded).is_file():
        problem = ledger.LedgerProblem("deleted", recorded)
        pytest.fail(problem.describe(ledger.ledger_of(dbverify_settings)), pytrace=False)


def test_no_applied_migration_without_file(dbverify_run: VerificationRun) -> None:
    """Every version recorded on the target has its file in the migrations directory."""
    migrations_dir = dbverify_run.settings.migrations_dir
    if not migrations_dir.is_dir():
        pytest.skip(f"no migrations directory at {migrations_dir}")
    known = {file.version for file in migration_files(migrations_dir)}
    unknown = [v for v in applied_versions(dbverify_run) if v not in known]
    assert not unknown, (
        f"applied on the target but missing from {migrations_dir}: "
        f"{', '.join(unknown)} (a deleted or unmerged migration file?)"
    )
