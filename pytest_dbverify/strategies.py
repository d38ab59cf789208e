"""Hypothesis strategies for PostgreSQL columns and rows, built from the catalog.

``values_for(column)`` draws Python values that psycopg adapts to the column's type and
PostgreSQL stores as given; ``rows_for(table)`` draws the values of one row to INSERT.
Types map to strategies through one lookup table keyed by ``ColumnType.base`` (the
``pg_type`` name, domains and arrays unwrapped), in the manner of hypothesis'
``extra/django/_fields.py``: a nullable column draws ``none() | values``, a type without
a strategy raises :class:`UnsupportedTypeError`, which says how to register one.

CHECK constraints narrow what is drawn where they can be read (see
:mod:`pytest_dbverify.check_expressions`): ``difficulty BETWEEN 1 AND 5`` draws 1..5,
``format IN ('text', 'quiz')`` draws one of the two, ``topic <> ''`` draws non-empty text,
``email ~ '^[^@]+@[^@]+$'`` draws from the regex (a common subset of PostgreSQL's
dialect, over ASCII), and so do LIKE, ``starts_with(x, 'ab')`` and ``position('@' in
email) > 1`` (or ``strpos``: text whose first ``@`` comes after a character or more);
``lower(x) = x`` draws no upper case letter. CHECKs over several columns are met by
construction where they compare two columns (``ended_at >= created_at``: the drawn
values are sorted) and by evaluation otherwise. What no expression reveals (an
untranslatable regex, a function, a trigger, a partition bound) the database still
refuses: register a strategy for such columns.

Register your own strategies in ``conftest.py``, before any test draws::

    from hypothesis import strategies as st
    from pytest_dbverify import strategies

    strategies.register_type("public.email", st.emails())  # a domain, or any type name
    strategies.register_column("public.content.title", st.text(min_size=1, max_size=80))
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import math
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Final, Literal

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from psycopg.types.json import Json, Jsonb
from psycopg.types.range import Range

from pytest_dbverify.catalog import Column, ColumnType, Table, TableName
from pytest_dbverify.check_expressions import (
    DOMAIN_VALUE,
    NO_LOWER,
    NO_UPPER,
    PATTERN_FLAGS,
    UNKNOWN,
    ColumnBounds,
    Node,
    ValueDomain,
    check_result,
    column_bounds,
    column_order,
    columns_of,
    constant_value,
    null_patterns,
    parse,
    temporal_precision,
)
from pytest_dbverify.errors import DbverifyError
from pytest_dbverify.literal_types import LITERAL_BUILDERS
from pytest_dbverify.partitions import partition_key_values

__all__ = [
    "SUPPORTED_TYPES",
    "StrategyRegistry",
    "UnsupportedTypeError",
    "default_registry",
    "elements_are_domain",
    "key_values",
    "predicate_values",
    "qualified_column_name",
    "refuses_null",
    "register_column",
    "register_type",
    "rows_for",
    "table_bounds",
    "values_for",
]

_UTC: Final = timezone.utc
# Text PostgreSQL can store in a UTF8 database: no NUL, no lone surrogates (Cs). The
# same set as codec="utf-8", which hypothesis computes by encoding every code point:
# seconds in each directory without a .hypothesis cache (a CI checkout).
_CHARACTERS: Final = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_ASCII: Final = st.characters(min_codepoint=1, max_codepoint=127)
_NAME_BYTES: Final = 63  # NAMEDATALEN - 1: a longer name is cut, not refused
_PLAIN_NUMERIC_LIMIT: Final = Decimal(10) ** 15
_PLAIN_NUMERIC_PLACES: Final = 6
_INTERVAL_DAYS: Final = 3_650_000  # about 10,000 years either way
_TIMEZONE_MINUTES: Final = 15 * 60 + 59  # timetz offsets PostgreSQL accepts: +-15:59
_ARRAY_MAX_SIZE: Final = 4
_SEQUENCE_DEFAULT: Final = re.compile(r"^nextval\(", re.IGNORECASE)
# A default read from the session (current_setting('app.tenant'), CURRENT_USER): what a
# row-level security policy or a trigger expects of this session; never drawn over.
_SESSION_DEFAULT: Final = re.compile(
    r"\bcurrent_setting\(|\b(?:current_user|session_user|current_role)\b", re.IGNORECASE
)


def session_default(column: Column) -> bool:
    """Return True if the column's default reads the session (a setting, the role)."""
    return _SESSION_DEFAULT.search(column.default or "") is not None


# Bounds of every temporal type, as PostgreSQL and Python can both hold them. timestamptz
# stays a day inside Python's years 1-9999: psycopg reads it back in the session's time
# zone, which may shift it across the edge.
_TEMPORAL_RANGES: Final[dict[str, tuple[Any, Any]]] = {
    "date": (date(1, 1, 1), date(9999, 12, 31)),
    "timestamp": (datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)),
    "timestamptz": (
        datetime(1, 1, 2, tzinfo=_UTC),
        datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=_UTC),
    ),
    "time": (time(0), time(23, 59, 59, 999999)),
    "interval": (timedelta(days=-_INTERVAL_DAYS), timedelta(days=_INTERVAL_DAYS)),
}


class UnsupportedTypeError(DbverifyError):
    """No strategy is known for a column's type; the message shows how to register one."""

    def __init__(self, column: str, type_sql: str, type_name: str, table_known: bool) -> None:
        self.column = column
        self.type_sql = type_sql
        self.type_name = type_name
        where = column if table_known else f"<schema>.<table>.{column}"
        super().__init__(
            f"no hypothesis strategy for column {column} of type {type_sql}: register one "
            "in conftest.py before the tests draw, for every column of the type: "
            f"pytest_dbverify.strategies.register_type({type_name!r}, <strategy>), or for "
            f"this column only: pytest_dbverify.strategies.register_column({where!r}, "
            "<strategy>)"
        )


# --- the registry -------------------------------------------------------------------------

_NAME_PART = re.compile(r'"(?:[^"]|"")*"|[^."]+')


def _quote_part(part: str) -> str:
    if "." in part or '"' in part or part != part.strip():
        return '"' + part.replace('"', '""') + '"'
    return part


def qualified_column_name(table: TableName, column: str) -> str:
    """Return ``schema.table.column``, as :meth:`StrategyRegistry.register_column` reads it.

    A part that contains a dot or a double quote is double-quoted (``"my.schema".t.c``).
    """
    return ".".join(_quote_part(part) for part in (table.schema, table.name, column))


def _split_column_name(text: str) -> tuple[str, ...]:
    parts: list[str] = []
    pos = 0
    while True:
        match = _NAME_PART.match(text, pos)
        if match is None:
            raise ValueError(f"empty name part at offset {pos}")
        part = match.group()
        parts.append(part[1:-1].replace('""', '"') if part.startswith('"') else part)
        pos = match.end()
        if pos == len(text):
            return tuple(parts)
        if text[pos] != ".":
            raise ValueError(f"unexpected {text[pos]!r} at offset {pos}")
        pos += 1


def _check_strategy(strategy: object, call: str) -> SearchStrategy[Any]:
    if isinstance(strategy, SearchStrategy):
        return strategy
    hint = ""
    if callable(strategy):
        name = getattr(strategy, "__name__", "the function")
        hint = f" (did you mean to call it: {name}()?)"
    raise TypeError(
        f"{call}: strategy={strategy!r} is not a hypothesis strategy{hint}; pass one such "
        "as st.integers(1, 5) or st.just(value)"
    )


class StrategyRegistry:
    """Strategies registered for types and columns, which win over the built-in ones.

    Lookup order for a column: its ``schema.table.column`` registration, then a type
    registered under the column's ``ColumnType.sql`` (``character varying(20)``,
    ``text[]``) or domain name (``public.email`` or ``email``), then under its base type
    (``varchar``; for an array column the strategy draws the elements).

    A column strategy is used as it is: it decides whether to draw ``None``. A type
    strategy draws the values; a nullable column adds ``None`` itself. CHECK narrowing
    applies to the built-in strategies only.
    """

    def __init__(self) -> None:
        self._types: dict[str, SearchStrategy[Any]] = {}
        self._columns: dict[tuple[str, str, str], SearchStrategy[Any]] = {}
        self.generation = 0  # bumped by each registration: strategies built before are stale

    def register_type(self, type_name: str, strategy: SearchStrategy[Any]) -> None:
        """Use ``strategy`` for every column of a type.

        Args:
            type_name: A ``pg_type`` name (``int4``, ``citext``), a type as
                ``format_type`` prints it (``character varying(20)``, ``text[]``) or a
                domain name, schema-qualified or not (``public.email``, ``email``).
            strategy: A hypothesis strategy drawing values psycopg can adapt.

        Raises:
            TypeError: ``type_name`` is not a string or ``strategy`` not a strategy.
            ValueError: ``type_name`` is empty.
        """
        call = f"register_type({type_name!r}, ...)"
        if not isinstance(type_name, str):
            raise TypeError(f"{call}: type_name must be a str such as 'int4' or 'public.email'")
        if not type_name.strip():
            raise ValueError(f"{call}: type_name is empty; pass a name such as 'int4'")
        self._types[type_name.strip()] = _check_strategy(strategy, call)
        self.generation += 1

    def register_column(self, column: str, strategy: SearchStrategy[Any]) -> None:
        """Use ``strategy`` for one column, named ``schema.table.column``.

        Args:
            column: The column as ``schema.table.column``; a part containing a dot or a
                double quote is double-quoted, as in SQL (``"my.schema".orders.total``).
            strategy: A hypothesis strategy; it is used as is, ``None`` included.

        Raises:
            TypeError: ``column`` is not a string or ``strategy`` not a strategy.
            ValueError: ``column`` is not of the form ``schema.table.column``.
        """
        call = f"register_column({column!r}, ...)"
        if not isinstance(column, str):
            raise TypeError(f"{call}: column must be a str such as 'public.content.title'")
        key = _parse_column_name(column, call)
        self._columns[key] = _check_strategy(strategy, call)
        self.generation += 1

    def copy(self) -> StrategyRegistry:
        """Return a registry with the same registrations, to extend without side effects."""
        clone = StrategyRegistry()
        clone._types.update(self._types)
        clone._columns.update(self._columns)
        return clone

    def column_strategy(self, table: TableName, column: str) -> SearchStrategy[Any] | None:
        """Return the strategy registered for one column, if any."""
        return self._columns.get((table.schema, table.name, column))

    def value_strategy(self, ctype: ColumnType) -> SearchStrategy[Any] | None:
        """Return the strategy registered for a whole value of the type (sql or domain)."""
        names = [ctype.sql]
        if ctype.domain is not None and not elements_are_domain(ctype):
            names += _domain_names(ctype.domain)
        return next((self._types[name] for name in names if name in self._types), None)

    def base_strategy(self, ctype: ColumnType) -> SearchStrategy[Any] | None:
        """Return the strategy registered for the base type (the elements, for an array).

        For an array of a domain (``email[]``) the domain's name is looked up first.
        """
        names = [ctype.base, f"{ctype.base_schema}.{ctype.base}"]
        if ctype.domain is not None and elements_are_domain(ctype):
            names = [*_domain_names(ctype.domain), *names]
        return next((self._types[name] for name in names if name in self._types), None)

    def unknown_columns(self, table: Table) -> list[tuple[str, list[str]]]:
        """Return columns registered for ``table`` that it does not have, with suggestions."""
        names = [column.name for column in table.columns]
        return [
            (name, difflib.get_close_matches(name, names, n=1))
            for schema, table_name, name in self._columns
            if (schema, table_name) == (table.name.schema, table.name.name) and name not in names
        ]


def _domain_names(domain: str) -> list[str]:
    return [domain, domain.rpartition(".")[2]]


def elements_are_domain(ctype: ColumnType) -> bool:
    """Return True for an array of a domain (``positive_int[]``): its CHECKs bind elements.

    A domain over an array (``CREATE DOMAIN tags AS text[]``) binds the whole array
    instead. ``ColumnType`` records both as a domain with ``array_dims`` 1; only the name
    ``format_type`` gives tells them apart: an array of a domain is printed ``name[]``.
    """
    return ctype.is_array and ctype.domain is not None and ctype.sql.endswith("[]")


def _parse_column_name(column: str, call: str) -> tuple[str, str, str]:
    try:
        parts = _split_column_name(column.strip())
    except ValueError as err:
        raise ValueError(f"{call}: {err}; expected 'schema.table.column'") from None
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        hint = f"did you mean {'public.' + column.strip()!r}?"
    elif len(parts) == 1:
        hint = f"did you mean {'public.<table>.' + column.strip()!r}?"
    else:
        hint = "quote a part that contains a dot, as in SQL: '\"my.schema\".orders.total'"
    raise ValueError(f"{call}: expected 'schema.table.column', got {len(parts)} part(s); {hint}")


default_registry: Final = StrategyRegistry()
"""The registry ``values_for`` and ``rows_for`` use when given none."""


def register_type(type_name: str, strategy: SearchStrategy[Any]) -> None:
    """Register a strategy for a type in the default registry (see StrategyRegistry)."""
    default_registry.register_type(type_name, strategy)


def register_column(column: str, strategy: SearchStrategy[Any]) -> None:
    """Register a strategy for ``schema.table.column`` in the default registry."""
    default_registry.register_column(column, strategy)


# --- built-in strategies, one per base type -----------------------------------------------

Builder = Callable[[ColumnType, ColumnBounds], SearchStrategy[Any]]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _narrowed(
    domain: ValueDomain, bounds: ColumnBounds, low: Any, high: Any
) -> tuple[Any, Any] | None:
    """Return ``[low, high]`` narrowed by the bounds' min and max; None if it is empty."""
    if bounds.min is not None:
        step = domain.at_or_above if bounds.min_inclusive else domain.above
        value = step(bounds.min)
        if value is not None and value > low:
            low = value
    if bounds.max is not None:
        step = domain.at_or_below if bounds.max_inclusive else domain.below
        value = step(bounds.max)
        if value is not None and value < high:
            high = value
    return (low, high) if low <= high else None


def _choices(domain: ValueDomain, bounds: ColumnBounds, low: Any, high: Any) -> list[Any]:
    """Return the allowed values of ``bounds.choices`` that fit the type and the range."""
    values: list[Any] = []
    excluded = [domain.convert(v) for v in bounds.not_equal]
    for choice in bounds.choices or ():
        value = domain.convert(choice)
        if value is None or any(_same(value, e) for e in excluded):
            continue
        if low is not None and not (low <= value <= high):
            continue
        if not any(_same(value, v) for v in values):
            values.append(value)
    return values


def _finish(
    domain: ValueDomain,
    bounds: ColumnBounds,
    build: Callable[[Any, Any], SearchStrategy[Any]],
    low: Any,
    high: Any,
) -> SearchStrategy[Any]:
    """Draw within ``[low, high]`` as the bounds allow: choices, range, exclusions."""
    window = _narrowed(domain, bounds, low, high) if low is not None else (None, None)
    if window is None:
        return st.nothing()
    low, high = window
    if bounds.choices is not None:
        values = _choices(domain, bounds, low, high)
        return st.sampled_from(values) if values else st.nothing()
    strategy = build(low, high)
    excluded = [v for v in (domain.convert(c) for c in bounds.not_equal) if v is not None]
    if excluded:
        # A few excluded values among many: a filter rarely rejects anything.
        strategy = strategy.filter(lambda v: not any(_same(v, e) for e in excluded))
    return strategy


def _integers(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    domain = ValueDomain.for_type(ctype)

    def build(low: int, high: int) -> SearchStrategy[int]:
        excluded = {domain.convert(v) for v in bounds.not_equal} - {None}
        if excluded and high - low < 256:
            # A narrow range with holes (BETWEEN 1 AND 5 AND x <> 3): list what is left.
            left = [v for v in range(low, high + 1) if v not in excluded]
            return st.sampled_from(left) if left else st.nothing()
        return st.integers(low, high)

    return _finish(domain, bounds, build, domain.low, domain.high)


def _decimals_in(low: Decimal, high: Decimal, places: int) -> SearchStrategy[Decimal]:
    """Draw Decimals with exactly ``places`` decimal places (negative: tens, hundreds)."""
    unit = Decimal(1).scaleb(-places)
    first = int((low / unit).to_integral_value(ROUND_CEILING))
    last = int((high / unit).to_integral_value(ROUND_FLOOR))
    if first > last:
        return st.nothing()
    return st.integers(first, last).map(lambda k: Decimal(k).scaleb(-places))


def _numerics(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    domain = ValueDomain.for_type(ctype)
    if domain.scale is not None and domain.precision is not None:
        # numeric(p,s) holds k * 10^-s with |k| < 10^p: draw k, exactly on the grid.
        scale = domain.scale
        limit = (Decimal(10) ** domain.precision - 1).scaleb(-scale)
        return _finish(domain, bounds, lambda lo, hi: _decimals_in(lo, hi, scale), -limit, limit)

    # Plain numeric: bounded, finite, a few decimal places (the database keeps the scale).
    def build(low: Decimal, high: Decimal) -> SearchStrategy[Decimal]:
        places = [p for p in range(_PLAIN_NUMERIC_PLACES + 1) if _fits(low, high, p)]
        if not places:
            return st.nothing()
        return st.sampled_from(places).flatmap(lambda p: _decimals_in(low, high, p))

    limit = _PLAIN_NUMERIC_LIMIT
    # Narrow at the finest scale drawn: x > 0 then starts at 0.000001, not at 1.
    fine = replace(domain, scale=_PLAIN_NUMERIC_PLACES)
    return _finish(fine, bounds, build, -limit, limit)


def _fits(low: Decimal, high: Decimal, places: int) -> bool:
    unit = Decimal(1).scaleb(-places)
    return (low / unit).to_integral_value(ROUND_CEILING) <= (high / unit).to_integral_value(
        ROUND_FLOOR
    )


def _floats(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    domain = ValueDomain.for_type(ctype)
    width = domain.width
    if bounds.choices is None and bounds.min is None and bounds.max is None:
        # PostgreSQL stores NaN and the infinities; NaN is left to unbounded columns
        # because it sorts above every number there (NaN > 1 is true).
        strategy = st.floats(allow_nan=True, allow_infinity=True, width=width)
        return _finish(domain, bounds, lambda lo, hi: strategy, None, None)

    def build(low: float, high: float) -> SearchStrategy[float]:
        return st.floats(
            None if low == -math.inf else low,
            None if high == math.inf else high,
            allow_nan=False,
            width=width,
        )

    return _finish(domain, bounds, build, -math.inf, math.inf)


def _texts(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    domain = ValueDomain.for_type(ctype)
    patterns = [re.compile(pattern, PATTERN_FLAGS) for pattern in bounds.patterns]
    # lower(x) = x: letters of one case only, drawn so (over ASCII, where lower() is
    # Python's), not filtered; every other pattern still must match.
    unwanted = "".join(_CASE_LETTERS.get(pattern, "") for pattern in bounds.patterns)
    alphabet = (
        st.characters(min_codepoint=1, max_codepoint=127, exclude_characters=unwanted)
        if unwanted
        else _ASCII
    )
    shapes = [p for p in patterns if p.pattern not in _CASE_LETTERS]
    if bounds.choices is not None:
        values = [v for v in _choices(domain, bounds, None, None) if _matches(patterns, v)]
        return st.sampled_from(values) if values else st.nothing()
    max_size = domain.max_length
    if bounds.max_length is not None:
        max_size = bounds.max_length if max_size is None else min(max_size, bounds.max_length)
    min_size = max(bounds.min_length or 0, 0)
    excluded = [domain.store(v) for v in bounds.not_equal if isinstance(v, str)]
    if "" in excluded:
        min_size = max(min_size, 1)  # topic <> '': draw non-empty text, no filtering
    if max_size is not None and min_size > max_size:
        return st.nothing()
    if shapes:
        # email ~ '^[^@]+@...$': draw from the regex itself, over ASCII, where the Python
        # translation and PostgreSQL agree; the length and other patterns are filtered.
        strategy = st.from_regex(shapes[0], alphabet=alphabet).filter(
            lambda v: min_size <= len(v) <= (max_size or len(v)) and _matches(patterns, v)
        )
    elif unwanted:
        strategy = st.text(alphabet, min_size=min_size, max_size=max_size)
    else:
        strategy = st.text(_CHARACTERS, min_size=min_size, max_size=max_size)
    if domain.max_bytes is not None:
        strategy = strategy.map(_cut_to_bytes)
    if excluded:
        # For char(n) 'a ' equals 'a': compare as the column stores them.
        strategy = strategy.filter(lambda v: domain.store(v) not in excluded)
    if bounds.unmatched:
        # code !~ '[[:space:]]': the few values that match are drawn again.
        unmatched = [re.compile(pattern, PATTERN_FLAGS) for pattern in bounds.unmatched]
        strategy = strategy.filter(lambda v: not any(p.search(v) for p in unmatched))
    return strategy


_CASE_LETTERS: Final = {NO_UPPER: string.ascii_uppercase, NO_LOWER: string.ascii_lowercase}


def _matches(patterns: Sequence[re.Pattern[str]], value: str) -> bool:
    return all(pattern.search(value) for pattern in patterns)


def _cut_to_bytes(text: str) -> str:
    return text.encode()[:_NAME_BYTES].decode(errors="ignore")


def _enums(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    domain = ValueDomain.for_type(ctype)
    labels = list(ctype.enum_values)
    if bounds.choices is not None:
        labels = _choices(domain, bounds, None, None)
    labels = [label for label in labels if label not in bounds.not_equal]
    return st.sampled_from(labels) if labels else st.nothing()


def _booleans(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    values = [v for v in (False, True) if bounds.choices is None or v in bounds.choices]
    values = [v for v in values if not any(_same(v, e) for e in bounds.not_equal)]
    return st.sampled_from(values) if values else st.nothing()


def _uuids(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    domain = ValueDomain.for_type(ctype)
    return _finish(domain, bounds, lambda lo, hi: st.uuids(), None, None)


def _temporals(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    domain = ValueDomain.for_type(ctype)
    if domain.family == "other":
        raise _Unsupported  # interval restricted to fields (year to month...)
    low, high = _TEMPORAL_RANGES[domain.family]
    unit = domain.unit

    def build(low: Any, high: Any) -> SearchStrategy[Any]:
        # Draw the value as a count of its type's steps (days, or 10^-p seconds): bounds
        # and precision are then exact, whatever timestamp(p) rounds to.
        first = -(-_ticks(domain, low) // unit)
        last = _ticks(domain, high) // unit
        if first > last:
            return st.nothing()
        return st.integers(first, last).map(lambda k: domain.from_ticks(k * unit))

    return _finish(domain, bounds, build, low, high)


def _ticks(domain: ValueDomain, value: Any) -> int:
    ticks = domain.ticks(value)
    if ticks is None:
        raise TypeError(f"not a {domain.family} value: {value!r}")
    return ticks


def _timetzs(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    digits = temporal_precision(ctype) or 6
    unit = 10 ** (6 - digits)
    offsets = st.integers(-_TIMEZONE_MINUTES, _TIMEZONE_MINUTES).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    return st.builds(
        lambda t, tz: t.replace(microsecond=t.microsecond // unit * unit, tzinfo=tz),
        st.times(),
        offsets,
    )


_JSON_TEXT: Final = st.text(_CHARACTERS, max_size=10)  # jsonb refuses \u0000
_JSON_SCALARS: Final = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _JSON_TEXT
)


def _json_containers(inner: SearchStrategy[Any]) -> SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(_JSON_TEXT, inner, max_size=3)


# Every JSON type, nested two deep, in few values: a big document costs draws, not power.
# Spelled out rather than st.recursive, which costs three times as much to draw.
_JSON_VALUES: Final = _JSON_SCALARS | _json_containers(
    _JSON_SCALARS | _json_containers(_JSON_SCALARS)
)


def _json(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    wrapper: Callable[[Any], Any] = Jsonb if ctype.base == "jsonb" else Json
    if bounds.json_type is None and not bounds.json_keys:
        return _JSON_VALUES.map(wrapper)
    if bounds.json_keys and bounds.json_type not in (None, "object"):
        return st.nothing()
    shaped = _JSON_SHAPES.get(bounds.json_type or "object", st.nothing())
    if bounds.json_keys:
        # doc ? 'version': an object with each key, and maybe more.
        keys = bounds.json_keys
        shaped = st.tuples(
            st.dictionaries(_JSON_TEXT, _JSON_SCALARS, max_size=2),
            st.lists(_JSON_SCALARS, min_size=len(keys), max_size=len(keys)),
        ).map(lambda parts: {**parts[0], **dict(zip(keys, parts[1], strict=True))})
    return shaped.map(wrapper)


# jsonb_typeof(x) = 'object' and the like: values of one JSON type.
_JSON_SHAPES: Final[dict[str, SearchStrategy[Any]]] = {
    "object": st.dictionaries(_JSON_TEXT, _JSON_SCALARS, max_size=3),
    "array": st.lists(_JSON_SCALARS, max_size=3),
    "string": _JSON_TEXT,
    "number": st.integers(-(2**31), 2**31),
    "boolean": st.booleans(),
}


def _interfaces(version: Literal[4, 6]) -> SearchStrategy[Any]:
    bits = 32 if version == 4 else 128
    return st.tuples(st.ip_addresses(v=version), st.integers(0, bits)).map(
        lambda pair: ipaddress.ip_interface((pair[0], pair[1]))
    )


def _networks(version: Literal[4, 6]) -> SearchStrategy[Any]:
    # cidr refuses host bits: strict=False clears them.
    return _interfaces(version).map(lambda interface: interface.network)


def _inets(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.ip_addresses() | _interfaces(4) | _interfaces(6)


def _cidrs(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return _networks(4) | _networks(6)


def _macaddrs(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    size = 8 if ctype.base == "macaddr8" else 6
    return st.binary(min_size=size, max_size=size).map(lambda b: ":".join(f"{x:02x}" for x in b))


def _ranges(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    subtype, discrete = _RANGE_SUBTYPES[ctype.base]
    element = values_for(
        Column("lower", 0, ColumnType(subtype, subtype, "pg_catalog", "", -1), not_null=True)
    )
    # Discrete ranges are stored as [lower, upper): draw that form only, so what comes
    # back is what was sent.
    kinds = st.just("[)") if discrete else st.sampled_from(["[)", "(]", "[]", "()"])

    def build(lower: Any, upper: Any, kind: str) -> Range[Any]:
        if lower is not None and upper is not None and upper < lower:
            lower, upper = upper, lower
        return Range(lower, upper, kind)

    bound = st.none() | element
    return st.just(Range(empty=True)) | st.builds(build, bound, bound, kinds)


_RANGE_SUBTYPES: Final = {
    "int4range": ("int4", True),
    "int8range": ("int8", True),
    "numrange": ("numeric", False),
    "daterange": ("date", True),
    "tsrange": ("timestamp", False),
    "tstzrange": ("timestamptz", False),
}


class _Unsupported(Exception):
    """A builder cannot draw this variant of its type (becomes UnsupportedTypeError)."""


_BUILDERS: Final[dict[str, Builder]] = {
    "int2": _integers,
    "int4": _integers,
    "int8": _integers,
    "numeric": _numerics,
    "float4": _floats,
    "float8": _floats,
    "text": _texts,
    "varchar": _texts,
    "bpchar": _texts,
    "name": _texts,
    "citext": _texts,
    "bytea": lambda ctype, bounds: st.binary(),
    "bool": _booleans,
    "uuid": _uuids,
    "date": _temporals,
    "time": _temporals,
    "timestamp": _temporals,
    "timestamptz": _temporals,
    "interval": _temporals,
    "timetz": _timetzs,
    "json": _json,
    "jsonb": _json,
    "inet": _inets,
    "cidr": _cidrs,
    "macaddr": _macaddrs,
    "macaddr8": _macaddrs,
    **dict.fromkeys(_RANGE_SUBTYPES, _ranges),
    **LITERAL_BUILDERS,  # drawn as the text their input function reads
}
"""Base type (``pg_type.typname``) -> builder of values; enums are handled by category."""

SUPPORTED_TYPES: Final = frozenset(_BUILDERS)


# --- values and rows ----------------------------------------------------------------------


def _domain_bounds(ctype: ColumnType) -> ColumnBounds:
    """Return what a column's domain says about its values (its elements' for ``d[]``)."""
    bounds = ColumnBounds(not_null=ctype.domain_not_null)
    for check in ctype.domain_checks:
        found = column_bounds(check, {DOMAIN_VALUE: ctype}).get(DOMAIN_VALUE)
        if found is not None:
            bounds = bounds.intersect(found)
    return bounds


def _rarely_none(strategy: SearchStrategy[Any]) -> SearchStrategy[Any]:
    # Arrays may hold NULLs; one element in ten is enough to exercise them.
    return st.tuples(st.integers(0, 9), strategy).map(lambda p: None if p[0] == 0 else p[1])


def _arrays(
    element: SearchStrategy[Any],
    ctype: ColumnType,
    bounds: ColumnBounds,
    elements_nullable: bool,
) -> SearchStrategy[Any]:
    if bounds.element_choices is not None:
        # col <@ ARRAY[...]: elements from the list, and no NULL (NULL is never contained).
        domain = ValueDomain.for_type(ctype)
        allowed = [v for v in (domain.convert(c) for c in bounds.element_choices) if v is not None]
        element = st.sampled_from(allowed) if allowed else st.nothing()
    elif elements_nullable:
        element = _rarely_none(element)
    if ctype.array_dims == 1:
        min_size = bounds.min_length or 0
        limit = _ARRAY_MAX_SIZE if bounds.max_length is None else bounds.max_length
        if min_size > limit:
            return st.nothing()
        max_size = max(min(limit, _ARRAY_MAX_SIZE), min_size)
        return st.lists(element, min_size=min_size, max_size=max_size)
    # Multidimensional arrays are rectangular: draw the shape, then fill it.
    shapes = st.lists(st.integers(1, 3), min_size=ctype.array_dims, max_size=ctype.array_dims)
    return st.just([]) | shapes.flatmap(lambda shape: _filled(element, shape))


def _filled(element: SearchStrategy[Any], shape: Sequence[int]) -> SearchStrategy[Any]:
    inner = element if len(shape) == 1 else _filled(element, shape[1:])
    return st.lists(inner, min_size=shape[0], max_size=shape[0])


def _builtin(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    if ctype.enum_values:
        return _enums(ctype, bounds)
    builder = _BUILDERS.get(ctype.base)
    if builder is None:
        raise _Unsupported
    return builder(ctype, bounds)


def values_for(
    column: Column,
    *,
    table: TableName | None = None,
    registry: StrategyRegistry | None = None,
    bounds: ColumnBounds | None = None,
) -> SearchStrategy[Any]:
    """Return a strategy for values of ``column`` that PostgreSQL accepts as given.

    Args:
        column: The column, from the catalog.
        table: Its table: needed for column registrations and error messages.
        registry: Registered strategies; the default registry when None.
        bounds: What the table's CHECKs say about the column (``table_bounds``);
            domain CHECKs are read here.

    Returns:
        A strategy of Python values psycopg adapts to the type (``None`` too for a
        nullable column), values stored exactly as drawn: within the type's range,
        precision and length, text without NUL or surrogates.

    Raises:
        UnsupportedTypeError: No strategy is known or registered for the type.
    """
    registry = default_registry if registry is None else registry
    if table is not None:
        registered = registry.column_strategy(table, column.name)
        if registered is not None:
            return registered
    ctype = column.type
    value_bounds = bounds or ColumnBounds()
    element_bounds = ColumnBounds()
    if elements_are_domain(ctype):
        element_bounds = _domain_bounds(ctype)  # positive_int[]: each element is checked
    else:
        value_bounds = _domain_bounds(ctype).intersect(value_bounds)
    strategy = registry.value_strategy(ctype)
    if strategy is None:
        element = registry.base_strategy(ctype)
        if element is None:
            try:
                element = _builtin(ctype, element_bounds if ctype.is_array else value_bounds)
            except _Unsupported:
                name = qualified_column_name(table, column.name) if table else column.name
                type_name = ctype.domain or ctype.base
                raise UnsupportedTypeError(
                    name, ctype.sql, type_name, table_known=table is not None
                ) from None
        if ctype.is_array:
            nullable_elements = not element_bounds.not_null
            strategy = _arrays(element, ctype, value_bounds, nullable_elements)
        else:
            strategy = element
    if column.not_null or value_bounds.not_null:
        return strategy
    return st.none() | strategy


def column_values(
    table: Table, name: str, *, registry: StrategyRegistry | None = None
) -> SearchStrategy[Any]:
    """Return a strategy for values of one column of ``table``, as a new row would hold.

    Like :func:`values_for`, and also within what the table's CHECKs say of the column
    alone and, for a partition key, among the values some partition accepts.
    """
    registry = default_registry if registry is None else registry
    return _column_values(table, name, registry, registry.generation)


def key_values(
    table: Table, name: str, *, registry: StrategyRegistry | None = None
) -> SearchStrategy[Any]:
    """Return :func:`column_values` that can be a key's: never NULL, nor an empty range.

    NULL never equals anything, and an empty range overlaps nothing: neither collides
    with another row, or matches a parent's key.
    """
    registry = default_registry if registry is None else registry
    return _key_values(table, name, registry, registry.generation)


@functools.lru_cache(maxsize=4096)
def _key_values(
    table: Table, name: str, registry: StrategyRegistry, generation: int
) -> SearchStrategy[Any]:
    # Cached: a strategy built anew is validated anew, at every example that draws it.
    column = table.column(name)
    if registry.column_strategy(table.name, name) is not None or not _draws_none(column):
        return _column_values(table, name, registry, generation).filter(_keyable)
    # A nullable column's values without their NULL: filtered out instead, the NULL
    # branch could never pass, and hypothesis would throw the whole test case away.
    return _key_values(
        replace(table, columns=_required(table.columns, name)), name, registry, generation
    )


def predicate_values(
    table: Table,
    name: str,
    predicate: str,
    *,
    key: bool = False,
    registry: StrategyRegistry | None = None,
) -> SearchStrategy[Any]:
    """Return values of one column of ``table`` that a partial index's ``predicate`` covers.

    What the predicate says of the column alone (``status = 'confirmed'``, ``score >
    1000000``) narrows its values as the table's CHECKs do: a row drawn so falls under
    the index, where random values would rarely. With ``key``, never NULL (see
    :func:`key_values`).
    """
    registry = default_registry if registry is None else registry
    return _predicate_values(table, name, predicate, key, registry, registry.generation)


@functools.lru_cache(maxsize=4096)
def _predicate_values(
    table: Table, name: str, predicate: str, key: bool, registry: StrategyRegistry, generation: int
) -> SearchStrategy[Any]:
    types = {column.name: column.type for column in table.columns}
    narrowed = column_bounds(predicate, types).get(name)
    if narrowed is None or registry.column_strategy(table.name, name) is not None:
        values = _key_values if key else _column_values
        return values(table, name, registry, generation)
    known = table_bounds(table).get(name)
    bounds = narrowed if known is None else known.intersect(narrowed)
    column = table.column(name)
    if key:
        column = replace(column, not_null=True)
    strategy = values_for(column, table=table.name, registry=registry, bounds=bounds)
    return strategy.filter(_keyable) if key else strategy


def _draws_none(column: Column) -> bool:
    return not refuses_null(column)


def _required(columns: tuple[Column, ...], name: str) -> tuple[Column, ...]:
    return tuple(replace(c, not_null=True) if c.name == name else c for c in columns)


def _keyable(value: Any) -> bool:
    return value is not None and not getattr(value, "isempty", False)


@functools.lru_cache(maxsize=4096)
def _column_values(
    table: Table, name: str, registry: StrategyRegistry, generation: int
) -> SearchStrategy[Any]:
    # Cached: a strategy built once is validated once, not at every example that draws.
    if registry.column_strategy(table.name, name) is None:
        keys = [choice[name] for choice in partition_key_values(table) if name in choice]
        if keys:
            return st.sampled_from(keys)
    bounds = table_bounds(table).get(name)
    return values_for(table.column(name), table=table.name, registry=registry, bounds=bounds)


def refuses_null(column: Column) -> bool:
    """Return True if the column refuses NULL: NOT NULL, or of a NOT NULL domain."""
    return column.not_null or (column.type.domain_not_null and not elements_are_domain(column.type))


@functools.lru_cache(maxsize=4096)
def _drawable(
    table: Table, name: str, registry: StrategyRegistry, generation: int
) -> SearchStrategy[Any]:
    """Return the strategy of one column of a row: shared by every row strategy drawing it.

    Each new strategy object is validated when first drawn: rows of the same table
    drawing different sets of columns (one per check) share these.
    """
    bounds = table_bounds(table).get(name)
    return values_for(table.column(name), table=table.name, registry=registry, bounds=bounds)


def table_bounds(table: Table) -> dict[str, ColumnBounds]:
    """Return, per column, what the table's enforced CHECKs say about it alone."""
    return dict(_table_bounds(table))


@functools.lru_cache(maxsize=4096)
def _table_bounds(table: Table) -> tuple[tuple[str, ColumnBounds], ...]:
    types = {column.name: column.type for column in table.columns}
    result: dict[str, ColumnBounds] = {}
    for check in _enforced_checks(table):
        for name, bounds in column_bounds(check, types).items():
            result[name] = result[name].intersect(bounds) if name in result else bounds
    return tuple(result.items())  # cached: not to be changed by a caller


def _enforced_checks(table: Table) -> list[str]:
    return [c.expression for c in table.checks if c.expression is not None and c.enforced]


def _close_match(name: str, names: Sequence[str]) -> str:
    matches = difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def _rewrites_rows(table: Table) -> bool:
    return any(
        trigger.timing == "before" and "insert" in trigger.events and trigger.row_level
        for trigger in table.triggers
        if trigger.enabled
    )


def _omitted_values(
    table: Table, drawn: Mapping[str, Any], filled_later: frozenset[str]
) -> dict[str, Any]:
    """Return what the database puts in the columns an INSERT leaves out, where known.

    ``filled_later`` (the foreign-key columns the caller fills) stay unknown.
    """
    values: dict[str, Any] = {}
    for column in table.columns:
        name = column.name
        if name in drawn or name in filled_later or column.generated or column.identity:
            continue
        if column.default is None:
            if column.type.domain is None:  # a domain may have a default of its own
                values[name] = None
            continue
        value = constant_value(column.default)
        if value is not UNKNOWN:
            values[name] = value
    return values


def rows_for(
    table: Table,
    *,
    registry: StrategyRegistry | None = None,
    columns: Sequence[str] | None = None,
    minimal: bool = False,
) -> SearchStrategy[dict[str, Any]]:
    """Return a strategy for the values of one new row of ``table``, by column name.

    Every NOT NULL column without a default is drawn; other insertable columns are
    drawn or left out, as hypothesis chooses, so that defaults are exercised too.
    Foreign-key columns are left out (the caller fills them from parent rows it
    inserted), and so are columns whose default draws from a sequence (identity BY
    DEFAULT, serial: a drawn key would collide with the sequence's). ``columns`` names
    columns to draw in every row, those included. Identity ALWAYS and generated columns
    are never drawn.

    Rows that break a CHECK, as far as the expressions can be evaluated here, are not
    drawn; the database remains the judge of the rest.

    Args:
        table: The table, from the catalog.
        registry: Registered strategies; the default registry when None.
        columns: Columns to include in every row.
        minimal: Draw only the columns a row cannot do without (NOT NULL without a
            default, ``columns``, partition keys): for a parent row that only has to
            exist, whose other values no check reads.

    Raises:
        ValueError: ``columns`` names a column the table lacks or that cannot be
            inserted, or the registry has a strategy for a column the table lacks.
        UnsupportedTypeError: A drawn column's type has no strategy.
    """
    registry = default_registry if registry is None else registry
    wanted = tuple(dict.fromkeys(columns or ()))
    return _rows_for(table, registry, registry.generation, wanted, minimal)


@functools.lru_cache(maxsize=4096)
def _rows_for(
    table: Table,
    registry: StrategyRegistry,
    generation: int,
    columns: tuple[str, ...],
    minimal: bool,
) -> SearchStrategy[dict[str, Any]]:
    # Cached like _column_values: checks ask for the same rows at every example.
    names = [column.name for column in table.columns]
    wanted = list(columns)
    for name in wanted:
        if name not in names:
            raise ValueError(
                f"rows_for({table.name}): no column {name!r}{_close_match(name, names)}"
            )
        if not table.column(name).insertable:
            raise ValueError(
                f"rows_for({table.name}): column {name!r} cannot be inserted "
                "(identity ALWAYS or generated)"
            )
    for name, suggestions in registry.unknown_columns(table):
        hint = f"; did you mean {suggestions[0]!r}?" if suggestions else ""
        raise ValueError(
            f"register_column({qualified_column_name(table.name, name)!r}): {table.name} has "
            f"no column {name!r}{hint}"
        )
    foreign = frozenset(name for fk in table.foreign_keys for name in fk.columns)
    drawable: dict[str, SearchStrategy[Any]] = {}
    required: set[str] = set(wanted)
    for column in table.columns:
        name = column.name
        if not column.insertable:
            continue
        if name not in wanted and (
            name in foreign
            or column.identity
            or _SEQUENCE_DEFAULT.match(column.default or "") is not None
            or session_default(column)
        ):
            continue
        drawable[name] = _drawable(table, name, registry, generation)
        if refuses_null(column) and not column.has_default:
            required.add(name)
    partition_keys = [
        {name: value for name, value in choice.items() if name in drawable and name not in foreign}
        for choice in partition_key_values(table)
        if not any(registry.column_strategy(table.name, name) for name in choice)
    ]
    if partition_keys:
        # Always drawn, from the partitions' bounds: a default (now()) may fit no partition.
        required |= {name for choice in partition_keys for name in choice}
    checks = [parse(expression) for expression in _enforced_checks(table)]
    types = {column.name: column.type for column in table.columns}
    # A default its own CHECK refuses (DEFAULT 0.00, CHECK (x > 0)): always drawn.
    required |= {name for name in drawable if _default_refused(table.column(name), checks, types)}
    # Columns a CHECK reads together are drawn together or left out together: a CHECK
    # half drawn, half defaulted (ended_at drawn, created_at = now()) cannot be told.
    groups = _linked_columns(checks, set(drawable))
    for group in groups:
        if group & required:
            required |= group
    together = [] if minimal else [group for group in groups if not group & required]
    grouped = set().union(*together)
    # A minimal row still varies its unique columns: two parents left to the same
    # default (NULL under NULLS NOT DISTINCT, a constant) would collide.
    unique = _unique_columns(table)
    optional = {n: s for n, s in drawable.items() if not minimal or n in unique}
    # Only between columns of one type: sorting must not move a Decimal into an integer.
    pairs = [
        (a, b)
        for check in checks
        for a, b in column_order(check, types)
        if types[a].sql == types[b].sql
    ]
    nullness = _nullness(checks, types, drawable, foreign, table)
    judged = checks if checks and not _rewrites_rows(table) else []
    # A BEFORE INSERT trigger may change NEW before the CHECKs see it: then none is judged.

    def passes(row: dict[str, Any]) -> bool:
        if not judged:
            return True
        stored = {**_omitted_values(table, row, foreign), **row}
        return all(check_result(check, stored, types) is not False for check in judged)

    layout = _RowLayout(
        required=[(n, s) for n, s in drawable.items() if n in required],
        optional=[(n, s) for n, s in optional.items() if n not in required | grouped],
        groups=[[(n, s) for n, s in drawable.items() if n in group] for group in together],
        partition_keys=partition_keys,
        positions={column.name: column.position for column in table.columns},
        pairs=pairs,
        passes=passes,
        nullness=nullness,
    )
    return _drawn_rows(layout)


def _nullness(
    checks: Sequence[Node],
    types: Mapping[str, ColumnType],
    drawable: Mapping[str, SearchStrategy[Any]],
    foreign: frozenset[str],
    table: Table,
) -> list[tuple[list[tuple[str, SearchStrategy[Any]]], list[dict[str, bool]]]]:
    """Return, per CHECK that NULL-ness decides, its columns and the ways it passes.

    ``num_nonnulls(a, b, c) = 1``: one of the three is drawn, the others are NULL,
    rather than drawing each at random and throwing most rows away.
    """
    found = []
    for check in checks:
        names = sorted(n for n in columns_of(check) if n in drawable and n not in foreign)
        patterns = null_patterns(check, names, types)
        if patterns is None:
            continue
        # A column that refuses NULL is never left NULL.
        patterns = [
            p for p in patterns if not any(p[n] and refuses_null(table.column(n)) for n in p)
        ]
        if patterns:
            present = [(n, drawable[n].filter(_not_none)) for n in names]
            found.append((present, patterns))
    return found


def _not_none(value: Any) -> bool:
    return value is not None


def _default_refused(
    column: Column, checks: Sequence[Node], types: Mapping[str, ColumnType]
) -> bool:
    """Return True if a CHECK on the column alone refuses its constant default."""
    if column.default is None:
        return False
    value = constant_value(column.default)
    if value is UNKNOWN:
        return False
    row = {column.name: value}
    return any(
        check_result(check, row, types) is False
        for check in checks
        if columns_of(check) == {column.name}
    )


@dataclass(frozen=True)
class _RowLayout:
    """What one row of a table draws: columns always, columns maybe, columns together."""

    required: list[tuple[str, SearchStrategy[Any]]]
    optional: list[tuple[str, SearchStrategy[Any]]]
    groups: list[list[tuple[str, SearchStrategy[Any]]]]
    partition_keys: list[dict[str, Any]]
    positions: dict[str, int]
    pairs: list[tuple[str, str]]
    passes: Callable[[dict[str, Any]], bool]
    nullness: list[tuple[list[tuple[str, SearchStrategy[Any]]], list[dict[str, bool]]]]


# Rows a CHECK refuses, as far as the expressions can be evaluated here, drawn again up
# to this many times (as a filter would); what is left to reject is rare: a CHECK this
# module cannot turn into values.
_ROW_TRIES: Final = 3


@st.composite
def _drawn_rows(draw: st.DrawFn, layout: _RowLayout) -> dict[str, Any]:
    # One strategy for the whole row: every level of nested strategies (a dictionary, a
    # map, a filter) costs hypothesis bookkeeping at every draw.
    for _ in range(_ROW_TRIES):
        row = {name: draw(strategy) for name, strategy in layout.required}
        for name, strategy in layout.optional:
            if draw(_MAYBE):
                row[name] = draw(strategy)
        for group in layout.groups:
            if draw(_MAYBE):
                row.update((name, draw(strategy)) for name, strategy in group)
        for present, patterns in layout.nullness:
            # (a IS NULL) <> (b IS NULL): the NULLs a passing row has, then the values.
            nulls = draw(st.sampled_from(patterns))
            for name, strategy in present:
                if nulls[name]:
                    row[name] = None
                elif row.get(name) is None:
                    row[name] = draw(strategy)
        if layout.partition_keys:
            # Always drawn, from the partitions' bounds: a default (now()) may fit no partition.
            row.update(draw(st.sampled_from(layout.partition_keys)))
        row = dict(sorted(row.items(), key=lambda item: layout.positions[item[0]]))
        if layout.pairs:
            # ended_at >= created_at: sort the drawn values into the order the CHECKs want.
            row = _sorted_columns(row, layout.pairs)
        if layout.passes(row):
            return row
    # The database judges the last one: its refusal names the rule (a reject() here would
    # throw away every other example of the test case, unexplained).
    return row


_MAYBE: Final = st.booleans()


def _unique_columns(table: Table) -> set[str]:
    """Return the columns any unique index or exclusion constraint reads."""
    keyed = [index for index in table.indexes if index.unique]
    names = {column.name for column in table.columns}
    found = {name for index in keyed for name in index.columns if name is not None}
    # An expression key (lower(email)): every column named in it, as a word.
    expressions = " ".join(e for index in keyed for e in index.expressions if e is not None)
    words = set(re.findall(r"\w+", expressions))
    exclusions = {c for con in table.constraints if con.kind == "exclusion" for c in con.columns}
    return found | (names & words) | exclusions


def _merged(parts: Sequence[dict[str, Any]], positions: Mapping[str, int]) -> dict[str, Any]:
    """Return the drawn parts of a row as one dict, in the table's column order."""
    row = {name: value for part in parts for name, value in part.items()}
    return dict(sorted(row.items(), key=lambda item: positions[item[0]]))


def _linked_columns(links: Sequence[Node | frozenset[str]], names: set[str]) -> list[set[str]]:
    """Return the groups of ``names`` linked together (by a CHECK, or a set of names)."""
    groups: list[set[str]] = []
    for link in links:
        linked = set(link if isinstance(link, frozenset) else columns_of(link)) & names
        if len(linked) < 2:
            continue
        overlapping = [group for group in groups if group & linked]
        for group in overlapping:
            groups.remove(group)
            linked |= group
        groups.append(linked)
    return groups


def _sorted_columns(row: dict[str, Any], pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Reassign the non-null values of ordered columns so each (lesser, greater) holds.

    Each group of columns linked by pairs is sorted on its own: its values, sorted, go
    to its columns in an order that respects every pair (a topological order). A cycle
    (a <= b <= a) is left alone.
    """
    present = {name for pair in pairs for name in pair if row.get(name) is not None}
    edges = [(a, b) for a, b in pairs if a in present and b in present]
    result = dict(row)
    for component in _linked_columns([frozenset(edge) for edge in edges], present):
        inner = [(a, b) for a, b in edges if a in component]
        ranked: list[str] = []
        pending = sorted(component, key=list(row).index)
        while pending:
            free = [n for n in pending if not any(b == n and a in pending for a, b in inner)]
            if not free:
                break
            ranked.append(free[0])
            pending.remove(free[0])
        if pending:
            continue
        try:
            values = sorted(row[name] for name in ranked)
        except TypeError:
            continue  # values of incomparable kinds (a registered strategy): leave them
        result.update(zip(ranked, values, strict=True))
    return result
