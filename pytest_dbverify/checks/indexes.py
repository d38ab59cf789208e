"""Every expected index is present, valid and consistent; advisory findings on keys.

- present, valid and ready on the target (by name, else by definition);
- consistent: a lookup on a generated key returns the same rows through the index
  (other scans off) and from the heap (index scans off), on the page of the new row;
- advisory (``--dbverify-advisories fail|warn``): every foreign key's columns lead some
  index (PostgreSQL does not create one; cascades and joins need it), and no constraint
  is left NOT VALID or NOT ENFORCED on the target.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.batch import Batch
from pytest_dbverify.catalog import Constraint, Index, Table
from pytest_dbverify.names import fk_id, quoted, short_name
from pytest_dbverify.report import advise
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from pytest_dbverify.plans import PlannedRow
    from pytest_dbverify.rows import RowPlanner

pytestmark = pytest.mark.dbverify


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


def test_index_consistent(index: tuple[Table, Index], dbverify_run: VerificationRun) -> None:
    """A lookup on a generated key finds the same rows by index scan and by heap scan.

    Both lookups are bounded to the heap page that holds the inserted row (a TID range):
    the cost is that of one page however large the table, and what the index says about
    that page is compared with what the page holds; the new row must be among them.
    Checking every page is amcheck's job, whose cost grows with the data.
    """
    # Imported here, not at collection: hypothesis and the generators load on first use.
    from pytest_dbverify.plans import Rejected
    from pytest_dbverify.properties import run_planned
    from pytest_dbverify.strategies import session_default

    table, expected = index
    with dbverify_run.checks_connection() as conn:
        index_used = _index_used(conn, _lookup(table, expected, _EXPLAINED))
        if index_used is None:
            pytest.skip(
                f"index {expected.name} on {table.name}: the planner answers no key lookup "
                "with an index scan here, so its consistency cannot be observed (amcheck can)"
            )

        def example(rows: RowPlanner) -> None:
            key_columns = [c for c in expected.columns if c]
            foreign = {c for fk in table.foreign_keys for c in fk.columns}
            drawn = [
                c
                for c in key_columns
                if c not in foreign
                and table.column(c).insertable
                and not session_default(table.column(c))  # what row security admits
            ]
            # What a partial index's predicate or an expression key reads, too.
            read = table.mentioned(
                " ".join(e for e in (expected.predicate, *expected.expressions) if e)
            )
            values = rows.values(
                table,
                _under_predicate(rows, table, expected, foreign),
                include=[*drawn, *read],
                linked=key_columns,
                minimal=True,
            )
            row = rows.insert_values(table, values)
            lookup = _lookup(table, expected, _on_page_of(row))
            rows.plan.execute(INDEX_SCANS_ONLY)
            by_index = rows.plan.execute(lookup)
            rows.plan.execute(NO_INDEX_SCANS)
            by_heap = rows.plan.execute(lookup)

            @rows.plan.judge
            def consistent() -> None:
                stored = row.stored or {}
                if any(stored.get(column) is None for column in key_columns):
                    raise Rejected('"=" never finds a NULL key: draw a row with the key set')
                if not by_heap.rows:
                    raise Rejected("an expression key that is NULL for this row")
                assert by_index.rows == by_heap.rows, (
                    f"index {index_used} on {table.name} is inconsistent with its table: a "
                    f"lookup found {len(by_index.rows)} rows through the index and "
                    f"{len(by_heap.rows)} in the heap (corruption, or a collation change): "
                    "REINDEX it"
                )

        run_planned(
            dbverify_run, conn, f"index {expected.name} on {table.name}", example, table=table
        )


def _under_predicate(
    rows: RowPlanner, table: Table, index: Index, foreign: set[str]
) -> dict[str, Any]:
    """Draw what a partial index's predicate reads within it: random rows rarely are."""
    from pytest_dbverify.strategies import predicate_values

    if index.predicate is None:
        return {}
    return {
        c: rows.draw(predicate_values(table, c, index.predicate, key=c in index.columns))
        for c in table.mentioned(index.predicate)
        if c not in foreign and table.column(c).insertable
    }


def _lookup(table: Table, index: Index, page: tuple[sql.Composable, ...]) -> sql.Composed:
    """Return the rows on one heap page whose key equals the key of one row of that page.

    ``page`` is the row's ``tableoid``, its ``ctid``, and the page's first and next tids.
    "=" on the key (row-wise), which a btree answers; the row's own key, from the row
    itself, so expression keys need no evaluation here.
    """
    keys = sql.SQL(", ").join(
        sql.SQL(expression) if expression else sql.Identifier(column or "")
        for column, expression in zip(index.columns, index.expressions, strict=True)
    )
    return sql.SQL(
        "SELECT ctid::text FROM {t} WHERE ({k}) = (SELECT {k} FROM {t} WHERE tableoid = {} "
        "AND ctid = {}){p} AND ctid >= {} AND ctid < {} ORDER BY 1"
    ).format(
        *page,
        t=quoted(table.name),
        k=keys,
        p=sql.SQL(f" AND ({index.predicate})") if index.predicate else sql.SQL(""),
    )


# A lookup to EXPLAIN: on page 0, for a row of no table.
_EXPLAINED = tuple(map(sql.SQL, ("0::oid", "'(0,0)'::tid", "'(0,0)'::tid", "'(1,0)'::tid")))


def _on_page_of(row: PlannedRow) -> tuple[sql.Composable, ...]:
    from pytest_dbverify.plans import sql_value

    ctid = sql_value(row.ref("ctid"), "tid")
    page = sql.SQL("(({})::text::point)[0]::bigint").format(ctid)
    return (
        sql_value(row.ref("tableoid"), "oid"),
        ctid,
        sql.SQL("('(' || {} || ',0)')::tid").format(page),
        sql.SQL("('(' || {} + 1 || ',0)')::tid").format(page),
    )


_SCANS = ("enable_seqscan", "enable_bitmapscan", "enable_tidscan")
_INDEX_SCANS = ("enable_indexscan", "enable_indexonlyscan")


def _planner(*, index_scan: bool) -> sql.Composed:
    """Return a statement that leaves the planner only index scans, or only the others.

    ``set_config(..., true)`` is SET LOCAL in one statement (pipeline mode takes no
    multi-statement strings).
    """
    settings = [(name, not index_scan) for name in _SCANS]
    settings += [(name, index_scan) for name in _INDEX_SCANS]
    return sql.SQL("SELECT {}").format(
        sql.SQL(", ").join(
            sql.SQL("set_config({}, {}, true)").format(name, "on" if on else "off")
            for name, on in settings
        )
    )


# Built once: every example of every index runs both.
INDEX_SCANS_ONLY = _planner(index_scan=True)
NO_INDEX_SCANS = _planner(index_scan=False)


def _index_used(conn: psycopg.Connection, lookup: sql.Composed) -> str | None:
    """Return the index the planner scans for ``lookup`` when it may scan only indexes."""
    batch = Batch()  # one round trip
    batch.add(sql.SQL("BEGIN"))
    batch.add(INDEX_SCANS_ONLY)
    explained = batch.add(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(lookup))
    batch.sync()
    batch.add(sql.SQL("ROLLBACK"))
    batch.run(conn)
    if explained.error is not None:
        raise explained.error
    plan = explained.rows[0][0] if explained.rows else []
    names = list(_index_names(plan))
    return names[0] if names else None


def _index_names(node: object) -> Iterator[str]:
    """Yield the ``Index Name`` of every node of an EXPLAIN (FORMAT JSON) plan."""
    if isinstance(node, dict):
        if "Index Name" in node:
            yield str(node["Index Name"])
        for value in node.values():
            yield from _index_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _index_names(item)


def test_fk_indexed(
    indexed_fk: tuple[Table, Constraint],
    dbverify_run: VerificationRun,
    request: pytest.FixtureRequest,
) -> None:
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
            request,
            f"foreign key {fk.name} ({fk_id(table, fk)}) has no index leading with "
            f"{', '.join(fk.columns)}: deleting a {fk.ref_table} row scans all of {table.name}; "
            f"CREATE INDEX ON {table.name} ({', '.join(fk.columns)})",
        )


def test_constraint_validated(
    validated_constraint: tuple[Table, Constraint],
    dbverify_run: VerificationRun,
    request: pytest.FixtureRequest,
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
            request,
            f"constraint {found.name} on {table.name} is {state}: rows written before it "
            f"(or since, if not enforced) are unchecked; "
            f"ALTER TABLE {table.name} VALIDATE CONSTRAINT {found.name}",
        )


def _advise(run: VerificationRun, request: pytest.FixtureRequest, message: str) -> None:
    if run.settings.advisories == "warn":
        advise(request.node, message)
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
