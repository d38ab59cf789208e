"""One fault, one failure: the checks that cannot say anything new point at its root cause.

A migration not applied on the target leaves its tables missing; a table missing makes
every check of it, and of the tables that need its rows, fail with ``UndefinedTable``;
a dropped foreign key fails drift, ``fk_enforced`` and ``fk_actions`` alike. The root
cause is the one item that names the fault (``test_migration_applied[<file>]`` or
``test_schema_drift[<object>]``): the others are reported as "not checked" under it.

Pure: no pytest, no database. Only an item that runs in this session can be a root
cause (a deselected one would turn its dependents' failures into a quiet pass).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from pytest_dbverify.catalog import Catalog, Column, Constraint, Domain, Index, Table, TableName
from pytest_dbverify.schema_diff import ABSENT, Difference

DRIFT_CHECK = "test_schema_drift"
MIGRATION_CHECK = "test_migration_applied"


@dataclass(frozen=True)
class Cause:
    """The item that reports a fault, and the fault in a few words."""

    item: str  # the root cause's item name, e.g. test_schema_drift[table public.comments]
    fault: str

    def reason(self) -> str:
        """Return the skip reason of a check grouped under this cause."""
        return f"not checked: {self.fault} (root cause: {self.item})"


@dataclass(frozen=True)
class Dependencies:
    """What a check needs on the target: its own object, and what it stands on."""

    own: tuple[str, ...]  # labels ("constraint public.t.c") whose any difference is the fault
    needs: tuple[str, ...]  # labels that must merely exist (tables, columns)


class RootCauses:
    """Which selected item is the root cause of another's failure, if any."""

    def __init__(
        self,
        differences: Sequence[Difference],
        created_by: Mapping[str, str],
        selected: Collection[str],
    ) -> None:
        """Index the faults.

        Args:
            differences: Expected vs deployed (drift), one per differing object.
            created_by: Object label -> the pending migration file that creates or
                changes it (empty when every migration is applied).
            selected: The names of the items this session runs.
        """
        self._differences = {d.id: d for d in differences}
        self._created_by = created_by
        self._selected = selected

    def __bool__(self) -> bool:
        """Return True if there is any fault that checks could be grouped under."""
        return bool(self._differences or self._created_by)

    def of_drift(self, difference: Difference) -> Cause | None:
        """Return the pending migration behind a drift finding, if it is one."""
        return self._migration(difference.id)

    def of_check(self, dependencies: Dependencies) -> Cause | None:
        """Return the root cause that keeps a behaviour check from saying anything new."""
        for label in (*dependencies.own, *dependencies.needs):
            cause = self._migration(label)
            if cause is not None:
                return cause
        for label, own in [(d, True) for d in dependencies.own] + [
            (d, False) for d in dependencies.needs
        ]:
            difference = self._differences.get(label)
            if difference is None or not _keeps_check_from_telling(difference, own=own):
                continue
            item = f"{DRIFT_CHECK}[{difference.id}]"
            if item in self._selected:
                state = "absent on the target" if difference.found == ABSENT else "differs"
                return Cause(item, f"{difference.id} {state}")
        return None

    def _migration(self, label: str) -> Cause | None:
        file = self._created_by.get(label)
        if file is None:
            return None
        item = f"{MIGRATION_CHECK}[{file}]"
        if item not in self._selected:
            return None
        return Cause(item, f"{label} comes from migration {file}, not applied on the target")


def _keeps_check_from_telling(difference: Difference, *, own: bool) -> bool:
    """Return True if a check of (or on) the object can only fail again for this fault.

    What a check stands on must exist; its own object must be as expected, except that
    a column's own check (NOT NULL) is not about its type or default.
    """
    if difference.found == ABSENT:
        return True
    if not own:
        return False
    if difference.kind == "column":
        return any(fact.startswith("not null ") for fact in difference.expected.split("; "))
    return True


def dependencies(params: Iterable[object], catalog: Catalog) -> Dependencies | None:
    """Return what a check with these parameters depends on, or None for other checks.

    A row of a table needs its table, its columns and the tables its foreign keys point
    at, transitively (the generator inserts parents first).
    """
    own: list[str] = []
    tables: list[TableName] = []
    columns: list[str] = []
    for value in params:
        if isinstance(value, tuple) and value and isinstance(value[0], Domain):
            own.append(f"domain {value[0].name}")  # a domain's CHECK: (domain, check)
        elif isinstance(value, Table):
            tables.append(value.name)
            columns += [f"column {value.name}.{c.name}" for c in value.columns if c.insertable]
        elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Table):
            table, member = value
            tables.append(table.name)
            own += _own_labels(table, member)
            referenced = getattr(member, "ref_table", None)
            if isinstance(referenced, TableName):
                tables.append(referenced)
    if not tables and not own:
        return None
    needs = [f"table {name}" for name in _with_parents(tables, catalog)]
    return Dependencies(tuple(own), tuple(dict.fromkeys([*needs, *columns])))


def _own_labels(table: Table, member: object) -> list[str]:
    prefix = f"{table.name}."
    if isinstance(member, Column):
        return [f"column {prefix}{member.name}"]
    if isinstance(member, Constraint):
        return [f"constraint {prefix}{member.name}"]
    if isinstance(member, Index):
        return [f"index {prefix}{member.name}"]
    name = getattr(member, "name", None)  # keys.UniqueRule: a constraint or an index
    if isinstance(name, str):
        kind = "constraint" if any(c.name == name for c in table.constraints) else "index"
        return [f"{kind} {prefix}{name}"]
    return []


def _with_parents(tables: Iterable[TableName], catalog: Catalog) -> list[TableName]:
    """Return the tables and every table their foreign keys reach, in discovery order."""
    by_name = {t.name: t for t in catalog.tables}
    found: dict[TableName, None] = {}
    todo = list(tables)
    while todo:
        name = todo.pop(0)
        if name in found:
            continue
        found[name] = None
        table = by_name.get(name)
        if table is not None:
            todo += [fk.ref_table for fk in table.foreign_keys if fk.ref_table is not None]
    return list(found)
