"""Examples draw around other sessions' locks instead of waiting on them.

Another session (an xdist worker of the same run, a second CI job, the app) may hold an
uncommitted row with the very key an example draws: xdist workers draw the same first
example for checks on the same tables. An example then waits at most 50 ms and draws
other values; waiting out lock_timeout would fail the check for nothing, and two workers
waiting on each other would deadlock. A lock on the whole table fails the check at once,
saying what holds it; one that keeps even the catalog from being read ends the run, in
one line.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import Database

pytestmark = pytest.mark.slow

# Three keys, two of them held by another session's open transaction: only k = 3 is free.
FEW_KEYS = """
CREATE TABLE few (
    k smallint PRIMARY KEY CHECK (k BETWEEN 1 AND 3),
    note text NOT NULL DEFAULT ''
);
"""


@pytest.fixture
def few_keys(empty_db: Database) -> Database:
    with empty_db.connect(autocommit=True) as conn:
        conn.execute(FEW_KEYS)
    return empty_db


@pytest.fixture
def holder(few_keys: Database) -> Iterator[psycopg.Connection]:
    """A connection of another session, in a transaction the test leaves open."""
    with few_keys.connect() as conn:
        yield conn
        conn.rollback()


def verify(pytester: pytest.Pytester, db: Database, include: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={db.url}",
        "--dbverify-expect=target",  # no migrations: the table is made by hand
        f"--dbverify-include={include}",
        "--dbverify-examples=5",
        "-p", "no:cacheprovider",
        "-rA",
        *args,
    )  # fmt: skip


def test_keys_another_session_holds_uncommitted_are_drawn_around(
    pytester: pytest.Pytester, few_keys: Database, holder: psycopg.Connection
) -> None:
    holder.execute("INSERT INTO few (k) VALUES (1), (2)")

    result = verify(pytester, few_keys, "test_crud*,test_unique_enforced*,test_not_null*")

    result.assert_outcomes(passed=4)
    # The holder's rows were never touched: its transaction is still open and whole.
    assert holder.execute("SELECT k FROM few ORDER BY k").fetchall() == [(1,), (2,)]


def test_a_table_another_session_locks_fails_the_check_at_once_saying_why(
    pytester: pytest.Pytester, few_keys: Database, holder: psycopg.Connection
) -> None:
    # EXCLUSIVE: the catalog stays readable, every INSERT waits.
    holder.execute("LOCK TABLE few IN EXCLUSIVE MODE")

    result = verify(pytester, few_keys, "test_crud*")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*CRUD on public.few: 5 examples in a row waited over 50 ms on locks held by "
            "other sessions (55P03: *lock timeout*): a migration, LOCK TABLE or long "
            "transaction holds the table; run the check again when it ends*"
        ]
    )


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_table_locked_against_reading_its_catalog_ends_the_run_in_one_line(
    pytester: pytest.Pytester, few_keys: Database, holder: psycopg.Connection, workers: str
) -> None:
    # ACCESS EXCLUSIVE, as ALTER TABLE takes: reading a column's default opens its table.
    holder.execute("LOCK TABLE few IN ACCESS EXCLUSIVE MODE")

    result = verify(pytester, few_keys, "test_crud*", "--dbverify-lock-timeout=0.3", "-n", workers)

    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            f"*dbverify: cannot read the catalog of {few_keys.url}: canceling statement due "
            "to lock timeout after 0.3s (lock_timeout): another session holds a table of it "
            "locked (a migration still running?); run again when it ends, or wait longer "
            "with --dbverify-lock-timeout*"
        ]
    )
    # Not one collection error (and traceback) per check module, as before.
    assert "during collection" not in result.stdout.str()
