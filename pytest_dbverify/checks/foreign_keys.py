"""Every foreign key is enforced, and its ON DELETE / ON UPDATE actions do what they say."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import Constraint, Table
from pytest_dbverify.names import fk_id, quoted
from pytest_dbverify.run import VerificationRun, get_run
from pytest_dbverify.savepoints import savepoint, settle

if TYPE_CHECKING:
    from pytest_dbverify.rows import RowFactory

pytestmark = pytest.mark.dbverify

FOREIGN_KEY_VIOLATION = "23503"
# ON DELETE / ON UPDATE RESTRICT: 23001 restrict_violation on PostgreSQL 18, 23503 on 15.
RESTRICT_VIOLATION = ("23001", FOREIGN_KEY_VIOLATION)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per foreign key of the expected schema."""
    if "foreign_key" not in metafunc.fixturenames:
        return
    pairs = [(t, fk) for t in get_run(metafunc.config).checked_tables() for fk in t.foreign_keys]
    metafunc.parametrize("foreign_key", pairs, ids=[fk_id(t, fk) for t, fk in pairs])


def test_fk_enforced(
    foreign_key: tuple[Table, Constraint],
    dbverify_conn: psycopg.Connection,
    dbverify_run: VerificationRun,
) -> None:
    """A row pointing at a missing parent is rejected (23503); one with a parent is accepted."""
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from hypothesis import reject

    from pytest_dbverify.properties import expect_error, run_examples
    from pytest_dbverify.rows import describe_values, insert_statement

    table, fk = foreign_key
    parent = dbverify_run.expected_catalog().table(fk.ref_table)  # type: ignore[arg-type]

    def example(rows: RowFactory) -> None:
        # Whether a parent has the key is asked after the insert, and only if it was
        # accepted: parents made for the orphan's other keys may take it meanwhile.
        missing = rows.draw_key(parent, fk)
        with rows.attempt():  # the orphan's other parents go with it
            orphan = rows.values(table, overrides=_as_child(fk, missing))
            if parent.name == table.name and all(
                orphan.get(r) == missing[r] for r in fk.ref_columns
            ):
                reject()  # a row that references itself is no orphan
            error = expect_error(
                dbverify_conn,
                FOREIGN_KEY_VIOLATION,
                insert_statement(table, orphan),
                list(orphan.values()),
            )
            if error is None and _key_exists(dbverify_conn, parent, missing):
                reject()  # no orphan after all
        assert error is not None, (
            f"foreign key {fk.name} ({fk_id(table, fk)}) is not enforced: a row pointing at a "
            f"missing {parent.name} was accepted ({describe_values(orphan)}); "
            f"expected 23503 foreign_key_violation"
        )
        parent_row = rows.insert(parent)
        rows.insert(table, overrides=_as_child(fk, {r: parent_row[r] for r in fk.ref_columns}))

    run_examples(dbverify_run, dbverify_conn, f"foreign key {fk.name} of {table.name}", example)


def test_fk_actions(
    foreign_key: tuple[Table, Constraint],
    dbverify_conn: psycopg.Connection,
    dbverify_run: VerificationRun,
) -> None:
    """Deleting / updating the parent does what ON DELETE / ON UPDATE declare."""
    from pytest_dbverify.properties import run_examples

    table, fk = foreign_key
    parent = dbverify_run.expected_catalog().table(fk.ref_table)  # type: ignore[arg-type]
    updatable = all(parent.column(r).insertable for r in fk.ref_columns)
    if parent.has_rules:
        pytest.skip(f"{parent.name} has rewrite rules: a DELETE or UPDATE there need not happen")

    def parent_and_child(rows: RowFactory) -> tuple[dict[str, Any], dict[str, Any]]:
        parent_row = rows.insert(parent)
        key = {r: parent_row[r] for r in fk.ref_columns}
        return key, rows.insert(table, overrides=_as_child(fk, key))

    def example(rows: RowFactory) -> None:
        where = _where(fk.ref_columns)
        with rows.attempt():  # each action on a pair of its own
            key, child = parent_and_child(rows)
            delete = sql.SQL("DELETE FROM {} WHERE {}").format(quoted(parent.name), where)
            _assert_action(dbverify_conn, table, fk, child, fk.on_delete, "DELETE", delete,
                           list(key.values()), new_key=None)  # fmt: skip
        if not updatable:
            return
        key, child = parent_and_child(rows)
        new_key = _missing_key(dbverify_conn, rows, parent, fk)
        # RETURNING: the key as stored (char(n) pads it), which a cascade copies.
        update = sql.SQL("UPDATE {} SET {} WHERE {} RETURNING {}").format(
            quoted(parent.name),
            sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(r)) for r in fk.ref_columns
            ),
            where,
            sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns)),
        )
        _assert_action(dbverify_conn, table, fk, child, fk.on_update, "UPDATE", update,
                       [*new_key.values(), *key.values()], new_key=new_key)  # fmt: skip

    run_examples(dbverify_run, dbverify_conn, f"foreign key {fk.name} of {table.name}", example)


def _assert_action(
    conn: psycopg.Connection,
    table: Table,
    fk: Constraint,
    child: dict[str, Any],
    action: str,
    verb: str,
    statement: sql.Composed,
    params: list[Any],
    new_key: dict[str, Any] | None,
) -> None:
    from pytest_dbverify.properties import expect_error

    what = f"ON {verb} {action.upper()} of {fk.name} ({fk_id(table, fk)})"
    # Other keys may point at the parent too (a cycle closed through a deferrable key,
    # back to the parent row): deferred, only this one acts now.
    conn.execute("SET CONSTRAINTS ALL DEFERRED")
    if fk.deferrable:
        name = sql.Identifier(table.name.schema, fk.name)
        conn.execute(sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(name))
    if action in ("restrict", "no action"):
        sqlstate = RESTRICT_VIOLATION if action == "restrict" else FOREIGN_KEY_VIOLATION
        error = expect_error(conn, sqlstate, statement, params)
        assert error is not None, f"{what}: {verb} of a referenced parent row succeeded"
        return
    with savepoint(conn):
        cursor = conn.execute(statement, params)
        settle(conn)
        returned = cursor.fetchone() if new_key else None
    if returned is not None:
        new_key = dict(zip(fk.ref_columns, returned, strict=True))
    found = _child_now(conn, table, fk, child)
    if action == "cascade" and verb == "DELETE":
        assert found is None, f"{what}: the child row is still there after its parent was deleted"
        return
    assert found is not None, f"{what}: the child row disappeared"
    if action == "cascade":
        expected: dict[str, Any] = (
            {c: new_key[r] for c, r in zip(fk.columns, fk.ref_columns, strict=True)}
            if new_key
            else {}
        )
    elif action == "set null":
        expected = dict.fromkeys(fk.columns)
    else:  # set default: whatever the defaults are, the columns no longer hold the old key
        assert any(found[c] != child[c] for c in fk.columns), (
            f"{what}: the child still holds the old key"
        )
        return
    actual = {c: found[c] for c in fk.columns}
    assert actual == expected, f"{what}: child columns are {actual}, expected {expected}"


def _child_now(
    conn: psycopg.Connection, table: Table, fk: Constraint, child: dict[str, Any]
) -> dict[str, Any] | None:
    """Re-read the child row by its primary key, else by every column but the reference."""
    from pytest_dbverify.rows import NO_EQUALITY, as_parameter

    key = table.primary_key
    columns = [c for c in (key.columns if key else ()) if c not in fk.columns]
    if not columns:
        columns = [c.name for c in table.columns
                   if c.name not in fk.columns and c.type.base not in NO_EQUALITY]  # fmt: skip
    # "=" and IS NULL, not IS NOT DISTINCT FROM: an index answers them, so the lookup
    # costs the same on an empty table as on one with millions of rows.
    where = sql.SQL(" AND ").join(
        sql.SQL("{} IS NULL").format(sql.Identifier(c))
        if child[c] is None
        else sql.SQL("{} = %s::{}").format(sql.Identifier(c), sql.SQL(table.column(c).type.sql))
        for c in columns
    )
    cursor = conn.execute(
        sql.SQL("SELECT * FROM {} WHERE {}").format(quoted(table.name), where),
        [as_parameter(child[c], table.column(c)) for c in columns if child[c] is not None],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d.name for d in cursor.description or []], row, strict=True))


def _missing_key(
    conn: psycopg.Connection, rows: RowFactory, parent: Table, fk: Constraint
) -> dict[str, Any]:
    """Draw a key for ``parent`` that no row of it has (the check's own view of the data)."""
    from hypothesis import reject

    key = rows.draw_key(parent, fk)
    if _key_exists(conn, parent, key):
        reject()
    return key


def _key_exists(conn: psycopg.Connection, parent: Table, key: dict[str, Any]) -> bool:
    casts = sql.SQL(" AND ").join(
        sql.SQL("{} = %s::{}").format(sql.Identifier(r), sql.SQL(parent.column(r).type.sql))
        for r in key
    )
    exists = conn.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(quoted(parent.name), casts),
        list(key.values()),
    ).fetchone()
    return bool(exists and exists[0])


def _as_child(fk: Constraint, key: dict[str, Any]) -> dict[str, Any]:
    return {c: key[r] for c, r in zip(fk.columns, fk.ref_columns, strict=True)}


def _where(columns: tuple[str, ...] | list[str], *, null_safe: bool = False) -> sql.Composable:
    operator = "IS NOT DISTINCT FROM" if null_safe else "="
    return sql.SQL(" AND ").join(
        sql.SQL("{} " + operator + " %s").format(sql.Identifier(c)) for c in columns
    )
