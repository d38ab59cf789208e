"""Every primary key, unique constraint, unique index and exclusion constraint rejects a copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from psycopg import sql

from pytest_dbverify.catalog import Table
from pytest_dbverify.names import quoted, short_name
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from pytest_dbverify.batch import Answer
    from pytest_dbverify.plans import PlannedRow
    from pytest_dbverify.rows import RowPlanner

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
                    columns += tuple(table.mentioned(expression))
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
    dbverify_run: VerificationRun,
) -> None:
    """A second row with the same key is rejected (23505, or 23P01 for an exclusion)."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from pytest_dbverify.plans import Rejected, describe_values, expected_error, insert_statement
    from pytest_dbverify.properties import run_planned

    table, rule = unique_rule
    names = _rule_names(dbverify_run, table, rule)
    covering = _covering_rules(table, rule)

    def example(rows: RowPlanner) -> None:
        filled = _first_values(rows, table, rule)
        # A partial index's predicate reads columns a minimal row would leave to defaults.
        covered = table.mentioned(rule.predicate) if rule.predicate else []
        first = rows.insert_values(
            table,
            rows.values(table, filled, include=covered, linked=rule.columns, minimal=True),
        )
        if rule.predicate:
            under = rows.plan.execute(_satisfies(table, rule.predicate, first))
            rows.plan.judge(lambda: _covered(under))
        copied = {c: first.ref(c) for c in rule.columns}
        duplicate = rows.values(
            table, overrides={**_differing(rows, table, rule, first), **copied}, minimal=True
        )
        if rule.predicate:  # the duplicate must fall under the predicate too
            duplicate = {
                **duplicate,
                **{
                    c: first.ref(c)
                    for c in table.mentioned(rule.predicate)
                    if table.column(c).insertable
                },
            }
        overriding = any(table.column(c).identity == "always" for c in duplicate)
        # The example's last statement: its end fences the failure.
        insert = rows.plan.attempt(insert_statement(table, duplicate, overriding=overriding))

        @rows.plan.judge
        def refused() -> None:
            error = expected_error(insert, rule.sqlstate)
            assert error is not None, (
                f"{rule.name} on {table.name} is not enforced: a duplicate of "
                f"({describe_values(copied)}) was accepted; expected {rule.sqlstate}"
            )
            if error.diag.constraint_name in covering:
                return  # a rule on some of the same columns refuses every copy first
            if error.diag.constraint_name not in names:
                # The copy collides with the first row under another rule too (both drew
                # the same primary key): nothing is shown about this rule, so draw again.
                # If the rule is missing, examples where only the rule could object show it.
                raise Rejected("the duplicate broke another rule", error)

    with dbverify_run.checks_connection() as conn:
        run_planned(dbverify_run, conn, f"{rule.name} on {table.name}", example, table=table)


def _first_values(rows: RowPlanner, table: Table, rule: UniqueRule) -> dict[str, Any]:
    """Draw the first row's key, and the columns a partial index's predicate reads.

    Drawn within what the predicate says of each column (``WHERE tier = 'vip'``): random
    values would rarely fall under the index.
    """
    from pytest_dbverify.partitions import partition_routes
    from pytest_dbverify.strategies import key_values, predicate_values, session_default

    references = {c for fk in table.foreign_keys for c in fk.columns}
    # Partition keys are drawn together, along a route to an existing partition.
    routed = {c for route in partition_routes(rows.catalog, table) for c in route}
    mentioned = table.mentioned(rule.predicate) if rule.predicate else []
    filled: dict[str, Any] = {}
    for c in dict.fromkeys([*rule.columns, *mentioned]):
        column = table.column(c)
        # A default read from the session (a tenant's id) is what row security admits.
        if not column.insertable or c in references | routed or session_default(column):
            continue
        key = c in rule.columns
        if rule.predicate:
            filled[c] = rows.draw(predicate_values(table, c, rule.predicate, key=key))
        else:
            filled[c] = rows.draw(key_values(table, c))
    return filled


def _covering_rules(table: Table, rule: UniqueRule) -> set[str]:
    """Return the rules that refuse any copy under ``rule`` too: they key on a subset.

    ``UNIQUE (a)`` refuses every duplicate of ``UNIQUE (a, b)``, and may be checked first:
    its refusal shows the copy refused, which is what ``rule`` promises.
    """
    return {
        other.name
        for other in unique_rules(table)
        if other.name != rule.name
        and other.sqlstate == rule.sqlstate == UNIQUE_VIOLATION
        and other.predicate is None
        and other.columns
        and set(other.columns) <= set(rule.columns)
    }


def _rule_names(run: VerificationRun, table: Table, rule: UniqueRule) -> set[str | None]:
    """Return the names an error from ``rule`` may carry: its own, or a partition's copy's."""
    names: set[str | None] = {rule.name, None}
    for partition in run.expected_catalog().partitions(table.name):
        names |= {c.name for c in partition.constraints if set(c.columns) == set(rule.columns)}
        names |= {i.name for i in partition.indexes if set(i.columns) == set(rule.columns)}
    return names


def _differing(
    rows: RowPlanner, table: Table, rule: UniqueRule, first: PlannedRow
) -> dict[str, Any]:
    """Return values that keep the copy of ``first`` clear of the table's other unique rules.

    One column of each other rule gets a value unlike the one the first row was sent
    with, so only ``rule`` can object to the copy (a value left to a default differs
    anyway, or the copy collides there too and the example is drawn again).
    """
    from pytest_dbverify.strategies import session_default

    references = {c for fk in table.foreign_keys for c in fk.columns}
    chosen: dict[str, Any] = {}
    for other in unique_rules(table):
        free = [
            c
            for c in other.columns
            if c not in rule.columns
            and c not in references
            and table.column(c).insertable
            and not session_default(table.column(c))
        ]
        if other.name == rule.name or not free or any(c in chosen for c in free):
            continue
        if any(c not in rule.columns and _fresh_by_default(table, c) for c in other.columns):
            continue  # an identity or serial column left to its sequence differs anyway
        column = free[0]
        chosen[column] = _other_than(rows, table, column, first.values.get(column))
    return chosen


def _other_than(rows: RowPlanner, table: Table, column: str, old: Any) -> Any:
    """Draw a value of ``column`` other than ``old`` (a few tries, as a filter would)."""
    from pytest_dbverify.plans import Rejected
    from pytest_dbverify.strategies import key_values

    for _ in range(3):
        value = rows.draw(key_values(table, column))
        if value != old:
            return value
    raise Rejected(f"{table.name}.{column} drew {old!r} three times")


def _fresh_by_default(table: Table, name: str) -> bool:
    column = table.column(name)
    return bool(column.identity) or (column.default or "").startswith("nextval(")


def _satisfies(table: Table, predicate: str, row: PlannedRow) -> sql.Composable:
    """Return whether the stored ``row`` falls under a partial index's predicate."""
    from pytest_dbverify.plans import locator_where

    return sql.SQL("SELECT ({}) FROM {} AS {} WHERE {}").format(
        sql.SQL(predicate), quoted(table.name), sql.Identifier(table.name.name), locator_where(row)
    )


def _covered(answer: Answer) -> None:
    from pytest_dbverify.plans import Rejected

    if answer.ran and not (answer.rows and answer.rows[0][0]):
        raise Rejected("the partial index does not cover this row")
