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

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import Constraint, Table
from pytest_dbverify.names import short_name
from pytest_dbverify.run import VerificationRun, get_run
from pytest_dbverify.savepoints import savepoint, settle

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from pytest_dbverify.rows import RowFactory

pytestmark = pytest.mark.dbverify

CHECK_VIOLATION = "23514"
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
    dbverify_conn: psycopg.Connection,
    dbverify_run: VerificationRun,
) -> None:
    """A row whose values violate the CHECK is rejected."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from hypothesis import reject

    from pytest_dbverify.check_expressions import violations
    from pytest_dbverify.properties import expect_error, run_examples
    from pytest_dbverify.rows import describe_values, insert_statement

    table, check = check_constraint
    assert check.expression is not None
    oracle = dbverify_run.oracle()
    found: list[dict[str, Any]] = []
    types = {c: table.column(c).type for c in check.columns}
    derived = list(violations(check.expression, types))  # the same at every example

    def example(rows: RowFactory) -> None:
        row = rows.values(table, include=check.columns)

        def candidates() -> Iterator[dict[str, Any]]:
            yield from derived
            for _ in range(_SEARCHES):  # drawn only while none violated yet
                yield {
                    c: rows.data.draw(_unbounded_values(table, c), label=c)
                    for c in check.columns if table.column(c).insertable
                }  # fmt: skip

        for candidate in candidates():
            attempt = {**row, **candidate}
            if _violates(oracle or dbverify_conn, table, check, attempt):
                break
        else:
            return  # nothing violating in this example; others may find one
        found.append(attempt)
        statement = insert_statement(table, attempt)
        error = expect_error(dbverify_conn, CHECK_VIOLATION, statement, list(attempt.values()))
        assert error is not None, (
            f"CHECK {check.name} on {table.name} is not enforced: a row violating "
            f"{check.definition} was accepted ({describe_values(attempt)}); expected 23514"
        )
        if error.diag.constraint_name not in (check.name, None):
            reject()  # the values also break another CHECK: they prove nothing about this one

    run_examples(dbverify_run, dbverify_conn, f"CHECK {check.name} on {table.name}", example)
    if not found:
        pytest.skip(
            f"CHECK {check.name} on {table.name}: no violating values found for "
            f"{check.definition}: register a strategy for its columns to search wider"
        )


@functools.lru_cache(maxsize=1024)
def _unbounded_values(table: Table, column: str) -> SearchStrategy[Any]:
    """Values of the column's type, blind to the table's CHECKs: the search needs both sides."""
    from pytest_dbverify.strategies import values_for

    return values_for(table.column(column), table=table.name)


def _violates(
    conn: psycopg.Connection, table: Table, check: Constraint, row: Mapping[str, Any]
) -> bool:
    """Return True when the expected expression is false (NULL passes a CHECK) for ``row``."""
    columns = [c for c in check.columns if c in row]
    values = sql.SQL(", ").join(
        sql.SQL("%s::{} AS {}").format(sql.SQL(table.column(c).type.sql), sql.Identifier(c))
        for c in columns
    )
    statement = sql.SQL("SELECT ({}) IS FALSE FROM (SELECT {}) AS {}").format(
        sql.SQL(check.expression or "true"), values, sql.Identifier(table.name.name)
    )
    params = [row[c] for c in columns]
    try:
        if conn.autocommit:  # the oracle: a failed statement harms nothing
            result = conn.execute(statement, params).fetchone()
        else:
            with savepoint(conn):
                cursor = conn.execute(statement, params)
                settle(conn)
                result = cursor.fetchone()
    except psycopg.errors.DataError:
        return False  # the value does not even fit the type: not a CHECK violation
    return bool(result and result[0])
