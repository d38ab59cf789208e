"""Every expected index is present, valid and consistent; advisory findings on keys.

- present, valid and ready on the target (by name, else by definition);
- consistent: a lookup on a generated key returns the same rows through the index
  (sequential scans off) and through a sequential scan (index scans off);
- advisory (``--dbverify-advisories fail|warn``): every foreign key's columns lead some
  index (PostgreSQL does not create one; cascades and joins need it), and no constraint
  is left NOT VALID or NOT ENFORCED on the target.
"""

from __future__ import annotations

import re
import warnings

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import Constraint, Index, Table
from pytest_dbverify.properties import run_examples
from pytest_dbverify.rows import RowFactory, address, fk_id, quoted, short_name
from pytest_dbverify.run import VerificationRun, get_run

pytestmark = pytest.mark.dbverify


class DbverifyAdvisory(UserWarning):
    """An advisory finding reported as a warning (``--dbverify-advisories warn``)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per index, per foreign key and per constraint of the expected schema."""
    tables = get_run(metafunc.config).checked_tables()
    if "index" in metafunc.fixturenames:
        pairs = [(t, i) for t in tables for i in t.indexes]
        ids = [f"{short_name(t.name)}.{i.name}" for t, i in pairs]
        if metafunc.function.__name__ == "test_index_consistent":
            keep = [n for n, (_, i) in enumerate(pairs) if i.method == "btree"]
            pairs, ids = [pairs[n] for n in keep], [ids[n] for n in keep]
        metafunc.parametrize("index", pairs, ids=ids)
    if "indexed_fk" in metafunc.fixturenames:
        fks = [(t, fk) for t in tables for fk in t.foreign_keys]
        metafunc.parametrize("indexed_fk", fks, ids=[fk_id(t, fk) for t, fk in fks])
    if "validated_constraint" in metafunc.fixturenames:
        constraints = [(t, c) for t in tables for c in t.constraints if c.kind != "not null"]
        metafunc.parametrize(
            "validated_constraint",
            constraints,
            ids=[f"{short_name(t.name)}.{c.name}" for t, c in constraints],
        )


def test_index_valid(index: tuple[Table, Index], dbverify_run: VerificationRun) -> None:
    """The index exists on the target, and is valid and ready (not a failed CONCURRENTLY)."""
    table, expected = index
    found = _target_index(dbverify_run, table, expected)
    assert found is not None, (
        f"index {expected.name} on {table.name} is missing on the target "
        f"(expected: {expected.definition})"
    )
    state = "valid" if not found.valid else "ready" if not found.ready else ""
    assert not state, (
        f"index {found.name} on {table.name} is not {state} "
        "(a failed CREATE INDEX CONCURRENTLY leaves it so): REINDEX INDEX CONCURRENTLY it"
    )


def test_index_consistent(
    index: tuple[Table, Index], dbverify_conn: psycopg.Connection, dbverify_run: VerificationRun
) -> None:
    """A lookup on a generated key returns the same rows by index scan and by sequential scan."""
    table, expected = index
    keys = [
        sql.SQL(expression) if expression else sql.Identifier(column or "")
        for column, expression in zip(expected.columns, expected.expressions, strict=True)
    ]
    key = sql.SQL(", ").join(keys)
    lookup = sql.SQL(
        "SELECT ctid::text FROM {t} WHERE ({k}) IS NOT DISTINCT FROM "
        "(SELECT {k} FROM {t} WHERE tableoid = %s AND ctid = %s){p} ORDER BY 1"
    ).format(
        t=quoted(table.name),
        k=sql.SQL("ROW({})").format(key),
        p=sql.SQL(f" AND ({expected.predicate})") if expected.predicate else sql.SQL(""),
    )

    def example(rows: RowFactory) -> None:
        locator = address(rows.insert(table))
        dbverify_conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        by_index = dbverify_conn.execute(lookup, list(locator)).fetchall()
        dbverify_conn.execute(
            "SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off; "
            "SET LOCAL enable_indexonlyscan = off"
        )
        by_scan = dbverify_conn.execute(lookup, list(locator)).fetchall()
        assert by_index == by_scan, (
            f"index {expected.name} on {table.name} is inconsistent with its table: a lookup "
            f"found {len(by_index)} rows through the index and {len(by_scan)} by a "
            "sequential scan (corruption, or a collation change): REINDEX it"
        )

    run_examples(dbverify_run, dbverify_conn, f"index {expected.name} on {table.name}", example)


def test_fk_indexed(indexed_fk: tuple[Table, Constraint], dbverify_run: VerificationRun) -> None:
    """The foreign key's columns lead some valid index of the target (advisory)."""
    table, fk = indexed_fk
    target = _target_table(dbverify_run, table)
    leading = [
        index for index in (target.indexes if target else ())
        if index.valid and set(index.columns[: len(fk.columns)]) == set(fk.columns)
    ]  # fmt: skip
    if not leading:
        _advise(
            dbverify_run,
            f"foreign key {fk.name} ({fk_id(table, fk)}) has no index leading with "
            f"{', '.join(fk.columns)}: deleting a {fk.ref_table} row scans all of {table.name}; "
            f"CREATE INDEX ON {table.name} ({', '.join(fk.columns)})",
        )


def test_constraint_validated(
    validated_constraint: tuple[Table, Constraint], dbverify_run: VerificationRun
) -> None:
    """The constraint exists on the target, validated and enforced (advisory for the latter)."""
    table, expected = validated_constraint
    target = _target_table(dbverify_run, table)
    found = next(
        (c for c in (target.constraints if target else ()) if c.name == expected.name), None
    )
    assert found is not None, (
        f"constraint {expected.name} on {table.name} is missing on the target "
        f"(expected: {expected.definition})"
    )
    if not found.validated or not found.enforced:
        state = "NOT VALID" if not found.validated else "NOT ENFORCED"
        _advise(
            dbverify_run,
            f"constraint {found.name} on {table.name} is {state}: rows written before it "
            f"(or since, if not enforced) are unchecked; "
            f"ALTER TABLE {table.name} VALIDATE CONSTRAINT {found.name}",
        )


def _advise(run: VerificationRun, message: str) -> None:
    if run.settings.advisories == "warn":
        warnings.warn(DbverifyAdvisory(message), stacklevel=2)
        return
    pytest.fail(message, pytrace=False)


def _target_table(run: VerificationRun, table: Table) -> Table | None:
    try:
        return run.target_catalog().table(table.name)
    except KeyError:
        return None


def _target_index(run: VerificationRun, table: Table, expected: Index) -> Index | None:
    target = _target_table(run, table)
    if target is None:
        return None
    by_name = next((i for i in target.indexes if i.name == expected.name), None)
    if by_name is not None:
        return by_name
    wanted = _unnamed(expected.definition, expected.name)
    return next((i for i in target.indexes if _unnamed(i.definition, i.name) == wanted), None)


def _unnamed(definition: str, name: str) -> str:
    return re.sub(r"INDEX \S+ ON", "INDEX ON", definition.replace(f'"{name}"', name), count=1)
