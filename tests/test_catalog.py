"""The catalog snapshot against real servers (PostgreSQL 18 embedded, 15 system).

tests/schemas/hard.sql holds the awkward cases (composite and cyclic keys, domains over
domains and arrays, partitions, exclusion constraints, odd identifiers...); the learning
schema checks a few facts of /work/shared/SCHEMA.md. Expectations are data, at the top.
Both servers must give the same snapshot, except where a version adds facts (NOT NULL
constraint rows on 18), which are asserted on that version only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import (
    QUERY_NAMES,
    Catalog,
    Column,
    Constraint,
    Table,
    TableName,
    catalog_query,
    constraint_contypes,
    load_catalog,
)
from pytest_dbverify.embedded import ServerInfo
from tests.conftest import Database, create_database, drop_database

HARD_SQL = Path(__file__).resolve().parent / "schemas" / "hard.sql"
SQL_DIR = Path(__file__).resolve().parent.parent / "pytest_dbverify" / "sql"

ORDER_ITEMS = "Order Items"
MOOD = ("sad", "meh", "ok", "very happy")  # 'meh' was added BEFORE 'ok'
EMAIL_CHECK = "(VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+$'::text)"
POSITIVE_CHECK = "(VALUE > 0)"
QUANTITY_CHECKS = ("((VALUE)::integer <= 1000)", POSITIVE_CHECK)  # outer domain first

HARD_TABLES = (  # sorted by name, as the snapshot sorts them (code point order)
    (ORDER_ITEMS, "table"),
    ("account", "table"),
    ("badge", "table"),
    ("bin", "table"),
    ("booking", "table"),
    ("customer", "table"),
    ("department", "table"),
    ("employee", "table"),
    ("member", "table"),
    ("profile", "table"),
    ("shipment", "partitioned table"),
    ("shipment_2024", "table"),
    ("shipment_2025", "table"),
    ("warehouse", "table"),
)

# (name, format_type, base, category, array_dims, not null, default) in attnum order.
SHIPMENT_COLUMNS = [
    ("id", "bigint", "int8", "N", 0, True, None),
    ("shipped_on", "date", "date", "D", 0, True, None),
    ("customer_id", "bigint", "int8", "N", 0, True, None),
    ("weight_kg", "numeric(10,2)", "numeric", "N", 0, False, None),
]
COLUMNS: dict[str, list[tuple[str, str, str, str, int, bool, str | None]]] = {
    ORDER_ITEMS: [
        ("LineNo", "smallint", "int2", "N", 0, True, None),
        ("select", "integer", "int4", "N", 0, True, None),
        ("naïve ☃", "text", "text", "S", 0, False, None),
        ('say "hi"', "text", "text", "S", 0, False, None),
        ("customer_public_id", "uuid", "uuid", "U", 0, True, None),
        ("shipment_id", "bigint", "int8", "N", 0, False, None),
        ("shipped_on", "date", "date", "D", 0, False, None),
        ("quantity", "hard.quantity", "int4", "N", 0, False, None),
        ("unit_price", "numeric(10,2)", "numeric", "N", 0, True, None),
        ("total", "numeric(12,2)", "numeric", "N", 0, False, "((quantity)::numeric * unit_price)"),
        ("tags", "hard.tag_list", "varchar", "S", 1, False, None),
        ("labels", "text[]", "text", "S", 1, True, "'{}'::text[]"),
        ("sizes", "integer[]", "int4", "N", 1, False, None),
        ("attributes", "jsonb", "jsonb", "U", 0, True, "'{}'::jsonb"),
        ("line code", "text", "text", "S", 0, True, None),
    ],
    "bin": [
        ("id", "integer", "int4", "N", 0, True, None),
        ("warehouse_region", "character(2)", "bpchar", "S", 0, True, None),
        ("warehouse_code", "hard.short_code", "varchar", "S", 0, True, None),
        ("label", "text", "text", "S", 0, True, None),
    ],
    "booking": [
        ("id", "bigint", "int8", "N", 0, True, None),
        ("room", "text", "text", "S", 0, True, None),
        ("during", "tstzrange", "tstzrange", "R", 0, True, None),
        ("status", "text", "text", "S", 0, True, "'tentative'::text"),
    ],
    "customer": [
        ("id", "bigint", "int8", "N", 0, True, None),
        ("public_id", "uuid", "uuid", "U", 0, True, "gen_random_uuid()"),
        ("email", "hard.email", "text", "S", 0, True, None),
        ("name", "character varying(80)", "varchar", "S", 0, True, None),
        ("country", "character(2)", "bpchar", "S", 0, True, "'NL'::bpchar"),
        ("mood", "hard.mood", "mood", "E", 0, False, None),
        ("moods", "hard.mood[]", "mood", "E", 1, True, "'{}'::hard.mood[]"),
        ("active", "boolean", "bool", "B", 0, True, "true"),
        ("avatar", "bytea", "bytea", "U", 0, False, None),
        ("born_on", "date", "date", "D", 0, False, None),
        ("wakes_at", "time without time zone", "time", "D", 0, False, None),
        ("last_seen", "timestamp with time zone", "timestamptz", "D", 0, False, None),
        ("reminder_every", "interval", "interval", "T", 0, False, None),
        ("last_ip", "inet", "inet", "I", 0, False, None),
        ("home_net", "cidr", "cidr", "I", 0, False, None),
    ],
    "department": [
        ("id", "integer", "int4", "N", 0, True, None),
        ("name", "text", "text", "S", 0, True, None),
        ("head_id", "integer", "int4", "N", 0, True, None),
    ],
    "employee": [
        ("id", "integer", "int4", "N", 0, True, None),
        ("department_id", "integer", "int4", "N", 0, True, None),
        ("manager_id", "integer", "int4", "N", 0, False, None),
        ("salary", "numeric(10,2)", "numeric", "N", 0, True, None),
        ("bonus", "numeric(10,2)", "numeric", "N", 0, True, "0"),
    ],
    "shipment": SHIPMENT_COLUMNS,
    "shipment_2024": SHIPMENT_COLUMNS,
    "shipment_2025": SHIPMENT_COLUMNS,
    "warehouse": [
        ("region", "character(2)", "bpchar", "S", 0, True, None),
        ("code", "hard.short_code", "varchar", "S", 0, True, None),
        ("slug", "text", "text", "S", 0, False, None),
        ("capacity", "hard.positive_int", "int4", "N", 0, False, None),
        ("shelf_heights", "hard.positive_int[]", "int4", "N", 1, False, None),
    ],
}

# (table, column): (modifier, enum values, domain, domain checks, domain NOT NULL)
TYPE_DETAILS = {
    ("customer", "name"): (84, (), None, (), False),  # varchar(80): 80 + 4
    ("customer", "country"): (6, (), None, (), False),
    ("customer", "email"): (-1, (), "hard.email", (EMAIL_CHECK,), False),
    ("customer", "mood"): (-1, MOOD, None, (), False),
    ("customer", "moods"): (-1, MOOD, None, (), False),
    ("employee", "salary"): (655366, (), None, (), False),  # numeric(10,2)
    ("warehouse", "code"): (12, (), "hard.short_code", (), False),  # typmod from the domain
    ("warehouse", "capacity"): (-1, (), "hard.positive_int", (POSITIVE_CHECK,), False),
    ("warehouse", "shelf_heights"): (-1, (), "hard.positive_int", (POSITIVE_CHECK,), False),
    (ORDER_ITEMS, "quantity"): (-1, (), "hard.quantity", QUANTITY_CHECKS, True),
    (ORDER_ITEMS, "tags"): (24, (), "hard.tag_list", ("(cardinality(VALUE) <= 10)",), False),
    (ORDER_ITEMS, "sizes"): (-1, (), None, (), False),
}

# (table, column): (identity, generated)
IDENTITY_AND_GENERATED = {
    ("customer", "id"): ("always", ""),
    ("bin", "id"): ("by default", ""),
    ("booking", "id"): ("by default", ""),
    (ORDER_ITEMS, "total"): ("", "stored"),
}

SHIPMENT = [  # the partitions' copies of the parent's constraints
    ("shipment_customer_id_fkey", "foreign key", ("customer_id",)),
    ("shipment_weight_kg_check", "check", ("weight_kg",)),
]
# Every constraint but PostgreSQL 18's NOT NULL rows: (name, kind, columns), name order.
CONSTRAINTS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    ORDER_ITEMS: [
        ("Order Items_customer_fkey", "foreign key", ("customer_public_id",)),
        ("Order Items_shipment_fkey", "foreign key", ("shipment_id", "shipped_on")),
        ("select is positive", "check", ("select",)),
    ],
    "bin": [
        ("bin_pkey", "primary key", ("id",)),
        ("bin_warehouse_fkey", "foreign key", ("warehouse_code", "warehouse_region")),
    ],
    "booking": [
        ("booking_no_overlap", "exclusion", ("during",)),
        ("booking_pkey", "primary key", ("id",)),
        ("booking_status_check", "check", ("status",)),
    ],
    "customer": [
        ("customer_pkey", "primary key", ("id",)),
        ("customer_public_id_key", "unique", ("public_id",)),
    ],
    "department": [
        ("department_head_id_fkey", "foreign key", ("head_id",)),
        ("department_pkey", "primary key", ("id",)),
    ],
    "employee": [
        ("employee_bonus_check", "check", ("bonus", "salary")),
        ("employee_department_id_fkey", "foreign key", ("department_id",)),
        ("employee_manager_id_fkey", "foreign key", ("manager_id",)),
        ("employee_pkey", "primary key", ("id",)),
    ],
    "shipment": [
        ("shipment_customer_id_fkey", "foreign key", ("customer_id",)),
        ("shipment_pkey", "primary key", ("id", "shipped_on")),
        ("shipment_weight_kg_check", "check", ("weight_kg",)),
    ],
    # Partitions carry copies of their parent's constraints (the PK copy is renamed).
    "shipment_2024": [("shipment_2024_pkey", "primary key", ("id", "shipped_on")), *SHIPMENT],
    "shipment_2025": [("shipment_2025_pkey", "primary key", ("id", "shipped_on")), *SHIPMENT],
    "warehouse": [
        ("warehouse_pkey", "primary key", ("region", "code")),
        ("warehouse_slug_key", "unique", ("slug",)),
    ],
}

# (table, fk): the facts that differ from FK_DEFAULTS
FK_DEFAULTS = {
    "on_delete": "no action",
    "on_update": "no action",
    "match": "simple",
    "deferrable": False,
    "initially_deferred": False,
    "validated": True,
    "enforced": True,
    "index": None,
    "expression": None,
}
FOREIGN_KEYS: dict[tuple[str, str], dict[str, Any]] = {
    (ORDER_ITEMS, "Order Items_customer_fkey"): {
        "ref_table": "customer",
        "ref_columns": ("public_id",),  # a UNIQUE key, not the primary key
        "on_update": "cascade",
    },
    (ORDER_ITEMS, "Order Items_shipment_fkey"): {
        "ref_table": "shipment",  # partitioned
        "ref_columns": ("id", "shipped_on"),
        "on_delete": "set null",
    },
    ("bin", "bin_warehouse_fkey"): {
        "ref_table": "warehouse",
        "ref_columns": ("code", "region"),  # confkey order, not the primary key's
        "on_delete": "restrict",
        "on_update": "cascade",
        "match": "full",
    },
    ("department", "department_head_id_fkey"): {
        "ref_table": "employee",
        "ref_columns": ("id",),
        "deferrable": True,
        "initially_deferred": True,
    },
    ("employee", "employee_department_id_fkey"): {
        "ref_table": "department",
        "ref_columns": ("id",),
        "on_delete": "cascade",
    },
    ("employee", "employee_manager_id_fkey"): {
        "ref_table": "employee",  # itself
        "ref_columns": ("id",),
        "on_delete": "set null",
    },
    ("shipment", "shipment_customer_id_fkey"): {
        "ref_table": "customer",
        "ref_columns": ("id",),
        "on_delete": "cascade",
    },
    ("shipment_2024", "shipment_customer_id_fkey"): {  # the partition's copy
        "ref_table": "customer",
        "ref_columns": ("id",),
        "on_delete": "cascade",
    },
}

INDEXES = {
    ORDER_ITEMS: ["Order Items_customer_public_id_idx", "Order Items_shipment_idx"],
    "bin": ["bin_pkey", "bin_warehouse_idx"],
    "booking": ["booking_no_overlap", "booking_one_confirmed_per_room", "booking_pkey"],
    "customer": ["customer_lower_email_idx", "customer_pkey", "customer_public_id_key"],
    "department": ["department_head_id_idx", "department_pkey"],
    "employee": ["employee_department_id_idx", "employee_manager_id_idx", "employee_pkey"],
    "shipment": ["shipment_customer_id_idx", "shipment_pkey"],
    "shipment_2024": ["shipment_2024_customer_id_idx", "shipment_2024_pkey"],
    "shipment_2025": ["shipment_2025_customer_id_idx", "shipment_2025_pkey"],
    "warehouse": ["warehouse_pkey", "warehouse_slug_key"],
}

# (table, index): the facts that differ from INDEX_DEFAULTS (expressions default to None
# for every key column)
INDEX_DEFAULTS = {
    "include": (),
    "method": "btree",
    "unique": False,
    "primary": False,
    "predicate": None,
    "nulls_not_distinct": False,
    "constraint": None,
    "valid": True,
    "ready": True,
}
INDEX_DETAILS: dict[tuple[str, str], dict[str, Any]] = {
    ("customer", "customer_lower_email_idx"): {
        "columns": (None,),
        "expressions": ("lower(email::text)",),
        "unique": True,
    },
    ("booking", "booking_one_confirmed_per_room"): {
        "columns": ("room",),
        "unique": True,
        "predicate": "(status = 'confirmed'::text)",
    },
    ("booking", "booking_no_overlap"): {
        "columns": ("during",),
        "method": "gist",
        "predicate": "(status <> 'cancelled'::text)",
        "constraint": "booking_no_overlap",
    },
    (ORDER_ITEMS, "Order Items_customer_public_id_idx"): {
        "columns": ("customer_public_id",),
        "include": ("LineNo",),
    },
    ("warehouse", "warehouse_pkey"): {
        "columns": ("region", "code"),
        "unique": True,
        "primary": True,
        "constraint": "warehouse_pkey",
    },
    ("warehouse", "warehouse_slug_key"): {
        "columns": ("slug",),
        "unique": True,
        "nulls_not_distinct": True,
        "constraint": "warehouse_slug_key",
    },
    ("shipment_2025", "shipment_2025_pkey"): {
        "columns": ("id", "shipped_on"),
        "unique": True,
        "primary": True,
        "constraint": "shipment_2025_pkey",
    },
}

# table: [(name, timing, events, row level, enabled, function)]
SHIPMENT_TRIGGER = ("shipment_after_insert", "after", ("insert",), True, True, "hard.noop")
TRIGGERS = {
    ORDER_ITEMS: [("fill line code", "before", ("insert",), True, True, "hard.fill_line_code")],
    "customer": [("customer_audit", "after", ("update", "delete"), False, False, "hard.noop")],
    "account": [("make_profile", "after", ("insert",), True, True, "hard.make_profile")],
    "badge": [("hide_long_badges", "before", ("insert",), True, True, "hard.hide_long_badges")],
    "shipment": [SHIPMENT_TRIGGER],
    "shipment_2024": [SHIPMENT_TRIGGER],
    "shipment_2025": [SHIPMENT_TRIGGER],
}

LEARNING_TABLES = (
    "behavioral_events",
    "content",
    "generation_status",
    "learner_model_state",
    "like_engagement",
    "schema_migrations",
    "sessions",
    "user_preferences",
)
# (table, fk column): (referenced table, on delete), from SCHEMA.md
LEARNING_FKS = {
    ("behavioral_events", "session_id"): ("sessions", "cascade"),
    ("behavioral_events", "content_id"): ("content", "set null"),
    ("like_engagement", "session_id"): ("sessions", "cascade"),
    ("like_engagement", "content_id"): ("content", "cascade"),
    ("learner_model_state", "session_id"): ("sessions", "cascade"),
    ("user_preferences", "session_id"): ("sessions", "cascade"),
    ("generation_status", "content_id"): ("content", "set null"),
    ("generation_status", "session_id"): ("sessions", "set null"),
}


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def hard_db(pg_server: ServerInfo) -> Iterator[Database]:
    """A database with tests/schemas/hard.sql loaded, shared by this module's tests."""
    db = create_database(pg_server)
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute(HARD_SQL.read_text(encoding="utf-8"))
        yield db
    finally:
        drop_database(db)


@pytest.fixture(scope="module")
def hard(hard_db: Database) -> Catalog:
    with hard_db.connect(autocommit=True) as conn:
        return load_catalog(conn, ["hard"])


@pytest.fixture(scope="module")
def learning(learning_db: Database) -> Catalog:
    with learning_db.connect(autocommit=True) as conn:
        return load_catalog(conn, ["public"])


def hard_table(catalog: Catalog, name: str) -> Table:
    return catalog.table(TableName("hard", name))


def constraint(table: Table, name: str) -> Constraint:
    return next(c for c in table.constraints if c.name == name)


def not_null_rows(table: Table) -> list[Constraint]:
    return [c for c in table.constraints if c.kind == "not null"]


def column_summary(column: Column) -> tuple[Any, ...]:
    t = column.type
    return (column.name, t.sql, t.base, t.category, t.array_dims, column.not_null, column.default)


def count_statements(conn: psycopg.Connection) -> list[object]:
    """Record every statement the connection's cursors execute from now on.

    ``conn.execute`` and ``conn.cursor()`` both build their cursor with
    ``conn.cursor_factory``, so a counting subclass sees every query load_catalog sends.
    """
    statements: list[object] = []

    class CountingCursor(psycopg.Cursor):
        def execute(self, query, params=None, **kwargs):
            statements.append(query)
            return super().execute(query, params, **kwargs)

    conn.cursor_factory = CountingCursor
    return statements


class ReportsVersion:
    """A connection that claims another server version, to run older servers' queries."""

    def __init__(self, conn: psycopg.Connection, server_version: int) -> None:
        self._conn = conn
        self.info = SimpleNamespace(server_version=server_version)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        return self._conn.cursor(*args, **kwargs)


def without_version_facts(catalog: Catalog) -> Catalog:
    """Drop what only newer servers report: NOT NULL rows (18), NULLS NOT DISTINCT (15)."""
    tables = []
    for table in catalog.tables:
        constraints = tuple(
            dataclasses.replace(c, nulls_not_distinct=False)
            for c in table.constraints
            if c.kind != "not null"
        )
        indexes = tuple(dataclasses.replace(i, nulls_not_distinct=False) for i in table.indexes)
        tables.append(dataclasses.replace(table, constraints=constraints, indexes=indexes))
    return dataclasses.replace(catalog, server_version_num=0, tables=tuple(tables))


# --- query building (no server) ---------------------------------------------------------


def test_every_query_is_a_packaged_sql_file():
    assert {p.stem for p in SQL_DIR.glob("*.sql")} == set(QUERY_NAMES)


@pytest.mark.parametrize(
    ("version", "enforced", "nulls_not_distinct", "not_null_rows"),
    [
        (130000, False, False, False),
        (140012, False, False, False),
        (150000, False, True, False),
        (170005, False, True, False),
        (180000, True, True, True),
    ],
)
def test_queries_use_only_what_the_server_version_has(
    version, enforced, nulls_not_distinct, not_null_rows
):
    constraints = catalog_query("constraints", version).as_string(None)
    indexes = catalog_query("indexes", version).as_string(None)
    assert ("con.conenforced" in constraints) is enforced
    assert ("i.indnullsnotdistinct" in constraints) is nulls_not_distinct
    assert ("i.indnullsnotdistinct" in indexes) is nulls_not_distinct
    assert ("n" in constraint_contypes(version)) is not_null_rows
    for name in QUERY_NAMES:  # every placeholder filled
        text = catalog_query(name, version).as_string(None)
        assert "{" not in text
        assert "}" not in text


def test_unknown_query_name_is_an_error():
    with pytest.raises(ValueError, match="unknown catalog query 'relations'"):
        catalog_query("relations", 180000)


# --- hard.sql: tables and partitions ----------------------------------------------------


def test_hard_tables_and_kinds(hard, pg_server):
    assert hard.server_version_num // 10000 == pg_server.major
    assert hard.schemas == ("hard",)
    assert [(t.name.schema, t.name.name, t.kind) for t in hard.tables] == [
        ("hard", name, kind) for name, kind in HARD_TABLES
    ]


def test_partitions(hard):
    parent = hard_table(hard, "shipment")
    assert parent.partition_key == "RANGE (shipped_on)"
    assert parent.partition_of is None
    assert parent.partition_bound is None
    bounds = {
        "shipment_2024": "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        "shipment_2025": "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    }
    for name, bound in bounds.items():
        partition = hard_table(hard, name)
        assert partition.partition_of == TableName("hard", "shipment")
        assert partition.partition_bound == bound
        assert partition.partition_key is None
    assert all(t.partition_of is None for t in hard.tables if not t.name.name.startswith("ship"))


def test_rules_and_row_security(hard):
    assert [str(t.name) for t in hard.tables if t.has_rules] == ["hard.department"]
    assert [str(t.name) for t in hard.tables if t.row_security] == ["hard.employee"]


def test_enums_and_extensions(hard):
    assert hard.enums == {"hard.mood": MOOD}
    assert hard.extensions == ("plpgsql",)


# --- hard.sql: columns ------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_columns(hard, table):
    columns = hard_table(hard, table).columns
    assert [column_summary(c) for c in columns] == COLUMNS[table]
    assert [c.position for c in columns] == list(range(1, len(columns) + 1))


@pytest.mark.parametrize(("table", "column"), sorted(TYPE_DETAILS))
def test_column_type_details(hard, table, column):
    t = hard_table(hard, table).column(column).type
    assert (t.modifier, t.enum_values, t.domain, t.domain_checks, t.domain_not_null) == (
        TYPE_DETAILS[table, column]
    )
    assert t.base_schema == ("hard" if t.base == "mood" else "pg_catalog")


def test_identity_and_generated_columns(hard):
    found = {
        (t.name.name, c.name): (c.identity, c.generated)
        for t in hard.tables
        for c in t.columns
        if c.identity or c.generated
    }
    assert found == IDENTITY_AND_GENERATED
    customer = hard_table(hard, "customer")
    assert not customer.column("id").insertable
    assert customer.column("id").has_default
    assert hard_table(hard, "bin").column("id").insertable
    total = hard_table(hard, ORDER_ITEMS).column("total")
    assert not total.insertable
    assert total.has_default


def test_collation_only_when_not_the_default(hard):
    found = {(t.name.name, c.name): c.collation for t in hard.tables for c in t.columns}
    assert {key: value for key, value in found.items() if value is not None} == {
        ("warehouse", "slug"): "C"
    }


def test_trigger_filled_column_is_not_null_without_a_default(hard):
    line_code = hard_table(hard, ORDER_ITEMS).column("line code")
    assert line_code.not_null
    assert not line_code.has_default


def test_nested_not_null_domain_on_a_nullable_column(hard):
    quantity = hard_table(hard, ORDER_ITEMS).column("quantity")
    assert not quantity.not_null
    assert quantity.type.domain_not_null


# --- hard.sql: constraints --------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(CONSTRAINTS))
def test_constraints(hard, table):
    found = [
        (c.name, c.kind, c.columns)
        for c in hard_table(hard, table).constraints
        if c.kind != "not null"
    ]
    assert found == CONSTRAINTS[table]


@pytest.mark.parametrize(("table", "name"), sorted(FOREIGN_KEYS))
def test_foreign_key(hard, table, name):
    fk = constraint(hard_table(hard, table), name)
    expected = {**FK_DEFAULTS, **FOREIGN_KEYS[table, name]}
    expected["ref_table"] = TableName("hard", expected["ref_table"])
    assert fk.kind == "foreign key"
    assert {field: getattr(fk, field) for field in expected} == expected
    assert fk.definition.startswith("FOREIGN KEY (")


def test_foreign_key_to_a_unique_key_that_is_not_the_primary_key(hard):
    fk = constraint(hard_table(hard, ORDER_ITEMS), "Order Items_customer_fkey")
    customer = hard_table(hard, "customer")
    assert customer.primary_key is not None
    assert customer.primary_key.columns == ("id",)
    [target] = [c for c in customer.unique_constraints if c.columns == fk.ref_columns]
    assert (target.name, target.kind) == ("customer_public_id_key", "unique")


def test_foreign_key_cycle_closed_by_a_deferred_constraint(hard):
    head = constraint(hard_table(hard, "department"), "department_head_id_fkey")
    back = constraint(hard_table(hard, "employee"), "employee_department_id_fkey")
    assert (head.ref_table, back.ref_table) == (
        TableName("hard", "employee"),
        TableName("hard", "department"),
    )
    assert head.definition == (
        "FOREIGN KEY (head_id) REFERENCES hard.employee(id) DEFERRABLE INITIALLY DEFERRED"
    )


def test_hidden_copies_of_a_foreign_key_to_a_partitioned_table_are_left_out(hard):
    # PostgreSQL adds one copy per referenced partition to "Order Items" itself, with a
    # generated name that differs between versions ("..._fkey_1" on 18, "..._fkey1" on 15).
    fks = hard_table(hard, ORDER_ITEMS).foreign_keys
    assert [fk.name for fk in fks] == ["Order Items_customer_fkey", "Order Items_shipment_fkey"]


def test_checks(hard):
    found = {
        (t.name.name, c.name): (c.expression, c.definition)
        for t in hard.tables
        for c in t.checks
        if not t.partition_of
    }
    assert found == {
        (ORDER_ITEMS, "select is positive"): ('("select" > 0)', 'CHECK (("select" > 0))'),
        ("booking", "booking_status_check"): (
            "(status = ANY (ARRAY['tentative'::text, 'confirmed'::text, 'cancelled'::text]))",
            "CHECK ((status = ANY (ARRAY['tentative'::text, 'confirmed'::text, "
            "'cancelled'::text])))",
        ),
        ("employee", "employee_bonus_check"): ("(bonus <= salary)", "CHECK ((bonus <= salary))"),
        ("member", "member_credit_check"): ("(credit > 0.00)", "CHECK ((credit > 0.00))"),
        ("member", "member_email_check"): (
            "(POSITION(('@'::text) IN (email)) > 1)",
            "CHECK ((POSITION(('@'::text) IN (email)) > 1))",
        ),
        ("member", "member_handle_check"): (
            "(handle = lower(handle))",
            "CHECK ((handle = lower(handle)))",
        ),
        ("member", "member_lucky_check"): (
            "(lucky <> '-2147483648'::integer)",
            "CHECK ((lucky <> '-2147483648'::integer))",
        ),
        ("shipment", "shipment_weight_kg_check"): (
            "(weight_kg > (0)::numeric)",
            "CHECK ((weight_kg > (0)::numeric))",
        ),
    }


def test_index_backed_constraints(hard):
    found = {
        (t.name.name, c.name): (c.index, c.nulls_not_distinct)
        for t in hard.tables
        for c in t.constraints
        if c.kind in ("primary key", "unique", "exclusion")
    }
    assert found == {
        ("account", "account_pkey"): ("account_pkey", False),
        ("badge", "badge_code_key"): ("badge_code_key", False),
        ("badge", "badge_code_label_key"): ("badge_code_label_key", False),
        ("badge", "badge_pkey"): ("badge_pkey", False),
        ("member", "member_email_key"): ("member_email_key", False),
        ("member", "member_nick_key"): ("member_nick_key", False),
        ("member", "member_pkey"): ("member_pkey", False),
        ("profile", "profile_pkey"): ("profile_pkey", False),
        ("bin", "bin_pkey"): ("bin_pkey", False),
        ("booking", "booking_no_overlap"): ("booking_no_overlap", False),
        ("booking", "booking_pkey"): ("booking_pkey", False),
        ("customer", "customer_pkey"): ("customer_pkey", False),
        ("customer", "customer_public_id_key"): ("customer_public_id_key", False),
        ("department", "department_pkey"): ("department_pkey", False),
        ("employee", "employee_pkey"): ("employee_pkey", False),
        ("shipment", "shipment_pkey"): ("shipment_pkey", False),
        ("shipment_2024", "shipment_2024_pkey"): ("shipment_2024_pkey", False),
        ("shipment_2025", "shipment_2025_pkey"): ("shipment_2025_pkey", False),
        ("warehouse", "warehouse_pkey"): ("warehouse_pkey", False),
        ("warehouse", "warehouse_slug_key"): ("warehouse_slug_key", True),
    }
    exclusion = constraint(hard_table(hard, "booking"), "booking_no_overlap")
    assert exclusion.definition == (
        "EXCLUDE USING gist (during WITH &&) WHERE ((status <> 'cancelled'::text))"
    )


def test_not_null_constraint_rows_only_on_18(hard, pg_server):
    for table in hard.tables:
        rows = not_null_rows(table)
        if pg_server.major < 18:
            assert rows == []
            continue
        not_null_columns = [c.name for c in table.columns if c.not_null]
        assert sorted(c.columns for c in rows) == sorted((name,) for name in not_null_columns)
        assert all(c.validated and c.enforced and c.index is None for c in rows)
    if pg_server.major >= 18:
        line_no = next(
            c for c in hard_table(hard, ORDER_ITEMS).constraints if c.columns == ("LineNo",)
        )
        assert (line_no.name, line_no.kind, line_no.definition) == (
            "Order Items_LineNo_not_null",
            "not null",
            'NOT NULL "LineNo"',
        )


# --- hard.sql: indexes and triggers -----------------------------------------------------


@pytest.mark.parametrize("table", sorted(INDEXES))
def test_indexes(hard, table):
    indexes = hard_table(hard, table).indexes
    assert [i.name for i in indexes] == INDEXES[table]
    assert all(i.valid and i.ready for i in indexes)


@pytest.mark.parametrize(("table", "name"), sorted(INDEX_DETAILS))
def test_index_details(hard, table, name):
    index = next(i for i in hard_table(hard, table).indexes if i.name == name)
    details = INDEX_DETAILS[table, name]
    expected = {"expressions": (None,) * len(details["columns"]), **INDEX_DEFAULTS, **details}
    assert {field: getattr(index, field) for field in expected} == expected
    assert index.definition.startswith(("CREATE INDEX ", "CREATE UNIQUE INDEX "))


def test_index_definitions_quote_odd_identifiers(hard):
    [index, _] = hard_table(hard, ORDER_ITEMS).indexes
    assert index.definition == (
        'CREATE INDEX "Order Items_customer_public_id_idx" ON hard."Order Items" '
        'USING btree (customer_public_id) INCLUDE ("LineNo")'
    )


def test_triggers(hard):
    found = {
        t.name.name: [
            (g.name, g.timing, g.events, g.row_level, g.enabled, g.function) for g in t.triggers
        ]
        for t in hard.tables
        if t.triggers
    }
    assert found == TRIGGERS
    [fill] = hard_table(hard, ORDER_ITEMS).triggers
    assert fill.definition == (
        'CREATE TRIGGER "fill line code" BEFORE INSERT ON hard."Order Items" '
        "FOR EACH ROW EXECUTE FUNCTION hard.fill_line_code()"
    )


# --- hard.sql: odd identifiers ----------------------------------------------------------


def test_odd_identifiers_round_trip_exactly(hard, hard_db):
    table = hard.table(f"hard.{ORDER_ITEMS}")
    odd = ["LineNo", "select", "naïve ☃", 'say "hi"', "line code"]
    assert [c.name for c in table.columns if c.name in odd] == odd
    # The names work as identifiers, unchanged: select each column of the table.
    query = sql.SQL("SELECT {} FROM {} WHERE false").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
        sql.Identifier(table.name.schema, table.name.name),
    )
    with hard_db.connect(autocommit=True) as conn:
        cur = conn.execute(query)
        assert [d.name for d in cur.description] == [c.name for c in table.columns]


# --- loading options and cost -----------------------------------------------------------


def test_exclude_tables(hard_db):
    with hard_db.connect(autocommit=True) as conn:
        catalog = load_catalog(
            conn, ["hard"], exclude_tables=["hard.bin", "employee", "shipment_2024", "nope"]
        )
    names = [t.name.name for t in catalog.tables]
    assert names == [
        name for name, _ in HARD_TABLES if name not in ("bin", "employee", "shipment_2024")
    ]
    # References to an excluded table stay as the catalog says.
    fk = constraint(catalog.table("hard.department"), "department_head_id_fkey")
    assert fk.ref_table == TableName("hard", "employee")


def test_unknown_schema_gives_an_empty_catalog(hard_db):
    with hard_db.connect(autocommit=True) as conn:
        catalog = load_catalog(conn, ["no such schema"])
    assert (catalog.schemas, catalog.tables, catalog.enums) == (("no such schema",), (), {})
    assert catalog.extensions == ("plpgsql",)


# Only versions older than the server at hand: PostgreSQL 18 (embedded), 15 (system).
@pytest.mark.parametrize(
    ("pg_server", "older"),
    [(kind, older) for kind, major in (("embedded", 18), ("system", 15))
     for older in (130000, 140000, 170000) if older < major * 10000],
    indirect=["pg_server"],
)  # fmt: skip
def test_older_servers_queries_give_the_same_snapshot(hard, hard_db, pg_server, older):
    """Run the query texts built for an older server against this server's catalogs.

    They leave out only columns the older server lacks, so the snapshot must equal this
    server's own, less the facts that only newer versions report.
    """
    assert older < hard.server_version_num
    with hard_db.connect(autocommit=True) as conn:
        catalog = load_catalog(ReportsVersion(conn, older), ["hard"])
    assert catalog.server_version_num == older
    assert all(not_null_rows(t) == [] for t in catalog.tables)
    assert without_version_facts(catalog) == without_version_facts(hard)


def test_query_count_is_small_and_independent_of_the_table_count(empty_db, hard_db):
    with empty_db.connect(autocommit=True) as conn:
        conn.execute("CREATE SCHEMA few; CREATE TABLE few.t (id int PRIMARY KEY)")
        conn.execute("CREATE SCHEMA many")
        for n in range(40):
            conn.execute(
                sql.SQL(
                    "CREATE TABLE many.{} (id int PRIMARY KEY, parent int REFERENCES many.t0,"
                    " v text CHECK (v <> ''))"
                ).format(sql.Identifier(f"t{n}"))
            )
            conn.execute(sql.SQL("CREATE INDEX ON many.{} (v)").format(sql.Identifier(f"t{n}")))
        counts = {}
        for schema in ("few", "many", "empty"):
            statements = count_statements(conn)
            catalog = load_catalog(conn, [schema])
            counts[schema] = (len(catalog.tables), len(statements))
    with hard_db.connect(autocommit=True) as conn:
        statements = count_statements(conn)
        counts["hard"] = (len(load_catalog(conn, ["hard"]).tables), len(statements))
    n = len(QUERY_NAMES)
    assert counts == {"few": (1, n), "many": (40, n), "empty": (0, n), "hard": (14, n)}


def test_odd_schema_name_and_a_partition_in_another_schema(empty_db):
    odd = 'Odd "Schema" é'
    with empty_db.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE SCHEMA {odd}; CREATE SCHEMA other;"
                " CREATE TYPE {odd}.{kind} AS ENUM ('a b', 'C');"
                " CREATE TABLE {odd}.{tbl} (k {odd}.{kind} NOT NULL) PARTITION BY LIST (k);"
                " CREATE TABLE other.part PARTITION OF {odd}.{tbl} FOR VALUES IN ('a b');"
                " CREATE TABLE other.unrelated (id int)"
            ).format(
                odd=sql.Identifier(odd), kind=sql.Identifier("Kind"), tbl=sql.Identifier("T t")
            )
        )
        catalog = load_catalog(conn, [odd])
    assert [str(t.name) for t in catalog.tables] == [f"{odd}.T t", "other.part"]
    assert catalog.enums == {f"{odd}.Kind": ("a b", "C")}
    parent, part = catalog.tables
    assert parent.partition_key == "LIST (k)"
    assert part.partition_of == parent.name
    assert part.partition_bound == "FOR VALUES IN ('a b')"
    k = part.column("k").type
    assert (k.base, k.base_schema, k.category, k.enum_values) == ("Kind", odd, "E", ("a b", "C"))


@pytest.mark.parametrize("pg_server", ["embedded"], indirect=True)
def test_postgresql_18_virtual_columns_and_not_enforced_constraints(empty_db, pg_server):
    assert pg_server.major >= 18  # virtual generated columns and NOT ENFORCED are 18+
    with empty_db.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE t (a int NOT NULL, b int, d int UNIQUE,"
            " c int GENERATED ALWAYS AS (a * 2) VIRTUAL,"
            " CONSTRAINT t_b_check CHECK (b > 0) NOT ENFORCED,"
            " CONSTRAINT t_a_fkey FOREIGN KEY (a) REFERENCES t (d) NOT ENFORCED);"
            " ALTER TABLE t ADD CONSTRAINT t_b_not_null NOT NULL b NOT VALID"
        )
        [table] = load_catalog(conn, ["public"]).tables
    c = table.column("c")
    assert (c.generated, c.default, c.insertable, c.has_default) == (
        "virtual",
        "(a * 2)",
        False,
        True,
    )
    found = {x.name: (x.kind, x.columns, x.enforced, x.validated) for x in table.constraints}
    assert found == {
        "t_a_fkey": ("foreign key", ("a",), False, False),
        "t_a_not_null": ("not null", ("a",), True, True),
        "t_b_check": ("check", ("b",), False, False),
        "t_b_not_null": ("not null", ("b",), True, False),
        "t_d_key": ("unique", ("d",), True, True),
    }


# --- the learning schema ----------------------------------------------------------------


def test_learning_tables(learning):
    assert [t.name.name for t in learning.tables] == list(LEARNING_TABLES)
    assert all(t.name.schema == "public" and t.kind == "table" for t in learning.tables)


def test_learning_foreign_keys_and_delete_rules(learning):
    found = {
        (t.name.name, fk.columns[0]): (fk.ref_table.name, fk.on_delete)
        for t in learning.tables
        for fk in t.foreign_keys
        if fk.ref_table is not None
    }
    assert found == LEARNING_FKS
    assert all(fk.ref_columns == ("id",) for t in learning.tables for fk in t.foreign_keys)


def test_learning_work_queue_index_is_partial_on_the_open_states(learning):
    jobs = learning.table("public.generation_status")
    [queue] = [i for i in jobs.indexes if i.columns == ("requested_at",)]
    assert queue.predicate == "(status = ANY (ARRAY['queued'::text, 'generating'::text]))"
    assert (queue.unique, queue.valid, queue.method) == (False, True, "btree")


def test_learning_keys_and_identity(learning):
    events = learning.table("public.behavioral_events")
    assert events.column("id").identity == "always"
    assert learning.table("public.sessions").column("id").default == "gen_random_uuid()"
    likes = learning.table("public.like_engagement")
    assert likes.primary_key is not None
    assert likes.primary_key.columns == ("session_id", "content_id")
    [content_idx] = [i for i in events.indexes if i.columns == ("content_id",)]
    assert content_idx.predicate == "(content_id IS NOT NULL)"
