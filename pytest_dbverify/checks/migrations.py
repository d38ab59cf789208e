"""Every migration file is applied to the target, and nothing is applied without a file."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.migrations import MigrationFile, migration_files
from pytest_dbverify.run import get_run
from pytest_dbverify.settings import Settings

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per migration file of the migrations directory."""
    if "migration" not in metafunc.fixturenames:
        return
    run = get_run(metafunc.config)
    migrations_dir = run.settings.migrations_dir
    if not migrations_dir.is_dir():
        reason = f"no migrations directory at {migrations_dir} (--dbverify-migrations-dir)"
        metafunc.parametrize(
            "migration", [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
        )
        return
    files = migration_files(migrations_dir)
    metafunc.parametrize("migration", files, ids=[file.name for file in files])


def applied_versions(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """Return the versions recorded in dbmate's table, or fail saying it is missing."""
    table = sql.Identifier(*settings.migrations_table.split("."))
    try:
        with conn.transaction():
            rows = conn.execute(
                sql.SQL("SELECT version::text FROM {} ORDER BY version").format(table)
            ).fetchall()
    except psycopg.errors.UndefinedTable:
        pytest.fail(
            f"no table {settings.migrations_table}: dbmate has never migrated this database "
            "(or --dbverify-migrations-table names another table)",
            pytrace=False,
        )
    return [row[0] for row in rows]


def test_migration_applied(
    migration: MigrationFile, dbverify_conn: psycopg.Connection, dbverify_settings: Settings
) -> None:
    """The migration file's version is recorded as applied on the target."""
    applied = applied_versions(dbverify_conn, dbverify_settings)
    assert migration.version in applied, (
        f"migration {migration.path.name} is not applied to the target "
        f"(newest applied: {applied[-1] if applied else 'none'}): run `dbmate migrate`"
    )


def test_no_applied_migration_without_file(
    dbverify_conn: psycopg.Connection, dbverify_settings: Settings
) -> None:
    """Every version recorded on the target has its file in the migrations directory."""
    if not dbverify_settings.migrations_dir.is_dir():
        pytest.skip(f"no migrations directory at {dbverify_settings.migrations_dir}")
    known = {file.version for file in migration_files(dbverify_settings.migrations_dir)}
    unknown = [v for v in applied_versions(dbverify_conn, dbverify_settings) if v not in known]
    assert not unknown, (
        f"applied on the target but missing from {dbverify_settings.migrations_dir}: "
        f"{', '.join(unknown)} (a deleted or unmerged migration file?)"
    )
