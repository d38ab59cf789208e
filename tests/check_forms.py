"""CHECK constraints as real schemas write them: one table each, for the generator to satisfy.

Each form is one that public schemas use and that a naive row generator fails to meet
(functions, patterns, several columns, the clock, "exactly one of"). The real-server test
(tests/test_check_forms.py) verifies the tables with ``pytest --dbverify``; the parser
benchmark (benchmarks/check_parsers.py) counts how many the generator satisfies.
"""

from __future__ import annotations

from typing import NamedTuple


class Form(NamedTuple):
    """One table: its columns and its CHECK, as written in DDL."""

    id: str
    columns: str
    check: str


FORMS: tuple[Form, ...] = (
    Form("length_between", "name text NOT NULL", "length(name) BETWEEN 3 AND 40"),
    Form("char_length_exact", "code text NOT NULL", "char_length(code) = 3"),
    Form("octet_length_max", "note text NOT NULL", "octet_length(note) <= 12"),
    Form("position_at", "email text NOT NULL", "position('@' in email) > 1"),
    Form("strpos_absent", "slug text NOT NULL", "strpos(slug, '--') = 0"),
    Form("lower_equal", "handle text NOT NULL", "handle = lower(handle)"),
    Form("upper_equal", "ticker text NOT NULL", "upper(ticker) = ticker"),
    Form("btrim_not_empty", "title text NOT NULL", "btrim(title) <> ''"),
    Form("trimmed", "label text NOT NULL", "label = btrim(label) AND label <> ''"),
    Form("like_prefix", "sku text NOT NULL", "sku LIKE 'SKU-%'"),
    Form("ilike_prefix", "host text NOT NULL", "host ILIKE 'www.%'"),
    Form("not_like", "path text NOT NULL", "path NOT LIKE '%..%'"),
    Form("similar_to", "phone text NOT NULL", "phone SIMILAR TO '\\+?[0-9]{7,15}'"),
    Form(
        "regex_email",
        "email text NOT NULL",
        "email ~ '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$'",
    ),
    Form("regex_icase", "slug text NOT NULL", "slug ~* '^[a-z0-9]+(-[a-z0-9]+)*$'"),
    Form(
        "regex_lookahead",
        "secret text NOT NULL",
        "secret ~ '^(?=.*[A-Z])(?=.*[0-9])[A-Za-z0-9]{8,32}$'",
    ),
    Form("regex_negated", "code text NOT NULL", "code !~ '[[:space:]]'"),
    Form("regex_class_escape", "ref text NOT NULL", "ref ~ '^\\d{4}-\\w+$'"),
    Form("starts_with", "url text NOT NULL", "starts_with(url, 'https://')"),
    Form("in_list", "status text NOT NULL", "status IN ('draft', 'live', 'gone')"),
    Form("upper_in", "currency text NOT NULL", "upper(currency) IN ('USD', 'EUR', 'GBP')"),
    Form("lower_in", "kind varchar(10) NOT NULL", "lower(kind) IN ('a', 'b')"),
    Form("any_array", "priority integer NOT NULL", "priority = ANY (ARRAY[1, 2, 3])"),
    Form("all_array", "score integer NOT NULL", "score <> ALL (ARRAY[0, 13])"),
    Form("array_length", "tags text[] NOT NULL", "array_length(tags, 1) BETWEEN 1 AND 4"),
    Form("cardinality", "ids integer[] NOT NULL", "cardinality(ids) <= 3"),
    Form("jsonb_object", "meta jsonb NOT NULL", "jsonb_typeof(meta) = 'object'"),
    Form("jsonb_array", "items jsonb NOT NULL", "jsonb_typeof(items) = 'array'"),
    Form("jsonb_key", "doc jsonb NOT NULL", "doc ? 'version'"),
    Form(
        "columns_ordered",
        "starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL",
        "ends_at > starts_at",
    ),
    Form("min_max", "lo integer NOT NULL, hi integer NOT NULL", "lo <= hi"),
    Form(
        "coalesce_price",
        "price numeric(10,2) NOT NULL, discount numeric(10,2)",
        "price >= 0 AND COALESCE(discount, 0) <= price AND COALESCE(discount, 0) >= 0",
    ),
    Form(
        "case_kind",
        "kind text NOT NULL, amount integer NOT NULL",
        "kind IN ('percent', 'fixed') AND CASE WHEN kind = 'percent' "
        "THEN amount BETWEEN 0 AND 100 ELSE amount >= 0 END",
    ),
    Form("adult", "birthdate date NOT NULL", "birthdate <= now() - interval '18 years'"),
    Form("not_future", "happened_on date NOT NULL", "happened_on <= current_date"),
    Form("in_future", "expires_at timestamptz NOT NULL", "expires_at > now()"),
    Form(
        "recent",
        "seen_at timestamp NOT NULL",
        "seen_at BETWEEN localtimestamp - interval '30 days' AND localtimestamp",
    ),
    Form("exactly_one", "a integer, b text, c date", "num_nonnulls(a, b, c) = 1"),
    Form("at_most_one", "x integer, y integer", "num_nulls(x, y) >= 1"),
    Form("one_or_other", "p integer, q integer", "(p IS NULL) <> (q IS NULL)"),
    Form(
        "at_least_one",
        "email text, phone text",
        "email IS NOT NULL OR phone IS NOT NULL",
    ),
    Form(
        "xor_spelled",
        "user_id integer, team_id integer",
        "(user_id IS NOT NULL AND team_id IS NULL) OR (user_id IS NULL AND team_id IS NOT NULL)",
    ),
    Form(
        "kind_needs_ref",
        "kind text NOT NULL, ref integer",
        "kind IN ('link', 'note') AND ((kind = 'link') = (ref IS NOT NULL))",
    ),
    Form("modulo", "step integer NOT NULL", "step % 5 = 0 AND step > 0"),
    Form("distinct_from", "x integer, y integer", "x IS DISTINCT FROM y"),
)
