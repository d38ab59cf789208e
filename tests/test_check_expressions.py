"""CHECK expressions as PostgreSQL prints them: parsing, bounds, evaluation, violations.

The corpus below is what ``pg_get_expr(conbin, conrelid)`` printed for each CHECK on
PostgreSQL 15.18 and 18.6 (session TimeZone UTC): the two versions print every one of
them identically. The unit tests read the texts; the database tests at the end prove,
on both servers, that the texts are still what the server prints and that every
violation candidate is refused by the server with the constraint's name.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import errors, sql

from pytest_dbverify.catalog import ColumnType, load_catalog
from pytest_dbverify.check_expressions import (
    NON_NULL,
    UNKNOWN,
    ArrayLit,
    BoolOp,
    CalendarInterval,
    Cast,
    Column,
    ColumnBounds,
    Compare,
    Const,
    Func,
    Match,
    Opaque,
    Quantified,
    ValueDomain,
    check_result,
    column_bounds,
    column_order,
    columns_of,
    constant_value,
    evaluate,
    null_patterns,
    parse,
    python_pattern,
    violations,
)
from pytest_dbverify.embedded import ServerInfo
from tests.conftest import Database, create_database, drop_database

UTC = timezone.utc
MOOD = ("sad", "ok", "very happy")


@dataclass(frozen=True)
class Case:
    """One CHECK: its columns, as written in DDL, and as the server prints it."""

    id: str
    columns: str
    check: str
    printed: str


CORPUS = (
    Case(
        "between",
        "difficulty smallint",
        "difficulty BETWEEN 1 AND 5",
        "((difficulty >= 1) AND (difficulty <= 5))",
    ),
    Case(
        "in_text",
        "format text",
        "format IN ('text', 'quiz', 'video')",
        "(format = ANY (ARRAY['text'::text, 'quiz'::text, 'video'::text]))",
    ),
    Case("not_empty", "topic text", "topic <> ''", "(topic <> ''::text)"),
    Case("min", "attempts integer", "attempts >= 0", "(attempts >= 0)"),
    Case(
        "float_between",
        "mastery double precision",
        "mastery BETWEEN 0 AND 1",
        "((mastery >= (0)::double precision) AND (mastery <= (1)::double precision))",
    ),
    Case(
        "ended_after_created",
        "created_at timestamptz, ended_at timestamptz",
        "ended_at IS NULL OR ended_at >= created_at",
        "((ended_at IS NULL) OR (ended_at >= created_at))",
    ),
    Case(
        "error_when_failed",
        "status text, error text",
        "status <> 'failed' OR (error IS NOT NULL AND error <> '')",
        "((status <> 'failed'::text) OR ((error IS NOT NULL) AND (error <> ''::text)))",
    ),
    Case(
        "contained",
        "preferred_formats text[]",
        "preferred_formats <@ ARRAY['text', 'quiz']::text[]",
        "(preferred_formats <@ ARRAY['text'::text, 'quiz'::text])",
    ),
    Case("quoted", '"Max Value" integer', '"Max Value" >= 0', '("Max Value" >= 0)'),
    Case("quote_in_name", '"we""ird" integer', '"we""ird" < 10', '("we""ird" < 10)'),
    Case("reserved_word", '"select" text', "\"select\" IN ('x')", "(\"select\" = 'x'::text)"),
    Case(
        "non_ascii",
        '"naïve ☃" integer',
        '"naïve ☃" BETWEEN 1 AND 3',
        '(("naïve ☃" >= 1) AND ("naïve ☃" <= 3))',
    ),
    Case(
        "numeric_scale",
        "price numeric(10,2)",
        "price > 0 AND price < 1000.50",
        "((price > (0)::numeric) AND (price < 1000.50))",
    ),
    Case("real_exclusive", "ratio real", "ratio > 0.5", "(ratio > (0.5)::double precision)"),
    Case(
        "varchar_in",
        "code varchar(10)",
        "code IN ('a', 'b')",
        "((code)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))",
    ),
    Case("varchar_not_empty", "code2 varchar(10)", "code2 <> ''", "((code2)::text <> ''::text)"),
    Case("char_not_empty", "ch char(3)", "ch <> ''", "(ch <> ''::bpchar)"),
    Case(
        "negative_constant",
        "big bigint",
        "big BETWEEN -5 AND 5",
        "((big >= '-5'::integer) AND (big <= 5))",
    ),
    Case("negative_exclusive", "neg integer", "neg > -10", "(neg > '-10'::integer)"),
    Case("not_in", "lvl integer", "lvl NOT IN (1, 2)", "(lvl <> ALL (ARRAY[1, 2]))"),
    Case("date", "d date", "d >= '2000-01-01'", "(d >= '2000-01-01'::date)"),
    Case(
        "timestamp",
        "ts timestamp",
        "ts < '2100-01-01 00:00:00'",
        "(ts < '2100-01-01 00:00:00'::timestamp without time zone)",
    ),
    Case(
        "timestamp0",
        "ts0 timestamp(0)",
        "ts0 >= '2000-01-01'",
        "(ts0 >= '2000-01-01 00:00:00'::timestamp without time zone)",
    ),
    Case(
        "timestamptz",
        "q timestamptz",
        "q > '2020-01-01'",
        "(q > '2020-01-01 00:00:00+00'::timestamp with time zone)",
    ),
    Case("enum_not_equal", "m mood", "m <> 'sad'", "(m <> 'sad'::mood)"),
    Case(
        "enum_in",
        "m2 mood",
        "m2 IN ('ok', 'very happy')",
        "(m2 = ANY (ARRAY['ok'::mood, 'very happy'::mood]))",
    ),
    Case(
        "coalesce",
        "requested_at timestamptz, started_at timestamptz, finished_at timestamptz",
        "finished_at IS NULL OR finished_at >= COALESCE(started_at, requested_at)",
        "((finished_at IS NULL) OR (finished_at >= COALESCE(started_at, requested_at)))",
    ),
    Case(
        "two_columns",
        "created_at timestamptz, last_active_at timestamptz",
        "last_active_at >= created_at",
        "(last_active_at >= created_at)",
    ),
    Case("less_than_column", "a integer, b integer", "a < b", "(a < b)"),
    Case(
        "column_and_constant",
        "a integer, b integer",
        "a <= b AND b <> 0",
        "((a <= b) AND (b <> 0))",
    ),
    Case("is_not_null", "cj text", "cj IS NOT NULL", "(cj IS NOT NULL)"),
    Case("plain_numeric", "n numeric", "n BETWEEN 0.5 AND 2.5", "((n >= 0.5) AND (n <= 2.5))"),
    Case("int_in", "i4 integer", "i4 IN (1, 2, 3)", "(i4 = ANY (ARRAY[1, 2, 3]))"),
    Case("constant_first", "sym integer", "0 <= sym", "(0 <= sym)"),
    Case("length", "lenc text", "length(lenc) <= 10", "(length(lenc) <= 10)"),
    Case("char_length", "lenc2 text", "char_length(lenc2) > 0", "(char_length(lenc2) > 0)"),
    Case("bool_column", "bool_c boolean", "bool_c", "bool_c"),
    Case("not_between", "bt integer", "bt NOT BETWEEN 3 AND 4", "((bt < 3) OR (bt > 4))"),
    Case(
        "between_symmetric",
        "iso integer",
        "iso BETWEEN SYMMETRIC 5 AND 1",
        "(((iso >= 5) AND (iso <= 1)) OR ((iso >= 1) AND (iso <= 5)))",
    ),
    Case(
        "float_numeric_casts",
        "fl double precision",
        "fl >= -1.5 AND fl <= 1.5e3",
        "((fl >= ('-1.5'::numeric)::double precision) AND "
        "(fl <= ('1500'::numeric)::double precision))",
    ),
    Case("equals", "e text", "e = 'x'", "(e = 'x'::text)"),
    Case("trim", "tr text", "trim(tr) <> ''", "(TRIM(BOTH FROM tr) <> ''::text)"),
    Case("lower", "lw text", "lower(lw) = lw", "(lower(lw) = lw)"),
    Case("position", "em text", "position('@' in em) > 1", "(POSITION(('@'::text) IN (em)) > 1)"),
    Case("strpos_absent", "sp text", "strpos(sp, '#') = 0", "(strpos(sp, '#'::text) = 0)"),
    Case("starts_with", "sw text", "starts_with(sw, 'ab')", "starts_with(sw, 'ab'::text)"),
    Case("upper_like", "ul text", "upper(ul) LIKE 'A%'", "(upper(ul) ~~ 'A%'::text)"),
    Case(
        "array_literal",
        "ilist text",
        "ilist = ANY ('{a,b}'::text[])",
        "(ilist = ANY ('{a,b}'::text[]))",
    ),
    Case(
        "bigint_max",
        "i8 bigint",
        "i8 >= 0 AND i8 < 9223372036854775807",
        "((i8 >= 0) AND (i8 < '9223372036854775807'::bigint))",
    ),
    Case("interval", "iv interval", "iv >= '0 seconds'::interval", "(iv >= '00:00:00'::interval)"),
    Case(
        "uuid",
        "u uuid",
        "u <> '00000000-0000-0000-0000-000000000000'",
        "(u <> '00000000-0000-0000-0000-000000000000'::uuid)",
    ),
    Case(
        "varchar_not_in",
        "vv varchar(5)",
        "vv NOT IN ('x', 'y')",
        "((vv)::text <> ALL ((ARRAY['x'::character varying, 'y'::character varying])::text[]))",
    ),
    Case("escaped_quote", "q2 text", "q2 <> 'it''s'", "(q2 <> 'it''s'::text)"),
    Case("numeric_negative", "num2 numeric(6,3)", "num2 >= -1.25", "(num2 >= '-1.25'::numeric)"),
    Case(
        "negative_range",
        "neg2 integer",
        "neg2 BETWEEN -5 AND -1",
        "((neg2 >= '-5'::integer) AND (neg2 <= '-1'::integer))",
    ),
    Case(
        "real_between",
        "flt real",
        "flt BETWEEN 0 AND 1",
        "((flt >= (0)::double precision) AND (flt <= (1)::double precision))",
    ),
    Case(
        "three_conjuncts",
        "a3 integer",
        "a3 > 0 AND a3 < 5 AND a3 <> 3",
        "((a3 > 0) AND (a3 < 5) AND (a3 <> 3))",
    ),
    Case("collate", "aa text", "aa COLLATE \"C\" > 'a'", "((aa COLLATE \"C\") > 'a'::text)"),
    Case("not", "b2 integer", "NOT (b2 < 0)", "(NOT (b2 < 0))"),
    Case("like", "c text", "c LIKE 'a%'", "(c ~~ 'a%'::text)"),
    Case(
        "regex_or_distinct",
        "c text, d2 text",
        "c ~ '^x' OR d2 IS DISTINCT FROM 'q'",
        "((c ~ '^x'::text) OR (d2 IS DISTINCT FROM 'q'::text))",
    ),
    Case(
        "interval_arithmetic",
        "kk timestamptz, ll timestamptz",
        "ll > kk + interval '1 day'",
        "(ll > (kk + '1 day'::interval))",
    ),
    Case("sum", "mm integer, nn integer", "mm + nn < 10", "((mm + nn) < 10)"),
    Case("smallint_cast", "dd smallint", "dd < 100::smallint", "(dd < (100)::smallint)"),
    Case(
        "jsonb_typeof",
        "js jsonb",
        "jsonb_typeof(js) = 'object'",
        "(jsonb_typeof(js) = 'object'::text)",
    ),
    Case("similar_to", "ee text", "ee SIMILAR TO 'a+'", "(ee ~ similar_to_escape('a+'::text))"),
    Case("cardinality", "f text[]", "cardinality(f) > 0", "(cardinality(f) > 0)"),
    Case(
        "array_literal_int", "ff integer", "ff = ANY ('{1,2}')", "(ff = ANY ('{1,2}'::integer[]))"
    ),
    Case("array_length", "g text[]", "array_length(g, 1) <= 3", "(array_length(g, 1) <= 3)"),
    Case(
        "or_null",
        "gg integer",
        "gg BETWEEN 1 AND 5 OR gg IS NULL",
        "(((gg >= 1) AND (gg <= 5)) OR (gg IS NULL))",
    ),
    Case(
        "numeric_mixed",
        "h numeric",
        "h BETWEEN -1.5 AND 2",
        "((h >= '-1.5'::numeric) AND (h <= (2)::numeric))",
    ),
    Case("int_contained", "hh integer[]", "hh <@ ARRAY[1, 2, 3]", "(hh <@ ARRAY[1, 2, 3])"),
    Case("single_in", "i integer", "i IN (7)", "(i = 7)"),
    Case("overlap", "ii text[]", "ii && ARRAY['a']", "(ii && ARRAY['a'::text])"),
    Case("is_true", "k boolean", "k IS TRUE", "(k IS TRUE)"),
    Case("not_bool", "l boolean", "NOT l", "(NOT l)"),
    Case("equals_true", "m3 boolean", "m3 = true", "(m3 = true)"),
    Case("nan", "o double precision", "o <> 'NaN'", "(o <> 'NaN'::double precision)"),
    Case("octet_length", "oo text", "octet_length(oo) < 100", "(octet_length(oo) < 100)"),
    Case("exponent", "pp numeric", "pp >= 1e3", "(pp >= '1000'::numeric)"),
    Case("small_decimal", "qq numeric", "qq < 1e-3", "(qq < 0.001)"),
    Case("current_date", "r date", "r < CURRENT_DATE + 1", "(r < (CURRENT_DATE + 1))"),
    Case(
        "case",
        "t integer",
        "CASE WHEN t > 0 THEN true ELSE false END",
        "\nCASE\n    WHEN (t > 0) THEN true\n    ELSE false\nEND",
    ),
    Case(
        "negative_in",
        "v integer",
        "v IN (-1, -2)",
        "(v = ANY (ARRAY['-1'::integer, '-2'::integer]))",
    ),
    Case("numeric_in", "w numeric(4,1)", "w IN (1.5, 2.5)", "(w = ANY (ARRAY[1.5, 2.5]))"),
    Case("redundant", "x integer", "x >= 1 AND x >= 2", "((x >= 1) AND (x >= 2))"),
    Case("not_like", "y text", "y NOT LIKE '%z%'", "(y !~~ '%z%'::text)"),
    Case("is_true_of_comparison", "z integer", "(z > 0) IS TRUE", "((z > 0) IS TRUE)"),
    Case("bang_equals", "bb integer", "bb != 5", "(bb <> 5)"),
    Case("bigint_constant", "cc bigint", "cc > 2147483648", "(cc > '2147483648'::bigint)"),
    Case(
        "extract",
        "ex date",
        "EXTRACT(year FROM ex) > 2000",
        "(EXTRACT(year FROM ex) > (2000)::numeric)",
    ),
    Case("time", "tm time", "tm < '12:00'", "(tm < '12:00:00'::time without time zone)"),
    Case("citext_like_text_eq", "nm name", "nm <> ''", "(nm <> ''::name)"),
    Case("in_with_null", "wn integer", "wn IN (1, NULL)", "(wn = ANY (ARRAY[1, NULL::integer]))"),
    Case(
        "not_in_with_null",
        "wnn integer",
        "wnn NOT IN (1, NULL)",
        "(wnn <> ALL (ARRAY[1, NULL::integer]))",
    ),
    Case("upper_bound_of_type", "sm smallint", "sm <= 32767", "(sm <= 32767)"),
)
DOMAINS = (
    ("domain_positive", "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)", "(VALUE > 0)"),
    (
        "domain_between",
        "CREATE DOMAIN pct AS numeric(5,2) CHECK (VALUE BETWEEN 0 AND 100)",
        "((VALUE >= (0)::numeric) AND (VALUE <= (100)::numeric))",
    ),
    (
        "domain_varchar_in",
        "CREATE DOMAIN yesno AS varchar(3) CHECK (VALUE IN ('YES', 'NO'))",
        "((VALUE)::text = ANY "
        "((ARRAY['YES'::character varying, 'NO'::character varying])::text[]))",
    ),
    (
        "domain_regex",
        "CREATE DOMAIN code AS text CHECK (VALUE ~ '^[A-Z]+$')",
        "(VALUE ~ '^[A-Z]+$'::text)",
    ),
    (
        "domain_cardinality",
        "CREATE DOMAIN tags AS varchar(20)[] CHECK (cardinality(VALUE) <= 3)",
        "(cardinality(VALUE) <= 3)",
    ),
)
CASES = {case.id: case for case in CORPUS}


def numeric_typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | scale) + 4


# SQL type as written in the corpus -> (pg_type name, typmod); a trailing [] makes an array.
SQL_TYPES: dict[str, tuple[str, int]] = {
    "smallint": ("int2", -1),
    "integer": ("int4", -1),
    "bigint": ("int8", -1),
    "numeric": ("numeric", -1),
    "numeric(10,2)": ("numeric", numeric_typmod(10, 2)),
    "numeric(6,3)": ("numeric", numeric_typmod(6, 3)),
    "numeric(5,2)": ("numeric", numeric_typmod(5, 2)),
    "numeric(4,1)": ("numeric", numeric_typmod(4, 1)),
    "real": ("float4", -1),
    "double precision": ("float8", -1),
    "text": ("text", -1),
    "name": ("name", -1),
    "varchar(10)": ("varchar", 14),
    "varchar(5)": ("varchar", 9),
    "varchar(3)": ("varchar", 7),
    "varchar(20)": ("varchar", 24),
    "char(3)": ("bpchar", 7),
    "boolean": ("bool", -1),
    "date": ("date", -1),
    "time": ("time", -1),
    "timestamp": ("timestamp", -1),
    "timestamp(0)": ("timestamp", 0),
    "timestamptz": ("timestamptz", -1),
    "interval": ("interval", -1),
    "uuid": ("uuid", -1),
    "jsonb": ("jsonb", -1),
    "mood": ("mood", -1),
}


def ctype(sql_type: str) -> ColumnType:
    """Return the ColumnType the catalog gives a column declared ``sql_type``."""
    dims = sql_type.count("[]")
    base, modifier = SQL_TYPES[sql_type.replace("[]", "")]
    return ColumnType(
        sql=sql_type,
        base=base,
        base_schema="public" if base == "mood" else "pg_catalog",
        category="",
        modifier=modifier,
        array_dims=dims,
        enum_values=MOOD if base == "mood" else (),
    )


_COLUMN = re.compile(r'\s*("(?:[^"]|"")*"|\w+)\s+(.+?)\s*$')


def types_of(columns: str) -> dict[str, ColumnType]:
    """Return the types of ``a integer, "B c" text[]`` by column name."""
    result = {}
    for definition in columns.split(", "):
        match = _COLUMN.match(definition)
        assert match is not None, definition
        name = match[1][1:-1].replace('""', '"') if match[1].startswith('"') else match[1]
        result[name] = ctype(match[2])
    return result


def case_types(case_id: str) -> dict[str, ColumnType]:
    return types_of(CASES[case_id].columns)


# --- bounds ---------------------------------------------------------------------------------

EXPECTED_BOUNDS: dict[str, dict[str, ColumnBounds]] = {
    "between": {"difficulty": ColumnBounds(min=1, max=5)},
    "in_text": {"format": ColumnBounds(choices=("text", "quiz", "video"))},
    "not_empty": {"topic": ColumnBounds(not_equal=("",))},
    "min": {"attempts": ColumnBounds(min=0)},
    "float_between": {"mastery": ColumnBounds(min=0.0, max=1.0)},
    "contained": {"preferred_formats": ColumnBounds(element_choices=("text", "quiz"))},
    "quoted": {"Max Value": ColumnBounds(min=0)},
    "quote_in_name": {'we"ird': ColumnBounds(max=10, max_inclusive=False)},
    "reserved_word": {"select": ColumnBounds(choices=("x",))},
    "non_ascii": {"naïve ☃": ColumnBounds(min=1, max=3)},
    "numeric_scale": {
        "price": ColumnBounds(
            min=Decimal(0),
            max=Decimal("1000.50"),
            min_inclusive=False,
            max_inclusive=False,
        )
    },
    "real_exclusive": {"ratio": ColumnBounds(min=0.5, min_inclusive=False)},
    "varchar_in": {"code": ColumnBounds(choices=("a", "b"))},
    "varchar_not_empty": {"code2": ColumnBounds(not_equal=("",))},
    "char_not_empty": {"ch": ColumnBounds(not_equal=("",))},
    "negative_constant": {"big": ColumnBounds(min=-5, max=5)},
    "not_in": {"lvl": ColumnBounds(not_equal=(1, 2))},
    "date": {"d": ColumnBounds(min=date(2000, 1, 1))},
    "timestamptz": {"q": ColumnBounds(min=datetime(2020, 1, 1, tzinfo=UTC), min_inclusive=False)},
    "enum_in": {"m2": ColumnBounds(choices=("ok", "very happy"))},
    "is_not_null": {"cj": ColumnBounds(not_null=True)},
    "constant_first": {"sym": ColumnBounds(min=0)},
    "length": {"lenc": ColumnBounds(max_length=10)},
    "char_length": {"lenc2": ColumnBounds(min_length=1)},
    "bool_column": {"bool_c": ColumnBounds(choices=(True,))},
    "array_literal": {"ilist": ColumnBounds(choices=("a", "b"))},
    "three_conjuncts": {
        "a3": ColumnBounds(min=0, max=5, min_inclusive=False, max_inclusive=False, not_equal=(3,))
    },
    "not": {"b2": ColumnBounds(min=0)},
    "cardinality": {"f": ColumnBounds(min_length=1)},
    "array_length": {"g": ColumnBounds(max_length=3)},
    # x IS NULL OR ...: NULL stays allowed, the rest narrows.
    "or_null": {"gg": ColumnBounds(min=1, max=5)},
    "redundant": {"x": ColumnBounds(min=2)},
    "column_and_constant": {"b": ColumnBounds(not_equal=(0,))},
    "in_with_null": {},  # an IN list holding NULL can never be FALSE: nothing to narrow
    # No single-column form: several columns, an opaque function or operator, string order.
    "ended_after_created": {},
    "error_when_failed": {},
    "not_between": {},
    "trim": {"tr": ColumnBounds(patterns=("[^ ]",))},  # a character btrim keeps
    "lower": {"lw": ColumnBounds(patterns=(r"\A[^A-Z]*\Z",))},  # no upper case letter
    # The first '@' at 2 or later: one character or more that is not '@', then '@'.
    "position": {"em": ColumnBounds(patterns=(r"\A[^@]{1,}@",))},
    "strpos_absent": {"sp": ColumnBounds(patterns=(r"\A[^\#]*\Z",))},
    "starts_with": {"sw": ColumnBounds(patterns=(r"\Aab",))},
    "upper_like": {"ul": ColumnBounds(patterns=(r"\AA.*\Z", r"\A[^a-z]*\Z"))},
    "collate": {},
    "like": {"c": ColumnBounds(patterns=(r"\Aa.*\Z",))},  # LIKE 'a%' as a Python regex
    "sum": {},
    "jsonb_typeof": {"js": ColumnBounds(json_type="object")},
    "case": {},
    "extract": {},
}


@pytest.mark.parametrize("case_id", sorted(EXPECTED_BOUNDS))
def test_column_bounds(case_id: str) -> None:
    assert column_bounds(CASES[case_id].printed, case_types(case_id)) == EXPECTED_BOUNDS[case_id]


def test_bounds_follow_a_cast_only_when_it_keeps_values_exact() -> None:
    types = {"x": ctype("double precision"), "n": ctype("integer")}
    assert column_bounds("((x)::integer > 1)", types) == {}  # 1.2::integer is 1: not exact
    assert column_bounds("((n)::numeric > 1.5)", types) == {
        "n": ColumnBounds(min=Decimal("1.5"), min_inclusive=False)
    }


def test_bounds_of_several_checks_intersect() -> None:
    types = {"x": ctype("integer")}
    merged = column_bounds("((x >= 1) AND (x <= 9))", types)["x"].intersect(
        column_bounds("((x > 2) AND (x <> 5) AND (x = ANY (ARRAY[3, 5, 11])))", types)["x"]
    )
    assert merged == ColumnBounds(
        min=2, max=9, min_inclusive=False, choices=(3, 5, 11), not_equal=(5,)
    )


def test_or_of_equalities_gives_the_union_of_choices() -> None:
    text = "((kind = 'a'::text) OR (kind = 'b'::text) OR (kind IS NULL))"
    assert column_bounds(text, {"kind": ctype("text")}) == {
        "kind": ColumnBounds(choices=("a", "b"))
    }


def test_domain_check_narrows_value() -> None:
    (_, _, printed) = next(d for d in DOMAINS if d[0] == "domain_between")
    assert column_bounds(printed, {"VALUE": ctype("numeric(5,2)")}) == {
        "VALUE": ColumnBounds(min=Decimal(0), max=Decimal(100))
    }


# --- violations -------------------------------------------------------------------------------

T0 = datetime(2000, 1, 1, tzinfo=UTC)
BEFORE_T0 = T0 - timedelta(microseconds=1)

EXPECTED_VIOLATIONS: dict[str, list[dict[str, Any]]] = {
    "between": [{"difficulty": 0}, {"difficulty": 6}],
    "in_text": [{"format": "x"}],
    "not_empty": [{"topic": ""}],
    "min": [{"attempts": -1}],
    # The nearest float8 values outside [0, 1].
    "float_between": [{"mastery": -5e-324}, {"mastery": 1.0000000000000002}],
    "ended_after_created": [{"ended_at": BEFORE_T0, "created_at": T0}],
    "error_when_failed": [{"status": "failed", "error": None}, {"status": "failed", "error": ""}],
    "contained": [{"preferred_formats": ["x"]}],
    "quoted": [{"Max Value": -1}],
    "quote_in_name": [{'we"ird': 10}],
    "reserved_word": [{"select": "y"}],
    "non_ascii": [{"naïve ☃": 0}, {"naïve ☃": 4}],
    # An exclusive bound is itself the nearest violation; numeric(10,2) keeps 2 places.
    "numeric_scale": [{"price": Decimal("0.00")}, {"price": Decimal("1000.50")}],
    "real_exclusive": [{"ratio": 0.5}],
    "varchar_in": [{"code": "x"}],
    "varchar_not_empty": [{"code2": ""}],
    "char_not_empty": [{"ch": ""}],
    "negative_constant": [{"big": -6}, {"big": 6}],
    "negative_exclusive": [{"neg": -10}],
    "not_in": [{"lvl": 1}, {"lvl": 2}],
    "date": [{"d": date(1999, 12, 31)}],
    "timestamp": [{"ts": datetime(2100, 1, 1)}],
    # timestamp(0) rounds to the second: one microsecond earlier would round back up.
    "timestamp0": [{"ts0": datetime(1999, 12, 31, 23, 59, 59)}],
    "timestamptz": [{"q": datetime(2020, 1, 1, tzinfo=UTC)}],
    "enum_not_equal": [{"m": "sad"}],
    "enum_in": [{"m2": "sad"}],
    "coalesce": [
        {"finished_at": BEFORE_T0, "started_at": T0},
        {"finished_at": BEFORE_T0, "started_at": None, "requested_at": T0},
    ],
    "two_columns": [{"created_at": T0, "last_active_at": BEFORE_T0}],
    "less_than_column": [{"b": 1, "a": 1}],
    "column_and_constant": [{"b": 1, "a": 2}, {"b": 0}],
    "is_not_null": [{"cj": None}],
    "plain_numeric": [{"n": Decimal("0.4")}, {"n": Decimal("2.6")}],
    "int_in": [{"i4": 4}],
    "constant_first": [{"sym": -1}],
    "length": [{"lenc": "x" * 11}],
    "char_length": [{"lenc2": ""}],
    "bool_column": [{"bool_c": False}],
    "not_between": [{"bt": 3}, {"bt": 4}],
    "between_symmetric": [{"iso": 0}, {"iso": 6}],
    "float_numeric_casts": [{"fl": -1.5000000000000002}, {"fl": 1500.0000000000002}],
    "equals": [{"e": "y"}],
    "array_literal": [{"ilist": "x"}],
    "bigint_max": [{"i8": -1}, {"i8": 2**63 - 1}],
    "interval": [{"iv": timedelta(microseconds=-1)}],
    "uuid": [{"u": uuid.UUID(int=0)}],
    "varchar_not_in": [{"vv": "x"}, {"vv": "y"}],
    "escaped_quote": [{"q2": "it's"}],
    "numeric_negative": [{"num2": Decimal("-1.251")}],
    "negative_range": [{"neg2": -6}, {"neg2": 0}],
    # The nearest float4 values outside [0, 1] (a subnormal below zero).
    "real_between": [{"flt": -1.401298464324817e-45}, {"flt": 1.0000001192092896}],
    "three_conjuncts": [{"a3": 0}, {"a3": 5}, {"a3": 3}],
    "not": [{"b2": -1}],
    "smallint_cast": [{"dd": 100}],
    "cardinality": [{"f": []}],
    "array_literal_int": [{"ff": 3}],
    "array_length": [{"g": ["x", "x", "x", "x"]}],
    "or_null": [{"gg": 0}, {"gg": 6}],
    "numeric_mixed": [{"h": Decimal("-1.6")}, {"h": Decimal(3)}],
    "int_contained": [{"hh": [4]}],
    "single_in": [{"i": 8}],
    "overlap": [{"ii": []}],
    "is_true": [{"k": False}, {"k": None}],
    "not_bool": [{"l": True}],
    "equals_true": [{"m3": False}],
    "exponent": [{"pp": Decimal(999)}],
    "small_decimal": [{"qq": Decimal("0.001")}],
    "negative_in": [{"v": 0}],
    "numeric_in": [{"w": Decimal("2.6")}],
    "redundant": [{"x": 0}, {"x": 1}],
    "is_true_of_comparison": [{"z": 0}],
    "bang_equals": [{"bb": 5}],
    "bigint_constant": [{"cc": 2147483648}],
    "time": [{"tm": time(12)}],
    "citext_like_text_eq": [{"nm": ""}],
    "not_in_with_null": [{"wnn": 1}],
    # Nothing can be derived: the caller searches. Never a guess.
    "in_with_null": [],  # x IN (1, NULL) is TRUE or NULL, never FALSE
    "upper_bound_of_type": [],  # no smallint is above 32767
    "nan": [],
    "trim": [],
    "lower": [{"lw": "X"}],  # probed: an upper case letter
    "position": [{"em": ""}, {"em": "x"}, {"em": "X"}, {"em": "@"}],
    "strpos_absent": [{"sp": "#"}, {"sp": "x#"}, {"sp": "xx#"}],
    "starts_with": [{"sw": v} for v in ("", "x", "X", "xab", "xxab", "AB")],
    # Patterns are evaluated on ASCII texts, where Python's translation agrees.
    "upper_like": [{"ul": ""}, {"ul": "x"}, {"ul": "X"}, {"ul": "xA%"}, {"ul": "xxA%"}],
    "collate": [],  # string order depends on the collation
    "like": [{"c": ""}, {"c": "x"}, {"c": "X"}, {"c": "xa%"}, {"c": "xxa%"}, {"c": "A%"}],
    "not_like": [{"y": "%z%"}, {"y": "x%z%"}, {"y": "xx%z%"}],
    "similar_to": [
        {"ee": ""},
        {"ee": "x"},
        {"ee": "X"},
        {"ee": "a+"},
        {"ee": "xa+"},
        {"ee": "xxa+"},
        {"ee": "A+"},
    ],
    "regex_or_distinct": [{"c": "", "d2": "q"}],
    "interval_arithmetic": [],
    "sum": [],
    "jsonb_typeof": [],
    "octet_length": [],
    "current_date": [],
    "case": [],
    "extract": [],
}


def test_every_corpus_case_has_expected_violations() -> None:
    assert set(EXPECTED_VIOLATIONS) == set(CASES)


@pytest.mark.parametrize("case_id", sorted(EXPECTED_VIOLATIONS))
def test_violations(case_id: str) -> None:
    found = violations(CASES[case_id].printed, case_types(case_id))
    assert found == EXPECTED_VIOLATIONS[case_id]
    for candidate in found:
        # Types too: 0 and 0.0 and Decimal(0) compare equal but are not the same value.
        expected = EXPECTED_VIOLATIONS[case_id][found.index(candidate)]
        assert {k: type(v) for k, v in candidate.items()} == {
            k: type(v) for k, v in expected.items()
        }


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_every_violation_evaluates_to_false(case: Case) -> None:
    types = types_of(case.columns)
    for candidate in violations(case.printed, types):
        assert evaluate(case.printed, candidate, types) is False
        assert check_result(case.printed, candidate, types) is False


def test_violations_of_domain_checks() -> None:
    printed = {name: text for name, _, text in DOMAINS}
    assert violations(printed["domain_positive"], {"VALUE": ctype("integer")}) == [{"VALUE": 0}]
    assert violations(printed["domain_between"], {"VALUE": ctype("numeric(5,2)")}) == [
        {"VALUE": Decimal("-0.01")},
        {"VALUE": Decimal("100.01")},
    ]
    assert violations(printed["domain_varchar_in"], {"VALUE": ctype("varchar(3)")}) == [
        {"VALUE": "x"}
    ]
    # A regex: texts made of its own string, judged by the Python translation.
    assert {"VALUE": ""} in violations(printed["domain_regex"], {"VALUE": ctype("text")})
    assert violations(printed["domain_cardinality"], {"VALUE": ctype("varchar(20)[]")}) == [
        {"VALUE": ["x", "x", "x", "x"]}
    ]


def test_violations_respect_the_column_type() -> None:
    # A bound at the edge of the type: nothing of the type is outside it.
    assert violations("(x >= '-32768'::integer)", {"x": ctype("smallint")}) == []
    # A value the type cannot hold is never proposed (varchar(3) cannot hold 'xxxx').
    assert violations("(length(v) <= 3)", {"v": ctype("varchar(3)")}) == []
    # An integer column compared with a decimal: the nearest integers.
    assert violations("((n)::numeric > 1.5)", {"n": ctype("integer")}) == [{"n": 1}]
    # Without a type for a column, nothing is assigned to it.
    assert violations("(x >= 0)", {}) == []


def test_enum_in_list_covering_every_label_cannot_be_violated() -> None:
    text = "(m = ANY (ARRAY['sad'::mood, 'ok'::mood, 'very happy'::mood]))"
    assert violations(text, {"m": ctype("mood")}) == []


# --- parsing ----------------------------------------------------------------------------------


def test_parse_tree_of_a_range() -> None:
    assert parse(CASES["negative_constant"].printed) == BoolOp(
        "AND",
        (
            Compare(">=", Column("big"), Const(-5, "int4")),
            Compare("<=", Column("big"), Const(5, "int4")),
        ),
    )


def test_parse_tree_of_an_in_list() -> None:
    assert parse(CASES["varchar_in"].printed) == Quantified(
        "=", Cast(Column("code"), "text"), Const(["a", "b"], "text[]"), all=False
    )


def test_parse_converts_constants_to_python_values() -> None:
    assert parse("'2020-01-01 10:00:00.5+05:30'::timestamp with time zone") == Const(
        datetime(2020, 1, 1, 10, 0, 0, 500000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        "timestamptz",
    )
    assert parse("'1 day -01:30:00'::interval") == Const(
        timedelta(hours=22, minutes=30), "interval"
    )
    assert parse("('-1.5'::numeric)::double precision") == Const(-1.5, "float8")
    assert parse("'{a,\"b c\",NULL}'::text[]") == Const(["a", "b c", None], "text[]")
    assert parse("'x  '::bpchar") == Const("x", "bpchar")  # trailing spaces do not count
    assert parse("NULL::integer") == Const(None, "int4")


def test_parse_keeps_unknown_parts_opaque() -> None:
    node = parse("((x > 0) AND (y @@ 'a'::tsquery))")
    assert isinstance(node, BoolOp)
    assert node.args[0] == Compare(">", Column("x"), Const(0, "int4"))
    assert isinstance(node.args[1], Opaque)
    # A date in a DateStyle other than ISO is not guessed at.
    assert isinstance(parse("'01/02/2000'::date"), Opaque)
    assert isinstance(parse("'2000-01-01 BC'::date"), Opaque)
    # Not a timedelta: its length depends on the calendar (only clock bounds read it).
    assert parse("'1 year'::interval") == Const(CalendarInterval(12), "interval")


def test_parse_reads_hand_written_sql_too() -> None:
    node = parse("x between 1 and 5 and y in ('a', 'b') and z not in (1)")
    assert column_bounds(node) == {
        "x": ColumnBounds(min=1, max=5),
        "y": ColumnBounds(choices=("a", "b")),
        "z": ColumnBounds(not_equal=(1,)),
    }
    assert parse("x != -3") == Compare("<>", Column("x"), Const(-3, "int4"))
    assert parse("Difficulty > 0") == parse("difficulty > 0")  # unquoted names fold
    assert parse('"Difficulty" > 0') == Compare(">", Column("Difficulty"), Const(0, "int4"))
    assert parse("(" * 5000 + "x" + ")" * 5000) == Column("x")  # PostgreSQL reads it
    assert isinstance(parse("ARRAY[1, 2]"), ArrayLit)


def test_columns_of() -> None:
    assert columns_of(CASES["coalesce"].printed) == {"finished_at", "started_at", "requested_at"}
    assert columns_of(CASES["quote_in_name"].printed) == {'we"ird'}
    assert columns_of("(VALUE > 0)") == {"VALUE"}
    assert columns_of(CASES["current_date"].printed) == {"r"}


def test_constant_value_of_column_defaults() -> None:
    assert constant_value("'queued'::text") == "queued"
    assert constant_value("0") == 0
    assert constant_value("'{}'::text[]") == []
    assert constant_value("'{}'::jsonb") == "{}"  # compared as text at most
    assert constant_value("now()") is UNKNOWN
    assert constant_value("gen_random_uuid()") is UNKNOWN
    assert constant_value("nextval('t_id_seq'::regclass)") is UNKNOWN


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_parse_never_raises_on_a_truncated_text(case: Case) -> None:
    for end in range(len(case.printed) + 1):
        parse(case.printed[:end])
        parse(case.printed[end:])


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet=st.sampled_from("()[]'\":,.-+<>=!@&|~ aAbNOTANDORIS0123456789")))
def test_parse_never_raises(text: str) -> None:
    parse(text)


# --- evaluation -------------------------------------------------------------------------------

INT = {"x": ctype("integer"), "y": ctype("integer")}


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("((x > 0) AND (y > 0))", {"x": 0, "y": None}, False),  # FALSE AND NULL
        ("((x > 0) AND (y > 0))", {"x": 1, "y": None}, None),  # TRUE AND NULL
        ("((x > 0) OR (y > 0))", {"x": 1, "y": None}, True),  # TRUE OR NULL
        ("((x > 0) OR (y > 0))", {"x": 0, "y": None}, None),  # FALSE OR NULL
        ("((x > 0) OR (y > 0))", {"x": 0}, UNKNOWN),  # y missing: cannot tell
        ("((x > 0) AND (y > 0))", {"x": 0}, False),  # ...unless x decides
        ("(x = ANY (ARRAY[1, NULL::integer]))", {"x": 2}, None),
        ("(x <> ALL (ARRAY[1, NULL::integer]))", {"x": 1}, False),
        ("(x = ANY ('{}'::integer[]))", {"x": None}, False),  # even NULL is in no empty list
        ("(NOT (x < 0))", {"x": None}, None),
        ("((x > 0) IS TRUE)", {"x": None}, False),
        ("(x IS NULL)", {"x": None}, True),
        ("(COALESCE(x, y) > 0)", {"x": None, "y": 5}, True),
        ("(COALESCE(x, y) > 0)", {"x": 5}, True),  # y is never read
        ("(f(x) > 0)", {"x": 5}, UNKNOWN),
    ],
)
def test_three_valued_evaluation(text: str, row: dict[str, Any], expected: Any) -> None:
    assert evaluate(text, row, INT) is expected


def test_evaluation_stores_values_as_the_column_would() -> None:
    # char(3) ignores trailing spaces; varchar(5) refuses a longer value (an error, not FALSE).
    assert evaluate("(ch <> ''::bpchar)", {"ch": "   "}, {"ch": ctype("char(3)")}) is False
    assert (
        evaluate("((v)::text = 'abcdef'::text)", {"v": "abcdef"}, {"v": ctype("varchar(5)")})
        is UNKNOWN
    )
    # real rounds to float32: 0.1 is stored as 0.10000000149011612 > 0.1.
    assert evaluate("(r > (0.1)::double precision)", {"r": 0.1}, {"r": ctype("real")}) is True
    # numeric(10,2) rounds half away from zero.
    assert evaluate("(p >= 1.01)", {"p": Decimal("1.005")}, {"p": ctype("numeric(10,2)")}) is True
    # An enum label outside the type is an input error, not a comparison.
    assert evaluate("(m <> 'sad'::mood)", {"m": "angry"}, {"m": ctype("mood")}) is UNKNOWN
    # Text order depends on the collation: never decided here.
    assert evaluate("(t > 'a'::text)", {"t": "b"}, {"t": ctype("text")}) is UNKNOWN
    # jsonb content is not compared, but it is not NULL.
    assert evaluate("(j IS NOT NULL)", {"j": {"a": 1}}, {"j": ctype("jsonb")}) is True


def test_array_containment_follows_postgresql() -> None:
    types = {"a": ctype("text[]")}
    contained = "(a <@ ARRAY['x'::text, 'y'::text])"
    assert evaluate(contained, {"a": []}, types) is True
    assert evaluate(contained, {"a": ["x", "y", "x"]}, types) is True
    assert evaluate(contained, {"a": [None]}, types) is False  # NULL is never contained
    assert evaluate("(a && ARRAY['x'::text])", {"a": []}, types) is False


def test_check_result() -> None:
    text = CASES["error_when_failed"].printed
    types = case_types("error_when_failed")
    assert check_result(text, {"status": "failed", "error": "boom"}, types) is True
    assert check_result(text, {"status": "failed", "error": ""}, types) is False
    assert check_result(text, {"status": None, "error": None}, types) is True  # NULL passes
    assert check_result(text, {"status": "failed"}, types) is None  # error unknown


# --- value domains ----------------------------------------------------------------------------


def test_float_domains_step_to_the_neighbouring_float() -> None:
    double, single = (
        ValueDomain.for_type(ctype("double precision")),
        ValueDomain.for_type(ctype("real")),
    )
    assert double.above(1.0) == math.nextafter(1.0, 2)
    assert single.above(1.0) == 1.0000001192092896
    assert single.at_or_above(0.1) == 0.10000000149011612  # the nearest float32 >= 0.1
    assert single.below(0.1) == 0.09999999403953552
    assert single.contains(0.5)
    assert not single.contains(0.1)


def test_numeric_domain_steps_on_its_scale() -> None:
    domain = ValueDomain.for_type(ctype("numeric(10,2)"))
    assert domain.above(Decimal("1.5")) == Decimal("1.51")
    assert domain.at_or_above(Decimal("1.501")) == Decimal("1.51")
    assert domain.below(0) == Decimal("-0.01")
    assert not domain.contains(Decimal("1.234"))
    assert not domain.contains(Decimal("100000000.00"))  # 11 digits > precision 10


def test_temporal_domains_step_on_their_precision() -> None:
    seconds = ValueDomain.for_type(ctype("timestamp(0)"))
    assert seconds.above(datetime(2000, 1, 1, 0, 0, 0, 1)) == datetime(2000, 1, 1, 0, 0, 1)
    assert seconds.store(datetime(2000, 1, 1, 0, 0, 0, 500000)) == datetime(2000, 1, 1, 0, 0, 1)
    assert ValueDomain.for_type(ctype("date")).below(date(2000, 3, 1)) == date(2000, 2, 29)
    assert ValueDomain.for_type(ctype("time")).above(time(23, 59, 59, 999999)) is None
    restricted = ColumnType("interval year", "interval", "pg_catalog", "T", (4 << 16) | 0xFFFF)
    assert ValueDomain.for_type(restricted).family == "other"


def test_other_than_avoids_every_given_value() -> None:
    assert ValueDomain.for_type(ctype("mood")).other_than(["sad", "ok"]) == "very happy"
    assert ValueDomain.for_type(ctype("mood")).other_than(MOOD) is None
    assert ValueDomain.for_type(ctype("char(3)")).other_than(["x  "]) == "y"
    assert ValueDomain.for_type(ctype("integer")).other_than([1, 2, 3]) == 4
    assert ValueDomain.for_type(ctype("boolean")).other_than([True, False]) is None


def test_markers_are_distinct_from_values() -> None:
    assert NON_NULL is not None
    assert UNKNOWN is not None
    assert check_result("(x > 0)", {"x": NON_NULL}, INT) is None


# --- against the servers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_db(pg_server: ServerInfo) -> Iterator[Database]:
    """A database with one table per corpus case (its CHECK named after the case)."""
    db = create_database(pg_server)
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'very happy')")
            for index, case in enumerate(CORPUS):
                conn.execute(
                    sql.SQL("CREATE TABLE {} ({}, CONSTRAINT {} CHECK ({}))").format(
                        sql.Identifier(f"case_{index}"),
                        sql.SQL(case.columns),
                        sql.Identifier(case.id),
                        sql.SQL(case.check),
                    )
                )
            for _, ddl, _ in DOMAINS:
                conn.execute(ddl)
        yield db
    finally:
        drop_database(db)


def test_servers_print_the_corpus(corpus_db: Database) -> None:
    with corpus_db.connect(autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")  # timestamptz constants print in it
        printed = dict(
            conn.execute(
                "SELECT conname, pg_get_expr(conbin, conrelid) FROM pg_constraint "
                "WHERE contype = 'c' AND conrelid <> 0"
            ).fetchall()
        )
        domains = dict(
            conn.execute(
                "SELECT conname, pg_get_expr(conbin, 0) FROM pg_constraint "
                "WHERE contype = 'c' AND contypid <> 0 AND connamespace = 'public'::regnamespace"
            ).fetchall()
        )
    assert printed == {case.id: case.printed for case in CORPUS}
    assert sorted(domains.values()) == sorted(text for _, _, text in DOMAINS)


def test_hand_built_types_match_the_catalog(corpus_db: Database) -> None:
    with corpus_db.connect(autocommit=True) as conn:
        catalog = load_catalog(conn, ["public"])
    for index, case in enumerate(CORPUS):
        table = catalog.table(f"public.case_{index}")
        for name, expected in types_of(case.columns).items():
            actual = table.column(name).type
            facts = ("base", "modifier", "array_dims", "enum_values")
            assert {f: getattr(actual, f) for f in facts} == {
                f: getattr(expected, f) for f in facts
            }


def test_servers_refuse_every_violation_by_name(corpus_db: Database) -> None:
    """The proof of "conservative": each candidate, inserted, breaks exactly its CHECK."""
    refused = 0
    with corpus_db.connect() as conn, conn.transaction(force_rollback=True):
        catalog = load_catalog(conn, ["public"])
        for index, case in enumerate(CORPUS):
            table = catalog.table(f"public.case_{index}")
            types = {column.name: column.type for column in table.columns}
            for candidate in violations(case.printed, types):
                statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table.name.name),
                    sql.SQL(", ").join(map(sql.Identifier, candidate)),
                    sql.SQL(", ").join(
                        sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(types[name].sql))
                        for name in candidate
                    ),
                )
                with pytest.raises(errors.CheckViolation) as info, conn.transaction():
                    conn.execute(statement, list(candidate.values()))
                assert info.value.diag.constraint_name == case.id, candidate
                refused += 1
    assert refused >= 90  # the proof covers the corpus, it does not pass for want of cases


def test_servers_refuse_every_domain_violation(corpus_db: Database) -> None:
    types = {
        "posint": ctype("integer"),
        "pct": ctype("numeric(5,2)"),
        "yesno": ctype("varchar(3)"),
        "tags": ctype("varchar(20)[]"),
    }
    printed = {name: text for name, _, text in DOMAINS}
    texts = {
        "posint": printed["domain_positive"],
        "pct": printed["domain_between"],
        "yesno": printed["domain_varchar_in"],
        "tags": printed["domain_cardinality"],
    }
    with corpus_db.connect() as conn, conn.transaction(force_rollback=True):
        for domain, text in texts.items():
            candidates = violations(text, {"VALUE": types[domain]})
            assert candidates
            for candidate in candidates:
                with pytest.raises(errors.CheckViolation), conn.transaction():
                    conn.execute(
                        sql.SQL("SELECT %s::{}").format(sql.Identifier(domain)),
                        [candidate["VALUE"]],
                    )


# --- patterns and column order ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "pattern", "expected"),
    [
        ("~", "^[^@[:space:]]+@[^@[:space:]]+$", r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\Z"),
        ("~", "^[A-Z]{2,3}$", r"^[A-Z]{2,3}\Z"),
        ("~", "^(foo|bar)\\.[[:digit:]]+$", r"^(foo|bar)\.[0-9]+\Z"),
        ("~", "[]a-]", r"[\]a\-]"),
        ("~", "\\d+", r"\d+"),
        ("~~", "SKU-%", r"\ASKU\-.*\Z"),
        ("~~", "a\\%_", r"\Aa%.\Z"),
        # Not translated: PostgreSQL-only or different meaning, so never guessed at.
        ("~", "a\\bb", None),  # \b is a backspace in PostgreSQL
        ("~", "(a)\\1", None),  # back-reference
        ("~", "(?=a)b", "(?=a)b"),  # lookahead means the same in Python
        ("~", "(?i)a", None),  # embedded options
        ("~", "\\mword\\M", None),  # word boundaries of PostgreSQL
        ("~", "[[.space.]]", None),  # collating element
        ("~", "[[:word:]]", None),  # a class Python lacks
        ("~", "a{", None),
        ("~*", "^a", "(?i:^a)"),  # case-insensitive
        ("!~", "^a", "^a"),  # negated: what the value must not match
        ("~~*", "www.%", r"(?i:\Awww\..*\Z)"),
        ("similar", "\\+?[0-9]{7,15}", r"\A(?:\+?[0-9]{7,15})\Z"),
        ("similar", "(a|b)%.", r"\A(?:(?:a|b).*\.)\Z"),  # . is itself in SIMILAR TO
    ],
)
def test_python_pattern(op: str, pattern: str, expected: str | None) -> None:
    assert python_pattern(op, pattern) == expected


def test_matches_parse_and_evaluate_to_null_or_unknown() -> None:
    node = parse("(email ~ '^a'::text)")
    assert node == Match("~", Column("email"), Const("^a", "text"))
    assert evaluate(node, {"email": None}) is None
    assert evaluate(node, {"email": "abc"}) is True  # ASCII: Python's translation agrees
    assert evaluate(node, {"email": "ébc"}) is UNKNOWN  # beyond ASCII: the locale's
    assert evaluate("(email ~ '\\mx'::text)", {"email": "x"}) is UNKNOWN  # not translated
    assert column_bounds("((code)::text ~~ 'A%'::text)", {"code": ctype("varchar(5)")}) == {
        "code": ColumnBounds(patterns=(r"\AA.*\Z",))
    }
    # char(n) pads with spaces: patterns on it are left alone.
    assert column_bounds("((ch)::text ~ '^a'::text)", {"ch": ctype("char(3)")}) == {}


@pytest.mark.parametrize(
    ("case_id", "expected"),
    [
        ("ended_after_created", [("created_at", "ended_at")]),
        ("two_columns", [("created_at", "last_active_at")]),
        ("coalesce", [("started_at", "finished_at"), ("requested_at", "finished_at")]),
        ("less_than_column", [("a", "b")]),
        ("column_and_constant", [("a", "b")]),
        ("between", []),  # a column and constants: bounds, not order
        ("interval_arithmetic", []),  # kk + '1 day': not a column
    ],
)
def test_column_order(case_id: str, expected: list[tuple[str, str]]) -> None:
    assert column_order(CASES[case_id].printed, case_types(case_id)) == expected


def test_column_order_reverses_under_not_and_skips_mixed_types() -> None:
    types = {"a": ctype("integer"), "b": ctype("numeric"), "d": ctype("date")}
    assert column_order("(NOT (a < b))", types) == [("b", "a")]
    assert column_order("(a < d)", types) == []


# --- the forms real schemas write ---------------------------------------------------------------


def test_bounds_of_function_forms() -> None:
    text = ctype("text")
    assert column_bounds("(upper(c) = ANY (ARRAY['USD'::text, 'eur'::text]))", {"c": text}) == {
        "c": ColumnBounds(choices=("USD",))
    }  # 'eur' is never what upper() returns
    assert column_bounds("(jsonb_typeof(j) = 'array'::text)", {"j": ctype("jsonb")}) == {
        "j": ColumnBounds(json_type="array")
    }
    assert column_bounds("(d ? 'v'::text)", {"d": ctype("jsonb")}) == {
        "d": ColumnBounds(json_type="object", json_keys=("v",))
    }
    assert column_bounds("(octet_length(n) <= 12)", {"n": text}) == {
        "n": ColumnBounds(max_length=12, patterns=(r"\A[\x00-\x7f]*\Z",))
    }
    assert column_bounds("(s ~* '^a'::text)", {"s": text}) == {
        "s": ColumnBounds(patterns=("(?i:^a)",))
    }
    assert column_bounds("(p !~~ '%..%'::text)", {"p": text}) == {
        "p": ColumnBounds(unmatched=(r"\A.*\.\..*\Z",))
    }


def test_clock_bounds_stay_inside_the_clock() -> None:
    now = datetime.now(UTC)
    bounds = column_bounds("(b <= (now() - '18 years'::interval))", {"b": ctype("date")})["b"]
    adult = now.replace(year=now.year - 18).date()
    assert bounds.max <= adult - timedelta(days=1)
    assert bounds.max >= adult - timedelta(days=3)
    later = column_bounds("(e > now())", {"e": ctype("timestamptz")})["e"]
    assert later.min > now + timedelta(days=1)
    local = column_bounds("(s <= LOCALTIMESTAMP)", {"s": ctype("timestamp")})["s"]
    assert local.max.tzinfo is None
    assert column_bounds("(s = now())", {"s": ctype("timestamptz")}) == {}


def test_null_patterns_of_exactly_one_and_at_least_one() -> None:
    types = {"a": ctype("integer"), "b": ctype("text"), "c": ctype("date")}
    one = null_patterns("(num_nonnulls(a, b, c) = 1)", ["a", "b", "c"], types)
    assert one == [
        {"a": False, "b": True, "c": True},
        {"a": True, "b": False, "c": True},
        {"a": True, "b": True, "c": False},
    ]
    either = null_patterns("((a IS NULL) <> (b IS NULL))", ["a", "b"], types)
    assert either == [{"a": False, "b": True}, {"a": True, "b": False}]
    some = null_patterns("((a IS NOT NULL) OR (b IS NOT NULL))", ["a", "b"], types)
    assert some is not None
    assert {"a": True, "b": True} not in some
    assert null_patterns("(a > 0)", ["a"], types) is None  # NULL-ness decides nothing


def test_evaluation_of_case_distinct_and_null_counts() -> None:
    case = "CASE WHEN (k = 'p'::text) THEN (x <= 100) ELSE (x >= 0) END"
    types = {"k": ctype("text"), "x": ctype("integer"), "y": ctype("integer")}
    assert evaluate(case, {"k": "p", "x": 101}, types) is False
    assert evaluate(case, {"k": "f", "x": 101}, types) is True
    assert evaluate("(x IS DISTINCT FROM y)", {"x": None, "y": None}, types) is False
    assert evaluate("(x IS DISTINCT FROM y)", {"x": 1, "y": None}, types) is True
    assert evaluate("(num_nulls(x, y) = 1)", {"x": 1, "y": None}, types) is True
    assert evaluate("(num_nonnulls(x, y) = 1)", {"x": 1}, types) is UNKNOWN


def test_parse_reads_what_the_server_prints_of_sql_syntax() -> None:
    assert parse("(ee ~ similar_to_escape('a+'::text))") == Match(
        "similar", Column("ee"), Const("a+", "text")
    )
    assert parse("x NOT SIMILAR TO 'a%'") == Match("!similar", Column("x"), Const("a%", "unknown"))
    assert parse("(j ? 'k'::text)") == Func("jsonb_exists", (Column("j"), Const("k", "text")))
    assert parse("CURRENT_DATE") == Func("current_date", ())
    assert parse("(VALUE > 0)") == Compare(">", Column("VALUE"), Const(0, "int4"))
    assert parse("(value > 0)") == Compare(">", Column("value"), Const(0, "int4"))
    assert columns_of("((a).f > (b[1] + c))") == {"a", "b", "c"}  # opaque parts keep columns
