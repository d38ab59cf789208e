"""What the catalog says: plain frozen dataclasses, and the queries that fill them.

The catalog is the hub of the verifier: checks and strategies consume these objects,
and nothing in here knows about pytest. ``load_catalog`` reads a whole schema in a few
queries (one per kind of object, not one per table); the SQL lives in ``sql/*.sql``.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

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
    # Of a partitioned table: its key's columns (None for an expression), and the
    # FOR VALUES ... of each of its partitions, which say what rows it can store.
    partition_columns: tuple[str | None, ...] = ()
    partition_bounds: tuple[str, ...] = ()
    has_rules: bool = False  # any rewrite rule (DO INSTEAD ...) on the table
    row_security: bool = False
    policies: tuple[str, ...] = ()  # "name USING (...) WITH CHECK (...)", by name
    insert_rules: tuple[str, ...] = ()  # DO INSTEAD rules ON INSERT, by name

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        # Tables key the generators' caches, looked up at every draw: hashed once.
        return hash(tuple(getattr(self, f.name) for f in fields(self)))

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"{self.name} has no column {name!r}") from None

    @functools.cached_property
    def _columns(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}

    def mentioned(self, expression: str) -> list[str]:
        """Return the columns an expression (a predicate, an index key) names, quoted or bare."""
        return list(_mentioned(self, expression))

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
class Domain:
    """A domain of the verified schemas (whether or not a column uses it)."""

    name: str  # schema-qualified, unquoted
    base: str  # format_type of the base type, e.g. "character varying(8)"
    not_null: bool
    default: str | None
    checks: tuple[str, ...]  # "name CHECK (...)" per constraint, in name order


@dataclass(frozen=True)
class Catalog:
    """A snapshot of the verified schemas of one database."""

    server_version_num: int
    schemas: tuple[str, ...]
    tables: tuple[Table, ...]
    extensions: tuple[str, ...] = ()
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)  # qualified name: labels
    domains: tuple[Domain, ...] = ()  # every domain of the verified schemas, by name
    extension_schemas: dict[str, str] = field(default_factory=dict)  # extension: its schema

    def table(self, name: TableName | str) -> Table:
        """Return the table called ``name`` (``schema.table`` or a TableName)."""
        found = (self._by_name if isinstance(name, TableName) else self._by_text).get(name)
        if found is None:
            raise KeyError(f"no table {name} in schemas {', '.join(self.schemas)}")
        return found

    def partitions(self, parent: TableName) -> list[Table]:
        """Return the partitions of ``parent``, each followed by its own (depth first)."""
        found = []
        for table in self._children.get(parent, ()):
            found += [table, *self.partitions(table.name)]
        return found

    def children(self, parent: TableName) -> list[Table]:
        """Return the partitions directly under ``parent``."""
        return list(self._children.get(parent, ()))

    def partition_foreign_keys(self, table: Table) -> list[tuple[Table, Constraint]]:
        """Return the foreign keys declared on partitions of ``table``, not inherited.

        A foreign key added to one partition only (``ALTER TABLE part ADD FOREIGN KEY``)
        holds for the rows routed there: a row of ``table`` may have to meet it.
        """
        found = []
        for partition in self.partitions(table.name):
            assert partition.partition_of is not None
            parent = self.table(partition.partition_of)
            inherited = {_fk_key(fk) for fk in parent.foreign_keys}
            found += [
                (partition, fk) for fk in partition.foreign_keys if _fk_key(fk) not in inherited
            ]
        return found

    # Lookups by name, built once: checks ask for a table per item, and a scan of every
    # table per lookup made a run grow with the square of the schema's size.
    @functools.cached_property
    def _by_name(self) -> dict[TableName | str, Table]:
        return {table.name: table for table in self.tables}

    @functools.cached_property
    def _by_text(self) -> dict[TableName | str, Table]:
        by_text: dict[TableName | str, Table] = {}
        for table in self.tables:  # "a.b.c" may name two tables: the first, as a scan would
            by_text.setdefault(str(table.name), table)
        return by_text

    @functools.cached_property
    def _children(self) -> dict[TableName, list[Table]]:
        children: dict[TableName, list[Table]] = defaultdict(list)
        for table in self.tables:
            if table.partition_of is not None:
                children[table.partition_of].append(table)
        return children


def _fk_key(fk: Constraint) -> tuple[object, ...]:
    """Return what makes a partition's copy of its parent's foreign key the same key."""
    return fk.name, fk.columns, fk.ref_table, fk.ref_columns


def list_tables(
    conn: psycopg.Connection, schemas: Sequence[str], exclude: Sequence[str] = ()
) -> list[TableName]:
    """Return the ordinary and partitioned tables of ``schemas``, less ``exclude``."""
    rows = conn.execute(_TABLES, [list(schemas)]).fetchall()
    tables = [TableName(schema, name) for schema, name in rows]
    return [table for table in tables if not any(table.matches(p) for p in exclude)]


# --- load_catalog: the snapshot ---------------------------------------------------------
#
# Eight queries whatever the number of tables: tables first (they decide which relations
# are in the snapshot), then columns, types, constraints, indexes and triggers of exactly
# those relations (passed as an oid[]), then the installed extensions and the domains.
# The SQL lives in sql/<name>.sql; the few version differences are named fragments
# filled in here.

QUERY_NAMES = (
    "tables",
    "columns",
    "types",
    "constraints",
    "indexes",
    "triggers",
    "extensions",
    "domains",
)

_NULLS_NOT_DISTINCT_SINCE = 150000  # pg_index.indnullsnotdistinct
_PG18 = 180000  # pg_constraint.conenforced; NOT NULL constraints as contype 'n'

_CONSTRAINT_KINDS: dict[str, ConstraintKind] = {
    "p": "primary key",
    "u": "unique",
    "f": "foreign key",
    "c": "check",
    "x": "exclusion",
    "n": "not null",
}
_FK_ACTIONS: dict[str, FkAction] = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}
_FK_MATCHES: dict[str, FkMatch] = {"s": "simple", "f": "full", "p": "partial"}
_IDENTITIES: dict[str, Identity] = {"": "", "a": "always", "d": "by default"}
_GENERATED: dict[str, Generated] = {"": "", "s": "stored", "v": "virtual"}
_TABLE_KINDS: dict[str, Literal["table", "partitioned table"]] = {
    "r": "table",
    "p": "partitioned table",
}

# pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h).
_TRIGGER_ROW = 1
_TRIGGER_BEFORE = 2
_TRIGGER_INSTEAD = 64
_TRIGGER_EVENTS = ((4, "insert"), (16, "update"), (8, "delete"), (32, "truncate"))

_Row = dict[str, Any]


def constraint_contypes(server_version_num: int) -> list[str]:
    """Return the ``pg_constraint.contype`` values the snapshot reads on a server version.

    PostgreSQL 18 records NOT NULL as constraints of their own (contype ``n``); older
    versions only have ``pg_attribute.attnotnull``, which ``Column.not_null`` carries on
    every version, so no such rows are invented for them.
    """
    contypes = ["p", "u", "f", "c", "x"]
    if server_version_num >= _PG18:
        contypes.append("n")
    return contypes


def catalog_query(name: str, server_version_num: int) -> sql.Composed:
    """Return the catalog query ``sql/<name>.sql`` as it must run on a server version.

    Args:
        name: One of ``QUERY_NAMES``.
        server_version_num: The server's ``server_version_num`` (e.g. 150004).

    Raises:
        ValueError: ``name`` is not a catalog query.
    """
    if name not in QUERY_NAMES:
        raise ValueError(
            f"unknown catalog query {name!r}: expected one of {', '.join(QUERY_NAMES)}"
        )
    # Columns that do not exist on older servers are replaced by the value they would
    # have there, so one query text serves every version.
    fragments = {
        "enforced": sql.SQL("con.conenforced" if server_version_num >= _PG18 else "true"),
        "nulls_not_distinct": sql.SQL(
            "i.indnullsnotdistinct" if server_version_num >= _NULLS_NOT_DISTINCT_SINCE else "false"
        ),
    }
    return sql.SQL(_query_text(name)).format(**fragments)


@functools.cache
def _query_text(name: str) -> str:
    return (
        resources.files("pytest_dbverify")
        .joinpath("sql", f"{name}.sql")
        .read_text(encoding="utf-8")
    )


def load_catalog(
    conn: psycopg.Connection, schemas: Sequence[str], exclude_tables: Sequence[str] = ()
) -> Catalog:
    """Read the tables of ``schemas`` and everything the checks need to know about them.

    Eight queries (``QUERY_NAMES``) whatever the number of tables. They only read
    ``pg_catalog``; the connection's transaction state is left as the caller has it
    (nothing is committed or rolled back here).

    A partition is a table of its own in the snapshot, with the constraints, indexes and
    triggers PostgreSQL copied onto it from its parent (they are what enforce a write made
    straight into the partition). Consumers that want each rule once skip tables whose
    ``partition_of`` is set. The hidden per-partition copies of a foreign key that
    REFERENCES a partitioned table are left out: they are implementation details of the
    one constraint the user declared, on the same table, with generated names.

    Qualified names (``ColumnType.domain``, ``Trigger.function``, the keys of
    ``Catalog.enums``) are ``schema.name`` unquoted, like ``str(TableName)``.

    Args:
        conn: A connection to the database to describe (PostgreSQL 13 or newer).
        schemas: The schemas to read, by exact name (``"public"``, ``"My Schema"``).
        exclude_tables: Tables to leave out, as ``schema.table`` or ``table``
            (``TableName.matches``). A partition is excluded only if it matches itself.

    Returns:
        The snapshot, tables sorted by schema and name.
    """
    version = conn.info.server_version
    schema_list = list(schemas)
    relations = [
        row
        for row in _fetch(conn, "tables", version, schemas=schema_list)
        if not any(TableName(row["schema"], row["name"]).matches(p) for p in exclude_tables)
    ]
    oids = [row["oid"] for row in relations]

    column_rows = _fetch(conn, "columns", version, tables=oids)
    type_oids = sorted({row["type_oid"] for row in column_rows})
    types = {
        row["oid"]: _PgType.from_row(row)
        for row in _fetch(conn, "types", version, types=type_oids, schemas=schema_list)
    }
    # Columns of the same type share one ColumnType: less to build, less to hold.
    column_types: dict[tuple[str, int, int], ColumnType] = {}
    columns = _by_table(_column(row, types, column_types) for row in column_rows)
    kinds = constraint_contypes(version)
    constraints = _by_table(
        _constraint(row) for row in _fetch(conn, "constraints", version, tables=oids, kinds=kinds)
    )
    indexes = _by_table(_index(row) for row in _fetch(conn, "indexes", version, tables=oids))
    triggers = _by_table(_trigger(row) for row in _fetch(conn, "triggers", version, tables=oids))
    extension_rows = _fetch(conn, "extensions", version)
    extensions = sorted(row["name"] for row in extension_rows)
    domains = [
        Domain(
            name=f"{row['schema']}.{row['name']}",
            base=row["base_sql"],
            not_null=row["not_null"],
            default=row["default"],
            checks=tuple(row["checks"]),
        )
        for row in _fetch(conn, "domains", version, schemas=schema_list)
    ]

    bounds: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in relations:
        if row["parent_name"] is not None:
            bounds[row["parent_schema"], row["parent_name"]].append(row["partition_bound"])
    tables = [
        _table(row, columns, constraints, indexes, triggers, bounds[row["schema"], row["name"]])
        for row in relations
    ]
    enums = {
        f"{t.schema}.{t.name}": t.labels
        for t in sorted(types.values(), key=lambda t: (t.schema, t.name))
        if t.kind == "e" and t.schema in schema_list
    }
    return Catalog(
        server_version_num=version,
        schemas=tuple(schema_list),
        tables=tuple(sorted(tables, key=lambda t: t.name)),
        extensions=tuple(extensions),
        enums=enums,
        domains=tuple(sorted(domains, key=lambda d: d.name)),
        extension_schemas={row["name"]: row["schema"] for row in extension_rows},
    )


def _table(
    row: _Row,
    columns: dict[int, list[Column]],
    constraints: dict[int, list[Constraint]],
    indexes: dict[int, list[Index]],
    triggers: dict[int, list[Trigger]],
    partition_bounds: list[str],
) -> Table:
    oid = row["oid"]
    parent = row["parent_name"]
    return Table(
        name=TableName(row["schema"], row["name"]),
        kind=_TABLE_KINDS[row["relkind"]],
        columns=tuple(sorted(columns.get(oid, []), key=lambda c: c.position)),
        # Sorted here rather than in SQL: Python's order does not depend on the
        # database's collation, so two servers give the same snapshot.
        constraints=tuple(sorted(constraints.get(oid, []), key=lambda c: c.name)),
        indexes=tuple(sorted(indexes.get(oid, []), key=lambda i: i.name)),
        triggers=tuple(sorted(triggers.get(oid, []), key=lambda t: t.name)),
        partition_of=TableName(row["parent_schema"], parent) if parent is not None else None,
        partition_bound=row["partition_bound"],
        partition_key=row["partition_key"],
        partition_columns=tuple(row["partition_columns"] or ()),
        partition_bounds=tuple(sorted(partition_bounds)),
        has_rules=row["has_rules"],
        row_security=row["row_security"],
        policies=tuple(sorted(row["policies"])),
        insert_rules=tuple(sorted(row["insert_rules"])),
    )


def _fetch(conn: psycopg.Connection, name: str, version: int, **params: object) -> list[_Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(catalog_query(name, version), params)
        return cur.fetchall()


_T = TypeVar("_T")


def _by_table(items: Iterable[tuple[int, _T]]) -> dict[int, list[_T]]:
    grouped: dict[int, list[_T]] = defaultdict(list)
    for table_oid, item in items:
        grouped[table_oid].append(item)
    return grouped


@dataclass(frozen=True)
class _PgType:
    """One ``pg_type`` row, as much of it as resolving a column's type needs."""

    oid: int
    schema: str
    name: str
    kind: str  # typtype: b base, d domain, e enum, r range, c composite, ...
    base_oid: int  # typbasetype, for a domain
    element_oid: int | None  # typelem, for a true array
    category: str
    typmod: int
    not_null: bool
    checks: tuple[str, ...]
    labels: tuple[str, ...]

    @classmethod
    def from_row(cls, row: _Row) -> _PgType:
        return cls(
            oid=row["oid"],
            schema=row["schema"],
            name=row["name"],
            kind=row["kind"],
            base_oid=row["base_oid"],
            element_oid=row["element_oid"],
            category=row["category"],
            typmod=row["typmod"],
            not_null=row["not_null"],
            checks=tuple(row["checks"]),
            labels=tuple(row["labels"]),
        )


def _column_type(
    type_sql: str, typmod: int, type_oid: int, types: dict[int, _PgType]
) -> ColumnType:
    """Unwrap domains and arrays down to the base type, collecting the domains' facts.

    The chain can be long: a domain over an array of a domain over a domain over a base
    type. Every domain met on the way contributes its CHECKs (outermost first) and NOT
    NULL, and the outermost one names the column's domain; for an array of a domain those
    facts are the elements'. Each array step adds a dimension (``attndims`` is not
    reliable: PostgreSQL does not enforce it), and the type at the end of the chain (the
    element's, for an array) gives the base, its category and enum labels.
    """
    domains: list[_PgType] = []
    array_dims = 0
    current = types[type_oid]
    while True:
        if current.kind == "d":
            domains.append(current)
            current = types[current.base_oid]
        elif current.element_oid is not None:
            array_dims += 1
            current = types[current.element_oid]
        else:
            break
    # Only the domain declared directly over the base type can carry a modifier
    # (CREATE DOMAIN d AS varchar(8)); a column of the domain has atttypmod -1.
    domain_typmods = [d.typmod for d in domains if d.typmod != -1]
    return ColumnType(
        sql=type_sql,
        base=current.name,
        base_schema=current.schema,
        category=current.category,
        modifier=typmod if typmod != -1 or not domain_typmods else domain_typmods[-1],
        array_dims=array_dims,
        enum_values=current.labels if current.kind == "e" else (),
        domain=f"{domains[0].schema}.{domains[0].name}" if domains else None,
        domain_checks=tuple(check for d in domains for check in d.checks),
        domain_not_null=any(d.not_null for d in domains),
    )


def _column(
    row: _Row, types: dict[int, _PgType], column_types: dict[tuple[str, int, int], ColumnType]
) -> tuple[int, Column]:
    key = (row["type_sql"], row["typmod"], row["type_oid"])
    column_type = column_types.get(key)
    if column_type is None:
        column_type = column_types[key] = _column_type(*key, types)
    return row["table_oid"], Column(
        name=row["name"],
        position=row["position"],
        type=column_type,
        not_null=row["not_null"],
        default=row["default"],
        identity=_IDENTITIES[row["identity"]],
        generated=_GENERATED[row["generated"]],
        collation=row["collation"],
    )


def _constraint(row: _Row) -> tuple[int, Constraint]:
    kind = _CONSTRAINT_KINDS[row["contype"]]
    fk = kind == "foreign key"
    return row["table_oid"], Constraint(
        name=row["name"],
        kind=kind,
        columns=tuple(row["columns"]),
        definition=row["definition"],
        deferrable=row["deferrable"],
        initially_deferred=row["initially_deferred"],
        validated=row["validated"],
        enforced=row["enforced"],
        expression=row["expression"],
        index=row["index"],
        nulls_not_distinct=row["nulls_not_distinct"],
        ref_table=TableName(row["ref_schema"], row["ref_name"]) if fk else None,
        ref_columns=tuple(row["ref_columns"]),
        # Other kinds have a blank confdeltype/confupdtype/confmatchtype.
        on_delete=_FK_ACTIONS[row["on_delete"]] if fk else "no action",
        on_update=_FK_ACTIONS[row["on_update"]] if fk else "no action",
        match=_FK_MATCHES[row["match"]] if fk else "simple",
    )


def _index(row: _Row) -> tuple[int, Index]:
    # "columns" lists the key columns, then the INCLUDE columns (never expressions).
    key_count = row["key_count"]
    return row["table_oid"], Index(
        name=row["name"],
        columns=tuple(row["columns"][:key_count]),
        expressions=tuple(row["expressions"]),
        definition=row["definition"],
        method=row["method"],
        unique=row["unique"],
        primary=row["primary"],
        predicate=row["predicate"],
        valid=row["valid"],
        ready=row["ready"],
        nulls_not_distinct=row["nulls_not_distinct"],
        include=tuple(row["columns"][key_count:]),
        constraint=row["constraint"],
    )


def _trigger(row: _Row) -> tuple[int, Trigger]:
    tgtype: int = row["tgtype"]
    timing: Literal["before", "after", "instead of"]
    if tgtype & _TRIGGER_BEFORE:
        timing = "before"
    elif tgtype & _TRIGGER_INSTEAD:
        timing = "instead of"
    else:
        timing = "after"
    return row["table_oid"], Trigger(
        name=row["name"],
        timing=timing,
        events=tuple(event for bit, event in _TRIGGER_EVENTS if tgtype & bit),
        row_level=bool(tgtype & _TRIGGER_ROW),
        enabled=row["enabled"],
        function=f"{row['function_schema']}.{row['function_name']}",
        definition=row["definition"],
    )


@functools.lru_cache(maxsize=4096)
def _mentioned(table: Table, expression: str) -> tuple[str, ...]:
    # Asked at every example of a partial or expression index: searched once.
    found = []
    for column in table.columns:
        quoted_name = '"' + column.name.replace('"', '""') + '"'
        if quoted_name in expression or re.search(
            rf"(?<![\w\"]){re.escape(column.name)}(?![\w\"])", expression
        ):
            found.append(column.name)
    return tuple(found)
