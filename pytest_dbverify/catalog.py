"""What the catalog says: plain frozen dataclasses, and the queries that fill them.

The catalog is the hub of the verifier: checks and strategies consume these objects,
and nothing in here knows about pytest. ``load_catalog`` reads a whole schema in a few
queries (one per kind of object, not one per table); the SQL lives in ``sql/*.sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import psycopg

MIN_SERVER_VERSION_NUM = 130000

_TABLES = """
SELECT n.nspname, c.relname
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)
 ORDER BY n.nspname, c.relname
"""

ConstraintKind = Literal["primary key", "unique", "foreign key", "check", "exclusion", "not null"]
FkAction = Literal["no action", "restrict", "cascade", "set null", "set default"]
FkMatch = Literal["simple", "full", "partial"]
Identity = Literal["", "always", "by default"]
Generated = Literal["", "stored", "virtual"]


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


@dataclass(frozen=True)
class ColumnType:
    """A column's type, with domains resolved to their base type.

    ``sql`` is ``format_type()``: usable as a cast target (``%s::numeric(10,2)``).
    ``base`` is the ``pg_type.typname`` of the innermost base type (domains unwrapped;
    for arrays, of the element type), e.g. ``int4``, ``numeric``, ``varchar``, ``mood``.
    """

    sql: str
    base: str
    base_schema: str
    category: str  # pg_type.typcategory of the base type: N, S, D, B, U, E, I, T, ...
    modifier: int  # atttypmod (or the domain's typtypmod); -1 when none
    array_dims: int = 0  # 0 for a scalar; element facts are in the other fields
    enum_values: tuple[str, ...] = ()
    domain: str | None = None  # schema-qualified domain name when the column is a domain
    domain_checks: tuple[str, ...] = ()  # the domain's CHECK expressions (on VALUE)
    domain_not_null: bool = False

    @property
    def is_array(self) -> bool:
        """Return True for an array type."""
        return self.array_dims > 0


@dataclass(frozen=True)
class Column:
    """One column of a table."""

    name: str
    position: int
    type: ColumnType
    not_null: bool
    default: str | None = None  # pg_get_expr of the default, e.g. "now()"
    identity: Identity = ""
    generated: Generated = ""
    collation: str | None = None

    @property
    def insertable(self) -> bool:
        """Return False when an INSERT may not name the column (identity ALWAYS, generated)."""
        return self.identity != "always" and not self.generated

    @property
    def has_default(self) -> bool:
        """Return True when an INSERT may leave the column out and still get a value."""
        return self.default is not None or bool(self.identity) or bool(self.generated)


@dataclass(frozen=True)
class Constraint:
    """A table constraint; the foreign-key fields are empty for other kinds."""

    name: str
    kind: ConstraintKind
    columns: tuple[str, ...]
    definition: str  # pg_get_constraintdef
    deferrable: bool = False
    initially_deferred: bool = False
    validated: bool = True
    enforced: bool = True  # PostgreSQL 18: NOT ENFORCED
    expression: str | None = None  # CHECK: pg_get_expr(conbin)
    index: str | None = None  # the index backing a primary key / unique / exclusion
    nulls_not_distinct: bool = False  # PostgreSQL 15+
    ref_table: TableName | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: FkAction = "no action"
    on_update: FkAction = "no action"
    match: FkMatch = "simple"


@dataclass(frozen=True)
class Index:
    """An index of a table."""

    name: str
    columns: tuple[str | None, ...]  # key columns; None where the key is an expression
    expressions: tuple[str | None, ...]  # per key: the expression text, None for a column
    definition: str  # pg_get_indexdef
    method: str  # btree, hash, gist, gin, brin, spgist
    unique: bool
    primary: bool
    predicate: str | None  # partial index WHERE clause, pg_get_expr
    valid: bool
    ready: bool
    nulls_not_distinct: bool = False
    include: tuple[str, ...] = ()  # INCLUDE columns
    constraint: str | None = None  # the constraint it backs, if any


@dataclass(frozen=True)
class Trigger:
    """A user trigger (internal FK triggers are not listed)."""

    name: str
    timing: Literal["before", "after", "instead of"]
    events: tuple[str, ...]  # insert, update, delete, truncate
    row_level: bool
    enabled: bool  # tgenabled != 'D'
    function: str  # schema-qualified
    definition: str  # pg_get_triggerdef


@dataclass(frozen=True)
class Table:
    """A table with everything the checks need to know about it."""

    name: TableName
    kind: Literal["table", "partitioned table"]
    columns: tuple[Column, ...]
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    partition_of: TableName | None = None  # the parent, for a partition
    partition_bound: str | None = None  # FOR VALUES ... of a partition
    partition_key: str | None = None  # PARTITION BY ... of a partitioned table
    has_rules: bool = False  # any rewrite rule (DO INSTEAD ...) on the table
    row_security: bool = False

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def primary_key(self) -> Constraint | None:
        """Return the primary key constraint, if any."""
        return next((c for c in self.constraints if c.kind == "primary key"), None)

    @property
    def foreign_keys(self) -> tuple[Constraint, ...]:
        """Return the foreign keys, in name order."""
        return tuple(c for c in self.constraints if c.kind == "foreign key")

    @property
    def checks(self) -> tuple[Constraint, ...]:
        """Return the CHECK constraints, in name order."""
        return tuple(c for c in self.constraints if c.kind == "check")

    @property
    def unique_constraints(self) -> tuple[Constraint, ...]:
        """Return primary key and unique constraints."""
        return tuple(c for c in self.constraints if c.kind in ("primary key", "unique"))


@dataclass(frozen=True)
class Catalog:
    """A snapshot of the verified schemas of one database."""

    server_version_num: int
    schemas: tuple[str, ...]
    tables: tuple[Table, ...]
    extensions: tuple[str, ...] = ()
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)  # qualified name: labels

    def table(self, name: TableName | str) -> Table:
        """Return the table called ``name`` (``schema.table`` or a TableName)."""
        for table in self.tables:
            if table.name == name or str(table.name) == name:
                return table
        raise KeyError(f"no table {name} in schemas {', '.join(self.schemas)}")


def list_tables(
    conn: psycopg.Connection, schemas: Sequence[str], exclude: Sequence[str] = ()
) -> list[TableName]:
    """Return the ordinary and partitioned tables of ``schemas``, less ``exclude``."""
    rows = conn.execute(_TABLES, [list(schemas)]).fetchall()
    tables = [TableName(schema, name) for schema, name in rows]
    return [table for table in tables if not any(table.matches(p) for p in exclude)]
