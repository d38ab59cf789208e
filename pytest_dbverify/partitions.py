"""Which rows a partitioned table can store: key values read from its partitions' bounds.

A row whose partition key falls in no partition is refused (23514), and the type's
strategies know nothing of the bounds: a date drawn from four millennia rarely lands in
``FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')``. The bounds themselves name values
that fit: a range partition's lower bound (inclusive) and every value of a list
partition. Where any value fits (a DEFAULT partition, hash partitioning) or the key is an
expression, nothing is narrowed.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.pq import Format

from pytest_dbverify.catalog import Catalog, ColumnType, Table

_RANGE = re.compile(r"FOR VALUES FROM \((?P<lower>.*)\) TO \((?P<upper>.*)\)", re.DOTALL)
_LIST = re.compile(r"FOR VALUES IN \((?P<values>.*)\)", re.DOTALL)
# A literal of a bound: 'quoted text' (with '' inside), or a bare word / number.
_LITERAL = re.compile(r"'(?:[^']|'')*'|[^,\s]+")
_OPEN = object()  # MINVALUE / MAXVALUE: the bound leaves the column open


def partition_key_values(table: Table) -> list[dict[str, Any]]:
    """Return key values that some partition of ``table`` accepts, one dict per choice.

    Each dict maps key columns to Python values (a column a bound leaves open, by
    ``MINVALUE``/``MAXVALUE``, is absent). The list is empty when ``table`` is not
    partitioned or any value would do.
    """
    if table.kind != "partitioned table":
        return []
    choices: list[dict[str, Any]] = []
    for bound in table.partition_bounds:
        values = bound_values(table, bound)
        if values is None:
            return []  # DEFAULT, hash partitioning, an expression key: every key has a home
        choices.extend(values)
    return choices


def bound_values(parent: Table, bound: str) -> list[dict[str, Any]] | None:
    """Return key values of ``parent``'s key that the partition of ``bound`` accepts.

    None when the bound does not narrow them (DEFAULT, hash, or a key that is an
    expression); an empty list when no value can be read from it (FROM (MINVALUE)).
    """
    columns = parent.partition_columns
    if not columns or None in columns:
        return None
    if range_bound := _RANGE.fullmatch(bound):
        lower = _literals(range_bound["lower"])
        if not lower or lower[0] is _OPEN:
            return []  # FROM (MINVALUE): no value is its lower bound
        return [
            {
                name: _load(text, parent.column(name).type)
                for name, text in zip(columns, lower, strict=False)
                if name is not None and text is not _OPEN
            }
        ]
    if list_bound := _LIST.fullmatch(bound):
        name = columns[0]
        assert name is not None
        return [
            {name: _load(text, parent.column(name).type)}
            for text in _literals(list_bound["values"])
        ]
    return None


def partition_routes(catalog: Catalog, table: Table) -> list[dict[str, Any]]:
    """Return key values that take a row of ``table`` to a leaf partition, one per choice.

    Every level counts: the bounds of ``table`` itself and of the partitions above it
    (a row inserted into a partition must fit it), and of each level below it down to
    a leaf (a row routed to a partition that is partitioned again needs a home there
    too). A partitioned table with no leaf has no route; a table outside any partition
    tree gets an empty list (nothing to narrow), and so does a tree whose bounds say
    nothing (hash, DEFAULT).
    """
    if table.kind != "partitioned table" and table.partition_of is None:
        return []
    routes = [{**up, **down} for up in _above(catalog, table) for down in _below(catalog, table)]
    return [] if routes == [{}] else routes[:_MAX_ROUTES]


_MAX_ROUTES = 1000


def _above(catalog: Catalog, table: Table) -> list[dict[str, Any]]:
    """Return the key values ``table``'s own bound and its ancestors' allow."""
    if table.partition_of is None or table.partition_bound is None:
        return [{}]
    try:
        parent = catalog.table(table.partition_of)
    except KeyError:
        return [{}]
    here = bound_values(parent, table.partition_bound)
    return [{**up, **value} for up in _above(catalog, parent) for value in here or [{}]]


def _below(catalog: Catalog, table: Table) -> list[dict[str, Any]]:
    """Return the key values that reach a leaf partition under ``table`` (itself, if one)."""
    if table.kind != "partitioned table":
        return [{}]
    routes: list[dict[str, Any]] = []
    for child in catalog.children(table.name):
        here = bound_values(table, child.partition_bound or "")
        below = _below(catalog, child)
        routes += [
            {**value, **down} for value in ([{}] if here is None else here) for down in below
        ]
        if len(routes) >= _MAX_ROUTES:
            break
    return routes


def _literals(text: str) -> list[Any]:
    """Return the literals of a bound's list: text, None for NULL, or ``_OPEN``."""
    found: list[Any] = []
    for token in _LITERAL.findall(text):
        if token.startswith("'"):
            found.append(token[1:-1].replace("''", "'"))
        elif token.upper() == "NULL":
            found.append(None)
        elif token.upper() in ("MINVALUE", "MAXVALUE"):
            found.append(_OPEN)
        else:
            found.append(token)  # a number or a boolean, unquoted
    return found


def _load(text: str | None, ctype: ColumnType) -> Any:
    """Return a bound's literal as the Python value psycopg reads for the column's type."""
    if text is None:
        return None
    info = psycopg.adapters.types.get(ctype.base) if ctype.base_schema == "pg_catalog" else None
    if info is None:
        return text  # an enum label, or a type psycopg sends as text anyway
    loader = psycopg.adapters.get_loader(info.oid, Format.TEXT)
    return loader(info.oid).load(text.encode()) if loader is not None else text
