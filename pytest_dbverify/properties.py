"""Run a property check: hypothesis draws its examples, each in a savepoint rolled back.

:func:`run_planned` (the built-in checks) plans every example up front and sends them
in one batch, inside a transaction that is rolled back: one round trip for a check, and
one more for each round of replacements (examples the database rejected). Hypothesis'
first test case (the simplest values) plans one example, sent with the next test case's,
which plans the rest and sends replacements as long as it needs them. No failure is
raised inside a test case, so hypothesis never replays a batch: it is raised once
hypothesis is done.

:func:`run_examples` (your own properties, through ``dbverify_examples``) runs each
example as it is drawn, reading answers as it goes.

Hypothesis runs derandomized (a CI run is reproducible), seeded per check, writes no
example database, and does not shrink: a failure reports the example that failed.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import (
    FailedHealthCheck,
    FlakyStrategyDefinition,
    StopTest,
    Unsatisfiable,
    UnsatisfiedAssumption,
)
from psycopg import pq, sql

from pytest_dbverify.batch import Batch, Pipeline
from pytest_dbverify.plans import (
    EXAMPLE_SAVEPOINT,
    LOCK_WAIT_SQLSTATES,
    ExamplePlan,
    LockWait,
    Rejected,
    waited_on_a_row,
)
from pytest_dbverify.refusals import Refusal, unmade
from pytest_dbverify.rows import CannotGenerate, Draw, RowFactory, RowPlanner
from pytest_dbverify.savepoints import savepoint
from pytest_dbverify.strategies import UnsupportedTypeError

if TYPE_CHECKING:
    from pytest_dbverify.catalog import Table
    from pytest_dbverify.run import VerificationRun

Example = Callable[[RowFactory], None]
PlannedExample = Callable[[RowPlanner], None]
READ_ONLY_SQLSTATE = "25006"
# Examples wait this long on another session's row before drawing others, well under
# the server's deadlock_timeout (1 s by default): two workers never deadlock, and the
# app's writes never queue long behind a row of ours.
EXAMPLE_LOCK_TIMEOUT_MS = 50
# Waits in a row on the table itself (not on a row: the server names no row) that end
# the check: a migration or LOCK TABLE holds it, and more examples would only wait again.
MAX_LOCK_WAITS = 5
# Examples planned for each one wanted, at most, before the check gives up on the rest.
MAX_TRIES_PER_EXAMPLE = 10
# ... and with none accepted yet: every one refused shows the rows cannot be made.
MAX_TRIES_WITHOUT_ANY = 3
# Rounds of replacements one hypothesis test case plans for each example it wants: more
# choices would overrun a test case (8,192), which hypothesis throws away whole.
MAX_ROUNDS_PER_CASE = 3
_SETTINGS = settings(
    max_examples=1,  # one valid test case: the round that completes the check
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)
# Drawn first by every test case: 0 in hypothesis' first one, the simplest.
_SALT = st.integers(0, 2**32 - 1)


def skip_if_read_only(run: VerificationRun) -> None:
    """Skip a check that writes (even rolled back) in read-only mode."""
    if run.settings.read_only:
        pytest.skip("read-only mode: this check inserts rows (always rolled back)")


@dataclass
class _Tally:
    """What the examples of a check (or of one test case) have shown so far."""

    wanted: int
    valid: int = 0
    planned: int = 0
    lock_waits: list[psycopg.Error] = field(default_factory=list)  # in a row
    failure: BaseException | None = None
    patience: int = MAX_ROUNDS_PER_CASE  # examples planned for each one wanted, at most
    refusals: Counter[Refusal] = field(default_factory=Counter)  # why examples were rejected

    @property
    def done(self) -> bool:
        """Return True once the examples have shown what they can: enough, or a finding."""
        return (
            self.failure is not None
            or self.valid >= self.wanted
            or len(self.lock_waits) >= MAX_LOCK_WAITS
        )

    @property
    def spent(self) -> bool:
        """Return True once as many examples were planned as the check may try."""
        return self.planned >= self.wanted * self.patience

    def judge(self, plan: ExamplePlan) -> None:
        """Count one example's verdict; keep the first failure."""
        if self.failure is not None:
            return
        try:
            plan.verdict()
        except Rejected as rejected:
            self.refusals[Refusal.of(rejected)] += 1
            return
        except LockWait as waited:
            # A row another session holds: other values go around it. The table
            # itself, locked: more examples would only wait on it again.
            if not waited.on_a_row:
                self.lock_waits.append(waited.error)
            return
        except (AssertionError, psycopg.Error) as err:
            self.failure = err
            return
        self.valid += 1
        self.lock_waits.clear()

    def add(self, other: _Tally) -> None:
        """Count what another tally (a test case's) found too."""
        self.valid += other.valid
        self.planned += other.planned
        self.refusals.update(other.refusals)
        self.lock_waits = other.lock_waits if other.lock_waits else self.lock_waits
        self.failure = self.failure or other.failure


class _Stop(BaseException):
    """The check may draw no more examples: what stopped it, for the skip's reason.

    Not an Exception: hypothesis neither counts it as a failure nor replays it, it ends
    the run at once. ``told``: the refusals counted already say it (every one refused).
    """

    def __init__(self, reason: str, *, told: bool = False) -> None:
        super().__init__(reason)
        self.told = told


def run_planned(
    run: VerificationRun,
    conn: psycopg.Connection,
    what: str,
    example: PlannedExample,
    *,
    table: Table | None = None,
) -> None:
    """Check ``example`` on the configured number of examples, planned and sent in batches.

    ``example(rows)`` plans its statements on ``rows.plan`` (a
    :class:`pytest_dbverify.plans.ExamplePlan`) and says there how to judge their
    answers; ``what`` names the object for messages, ``table`` the table the check is
    about (a refusal elsewhere is a parent's). ``conn`` may be idle (the batch opens and
    rolls back a transaction of its own) or inside one (a savepoint then).

    Bounded: the check stops drawing after ``--dbverify-check-budget`` seconds, after
    :data:`MAX_TRIES_PER_EXAMPLE` examples per one wanted, or after
    :data:`MAX_TRIES_WITHOUT_ANY` per one wanted with none accepted. With none accepted
    it is skipped, naming the rule PostgreSQL refused the rows by.
    """
    skip_if_read_only(run)
    check = _Check(run, conn, example)
    # Reproducible per check, without hypothesis hashing a closure's source (read and
    # tokenized again for every check) to derive a seed and an example-database key.
    seed(_seed_of(what))(_test_cases)
    token = _CHECKING.set(check)
    stopped: str | None = None
    try:
        with suppress(Unsatisfiable, FailedHealthCheck):
            _test_cases()  # no valid test case at all: the tally says what that means
    except _Stop as stop:
        stopped = None if stop.told else str(stop)
    except FlakyStrategyDefinition:
        # Hypothesis replayed a test case whose drawing had stopped short (a budget met
        # mid-draw): nothing about the schema. Findings live in the tally, not in the
        # test case, so what was judged still decides.
        stopped = "hypothesis could not replay a test case (drawing stopped part way)"
    finally:
        _CHECKING.reset(token)
    _conclude(run, what, check.tally, stopped, table)


class _Check:
    """One property check's examples: planned, sent in rounds, judged, counted."""

    def __init__(
        self, run: VerificationRun, conn: psycopg.Connection, example: PlannedExample
    ) -> None:
        self.run = run
        self.conn = conn
        self.example = example
        self.catalog = run.expected_catalog()
        self.tally = _Tally(run.settings.examples)
        self.budget = run.settings.check_budget
        self.deadline = time.monotonic() + self.budget
        self.simplest: list[ExamplePlan] = []  # planned by the first test case
        self._args: tuple[int, _Tally, _Round | None] = (0, _Tally(0), None)

    def test_case(self, data: st.DataObject) -> None:
        """Run one hypothesis test case: a round of examples, and its replacements.

        What a test case draws must follow from its choices (and the database's answers)
        alone: hypothesis replays prefixes of earlier test cases. So each counts its own
        examples, and only what it drew; the check's own limits end the whole run
        (:class:`_Stop`), never one test case.
        """
        wanted = self.tally.wanted
        simplest_values = data.draw(_SALT) == 0
        first = simplest_values and wanted > 1
        case = _Tally(1 if first else max(wanted - 1, 1))
        if simplest_values:
            case.patience = 1  # drawn again, the simplest values are the same again
        try:
            if first:
                # Hypothesis' first test case draws the simplest values: one example of
                # them, sent with the next test case's.
                self.simplest.extend(self._draw(data, case.wanted, case, None))
                reject()
            sent, self.simplest = self.simplest, []
            count = case.wanted
            while True:
                self._stop_if_spent(case)
                self._round(data, sent, count, case)
                if case.done:
                    break
                if simplest_values or case.spent:
                    # More would be the same again, or overrun the test case: on to
                    # another test case, with new choices.
                    reject()
                # Replacements for the examples rejected: another round trip.
                sent, count = [], case.wanted - case.valid
        except (UnsatisfiedAssumption, _Stop):
            raise
        except Exception as err:  # raised after hypothesis is done: nothing to replay
            case.failure = err
        finally:
            self.tally.add(case)

    def _round(
        self, data: st.DataObject, sent: list[ExamplePlan], count: int, case: _Tally
    ) -> None:
        """Send ``sent`` and ``count`` new examples in one round trip, and judge them.

        Examples already sent are judged even when drawing the next one fails (a filter
        hypothesis cannot satisfy, a test case that overruns): their answers are in.
        """
        round_ = _Round(self.conn, self.run.oracle())
        try:
            with round_:
                for plan in sent:
                    round_.send(plan)
                self._draw(data, count, case, round_)
        except (UnsatisfiedAssumption, StopTest):
            self._judge(round_.sent, len(sent), case)
            raise
        self._judge(round_.sent, len(sent), case)

    def _judge(self, plans: list[ExamplePlan], simplest: int, case: _Tally) -> None:
        """Judge a round's examples: the first ``simplest`` for the check, the rest ``case``'s."""
        for plan in plans[:simplest]:
            self.tally.judge(plan)
        for plan in plans[simplest:]:
            case.judge(plan)

    def _stop_if_spent(self, case: _Tally) -> None:
        """End the check's run if it has tried what it may (see :func:`run_planned`)."""
        tried = self.tally.planned + case.planned
        wanted = self.tally.wanted
        if time.monotonic() > self.deadline:
            raise _Stop(
                f"its {self.budget:g} s budget ran out (--dbverify-check-budget) "
                f"after {tried} examples"
            )
        if self.tally.valid + case.valid == 0 and tried >= wanted * MAX_TRIES_WITHOUT_ANY:
            raise _Stop(f"none of {tried} examples was accepted", told=True)
        if tried >= wanted * MAX_TRIES_PER_EXAMPLE:
            raise _Stop(f"{tried} examples were tried")

    def _draw(
        self, data: st.DataObject, count: int, case: _Tally, round_: _Round | None
    ) -> list[ExamplePlan]:
        """Plan ``count`` examples for ``case`` with values drawn from ``data``."""
        self._args = (count, case, round_)
        return data.draw(_PLANNED)

    def plan_examples(self, draw: Draw[Any]) -> list[ExamplePlan]:
        """Plan the examples :meth:`_draw` asks for; send each to the round once complete."""
        count, case, round_ = self._args
        planned: list[ExamplePlan] = []
        asking: list[ExamplePlan] = []
        while len(planned) + len(asking) < count and not case.spent:
            if time.monotonic() > self.deadline:
                break  # the next round's start says so
            case.planned += 1
            plan = ExamplePlan(Batch())
            try:
                self.example(RowPlanner(plan, self.catalog, draw))
            except Rejected:
                continue
            if plan.waiting:
                asking.append(plan)
                continue
            plan.end()
            planned.append(plan)
            if round_ is not None:
                round_.send(plan)
        for plan in _answer_questions(round_.ask if round_ else self._ask, asking):
            plan.end()
            planned.append(plan)
            if round_ is not None:
                round_.send(plan)
        return planned

    def _ask(self, questions: Batch) -> None:
        questions.run(self.run.oracle() or self.conn)


_CHECKING: ContextVar[_Check] = ContextVar("dbverify_checking")


# One test function and one strategy serve every check (made per check, hypothesis'
# decorators read signatures and sources, and each new strategy is validated when drawn).
@_SETTINGS
@given(data=st.data())
def _test_cases(data: st.DataObject) -> None:
    _CHECKING.get().test_case(data)


_test_cases._hypothesis_internal_database_key = None  # type: ignore[attr-defined]


@st.composite
def _planned(draw: st.DrawFn) -> list[ExamplePlan]:
    # Drawn inside one strategy: hypothesis' bookkeeping per top-level draw costs more
    # than most of the values drawn.
    return _CHECKING.get().plan_examples(draw)


_PLANNED = _planned()


class _Round:
    """One round trip of examples, sent as each is planned, inside a rolled-back transaction.

    On an idle connection the round is a transaction of its own; inside one (your own
    ``dbverify_conn``), a savepoint. Questions for the expected database go to the
    oracle, or, with none, through the round itself, each fenced by a savepoint.
    """

    def __init__(self, conn: psycopg.Connection, oracle: psycopg.Connection | None) -> None:
        self._pipeline = Pipeline(conn)
        self._oracle = oracle
        self._idle = conn.info.transaction_status == pq.TransactionStatus.IDLE
        self.sent: list[ExamplePlan] = []  # in the order sent

    def __enter__(self) -> _Round:
        self._pipeline.__enter__()
        opening = Batch()
        opening.add(sql.SQL("BEGIN") if self._idle else sql.SQL("SAVEPOINT dbverify_round"))
        # Rolled back with the round, like everything it sets.
        opening.add(sql.SQL(f"SET LOCAL lock_timeout = '{EXAMPLE_LOCK_TIMEOUT_MS}ms'"))
        # Deferred constraints would only fire at COMMIT, which never comes. An example
        # that defers one undoes that with its savepoint.
        opening.add(sql.SQL("SET CONSTRAINTS ALL IMMEDIATE"))
        opening.add(EXAMPLE_SAVEPOINT)
        opening.sync()
        self._pipeline.send(opening)
        return self

    def __exit__(self, *exc: object) -> None:
        closing = Batch()
        closing.sync()  # whatever failed before, the rollback runs
        closing.add(sql.SQL("ROLLBACK") if self._idle else sql.SQL("ROLLBACK TO dbverify_round"))
        self._pipeline.send(closing)
        self._pipeline.__exit__(*exc)

    def send(self, plan: ExamplePlan) -> None:
        """Send an example now: the server works on it while the next one is planned."""
        self._pipeline.send(plan.batch)
        self.sent.append(plan)

    def ask(self, questions: Batch) -> None:
        """Answer ``questions`` now (one round trip)."""
        if self._oracle is not None:
            questions.run(self._oracle)
            return
        self._pipeline.send(questions.fenced("dbverify_question"))
        self._pipeline.drain()


def _answer_questions(ask: Callable[[Batch], None], plans: list[ExamplePlan]) -> list[ExamplePlan]:
    """Ask the expected database what the plans asked, and let them proceed, until done.

    All the examples' questions go in one batch (one round trip); a plan that rejects
    its example on an answer is dropped.
    """
    while any(plan.waiting for plan in plans):
        questions = Batch()
        for plan in plans:
            questions.extend(plan.questions)
            plan.questions = Batch()
        if len(questions):
            ask(questions)
        going = []
        for plan in plans:
            try:
                plan.proceed()
            except Rejected:
                continue
            going.append(plan)
        plans = going
    return plans


def _conclude(
    run: VerificationRun,
    what: str,
    tally: _Tally,
    stopped: str | None = None,
    table: Table | None = None,
) -> None:
    """Raise what the examples found: the first failure, a lock, or nothing accepted."""
    if tally.failure is not None:
        if isinstance(tally.failure, psycopg.Error):
            _database_error(what, tally.failure)
        if isinstance(tally.failure, CannotGenerate | UnsupportedTypeError):
            pytest.skip(f"{what}: {tally.failure}")
        raise tally.failure
    if len(tally.lock_waits) >= MAX_LOCK_WAITS:
        _locked_out(what, tally.lock_waits[-1])
    if tally.valid == 0:
        # The database refused every row, or there was no time to try: that shows
        # nothing about the schema, and says what would help.
        stop = f"; the check stopped: {stopped}" if stopped else ""
        pytest.skip(f"{what}: {unmade(run.expected_catalog(), tally.refusals, table)}{stop}")


def _database_error(what: str, err: psycopg.Error) -> NoReturn:
    """Turn an error the target raised into the check's outcome."""
    if err.sqlstate == READ_ONLY_SQLSTATE:
        pytest.skip(f"{what}: the target is read-only ({err.sqlstate}): write checks skipped")
    if err.sqlstate == "42501":
        pytest.fail(
            f"{what}: the verifying role may not write here ({err.sqlstate} "
            f"insufficient_privilege: {_first_line(err)}); grant it INSERT, UPDATE and "
            "DELETE, or run with --dbverify-read-only",
            pytrace=False,
        )
    raise err


def _locked_out(what: str, error: psycopg.Error) -> NoReturn:
    pytest.fail(
        f"{what}: {MAX_LOCK_WAITS} examples in a row waited over "
        f"{EXAMPLE_LOCK_TIMEOUT_MS} ms on locks held by other sessions "
        f"({error.sqlstate}: {_first_line(error)}): a migration, LOCK TABLE "
        "or long transaction holds the table; run the check again when it ends",
        pytrace=False,
    )


def run_examples(
    run: VerificationRun, conn: psycopg.Connection, what: str, example: Example
) -> None:
    """Run ``example`` for the configured number of hypothesis examples, one at a time.

    ``what`` names the object for messages when no valid row can be generated.
    """
    skip_if_read_only(run)
    catalog = run.expected_catalog()
    lock_waits: list[psycopg.Error] = []

    @settings(_SETTINGS, max_examples=run.settings.examples)
    @seed(_seed_of(what))
    @given(data=st.data())
    def one_example(data: st.DataObject) -> None:
        try:
            with _example_savepoint(conn):
                example(RowFactory(conn, catalog, data))
        except psycopg.Error as err:
            if err.sqlstate not in LOCK_WAIT_SQLSTATES or conn.broken:
                raise
            if not waited_on_a_row(err):
                lock_waits.append(err)
            if len(lock_waits) >= MAX_LOCK_WAITS:
                raise _LockedOut(err) from None
            reject()
        lock_waits.clear()

    one_example._hypothesis_internal_database_key = None  # type: ignore[attr-defined]

    try:
        # Rolled back with the check's transaction, like everything it sets.
        conn.execute(f"SET LOCAL lock_timeout = '{EXAMPLE_LOCK_TIMEOUT_MS}ms'")
        one_example()
    except (CannotGenerate, UnsupportedTypeError) as err:
        pytest.skip(f"{what}: {err}")
    except _LockedOut as locked:
        _locked_out(what, locked.error)
    except (Unsatisfiable, FailedHealthCheck):
        _conclude(run, what, _Tally(run.settings.examples))
    except psycopg.Error as err:
        _database_error(what, err)


@contextmanager
def _example_savepoint(conn: psycopg.Connection) -> Iterator[None]:
    with savepoint(conn, rollback=True):
        # Deferred constraints would only fire at COMMIT, which never comes.
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        yield


class _LockedOut(Exception):
    """Every recent example waited on another session's lock: stop drawing more."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error


def _seed_of(what: str) -> int:
    """Return the check's seed: reproducible, and without hypothesis hashing its source."""
    return int.from_bytes(hashlib.blake2b(what.encode(), digest_size=8).digest())


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
