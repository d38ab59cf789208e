"""Connection retries: backoff within a budget, permanent errors at once, one-line messages."""

from __future__ import annotations

import pytest

from pytest_dbverify.pool import Backoff, Slots, permanent_fix, server_words, session_setup
from tests.conftest import Database


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_exponentially_with_jitter_and_stops_at_the_budget() -> None:
    clock = FakeClock()
    backoff = Backoff(deadline=10.0)
    delays = []
    while (delay := backoff.next_delay(clock())) is not None:
        delays.append(delay)
        clock.now += delay
    assert 0.08 <= delays[0] <= 0.12
    assert 0.16 <= delays[1] <= 0.24
    assert max(delays) <= Backoff.MAX_DELAY * (1 + Backoff.JITTER)
    assert sum(delays) == pytest.approx(10.0)


@pytest.mark.parametrize(
    "message",
    [
        'FATAL:  password authentication failed for user "app"',
        'FATAL:  database "nope" does not exist',
        'FATAL:  role "ghost" does not exist',
        "server does not support SSL, but SSL was required",
        "failed to resolve host 'db.invalid': [Errno -2] Name or service not known",
        'FATAL:  no pg_hba.conf entry for host "10.0.0.1", user "app", database "db"',
    ],
)
def test_errors_that_cannot_heal_are_not_retried(message: str) -> None:
    assert permanent_fix(message) is not None


@pytest.mark.parametrize(
    "message",
    [
        "Connection refused",
        "FATAL:  the database system is starting up",
        "FATAL:  the database system is shutting down",
        "server closed the connection unexpectedly",
        "timeout expired",
        "FATAL:  sorry, too many clients already",
    ],
)
def test_errors_that_can_heal_are_retried(message: str) -> None:
    assert permanent_fix(message) is None


def test_server_words_keeps_the_last_host_s_message_on_one_line() -> None:
    error = Exception(
        'connection failed: connection to server at "10.0.0.1", port 5432 failed: '
        "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
        'connections?\nconnection to server at "10.0.0.2", port 5432 failed: FATAL:  '
        "the database system is starting up"
    )
    assert server_words(error) == "the database system is starting up"


def test_session_setup_sets_every_safety_timeout(pytester: pytest.Pytester) -> None:
    from pytest_dbverify.settings import resolve

    settings = resolve(pytester.parseconfig("--dbverify-read-only"), environ={})
    assert session_setup(settings) == (
        "SET lock_timeout = '2000ms'; SET statement_timeout = '30000ms'; "
        "SET idle_in_transaction_session_timeout = '60000ms'; SET jit = off; "
        "SET default_transaction_read_only = on"
    )


@pytest.mark.parametrize(
    ("slots", "note"),
    [
        (Slots(2, 2), None),
        (Slots(1, 2, "sorry, too many clients already"),
         "got 1 of 2 connections (max_connections nearly used up); checks ran within them"),
        (Slots(1, 2, 'too many connections for role "app"'),
         "got 1 of 2 connections (the role's CONNECTION LIMIT nearly used up); checks ran "
         "within them"),
        (Slots(1, 2, "timeout expired"),
         "got 1 of 2 connections (the server refused more: timeout expired); checks ran "
         "within them"),
    ],
)  # fmt: skip
def test_the_pool_note_names_why_it_got_fewer_connections(slots: Slots, note: str | None) -> None:
    assert slots.note == note


def test_our_sessions_never_jit_compile_a_lookup(
    learning_db: Database, pytester: pytest.Pytester
) -> None:
    """The index check's lookup, index scans only, is planned without JIT.

    Its subquery finds the new row by ctid, which only a (disabled) TID or sequential scan
    can: before PostgreSQL 18 that adds 1e10 to the plan's cost, far over jit_above_cost,
    and where the server has LLVM each example's lookup would be compiled.
    """
    from pytest_dbverify.checks.indexes import INDEX_SCANS_ONLY
    from pytest_dbverify.settings import resolve

    lookup = (
        "EXPLAIN (FORMAT JSON) SELECT ctid FROM behavioral_events WHERE session_id = "
        "(SELECT session_id FROM behavioral_events WHERE ctid = '(0,1)')"
    )
    setup = session_setup(resolve(pytester.parseconfig(), environ={}))
    with learning_db.connect() as conn:
        jit_available = conn.execute("SELECT pg_jit_available()").fetchone()
        version = conn.info.server_version
        conn.execute(INDEX_SCANS_ONLY)
        plain = conn.execute(lookup).fetchone()
        conn.execute(setup)
        ours = conn.execute(lookup).fetchone()
    assert jit_available is not None
    assert plain is not None
    assert ours is not None
    # On a plain session the same lookup is compiled wherever the server can compile and
    # still counts a disabled scan into the cost (before 18).
    assert ("JIT" in plain[0][0]) == (jit_available[0] and version < 180000)
    assert "JIT" not in ours[0][0], ours[0][0]
