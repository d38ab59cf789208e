"""Strategies for types drawn as their text form: full text search, geometry, bits, ...

psycopg has no Python type for these, and none is needed: a value goes to the server as
a string literal cast to the column's type (``'(1,2)'::point``), which is the type's own
input function, and the CRUD check compares what it reads back with what it sent after
the same cast. Each builder draws text the type's input accepts as is: in range, of the
declared length (``bit(n)``, ``vector(n)``), naming objects every database has (``reg*``).
Extension types (hstore, ltree, cube, pgvector's vector) are matched by their type name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pytest_dbverify.catalog import ColumnType
from pytest_dbverify.check_expressions import ColumnBounds

Builder = Callable[[ColumnType, ColumnBounds], SearchStrategy[Any]]

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_COORDINATE = st.integers(-1000, 1000)
_MONEY_LIMIT = Decimal("1000000000")  # far inside money's range whatever lc_monetary says


def _tsvectors(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.lists(_WORD, max_size=5).map(" ".join)


def _tsqueries(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    operator = st.sampled_from([" & ", " | "])
    return st.builds(
        lambda words, op: op.join(words), st.lists(_WORD, min_size=1, max_size=4), operator
    )


def _money(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.decimals(-_MONEY_LIMIT, _MONEY_LIMIT, places=2, allow_nan=False).map(str)


def _bits(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    if ctype.base == "bit":  # bit(n) holds exactly n bits; bit alone is bit(1)
        size = max(ctype.modifier, 1)
        return st.text(alphabet="01", min_size=size, max_size=size)
    limit = ctype.modifier if ctype.modifier > 0 else 64
    return st.text(alphabet="01", max_size=min(limit, 64))


def _xml(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    content = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ", max_size=20)
    return st.builds(lambda tag, text: f"<{tag}>{text}</{tag}>", _WORD, content)


def _point_text(point: tuple[int, int]) -> str:
    return f"({point[0]},{point[1]})"


_POINT = st.tuples(_COORDINATE, _COORDINATE)


def _points(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return _POINT.map(_point_text)


def _lines(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    # {A,B,C}: Ax + By + C = 0, A and B not both zero.
    return (
        st.tuples(_COORDINATE, _COORDINATE, _COORDINATE)
        .filter(lambda abc: abc[0] != 0 or abc[1] != 0)
        .map(lambda abc: "{" + ",".join(map(str, abc)) + "}")
    )


def _segments(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.tuples(_POINT, _POINT).map(lambda ps: f"[{_point_text(ps[0])},{_point_text(ps[1])}]")


def _boxes(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    # Stored upper-right corner first: draw it that way, so it reads back as sent.
    def box(a: tuple[int, int], b: tuple[int, int]) -> str:
        high, low = (max(a[0], b[0]), max(a[1], b[1])), (min(a[0], b[0]), min(a[1], b[1]))
        return f"{_point_text(high)},{_point_text(low)}"

    return st.builds(box, _POINT, _POINT)


def _paths(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    def path(points: list[tuple[int, int]], closed: bool) -> str:
        inner = ",".join(_point_text(p) for p in points)
        return f"({inner})" if closed else f"[{inner}]"

    return st.builds(path, st.lists(_POINT, min_size=1, max_size=5), st.booleans())


def _polygons(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.lists(_POINT, min_size=1, max_size=5).map(
        lambda points: "(" + ",".join(_point_text(p) for p in points) + ")"
    )


def _circles(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.builds(
        lambda center, radius: f"<{_point_text(center)},{radius}>", _POINT, st.integers(0, 1000)
    )


def _lsns(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    half = st.integers(0, 2**32 - 1)
    return st.builds(lambda high, low: f"{high:X}/{low:X}", half, half)


def _oids(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.integers(0, 2**32 - 1)


# Objects every database has, in the text form each reg* type reads.
_REGISTERED: Final = {
    "regclass": ("pg_catalog.pg_class", "pg_catalog.pg_type", "pg_catalog.pg_proc"),
    "regtype": ("integer", "text", "boolean", "timestamp with time zone"),
    "regproc": ("pg_catalog.now", "pg_catalog.pg_backend_pid"),  # one function by the name
    "regprocedure": ("pg_catalog.now()", "pg_catalog.upper(text)"),
    "regoperator": ("pg_catalog.+(integer,integer)", "pg_catalog.||(text,text)"),
    "regnamespace": ("pg_catalog", "information_schema"),
    "regrole": ("pg_monitor", "pg_read_all_settings"),
    "regconfig": ("pg_catalog.simple", "pg_catalog.english"),
    "regdictionary": ("pg_catalog.simple",),
    "regcollation": ('pg_catalog."C"', 'pg_catalog."POSIX"'),
}


def _registered(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.sampled_from(_REGISTERED[ctype.base])


_MULTIRANGES: Final = (
    "int4multirange",
    "int8multirange",
    "nummultirange",
    "datemultirange",
    "tsmultirange",
    "tstzmultirange",
)
_EPOCH = datetime(2000, 1, 1)


def _multiranges(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    # Disjoint, ascending, non-adjacent [a,b) ranges: the form the server stores, so what
    # reads back is what was sent. Bounds drawn as integers (days or hours past 2000).
    def text(cuts: list[int]) -> str:
        cuts = sorted(set(cuts))
        pairs = zip(cuts[0::2], cuts[1::2], strict=False)
        return "{" + ",".join(f"[{_bound(ctype, a)},{_bound(ctype, b)})" for a, b in pairs) + "}"

    return st.lists(st.integers(0, 2000), max_size=6).map(text)


def _bound(ctype: ColumnType, value: int) -> str:
    if ctype.base == "datemultirange":
        return (_EPOCH + timedelta(days=value)).date().isoformat()
    if ctype.base == "tsmultirange":
        return f'"{_EPOCH + timedelta(hours=value)}"'
    if ctype.base == "tstzmultirange":
        return f'"{_EPOCH + timedelta(hours=value)}+00"'
    return str(value)


def _hstores(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    value = st.none() | st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=6)
    pairs = st.dictionaries(_WORD, value, max_size=4)
    return pairs.map(
        lambda d: ", ".join(f'"{k}"=>' + ("NULL" if v is None else f'"{v}"') for k, v in d.items())
    )


def _ltrees(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    label = st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_", min_size=1, max_size=8
    )
    return st.lists(label, max_size=4).map(".".join)


def _vectors(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    size = ctype.modifier if ctype.modifier > 0 else 3
    return st.lists(_COORDINATE, min_size=size, max_size=size).map(
        lambda xs: "[" + ",".join(map(str, xs)) + "]"
    )


def _cubes(ctype: ColumnType, bounds: ColumnBounds) -> SearchStrategy[Any]:
    return st.lists(_COORDINATE, min_size=1, max_size=4).map(
        lambda xs: "(" + ",".join(map(str, xs)) + ")"
    )


LITERAL_BUILDERS: Final[dict[str, Builder]] = {
    "tsvector": _tsvectors,
    "tsquery": _tsqueries,
    "money": _money,
    "bit": _bits,
    "varbit": _bits,
    "xml": _xml,
    "point": _points,
    "line": _lines,
    "lseg": _segments,
    "box": _boxes,
    "path": _paths,
    "polygon": _polygons,
    "circle": _circles,
    "pg_lsn": _lsns,
    "oid": _oids,
    **dict.fromkeys(_REGISTERED, _registered),
    **dict.fromkeys(_MULTIRANGES, _multiranges),
    "hstore": _hstores,
    "ltree": _ltrees,
    "vector": _vectors,
    "cube": _cubes,
}
"""Base type (``pg_type.typname``) -> builder of its values' text."""
