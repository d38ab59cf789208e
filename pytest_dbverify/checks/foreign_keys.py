"""Every foreign key is enforced, and its ON DELETE / ON UPDATE actions do what they say."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest
from psycopg import sql

from pytest_dbverify.catalog import Constraint, Table
from pytest_dbverify.names import fk_id, quoted
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from pytest_dbverify.plans import ExamplePlan, PlannedRow
    from pytest_dbverify.rows import RowPlanner

pytestmark = pytest.mark.dbverify

FOREIGN_KEY_VIOLATION = "23503"
# ON DELETE / ON UPDATE RESTRICT: 23001 restrict_violation on PostgreSQL 18, 23503 on 15.
RESTRICT_VIOLATION = ("23001", FOREIGN_KEY_VIOLATION)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per foreign key of the expected schema, and per one a partition adds."""
    if "foreign_key" not in metafunc.fixturenames:
        return
    run = get_run(metafunc.config)
    pairs = [
        pair
        for t in run.checked_tables()
        for pair in [
            *((t, fk) for fk in t.foreign_keys),
            *run.expected_catalog().partition_foreign_keys(t),
        ]
    ]
    metafunc.parametrize("foreign_key", pairs, ids=[fk_id(t, fk) for t, fk in pairs])


def test_fk_enforced(
    foreign_key: tuple[Table, Constraint],
    dbverify_run: VerificationRun,
) -> None:
    """A row pointing at a missing parent is rejected (23503); one with a parent is accepted."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from pytest_dbverify.plans import Rejected, describe_values, expected_error, insert_statement
    from pytest_dbverify.properties import run_planned

    table, fk = foreign_key
    parent = dbverify_run.expected_catalog().table(fk.ref_table)  # type: ignore[arg-type]

    def example(rows: RowPlanner) -> None:
        # Whether a parent has the key is asked after the insert, and only if it was
        # accepted: parents made for the orphan's other keys may take it meanwhile.
        missing = rows.draw_key(parent, fk)
        with rows.attempt():  # the orphan's other parents go with it
            orphan = rows.values(table, overrides=_as_child(fk, missing), minimal=True)
            if parent.name == table.name and all(
                orphan.get(r) == missing[r] for r in fk.ref_columns
            ):
                raise Rejected("a row that references itself is no orphan")
            insert = rows.plan.attempt(insert_statement(table, orphan))
            exists = rows.plan.attempt(_key_exists(parent, missing))  # runs if it got in

        @rows.plan.judge
        def refused() -> None:
            error = expected_error(insert, FOREIGN_KEY_VIOLATION)
            if error is None and exists.rows and exists.rows[0][0]:
                raise Rejected("no orphan after all")
            assert error is not None, (
                f"foreign key {fk.name} ({fk_id(table, fk)}) is not enforced: a row pointing "
                f"at a missing {parent.name} was accepted ({describe_values(orphan)}); "
                f"expected 23503 foreign_key_violation"
            )

        parent_row = rows.insert(parent, minimal=True)
        key = {r: parent_row.ref(r) for r in fk.ref_columns}
        rows.insert(table, overrides=_as_child(fk, key), minimal=True)

    with dbverify_run.checks_connection() as conn:
        run_planned(
            dbverify_run, conn, f"foreign key {fk.name} of {table.name}", example, table=table
        )


def test_fk_actions(
    foreign_key: tuple[Table, Constraint],
    dbverify_run: VerificationRun,
) -> None:
    """Deleting / updating the parent does what ON DELETE / ON UPDATE declare."""
    from pytest_dbverify.plans import Rejected
    from pytest_dbverify.properties import run_planned

    table, fk = foreign_key
    parent = dbverify_run.expected_catalog().table(fk.ref_table)  # type: ignore[arg-type]
    updatable = all(parent.column(r).insertable for r in fk.ref_columns)
    if parent.has_rules:
        pytest.skip(f"{parent.name} has rewrite rules: a DELETE or UPDATE there need not happen")

    def parent_and_child(rows: RowPlanner) -> tuple[dict[str, Any], PlannedRow]:
        parent_row = rows.insert(parent, minimal=True)
        key = {r: parent_row.ref(r) for r in fk.ref_columns}
        return key, rows.insert(table, overrides=_as_child(fk, key), minimal=True)

    def example(rows: RowPlanner) -> None:
        where = _where(fk.ref_columns, parent)
        with rows.attempt():  # each action on a pair of its own
            key, child = parent_and_child(rows)
            delete = sql.SQL("DELETE FROM {} WHERE {}").format(
                quoted(parent.name), where(key.values())
            )
            _plan_action(rows.plan, table, fk, child, fk.on_delete, "DELETE", delete, None)
        if not updatable:
            return
        key, child = parent_and_child(rows)
        new_key = rows.draw_key(parent, fk)
        # A key some row has already (this parent's own, drawn again) shows nothing.
        taken = rows.plan.execute(_key_exists(parent, new_key))

        @rows.plan.judge
        def key_free() -> None:
            if taken.rows and taken.rows[0][0]:
                raise Rejected("the key drawn is taken")

        # RETURNING: the key as stored (char(n) pads it), which a cascade copies.
        update = sql.SQL("UPDATE {} SET {} WHERE {} RETURNING {}").format(
            quoted(parent.name),
            sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(r), _value(parent, r, new_key[r]))
                for r in fk.ref_columns
            ),
            where(key.values()),
            sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns)),
        )
        _plan_action(rows.plan, table, fk, child, fk.on_update, "UPDATE", update, new_key)

    with dbverify_run.checks_connection() as conn:
        run_planned(
            dbverify_run, conn, f"foreign key {fk.name} of {table.name}", example, table=table
        )


def _plan_action(
    plan: ExamplePlan,
    table: Table,
    fk: Constraint,
    child: PlannedRow,
    action: str,
    verb: str,
    statement: sql.Composed,
    new_key: dict[str, Any] | None,
) -> None:
    from pytest_dbverify.plans import expected_error

    what = f"ON {verb} {action.upper()} of {fk.name} ({fk_id(table, fk)})"
    # Other keys may point at the parent too (a cycle closed through a deferrable key,
    # back to the parent row): deferred, only this one acts now.
    plan.execute(sql.SQL("SET CONSTRAINTS ALL DEFERRED"))
    if fk.deferrable:
        name = sql.Identifier(table.name.schema, fk.name)
        plan.execute(sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(name))
    if action in ("restrict", "no action"):
        sqlstate = RESTRICT_VIOLATION if action == "restrict" else FOREIGN_KEY_VIOLATION
        with plan.savepoint():
            acted = plan.attempt(statement)

        @plan.judge
        def refused() -> None:
            assert expected_error(acted, sqlstate) is not None, (
                f"{what}: {verb} of a referenced parent row succeeded"
            )

        return
    acted = plan.execute(statement)
    found = plan.execute(_child_now(table, fk, child, new_key, action))

    @plan.judge
    def acted_as_declared() -> None:
        now = found.row
        if action == "cascade" and verb == "DELETE":
            assert now is None, f"{what}: the child row is still there after its parent was deleted"
            return
        assert now is not None, f"{what}: the child row disappeared"
        stored = child.stored or {}
        if action == "cascade":
            returned = acted.rows[0] if acted.rows and new_key else None
            key = dict(zip(fk.ref_columns, returned, strict=True)) if returned else {}
            expected = {c: key[r] for c, r in zip(fk.columns, fk.ref_columns, strict=True)}
        elif action == "set null":
            expected = dict.fromkeys(fk.columns)
        else:  # set default: whatever the defaults are, the columns no longer hold the old key
            assert any(now[c] != stored.get(c) for c in fk.columns), (
                f"{what}: the child still holds the old key"
            )
            return
        actual = {c: now[c] for c in fk.columns}
        assert actual == expected, f"{what}: child columns are {actual}, expected {expected}"


def _child_now(
    table: Table,
    fk: Constraint,
    child: PlannedRow,
    new_key: dict[str, Any] | None,
    action: str,
) -> sql.Composable:
    """Return the child row now, by its primary key, else by every column but the reference.

    The columns hold what the child was stored with (a trigger, a default, char(n)
    padding may differ from what was sent). The reference's own columns may hold the old
    key, the new one (``new_key``, after an UPDATE of the parent) or NULL: each a
    condition an index answers, so the lookup costs the same however large the table.
    After SET DEFAULT they may hold anything: the key's other columns find the row then,
    and a table without a primary key is searched by its other columns.
    """
    from pytest_dbverify.rows import NO_EQUALITY

    def stored(name: str) -> sql.Composable:
        return _value(table, name, child.ref(name))

    def now(name: str) -> sql.Composable:
        column = sql.Identifier(name)
        if name not in fk.columns:
            return sql.SQL("{} = {}").format(column, stored(name))  # a key is never NULL
        held = [stored(name)]
        if new_key:
            held.append(_value(table, name, _as_child(fk, new_key)[name]))
        either = sql.SQL(" OR ").join(sql.SQL("{} = {}").format(column, v) for v in held)
        return sql.SQL("({} OR {} IS NULL)").format(either, column)

    key = table.primary_key
    keyed = list(key.columns) if key else []
    if action == "set default":
        keyed = [c for c in keyed if c not in fk.columns]
    if keyed:
        where = sql.SQL(" AND ").join(now(c) for c in keyed)
    else:
        where = sql.SQL(" AND ").join(
            sql.SQL("({0} = {1} OR {1} IS NULL AND {0} IS NULL)").format(
                sql.Identifier(c.name), stored(c.name)
            )
            for c in table.columns
            if c.name not in fk.columns and c.type.base not in NO_EQUALITY
        )
    return sql.SQL("SELECT * FROM {} WHERE {}").format(quoted(table.name), where)


def _key_exists(parent: Table, key: dict[str, Any]) -> sql.Composable:
    return sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(
        quoted(parent.name), _where(list(key), parent)(key.values())
    )


def _value(table: Table, column: str, value: Any) -> sql.Composable:
    from pytest_dbverify.plans import sql_value

    return sql_value(value, table.column(column).type.sql)


def _as_child(fk: Constraint, key: dict[str, Any]) -> dict[str, Any]:
    return {c: key[r] for c, r in zip(fk.columns, fk.ref_columns, strict=True)}


def _where(
    columns: tuple[str, ...] | list[str], table: Table
) -> Callable[[Iterable[Any]], sql.Composable]:
    """Return a function of the values that gives ``col = value AND ...``."""

    def where(values: Iterable[Any]) -> sql.Composable:
        return sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), _value(table, c, v))
            for c, v in zip(columns, values, strict=True)
        )

    return where
