"""Every table of the verified schemas is readable by the connecting role."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.batch import Batch
from pytest_dbverify.catalog import TableName, list_tables
from pytest_dbverify.run import VerificationRun, get_run

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per table of the verified schemas, less the excluded ones."""
    if "table" not in metafunc.fixturenames:
        return
    run = get_run(metafunc.config)
    with run.pool().connection() as conn:
        tables = list_tables(conn, run.settings.schemas, run.settings.exclude_tables)
    if not tables:
        # A target that is its own expectation and has no table stopped the run at its start.
        reason = f"no tables in schemas {', '.join(run.settings.schemas)}"
        skip = pytest.mark.skip(reason=reason)
        metafunc.parametrize("table", [pytest.param(None, id="no-tables", marks=skip)])
        return
    metafunc.parametrize("table", tables, ids=[str(table) for table in tables])


def test_table_readable(table: TableName, dbverify_run: VerificationRun) -> None:
    """The connecting role can SELECT from the table (privileges, locks within lock_timeout)."""
    # One round trip: BEGIN, the read and the ROLLBACK travel together.
    batch = Batch()
    batch.add(sql.SQL("BEGIN"))
    read = batch.add(
        sql.SQL("SELECT * FROM {} LIMIT 0").format(sql.Identifier(table.schema, table.name))
    )
    batch.sync()
    batch.add(sql.SQL("ROLLBACK"))
    with dbverify_run.checks_connection() as conn:
        try:
            batch.run(conn)
            error = read.error
        except psycopg.Error as lost:  # the session ended meanwhile
            error = lost
    if error is not None:
        pytest.fail(
            f"cannot read {table}: {type(error).__name__} [{error.sqlstate}] "
            f"{str(error).splitlines()[0] if str(error) else ''}",
            pytrace=False,
        )
