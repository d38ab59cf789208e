"""Generated rows of any table, parents first, inserted inside the caller's transaction.

Every row a check touches is one it inserted here, in a transaction the check rolls
back: that is how the verifier never changes data it did not write. Values come from
the hypothesis strategies (:mod:`pytest_dbverify.strategies`); foreign-key columns are
filled from parent rows inserted first, in dependency order. A cycle is broken through
a nullable edge (left NULL) or a deferrable one (the parent's key is drawn up front and
the constraint deferred until the parent exists).

:class:`RowPlanner` plans the inserts on an example plan (:mod:`pytest_dbverify.plans`):
a child takes its parent's key as a reference the server resolves, so a whole example
is sent at once. :class:`RowFactory`, for your own properties, runs each call at once
and returns rows as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from psycopg import sql
from psycopg.types.json import Jsonb

from pytest_dbverify.batch import Batch
from pytest_dbverify.catalog import Catalog, Column, Constraint, Table, TableName
from pytest_dbverify.errors import DbverifyError
from pytest_dbverify.names import quoted
from pytest_dbverify.partitions import partition_routes
from pytest_dbverify.plans import (
    ExamplePlan,
    LockWait,
    PlannedRow,
    Ref,
    Rejected,
    resolved,
    sql_value,
)
from pytest_dbverify.savepoints import savepoint
from pytest_dbverify.strategies import StrategyRegistry, key_values, rows_for

T = TypeVar("T")
Draw = Callable[[SearchStrategy[T]], T]

_MAX_DEPTH = 12
# Types PostgreSQL cannot compare with "=": compared as text, or not at all.
NO_EQUALITY = frozenset(
    {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}
)


class CannotGenerate(DbverifyError):
    """No row can be generated for a table; the message says why and what would help."""


def as_parameter(value: Any, column: Column) -> Any:
    """Return a value read back from ``column`` in a form psycopg can send again."""
    if column.type.base in ("json", "jsonb") and not column.type.is_array and value is not None:
        return Jsonb(value)  # loaded as dict/list/str...: send it back as JSON, not as that
    return value


@dataclass
class RowPlanner:
    """Plans generated rows of any table of ``catalog`` on ``plan``, parents first."""

    plan: ExamplePlan
    catalog: Catalog
    draw: Draw[Any]
    registry: StrategyRegistry | None = None
    _stack: list[tuple[TableName, dict[str, Any]]] = field(default_factory=list)
    _deferred: dict[TableName, list[tuple[Table, dict[str, Any]]]] = field(default_factory=dict)
    _deferring: bool = False

    def values(
        self,
        table: Table,
        overrides: Mapping[str, Any] | None = None,
        *,
        include: Iterable[str] = (),
        linked: Iterable[str] = (),
        parents: bool = True,
        minimal: bool = False,
    ) -> dict[str, Any]:
        """Return values for a new row of ``table``, planning the parents it references.

        ``include`` names columns that must get a generated value even if they could be
        left to their defaults; ``linked`` names foreign-key columns that must reference a
        real parent row even where they may be NULL. With ``parents=False`` no parent is
        inserted: NOT NULL foreign-key columns are drawn like any other, and reference
        nothing (for a row that must be refused before its foreign keys are checked).
        ``minimal`` draws only the columns a row cannot do without (see
        :func:`pytest_dbverify.strategies.rows_for`), as for every parent.
        A parent's key is a :class:`pytest_dbverify.plans.Ref` until the batch has run.
        """
        overrides = {**self._route(table, overrides or {}), **(overrides or {})}
        # A parent made for a child's reference only has to exist: draw what it needs.
        minimal = minimal or bool(self._stack)
        if len(self._stack) > _MAX_DEPTH:
            raise CannotGenerate(f"{table.name}: foreign keys nest deeper than {_MAX_DEPTH}")
        if parents:
            self._stack.append((table.name, overrides))
            try:
                references = self._references(table, overrides, set(linked))
            finally:
                self._stack.pop()
        else:
            references = {}
            include = [*include, *_required_reference_columns(table)]
        # ``overrides`` now also holds any key a child further down promised to reference
        # this row by (drawn up front: see _break_cycle).
        wanted = [
            name for name in [*include, *overrides, *references] if table.column(name).insertable
        ]
        drawn = self.draw(rows_for(table, registry=self.registry, columns=wanted, minimal=minimal))
        return {**drawn, **references, **overrides}

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Undo everything the block writes when it ends: the rows, and this planner's plans.

        For a statement expected to fail (an orphan, a duplicate) and the parents made for
        it: a parent inserted to close a cycle would otherwise wait for a row that never
        comes. ``SET CONSTRAINTS`` made inside is undone too (by the savepoint's rollback).
        """
        with self.restored(), self.plan.savepoint():
            yield

    @contextmanager
    def restored(self) -> Iterator[None]:
        """Forget, when the block ends, the parents it promised and the constraints deferred."""
        saved = (
            {name: list(parents) for name, parents in self._deferred.items()},
            self._deferring,
        )
        try:
            yield
        finally:
            self._deferred, self._deferring = saved

    def insert(
        self, table: Table, overrides: Mapping[str, Any] | None = None, *, minimal: bool = False
    ) -> PlannedRow:
        """Plan a new row of ``table`` (and its parents); return it, to reference."""
        return self.insert_values(table, self.values(table, overrides, minimal=minimal))

    def insert_values(self, table: Table, values: Mapping[str, Any]) -> PlannedRow:
        """Plan the insert of exactly ``values``; a refusal nobody could foresee rejects."""
        for made in _made_with_parents(self.catalog, table):
            if all(isinstance(values.get(column), Ref) for column in made):
                # A parent's trigger already made this row (a profile for each new
                # account): ours would collide with it. Made by our insert of a parent
                # just now, it is ours to replace.
                self.plan.execute(_delete_statement(table, {c: values[c] for c in made}))
        row = self.plan.insert(table, values)
        # Parents promised through a deferred reference: insert them now, pointing back.
        for parent, key in self._deferred.pop(table.name, []):
            back = {
                column: row.ref(ref)
                for fk in parent.foreign_keys
                if fk.ref_table == table.name
                for column, ref in zip(fk.columns, fk.ref_columns, strict=True)
            }
            self.insert(parent, {**back, **key})
        if self._deferring and not self._stack:
            # The cycle is closed: check it now, and let the checks see every rule at once.
            self.plan.execute(sql.SQL("SET CONSTRAINTS ALL IMMEDIATE"))
            self._deferring = False
        return row

    def draw_key(self, parent: Table, fk: Constraint) -> dict[str, Any]:
        """Draw values (never NULL) for the columns of ``parent`` that ``fk`` references."""
        return {
            ref: self.draw(key_values(parent, ref, registry=self.registry))
            for ref in fk.ref_columns
        }

    def _route(self, table: Table, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Draw partition keys that lead a row of ``table`` to an existing leaf partition.

        The columns the caller chose, and references (a parent's key), are left out.
        """
        routes = partition_routes(self.catalog, table)
        if not routes:
            return {}
        references = {c for fk in self._foreign_keys(table) for c in fk.columns}
        route = self.draw(st.sampled_from(routes))
        return {
            name: value
            for name, value in route.items()
            if name not in overrides and name not in references and table.column(name).insertable
        }

    def _foreign_keys(self, table: Table) -> list[Constraint]:
        """Return the table's foreign keys, and those declared on its partitions only.

        A row routed to a partition must meet that partition's keys: a parent for each.
        """
        own = list(table.foreign_keys)
        if table.kind == "partitioned table":
            names = {(fk.columns, fk.ref_table, fk.ref_columns) for fk in own}
            for _, fk in self.catalog.partition_foreign_keys(table):
                if (fk.columns, fk.ref_table, fk.ref_columns) not in names:
                    names.add((fk.columns, fk.ref_table, fk.ref_columns))
                    own.append(fk)
        return own

    def _references(
        self, table: Table, overrides: Mapping[str, Any], linked: set[str]
    ) -> dict[str, Any]:
        """Fill each foreign key's columns from a parent row (or NULL, or a deferred key)."""
        filled: dict[str, Any] = {}
        for fk in self._foreign_keys(table):
            if all(column in overrides or column in filled for column in fk.columns):
                continue
            filled.update(self._reference(table, fk, force=bool(linked & set(fk.columns))))
        return filled

    def _reference(self, table: Table, fk: Constraint, *, force: bool = False) -> dict[str, Any]:
        assert fk.ref_table is not None
        nullable = not force and all(not table.column(c).not_null for c in fk.columns)
        try:
            parent = self.catalog.table(fk.ref_table)
        except KeyError:
            if nullable:
                return dict.fromkeys(fk.columns)
            raise CannotGenerate(
                f"{table.name}: foreign key {fk.name} references {fk.ref_table}, outside the "
                "verified schemas: add its schema to --dbverify-schemas"
            ) from None
        if nullable:
            # Optional references stay empty: fewer rows, and no cycle to break.
            return dict.fromkeys(fk.columns)
        optional = not all(table.column(c).not_null for c in fk.columns)
        if any(name == parent.name for name, _ in self._stack) and not optional:
            return self._break_cycle(table, fk, parent)
        if fk.deferrable and self._leads_back(parent, table.name):
            # Break the cycle here, on the deferrable edge: this row takes a key drawn
            # now, and the parent is inserted right after it, pointing back at it.
            key = self.draw_key(parent, fk)
            self._defer(table, fk)
            self._deferred.setdefault(table.name, []).append((parent, key))
            return {c: key[r] for c, r in zip(fk.columns, fk.ref_columns, strict=True)}
        row = self.insert(parent)
        return {
            column: row.ref(ref) for column, ref in zip(fk.columns, fk.ref_columns, strict=True)
        }

    def _break_cycle(self, table: Table, fk: Constraint, parent: Table) -> dict[str, Any]:
        # A row may reference itself: its key is known before any foreign key is checked
        # (after the row is written), so a NOT NULL self reference needs no deferral.
        itself = self._stack[-1][0] == table.name == parent.name and all(
            table.column(r).insertable for r in fk.ref_columns
        )
        if not fk.deferrable and not itself:
            raise CannotGenerate(
                f"{table.name}: foreign key {fk.name} closes a cycle of NOT NULL, "
                "non-deferrable references: no row can be inserted first"
            )
        # Draw the parent's key now, defer this constraint, and make the parent (inserted
        # further up the stack) use that key; the caller's SET CONSTRAINTS ALL IMMEDIATE
        # then proves the cycle closed.
        # The parent's own values win: a check may have chosen its key (a duplicate, a NULL).
        chosen = next(values for name, values in reversed(self._stack) if name == parent.name)
        key = {
            ref: chosen[ref] if chosen.get(ref) is not None else drawn
            for ref, drawn in self.draw_key(parent, fk).items()
        }
        # Promised to that very row (its frame's values), not to its table: a row of the
        # same table made meanwhile (a self reference) must not take the key.
        chosen.update({ref: value for ref, value in key.items() if ref not in chosen})
        if fk.deferrable:
            self._defer(table, fk)
        return {column: key[ref] for column, ref in zip(fk.columns, fk.ref_columns, strict=True)}

    def _defer(self, table: Table, fk: Constraint) -> None:
        self._deferring = True
        self.plan.execute(
            sql.SQL("SET CONSTRAINTS {} DEFERRED").format(
                sql.Identifier(table.name.schema, fk.name)
            )
        )

    def _leads_back(self, start: Table, target: TableName) -> bool:
        """Return True if NOT NULL references lead from ``start`` back to ``target``."""
        seen: set[TableName] = set()
        todo = [start]
        while todo:
            table = todo.pop()
            for fk in table.foreign_keys:
                if fk.ref_table is None or not all(table.column(c).not_null for c in fk.columns):
                    continue
                if fk.ref_table == target:
                    return True
                if fk.ref_table not in seen:
                    seen.add(fk.ref_table)
                    try:
                        todo.append(self.catalog.table(fk.ref_table))
                    except KeyError:
                        continue
        return False


class RowFactory:
    """Generates and inserts rows of any table of ``catalog`` through ``conn``, at once.

    For your own properties (the ``dbverify_examples`` fixture): each call runs what it
    planned before it returns, so rows come back as stored.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        catalog: Catalog,
        data: st.DataObject,
        registry: StrategyRegistry | None = None,
    ) -> None:
        self.conn = conn
        self.data = data
        self._planner = RowPlanner(ExamplePlan(Batch()), catalog, data.draw, registry)

    def values(
        self,
        table: Table,
        overrides: Mapping[str, Any] | None = None,
        *,
        include: Iterable[str] = (),
        linked: Iterable[str] = (),
        parents: bool = True,
    ) -> dict[str, Any]:
        """Return values for a new row of ``table``, inserting the parents it references.

        See :meth:`RowPlanner.values`; parent keys come back as stored.
        """
        values = self._planner.values(
            table, overrides, include=include, linked=linked, parents=parents
        )
        self._run()
        return resolved(values)

    def insert(self, table: Table, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Insert a new row of ``table`` and return it as stored (``RETURNING *``)."""
        return self._stored(self._planner.insert(table, overrides))

    def insert_values(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        """Insert exactly ``values``; a refusal nobody could foresee rejects the example."""
        return self._stored(self._planner.insert_values(table, values))

    def draw_key(self, parent: Table, fk: Constraint) -> dict[str, Any]:
        """Draw values (never NULL) for the columns of ``parent`` that ``fk`` references."""
        return self._planner.draw_key(parent, fk)

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Undo everything the block writes when it ends (see :meth:`RowPlanner.attempt`)."""
        with self._planner.restored(), savepoint(self.conn, rollback=True):
            yield

    def _stored(self, row: PlannedRow) -> dict[str, Any]:
        self._run()
        assert row.stored is not None  # the verdict raised otherwise
        return row.stored

    def _run(self) -> None:
        """Send what was planned, and judge it: a refusal rejects, a lock wait raises."""
        plan = self._planner.plan
        self._planner.plan = ExamplePlan(Batch())
        plan.batch.run(self.conn)
        try:
            plan.verdict()
        except Rejected:
            reject()
        except LockWait as waited:
            raise waited.error from None


def _made_with_parents(catalog: Catalog, table: Table) -> list[tuple[str, ...]]:
    """Return the unique keys of ``table`` a parent's insert trigger may fill for it.

    A key made of a foreign key's columns, to a parent with a row-level insert trigger:
    inserting the parent may insert this row too.
    """
    keys: list[tuple[str, ...]] = []
    for fk in table.foreign_keys:
        if fk.ref_table is None or not _inserts_trigger(catalog, fk.ref_table):
            continue
        for index in table.indexes:
            columns = tuple(c for c in index.columns if c is not None)
            if (
                index.unique
                and index.predicate is None
                and len(columns) == len(index.columns)
                and set(columns) <= set(fk.columns)
            ):
                keys.append(columns)
    return keys


def _inserts_trigger(catalog: Catalog, name: TableName) -> bool:
    try:
        parent = catalog.table(name)
    except KeyError:
        return False
    return any(t.enabled and t.row_level and "insert" in t.events for t in parent.triggers)


def _delete_statement(table: Table, key: Mapping[str, Any]) -> sql.Composable:
    return sql.SQL("DELETE FROM {} WHERE {}").format(
        quoted(table.name),
        sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql_value(v, table.column(c).type.sql))
            for c, v in key.items()
        ),
    )


def _required_reference_columns(table: Table) -> list[str]:
    return [
        name
        for fk in table.foreign_keys
        for name in fk.columns
        if table.column(name).not_null and table.column(name).insertable
    ]
