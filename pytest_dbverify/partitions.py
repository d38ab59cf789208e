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

from pytest_dbverify.catalog import ColumnType, Table

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
    columns = table.partition_columns
    if table.kind != "partitioned table" or not columns or None in columns:
        return []
    choices: list[dict[str, Any]] = []
    for bound in table.partition_bounds:
        if range_bound := _RANGE.fullmatch(bound):
            lower = _literals(range_bound["lower"])
            if not lower or lower[0] is _OPEN:
                continue  # FROM (MINVALUE): no value is its lower bound
            choices.append(
                {
                    name: _load(text, table.column(name).type)
                    for name, text in zip(columns, lower, strict=False)
                    if name is not None and text is not _OPEN
                }
            )
        elif list_bound := _LIST.fullmatch(bound):
            name = columns[0]
            assert name is not None
            choices.extend(
                {name: _load(text, table.column(name).type)}
                for text in _literals(list_bound["values"])
            )
        else:
            return []  # DEFAULT, or hash partitioning: every key has a home
    return choices


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
