"""Every primary key, unique constraint, unique index and exclusion constraint rejects a copy."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import Table
from pytest_dbverify.names import short_name
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from pytest_dbverify.rows import RowFactory

pytestmark = pytest.mark.dbverify

UNIQUE_VIOLATION = "23505"
EXCLUSION_VIOLATION = "23P01"


@dataclass(frozen=True)
class UniqueRule:
    """Something that forbids two rows with the same values in ``columns``."""

    name: str
    columns: tuple[str, ...]  # the table columns whose values the duplicate copies
    sqlstate: str
    predicate: str | None = None
    nulls_not_distinct: bool = False

    def id(self, table: Table) -> str:
        """Return ``table.name``, the id a CI log shows."""
        return f"{short_name(table.name)}.{self.name}"


def unique_rules(table: Table) -> list[UniqueRule]:
    """Return the table's keys, unique constraints, exclusion constraints and unique indexes."""
    rules = []
    predicates = {index.name: index.predicate for index in table.indexes}
    for c in table.constraints:
        if c.kind in ("primary key", "unique", "exclusion"):
            sqlstate = EXCLUSION_VIOLATION if c.kind == "exclusion" else UNIQUE_VIOLATION
            predicate = predicates.get(c.index or "")  # EXCLUDE ... WHERE (...)
            rules.append(UniqueRule(c.name, c.columns, sqlstate, predicate, c.nulls_not_distinct))
    for index in table.indexes:
        if index.unique and index.constraint is None:
            columns = tuple(c for c in index.columns if c is not None)
            for expression in index.expressions:
                if expression:
                    columns += tuple(_columns_in(expression, table))
            rules.append(UniqueRule(index.name, tuple(dict.fromkeys(columns)), UNIQUE_VIOLATION,
                                    predicate=index.predicate,
                                    nulls_not_distinct=index.nulls_not_distinct))  # fmt: skip
    return rules


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per key, unique constraint, unique index and exclusion constraint."""
    if "unique_rule" not in metafunc.fixturenames:
        return
    pairs = [(t, r) for t in get_run(metafunc.config).checked_tables() for r in unique_rules(t)]
    metafunc.parametrize("unique_rule", pairs, ids=[r.id(t) for t, r in pairs])


def test_unique_enforced(
    unique_rule: tuple[Table, UniqueRule],
    dbverify_conn: psycopg.Connection,
    dbverify_run: VerificationRun,
) -> None:
    """A second row with the same key is rejected (23505, or 23P01 for an exclusion)."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from hypothesis import reject

    from pytest_dbverify.properties import expect_error, run_examples
    from pytest_dbverify.rows import describe_values, insert_statement
    from pytest_dbverify.strategies import column_values

    table, rule = unique_rule
    names = _rule_names(dbverify_run, table, rule)

    def example(rows: RowFactory) -> None:
        references = {c for fk in table.foreign_keys for c in fk.columns}
        filled = {
            c: rows.data.draw(
                # NULL never collides, and an empty range overlaps nothing.
                column_values(table, c).filter(
                    lambda v: v is not None and not getattr(v, "isempty", False)
                ),
                label=c,
            )
            for c in rule.columns
            if table.column(c).insertable and c not in references
        }
        first = rows.insert_values(table, rows.values(table, filled, linked=rule.columns))
        if rule.predicate and not _satisfies(dbverify_conn, table, rule.predicate, first):
            reject()  # the partial index does not cover this row
        copied = {c: first[c] for c in rule.columns}
        duplicate = rows.values(table, overrides={**_differing(rows, table, rule, first), **copied})
        if rule.predicate:  # the duplicate must fall under the predicate too
            duplicate = {
                **duplicate,
                **{
                    c: first[c]
                    for c in _columns_in(rule.predicate, table)
                    if table.column(c).insertable
                },
            }
        overriding = any(table.column(c).identity == "always" for c in duplicate)
        statement = insert_statement(table, duplicate, overriding=overriding)
        error = expect_error(dbverify_conn, rule.sqlstate, statement, list(duplicate.values()))
        assert error is not None, (
            f"{rule.name} on {table.name} is not enforced: a duplicate of "
            f"({describe_values(copied)}) was accepted; expected {rule.sqlstate}"
        )
        if error.diag.constraint_name not in names:
            # The copy collides with the first row under another rule too (both drew the
            # same primary key): nothing is shown about this rule, so draw again. If the
            # rule is missing, examples where only the rule could object show it.
            reject()

    run_examples(dbverify_run, dbverify_conn, f"{rule.name} on {table.name}", example)


def _rule_names(run: VerificationRun, table: Table, rule: UniqueRule) -> set[str | None]:
    """Return the names an error from ``rule`` may carry: its own, or a partition's copy's."""
    names: set[str | None] = {rule.name, None}
    for partition in run.expected_catalog().partitions(table.name):
        names |= {c.name for c in partition.constraints if set(c.columns) == set(rule.columns)}
        names |= {i.name for i in partition.indexes if set(i.columns) == set(rule.columns)}
    return names


def _differing(
    rows: RowFactory, table: Table, rule: UniqueRule, first: dict[str, Any]
) -> dict[str, Any]:
    """Return values that keep the copy of ``first`` clear of the table's other unique rules.

    One column of each other rule gets a value unlike the first row's, so only ``rule``
    can object to the copy.
    """
    from pytest_dbverify.strategies import column_values

    references = {c for fk in table.foreign_keys for c in fk.columns}
    chosen: dict[str, Any] = {}
    for other in unique_rules(table):
        free = [
            c
            for c in other.columns
            if c not in rule.columns and c not in references and table.column(c).insertable
        ]
        if other.name == rule.name or not free or any(c in chosen for c in free):
            continue
        if any(c not in rule.columns and _fresh_by_default(table, c) for c in other.columns):
            continue  # an identity or serial column left to its sequence differs anyway
        column = free[0]
        chosen[column] = rows.data.draw(
            column_values(table, column).filter(_other_than(first.get(column))), label=column
        )
    return chosen


def _other_than(old: Any) -> Callable[[Any], bool]:
    return lambda value: value is not None and value != old


def _fresh_by_default(table: Table, name: str) -> bool:
    column = table.column(name)
    return bool(column.identity) or (column.default or "").startswith("nextval(")


def _satisfies(conn: psycopg.Connection, table: Table, predicate: str, row: dict[str, Any]) -> bool:
    columns = [c.name for c in table.columns]
    values = sql.SQL(", ").join(
        sql.SQL("%s::{} AS {}").format(sql.SQL(table.column(c).type.sql), sql.Identifier(c))
        for c in columns
    )
    result = conn.execute(
        sql.SQL("SELECT ({}) FROM (SELECT {}) AS {}").format(
            sql.SQL(predicate), values, sql.Identifier(table.name.name)
        ),
        [row[c] for c in columns],
    ).fetchone()
    return bool(result and result[0])


def _columns_in(expression: str, table: Table) -> list[str]:
    """Return the table's columns an expression mentions (quoted or bare)."""
    found = []
    for column in table.columns:
        quoted_name = '"' + column.name.replace('"', '""') + '"'
        if quoted_name in expression or re.search(
            rf"(?<![\w\"]){re.escape(column.name)}(?![\w\"])", expression
        ):
            found.append(column.name)
    return found
