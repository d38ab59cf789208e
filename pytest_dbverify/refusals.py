"""Why a property check's rows were refused, said as a skip's reason that helps.

A check whose every example the database rejected shows nothing about the schema: it is
skipped, and its reason names what PostgreSQL refused the rows by (the table, the
column, the constraint, as the error names them), whether that table is the check's own
or a parent it needs, and the ``register_column`` line that would let the generator
make such rows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from pytest_dbverify.catalog import Catalog, Table, TableName
from pytest_dbverify.plans import Rejected, raised_by_function, setting_missing
from pytest_dbverify.strategies import qualified_column_name


@dataclass(frozen=True)
class Refusal:
    """One reason examples were rejected: the database's error, or the check's words."""

    reason: str  # the error's first line, or why the check drew again
    sqlstate: str | None = None
    error: str = ""  # the error's class name, CheckViolation
    table: TableName | None = None
    column: str | None = None
    constraint: str | None = None
    relation: str | None = None  # the table the message names, when the error names none
    function: str | None = None  # the function whose RAISE refused the row (a trigger's)
    setting: str | None = None  # the custom setting the session lacks

    @classmethod
    def of(cls, rejected: Rejected) -> Refusal:
        """Return the refusal a rejected example carries."""
        error = rejected.error
        if error is None:
            return cls(str(rejected))
        diag = error.diag
        table = None
        if diag.schema_name and diag.table_name:
            table = TableName(diag.schema_name, diag.table_name)
        text = (diag.message_primary or str(error)).strip()
        relation = _RELATION.search(text) if table is None else None
        return cls(
            text.splitlines()[0] if text else type(error).__name__,
            error.sqlstate,
            type(error).__name__,
            table,
            diag.column_name,
            diag.constraint_name,
            relation=relation["name"] if relation else None,
            function=raised_by_function(error),
            setting=setting_missing(error),
        )


_SETTING_READ = re.compile(r"current_setting\('([^']+)'")
# Row security's and a rule's errors name the table only in their text.
_RELATION = re.compile(r'(?:for table|on relation) "(?P<name>[^"]+)"')


def unmade(catalog: Catalog, refusals: Counter[Refusal], table: Table | None) -> str:
    """Return why no example was accepted, and what would help, for a skip's reason."""
    total = sum(refusals.values())
    if not total:
        return (
            "no example reached the database (the generator could not draw values its "
            "strategies and the CHECKs both allow): register a strategy for the columns "
            "involved (pytest_dbverify.strategies.register_column)"
        )
    # The database's refusals first: they name the rule; the check's own come after.
    refusal, count = max(refusals.items(), key=lambda item: (item[0].sqlstate is not None, item[1]))
    if refusal.sqlstate is None:
        return f"no example was accepted ({count} of {total} drawn again: {refusal.reason})"
    share = f"all {total}" if count == total else f"{count} of {total}"
    # The constraint's definition says more than its error message, which repeats it.
    said = _where(catalog, refusal) + ("" if refusal.constraint else f": {refusal.reason}")
    text = (
        f"no row could be made: PostgreSQL refused {share} examples "
        f"({refusal.error} {refusal.sqlstate}){said}"
    )
    if table is not None and refusal.table is not None and refusal.table != table.name:
        routed = any(p.name == refusal.table for p in catalog.partitions(table.name))
        text += (
            f" (its partition {refusal.table})"
            if routed
            else f" ({table.name} needs a row of {refusal.table}, as a parent)"
        )
    return text + (_not_a_constraint(catalog, refusal) or _hint(catalog, refusal))


def _not_a_constraint(catalog: Catalog, refusal: Refusal) -> str:
    """Return what refused the rows and what would help, for a refusal by no constraint.

    A trigger's RAISE, a row-level security policy, a setting the session lacks, a rule
    that rewrites INSERT: the database did what its schema says, to rows it does not want.
    """
    if refusal.function is not None:
        triggers = _triggers_of(catalog, refusal.function)
        by = f"trigger {triggers}" if triggers else "a trigger"
        return (
            f"; raised by {by} (function {refusal.function}): a business rule, not a "
            "constraint; register strategies for the columns it reads in conftest.py "
            "(pytest_dbverify.strategies.register_column) with values it accepts"
        )
    if refusal.setting is not None:
        return (
            f"; a column default or policy reads the setting {refusal.setting}, which the "
            "verifying session lacks: give it as the app does, in the URL's options "
            f"(?options=-c%20{refusal.setting}%3D<value>)"
        )
    relation = _named(catalog, refusal.relation)
    if refusal.sqlstate == "42501" and relation is not None:
        policies = "; ".join(relation.policies) or "none"
        read = dict.fromkeys(_SETTING_READ.findall(policies)) or {"app.setting": None}
        options = "%20".join(f"-c%20{name}%3D<value>" for name in read)
        return (
            f"; row-level security on {relation.name} (policies: {policies}) refuses these "
            "rows of the verifying role: a row it refuses cannot show the table's "
            f"constraints; set what the policies read in the URL's options (?options={options}), "
            "as the app does, or verify as a role they admit"
        )
    if refusal.reason.startswith("no partition of relation") and refusal.table is not None:
        return _no_partition(catalog, refusal.table)
    if refusal.sqlstate == "0A000" and relation is not None and relation.insert_rules:
        return (
            f"; {relation.name} has DO INSTEAD rules on INSERT "
            f"({', '.join(relation.insert_rules)}): an INSERT there is rewritten, so no row "
            "of it can be written and read back"
        )
    return ""


def _no_partition(catalog: Catalog, name: TableName) -> str:
    """Return why no partition of ``name`` took the rows, and what would help."""
    table = _table(catalog, name)
    children = catalog.children(name)
    if table is None or not children:
        return (
            f"; {name} has no partition: no row can be stored in it; create one "
            f"(CREATE TABLE ... PARTITION OF {name} FOR VALUES ...) or a DEFAULT partition"
        )
    bounds = ", ".join(f"{c.name.name} {c.partition_bound}" for c in children)
    return (
        f"; rows are drawn within its partitions' bounds ({table.partition_key}: {bounds}), "
        "and none of them took these: create the partition they need, or a DEFAULT one"
    )


def _triggers_of(catalog: Catalog, function: str) -> str:
    """Return ``name on table, ...`` for the triggers that run ``function``."""
    unquoted = function.replace('"', "")
    return ", ".join(
        f"{trigger.name} on {table.name}"
        for table in catalog.tables
        if table.partition_of is None
        for trigger in table.triggers
        if unquoted in (trigger.function, trigger.function.split(".", 1)[-1])
    )


def _named(catalog: Catalog, name: str | None) -> Table | None:
    """Return the table an error's text names (unqualified: the first of that name)."""
    return next((t for t in catalog.tables if t.name.name == name), None)


def _where(catalog: Catalog, refusal: Refusal) -> str:
    """Return `` on table.column by constraint definition``, as far as the error says."""
    if refusal.table is None:
        return f" by {refusal.constraint}" if refusal.constraint else ""
    columns = _columns(catalog, refusal)
    text = f" on {refusal.table}"
    if len(columns) == 1:
        text += f".{columns[0]}"
    elif columns:
        text += f" ({', '.join(columns)})"
    if refusal.constraint:
        definition = _definition(catalog, refusal)
        text += f" by {refusal.constraint}" + (f" {definition}" if definition else "")
    return text


def _hint(catalog: Catalog, refusal: Refusal) -> str:
    """Return the ``register_column`` line for the column the refusal names."""
    columns = _columns(catalog, refusal)
    if refusal.table is None or not columns:
        return (
            "; if the generator cannot see what it needs, register a strategy for the "
            "columns involved in conftest.py (pytest_dbverify.strategies.register_column)"
        )
    column = columns[0]
    name = qualified_column_name(refusal.table, column)
    strategy = "st.emails()" if "email" in column.lower() else "st.sampled_from([...])"
    accepted = f" with values {refusal.constraint} accepts" if refusal.constraint else ""
    return (
        f"; register a strategy{accepted} in conftest.py: "
        f"pytest_dbverify.strategies.register_column({name!r}, {strategy})"
    )


def _table(catalog: Catalog, name: TableName | None) -> Table | None:
    if name is None:
        return None
    try:
        return catalog.table(name)
    except KeyError:
        return None


def _columns(catalog: Catalog, refusal: Refusal) -> list[str]:
    """Return the columns the refusal is about: the error's, or its constraint's."""
    if refusal.column:
        return [refusal.column]
    table = _table(catalog, refusal.table)
    if table is None or not refusal.constraint:
        return []
    for constraint in table.constraints:
        if constraint.name == refusal.constraint:
            return list(constraint.columns)
    for index in table.indexes:
        if index.name == refusal.constraint:
            named = [c for c in index.columns if c is not None]
            expressions = " ".join(e for e in index.expressions if e)
            return named + [c for c in table.mentioned(expressions) if c not in named]
    return []


def _definition(catalog: Catalog, refusal: Refusal) -> str:
    table = _table(catalog, refusal.table)
    if table is None:
        return ""
    for constraint in table.constraints:
        if constraint.name == refusal.constraint:
            return constraint.definition
    return ""
