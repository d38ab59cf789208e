"""Every NOT NULL column rejects an explicit NULL (unless a trigger fills it: then say so)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from psycopg import sql

from pytest_dbverify.catalog import Column, Table
from pytest_dbverify.names import short_name
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from pytest_dbverify.rows import RowPlanner

pytestmark = pytest.mark.dbverify

NOT_NULL_VIOLATION = "23502"
FOREIGN_KEY_VIOLATION = "23503"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per NOT NULL column an INSERT may name."""
    if "not_null_column" not in metafunc.fixturenames:
        return
    pairs = [
        (t, c) for t in get_run(metafunc.config).checked_tables() for c in t.columns
        if c.not_null and c.insertable
    ]  # fmt: skip
    metafunc.parametrize(
        "not_null_column", pairs, ids=[f"{short_name(t.name)}.{c.name}" for t, c in pairs]
    )


def test_not_null_enforced(
    not_null_column: tuple[Table, Column],
    dbverify_run: VerificationRun,
) -> None:
    """An INSERT with the column explicitly NULL is rejected (23502)."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from pytest_dbverify.plans import Rejected, describe_values, insert_statement, rejectable
    from pytest_dbverify.properties import run_planned

    table, column = not_null_column
    fillers = [
        t.name
        for t in table.triggers
        if t.enabled and t.timing == "before" and "insert" in t.events
    ]
    filled_by_trigger: list[str] = []

    into = _insert_target(dbverify_run, table, column)
    # NOT NULL is checked before the row's foreign keys (after-row triggers), so the row
    # needs no parent rows: a 23503 for its orphan references means the NULL got in.
    # Triggers, rules and row security may look at the parents: those tables get them.
    orphans = not (fillers or table.has_rules or table.row_security)

    def example(rows: RowPlanner) -> None:
        values = rows.values(
            table, overrides={column.name: None}, parents=not orphans, minimal=True
        )
        # The example's last statement: its end fences the failure.
        insert = rows.plan.attempt(sql.SQL("{} RETURNING *").format(insert_statement(into, values)))

        @rows.plan.judge
        def refused() -> None:
            err = insert.error
            if err is not None:
                if err.sqlstate == NOT_NULL_VIOLATION and err.diag.column_name in (
                    column.name,
                    None,
                ):
                    return
                if err.sqlstate == NOT_NULL_VIOLATION:
                    raise Rejected("another table's NOT NULL (a parent's) spoke first", err)
                if err.sqlstate == FOREIGN_KEY_VIOLATION and orphans:
                    raise AssertionError(
                        f"{table.name}.{column.name} accepted an explicit NULL "
                        f"({describe_values(values)}): the row reached its foreign-key checks; "
                        "expected 23502 not_null_violation"
                    )
                if rejectable(err):
                    raise Rejected(str(err), err)
                raise err
            stored = insert.row
            if stored is not None and fillers and stored[column.name] is not None:
                filled_by_trigger.append(fillers[0])
                return
            raise AssertionError(
                f"{table.name}.{column.name} accepted an explicit NULL "
                f"({describe_values(values)}); expected 23502 not_null_violation"
            )

    with dbverify_run.checks_connection() as conn:
        run_planned(dbverify_run, conn, f"{table.name}.{column.name}", example, table=table)
    if filled_by_trigger:
        pytest.skip(
            f"{table.name}.{column.name}: an explicit NULL is replaced by the BEFORE INSERT "
            f"trigger {filled_by_trigger[0]}, so NOT NULL cannot be shown by an insert"
        )


def _insert_target(run: VerificationRun, table: Table, column: Column) -> Table:
    """Return where to insert: ``table``, or a leaf partition when the column is a key.

    A partitioned table routes a row before it checks it, and a NULL key has no
    partition to go to (23514), at any level: only a leaf partition shows the NOT NULL.
    """
    partitions = run.expected_catalog().partitions(table.name)
    # A key at any level: a partition partitioned again routes by its own key too.
    keys = {c for t in (table, *partitions) for c in t.partition_columns}
    if column.name not in keys:
        return table
    leaves = [p for p in partitions if p.kind != "partitioned table"]
    return leaves[0] if leaves else table
