"""Every table takes CRUD: insert a generated row, read it back equal, update it, delete it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import Column, Table
from pytest_dbverify.names import quoted, short_name
from pytest_dbverify.run import VerificationRun, get_run
from pytest_dbverify.savepoints import savepoint, settle

if TYPE_CHECKING:
    from pytest_dbverify.rows import RowFactory

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per table of the expected schema."""
    if "crud_table" in metafunc.fixturenames:
        tables = get_run(metafunc.config).checked_tables()
        metafunc.parametrize("crud_table", tables, ids=[short_name(t.name) for t in tables])


def test_crud(
    crud_table: Table, dbverify_conn: psycopg.Connection, dbverify_run: VerificationRun
) -> None:
    """Insert a generated row, read it back equal, update a column, delete the row."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from pytest_dbverify.properties import run_examples
    from pytest_dbverify.rows import address
    from pytest_dbverify.strategies import column_values

    table = crud_table

    def example(rows: RowFactory) -> None:
        values = rows.values(table)
        stored = rows.insert_values(table, values)
        locator = address(stored)
        if not _has_triggers(table, "insert"):
            _assert_reads_back(dbverify_conn, table, locator, values, "inserted")
        if table.has_rules:
            return  # its rules rewrite UPDATE or DELETE by design: only INSERT and read count
        column = _updatable_column(table)
        if column is not None:
            new_value = rows.data.draw(column_values(table, column.name), label=column.name)
            locator = _update(dbverify_conn, table, locator, column, new_value)
            if not _has_triggers(table, "update"):
                _assert_reads_back(
                    dbverify_conn, table, locator, {column.name: new_value}, "updated"
                )
        # A parent inserted to close a foreign-key cycle points back at this row through a
        # deferrable key: deferred, it lets the row go (the example is rolled back, unchecked).
        dbverify_conn.execute("SET CONSTRAINTS ALL DEFERRED")
        deleted = len(
            dbverify_conn.execute(
                sql.SQL("DELETE FROM {} WHERE tableoid = %s AND ctid = %s RETURNING 1").format(
                    quoted(table.name)
                ),
                locator,
            ).fetchall()
        )
        assert deleted == 1, (
            f"DELETE of the row just inserted into {table.name} deleted {deleted} rows"
        )
        assert _fetch(dbverify_conn, table, locator) is None, (
            f"{table.name}: the deleted row is still there"
        )

    run_examples(dbverify_run, dbverify_conn, f"CRUD on {table.name}", example)


def _fetch(conn: psycopg.Connection, table: Table, locator: list[Any]) -> tuple[Any, ...] | None:
    return conn.execute(
        sql.SQL("SELECT * FROM {} WHERE tableoid = %s AND ctid = %s").format(quoted(table.name)),
        locator,
    ).fetchone()


def _assert_reads_back(
    conn: psycopg.Connection, table: Table, locator: list[Any], values: dict[str, Any], how: str
) -> None:
    """Compare stored and sent values in the database's own terms (after the same cast)."""
    from pytest_dbverify.rows import describe_values

    columns = [table.column(name) for name in values]
    checks = [_equal_sql(column) for column in columns]
    params: list[Any] = [values[c.name] for c in columns]
    row = conn.execute(
        sql.SQL("SELECT {} FROM {} WHERE tableoid = %s AND ctid = %s").format(
            sql.SQL(", ").join(checks), quoted(table.name)
        ),
        [*params, *locator],
    ).fetchone()
    assert row is not None, f"{table.name}: the {how} row is gone"
    differs = [column.name for column, same in zip(columns, row, strict=True) if not same]
    assert not differs, (
        f"{table.name}: the {how} row reads back different in {', '.join(differs)} "
        f"(sent {describe_values({n: values[n] for n in differs})})"
    )


def _equal_sql(column: Column) -> sql.Composable:
    from pytest_dbverify.rows import NO_EQUALITY

    name, cast = sql.Identifier(column.name), sql.SQL(column.type.sql)
    if column.type.base in NO_EQUALITY:
        return sql.SQL("({}::text IS NOT DISTINCT FROM (%s::{})::text)").format(name, cast)
    return sql.SQL("({} IS NOT DISTINCT FROM %s::{})").format(name, cast)


def _updatable_column(table: Table) -> Column | None:
    """Return a column an UPDATE may change without touching keys or references."""
    keyed = {
        c
        for constraint in table.constraints
        if constraint.kind in ("primary key", "unique", "foreign key", "exclusion")
        for c in constraint.columns
    }
    checked = {c for check in table.checks for c in check.columns}
    for column in table.columns:
        if (
            column.insertable
            and column.name not in keyed | checked
            and not column.type.domain_checks
        ):
            return column
    return None


def _update(
    conn: psycopg.Connection, table: Table, locator: list[Any], column: Column, value: Any
) -> list[Any]:
    from hypothesis import reject

    from pytest_dbverify.rows import REJECTABLE

    statement = sql.SQL(
        "UPDATE {} SET {} = %s::{} WHERE tableoid = %s AND ctid = %s RETURNING tableoid, ctid"
    ).format(quoted(table.name), sql.Identifier(column.name), sql.SQL(column.type.sql))
    try:
        with savepoint(conn):
            cursor = conn.execute(statement, [value, *locator])
            settle(conn)
            row = cursor.fetchone()
    except psycopg.Error as err:
        if err.sqlstate in REJECTABLE:  # e.g. a unique index on the column: another example
            reject()
        raise
    assert row is not None, f"UPDATE of the row just inserted into {table.name} changed no row"
    return list(row)


def _has_triggers(table: Table, event: str) -> bool:
    return any(t.enabled and t.timing == "before" and event in t.events for t in table.triggers)
