"""An example planned up front: its statements on a batch, and how to judge their answers.

A built-in check draws its examples first and sends them together (:mod:`batch`); it
cannot read an answer before it plans the next statement. So what a later statement
needs from an earlier one travels inside the server: a row inserted by the plan is a
:class:`PlannedRow`, and a column of it a :class:`Ref`, which the INSERT's ``RETURNING``
saves as a transaction-local setting (``set_config(..., true)``) and a later statement
reads with ``current_setting``. What a check concludes from the answers it says in
*judges*, run in the order they were planned once the batch is back: the first that
finds something ends the example (a failure, a rejection, a lock wait).

Every example runs in a savepoint that is rolled back, inside a transaction that is
rolled back: nothing the plan writes survives it, and it touches only rows it inserted.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import AdaptContext
from psycopg.adapt import Transformer

from pytest_dbverify.batch import Answer, Batch
from pytest_dbverify.catalog import Table, TableName
from pytest_dbverify.names import quoted

# A generated row the database refuses for reasons the generator cannot see coming
# (a CHECK it could not derive, a value that collides with an existing row, a partition
# bound, a trigger that sets a NOT NULL column to NULL): draw another example instead.
# So does any data exception (class 22): drawn values fit their columns' types, so the
# error comes from an expression (an index's, a generated column's, a trigger's).
REJECTABLE = frozenset({"23514", "23505", "23P01", "23502"})
# lock_not_available (our lock_timeout) and deadlock_detected: another session holds an
# uncommitted row with the key an example drew (another xdist worker drawing the same
# example, or the app). Waiting shows nothing about the schema: draw other values.
LOCK_WAIT_SQLSTATES = frozenset({"55P03", "40P01"})
# A setting no user sets: the prefix of the ones a plan passes values through.
_SETTING_PREFIX = "dbverify.k"


def rejectable(error: psycopg.Error) -> bool:
    """Return True for a refusal of a generated row that shows nothing (see REJECTABLE).

    Besides constraints and data exceptions: a business rule a trigger raises
    (:func:`raised_by_function`), a row-level security policy the row does not meet
    (:func:`refused_by_policy`), a setting a default or policy reads that the session
    lacks (:func:`setting_missing`), and an INSERT a rule rewrites (:func:`rewritten`).
    None of them is a constraint the checks are about, nor broken by the database.
    """
    sqlstate = error.sqlstate or ""
    return (
        sqlstate in REJECTABLE
        or sqlstate.startswith("22")
        or raised_by_function(error) is not None
        or refused_by_policy(error)
        or setting_missing(error) is not None
        or rewritten(error)
    )


def raised_by_function(error: psycopg.Error) -> str | None:
    """Return the function whose RAISE made ``error`` (a trigger's business rule), if any.

    PL/pgSQL's RAISE EXCEPTION is P0001 by default, any code with ``USING ERRCODE``;
    either way the context names the function and the RAISE (a constraint's error, even
    inside a trigger, names no RAISE).
    """
    found = _RAISED.search(error.diag.context or "")
    return found["function"] if found else None


def refused_by_policy(error: psycopg.Error) -> bool:
    """Return True for a new row a row-level security policy refuses (42501)."""
    return error.sqlstate == "42501" and (error.diag.message_primary or "").startswith(
        "new row violates row-level security policy"
    )


def setting_missing(error: psycopg.Error) -> str | None:
    """Return the custom setting the session lacks (``current_setting('app.tenant')``)."""
    if error.sqlstate != "42704":
        return None
    found = _MISSING_SETTING.fullmatch(error.diag.message_primary or "")
    return found["name"] if found else None


def rewritten(error: psycopg.Error) -> bool:
    """Return True for an INSERT ... RETURNING a conditional or silent DO INSTEAD rule forbids."""
    return error.sqlstate == "0A000" and (error.diag.message_primary or "").startswith(
        "cannot perform INSERT RETURNING on relation"
    )


_RAISED = re.compile(r"PL/pgSQL function (?P<function>.+?)\([^()]*\) line \d+ at RAISE")
_MISSING_SETTING = re.compile(r'unrecognized configuration parameter "(?P<name>[^"]+)"')


class Rejected(Exception):
    """The example shows nothing about the schema: it does not count, draw another.

    ``error`` is the refusal that rejected it, if the database's: what a check that no
    example passed reports (the table, column and constraint PostgreSQL named).
    """

    def __init__(self, reason: str, error: psycopg.Error | None = None) -> None:
        super().__init__(reason)
        self.error = error


class LockWait(Exception):
    """The example waited on another session's lock: it does not count, draw another."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error

    @property
    def on_a_row(self) -> bool:
        """Return True for a wait on a row (see :func:`waited_on_a_row`)."""
        return waited_on_a_row(self.error)


def waited_on_a_row(error: psycopg.Error) -> bool:
    """Return True if a lock error waited on a row (a key another session holds).

    The server names the row it waited for (``while inserting index tuple (0,2) in
    relation ...``); a wait on the table itself (a migration, LOCK TABLE) names none.
    """
    return error.sqlstate == "40P01" or bool(error.diag.context)


class RowDropped(AssertionError):
    """An INSERT reported success but returned no row: a trigger or rule swallowed it."""


@dataclass(frozen=True, eq=False)
class Ref:
    """A column of a row the plan inserts: known to the server during the batch, and after.

    In SQL it reads the setting the INSERT saved (text, NULL-safe); cast it where used.
    After the batch, :attr:`value` is the value the row was stored with.
    """

    row: PlannedRow
    column: str

    def sql(self) -> sql.Composable:
        """Return the value as text, from the setting (``'v' || value``, or ``'n'`` for NULL)."""
        return sql.SQL(_READ_SETTING.format(self.row.setting(self.column)))

    @property
    def value(self) -> Any:
        """Return the stored value, once the batch has run (None if the row is not there)."""
        stored = self.row.stored
        return None if stored is None else stored.get(self.column)

    def __repr__(self) -> str:
        if self.row.stored is None:
            return f"<{self.row.table.name}.{self.column}>"
        return repr(self.value)


# Setting names are ours (dbverify.k<n>): nothing in them needs quoting.
_READ_SETTING = "substr(nullif(current_setting('{}'), 'n'), 2)"
_SAVE_SETTING = ", set_config('{}', coalesce('v' || ({})::text, 'n'), true)"


class _Typed(sql.Composable):
    """A value cast to a type, ``'...'::text``, or a Ref's, ``(substr(...))::uuid``.

    A Composable of its own: built and rendered for every value of every example, where
    ``sql.SQL(...).format(...)`` parses its format string and a Literal makes a
    transformer of its own each time.
    """

    def __init__(self, value: Any, type_sql: str) -> None:
        super().__init__(value)
        # A Ref is read now: its row must save the column before either is rendered.
        self._text = f"({value.sql().as_string()})" if isinstance(value, Ref) else None
        self._type = type_sql

    def as_bytes(self, context: AdaptContext | None = None) -> bytes:
        encoding = _encoding(context)
        cast = f"::{self._type}".encode(encoding)
        if self._text is not None:
            return self._text.encode(encoding) + cast
        literal = Transformer.from_context(context).as_literal(self._obj)
        if literal.lstrip().startswith(b"-"):
            # -2147483648::int4 reads as -(2147483648::int4), out of range: parenthesize.
            return b"(" + literal + b")" + cast
        return literal + cast


def _encoding(context: AdaptContext | None) -> str:
    connection = getattr(context, "connection", None)
    return connection.info.encoding if connection is not None else "utf-8"


def sql_value(value: Any, type_sql: str) -> sql.Composable:
    """Return ``value`` as an SQL expression of type ``type_sql`` (a literal, or a Ref)."""
    return _Typed(value, type_sql)


def resolved(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``values`` with each Ref replaced by the value it stood for (after the batch)."""
    return {name: v.value if isinstance(v, Ref) else v for name, v in values.items()}


def describe_values(values: Mapping[str, Any]) -> str:
    """Return ``col=value, ...`` for a failure message (values are generated, not secret)."""
    return ", ".join(f"{name}={value!r}" for name, value in resolved(values).items())


def insert_statement(
    table: Table, values: Mapping[str, Any], *, overriding: bool = False
) -> sql.Composed:
    """Return ``INSERT INTO table (...) VALUES (...)``, each value cast to its column's type.

    ``overriding`` writes identity ALWAYS columns too (``OVERRIDING SYSTEM VALUE``).
    """
    head = _insert_head(table.name, tuple(values), overriding)
    types = table.column  # the same table at every example: its head is built once
    parts: list[sql.Composable] = [head]
    for n, (name, value) in enumerate(values.items()):
        if n:
            parts.append(_COMMA)
        parts.append(_Typed(value, types(name).type.sql))
    parts.append(_CLOSE if values else _NOTHING)
    return sql.Composed(parts)


@functools.lru_cache(maxsize=4096)
def _insert_head(table: TableName, columns: tuple[str, ...], overriding: bool) -> sql.Composable:
    if not columns:
        return sql.SQL("INSERT INTO {} DEFAULT VALUES").format(quoted(table))
    return sql.SQL("INSERT INTO {} ({}) {}VALUES (").format(
        quoted(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL("OVERRIDING SYSTEM VALUE " if overriding else ""),
    )


_COMMA, _CLOSE, _NOTHING = sql.SQL(", "), sql.SQL(")"), sql.SQL("")


def locator_where(row: PlannedRow) -> sql.Composable:
    """Return ``tableoid = ... AND ctid = ...``: the row's address, whatever its key."""
    return sql.Composed(
        [
            _TABLEOID,
            _Typed(row.ref("tableoid"), "oid"),
            _AND_CTID,
            _Typed(row.ref("ctid"), "tid"),
        ]
    )


_TABLEOID, _AND_CTID = sql.SQL("tableoid = "), sql.SQL(" AND ctid = ")


@dataclass(eq=False)
class PlannedRow:
    """A row a statement of the plan writes; :meth:`ref` names its columns for later ones.

    The statement (an INSERT, an UPDATE) is sent returning ``tableoid, ctid, *`` and
    saving the columns that later statements read, as they are stored.
    """

    table: Table
    statement: sql.Composable  # without RETURNING
    new_setting: Callable[[], str]
    values: dict[str, Any] = field(default_factory=dict)  # what an INSERT sent
    answer: Answer = field(default_factory=Answer)
    _settings: dict[str, str] = field(default_factory=dict)

    def ref(self, column: str) -> Any:
        """Return the column as a :class:`Ref`, or its value once the row is written."""
        stored = self.stored
        return Ref(self, column) if stored is None else stored[column]

    def setting(self, column: str) -> str:
        """Return the name of the setting the statement saves ``column`` in."""
        if column not in self._settings:
            self._settings[column] = self.new_setting()
        return self._settings[column]

    @property
    def stored(self) -> dict[str, Any] | None:
        """Return the row as stored (``RETURNING tableoid, ctid, *``), once written."""
        if not self.answer.rows:
            return None
        # The settings saved come last, after the row's own columns.
        width = len(self.answer.columns) - len(self._settings)
        return dict(zip(self.answer.columns[:width], self.answer.rows[0][:width], strict=True))

    def render(self) -> sql.Composable:
        """Return the statement, saving every column a later statement reads."""
        saved = [
            sql.SQL(_SAVE_SETTING.format(setting, _quoted_column(column)))
            for column, setting in self._settings.items()
        ]
        return sql.Composed([self.statement, _RETURNING, *saved])


_RETURNING = sql.SQL(" RETURNING tableoid, ctid, *")


@functools.lru_cache(maxsize=4096)
def _quoted_column(name: str) -> str:
    return sql.Identifier(name).as_string()


Judge = Callable[[], None]


class ExamplePlan:
    """One example: its statements on ``batch``, and the judges of their answers."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.questions = Batch()  # for the expected database, answered before ``batch``
        self._judges: list[Judge] = []
        self._later: list[Callable[[], None]] = []
        self._savepoints = itertools.count()
        # Names reused by every example (each one's savepoint undoes its settings): a
        # session keeps every setting name it ever saw.
        self._settings = itertools.count()

    def execute(self, statement: sql.Composable) -> Answer:
        """Queue a statement that must succeed if it runs (its failure is judged here)."""
        answer = self.batch.add(statement)
        self.judge(lambda: succeeded(answer))
        return answer

    def attempt(self, statement: sql.Composable) -> Answer:
        """Queue a statement that may fail: a judge of the check reads its answer.

        Queue it inside :meth:`savepoint`, whose end bounds what its failure skips, or
        as the example's last statement (the example's end does the same).
        """
        return self.batch.add(statement)

    def insert(self, table: Table, values: Mapping[str, Any]) -> PlannedRow:
        """Queue an INSERT of exactly ``values`` that must store its row."""
        overriding = any(table.column(name).identity == "always" for name in values)
        statement = insert_statement(table, values, overriding=overriding)
        return self.write(table, statement, values)

    def write(
        self,
        table: Table,
        statement: sql.Composable,
        values: Mapping[str, Any] | None = None,
        *,
        nothing: str | None = None,
    ) -> PlannedRow:
        """Queue a statement that must write one row of ``table``; return the row.

        ``values`` is what an INSERT sent; ``nothing`` the failure if no row comes back
        (for an INSERT: a trigger or rule swallowed it, :class:`RowDropped`).
        """
        row = PlannedRow(table, statement, self._new_setting, dict(values or {}))
        row.answer = self.batch.add(row)
        self.judge(lambda: stored(row, nothing))
        return row

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run the block's statements in a savepoint rolled back at its end.

        An error inside skips the rest of the block only: a Sync ends it, then the
        ``ROLLBACK TO`` makes the transaction usable again (it fails too, harmlessly, if
        an error before the block skipped its ``SAVEPOINT``). The savepoint is not
        released: what follows runs inside it, and the example's end undoes it all.
        """
        savepoint, rollback = _savepoint_statements(next(self._savepoints))
        self.batch.add(savepoint)
        yield
        self.batch.sync()
        self.batch.add(rollback)

    def end(self) -> None:
        """End the example: roll back to the savepoint each example starts from.

        The round sets it (:data:`EXAMPLE_SAVEPOINT`) once; ``ROLLBACK TO`` keeps it for
        the next example, after a Sync, whatever failed before.
        """
        self.batch.sync()
        self.batch.add(_BACK_TO_EXAMPLE)

    def ask(self, statement: sql.Composable) -> Answer:
        """Queue a question for the expected database; read its answer in a :meth:`later` step.

        Each question is a segment of its own: one that fails (a value that does not fit
        its type) leaves the others their answers.
        """
        answer = self.questions.add(statement)
        self.questions.sync()
        return answer

    def later(self, step: Callable[[], None]) -> None:
        """Run ``step`` once the questions asked so far are answered; it may plan more."""
        self._later.append(step)

    @property
    def waiting(self) -> bool:
        """Return True while :meth:`later` steps wait for answers."""
        return bool(self._later)

    def proceed(self) -> None:
        """Run the steps that waited for the answers now in (they may queue more)."""
        steps, self._later = self._later, []
        for step in steps:
            step()

    def judge(self, check: Judge) -> None:
        """Run ``check`` after the batch, after the judges planned before it.

        It raises :class:`Rejected` or :class:`LockWait` to discard the example, or an
        AssertionError (or the server's error) to fail the check.
        """
        self._judges.append(check)

    def _new_setting(self) -> str:
        return f"{_SETTING_PREFIX}{next(self._settings)}"

    def verdict(self) -> None:
        """Run the judges in order; the first that raises decides the example."""
        for check in self._judges:
            check()


@functools.lru_cache(maxsize=256)
def _savepoint_statements(number: int) -> tuple[sql.SQL, sql.SQL]:
    """Return SAVEPOINT and ROLLBACK TO of savepoint ``dbverify_<number>``."""
    name = f"dbverify_{number}"  # ours: nothing to quote
    return sql.SQL(f"SAVEPOINT {name}"), sql.SQL(f"ROLLBACK TO {name}")


# Where every example starts from: the round sets it, each example rolls back to it.
EXAMPLE_SAVEPOINT = sql.SQL("SAVEPOINT dbverify_example")
_BACK_TO_EXAMPLE = sql.SQL("ROLLBACK TO dbverify_example")


def succeeded(answer: Answer) -> None:
    """Judge a statement that must succeed: reject, wait out a lock, or raise its error.

    A statement skipped after an earlier failure is not judged here: the earlier one's
    judge runs first.
    """
    error = answer.error
    if error is None:
        return
    if error.sqlstate in LOCK_WAIT_SQLSTATES:
        raise LockWait(error)
    if rejectable(error):
        raise Rejected(f"{error.sqlstate}: {error}", error)
    raise error


def stored(row: PlannedRow, nothing: str | None = None) -> None:
    """Judge a write: it succeeded (see :func:`succeeded`) and wrote its row."""
    try:
        succeeded(row.answer)
    except psycopg.Error as err:
        # The server's words name no statement: say which one.
        sent = f" ({describe_values(row.values)})" if row.values else ""
        err.add_note(f"writing a row of {row.table.name}{sent}")
        raise
    if not row.answer.ran or row.answer.rows:
        return
    if nothing is not None:
        raise AssertionError(nothing)
    raise RowDropped(
        f"INSERT INTO {row.table.name} reported success but stored no row "
        f"({describe_values(row.values)}): a BEFORE trigger returning NULL or a "
        "DO INSTEAD rule swallows inserts"
    )


def expected_error(answer: Answer, sqlstates: str | Iterable[str]) -> psycopg.Error | None:
    """Return the statement's error if it has one of ``sqlstates``; None if it succeeded.

    Any other error: another constraint objected (reject), another session's lock (wait),
    or something the check is not about (raise it). ``sqlstates`` may list several codes:
    what one rule raises differs across versions.
    """
    accepted = {sqlstates} if isinstance(sqlstates, str) else set(sqlstates)
    error = answer.error
    if error is None or error.sqlstate in accepted:
        return error
    succeeded(answer)
    return None  # pragma: no cover (succeeded raised)
