"""Read CHECK expressions as PostgreSQL prints them, for generating rows and breaking them.

``pg_get_expr(conbin, conrelid)`` prints a CHECK fully parenthesized, with its constants
cast: ``((difficulty >= 1) AND (difficulty <= 5))``, ``(format = ANY (ARRAY['text'::text,
'quiz'::text]))``, ``((ended_at IS NULL) OR (ended_at >= created_at))``. :func:`parse`
turns that text into a small tree, read by PostgreSQL's own parser (pglast). Whatever it
does not know (an operator, a subquery) becomes an :class:`Opaque` node: an unfamiliar
construct costs precision, never correctness. On the tree:

- :func:`column_bounds`: per column, the range, allowed and excluded values implied by
  the single-column conditions of a conjunction (what the strategies generate within).
- :func:`violations`: candidate values for the constraint's columns that make it FALSE,
  each one confirmed by evaluating the expression with SQL's three-valued logic.
- :func:`check_result`: whether a row passes a CHECK, when that can be told for sure.

Domain CHECKs work the same way: their text names the value ``VALUE``, which is read as a
column called ``VALUE`` (:data:`DOMAIN_VALUE`).
"""

from __future__ import annotations

import contextlib
import enum
import functools
import itertools
import math
import operator
import re
import struct
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, Literal

import pglast
from pglast import ast
from pglast.enums import (
    A_Expr_Kind,
    BoolExprType,
    BoolTestType,
    CoercionForm,
    MinMaxOp,
    NullTestType,
    SetOperation,
)

from pytest_dbverify.catalog import ColumnType

__all__ = [
    "DOMAIN_VALUE",
    "Arith",
    "ArrayLit",
    "BoolOp",
    "BoolTest",
    "CalendarInterval",
    "Case",
    "Cast",
    "Collate",
    "Column",
    "ColumnBounds",
    "Compare",
    "Const",
    "Contains",
    "Func",
    "Match",
    "Node",
    "Not",
    "NullTest",
    "Opaque",
    "Quantified",
    "ValueDomain",
    "check_result",
    "column_bounds",
    "column_order",
    "columns_of",
    "constant_value",
    "evaluate",
    "null_patterns",
    "parse",
    "python_pattern",
    "violations",
]

DOMAIN_VALUE: Final = "VALUE"
"""The name a domain CHECK's value goes by (``VALUE > 0``), read as a column name."""

MAX_VIOLATIONS: Final = 8
_MAX_BRANCH = 6  # candidates kept per sub-expression: combinations grow multiplicatively


class Marker(enum.Enum):
    """Values that are not Python values of a column."""

    UNKNOWN = "unknown"  # the value cannot be told here (opaque function, missing column)
    NON_NULL = "non-null"  # some non-null value whose content does not matter


UNKNOWN: Final = Marker.UNKNOWN
NON_NULL: Final = Marker.NON_NULL


class ParseError(ValueError):
    """Text the parser does not understand (it becomes an :class:`Opaque` node)."""


# --- the tree -----------------------------------------------------------------------------


class Node:
    """A node of a parsed expression."""

    __slots__ = ()


@dataclass(frozen=True)
class Column(Node):
    """A column reference (``VALUE`` in a domain CHECK)."""

    name: str


@dataclass(frozen=True)
class Const(Node):
    """A constant, converted to the Python value of its type (``None`` for NULL).

    ``type`` is the type's ``pg_type`` name (``int4``, ``text``, ``timestamptz``,
    ``mood``, ``text[]``); ``unknown`` for a bare string literal.
    """

    value: Any
    type: str


@dataclass(frozen=True)
class ArrayLit(Node):
    """``ARRAY[a, b, ...]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Cast(Node):
    """``arg::type`` where ``arg`` is not a constant (constants are converted instead)."""

    arg: Node
    type: str


@dataclass(frozen=True)
class Collate(Node):
    """``arg COLLATE "C"``: equality is unaffected, string order is never relied upon."""

    arg: Node
    collation: str


@dataclass(frozen=True)
class Compare(Node):
    """``left op right`` for ``= <> < <= > >=``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Quantified(Node):
    """``left op ANY (array)`` or ``left op ALL (array)`` (also ``IN`` / ``NOT IN``)."""

    op: str
    left: Node
    right: Node
    all: bool


@dataclass(frozen=True)
class Contains(Node):
    """Array containment and overlap: ``<@``, ``@>``, ``&&``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Match(Node):
    """Pattern matching: ``~``, ``~*``, ``!~``, ``!~*`` and LIKE (``~~``, ``!~~``, ...)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    """``AND`` / ``OR`` of two or more operands."""

    op: Literal["AND", "OR"]
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    """``NOT arg``."""

    arg: Node


@dataclass(frozen=True)
class NullTest(Node):
    """``arg IS NULL`` (``negated``: ``IS NOT NULL``)."""

    arg: Node
    negated: bool


@dataclass(frozen=True)
class BoolTest(Node):
    """``arg IS [NOT] TRUE|FALSE|UNKNOWN`` (``value`` None for UNKNOWN)."""

    arg: Node
    value: bool | None
    negated: bool


@dataclass(frozen=True)
class Arith(Node):
    """``left + right`` or ``left - right`` (other arithmetic is :class:`Opaque`)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Func(Node):
    """A function call (``COALESCE``, ``length``, ...), name in lower case."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Case(Node):
    """``CASE [subject] WHEN ... THEN ... [ELSE ...] END``."""

    subject: Node | None
    whens: tuple[tuple[Node, Node], ...]
    default: Node | None


@dataclass(frozen=True)
class Opaque(Node):
    """Anything else: its value is never known here; ``args`` are the parts it reads."""

    text: str
    args: tuple[Node, ...] = ()


# --- types of constants -------------------------------------------------------------------

_FAMILIES: Final = {
    "int2": "int",
    "int4": "int",
    "int8": "int",
    "numeric": "numeric",
    "float4": "float",
    "float8": "float",
    "text": "text",
    "varchar": "text",
    "bpchar": "text",
    "name": "text",
    "citext": "text",
    "bool": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "time": "time",
    "interval": "interval",
    "uuid": "uuid",
}
_TEXT_TYPES: Final = frozenset({"text", "varchar", "bpchar", "name", "citext", "unknown"})
_NUMBER_FAMILIES: Final = frozenset({"int", "numeric", "float"})
INT_RANGES: Final = {
    "int2": (-(2**15), 2**15 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int8": (-(2**63), 2**63 - 1),
}
_UTC: Final = timezone.utc
_MICROSECOND: Final = timedelta(microseconds=1)

_TEMPORAL_UNITS: Final = frozenset({"date", "timestamp", "timestamptz", "time", "interval"})
_EPOCHS: Final[dict[str, Any]] = {  # PostgreSQL's own epoch: its rounding is relative to it
    "date": date(2000, 1, 1),
    "timestamp": datetime(2000, 1, 1),
    "timestamptz": datetime(2000, 1, 1, tzinfo=timezone.utc),
}
_INTERVAL_FULL_RANGE: Final = 0x7FFF
_DATE = re.compile(r"(\d{4,})-(\d\d)-(\d\d)")
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
_OFFSET = re.compile(r"([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?")
_INTERVAL = re.compile(
    r"(?:(?P<days>[+-]?\d+) days?)?\s*"
    r"(?:(?P<sign>[+-]?)(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<f>\d{1,6}))?)?"
)


class CiText(str):
    """A ``citext`` value: equality ignores case (only told apart for ASCII text)."""

    __slots__ = ()


@dataclass(frozen=True)
class CalendarInterval:
    """An interval with months (``'18 years'``): its length depends on the calendar."""

    months: int
    delta: timedelta = timedelta()

    def after(self, moment: Any, sign: int = 1) -> Any:
        """Return ``moment + sign * self``, months first (days past a month's end clamped)."""
        months = moment.year * 12 + moment.month - 1 + sign * self.months
        year, month = divmod(months, 12)
        day = min(moment.day, _month_days(year, month + 1))
        return moment.replace(year=year, month=month + 1, day=day) + sign * self.delta


def _month_days(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


_CALENDAR = re.compile(r"(?:([+-]?\d+) years?)?\s*(?:([+-]?\d+) mons?)?\s*(.*)")


def _parse_calendar_interval(text: str) -> CalendarInterval:
    match = _CALENDAR.fullmatch(text.strip())
    if match is None or not (match[1] or match[2]):
        raise ValueError(text)
    months = int(match[1] or 0) * 12 + int(match[2] or 0)
    return CalendarInterval(months, _parse_interval(match[3]) if match[3] else timedelta())


def _float4(value: float) -> float:
    """Round a float to the nearest float32, as PostgreSQL stores a ``real``."""
    try:
        return float(struct.unpack("f", struct.pack("f", value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)


def _next_float(value: float, upward: bool, width: int) -> float:
    """Return the next float after ``value`` at a width (32 or 64 bits)."""
    if width == 64:
        return math.nextafter(value, math.inf if upward else -math.inf)
    if value == 0:
        tiny = struct.unpack("f", struct.pack("I", 1))[0]
        return float(tiny if upward else -tiny)
    (bits,) = struct.unpack("I", struct.pack("f", value))
    bits += 1 if (value > 0) == upward else -1
    return float(struct.unpack("f", struct.pack("I", bits))[0])


def _fraction(text: str | None) -> int:
    return int((text or "").ljust(6, "0")) if text else 0


def _parse_date(text: str) -> date:
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return date(int(match[1]), int(match[2]), int(match[3]))


def _parse_time(text: str) -> time:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return time(int(match[1]), int(match[2]), int(match[3]), _fraction(match[4]))


def _parse_offset(text: str) -> timezone:
    match = _OFFSET.fullmatch(text)
    if match is None:
        raise ValueError(text)
    sign = -1 if match[1] == "-" else 1
    hours, minutes, seconds = (int(part or 0) for part in match.group(2, 3, 4))
    return timezone(sign * timedelta(hours=hours, minutes=minutes, seconds=seconds))


def _parse_timestamp(text: str, aware: bool) -> datetime:
    # ISO DateStyle only (the default, and what psycopg needs anyway): anything else is
    # read as unknown rather than guessed.
    day, _, rest = text.partition(" ")
    clock, zone = rest, ""
    if aware:
        cut = max(rest.rfind("+"), rest.rfind("-"))
        if cut <= 0:
            raise ValueError(text)
        clock, zone = rest[:cut], rest[cut:]
    moment = datetime.combine(_parse_date(day), _parse_time(clock))
    return moment.replace(tzinfo=_parse_offset(zone)) if aware else moment


def _parse_interval(text: str) -> timedelta:
    match = _INTERVAL.fullmatch(text.strip())
    if match is None or not text.strip():
        raise ValueError(text)
    result = timedelta(days=int(match["days"] or 0))
    if match["h"] is not None:
        clock = timedelta(
            hours=int(match["h"]),
            minutes=int(match["m"]),
            seconds=int(match["s"]),
            microseconds=_fraction(match["f"]),
        )
        result += -clock if match["sign"] == "-" else clock
    return result


def _parse_array_literal(text: str) -> list[str | None]:
    """Split a one-dimensional array literal (``{a,"b c",NULL}``) into its elements."""
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(text)
    body = text[1:-1]
    items: list[str | None] = []
    if not body:
        return items
    pos = 0
    while True:
        if body.startswith('"', pos):
            end = pos + 1
            chars = []
            while body[end] != '"':
                if body[end] == "\\":
                    end += 1
                chars.append(body[end])
                end += 1
            items.append("".join(chars))
            pos = end + 1
        else:
            end = body.find(",", pos)
            end = len(body) if end < 0 else end
            raw = body[pos:end].strip()
            if "{" in raw or '"' in raw or "\\" in raw:
                raise ValueError(text)
            items.append(None if raw.upper() == "NULL" else raw)
            pos = end
        if pos == len(body):
            return items
        if body[pos] != ",":
            raise ValueError(text)
        pos += 1


def _convert(raw: Any, type_name: str) -> Any:
    """Return ``raw`` (a literal's text or number) as the Python value of ``type_name``.

    Raises:
        ValueError: the literal cannot be converted here (the cast becomes opaque).
    """
    if raw is None:
        return None
    if type_name.endswith("[]"):
        element = type_name[:-2]
        items = _parse_array_literal(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise ValueError(raw)
        return [_convert(item, element) for item in items]
    family = _FAMILIES.get(type_name)
    if isinstance(raw, list):
        raise ValueError(raw)
    if family == "int":
        number = Decimal(raw) if isinstance(raw, str) else raw
        if isinstance(number, bool) or number != int(number):
            raise ValueError(raw)
        return int(number)
    if family == "numeric":
        number = Decimal(str(raw))
        if not number.is_finite():
            raise ValueError(raw)  # NaN and infinities compare unlike Python's
        return number
    if family == "bool" and isinstance(raw, bool):
        return raw
    if family == "float":
        value = float(raw)
        if math.isnan(value):
            raise ValueError(raw)  # NaN sorts above everything in PostgreSQL, not in Python
        return _float4(value) if type_name == "float4" else value
    if not isinstance(raw, str):
        raise ValueError(raw)
    converters: dict[str, Callable[[str], Any]] = {
        "text": lambda text: text,
        "bool": lambda text: {"true": True, "t": True, "false": False, "f": False}[text.lower()],
        "date": _parse_date,
        "timestamp": lambda text: _parse_timestamp(text, aware=False),
        "timestamptz": lambda text: _parse_timestamp(text, aware=True),
        "time": _parse_time,
        "interval": _parse_interval,
        "uuid": uuid.UUID,
    }
    if type_name == "bpchar":
        return raw.rstrip(" ")
    if type_name == "citext":
        return CiText(raw)
    if family is None:
        return raw  # an enum label, or a value compared only for (in)equality as text
    try:
        return converters[family](raw)
    except (KeyError, IndexError) as err:
        raise ValueError(raw) from err


# --- parser -------------------------------------------------------------------------------

_COMPARISONS: Final = frozenset({"=", "<>", "<", "<=", ">", ">="})
_FLIPPED: Final = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NEGATED: Final = {"=": "<>", "<>": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_CONTAINMENT: Final = frozenset({"<@", "@>", "&&"})
_MATCHES: Final = frozenset({"~", "~*", "!~", "!~*", "~~", "~~*", "!~~", "!~~*"})
# Operators that are functions under another name: j ? 'k' is jsonb_exists(j, 'k').
_OPERATOR_FUNCTIONS: Final = {"?": "jsonb_exists", "%": "mod"}
# SQL syntax printed as a function of pg_catalog (POSITION(s IN x), TRIM(BOTH FROM x)).
_SYNTAX_FUNCTIONS: Final = {"position": "strpos"}
_CLOCK_FUNCTIONS: Final = {
    "SVFOP_CURRENT_DATE": "current_date",
    "SVFOP_CURRENT_TIMESTAMP": "now",
    "SVFOP_CURRENT_TIMESTAMP_N": "now",
    "SVFOP_LOCALTIMESTAMP": "localtimestamp",
    "SVFOP_LOCALTIMESTAMP_N": "localtimestamp",
}
_BETWEEN: Final = {
    A_Expr_Kind.AEXPR_BETWEEN: (False, False),
    A_Expr_Kind.AEXPR_NOT_BETWEEN: (True, False),
    A_Expr_Kind.AEXPR_BETWEEN_SYM: (False, True),
    A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM: (True, True),
}
_BOOL_TESTS: Final = {
    BoolTestType.IS_TRUE: (True, False),
    BoolTestType.IS_NOT_TRUE: (True, True),
    BoolTestType.IS_FALSE: (False, False),
    BoolTestType.IS_NOT_FALSE: (False, True),
    BoolTestType.IS_UNKNOWN: (None, False),
    BoolTestType.IS_NOT_UNKNOWN: (None, True),
}


@dataclass(frozen=True)
class _Converter:
    """Turn pglast's raw parse tree of an expression into this module's nodes.

    Handlers are named after pglast's node classes and take them as ``Any``: pglast
    declares every field optional, where the grammar fills them.
    """

    text: str

    def convert(self, node: Any) -> Node:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            return self.opaque(node)
        result: Node = handler(node)
        return result

    def opaque(self, node: Any, args: Iterable[Any] = ()) -> Opaque:
        """Return an unknown part, keeping what it reads (its columns) as ``args``."""
        children = tuple(self.convert(arg) for arg in args if isinstance(arg, ast.Node))
        return Opaque(type(node).__name__, children or _column_refs(node, self))

    def _A_Const(self, node: Any) -> Node:
        value: Any = node.val
        if node.isnull or value is None:
            return Const(None, "unknown")
        if isinstance(value, ast.Integer):
            number = int(value.ival or 0)
            return Const(number, "int4")
        if isinstance(value, ast.Float):
            # An integer too big for int4 arrives as a Float: it is an int8 if it fits.
            digits = str(value.fval)
            if digits.isdigit() and int(digits) <= INT_RANGES["int8"][1]:
                return Const(int(digits), "int8")
            return Const(Decimal(digits), "numeric")
        if isinstance(value, ast.Boolean):
            return Const(bool(value.boolval), "bool")
        if isinstance(value, ast.String):
            return Const(value.sval, "unknown")
        return self.opaque(node)

    def _ColumnRef(self, node: Any) -> Node:
        fields = node.fields
        if len(fields) != 1 or not isinstance(fields[0], ast.String):
            return self.opaque(node)
        name = str(fields[0].sval)
        # A domain CHECK says VALUE, unquoted: pglast folds it to "value".
        if name == "value" and self.text.startswith(DOMAIN_VALUE, node.location):
            return Column(DOMAIN_VALUE)
        return Column(name)

    def _TypeCast(self, node: Any) -> Node:
        return _cast(self.convert(node.arg), _type_name(node.typeName))

    def _CollateClause(self, node: Any) -> Node:
        return Collate(self.convert(node.arg), node.collname[-1].sval)

    def _A_ArrayExpr(self, node: Any) -> Node:
        return ArrayLit(tuple(self.convert(item) for item in node.elements or ()))

    def _BoolExpr(self, node: Any) -> Node:
        args = [self.convert(arg) for arg in node.args]
        if node.boolop == BoolExprType.NOT_EXPR:
            return Not(args[0])
        op: Literal["AND", "OR"] = "AND" if node.boolop == BoolExprType.AND_EXPR else "OR"
        # (a AND b) AND c is a AND b AND c: flat, so that every conjunct is seen.
        flat = [
            part
            for arg in args
            for part in (arg.args if isinstance(arg, BoolOp) and arg.op == op else (arg,))
        ]
        return BoolOp(op, tuple(flat))

    def _NullTest(self, node: Any) -> Node:
        negated = node.nulltesttype == NullTestType.IS_NOT_NULL
        return NullTest(self.convert(node.arg), negated)

    def _BooleanTest(self, node: Any) -> Node:
        value, negated = _BOOL_TESTS[node.booltesttype]
        return BoolTest(self.convert(node.arg), value, negated)

    def _CoalesceExpr(self, node: Any) -> Node:
        return Func("coalesce", tuple(self.convert(arg) for arg in node.args))

    def _MinMaxExpr(self, node: Any) -> Node:
        name = "greatest" if node.op == MinMaxOp.IS_GREATEST else "least"
        return Func(name, tuple(self.convert(arg) for arg in node.args))

    def _SQLValueFunction(self, node: Any) -> Node:
        name = _CLOCK_FUNCTIONS.get(node.op.name)
        return Func(name, ()) if name else self.opaque(node)

    def _CaseExpr(self, node: Any) -> Node:
        subject = self.convert(node.arg) if node.arg is not None else None
        whens = tuple((self.convert(w.expr), self.convert(w.result)) for w in node.args)
        default = self.convert(node.defresult) if node.defresult is not None else None
        return Case(subject, whens, default)

    def _FuncCall(self, node: Any) -> Node:
        if node.agg_star or node.agg_distinct or node.func_variadic or node.over or node.agg_order:
            return self.opaque(node, node.args or ())
        name = node.funcname[-1].sval
        if node.funcformat == CoercionForm.COERCE_SQL_SYNTAX:
            name = _SYNTAX_FUNCTIONS.get(name, name)
        return Func(name, tuple(self.convert(arg) for arg in node.args or ()))

    def _A_Expr(self, node: Any) -> Node:
        kind = node.kind
        op = node.name[-1].sval if node.name else ""
        if kind in _BETWEEN:
            low, high = node.rexpr
            negated, symmetric = _BETWEEN[kind]
            left = self.convert(node.lexpr)
            return _between(left, self.convert(low), self.convert(high), negated, symmetric)
        if kind == A_Expr_Kind.AEXPR_IN:
            items = ArrayLit(tuple(self.convert(item) for item in node.rexpr))
            return Quantified(op, self.convert(node.lexpr), items, all=op == "<>")
        if kind in (A_Expr_Kind.AEXPR_OP_ANY, A_Expr_Kind.AEXPR_OP_ALL) and op in _COMPARISONS:
            left, right = self.convert(node.lexpr), self.convert(node.rexpr)
            return Quantified(op, left, right, all=kind == A_Expr_Kind.AEXPR_OP_ALL)
        if kind in (A_Expr_Kind.AEXPR_DISTINCT, A_Expr_Kind.AEXPR_NOT_DISTINCT):
            distinct = Func("distinct", (self.convert(node.lexpr), self.convert(node.rexpr)))
            return distinct if kind == A_Expr_Kind.AEXPR_DISTINCT else Not(distinct)
        if kind == A_Expr_Kind.AEXPR_NULLIF:
            return Func("nullif", (self.convert(node.lexpr), self.convert(node.rexpr)))
        if kind == A_Expr_Kind.AEXPR_SIMILAR:
            return self.similar(node, negated=op == "!~")
        if kind not in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_LIKE, A_Expr_Kind.AEXPR_ILIKE):
            return self.opaque(node, (node.lexpr, node.rexpr))
        if node.lexpr is None:
            return self.prefix(node, op)
        left, right = self.convert(node.lexpr), self.convert(node.rexpr)
        if op in _COMPARISONS:
            return Compare(op, left, right)
        if op in _MATCHES:
            if op in ("~", "!~") and _is_func(right, "similar_to_escape", 1):
                # SIMILAR TO, as the server prints it: x ~ similar_to_escape('pattern').
                assert isinstance(right, Func)
                return Match("!similar" if op == "!~" else "similar", left, right.args[0])
            return Match(op, left, right)
        if op in _CONTAINMENT:
            return Contains(op, left, right)
        if op in ("+", "-"):
            return Arith(op, left, right)
        if op in _OPERATOR_FUNCTIONS:
            return Func(_OPERATOR_FUNCTIONS[op], (left, right))
        return Opaque(op, (left, right))

    def similar(self, node: Any, negated: bool) -> Node:
        left, pattern = self.convert(node.lexpr), node.rexpr
        # Written SQL (x SIMILAR TO 'p') reads as x ~ similar_to_escape('p') too.
        arguments: Any = pattern.args if isinstance(pattern, ast.FuncCall) else None
        if arguments and len(arguments) == 1:
            return Match("!similar" if negated else "similar", left, self.convert(arguments[0]))
        return self.opaque(node, (node.lexpr, node.rexpr))

    def prefix(self, node: Any, op: str) -> Node:
        operand = self.convert(node.rexpr)
        if op == "-" and isinstance(operand, Const) and _as_decimal(operand.value) is not None:
            return Const(-operand.value, operand.type)
        if op == "+" and isinstance(operand, Const) and _as_decimal(operand.value) is not None:
            return operand
        return Opaque(op, (operand,))


def _column_refs(node: Any, converter: _Converter) -> tuple[Node, ...]:
    """Return the columns an unknown part of the tree reads (for columns_of)."""
    found: list[Node] = []

    def visit(value: Any) -> None:
        if isinstance(value, ast.ColumnRef):
            found.append(converter.convert(value))
        elif isinstance(value, ast.Node):
            for name in value:
                visit(getattr(value, name))
        elif isinstance(value, tuple):
            for item in value:
                visit(item)

    visit(node)
    return tuple(dict.fromkeys(found))


def _type_name(node: Any) -> str:
    """Return a cast's type as its pg_type name (``int4``, ``text[]``, ``mood``)."""
    name = str(node.names[-1].sval)
    return name + "[]" * len(node.arrayBounds or ())


def _between(left: Node, low: Node, high: Node, negated: bool, symmetric: bool) -> Node:
    if negated:
        outside = BoolOp("OR", (Compare("<", left, low), Compare(">", left, high)))
        if symmetric:
            swapped = BoolOp("OR", (Compare("<", left, high), Compare(">", left, low)))
            return BoolOp("AND", (outside, swapped))
        return outside
    inside = BoolOp("AND", (Compare(">=", left, low), Compare("<=", left, high)))
    if symmetric:
        swapped = BoolOp("AND", (Compare(">=", left, high), Compare("<=", left, low)))
        return BoolOp("OR", (inside, swapped))
    return inside


def _cast(node: Node, type_name: str) -> Node:
    """Return ``node::type_name``: a constant is converted, anything else wrapped."""
    raw: Any
    if isinstance(node, Const):
        raw = node.value
    elif isinstance(node, ArrayLit) and all(isinstance(item, Const) for item in node.items):
        raw = [item.value for item in node.items if isinstance(item, Const)]
    else:
        return Cast(node, type_name)
    try:
        return Const(_convert(raw, type_name), type_name)
    except (ValueError, ArithmeticError, InvalidOperation):
        pass
    with contextlib.suppress(ValueError):
        if type_name == "interval" and isinstance(raw, str):
            return Const(_parse_calendar_interval(raw), type_name)
    return Opaque(f"{raw!r}::{type_name}")


@functools.lru_cache(maxsize=4096)
def parse(expression: str) -> Node:
    """Parse an expression as ``pg_get_expr`` prints it; unknown parts become :class:`Opaque`.

    PostgreSQL's own parser (pglast, libpg_query) reads the text, so whatever the server
    prints is read as the server reads it.

    Args:
        expression: A CHECK (or domain CHECK, or column default) expression's text.

    Returns:
        The root node. Never raises: an expression the parser cannot read at all is one
        :class:`Opaque` node.
    """
    # Read as the one item of a SELECT list; node locations count from the SELECT.
    text = f"SELECT {expression}"
    try:
        return _Converter(text).convert(_raw_tree(text))
    except (ParseError, RecursionError):
        return Opaque(expression)


def _raw_tree(text: str) -> Any:
    """Return pglast's tree of the one expression a ``SELECT expression`` text selects."""
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as err:
        raise ParseError(str(err)) from err
    select = statements[0].stmt if len(statements) == 1 else None
    if (
        not isinstance(select, ast.SelectStmt)
        or select.op != SetOperation.SETOP_NONE
        or select.fromClause
        or select.whereClause
        or len(targets := select.targetList or ()) != 1
        or targets[0].name
    ):
        raise ParseError(f"not one expression: {text[7:]!r}")
    return targets[0].val


def constant_value(expression: str) -> Any:
    """Return the value of a constant expression (``'queued'::text``, ``0``), else UNKNOWN."""
    node = parse(expression)
    return node.value if isinstance(node, Const) else UNKNOWN


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in _children(node):
        yield from _walk(child)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (BoolOp, Func, Opaque)):
        return node.args
    if isinstance(node, Case):
        parts = [part for when in node.whens for part in when]
        return tuple(p for p in (node.subject, *parts, node.default) if p is not None)
    if isinstance(node, ArrayLit):
        return node.items
    if isinstance(node, (Compare, Quantified, Contains, Arith, Match)):
        return (node.left, node.right)
    if isinstance(node, (Cast, Collate, Not, NullTest, BoolTest)):
        return (node.arg,)
    return ()


def columns_of(expression: str | Node) -> frozenset[str]:
    """Return the names of the columns an expression reads."""
    node = parse(expression) if isinstance(expression, str) else expression
    return frozenset(n.name for n in _walk(node) if isinstance(n, Column))


# --- patterns -----------------------------------------------------------------------------

PATTERN_FLAGS: Final = re.ASCII | re.DOTALL
"""Flags for :func:`python_pattern`'s regexes: ASCII classes, ``.`` matching newlines."""

_POSIX_CLASSES: Final = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "xdigit": "0-9A-Fa-f",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}
_CLASS_ESCAPES: Final = frozenset("dswDSWntrfv")
_BRACKET_ESCAPES: Final = frozenset("dswntrfv")
_BOUND = re.compile(r"\{\d+(?:,\d*)?\}")


def python_pattern(op: str, pattern: Any) -> str | None:
    r"""Return a Python regex for ``~`` (a POSIX regex), LIKE or SIMILAR TO, if it is simple.

    The result, compiled with :data:`PATTERN_FLAGS`, matches (``re.search``) only ASCII
    strings that PostgreSQL's operator matches too: on ASCII, classes such as
    ``[[:alpha:]]`` and ``\w`` mean the same in both dialects. Only a common subset is
    translated (literals, ``.``, brackets with POSIX classes, ``* + ? {m,n}``, groups,
    ``|``, ``^ $``, lookahead and lookbehind); anything else (back-references, ``\m``,
    embedded options) gives None. ``$`` becomes ``\Z``: Python's ``$`` also matches
    before a final newline, PostgreSQL's does not. The case-insensitive operators
    (``~*``, ILIKE) give the pattern in a ``(?i:...)`` group; a negated operator (``!~``,
    NOT LIKE) gives the pattern its value must not match.
    """
    if not isinstance(pattern, str):
        return None
    base = op.removeprefix("!")
    translators: dict[str, Callable[[str], str | None]] = {
        "~~": _like_pattern,
        "~~*": _like_pattern,
        "~": _posix_pattern,
        "~*": _posix_pattern,
        "similar": _similar_pattern,
    }
    translator = translators.get(base)
    translated = translator(pattern) if translator else None
    if translated is None:
        return None
    if base.endswith("*"):
        translated = f"(?i:{translated})"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "possible nested set" warning: do not guess
        try:
            re.compile(translated, PATTERN_FLAGS)
        except (re.error, FutureWarning):
            return None
    return translated


def _like_pattern(pattern: str) -> str:
    parts = [r"\A"]
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            # LIKE's default escape; a trailing one is an error in PostgreSQL.
            escaped = next(chars, "\\")
            parts.append(re.escape(escaped))
        else:
            parts.append({"%": ".*", "_": "."}.get(char) or re.escape(char))
    parts.append(r"\Z")
    return "".join(parts)


def _posix_pattern(pattern: str) -> str | None:
    parts: list[str] = []
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":
            escaped = pattern[pos + 1 : pos + 2]
            if escaped and escaped in _CLASS_ESCAPES:
                parts.append("\\" + escaped)
            elif escaped and escaped.isascii() and not escaped.isalnum():
                parts.append(re.escape(escaped))
            else:
                return None  # \b is a backspace in PostgreSQL, \1 a back-reference...
            pos += 2
        elif char == "[":
            pos, bracket = _posix_bracket(pattern, pos)
            if bracket is None:
                return None
            parts.append(bracket)
        elif char == "(":
            # Lookahead and lookbehind mean the same in both; embedded options do not.
            group = next((g for g in _GROUPS if pattern.startswith(g, pos)), "(")
            if group == "(" and pattern.startswith("(?", pos):
                return None
            parts.append(group)
            pos += len(group)
        elif char == "{":
            bound = _BOUND.match(pattern, pos)
            if bound is None:
                return None
            parts.append(bound.group())
            pos = bound.end()
        else:
            parts.append(r"\Z" if char == "$" else char if char in "^.*+?|)" else re.escape(char))
            pos += 1
    return "".join(parts)


_GROUPS: Final = ("(?:", "(?=", "(?!", "(?<=", "(?<!")


def _similar_pattern(pattern: str) -> str | None:
    """Translate SIMILAR TO (SQL's regex: ``%``, ``_``, the whole value) to Python's."""
    parts = [r"\A(?:"]
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":  # the default escape: the next character is itself
            escaped = pattern[pos + 1 : pos + 2]
            if not escaped:
                return None
            parts.append(re.escape(escaped))
            pos += 2
        elif char == "[":
            pos, bracket = _posix_bracket(pattern, pos)
            if bracket is None:
                return None
            parts.append(bracket)
        elif char == "{":
            bound = _BOUND.match(pattern, pos)
            if bound is None:
                return None
            parts.append(bound.group())
            pos = bound.end()
        else:
            special = {"%": ".*", "_": ".", "(": "(?:"}
            parts.append(special.get(char) or (char if char in "|*+?)" else re.escape(char)))
            pos += 1
    parts.append(r")\Z")
    return "".join(parts)


def _posix_bracket(pattern: str, start: int) -> tuple[int, str | None]:
    """Translate the bracket expression at ``start``; return the position after it."""
    pos = start + 1
    negated = pattern.startswith("^", pos)
    pos += negated
    members: list[str] = []
    while pos < len(pattern):
        char = pattern[pos]
        if char == "]" and members:
            return pos + 1, "[" + "^" * negated + "".join(members) + "]"
        if pattern.startswith("[:", pos):
            end = pattern.find(":]", pos + 2)
            member = _POSIX_CLASSES.get(pattern[pos + 2 : end], "") if end > 0 else ""
            if not member:
                return len(pattern), None
            members.append(member)
            pos = end + 2
            continue
        if pattern.startswith(("[.", "[="), pos):
            return len(pattern), None  # collating elements and equivalence classes
        if char == "\\":
            escaped = pattern[pos + 1 : pos + 2]
            if escaped and escaped in _BRACKET_ESCAPES:
                members.append("\\" + escaped)
                pos += 2
                continue
            if not escaped or not escaped.isascii() or escaped.isalnum():
                return len(pattern), None
            char, pos = escaped, pos + 2
        else:
            pos += 1
        if pattern.startswith("-", pos) and pattern[pos + 1 : pos + 2] not in ("", "]"):
            high = pattern[pos + 1]
            if high in "[\\" or high < char:
                return len(pattern), None
            members.append(f"{re.escape(char)}-{re.escape(high)}")
            pos += 2
        else:
            members.append(re.escape(char))
    return len(pattern), None


# --- value domains ------------------------------------------------------------------------


def numeric_precision_scale(modifier: int) -> tuple[int, int] | None:
    """Return ``(precision, scale)`` of a ``numeric(p,s)`` typmod, None for plain numeric."""
    if modifier < 4:
        return None
    packed = modifier - 4
    # Since PostgreSQL 15 the scale is an 11-bit signed field (numeric(3,-2)).
    return (packed >> 16) & 0xFFFF, ((packed & 0x7FF) ^ 1024) - 1024


def temporal_precision(ctype: ColumnType) -> int | None:
    """Return the fractional second digits of a temporal type (6 unless ``(p)`` says less).

    None for an interval restricted to some fields (``interval year to month``): its
    values are not what a ``timedelta`` says.
    """
    if ctype.base == "date" or ctype.modifier < 0:
        return 6
    if ctype.base == "interval":
        fields, digits = (ctype.modifier >> 16) & 0x7FFF, ctype.modifier & 0xFFFF
        if fields != _INTERVAL_FULL_RANGE:
            return None
        return 6 if digits == 0xFFFF else min(digits, 6)
    return min(ctype.modifier, 6)


def _quantum(number: Decimal) -> Decimal:
    """Return the unit of the last digit of a number, at most 1 (2.5 -> 0.1, 30 -> 1)."""
    exponent = number.as_tuple().exponent
    return Decimal(1).scaleb(min(exponent, 0) if isinstance(exponent, int) else 0)


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return Decimal(value)


@dataclass(frozen=True)
class ValueDomain:
    """The values of one (scalar or element) type as Python values, and how to step them.

    The stepping methods (``below``, ``at_or_above``, ...) return the nearest value of
    the domain on one side of a constant, ignoring the type's range (check it with
    :meth:`contains`); they return None when the constant is not comparable.
    """

    family: str  # int numeric float text enum bool date timestamp timestamptz time
    # interval uuid, or "other" (json, inet, ...: only NULL-ness is known)
    low: Any = None
    high: Any = None
    precision: int | None = None
    scale: int | None = None
    width: Literal[32, 64] = 64
    max_length: int | None = None
    max_bytes: int | None = None  # name: 63 bytes
    padded: bool = False  # char(n): trailing spaces are not significant
    case_insensitive: bool = False  # citext
    labels: tuple[str, ...] = ()
    fractional_digits: int = 6  # timestamp(p), time(p), interval(p): digits of a second

    @classmethod
    def for_type(cls, ctype: ColumnType) -> ValueDomain:
        """Return the domain of a column type's values (of its elements, for an array)."""
        base = ctype.base
        if ctype.enum_values:
            return cls("enum", labels=ctype.enum_values)
        family = _FAMILIES.get(base, "other")
        if family == "int":
            low, high = INT_RANGES[base]
            return cls("int", low=low, high=high)
        if family == "numeric":
            typmod = numeric_precision_scale(ctype.modifier)
            if typmod is None:
                return cls("numeric")
            return cls("numeric", precision=typmod[0], scale=typmod[1])
        if family == "float":
            return cls("float", width=32 if base == "float4" else 64)
        if family == "text":
            length = ctype.modifier - 4 if base in ("varchar", "bpchar") else None
            return cls(
                "text",
                max_length=length if length is not None and length >= 0 else None,
                max_bytes=63 if base == "name" else None,
                padded=base == "bpchar",
                case_insensitive=base == "citext",
            )
        if family in _TEMPORAL_UNITS:
            digits = temporal_precision(ctype)
            return cls(family, fractional_digits=digits) if digits is not None else cls("other")
        return cls(family)

    @property
    def unit(self) -> int:
        """Return the step between two values of a temporal type, in ticks."""
        if self.family == "date":
            return 1
        return int(10 ** (6 - self.fractional_digits))

    def ticks(self, value: Any) -> int | None:
        """Return a temporal value as an integer: days for a date, else microseconds."""
        if self.family not in _TEMPORAL_UNITS or not self._same_kind(value):
            return None
        if self.family == "time":
            seconds: int = value.hour * 3600 + value.minute * 60 + value.second
            return seconds * 1_000_000 + int(value.microsecond)
        if self.family == "interval":
            return int(value // _MICROSECOND)
        delta = value - _EPOCHS[self.family]
        return delta.days if self.family == "date" else int(delta // _MICROSECOND)

    def from_ticks(self, ticks: int) -> Any:
        """Return the temporal value of ``ticks``, None outside what Python can hold."""
        try:
            if self.family == "date":
                return _EPOCHS["date"] + timedelta(days=ticks)
            delta = timedelta(microseconds=ticks)
            if self.family == "interval":
                return delta
            if self.family == "time":
                if not 0 <= ticks < 86_400 * 10**6:
                    return None
                return (datetime.min + delta).time()
            return _EPOCHS[self.family] + delta
        except OverflowError:
            return None

    # -- membership and conversion

    def store(self, value: Any) -> Any:
        """Return ``value`` as the column holds it (rounded, trimmed), or UNKNOWN.

        UNKNOWN means the database would not store it as given (out of range, too long:
        an error, not a CHECK violation) or its content cannot be compared here.
        """
        if value is None or isinstance(value, Marker):
            return value
        family = self.family
        if family == "other":
            return NON_NULL
        if family in _NUMBER_FAMILIES and (
            isinstance(value, bool) or not isinstance(value, (int, float, Decimal))
        ):
            return UNKNOWN
        stored: Any = value
        if family == "int":
            if not isinstance(value, int):
                return UNKNOWN
        elif family == "numeric":
            if isinstance(value, float):
                return UNKNOWN  # float8 -> numeric keeps 15 digits: not modelled
            stored = Decimal(value)
            if not stored.is_finite():
                return UNKNOWN
            if self.scale is not None:
                stored = stored.quantize(Decimal(1).scaleb(-self.scale), ROUND_HALF_UP)
        elif family == "float":
            stored = float(value)
            if math.isnan(stored):
                return UNKNOWN
            stored = _float4(stored) if self.width == 32 else stored
        elif family == "text":
            return self._store_text(value)
        elif family == "enum":
            return value if value in self.labels else UNKNOWN
        elif family in _TEMPORAL_UNITS:
            ticks = self.ticks(value)
            if ticks is None:
                return UNKNOWN
            # timestamp(p) and friends round half away from zero (from 2000-01-01).
            whole, rest = divmod(abs(ticks), self.unit)
            whole += 2 * rest >= self.unit
            stored = self.from_ticks(int(math.copysign(whole * self.unit, ticks)))
        elif not self._same_kind(value):
            return UNKNOWN
        return stored if self.contains(stored) else UNKNOWN

    def _store_text(self, value: Any) -> Any:
        if not isinstance(value, str):
            return UNKNOWN
        if self.max_bytes is not None and len(value.encode()) > self.max_bytes:
            return UNKNOWN  # a name is cut to 63 bytes: not modelled
        if self.max_length is not None and len(value) > self.max_length:
            # SQL lets only trailing spaces be cut to fit; anything more is an error.
            if value[self.max_length :].strip(" "):
                return UNKNOWN
            value = value[: self.max_length]
        if self.padded:
            value = value.rstrip(" ")
        return CiText(value) if self.case_insensitive else value

    def _same_kind(self, value: Any) -> bool:
        kinds: dict[str, Callable[[Any], bool]] = {
            "bool": lambda v: isinstance(v, bool),
            "date": lambda v: isinstance(v, date) and not isinstance(v, datetime),
            "timestamp": lambda v: isinstance(v, datetime) and v.tzinfo is None,
            "timestamptz": lambda v: isinstance(v, datetime) and v.utcoffset() is not None,
            "time": lambda v: isinstance(v, time) and v.tzinfo is None,
            "interval": lambda v: isinstance(v, timedelta),
            "uuid": lambda v: isinstance(v, uuid.UUID),
        }
        check = kinds.get(self.family)
        return check is not None and check(value)

    def contains(self, value: Any) -> bool:
        """Return True if ``value`` is a value of this domain, stored exactly as given."""
        if value is None or isinstance(value, Marker):
            return False
        family = self.family
        if family == "int":
            return (
                isinstance(value, int)
                and not isinstance(value, bool)
                and self.low <= value <= self.high
            )
        if family == "numeric":
            if not isinstance(value, Decimal) or not value.is_finite():
                return False
            if self.scale is None or self.precision is None:
                return True
            quantum = Decimal(1).scaleb(-self.scale)
            return value == value.quantize(quantum, ROUND_HALF_UP) and abs(value) < Decimal(10) ** (
                self.precision - self.scale
            )
        if family == "float":
            return (
                isinstance(value, float)
                and math.isfinite(value)
                and (self.width == 64 or _float4(value) == value)
            )
        if family == "text":
            expected = value.rstrip(" ") if self.padded and isinstance(value, str) else value
            return bool(self._store_text(value) == expected)
        if family == "enum":
            return value in self.labels
        if family in _TEMPORAL_UNITS:
            ticks = self.ticks(value)
            return ticks is not None and ticks % self.unit == 0
        return self._same_kind(value)

    def convert(self, constant: Any) -> Any:
        """Return the domain's value equal to ``constant``, or None if it has none."""
        if isinstance(constant, Marker) or constant is None:
            return None
        candidate: Any = constant
        if self.family in ("int", "numeric", "float"):
            number = _as_decimal(constant)
            if number is None:
                return None
            if self.family == "int":
                candidate = int(number) if number == number.to_integral_value() else None
            elif self.family == "numeric":
                candidate = number
            else:
                candidate = float(number)
                if Decimal(candidate) != number:
                    return None
        elif self.family == "text" and isinstance(constant, str):
            candidate = str(constant)
        elif self.family == "uuid" and isinstance(constant, str):
            try:
                candidate = uuid.UUID(constant)
            except ValueError:
                return None
        return candidate if candidate is not None and self.contains(candidate) else None

    # -- stepping

    def at_or_below(self, constant: Any) -> Any:
        """Return the largest domain value <= ``constant``."""
        return self._step(constant, upward=False, strict=False)

    def below(self, constant: Any) -> Any:
        """Return the largest domain value < ``constant``."""
        return self._step(constant, upward=False, strict=True)

    def at_or_above(self, constant: Any) -> Any:
        """Return the smallest domain value >= ``constant``."""
        return self._step(constant, upward=True, strict=False)

    def above(self, constant: Any) -> Any:
        """Return the smallest domain value > ``constant``."""
        return self._step(constant, upward=True, strict=True)

    def _step(self, constant: Any, *, upward: bool, strict: bool) -> Any:
        family = self.family
        if family in _NUMBER_FAMILIES:
            number = _as_decimal(constant)
            if number is None:
                return None
            if family == "float":
                return self._float_step(number, upward=upward, strict=strict)
            if family == "int":
                unit = Decimal(1)
            elif self.scale is not None:
                unit = Decimal(1).scaleb(-self.scale)
            else:
                unit = _quantum(number)
            units = (number / unit).to_integral_value(ROUND_CEILING if upward else ROUND_FLOOR)
            if strict and units * unit == number:
                units += 1 if upward else -1
            if family == "int":
                return int(units)
            exponent = -self.scale if self.scale is not None else unit.as_tuple().exponent
            return (units * unit).quantize(Decimal(1).scaleb(int(exponent)))
        ticks = self.ticks(constant)
        if ticks is not None:
            steps, rest = divmod(ticks, self.unit)
            if upward and rest:
                steps += 1
            if strict and not rest:
                steps += 1 if upward else -1
            return self.from_ticks(steps * self.unit)
        if family == "uuid" and isinstance(constant, uuid.UUID):
            moved = constant.int + (1 if upward else -1) * strict
            return uuid.UUID(int=moved) if 0 <= moved < 2**128 else None
        return None

    def _float_step(self, number: Decimal, *, upward: bool, strict: bool) -> float | None:
        value = float(number)
        if self.width == 32:
            value = _float4(value)
        # Walk to the right side of the constant, then one more step if it must be strict.
        while (Decimal(value) < number) if upward else (Decimal(value) > number):
            value = _next_float(value, upward, self.width)
        if strict and Decimal(value) == number:
            value = _next_float(value, upward, self.width)
        return value if math.isfinite(value) else None

    # -- picking values

    def other_than(self, values: Iterable[Any]) -> Any:
        """Return a domain value equal to none of ``values`` (None if it cannot)."""
        taken = [v for v in values if v is not None]
        for candidate in self._candidates(taken):
            if self.contains(candidate) and not any(self._equal(candidate, v) for v in taken):
                return candidate
        return None

    def _candidates(self, taken: list[Any]) -> Iterator[Any]:
        family = self.family
        if family == "enum":
            yield from self.labels
        elif family == "bool":
            yield from (False, True)
        elif family == "text":
            yield from ("x", "y", "z", "xx", "q", "#")
        else:
            comparable = []
            for value in taken:
                with_step = self.above(value)
                if with_step is not None:
                    comparable.append(with_step)
            if comparable:
                with contextlib.suppress(TypeError):
                    yield max(comparable)
            yield from comparable
            sample = self.sample()
            if sample is not None:
                yield sample
                yield self.above(sample)

    def _equal(self, a: Any, b: Any) -> bool:
        result = _compare("=", self.store(a), self.store(b))
        return result is not False  # UNKNOWN counts as equal: pick another

    def sample(self) -> Any:
        """Return a plain value of the domain (None for the ``other`` family)."""
        samples: dict[str, Any] = {
            "int": 1,
            "numeric": Decimal(1),
            "float": 1.0,
            "text": "x",
            "bool": True,
            "date": date(2000, 1, 1),
            "timestamp": datetime(2000, 1, 1),
            "timestamptz": datetime(2000, 1, 1, tzinfo=_UTC),
            "time": time(12),
            "interval": timedelta(days=1),
            "uuid": uuid.UUID(int=1),
        }
        if self.family == "enum":
            return self.labels[0] if self.labels else None
        value = samples.get(self.family)
        if self.family == "numeric" and self.scale is not None:
            value = self.at_or_above(value)
        if self.family == "text" and self.max_length == 0:
            return None
        return value if value is not None and self.contains(value) else None


# --- bounds -------------------------------------------------------------------------------


def _tighter(a: Any, a_inclusive: bool, b: Any, b_inclusive: bool, upper: bool) -> tuple[Any, bool]:
    """Return the tighter of two bounds (``upper``: the smaller one)."""
    if a is None:
        return b, b_inclusive
    if b is None:
        return a, a_inclusive
    try:
        if a == b:
            return a, a_inclusive and b_inclusive
        b_wins = b < a if upper else b > a
    except TypeError:
        return a, a_inclusive  # incomparable constants: keep the first, the caller converts
    return (b, b_inclusive) if b_wins else (a, a_inclusive)


def _unique(values: Iterable[Any]) -> tuple[Any, ...]:
    """Return ``values`` without repeats, in order (values may be unhashable lists)."""
    result: list[Any] = []
    for value in values:
        if not any(type(value) is type(seen) and value == seen for seen in result):
            result.append(value)
    return tuple(result)


def _intersect_choices(
    a: tuple[Any, ...] | None, b: tuple[Any, ...] | None
) -> tuple[Any, ...] | None:
    if a is None:
        return b
    if b is None:
        return a
    return tuple(value for value in a if value in b)


@dataclass(frozen=True)
class ColumnBounds:
    """What single-column CHECK conditions say about one column's values.

    ``min``/``max`` are constants as the expression states them (an int, a Decimal, a
    datetime...); the strategies convert them to the column's type. ``choices`` None
    means any value; ``min_length``/``max_length`` bound a text's length or an array's
    cardinality; ``element_choices`` bounds an array's elements (``col <@ ARRAY[...]``);
    ``patterns`` are regular expressions (from ``~``, LIKE, SIMILAR TO) a value must
    match, ``unmatched`` those it must not (``!~``, NOT LIKE); ``json_type`` and
    ``json_keys`` shape a json value (``jsonb_typeof(x) = 'object'``, ``x ? 'key'``).
    Bounds constrain non-null values only: a CHECK passes on NULL (its result is NULL),
    so ``not_null`` comes from ``IS NOT NULL`` or ``IS TRUE`` alone.
    """

    min: Any = None
    max: Any = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    choices: tuple[Any, ...] | None = None
    not_equal: tuple[Any, ...] = ()
    not_null: bool = False
    min_length: int | None = None
    max_length: int | None = None
    element_choices: tuple[Any, ...] | None = None
    patterns: tuple[str, ...] = ()  # Python regexes (see python_pattern) values must match
    unmatched: tuple[str, ...] = ()  # Python regexes values must not match (!~, NOT LIKE)
    json_type: str | None = None  # jsonb_typeof(x) = 'object'
    json_keys: tuple[str, ...] = ()  # x ? 'key': an object with these keys

    def intersect(self, other: ColumnBounds) -> ColumnBounds:
        """Return the bounds that satisfy both ``self`` and ``other``."""
        low, low_inclusive = _tighter(
            self.min, self.min_inclusive, other.min, other.min_inclusive, upper=False
        )
        high, high_inclusive = _tighter(
            self.max, self.max_inclusive, other.max, other.max_inclusive, upper=True
        )
        lengths = [v for v in (self.min_length, other.min_length) if v is not None]
        max_lengths = [v for v in (self.max_length, other.max_length) if v is not None]
        return ColumnBounds(
            min=low,
            max=high,
            min_inclusive=low_inclusive,
            max_inclusive=high_inclusive,
            choices=_intersect_choices(self.choices, other.choices),
            not_equal=_unique([*self.not_equal, *other.not_equal]),
            not_null=self.not_null or other.not_null,
            min_length=max(lengths) if lengths else None,
            max_length=min(max_lengths) if max_lengths else None,
            element_choices=_intersect_choices(self.element_choices, other.element_choices),
            patterns=_unique([*self.patterns, *other.patterns]),
            unmatched=_unique([*self.unmatched, *other.unmatched]),
            json_type=self.json_type or other.json_type,
            json_keys=_unique([*self.json_keys, *other.json_keys]),
        )

    @property
    def is_empty(self) -> bool:
        """Return True when the bounds say nothing."""
        return self == ColumnBounds()


_EXACT_CASTS: Final = {
    # column base type -> casts that keep every value exactly (order and equality hold)
    "int2": {"int4", "int8", "numeric", "float4", "float8"},
    "int4": {"int8", "numeric", "float8"},
    "int8": {"numeric"},
    "float4": {"float8"},
    "varchar": {"text"},
    "name": {"text"},
    "bpchar": {"text"},  # trailing spaces go, as they do in bpchar comparisons
    "text": {"text", "varchar"},
}


def _column_ref(node: Node, types: Mapping[str, ColumnType] | None) -> str | None:
    """Return the column ``node`` reads, if it is the column itself up to an exact cast."""
    while True:
        if isinstance(node, Column):
            return node.name
        if isinstance(node, Collate):
            node = node.arg
            continue
        if isinstance(node, Cast) and isinstance(node.arg, (Column, Collate)):
            name = _column_ref(node.arg, types)
            ctype = types.get(name) if types is not None and name is not None else None
            if ctype is None or ctype.is_array:
                exact = node.type in _TEXT_TYPES and (ctype is None or not ctype.is_array)
            else:
                exact = node.type == ctype.base or node.type in _EXACT_CASTS.get(ctype.base, ())
            return name if exact else None
        return None


def _length_ref(node: Node, types: Mapping[str, ColumnType] | None) -> str | None:
    """Return the column of ``length(col)``, ``cardinality(col)``, ``array_length(col, 1)``."""
    if not isinstance(node, Func) or not node.args:
        return None
    lengths = ("length", "char_length", "character_length", "cardinality")
    if node.name in lengths and len(node.args) == 1:
        return _column_ref(node.args[0], types)
    if node.name == "array_length" and len(node.args) == 2:
        dimension = node.args[1]
        if isinstance(dimension, Const) and dimension.value == 1:
            return _column_ref(node.args[0], types)
    return None


def _list_constant(node: Node) -> list[Any] | None:
    if isinstance(node, Const) and isinstance(node.value, list):
        return node.value
    if isinstance(node, ArrayLit) and all(isinstance(item, Const) for item in node.items):
        return [item.value for item in node.items if isinstance(item, Const)]
    return None


def _atom_bounds(
    node: Node, types: Mapping[str, ColumnType] | None
) -> tuple[str, ColumnBounds] | None:
    """Return what one condition says about one column, if it is of a known form."""
    if isinstance(node, Not):
        inner = node.arg
        if isinstance(inner, Compare):
            return _atom_bounds(Compare(_NEGATED[inner.op], inner.left, inner.right), types)
        name = _column_ref(inner, types)
        return (name, ColumnBounds(choices=(False,))) if name else None
    if isinstance(node, Compare):
        left, op, right = node.left, node.op, node.right
        if isinstance(left, Const) and not isinstance(right, Const):
            left, op, right = right, _FLIPPED[op], left
        if not isinstance(right, Const):
            paired = _case_bounds(left, right, types) if op == "=" else None
            return paired or _clock_bounds(left, op, right, types)
        if right.value is None or isinstance(right.value, CalendarInterval):
            return None
        value = right.value
        if isinstance(left, Func) and _is_func(left, "strpos", 2):
            return _position_bounds(left, op, value, types)
        if isinstance(left, Func) and len(left.args) == 1 and left.name in _FUNCTION_BOUNDS:
            return _function_bounds(left, op, value, types)
        name = _column_ref(left, types)
        if name is not None:
            if op == "=":
                return name, ColumnBounds(choices=(value,))
            if op == "<>":
                return name, ColumnBounds(not_equal=(value,))
            if isinstance(value, (str, bool, list)):
                return None  # string order is the collation's, enum order the type's
            if op in (">", ">="):
                return name, ColumnBounds(min=value, min_inclusive=op == ">=")
            return name, ColumnBounds(max=value, max_inclusive=op == "<=")
        name = _length_ref(left, types)
        if name is None or isinstance(value, bool) or not isinstance(value, int):
            return None
        low = {">": value + 1, ">=": value, "=": value}.get(op)
        high = {"<": value - 1, "<=": value, "=": value}.get(op)
        if low is None and high is None:
            return None
        return name, ColumnBounds(min_length=low, max_length=high)
    if isinstance(node, Quantified):
        name = _column_ref(node.left, types)
        items = _list_constant(node.right)
        if name is None and isinstance(node.left, Func) and node.left.name in _CASE_PATTERNS:
            # upper(currency) IN ('USD', 'EUR'): the items of that case are values of it.
            name = _column_ref(node.left.args[0], types) if len(node.left.args) == 1 else None
            fold = str.upper if node.left.name == "upper" else str.lower
            if items is not None and node.op == "=" and not node.all:
                items = [i for i in items if isinstance(i, str) and i.isascii() and fold(i) == i]
            else:
                items = None
        if name is None or items is None:
            return None
        present = tuple(item for item in items if item is not None)
        if node.op == "=" and not node.all and len(present) == len(items):
            return name, ColumnBounds(choices=present)
        if node.op == "<>" and node.all and len(present) == len(items):
            return name, ColumnBounds(not_equal=present)
        return None
    if isinstance(node, Match) and isinstance(node.right, Const):
        return _match_bounds(node, node.right.value, types)
    if isinstance(node, Func) and _is_func(node, "jsonb_exists", 2):
        name = _column_ref(node.args[0], types)
        key = node.args[1]
        if name is None or not isinstance(key, Const) or not isinstance(key.value, str):
            return None
        return name, ColumnBounds(json_type="object", json_keys=(key.value,))
    if _is_func(node, "starts_with", 2) and isinstance(node, Func):
        name = _column_ref(node.args[0], types)
        prefix = node.args[1]
        if name is None or not isinstance(prefix, Const) or not isinstance(prefix.value, str):
            return None
        return name, ColumnBounds(patterns=(r"\A" + re.escape(prefix.value),))
    if isinstance(node, Contains) and node.op == "<@":
        name = _column_ref(node.left, types)
        items = _list_constant(node.right)
        if name is None or items is None:
            return None
        return name, ColumnBounds(element_choices=tuple(i for i in items if i is not None))
    if isinstance(node, BoolTest) and node.value is not None and not node.negated:
        name = _column_ref(node.arg, types)
        return (name, ColumnBounds(choices=(node.value,), not_null=True)) if name else None
    if isinstance(node, NullTest) and node.negated:
        name = _column_ref(node.arg, types)
        return (name, ColumnBounds(not_null=True)) if name else None
    if isinstance(node, Column) and (types is None or _is_bool(types.get(node.name))):
        return node.name, ColumnBounds(choices=(True,))
    if isinstance(node, BoolOp) and node.op == "OR":
        return _or_bounds(node, types)
    if isinstance(node, BoolOp) and node.op == "AND":
        found = [_atom_bounds(arg, types) for arg in node.args]
        names = {item[0] for item in found if item is not None}
        if None in found or len(names) != 1:
            return None
        bounds = ColumnBounds()
        for item in found:
            if item is not None:
                bounds = bounds.intersect(item[1])
        return names.pop(), bounds
    return None


# A clock-relative bound is this much inside the clock's value: beyond any time zone's
# offset (a date or timestamp column compared with now()) and the length of a run.
CLOCK_MARGIN: Final = timedelta(days=2)
_CLOCK_FAMILIES: Final = frozenset({"date", "timestamp", "timestamptz"})


def _clock_bounds(
    left: Node, op: str, right: Node, types: Mapping[str, ColumnType] | None
) -> tuple[str, ColumnBounds] | None:
    """Return the bounds of ``col < now() - '18 years'`` and the like, as of now.

    The bound is :data:`CLOCK_MARGIN` inside the clock's value, so a value drawn within
    it stays on the right side while the clock moves on; strategies are built once per
    run.
    """
    name = _column_ref(left, types)
    ctype = types.get(name) if types is not None and name is not None else None
    if name is None or op not in ("<", "<=", ">", ">="):
        return None
    family = ValueDomain.for_type(ctype).family if ctype is not None else None
    moment = _clock_value(right)
    if family not in _CLOCK_FAMILIES or moment is None:
        return None
    upper = op in ("<", "<=")
    moment = moment - CLOCK_MARGIN if upper else moment + CLOCK_MARGIN
    if family == "date":
        day = moment.date()
        bound: Any = day if upper else day + timedelta(days=1)
    else:
        bound = moment if family == "timestamptz" else moment.replace(tzinfo=None)
    return name, ColumnBounds(max=bound) if upper else ColumnBounds(min=bound)


def _clock_value(node: Node) -> datetime | None:
    """Return the value of now(), current_date, ... plus or minus constants, in UTC."""
    if isinstance(node, Func) and not node.args and node.name in _CLOCKS:
        return datetime.now(_UTC)
    if isinstance(node, Cast):
        return _clock_value(node.arg)
    if not isinstance(node, Arith) or not isinstance(node.right, Const):
        return None
    moment = _clock_value(node.left)
    step, sign = node.right.value, 1 if node.op == "+" else -1
    if moment is None or isinstance(step, bool):
        return None
    if isinstance(step, int):
        step = timedelta(days=step)  # current_date + 1
    try:
        if isinstance(step, CalendarInterval):
            shifted: datetime = step.after(moment, sign)
            return shifted
        return moment + sign * step if isinstance(step, timedelta) else None
    except (OverflowError, ValueError):
        return None


_CLOCKS: Final = frozenset({"now", "current_date", "localtimestamp", "statement_timestamp"})


# jsonb_typeof(x) = 'object', octet_length(x) <= 12, btrim(x) <> '': one column's shape.
_FUNCTION_BOUNDS: Final = frozenset({"jsonb_typeof", "json_typeof", "octet_length", "btrim"})
_ASCII_ONLY: Final = r"\A[\x00-\x7f]*\Z"  # octet_length is length for ASCII text
_NOT_BLANK: Final = "[^ ]"  # btrim(x) <> '': a character btrim does not remove


def _function_bounds(
    node: Func, op: str, value: Any, types: Mapping[str, ColumnType] | None
) -> tuple[str, ColumnBounds] | None:
    name = _column_ref(node.args[0], types)
    if name is None:
        return None
    if node.name in ("jsonb_typeof", "json_typeof") and op == "=" and isinstance(value, str):
        return name, ColumnBounds(json_type=value)
    if node.name == "btrim" and op == "<>" and value == "":
        return name, ColumnBounds(patterns=(_NOT_BLANK,))
    if node.name != "octet_length" or isinstance(value, bool) or not isinstance(value, int):
        return None
    high = {"<": value - 1, "<=": value, "=": value}.get(op)
    low = {">": value + 1, ">=": value, "=": value}.get(op)
    return name, ColumnBounds(min_length=low, max_length=high, patterns=(_ASCII_ONLY,))


def _match_bounds(
    node: Match, pattern: Any, types: Mapping[str, ColumnType] | None
) -> tuple[str, ColumnBounds] | None:
    """Return the pattern a value must (or, negated, must not) match."""
    # lower(code) LIKE 'ab%': code matches, and lower(code) is code (no upper case).
    case = next((p for f, p in _CASE_PATTERNS.items() if _is_func(node.left, f, 1)), None)
    subject = node.left
    if case is not None and isinstance(subject, Func):
        subject = subject.args[0]
    name = _column_ref(subject, types)
    ctype = types.get(name) if types is not None and name is not None else None
    if name is None or (ctype is not None and ctype.base == "bpchar"):
        return None  # char(n) padding and patterns: not worth the doubt
    translated = python_pattern(node.op, pattern)
    if translated is None:
        return None
    if node.op.startswith("!"):
        # Must not match: lower(x) NOT LIKE ... says nothing of x's own case.
        return (name, ColumnBounds(unmatched=(translated,))) if case is None else None
    return name, ColumnBounds(patterns=(translated, case) if case else (translated,))


# lower(x) = x holds for a text without upper case letters (ASCII: the drawn alphabet).
NO_UPPER: Final = r"\A[^A-Z]*\Z"
NO_LOWER: Final = r"\A[^a-z]*\Z"
_CASE_PATTERNS: Final = {"lower": NO_UPPER, "upper": NO_LOWER}


def _is_func(node: Node, name: str, arity: int) -> bool:
    return isinstance(node, Func) and node.name == name and len(node.args) == arity


def _case_bounds(
    left: Node, right: Node, types: Mapping[str, ColumnType] | None
) -> tuple[str, ColumnBounds] | None:
    """Return the bounds of ``lower(x) = x`` or ``x = upper(x)``: x has no other case."""
    for folded, plain in ((left, right), (right, left)):
        for function, pattern in _CASE_PATTERNS.items():
            if _is_func(folded, function, 1) and isinstance(folded, Func):
                name = _column_ref(plain, types)
                if name is not None and name == _column_ref(folded.args[0], types):
                    return name, ColumnBounds(patterns=(pattern,))
    return None


def _position_bounds(
    node: Func, op: str, value: Any, types: Mapping[str, ColumnType] | None
) -> tuple[str, ColumnBounds] | None:
    """Return the bounds of ``strpos(x, 'sub') op n`` (``POSITION('sub' IN x)``) as a pattern.

    The position is that of the first occurrence: ``> 1`` is one character or more
    without ``sub``, then ``sub``.
    """
    name = _column_ref(node.args[0], types)
    sub = node.args[1]
    if name is None or not isinstance(sub, Const) or not isinstance(sub.value, str):
        return None
    if not sub.value or isinstance(value, bool) or not isinstance(value, int):
        return None
    escaped = re.escape(sub.value)
    # A character that does not start an occurrence of sub.
    other = f"[^{escaped}]" if len(sub.value) == 1 else f"(?:(?!{escaped}).)"
    if (op, value) in (("=", 0), ("<", 1), ("<=", 0)):
        return name, ColumnBounds(patterns=(rf"\A{other}*\Z",))
    first = {">": value + 1, ">=": value, "=": value, "<>": 1 if value == 0 else None}.get(op)
    if first is None or first < 1:
        return None
    repeat = f"{{{first - 1}}}" if op == "=" else f"{{{first - 1},}}"
    return name, ColumnBounds(patterns=(rf"\A{other}{repeat}{escaped}",))


def _is_bool(ctype: ColumnType | None) -> bool:
    return ctype is not None and ctype.base == "bool" and not ctype.is_array


def _or_bounds(
    node: BoolOp, types: Mapping[str, ColumnType] | None
) -> tuple[str, ColumnBounds] | None:
    """Return the bounds of ``a OR b OR ...`` on one column.

    ``x IS NULL`` branches allow NULL and nothing more; a single other branch gives its
    bounds; several give the union of their choices (a union of ranges is not a range).
    """
    names: set[str] = set()
    branches: list[ColumnBounds] = []
    for arg in node.args:
        if isinstance(arg, NullTest) and not arg.negated:
            name = _column_ref(arg.arg, types)
            if name is None:
                return None
            names.add(name)
            continue
        found = _atom_bounds(arg, types)
        if found is None:
            return None
        names.add(found[0])
        branches.append(replace(found[1], not_null=False))
    if len(names) != 1 or not branches:
        return None
    name = names.pop()
    if len(branches) == 1:
        return name, branches[0]
    if all(b.choices is not None and replace(b, choices=None).is_empty for b in branches):
        union = _unique(v for b in branches for v in b.choices or ())
        return name, ColumnBounds(choices=union)
    return None


def _conjuncts(node: Node) -> tuple[Node, ...]:
    return node.args if isinstance(node, BoolOp) and node.op == "AND" else (node,)


def column_bounds(
    expression: str | Node, column_types: Mapping[str, ColumnType] | None = None
) -> dict[str, ColumnBounds]:
    """Return per column what the single-column conditions of a CHECK require.

    The expression is read as a conjunction; each conjunct of a known form on one column
    (``x >= 1``, ``x = ANY (ARRAY[...])``, ``x <> ''``, ``x IS NULL OR x <= 5``,
    ``length(x) <= 10``, ``x <@ ARRAY[...]``) narrows that column. Other conjuncts are
    ignored: values within the bounds may still violate them.

    Args:
        expression: The CHECK's text (``Constraint.expression``) or a parsed node.
        column_types: The types of the table's columns (``{"VALUE": type}`` for a domain);
            with them, casts of a column are followed only when they keep values exact.

    Returns:
        Bounds by column name; columns nothing is known about are absent.
    """
    node = parse(expression) if isinstance(expression, str) else expression
    result: dict[str, ColumnBounds] = {}
    for conjunct in _conjuncts(node):
        found = _atom_bounds(conjunct, column_types)
        if found is not None:
            name, bounds = found
            result[name] = result[name].intersect(bounds) if name in result else bounds
    return result


_ORDERED_FAMILIES: Final = frozenset(
    {"int", "numeric", "float", "date", "timestamp", "timestamptz", "time", "interval"}
)


def _order_operands(node: Node, types: Mapping[str, ColumnType]) -> list[str]:
    """Return the columns whose value ``node`` may be: itself, or a COALESCE's arguments."""
    if isinstance(node, Func) and node.name == "coalesce":
        return [name for arg in node.args for name in _order_operands(arg, types)]
    name = _column_ref(node, types)
    ctype = types.get(name) if name is not None else None
    if ctype is None or ctype.is_array:
        return []
    return [name] if name is not None else []


def column_order(
    expression: str | Node, column_types: Mapping[str, ColumnType]
) -> list[tuple[str, str]]:
    """Return the pairs ``(lesser, greater)`` of columns a CHECK compares with each other.

    ``ended_at >= created_at`` gives ``("created_at", "ended_at")``, also inside
    ``ended_at IS NULL OR ...``; ``finished_at >= COALESCE(started_at, requested_at)``
    gives a pair for each argument; under NOT the order is reversed. Only columns of one
    ordered family (numbers, or the same temporal type) are paired. Values sorted this
    way meet such CHECKs without drawing and rejecting rows.
    """
    node = parse(expression) if isinstance(expression, str) else expression
    pairs: list[tuple[str, str]] = []

    def family(name: str) -> str:
        found = ValueDomain.for_type(column_types[name]).family
        return "number" if found in _NUMBER_FAMILIES else found

    def visit(node: Node, positive: bool) -> None:
        if isinstance(node, Not):
            visit(node.arg, not positive)
        elif isinstance(node, BoolOp):
            for arg in node.args:
                visit(arg, positive)
        elif isinstance(node, Compare) and node.op in ("<", "<=", ">", ">="):
            op = node.op if positive else _NEGATED[node.op]
            for left in _order_operands(node.left, column_types):
                for right in _order_operands(node.right, column_types):
                    if left == right or family(left) != family(right):
                        continue
                    if family(left) not in _ORDERED_FAMILIES | {"number"}:
                        continue
                    pair = (left, right) if op in ("<", "<=") else (right, left)
                    if pair not in pairs:
                        pairs.append(pair)

    visit(node, True)
    return pairs


# --- evaluation ---------------------------------------------------------------------------

Truth = bool | None | Marker  # a condition's value: TRUE, FALSE, NULL or unknown


def _compare(op: str, a: Any, b: Any) -> Truth:
    """Compare two stored values as PostgreSQL would, or return UNKNOWN."""
    if a is None or b is None:
        return None
    if isinstance(a, Marker) or isinstance(b, Marker):
        return UNKNOWN
    numbers = (int, float, Decimal)
    if isinstance(a, numbers) and isinstance(b, numbers):
        if isinstance(a, bool) != isinstance(b, bool):
            return UNKNOWN
        if any(isinstance(v, float) and math.isnan(v) for v in (a, b)):
            return UNKNOWN
    elif isinstance(a, str) and isinstance(b, str):
        if op not in ("=", "<>"):
            return UNKNOWN  # string order depends on the collation
        citext = isinstance(a, CiText) or isinstance(b, CiText)
        ascii_only = a.isascii() and b.isascii()
        if citext and a != b and (a.casefold() == b.casefold() or not ascii_only):
            return UNKNOWN
    elif isinstance(a, datetime) and isinstance(b, datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return UNKNOWN
    elif isinstance(a, date) and isinstance(b, date):
        if isinstance(a, datetime) or isinstance(b, datetime):
            return UNKNOWN
    elif isinstance(a, time) and isinstance(b, time):
        if a.tzinfo is not None or b.tzinfo is not None:
            return UNKNOWN
    elif not (
        (isinstance(a, timedelta) and isinstance(b, timedelta))
        or (isinstance(a, uuid.UUID) and isinstance(b, uuid.UUID))
    ):
        return UNKNOWN
    operations: dict[str, Callable[[Any, Any], bool]] = {
        "=": operator.eq,
        "<>": operator.ne,
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }
    try:
        return bool(operations[op](a, b))
    except TypeError:
        return UNKNOWN


def _and(values: Iterable[Truth]) -> Truth:
    seen = list(values)
    if False in seen:
        return False
    if UNKNOWN in seen or any(v not in (True, None) for v in seen):
        return UNKNOWN
    return None if None in seen else True


def _or(values: Iterable[Truth]) -> Truth:
    seen = list(values)
    if True in seen:
        return True
    if UNKNOWN in seen or any(v not in (False, None) for v in seen):
        return UNKNOWN
    return None if None in seen else False


def _truth(value: Any) -> Truth:
    return value if value is None or isinstance(value, bool) else UNKNOWN


@dataclass
class _Evaluator:
    row: Mapping[str, Any]
    types: Mapping[str, ColumnType]
    _domains: dict[str, ValueDomain] = field(default_factory=dict)

    def domain(self, name: str) -> ValueDomain | None:
        ctype = self.types.get(name)
        if ctype is None:
            return None
        if name not in self._domains:
            self._domains[name] = ValueDomain.for_type(ctype)
        return self._domains[name]

    def column(self, name: str) -> Any:
        if name not in self.row:
            return UNKNOWN
        value = self.row[name]
        domain = self.domain(name)
        ctype = self.types.get(name)
        if domain is None or ctype is None:
            return value
        if ctype.is_array:
            if value is None or isinstance(value, Marker):
                return value
            if not isinstance(value, list) or ctype.array_dims != 1:
                return NON_NULL
            return [domain.store(item) for item in value]
        return domain.store(value)

    def value(self, node: Node) -> Any:
        if isinstance(node, Column):
            return self.column(node.name)
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Collate):
            return self.value(node.arg)
        if isinstance(node, ArrayLit):
            items = [self.value(item) for item in node.items]
            return UNKNOWN if any(isinstance(i, Marker) for i in items) else items
        if isinstance(node, Cast):
            return self.cast(node)
        if isinstance(node, Compare):
            return _compare(node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, Quantified):
            return self.quantified(node)
        if isinstance(node, Contains):
            return self.contains(node)
        if isinstance(node, BoolOp):
            truths = (_truth(self.value(arg)) for arg in node.args)
            return _and(truths) if node.op == "AND" else _or(truths)
        if isinstance(node, Not):
            inner = _truth(self.value(node.arg))
            return (not inner) if isinstance(inner, bool) else inner
        if isinstance(node, NullTest):
            inner = self.value(node.arg)
            if inner is UNKNOWN:
                return UNKNOWN
            return (inner is None) != node.negated
        if isinstance(node, BoolTest):
            inner = _truth(self.value(node.arg))
            if inner is UNKNOWN:
                return UNKNOWN
            return (inner is node.value) != node.negated
        if isinstance(node, Func):
            return self.function(node)
        if isinstance(node, Case):
            return self.case(node)
        if isinstance(node, Arith):
            return self.arith(node)
        if isinstance(node, Match):
            return _match(node.op, self.value(node.left), self.value(node.right))
        return UNKNOWN

    def cast(self, node: Cast) -> Any:
        value = self.value(node.arg)
        if value is None or isinstance(value, Marker):
            return value
        target = node.type
        if target in _TEXT_TYPES and isinstance(value, str):
            return str(value) if target != "citext" else CiText(value)
        family = _FAMILIES.get(target)
        number = _as_decimal(value) if not isinstance(value, float) else None
        if family == "numeric" and number is not None:
            return number
        if family == "float" and isinstance(value, (int, float, Decimal)):
            if isinstance(value, bool):
                return UNKNOWN
            result = float(value)
            return _float4(result) if target == "float4" else result
        if family == "int" and isinstance(value, int) and not isinstance(value, bool):
            low, high = INT_RANGES[target]
            return value if low <= value <= high else UNKNOWN
        return UNKNOWN

    def quantified(self, node: Quantified) -> Truth:
        left = self.value(node.left)
        items = self.value(node.right)
        if not isinstance(items, list):
            return None if items is None else UNKNOWN
        if not items:
            return node.all  # = ANY ('{}') is false and <> ALL ('{}') true, even for NULL
        truths = [_compare(node.op, left, item) for item in items]
        return _and(truths) if node.all else _or(truths)

    def contains(self, node: Contains) -> Truth:
        left, right = self.value(node.left), self.value(node.right)
        if left is None or right is None:
            return None
        if not isinstance(left, list) or not isinstance(right, list):
            return UNKNOWN
        if node.op == "@>":
            left, right = right, left
        if node.op == "&&":
            pairs = [
                _compare("=", a, b) for a in left if a is not None for b in right if b is not None
            ]
            return _or(pairs) if pairs else False
        # <@: every element of left equals some element of right; NULLs never match.
        results = [
            False if item is None else _or(_compare("=", item, other) for other in right)
            for item in left
        ]
        return _and(t if t is not None else False for t in results)

    def function(self, node: Func) -> Any:
        if node.name == "coalesce":
            for arg in node.args:
                value = self.value(arg)
                if value is not None:
                    return value
            return None
        args = [self.value(arg) for arg in node.args]
        if node.name in ("num_nulls", "num_nonnulls", "distinct"):
            return _null_function(node.name, args)
        if any(arg is None for arg in args):
            return None
        if any(isinstance(arg, Marker) for arg in args):
            return UNKNOWN
        if node.name in ("length", "char_length", "character_length") and len(args) == 1:
            return len(args[0]) if isinstance(args[0], str) else UNKNOWN
        if node.name in _TEXT_FUNCTIONS and all(
            isinstance(arg, str) and not isinstance(arg, CiText) for arg in args
        ):
            return _text_function(node.name, args)
        if node.name == "cardinality" and len(args) == 1 and isinstance(args[0], list):
            if any(isinstance(item, list) for item in args[0]):
                return UNKNOWN
            return len(args[0])
        if node.name == "array_length" and len(args) == 2 and isinstance(args[0], list):
            if args[1] != 1 or any(isinstance(item, list) for item in args[0]):
                return UNKNOWN
            return len(args[0]) or None
        return UNKNOWN

    def case(self, node: Case) -> Any:
        subject = self.value(node.subject) if node.subject is not None else None
        for condition, result in node.whens:
            if node.subject is None:
                truth = _truth(self.value(condition))
            else:
                truth = _compare("=", subject, self.value(condition))
            if truth is UNKNOWN:
                return UNKNOWN
            if truth is True:
                return self.value(result)
        return self.value(node.default) if node.default is not None else None

    def arith(self, node: Arith) -> Any:
        left, right = self.value(node.left), self.value(node.right)
        if left is None or right is None:
            return None
        temporal = (datetime, timedelta)
        if isinstance(left, temporal) and isinstance(right, timedelta):
            try:
                return left + right if node.op == "+" else left - right
            except OverflowError:
                return UNKNOWN
        if isinstance(left, (int, Decimal)) and isinstance(right, (int, Decimal)):
            if isinstance(left, bool) or isinstance(right, bool):
                return UNKNOWN
            if isinstance(left, int) and isinstance(right, int):
                return UNKNOWN  # integer overflow is an error whose width is not known here
            return Decimal(left) + Decimal(right) if node.op == "+" else left - right
        return UNKNOWN


def _match(op: str, text: Any, pattern: Any) -> Truth:
    """Return whether ``text`` matches, where Python's translation agrees (ASCII text)."""
    if text is None or pattern is None:
        return None
    translated = python_pattern(op, pattern)
    if translated is None or not isinstance(text, str) or isinstance(text, CiText):
        return UNKNOWN
    if not text.isascii():
        return UNKNOWN  # classes and case beyond ASCII are the locale's
    found = re.search(translated, text, PATTERN_FLAGS) is not None
    return found != op.startswith("!")


def _null_function(name: str, args: Sequence[Any]) -> Any:
    """Return num_nulls, num_nonnulls or IS DISTINCT FROM: only NULL-ness must be known."""
    if name == "distinct":
        left, right = args
        if left is None or right is None:
            return (left is None) != (right is None) if UNKNOWN not in (left, right) else UNKNOWN
        truth = _compare("<>", left, right)
        return truth
    if UNKNOWN in args:
        return UNKNOWN
    nulls = sum(arg is None for arg in args)
    return nulls if name == "num_nulls" else len(args) - nulls


_TEXT_FUNCTIONS: Final = frozenset({"strpos", "starts_with", "lower", "upper"})


def _text_function(name: str, args: Sequence[str]) -> Any:
    """Return strpos, starts_with, lower or upper of ``args``, where Python's agree."""
    if name == "strpos" and len(args) == 2:
        return args[0].find(args[1]) + 1  # 1-based, 0 when absent (found at 1 when empty)
    if name == "starts_with" and len(args) == 2:
        return args[0].startswith(args[1])
    if name in ("lower", "upper") and len(args) == 1 and args[0].isascii():
        # Beyond ASCII the case mapping is the collation's.
        return args[0].lower() if name == "lower" else args[0].upper()
    return UNKNOWN


def evaluate(
    expression: str | Node,
    row: Mapping[str, Any],
    column_types: Mapping[str, ColumnType] | None = None,
) -> Any:
    """Evaluate an expression on a row, with SQL's three-valued logic.

    Returns:
        The value: for a condition True, False or None (SQL NULL), or :data:`UNKNOWN`
        when it cannot be told here (a column missing from ``row``, an opaque function).
    """
    node = parse(expression) if isinstance(expression, str) else expression
    return _Evaluator(row, column_types or {}).value(node)


_MAX_NULLNESS_COLUMNS: Final = 6  # 2**6 combinations at most


def null_patterns(
    expression: str | Node, names: Sequence[str], column_types: Mapping[str, ColumnType]
) -> list[dict[str, bool]] | None:
    """Return which of ``names`` may be NULL together (name -> is NULL) for a CHECK to pass.

    ``num_nonnulls(a, b, c) = 1``, ``(a IS NULL) <> (b IS NULL)``, ``a IS NOT NULL OR b
    IS NOT NULL``: each combination of NULL and non-null is evaluated knowing only that;
    those the CHECK cannot pass are left out. None when NULL-ness alone rules out none.
    """
    node = parse(expression) if isinstance(expression, str) else expression
    if not names or len(names) > _MAX_NULLNESS_COLUMNS:
        return None
    allowed: list[dict[str, bool]] = []
    for nulls in itertools.product((False, True), repeat=len(names)):
        row = {name: None if null else NON_NULL for name, null in zip(names, nulls, strict=True)}
        if _truth(evaluate(node, row, column_types)) is not False:
            allowed.append(dict(zip(names, nulls, strict=True)))
    return allowed if len(allowed) < 2 ** len(names) else None


def check_result(
    expression: str | Node,
    row: Mapping[str, Any],
    column_types: Mapping[str, ColumnType] | None = None,
) -> bool | None:
    """Return True if a row passes a CHECK (TRUE or NULL), False if not, None if unknown."""
    truth = _truth(evaluate(expression, row, column_types))
    if truth is UNKNOWN:
        return None
    return truth is not False


# --- violations ---------------------------------------------------------------------------

Assignment = dict[str, Any]


def _merge(a: Assignment, b: Assignment) -> Assignment | None:
    merged = dict(a)
    for name, value in b.items():
        if name not in merged:
            merged[name] = value
            continue
        current = merged[name]
        if current is NON_NULL and value is not None:
            merged[name] = value
        elif value is NON_NULL and current is not None:
            continue
        elif not (type(current) is type(value) and current == value):
            return None
    return merged


def _product(groups: Sequence[list[Assignment]]) -> list[Assignment]:
    result: list[Assignment] = []
    for combination in itertools.product(*groups):
        merged: Assignment | None = {}
        for part in combination:
            merged = _merge(merged, part) if merged is not None else None
        if merged is not None and merged not in result:
            result.append(merged)
        if len(result) >= _MAX_BRANCH:
            break
    return result


def _concat(groups: Iterable[list[Assignment]]) -> list[Assignment]:
    result: list[Assignment] = []
    for group in groups:
        for assignment in group:
            if assignment not in result:
                result.append(assignment)
    return result[: _MAX_BRANCH * 2]


@dataclass
class _Violator:
    types: Mapping[str, ColumnType]

    def domain(self, node: Node) -> ValueDomain | None:
        """Return the domain of the values ``node`` produces, if it can be produced."""
        if isinstance(node, Func) and node.name == "coalesce" and node.args:
            return self.domain(node.args[-1])
        if _length_ref(node, self.types) is not None:
            return ValueDomain("int", low=0, high=1000)
        name = _column_ref(node, self.types)
        ctype = self.types.get(name) if name is not None else None
        if ctype is None or ctype.is_array:
            return None
        return ValueDomain.for_type(ctype)

    def produce(self, node: Node, value: Any) -> list[Assignment]:
        """Return assignments under which ``node`` evaluates to ``value``."""
        if isinstance(node, Const):
            if value is NON_NULL:
                return [{}] if node.value is not None else []
            return [{}] if _compare("=", node.value, value) is True else []
        if isinstance(node, Func) and node.name == "coalesce":
            options = []
            for index, arg in enumerate(node.args):
                nulls = [self.produce(prior, None) for prior in node.args[:index]]
                options.extend(_product([*nulls, self.produce(arg, value)]))
            return options[:_MAX_BRANCH]
        length_of = _length_ref(node, self.types)
        if length_of is not None:
            return self.produce_length(node, length_of, value)
        name = _column_ref(node, self.types)
        if name is None or name not in self.types:
            return []
        ctype = self.types[name]
        if value is None or value is NON_NULL:
            return [{name: value}]
        if ctype.is_array:
            return [{name: value}] if isinstance(value, list) else []
        return [{name: value}] if ValueDomain.for_type(ctype).contains(value) else []

    def produce_length(self, node: Node, name: str, length: Any) -> list[Assignment]:
        ctype = self.types.get(name)
        if ctype is None or not isinstance(length, int) or isinstance(length, bool):
            return []
        if length == 0 and isinstance(node, Func) and node.name == "array_length":
            return []  # array_length of an empty array is NULL, not 0
        domain = ValueDomain.for_type(ctype)
        if not ctype.is_array:
            text = "x" * length
            return [{name: text}] if domain.family == "text" and domain.contains(text) else []
        sample = domain.sample()
        if sample is None or ctype.array_dims != 1:
            return []
        return [{name: [sample] * length}]

    def pick(self, domain: ValueDomain, relation: str, constant: Any) -> Any:
        """Return a value ``v`` of ``domain`` with ``v relation constant`` true."""
        if relation == "=":
            return domain.convert(constant)
        if relation == "<>":
            return domain.other_than([constant])
        step = {
            "<": domain.below,
            "<=": domain.at_or_below,
            ">": domain.above,
            ">=": domain.at_or_above,
        }[relation]
        value = step(constant)
        return value if value is not None and domain.contains(value) else None

    def make(self, node: Node, want: bool) -> list[Assignment]:
        """Return assignments under which ``node`` is ``want`` (for sure, not NULL)."""
        if isinstance(node, BoolOp):
            parts = [self.make(arg, want) for arg in node.args]
            if (node.op == "AND") == want:
                # Every operand must be `want`: combine their candidates, and try each one
                # alone too, as one value may serve all (bt = 3 breaks bt < 3 OR bt > 4).
                # Candidates that do not are dropped by the final evaluation.
                return _concat([_product(parts), *parts])
            return _concat(parts)
        if isinstance(node, Not):
            return self.make(node.arg, not want)
        if isinstance(node, NullTest):
            is_null = want != node.negated
            return self.produce(node.arg, None if is_null else NON_NULL)
        if isinstance(node, BoolTest):
            wanted = [v for v in (True, False, None) if ((v is node.value) != node.negated) == want]
            return _concat(
                self.produce(node.arg, None) if v is None else self.make(node.arg, v)
                for v in wanted
            )
        if isinstance(node, Compare):
            relation = node.op if want else _NEGATED[node.op]
            return self.compare(node.left, relation, node.right) or self.probe(node)
        if isinstance(node, Quantified):
            return self.quantified(node, want)
        if isinstance(node, Contains):
            return self.containment(node, want)
        if isinstance(node, (Column, Cast, Collate)):
            return self.produce(node, want)
        return self.probe(node)

    def probe(self, node: Node) -> list[Assignment]:
        """Return texts to try in the one text column a condition reads through functions.

        ``strpos(x, '@') > 1``, ``lower(x) = x``: not solved, but a few texts made of the
        condition's own strings (``@``, ``x@``, upper case) reach both of its outcomes;
        the final evaluation keeps those that do what is wanted.
        """
        names = columns_of(node)
        ctype = self.types.get(next(iter(names))) if len(names) == 1 else None
        if ctype is None or ctype.is_array:
            return []
        domain = ValueDomain.for_type(ctype)
        if domain.family != "text":
            return []
        words = [c.value for c in _walk(node) if isinstance(c, Const) and isinstance(c.value, str)]
        texts = ["", "x", "X"] + [
            text for word in words for text in (word, f"x{word}", f"xx{word}", word.upper())
        ]
        name = next(iter(names))
        return [{name: text} for text in dict.fromkeys(texts) if domain.contains(text)]

    def compare(self, left: Node, relation: str, right: Node) -> list[Assignment]:
        """Assignments under which ``left relation right`` holds (both non-null)."""
        if isinstance(left, Const) and not isinstance(right, Const):
            left, relation, right = right, _FLIPPED[relation], left
        domain = self.domain(left)
        if domain is None:
            return []
        if isinstance(right, Const):
            target = self.pick(domain, relation, right.value)
            return [] if target is None else self.produce(left, target)
        right_domain = self.domain(right)
        if right_domain is None or right_domain.family != domain.family:
            return []
        anchor = right_domain.sample()
        target = self.pick(domain, relation, anchor)
        if anchor is None or target is None:
            return []
        return _product([self.produce(right, anchor), self.produce(left, target)])

    def quantified(self, node: Quantified, want: bool) -> list[Assignment]:
        domain = self.domain(node.left)
        items = _list_constant(node.right)
        if domain is None or items is None:
            return []
        # x = ANY (list) is TRUE for a member, FALSE for a non-member if no item is NULL;
        # x <> ALL (list) is the opposite.
        if (node.op, node.all) == ("=", False):
            member = want
        elif (node.op, node.all) == ("<>", True):
            member = not want
        else:
            return []
        if member:
            values = [domain.convert(item) for item in items]
            return _concat(self.produce(node.left, v) for v in values if v is not None)
        if None in items:
            return []
        other = domain.other_than(items)
        return [] if other is None else self.produce(node.left, other)

    def containment(self, node: Contains, want: bool) -> list[Assignment]:
        name = _column_ref(node.left, self.types)
        items = _list_constant(node.right)
        ctype = self.types.get(name) if name is not None else None
        if name is None or ctype is None or ctype.array_dims != 1 or items is None:
            return []
        domain = ValueDomain.for_type(ctype)
        present = [item for item in items if item is not None]
        if node.op == "<@":
            if want:
                return [{name: []}]
            other = domain.other_than(present)
            return [] if other is None else [{name: [other]}]
        if node.op == "@>":
            if want:
                values = [domain.convert(item) for item in present]
                return [{name: values}] if None not in values else []
            return [{name: []}] if present else []
        # &&: an empty array overlaps nothing; a member overlaps.
        if not want:
            return [{name: []}]
        first = domain.convert(present[0]) if present else None
        return [] if first is None else [{name: [first]}]


def _resolve(assignment: Assignment, types: Mapping[str, ColumnType]) -> Assignment | None:
    """Replace "some non-null value" by a sample value of the column's type."""
    resolved: Assignment = {}
    for name, value in assignment.items():
        if value is NON_NULL:
            ctype = types.get(name)
            if ctype is None:
                return None
            sample = ValueDomain.for_type(ctype).sample()
            if sample is None:
                return None
            value = [sample] if ctype.is_array else sample
        resolved[name] = value
    return resolved


def violations(
    expression: str | Node, column_types: Mapping[str, ColumnType]
) -> list[dict[str, Any]]:
    """Return candidate values for a CHECK's columns that make it FALSE.

    Each candidate sets only the columns that matter (other columns may hold anything
    valid) and is kept only if evaluating the expression on it gives FALSE for sure:
    a range gives the nearest values outside it (``min - 1``, ``max + 1``, or one step of
    the column's precision; an exclusive bound itself), an ``IN`` list a value not in it,
    ``<> ''`` the empty string, ``ended_at >= created_at`` a pair the wrong way round,
    ``a IS NULL OR ...`` a non-null ``a`` that breaks the rest. A candidate can still be
    refused by the database for another reason (another CHECK, a NOT NULL): try it
    against the database before trusting it.

    Args:
        expression: The CHECK's text (or a parsed node).
        column_types: The types of the columns it reads (``{"VALUE": type}`` for a
            domain CHECK); a column without a type is never assigned.

    Returns:
        Up to :data:`MAX_VIOLATIONS` assignments, nearest to the boundary first; ``[]``
        when none can be derived (the caller searches instead).
    """
    node = parse(expression) if isinstance(expression, str) else expression
    violator = _Violator(column_types)
    found: list[dict[str, Any]] = []
    for candidate in violator.make(node, False):
        resolved = _resolve(candidate, column_types)
        if resolved is None or resolved in found:
            continue
        # The proof: only what SQL's three-valued logic says is FALSE is returned.
        if _truth(evaluate(node, resolved, column_types)) is False:
            found.append(resolved)
        if len(found) >= MAX_VIOLATIONS:
            break
    return found
