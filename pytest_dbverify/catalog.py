"""What the catalog says: plain frozen dataclasses, no pytest in here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

MIN_SERVER_VERSION_NUM = 130000

_TABLES = """
SELECT n.nspname, c.relname
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)
 ORDER BY n.nspname, c.relname
"""


def minimum_version_ok(version_num: int) -> bool:
    """Return True for PostgreSQL 13 or newer (``server_version_num``), the oldest supported."""
    return version_num >= MIN_SERVER_VERSION_NUM


@dataclass(frozen=True, order=True)
class TableName:
    """A table's schema-qualified name."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"

    def matches(self, pattern: str) -> bool:
        """Return True if ``pattern`` names this table, as ``schema.table`` or ``table``."""
        return pattern in (self.name, str(self))


def list_tables(
    conn: psycopg.Connection, schemas: Sequence[str], exclude: Sequence[str] = ()
) -> list[TableName]:
    """Return the ordinary and partitioned tables of ``schemas``, less ``exclude``."""
    rows = conn.execute(_TABLES, [list(schemas)]).fetchall()
    tables = [TableName(schema, name) for schema, name in rows]
    return [table for table in tables if not any(table.matches(p) for p in exclude)]
