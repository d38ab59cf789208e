"""Compare two catalog snapshots: what the migrations produce vs what is deployed.

Pure functions over :class:`~pytest_dbverify.catalog.Catalog`: no database, no pytest.
``compare`` returns one :class:`Difference` per differing object (a table, a column, a
constraint, an index, a trigger, an enum, a domain, an extension), each naming what was
expected and what was found. A missing or extra table is one difference, not one per
column. The drift check turns each into a failing pytest item; the rollback round trip
uses the same comparison to name what a down section left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pytest_dbverify import normalize, repair
from pytest_dbverify.catalog import Catalog, Column, Constraint, Index, Table, TableName, Trigger

ABSENT = "absent"


@dataclass(frozen=True, order=True)
class Difference:
    """One object that differs: ``expected`` and ``found`` describe its differing facts."""

    kind: str  # table, column, constraint, index, trigger, enum, domain, extension
    name: str  # qualified: schema.table[.object]
    expected: str
    found: str
    fix: str = field(default="", compare=False)  # SQL that makes the target match

    @property
    def id(self) -> str:
        """Return the test id, ``kind name``: ``index public.content.content_created_at_idx``."""
        return f"{self.kind} {self.name}"

    def describe(self) -> str:
        """Return the finding a failing item shows, with the SQL that repairs it."""
        text = (
            f"{self.kind} {self.name}\n"
            f"  expected (from migrations): {self.expected}\n"
            f"  found (deployed):           {self.found}"
        )
        if self.fix:
            text += "\n  fix (review, then run on the target):\n    " + self.fix.replace(
                "\n", "\n    "
            )
        return text


def compare(
    expected: Catalog, found: Catalog, *, ignore_tables: Sequence[str] = ()
) -> list[Difference]:
    """Return every object that differs between ``expected`` and ``found``, sorted.

    Args:
        expected: The catalog of the migrations applied to a throwaway server.
        found: The catalog of the deployed database (same schemas and exclusions).
        ignore_tables: Tables to leave out of the comparison (``TableName.matches``).
    """

    def kept(table: Table) -> bool:
        return not any(table.name.matches(pattern) for pattern in ignore_tables)

    differences: list[Difference] = []
    for name, want, have in _pair(
        [t for t in expected.tables if kept(t)],
        [t for t in found.tables if kept(t)],
        key=lambda t: str(t.name),
    ):
        if want is None or have is None:
            fix = repair.create_table(want) if want else repair.drop_table(have)  # type: ignore[arg-type]
            differences.append(
                Difference(
                    "table",
                    name,
                    _present(want, _table_summary),
                    _present(have, _table_summary),
                    fix,
                )
            )
            continue
        differences.extend(_table_differences(want, have))
    differences.extend(_enum_differences(expected, found))
    differences.extend(_domain_differences(expected, found))
    differences.extend(_extension_differences(expected, found))
    return sorted(differences)


# --- tables and what hangs off them ---------------------------------------------------------


def _table_differences(want: Table, have: Table) -> list[Difference]:
    out: list[Difference] = []
    table = str(want.name)
    facts = _facts(
        ("kind", want.kind, have.kind),
        (
            "partition of",
            str(want.partition_of or "") or None,
            str(have.partition_of or "") or None,
        ),
        ("partition bound", want.partition_bound, have.partition_bound),
        ("partition key", want.partition_key, have.partition_key),
        ("row level security", want.row_security, have.row_security),
        ("rewrite rules", want.has_rules, have.has_rules),
    )
    if facts:
        out.append(Difference("table", table, *facts, repair.table_facts(want, have)))
    for name, column_want, column_have in _pair(want.columns, have.columns, key=lambda c: c.name):
        if column_want is None or column_have is None:
            fix = (
                repair.add_column(want.name, column_want)
                if column_want
                else repair.drop_column(want.name, column_have)  # type: ignore[arg-type]
            )
            out.append(
                Difference(
                    "column",
                    f"{table}.{name}",
                    _present(column_want, _column_summary),
                    _present(column_have, _column_summary),
                    fix,
                )
            )
            continue
        facts = _column_facts(column_want, column_have)
        if facts:
            fix = repair.column_facts(want.name, column_want, column_have)
            out.append(Difference("column", f"{table}.{name}", *facts, fix))
    out.extend(_constraint_differences(want.name, want.constraints, have.constraints))
    out.extend(_index_differences(want.name, want.indexes, have.indexes))
    out.extend(_trigger_differences(want.name, want.triggers, have.triggers))
    return out


def _column_facts(want: Column, have: Column) -> tuple[str, str] | None:
    return _facts(
        ("type", want.type.sql, have.type.sql),
        ("not null", want.not_null, have.not_null),
        (
            "expression" if want.generated or have.generated else "default",
            normalize.expression(want.default),
            normalize.expression(have.default),
        ),
        ("identity", want.identity or None, have.identity or None),
        ("generated", want.generated or None, have.generated or None),
        ("collation", want.collation, have.collation),
    )


def _constraint_differences(
    table: TableName, want: Sequence[Constraint], have: Sequence[Constraint]
) -> list[Difference]:
    # NOT NULL is a column fact on every version; PostgreSQL 18 also lists it as a
    # constraint (contype 'n'), which older servers cannot match.
    def rule(c: Constraint) -> str:
        return f"{c.kind}: {normalize.constraint_definition(c.definition)}"

    out = []
    for name, c_want, c_have in _match(
        [c for c in want if c.kind != "not null"],
        [c for c in have if c.kind != "not null"],
        definition=rule,
    ):
        qualified = f"{table}.{name}"
        if c_want is None or c_have is None:
            fix = (
                repair.add_constraint(table, c_want)
                if c_want
                else repair.drop_constraint(table, c_have)  # type: ignore[arg-type]
            )
            out.append(
                Difference(
                    "constraint",
                    qualified,
                    _present(c_want, _rule_text),
                    _present(c_have, _rule_text),
                    fix,
                )
            )
            continue
        facts = _facts(
            ("definition", rule(c_want), rule(c_have)),
            ("validated", c_want.validated, c_have.validated),
            ("enforced", c_want.enforced, c_have.enforced),
            ("deferrable", c_want.deferrable, c_have.deferrable),
            ("initially deferred", c_want.initially_deferred, c_have.initially_deferred),
            ("nulls not distinct", c_want.nulls_not_distinct, c_have.nulls_not_distinct),
            ("name", c_want.name, c_have.name) if not _both_generated(c_want, c_have) else None,
        )
        if facts:
            fix = repair.constraint_facts(table, c_want, c_have)
            out.append(Difference("constraint", qualified, *facts, fix))
    return out


def _index_differences(
    table: TableName, want: Sequence[Index], have: Sequence[Index]
) -> list[Difference]:
    out = []
    for name, i_want, i_have in _match(
        want, have, definition=lambda i: normalize.index_definition(i.definition)
    ):
        # An index that backs a constraint on both sides is the constraint's business.
        if i_want is not None and i_have is not None and i_want.constraint and i_have.constraint:
            continue
        if i_want is not None and i_have is None and i_want.constraint is not None:
            continue  # reported once, as the missing constraint
        if i_have is not None and i_want is None and i_have.constraint is not None:
            continue  # reported once, as the extra constraint
        qualified = f"{table}.{name}"
        if i_want is None or i_have is None:
            fix = (
                repair.create_index(i_want) if i_want else repair.drop_index(table.schema, i_have)  # type: ignore[arg-type]
            )
            out.append(
                Difference(
                    "index",
                    qualified,
                    _present(i_want, _index_text),
                    _present(i_have, _index_text),
                    fix,
                )
            )
            continue
        facts = _facts(
            (
                "definition",
                normalize.index_definition(i_want.definition),
                normalize.index_definition(i_have.definition),
            ),
            ("valid", i_want.valid, i_have.valid),
            ("ready", i_want.ready, i_have.ready),
            ("name", i_want.name, i_have.name) if not _both_generated(i_want, i_have) else None,
        )
        if facts:
            fix = repair.index_facts(table.schema, i_want, i_have)
            out.append(Difference("index", qualified, *facts, fix))
    return out


def _trigger_differences(
    table: TableName, want: Sequence[Trigger], have: Sequence[Trigger]
) -> list[Difference]:
    out = []
    for name, t_want, t_have in _pair(want, have, key=lambda t: t.name):
        qualified = f"{table}.{name}"
        if t_want is None or t_have is None:
            fix = (
                repair.create_trigger(t_want) if t_want else repair.drop_trigger(table, t_have)  # type: ignore[arg-type]
            )
            out.append(
                Difference(
                    "trigger",
                    qualified,
                    _present(t_want, _trigger_text),
                    _present(t_have, _trigger_text),
                    fix,
                )
            )
            continue
        facts = _facts(
            (
                "definition",
                normalize.trigger_definition(t_want.definition),
                normalize.trigger_definition(t_have.definition),
            ),
            ("enabled", t_want.enabled, t_have.enabled),
        )
        if facts:
            fix = repair.trigger_facts(table, t_want, t_have)
            out.append(Difference("trigger", qualified, *facts, fix))
    return out


# --- schema-wide objects --------------------------------------------------------------------


def _enum_differences(expected: Catalog, found: Catalog) -> list[Difference]:
    out = []
    for name in sorted(expected.enums.keys() | found.enums.keys()):
        want, have = expected.enums.get(name), found.enums.get(name)
        if want != have:
            fix = repair.enum_repair(name, want, have)
            out.append(Difference("enum", name, _labels(want), _labels(have), fix))
    return out


def _domain_differences(expected: Catalog, found: Catalog) -> list[Difference]:
    out = []
    for name, want, have in _pair(expected.domains, found.domains, key=lambda d: d.name):
        if want is None or have is None:
            out.append(
                Difference(
                    "domain",
                    name,
                    ABSENT if want is None else f"over {want.base}",
                    ABSENT if have is None else f"over {have.base}",
                    repair.domain_repair(want, have),
                )
            )
            continue
        facts = _facts(
            ("base type", want.base, have.base),
            ("not null", want.not_null, have.not_null),
            ("default", normalize.expression(want.default), normalize.expression(have.default)),
            (
                "checks",
                "; ".join(normalize.constraint_definition(c) for c in want.checks) or None,
                "; ".join(normalize.constraint_definition(c) for c in have.checks) or None,
            ),
        )
        if facts:
            out.append(Difference("domain", name, *facts, repair.domain_repair(want, have)))
    return out


def _extension_differences(expected: Catalog, found: Catalog) -> list[Difference]:
    # Extensions are database-wide: one the target has beyond ours counts only if it
    # lives in a verified schema (a monitoring extension elsewhere is not drift).
    out = []
    want, have = expected.extension_schemas, found.extension_schemas
    for name in sorted(want.keys() | have.keys()):
        fix = repair.extension_repair(name, want.get(name), have.get(name))
        if name in want and name not in have:
            out.append(Difference("extension", name, f"installed in {want[name]}", ABSENT, fix))
        elif name in have and name not in want:
            if have[name] in found.schemas:
                out.append(Difference("extension", name, ABSENT, f"installed in {have[name]}", fix))
        elif want[name] != have[name]:
            out.append(
                Difference(
                    "extension",
                    name,
                    f"installed in {want[name]}",
                    f"installed in {have[name]}",
                    fix,
                )
            )
    return out


# --- helpers --------------------------------------------------------------------------------

_T = TypeVar("_T")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_N = TypeVar("_N", bound=_Named)


def _pair(
    want: Iterable[_T], have: Iterable[_T], *, key: Callable[[_T], str]
) -> list[tuple[str, _T | None, _T | None]]:
    """Pair objects by key: (key, expected or None, found or None), in key order."""
    wanted = {key(o): o for o in want}
    had = {key(o): o for o in have}
    return [(k, wanted.get(k), had.get(k)) for k in sorted(wanted.keys() | had.keys())]


def _match(
    want: Sequence[_N], have: Sequence[_N], *, definition: Callable[[_N], str]
) -> list[tuple[str, _N | None, _N | None]]:
    """Pair by name, then pair the leftovers that have the same definition.

    The second pass is what makes names PostgreSQL chose itself (``t_c_check1``) or a
    hand-renamed index compare as the same object; the name difference is then reported
    only when it is not a made-up name on both sides.
    """
    pairs = _pair(want, have, key=lambda o: o.name)
    matched = [p for p in pairs if p[1] is not None and p[2] is not None]
    only_want = [p[1] for p in pairs if p[2] is None and p[1] is not None]
    only_have = [p[2] for p in pairs if p[1] is None and p[2] is not None]
    for w in only_want:
        twin = next((h for h in only_have if definition(h) == definition(w)), None)
        if twin is None:
            matched.append((w.name, w, None))
        else:
            only_have.remove(twin)
            matched.append((w.name, w, twin))
    matched.extend((h.name, None, h) for h in only_have)
    return sorted(matched, key=lambda p: p[0])


def _both_generated(want: _Named, have: _Named) -> bool:
    return want.name == have.name or (
        normalize.looks_generated(want.name) and normalize.looks_generated(have.name)
    )


def _facts(*facts: tuple[str, object, object] | None) -> tuple[str, str] | None:
    """Return ``(expected, found)`` texts of the facts that differ, or None if none does."""
    differing = [f for f in facts if f is not None and f[1] != f[2]]
    if not differing:
        return None
    return (
        "; ".join(f"{label} {_show(want)}" for label, want, _ in differing),
        "; ".join(f"{label} {_show(have)}" for label, _, have in differing),
    )


def _show(value: object) -> str:
    if value is None:
        return "none"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _present(obj: _T | None, summary: Callable[[_T], str]) -> str:
    return ABSENT if obj is None else f"present: {summary(obj)}"


def _table_summary(table: Table) -> str:
    names = ", ".join(column.name for column in table.columns)
    return f"{table.kind} with {len(table.columns)} columns ({names})"


def _column_summary(column: Column) -> str:
    text = column.type.sql + (" NOT NULL" if column.not_null else "")
    if column.default is not None:
        text += f" DEFAULT {normalize.expression(column.default)}"
    return text


def _rule_text(constraint: Constraint) -> str:
    text = normalize.constraint_definition(constraint.definition)
    return text + ("" if constraint.validated else " NOT VALID")


def _index_text(index: Index) -> str:
    text = normalize.index_definition(index.definition)
    return text + ("" if index.valid else " (INVALID)")


def _trigger_text(trigger: Trigger) -> str:
    return normalize.trigger_definition(trigger.definition) + (
        "" if trigger.enabled else " (DISABLED)"
    )


def _labels(labels: tuple[str, ...] | None) -> str:
    return ABSENT if labels is None else "(" + ", ".join(repr(label) for label in labels) + ")"
