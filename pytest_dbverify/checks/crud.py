"""Every table takes CRUD: insert a generated row, read it back equal, update it, delete it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from psycopg import sql

from pytest_dbverify.catalog import Column, Table
from pytest_dbverify.names import quoted, short_name
from pytest_dbverify.plans import sql_value
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from pytest_dbverify.plans import ExamplePlan, PlannedRow
    from pytest_dbverify.rows import RowPlanner

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per table of the expected schema."""
    if "crud_table" in metafunc.fixturenames:
        tables = get_run(metafunc.config).checked_tables()
        metafunc.parametrize("crud_table", tables, ids=[short_name(t.name) for t in tables])


def test_crud(crud_table: Table, dbverify_run: VerificationRun) -> None:
    """Insert a generated row, read it back equal, update a column, delete the row."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from pytest_dbverify.plans import locator_where
    from pytest_dbverify.properties import run_planned
    from pytest_dbverify.strategies import column_values

    table = crud_table
    # A foreign key a partition adds binds its columns as much as the table's own.
    partition_keys = dbverify_run.expected_catalog().partition_foreign_keys(table)
    references = {c for _, fk in partition_keys for c in fk.columns}

    def example(rows: RowPlanner) -> None:
        plan = rows.plan
        values = rows.values(table)
        row = rows.insert_values(table, values)
        if not _has_triggers(table, "insert"):
            _reads_back(plan, table, row, values, "inserted")
        if table.has_rules:
            return  # its rules rewrite UPDATE or DELETE by design: only INSERT and read count
        column = _updatable_column(table, references)
        if column is not None:
            new_value = rows.draw(column_values(table, column.name))
            row = plan.write(
                table,
                sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(
                    quoted(table.name),
                    sql.Identifier(column.name),
                    sql_value(new_value, column.type.sql),
                    locator_where(row),
                ),
                nothing=f"UPDATE of the row just inserted into {table.name} changed no row",
            )
            if not _has_triggers(table, "update"):
                _reads_back(plan, table, row, {column.name: new_value}, "updated")
        # A parent inserted to close a foreign-key cycle points back at this row through a
        # deferrable key: deferred, it lets the row go (the example is rolled back, unchecked).
        plan.execute(sql.SQL("SET CONSTRAINTS ALL DEFERRED"))
        deleted = plan.execute(
            sql.SQL("DELETE FROM {} WHERE {} RETURNING 1").format(
                quoted(table.name), locator_where(row)
            )
        )
        gone = plan.execute(
            sql.SQL("SELECT 1 FROM {} WHERE {}").format(quoted(table.name), locator_where(row))
        )

        @plan.judge
        def deleted_once() -> None:
            assert len(deleted.rows) == 1, (
                f"DELETE of the row just inserted into {table.name} deleted "
                f"{len(deleted.rows)} rows"
            )
            assert not gone.rows, f"{table.name}: the deleted row is still there"

    with dbverify_run.checks_connection() as conn:
        run_planned(dbverify_run, conn, f"CRUD on {table.name}", example, table=table)


def _reads_back(
    plan: ExamplePlan, table: Table, row: PlannedRow, values: dict[str, Any], how: str
) -> None:
    """Compare stored and sent values in the database's own terms (after the same cast)."""
    from pytest_dbverify.plans import describe_values, locator_where

    columns = [table.column(name) for name in values]
    read = plan.execute(
        sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(", ").join(_equal_sql(column, values[column.name]) for column in columns),
            quoted(table.name),
            locator_where(row),
        )
    )

    @plan.judge
    def same() -> None:
        assert read.rows, f"{table.name}: the {how} row is gone"
        differs = [column.name for column, equal in zip(columns, read.rows[0], strict=True)
                   if not equal]  # fmt: skip
        assert not differs, (
            f"{table.name}: the {how} row reads back different in {', '.join(differs)} "
            f"(sent {describe_values({n: values[n] for n in differs})})"
        )


def _equal_sql(column: Column, value: Any) -> sql.Composable:
    from pytest_dbverify.rows import NO_EQUALITY

    name, sent = sql.Identifier(column.name), sql_value(value, column.type.sql)
    if column.type.base in NO_EQUALITY:
        return sql.SQL("({}::text IS NOT DISTINCT FROM ({})::text)").format(name, sent)
    return sql.SQL("({} IS NOT DISTINCT FROM {})").format(name, sent)


def _updatable_column(table: Table, references: set[str]) -> Column | None:
    """Return a column an UPDATE may change without touching keys or ``references``."""
    keyed = references | {
        c
        for constraint in table.constraints
        if constraint.kind in ("primary key", "unique", "foreign key", "exclusion")
        for c in constraint.columns
    }
    from pytest_dbverify.strategies import session_default

    checked = {c for check in table.checks for c in check.columns}
    for column in table.columns:
        if (
            column.insertable
            and column.name not in keyed | checked
            and not column.type.domain_checks
            and not session_default(column)  # what row security admits: left as it is
        ):
            return column
    return None


def _has_triggers(table: Table, event: str) -> bool:
    return any(t.enabled and t.timing == "before" and event in t.events for t in table.triggers)
