"""Scan the deployed rows for violations of the expected constraints (opt-in, read-only).

A constraint can be in the catalog and still not hold for every row: a foreign key added
NOT VALID, or whose triggers were disabled while rows were loaded; a CHECK added NOT
VALID; a unique index rebuilt after a collation change; rows written while a constraint
was dropped. The behaviour checks cannot see these: they only insert new rows. This scan
reads every row once, in one read-only REPEATABLE READ snapshot, each statement bounded
by the connection's ``statement_timeout``:

- NOT NULL and CHECK: one pass per table, every rule of the table counted at once;
- foreign keys: one anti-join per key (rows whose parent is missing, MATCH FULL partial
  keys too);
- unique rules (primary keys, unique constraints and unique indexes, partial predicates
  honoured): one aggregate per rule, duplicated keys.

Each finding carries a few offending keys (the row's primary key, else its ctid) and
the count. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import psycopg
from psycopg import sql

from pytest_dbverify.catalog import Catalog, Constraint, Index, Table

SAMPLES = 5


@dataclass(frozen=True)
class Rule:
    """One expected rule to scan for, with its test id (``kind table.name``)."""

    kind: str  # not null, check, foreign key, unique
    table: Table
    name: str  # the constraint, index or column
    constraint: Constraint | None = None
    index: Index | None = None

    @property
    def id(self) -> str:
        """Return ``kind table.name``, e.g. ``foreign key like_engagement.x_fkey``."""
        return f"{self.kind} {self.table.name.name}.{self.name}"


@dataclass(frozen=True)
class Finding:
    """What the scan found for one rule: offending keys (a few), their count, or an error."""

    count: int = 0
    samples: tuple[str, ...] = ()
    error: str | None = None


def rules(tables: Sequence[Table]) -> list[Rule]:
    """Return every rule of ``tables`` the scan checks, in a stable order."""
    found: list[Rule] = []
    for table in tables:
        found += [Rule("not null", table, c.name) for c in table.columns if c.not_null]
        found += [Rule("check", table, c.name, constraint=c) for c in table.checks]
        found += [Rule("foreign key", table, c.name, constraint=c) for c in table.foreign_keys]
        found += [Rule("unique", table, c.name, constraint=c) for c in table.unique_constraints]
        found += [
            Rule("unique", table, i.name, index=i)
            for i in table.indexes
            if i.unique and i.constraint is None
        ]
    return found


def scan(conn: psycopg.Connection, tables: Sequence[Table], target: Catalog) -> dict[str, Finding]:
    """Scan the target's rows against every rule of ``tables`` (the expected schema).

    Runs in one READ ONLY REPEATABLE READ transaction on ``conn`` (which must be idle),
    rolled back at the end; a rule whose query fails (a column missing on the target, a
    statement timeout) gets that error as its finding and the others go on.
    """
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    results: dict[str, Finding] = {}
    try:
        with conn.transaction(force_rollback=True):
            for table in tables:
                key = _key(table, target)
                per_row = [r for r in rules([table]) if r.kind in ("not null", "check")]
                results.update(_row_rules(conn, table, per_row, key))
                for rule in rules([table]):
                    if rule.kind == "foreign key":
                        results[rule.id] = _guarded(conn, partial(_orphans, conn, rule, key))
                    elif rule.kind == "unique":
                        results[rule.id] = _guarded(conn, partial(_duplicates, conn, rule))
    finally:
        conn.read_only = False
        conn.isolation_level = None
    return results


def _guarded(conn: psycopg.Connection, run: Callable[[], Finding]) -> Finding:
    """Run one rule's query in a savepoint: a failure becomes that rule's finding."""
    try:
        with conn.transaction():
            return run()
    except psycopg.Error as err:
        return Finding(error=_error(err))


def _error(err: psycopg.Error) -> str:
    first = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__} [{err.sqlstate}]: {first}"


def _key(table: Table, target: Catalog) -> sql.Composable:
    """Return what identifies a row in reports: the target's primary key, else ctid."""
    try:
        deployed = target.table(table.name)
    except KeyError:
        deployed = table
    pk = deployed.primary_key
    if pk is None:
        return sql.SQL("ctid::text")
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in pk.columns)
    return (
        sql.SQL("ROW({})::text").format(columns)
        if len(pk.columns) > 1
        else sql.SQL("{}::text").format(columns)
    )


def _row_rules(
    conn: psycopg.Connection, table: Table, per_row: list[Rule], key: sql.Composable
) -> dict[str, Finding]:
    if not per_row:
        return {}
    conditions = [_violation(rule) for rule in per_row]
    # One pass counts every rule of the table; samples are fetched only for the broken.
    counts_query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {})").format(c) for c in conditions),
        _name(table),
    )
    try:
        with conn.transaction():
            row = conn.execute(counts_query).fetchone()
        counts: Sequence[object] = tuple(row) if row is not None else ()
    except psycopg.Error:  # e.g. a column missing on the target: one rule at a time
        counts = [1] * len(per_row)
    found = {}
    for rule, condition, count in zip(per_row, conditions, counts, strict=True):
        if count == 0:
            found[rule.id] = Finding()
        else:
            found[rule.id] = _guarded(conn, partial(_rows, conn, table, condition, key))
    return found


def _violation(rule: Rule) -> sql.Composable:
    if rule.kind == "not null":
        return sql.SQL("{} IS NULL").format(sql.Identifier(rule.name))
    assert rule.constraint is not None
    assert rule.constraint.expression is not None
    # A CHECK passes on NULL: only a definite false is a violation.
    return sql.SQL("({}) IS FALSE").format(sql.SQL(rule.constraint.expression))


def _rows(
    conn: psycopg.Connection, table: Table, condition: sql.Composable, key: sql.Composable
) -> Finding:
    query = sql.SQL("SELECT {k}, count(*) OVER () FROM {t} WHERE {c} LIMIT {n}").format(
        k=key, t=_name(table), c=condition, n=sql.Literal(SAMPLES)
    )
    return _finding(conn.execute(query).fetchall())


def _orphans(conn: psycopg.Connection, rule: Rule, key: sql.Composable) -> Finding:
    fk = rule.constraint
    assert fk is not None
    assert fk.ref_table is not None
    child = [sql.SQL("c.{}").format(sql.Identifier(col)) for col in fk.columns]
    parent = [sql.SQL("p.{}").format(sql.Identifier(col)) for col in fk.ref_columns]
    all_set = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in child)
    matches = sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(p, c) for p, c in zip(parent, child, strict=True)
    )
    missing = sql.SQL("({all_set} AND NOT EXISTS (SELECT FROM {parent} p WHERE {matches}))").format(
        all_set=all_set,
        parent=sql.Identifier(fk.ref_table.schema, fk.ref_table.name),
        matches=matches,
    )
    if fk.match == "full" and len(child) > 1:  # MATCH FULL: all null or none
        any_set = sql.SQL(" OR ").join(sql.SQL("{} IS NOT NULL").format(c) for c in child)
        missing = sql.SQL("({} OR (({}) AND NOT ({})))").format(missing, any_set, all_set)
    query = sql.SQL("SELECT {k}, count(*) OVER () FROM {t} c WHERE {m} LIMIT {n}").format(
        k=key,
        t=_name(rule.table),
        m=missing,
        n=sql.Literal(SAMPLES),
    )
    return _finding(conn.execute(query).fetchall())


def _duplicates(conn: psycopg.Connection, rule: Rule) -> Finding:
    if rule.constraint is not None:
        keys: list[sql.Composable] = [sql.Identifier(c) for c in rule.constraint.columns]
        nulls_distinct = not rule.constraint.nulls_not_distinct
        predicate = None
    else:
        index = rule.index
        assert index is not None
        keys = [
            sql.SQL(f"({expression})") if expression else sql.Identifier(column or "")
            for column, expression in zip(index.columns, index.expressions, strict=True)
        ]
        nulls_distinct = not index.nulls_not_distinct
        predicate = index.predicate
    conditions: list[sql.Composable] = (
        [sql.SQL("{} IS NOT NULL").format(k) for k in keys] if nulls_distinct else []
    )
    if predicate:
        conditions.append(sql.SQL(f"({predicate})"))
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("")
    key_list = sql.SQL(", ").join(keys)
    query = sql.SQL(
        "SELECT ROW({k})::text || ' x' || count(*), count(*) OVER () FROM {t}{w} "
        "GROUP BY {k} HAVING count(*) > 1 LIMIT {n}"
    ).format(k=key_list, t=_name(rule.table), w=where, n=sql.Literal(SAMPLES))
    return _finding(conn.execute(query).fetchall())


def _finding(rows: list[tuple[object, ...]]) -> Finding:
    if not rows:
        return Finding()
    return Finding(count=int(str(rows[0][1])), samples=tuple(str(row[0]) for row in rows))


def _name(table: Table) -> sql.Identifier:
    return sql.Identifier(table.name.schema, table.name.name)
