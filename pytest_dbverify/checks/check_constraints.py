"""Every CHECK constraint rejects a row that violates it (23514).

The violating values are derived from the expression where its form is recognized
(range bounds, IN lists, comparisons), else searched for with hypothesis; either way
the expected database (the migrations') confirms they violate the expected expression
before the target is asked to reject them. A weakened CHECK on the target accepts them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest
from psycopg import sql

from pytest_dbverify.catalog import Constraint, Table
from pytest_dbverify.names import short_name
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from pytest_dbverify.batch import Answer
    from pytest_dbverify.rows import RowPlanner

pytestmark = pytest.mark.dbverify

CHECK_VIOLATION = "23514"
FOREIGN_KEY_VIOLATION = "23503"
_SEARCHES = 10


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per CHECK constraint."""
    if "check_constraint" not in metafunc.fixturenames:
        return
    pairs = [(t, c) for t in get_run(metafunc.config).checked_tables() for c in t.checks]
    metafunc.parametrize(
        "check_constraint", pairs, ids=[f"{short_name(t.name)}.{c.name}" for t, c in pairs]
    )


def test_check_enforced(
    check_constraint: tuple[Table, Constraint],
    dbverify_run: VerificationRun,
) -> None:
    """A row whose values violate the CHECK is rejected."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from pytest_dbverify.check_expressions import violations
    from pytest_dbverify.plans import Rejected, describe_values, expected_error, insert_statement
    from pytest_dbverify.properties import run_planned

    table, check = check_constraint
    assert check.expression is not None
    found: list[dict[str, Any]] = []
    types = {c: table.column(c).type for c in check.columns}
    derived = list(violations(check.expression, types))  # the same at every example
    # A CHECK is checked before the row's foreign keys (after-row triggers), so the row
    # needs no parent rows: a 23503 for its orphan references means the row got in.
    # Triggers, rules and row security may look at the parents: those tables get them.
    orphans = not (_before_insert_triggers(table) or table.has_rules or table.row_security)
    refused = (CHECK_VIOLATION, FOREIGN_KEY_VIOLATION) if orphans else CHECK_VIOLATION

    def example(rows: RowPlanner) -> None:
        row = rows.values(table, include=check.columns, parents=not orphans, minimal=True)

        def candidates() -> Iterator[dict[str, Any]]:
            yield from derived
            for _ in range(_SEARCHES):  # drawn only while none violated yet
                yield {
                    c: rows.draw(_unbounded_values(table, c))
                    for c in check.columns if table.column(c).insertable
                }  # fmt: skip

        untried = candidates()

        def try_next() -> None:
            # The expected database says whether the values violate the expected CHECK.
            attempt = {**row, **next(untried, {})}
            if attempt == row:
                return  # nothing violating in this example; others may find one
            answer = rows.plan.ask(_violates(table, check, attempt))
            rows.plan.later(lambda: violating(attempt) if _true(answer) else try_next())

        def violating(attempt: dict[str, Any]) -> None:
            found.append(attempt)
            # The example's last statement: its end fences the failure.
            insert = rows.plan.attempt(insert_statement(table, attempt))

            @rows.plan.judge
            def refused_it() -> None:
                error = expected_error(insert, refused)
                # An orphan that got as far as its foreign keys got past the CHECK.
                if error is not None and error.sqlstate != CHECK_VIOLATION:
                    error = None
                assert error is not None, (
                    f"CHECK {check.name} on {table.name} is not enforced: a row violating "
                    f"{check.definition} was accepted ({describe_values(attempt)}); "
                    "expected 23514"
                )
                if error.diag.constraint_name not in (check.name, None):
                    raise Rejected("the values also break another CHECK", error)

        try_next()

    with dbverify_run.checks_connection() as conn:
        run_planned(dbverify_run, conn, f"CHECK {check.name} on {table.name}", example, table=table)
    if not found:
        pytest.skip(
            f"CHECK {check.name} on {table.name}: no violating values found for "
            f"{check.definition}: register a strategy for its columns to search wider"
        )


def _before_insert_triggers(table: Table) -> bool:
    return any(t.enabled and t.timing == "before" and "insert" in t.events for t in table.triggers)


def _true(answer: Answer) -> bool:
    """Return True if a question was answered TRUE (a value that does not fit its type: no)."""
    return answer.error is None and bool(answer.rows and answer.rows[0][0])


@functools.lru_cache(maxsize=1024)
def _unbounded_values(table: Table, column: str) -> SearchStrategy[Any]:
    """Values of the column's type, blind to the table's CHECKs: the search needs both sides."""
    from pytest_dbverify.strategies import values_for

    return values_for(table.column(column), table=table.name)


def _violates(table: Table, check: Constraint, row: Mapping[str, Any]) -> sql.Composable:
    """Return whether the expected expression is false (NULL passes a CHECK) for ``row``."""
    from pytest_dbverify.plans import sql_value

    columns = [c for c in check.columns if c in row]
    values = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql_value(row[c], table.column(c).type.sql), sql.Identifier(c))
        for c in columns
    )
    return sql.SQL("SELECT ({}) IS FALSE FROM (SELECT {}) AS {}").format(
        sql.SQL(check.expression or "true"), values, sql.Identifier(table.name.name)
    )
