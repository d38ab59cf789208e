"""Hypothesis strategies: every value round-trips through a real server, rows meet CHECKs.

The database tests run on both servers (PostgreSQL 18 embedded, 15 system): each
supported type gets a table of its own, every drawn value is inserted with an explicit
cast (``%s::<type>``) and compared with what ``RETURNING`` gives back; rows drawn for
tables with CHECK constraints are inserted and must all be accepted.
"""

from __future__ import annotations

import ipaddress
import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.types.json import Json, Jsonb
from psycopg.types.range import Range

from pytest_dbverify import strategies
from pytest_dbverify.catalog import (
    Catalog,
    Column,
    ColumnType,
    Constraint,
    Table,
    TableName,
    load_catalog,
)
from pytest_dbverify.check_expressions import ColumnBounds, check_result
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.errors import DbverifyError
from pytest_dbverify.literal_types import LITERAL_BUILDERS
from pytest_dbverify.strategies import (
    SUPPORTED_TYPES,
    StrategyRegistry,
    UnsupportedTypeError,
    qualified_column_name,
    rows_for,
    values_for,
)
from tests.conftest import Database, create_database, drop_database

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def draws(strategy: st.SearchStrategy[Any], count: int = 60) -> list[Any]:
    """Return ``count`` values drawn from ``strategy`` (derandomized, no shrinking)."""
    seen: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        seen.append(value)

    collect()
    return seen


# --- round trips through a real server ----------------------------------------------------------

SETUP = """
CREATE SCHEMA rt;
CREATE TYPE rt.mood AS ENUM ('sad', 'ok', 'very happy', 'it''s "quoted"');
CREATE DOMAIN rt.pct AS numeric(5,2) CHECK (VALUE BETWEEN 0 AND 100);
CREATE DOMAIN rt.code AS varchar(8) NOT NULL CHECK (VALUE <> '') CHECK (length(VALUE) >= 2);
CREATE DOMAIN rt.tags AS varchar(20)[] CHECK (cardinality(VALUE) <= 3);
CREATE DOMAIN rt.email AS varchar(40) CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+$');
CREATE DOMAIN rt.positive AS integer NOT NULL CHECK (VALUE > 0);
"""

# Column name -> type: one table per entry, its only column NOT NULL.
ROUND_TRIP_TYPES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "numeric": "numeric",
    "numeric_10_2": "numeric(10,2)",
    "numeric_neg_scale": "numeric(3,-2)",  # PostgreSQL 15+: multiples of 100
    "float4": "real",
    "float8": "double precision",
    "text": "text",
    "varchar": "varchar",
    "varchar_5": "varchar(5)",
    "char_3": "char(3)",
    "bpchar": "bpchar",
    "name": "name",
    "bytea": "bytea",
    "bool": "boolean",
    "uuid": "uuid",
    "date": "date",
    "time": "time",
    "time_3": "time(3)",
    "timetz": "timetz",
    "timestamp": "timestamp",
    "timestamp_0": "timestamp(0)",
    "timestamptz": "timestamptz",
    "timestamptz_3": "timestamptz(3)",
    "interval": "interval",
    "interval_2": "interval(2)",
    "json": "json",
    "jsonb": "jsonb",
    "inet": "inet",
    "cidr": "cidr",
    "macaddr": "macaddr",
    "macaddr8": "macaddr8",
    "enum": "rt.mood",
    "domain_pct": "rt.pct",
    "domain_code": "rt.code",
    "domain_tags": "rt.tags",
    "domain_email": "rt.email",
    "domain_array": "rt.positive[]",
    "int4_array": "integer[]",
    "text_array": "text[]",
    "enum_array": "rt.mood[]",
    "numeric_array": "numeric(10,2)[]",
    "char_array": "char(3)[]",
    "jsonb_array": "jsonb[]",
    "timestamptz_array": "timestamptz[]",
    "int4range": "int4range",
    "int8range": "int8range",
    "numrange": "numrange",
    "daterange": "daterange",
    "tsrange": "tsrange",
    "tstzrange": "tstzrange",
}


@pytest.fixture(scope="module")
def round_trip_db(pg_server: ServerInfo) -> Iterator[tuple[Database, Catalog]]:
    """A database with one single-column table per entry of ROUND_TRIP_TYPES."""
    db = create_database(pg_server)
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute(SETUP)
            for name, type_sql in ROUND_TRIP_TYPES.items():
                conn.execute(f"CREATE TABLE rt.{name} (value {type_sql} NOT NULL)")
            catalog = load_catalog(conn, ["rt"])
        yield db, catalog
    finally:
        drop_database(db)


@pytest.fixture(scope="module")
def round_trip_conn(
    round_trip_db: tuple[Database, Catalog],
) -> Iterator[psycopg.Connection]:
    db, _ = round_trip_db
    with db.connect(autocommit=True) as conn:
        yield conn


def float4(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def same_json(sent: Any, got: Any) -> bool:
    if isinstance(sent, float):
        # jsonb keeps numbers as numeric: 1e16 comes back as the int 10000000000000000.
        return isinstance(got, (int, float)) and not isinstance(got, bool) and float(got) == sent
    if isinstance(sent, dict):
        return (
            isinstance(got, dict)
            and sent.keys() == got.keys()
            and all(same_json(v, got[k]) for k, v in sent.items())
        )
    if isinstance(sent, list):
        return (
            isinstance(got, list)
            and len(sent) == len(got)
            and all(same_json(a, b) for a, b in zip(sent, got, strict=True))
        )
    return type(sent) is type(got) and sent == got


def range_key(value: Range[Any]) -> Any:
    """Return what a range means: PostgreSQL normalizes empty and infinite bounds."""
    if value.isempty:
        return "empty"
    lower_inc = value.lower_inc and value.lower is not None
    upper_inc = value.upper_inc and value.upper is not None
    if value.lower is not None and value.lower == value.upper and not (lower_inc and upper_inc):
        return "empty"
    return (value.lower, value.upper, lower_inc, upper_inc)


def same_value(ctype: ColumnType, sent: Any, got: Any) -> bool:
    """Return True if ``got`` (read back) is what ``sent`` (drawn) should have become."""
    if isinstance(sent, (Json, Jsonb)):
        # Before the None test: JSON null reads back as None, like SQL NULL.
        return same_json(sent.obj, got)
    if sent is None or got is None:
        return sent is got
    if ctype.is_array:
        element = replace(ctype, array_dims=0, sql=ctype.base)
        return (
            isinstance(got, list)
            and len(got) == len(sent)
            and all(same_value(element, a, b) for a, b in zip(sent, got, strict=True))
        )
    base = ctype.base
    if base in ("float4", "float8"):
        if math.isnan(sent):
            return math.isnan(got)
        # psycopg reads a real back from its shortest float4 text: round it to float32.
        return (float4(got) if base == "float4" else got) == sent
    if base == "numeric":
        scale = (ctype.modifier - 4) & 0xFFFF if ctype.modifier >= 4 else None
        if scale is not None and scale < 1000 and got.as_tuple().exponent != -scale:
            return False  # numeric(p,s) comes back with exactly s places
        return bool(got == sent)
    if base == "bpchar" and ctype.modifier >= 4:
        return bool(got == sent.ljust(ctype.modifier - 4))  # char(n) pads with spaces
    if base == "inet":
        # An address with a full prefix comes back as an address, not an interface.
        return ipaddress.ip_interface(got) == ipaddress.ip_interface(sent)
    if base == "timetz":
        return bool(
            got.replace(tzinfo=None) == sent.replace(tzinfo=None)
            and got.utcoffset() == sent.utcoffset()
        )
    if base == "timestamptz":
        # Read back in the session's time zone: the same instant, still aware.
        return bool(got == sent and got.utcoffset() is not None)
    if base.endswith("range"):
        return bool(range_key(got) == range_key(sent))
    return type(got) is type(sent) and bool(got == sent)


@pytest.mark.parametrize("name", list(ROUND_TRIP_TYPES))
def test_values_round_trip(
    round_trip_db: tuple[Database, Catalog], round_trip_conn: psycopg.Connection, name: str
) -> None:
    _, catalog = round_trip_db
    table = catalog.table(f"rt.{name}")
    column = table.column("value")
    # psycopg reads an array of an enum or of a domain it was not told about as text:
    # ask for an array of a type it knows.
    returned = "value"
    if column.type.is_array and column.type.enum_values:
        returned = "value::text[]"
    elif strategies.elements_are_domain(column.type):
        returned = f"value::{column.type.base}[]"
    statement = sql.SQL("INSERT INTO {} (value) VALUES (%s::{}) RETURNING {}").format(
        sql.Identifier("rt", name), sql.SQL(column.type.sql), sql.SQL(returned)
    )

    @FAST
    @given(values_for(column, table=table.name))
    def round_trip(value: Any) -> None:
        row = round_trip_conn.execute(statement, [value]).fetchone()
        assert row is not None
        assert same_value(column.type, value, row[0]), (value, row[0])

    round_trip()


def test_round_trip_covers_every_supported_type(round_trip_db: tuple[Database, Catalog]) -> None:
    _, catalog = round_trip_db
    covered = {table.column("value").type.base for table in catalog.tables}
    # citext is an extension; the types drawn as text are covered in test_literal_types.py.
    assert SUPPORTED_TYPES - covered - set(LITERAL_BUILDERS) == {"citext"}


# --- NULL ---------------------------------------------------------------------------------------

INT4 = ColumnType("integer", "int4", "pg_catalog", "N", -1)
INT8 = ColumnType("bigint", "int8", "pg_catalog", "N", -1)
TEXT = ColumnType("text", "text", "pg_catalog", "S", -1)
UUID = ColumnType("uuid", "uuid", "pg_catalog", "U", -1)
TSTZ = ColumnType("timestamp with time zone", "timestamptz", "pg_catalog", "D", -1)
NUMERIC = ColumnType("numeric(12,2)", "numeric", "pg_catalog", "N", ((12 << 16) | 2) + 4)
GEOMETRY = ColumnType("geometry", "geometry", "public", "U", -1)  # PostGIS: no strategy
SHAPES = TableName("public", "shapes")


def test_nullable_column_draws_none_sometimes() -> None:
    values = draws(values_for(Column("n", 1, INT4, not_null=False)))
    assert None in values
    assert any(isinstance(v, int) for v in values)


def test_not_null_column_never_draws_none() -> None:
    assert None not in draws(values_for(Column("n", 1, INT4, not_null=True)))


def test_not_null_domain_never_draws_none() -> None:
    domain = replace(TEXT, sql="public.code", domain="public.code", domain_not_null=True)
    assert None not in draws(values_for(Column("c", 1, domain, not_null=False)))


def test_a_check_does_not_forbid_null() -> None:
    # NULL passes x >= 1 (the CHECK's result is NULL): a nullable column still draws it.
    column = Column("n", 1, INT4, not_null=False)
    assert None in draws(values_for(column, bounds=ColumnBounds(min=1)))


def test_arrays_of_a_domain_check_elements() -> None:
    positive = replace(
        INT4,
        sql="shop.positive[]",
        array_dims=1,
        domain="shop.positive",
        domain_checks=("(VALUE > 0)",),
        domain_not_null=True,
    )
    assert strategies.elements_are_domain(positive)
    values = draws(values_for(Column("a", 1, positive, True)), 100)
    elements = [e for value in values for e in value]
    assert elements
    assert all(e is not None and e > 0 for e in elements)  # NOT NULL domain: no NULL element
    # A domain over an array checks the whole array instead.
    tags = replace(
        TEXT,
        sql="shop.tags",
        array_dims=1,
        domain="shop.tags",
        domain_checks=("(cardinality(VALUE) <= 2)",),
    )
    assert not strategies.elements_are_domain(tags)
    assert all(len(v) <= 2 for v in draws(values_for(Column("t", 1, tags, True)), 100))


def test_arrays_hold_none_elements_rarely() -> None:
    array = replace(INT4, sql="integer[]", array_dims=1)
    elements = [e for value in draws(values_for(Column("a", 1, array, True)), 200) for e in value]
    assert None in elements
    assert elements.count(None) < len(elements) / 4


# --- CHECK narrowing ----------------------------------------------------------------------------

CHECKED = """
CREATE SCHEMA nr;
CREATE TYPE nr.mood AS ENUM ('sad', 'ok', 'very happy');
CREATE DOMAIN nr.pct AS numeric(5,2) CHECK (VALUE BETWEEN 0 AND 100);
CREATE DOMAIN nr.tags AS varchar(20)[] CHECK (cardinality(VALUE) <= 3);
CREATE DOMAIN nr.positive AS integer CHECK (VALUE > 0);
CREATE DOMAIN nr.quantity AS nr.positive NOT NULL CHECK (VALUE <= 1000);
CREATE DOMAIN nr.email AS text CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+$');
CREATE TABLE nr.checked (
    difficulty smallint NOT NULL CHECK (difficulty BETWEEN 1 AND 5),
    format text NOT NULL CHECK (format IN ('text', 'quiz', 'video', 'image', 'audio')),
    topic text NOT NULL CHECK (topic <> ''),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    mastery double precision NOT NULL CHECK (mastery BETWEEN 0 AND 1),
    ratio real CHECK (ratio > 0.5),
    price numeric(10,2) NOT NULL CHECK (price > 0 AND price < 1000.50),
    share numeric CHECK (share > 0 AND share < 1),
    code varchar(10) NOT NULL CHECK (code IN ('a', 'b')),
    initials char(3) NOT NULL CHECK (initials <> ''),
    mood nr.mood NOT NULL CHECK (mood <> 'sad'),
    formats text[] NOT NULL CHECK (formats <@ ARRAY['text', 'quiz']::text[]),
    born date CHECK (born >= '2000-01-01'),
    seen timestamptz CHECK (seen > '2020-01-01'),
    due timestamp(0) CHECK (due < '2100-01-01'),
    every interval CHECK (every >= '0 seconds'),
    level integer NOT NULL CHECK (level NOT IN (1, 2) AND level > 0 AND level < 10),
    short text CHECK (length(short) <= 3),
    nonempty text[] NOT NULL CHECK (cardinality(nonempty) > 0),
    "Quoted Max" integer CHECK ("Quoted Max" <= -7),
    pct nr.pct NOT NULL,
    tags nr.tags,
    heights nr.positive[],
    quantity nr.quantity,
    email nr.email NOT NULL,
    slug varchar(20) CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    sku text NOT NULL CHECK (sku LIKE 'SKU-%'),
    colour text CHECK (colour ~ '^#[[:xdigit:]]{6}$'),
    at_email text NOT NULL CHECK (position('@' in at_email) > 1),
    handle text NOT NULL CHECK (handle = lower(handle) AND strpos(handle, '#') = 0),
    ref text NOT NULL CHECK (starts_with(ref, 'R-')),
    grade text NOT NULL CHECK (upper(grade) LIKE 'G%'),
    note text NOT NULL CHECK (strpos(note, 'ok') >= 2),
    flag boolean NOT NULL CHECK (flag),
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'failed')),
    error text,
    created_at timestamptz NOT NULL,
    ended_at timestamptz,
    CONSTRAINT error_when_failed CHECK (status <> 'failed' OR (error IS NOT NULL AND error <> '')),
    CONSTRAINT ended_after_created CHECK (ended_at IS NULL OR ended_at >= created_at)
);
"""


@pytest.fixture(scope="module")
def checked_db(pg_server: ServerInfo) -> Iterator[tuple[Database, Table]]:
    db = create_database(pg_server)
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute(CHECKED)
            table = load_catalog(conn, ["nr"]).table("nr.checked")
        yield db, table
    finally:
        drop_database(db)


def insert_statement(table: Table, names: list[str]) -> sql.Composed:
    if not names:
        return sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING *").format(
            sql.Identifier(table.name.schema, table.name.name)
        )
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
        sql.Identifier(table.name.schema, table.name.name),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(table.column(name).type.sql))
            for name in names
        ),
    )


def insert(conn: psycopg.Connection, table: Table, row: dict[str, Any]) -> dict[str, Any]:
    cursor = conn.execute(insert_statement(table, list(row)), list(row.values()))
    values = cursor.fetchone()
    assert values is not None
    return dict(zip([d.name for d in cursor.description or []], values, strict=True))


def test_rows_meet_every_check(checked_db: tuple[Database, Table]) -> None:
    """Single-column CHECKs by construction, the two-column ones by evaluation."""
    db, table = checked_db
    types = {column.name: column.type for column in table.columns}
    checks = [c.expression for c in table.checks if c.expression]
    seen: dict[str, set[Any]] = {"difficulty": set(), "format": set(), "email": set()}
    with db.connect() as conn, conn.transaction(force_rollback=True):
        # Default health checks: the filter for the two-column CHECKs must reject little.
        @settings(max_examples=40, deadline=None, derandomize=True, database=None)
        @given(rows_for(table))
        def insert_row(row: dict[str, Any]) -> None:
            # What the evaluation says and what the server does agree.
            assert all(check_result(check, row, types) is not False for check in checks)
            with conn.transaction(force_rollback=True):
                insert(conn, table, row)
            for name, values in seen.items():
                values.add(row.get(name))

        insert_row()
    assert seen["difficulty"] <= {1, 2, 3, 4, 5}
    assert seen["format"] <= {"text", "quiz", "video", "image", "audio"}
    assert len(seen["difficulty"]) > 1  # narrowed, not pinned
    assert len(seen["email"]) > 1


def test_narrowed_values_are_the_check_bounds(checked_db: tuple[Database, Table]) -> None:
    _, table = checked_db
    bounds = strategies.table_bounds(table)
    assert bounds["difficulty"] == ColumnBounds(min=1, max=5)
    values = draws(values_for(table.column("level"), bounds=bounds["level"]))
    assert set(values) == {3, 4, 5, 6, 7, 8, 9}
    prices = draws(values_for(table.column("price"), bounds=bounds["price"]), 200)
    assert min(prices) == Decimal("0.01")
    assert all(p.as_tuple().exponent == -2 for p in prices)


def test_learning_schema_rows_are_accepted(learning_db: Database) -> None:
    """Every table of the learning app: parents inserted first, FK columns filled by hand."""
    with learning_db.connect() as conn, conn.transaction(force_rollback=True):
        catalog = load_catalog(conn, ["public"])
        tables = {table.name.name: table for table in catalog.tables}
        parents = (tables["sessions"], tables["content"])

        def check(table: Table) -> Callable[[], None]:
            references = {c for fk in table.foreign_keys for c in fk.columns}

            @settings(max_examples=15, deadline=None, derandomize=True, database=None)
            @given(rows_for(table), *(rows_for(parent) for parent in parents))
            def insert_row(
                row: dict[str, Any], session: dict[str, Any], content: dict[str, Any]
            ) -> None:
                with conn.transaction(force_rollback=True):
                    session_id = insert(conn, parents[0], session)["id"]
                    content_id = insert(conn, parents[1], content)["id"]
                    for column in references:
                        row[column] = session_id if column == "session_id" else content_id
                    insert(conn, table, row)

            return insert_row

        checked = [t for t in catalog.tables if t.name.name != "schema_migrations"]
        for table in checked:
            check(table)()
        assert len(checked) == 7


# --- the registry -------------------------------------------------------------------------------


def test_type_registration_wins_over_the_built_in() -> None:
    registry = StrategyRegistry()
    registry.register_type("int4", st.just(7))
    assert set(draws(values_for(Column("n", 1, INT4, True), registry=registry))) == {7}
    # ...only in that registry.
    assert len(set(draws(values_for(Column("n", 1, INT4, True))))) > 1


def test_type_registration_by_sql_name_domain_and_base() -> None:
    varchar5 = ColumnType("character varying(5)", "varchar", "pg_catalog", "S", 9)
    domain = replace(TEXT, sql="shop.email", domain="shop.email")
    registry = StrategyRegistry()
    registry.register_type("character varying(5)", st.just("sql"))
    registry.register_type("email", st.just("domain"))
    assert set(draws(values_for(Column("v", 1, varchar5, True), registry=registry))) == {"sql"}
    assert set(draws(values_for(Column("e", 1, domain, True), registry=registry))) == {"domain"}
    registry.register_type("shop.email", st.just("qualified"))  # wins over the bare name
    assert set(draws(values_for(Column("e", 1, domain, True), registry=registry))) == {"qualified"}


def test_base_type_registration_draws_array_elements() -> None:
    array = replace(INT4, sql="integer[]", array_dims=1)
    registry = StrategyRegistry()
    registry.register_type("int4", st.just(7))
    values = draws(values_for(Column("a", 1, array, True), registry=registry))
    assert {e for value in values for e in value} <= {7, None}
    registry.register_type("integer[]", st.just([1, 2]))  # the whole value
    assert draws(values_for(Column("a", 1, array, True), registry=registry)) == [[1, 2]]


def test_column_registration_wins_and_is_used_as_is() -> None:
    registry = StrategyRegistry()
    registry.register_type("text", st.just("type"))
    registry.register_column("public.shapes.label", st.just("column"))
    label = Column("label", 1, TEXT, not_null=False)
    # As is: a nullable column's own strategy decides about None.
    assert set(draws(values_for(label, table=SHAPES, registry=registry))) == {"column"}
    other = Column("other", 2, TEXT, not_null=False)
    assert set(draws(values_for(other, table=SHAPES, registry=registry))) == {"type", None}


def test_module_functions_use_the_default_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = StrategyRegistry()
    monkeypatch.setattr(strategies, "default_registry", registry)
    strategies.register_type("geometry", st.just("POINT(0 0)"))
    strategies.register_column("public.shapes.n", st.just(3))
    assert draws(values_for(Column("p", 1, GEOMETRY, True))) == ["POINT(0 0)"]
    assert draws(values_for(Column("n", 1, INT4, True), table=SHAPES)) == [3]


def test_copy_is_independent() -> None:
    registry = StrategyRegistry()
    registry.register_type("int4", st.just(1))
    clone = registry.copy()
    clone.register_type("int4", st.just(2))
    assert draws(values_for(Column("n", 1, INT4, True), registry=registry)) == [1]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.register_type("int4", 7), TypeError, "strategy=7 is not a hypothesis"),
        (
            lambda r: r.register_type("int4", st.integers),
            TypeError,
            "did you mean to call it: integers()?",
        ),
        (lambda r: r.register_type(4, st.just(1)), TypeError, "type_name must be a str"),
        (lambda r: r.register_type(" ", st.just(1)), ValueError, "type_name is empty"),
        (lambda r: r.register_column("public.t.c", None), TypeError, "strategy=None"),
        (lambda r: r.register_column(("public", "t", "c"), st.just(1)), TypeError, "must be a str"),
        (
            lambda r: r.register_column("content.topic", st.just(1)),
            ValueError,
            "did you mean 'public.content.topic'?",
        ),
        (
            lambda r: r.register_column("topic", st.just(1)),
            ValueError,
            "did you mean 'public.<table>.topic'?",
        ),
        (
            lambda r: r.register_column("my.schema.orders.total", st.just(1)),
            ValueError,
            "quote a part that contains a dot",
        ),
        (lambda r: r.register_column("public..c", st.just(1)), ValueError, "empty name part"),
    ],
)
def test_registration_errors(
    call: Callable[[StrategyRegistry], None], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(StrategyRegistry())


def test_quoted_column_names_register_and_print_alike() -> None:
    table = TableName("my.schema", 'odd "name"')
    name = qualified_column_name(table, "total")
    assert name == '"my.schema"."odd ""name""".total'
    registry = StrategyRegistry()
    registry.register_column(name, st.just(1))
    assert registry.column_strategy(table, "total") is not None


def test_unsupported_type_names_the_column_and_the_registration() -> None:
    column = Column("area", 3, GEOMETRY, not_null=True)
    with pytest.raises(UnsupportedTypeError) as info:
        values_for(column, table=SHAPES)
    message = str(info.value)
    assert isinstance(info.value, DbverifyError)
    assert "column public.shapes.area of type geometry" in message
    assert "pytest_dbverify.strategies.register_type('geometry', <strategy>)" in message
    assert "pytest_dbverify.strategies.register_column('public.shapes.area', <strategy>)" in message


def test_unsupported_arrays_domains_and_tables_unknown() -> None:
    array = replace(GEOMETRY, sql="geometry[]", array_dims=1)
    with pytest.raises(UnsupportedTypeError, match=r"register_type\('geometry'"):
        values_for(Column("areas", 1, array, True), table=SHAPES)
    domain = replace(GEOMETRY, sql="geo.shape", domain="geo.shape")
    with pytest.raises(UnsupportedTypeError, match=r"register_type\('geo.shape'"):
        values_for(Column("s", 1, domain, True), table=SHAPES)
    with pytest.raises(UnsupportedTypeError, match=r"register_column\('<schema>.<table>.s'"):
        values_for(Column("s", 1, domain, True))
    for unsupported in ("pg_snapshot", "txid_snapshot", "aclitem", "geography"):
        ctype = ColumnType(unsupported, unsupported, "pg_catalog", "U", -1)
        with pytest.raises(UnsupportedTypeError):
            values_for(Column("x", 1, ctype, True), table=SHAPES)


def test_interval_restricted_to_fields_is_unsupported() -> None:
    year_to_month = ColumnType("interval year to month", "interval", "pg_catalog", "T", 393215)
    with pytest.raises(UnsupportedTypeError):
        values_for(Column("i", 1, year_to_month, True), table=SHAPES)


# --- rows_for: which columns ------------------------------------------------------------------

EVENT = Table(
    name=TableName("public", "event"),
    kind="table",
    columns=(
        Column("id", 1, INT8, True, identity="always"),
        Column("seq", 2, INT4, True, identity="by default"),
        Column("serial_no", 3, INT4, True, default="nextval('event_serial_no_seq'::regclass)"),
        Column("session_id", 4, UUID, True),
        Column("content_id", 5, UUID, False),
        Column("kind", 6, TEXT, True),
        Column("note", 7, TEXT, False),
        Column("created_at", 8, TSTZ, True, default="now()"),
        Column("total", 9, NUMERIC, False, default="(1 + 1)", generated="stored"),
    ),
    constraints=(
        Constraint(
            "event_content_id_fkey",
            "foreign key",
            ("content_id",),
            "FOREIGN KEY (content_id) REFERENCES content(id)",
            ref_table=TableName("public", "content"),
            ref_columns=("id",),
        ),
        Constraint(
            "event_session_id_fkey",
            "foreign key",
            ("session_id",),
            "FOREIGN KEY (session_id) REFERENCES sessions(id)",
            ref_table=TableName("public", "sessions"),
            ref_columns=("id",),
        ),
        Constraint(
            "event_kind_check",
            "check",
            ("kind",),
            "CHECK (kind = ANY (ARRAY['view'::text, 'skip'::text]))",
            expression="(kind = ANY (ARRAY['view'::text, 'skip'::text]))",
        ),
    ),
)


def test_rows_leave_out_keys_fks_and_generated_columns() -> None:
    rows = draws(rows_for(EVENT), 100)
    keys = {key for row in rows for key in row}
    assert keys == {"kind", "note", "created_at"}
    assert all(row["kind"] in ("view", "skip") for row in rows)  # always there, narrowed
    # Optional columns come and go, so that defaults are exercised too.
    assert any("note" in row for row in rows)
    assert any("note" not in row for row in rows)
    assert any("created_at" not in row for row in rows)


def test_rows_always_draw_a_not_null_domain_column() -> None:
    quantity = replace(INT4, sql="shop.quantity", domain="shop.quantity", domain_not_null=True)
    table = replace(EVENT, columns=(*EVENT.columns, Column("quantity", 10, quantity, False)))
    assert all(row["quantity"] is not None for row in draws(rows_for(table), 30))


def test_rows_draw_linked_columns_together_and_in_order() -> None:
    created = Column("created_at", 8, TSTZ, True, default="now()")
    ended = Column("ended_at", 10, TSTZ, False)
    check = "((ended_at IS NULL) OR (ended_at >= created_at))"
    table = replace(
        EVENT,
        columns=(*EVENT.columns[:7], created, EVENT.columns[8], ended),
        constraints=(
            *EVENT.constraints,
            Constraint("ended_check", "check", ("ended_at", "created_at"), "", expression=check),
        ),
    )
    rows = draws(rows_for(table), 100)
    # Drawn together or left out together: ended_at never meets created_at's now().
    assert all(("created_at" in row) == ("ended_at" in row) for row in rows)
    pairs = [row for row in rows if row.get("ended_at") is not None]
    assert pairs
    assert all(row["ended_at"] >= row["created_at"] for row in pairs)  # sorted, not filtered


def test_rows_sort_each_ordered_group_on_its_own() -> None:
    numeric = ColumnType("numeric", "numeric", "pg_catalog", "N", -1)
    table = Table(
        name=TableName("public", "spans"),
        kind="table",
        columns=(
            Column("starts", 1, TSTZ, True),
            Column("ends", 2, TSTZ, True),
            Column("low", 3, INT4, True),
            Column("high", 4, INT4, True),
            Column("price", 5, numeric, True),
        ),
        constraints=tuple(
            Constraint(name, "check", (), "", expression=expression)
            for name, expression in (
                ("span", "(ends > starts)"),
                ("range", "(high >= low)"),
                ("price", "(low <= price)"),  # integer and numeric: never swapped
            )
        ),
    )
    rows = draws(rows_for(table), 100)
    assert all(row["ends"] >= row["starts"] and row["high"] >= row["low"] for row in rows)
    assert all(type(row["low"]) is int and type(row["price"]) is Decimal for row in rows)


def test_rows_include_requested_columns() -> None:
    rows = draws(rows_for(EVENT, columns=["session_id", "seq", "note"]), 30)
    assert all({"session_id", "seq", "note", "kind"} <= set(row) for row in rows)


def test_rows_for_refuses_unknown_and_uninsertable_columns() -> None:
    with pytest.raises(ValueError, match="no column 'knd'; did you mean 'kind'"):
        rows_for(EVENT, columns=["knd"])
    with pytest.raises(ValueError, match="'total' cannot be inserted"):
        rows_for(EVENT, columns=["total"])
    with pytest.raises(ValueError, match="'id' cannot be inserted"):
        rows_for(EVENT, columns=["id"])


def test_rows_for_refuses_a_registered_column_the_table_lacks() -> None:
    registry = StrategyRegistry()
    registry.register_column("public.event.nte", st.just("x"))
    with pytest.raises(ValueError, match=r"public\.event has no column 'nte'; did you mean 'note'"):
        rows_for(EVENT, registry=registry)


def test_key_values_of_a_nullable_column_never_throw_a_test_case_away() -> None:
    """NULL is left out of the values, not filtered: a filter that cannot pass aborts."""
    table = Table(
        TableName("s", "t"),
        "table",
        (Column("id", 1, INT4, not_null=True), Column("nick", 2, TEXT, not_null=False)),
    )
    valid: list[int] = []

    @settings(FAST, max_examples=30)
    @given(st.data())
    def draw_keys(data: st.DataObject) -> None:
        keys = [data.draw(strategies.key_values(table, "nick")) for _ in range(20)]
        assert None not in keys
        valid.append(1)

    draw_keys()
    assert len(valid) == 30


def test_a_default_its_check_refuses_is_drawn_instead() -> None:
    """credit DEFAULT 0.00 CHECK (credit > 0.00): a row leaving it out is always refused."""
    credit = Column("credit", 2, NUMERIC, not_null=True, default="0.00")
    check = Constraint("t_credit_check", "check", ("credit",), "CHECK ((credit > 0.00))",
                       expression="(credit > 0.00)")  # fmt: skip
    table = Table(
        TableName("s", "t"), "table", (Column("id", 1, INT4, not_null=True), credit), (check,)
    )
    rows = draws(rows_for(table, minimal=True), 30)
    assert all(row["credit"] > 0 for row in rows)
