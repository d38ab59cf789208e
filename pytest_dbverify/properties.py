"""Run a property check: hypothesis examples, each in a savepoint that is rolled back.

The check's transaction (``dbverify_conn``) is rolled back after the test; each example
runs in a savepoint of its own (``savepoints.savepoint``), so examples never see each
other's rows. Hypothesis runs derandomized (a CI run is reproducible), writes
no example database, and does not shrink: a failure reports the example that failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from psycopg import sql

from pytest_dbverify.rows import REJECTABLE, CannotGenerate, RowFactory
from pytest_dbverify.savepoints import savepoint, settle
from pytest_dbverify.strategies import UnsupportedTypeError

if TYPE_CHECKING:
    from pytest_dbverify.run import VerificationRun

Example = Callable[[RowFactory], None]
READ_ONLY_SQLSTATE = "25006"
# lock_not_available (our lock_timeout) and deadlock_detected: another session holds an
# uncommitted row with the key an example drew (another xdist worker drawing the same
# example, or the app). Waiting shows nothing about the schema: draw other values.
LOCK_WAIT_SQLSTATES = frozenset({"55P03", "40P01"})
# Examples wait this long on another session's row before drawing others, well under
# the server's deadlock_timeout (1 s by default): two workers never deadlock, and the
# app's writes never queue long behind a row of ours.
EXAMPLE_LOCK_TIMEOUT_MS = 50
# Lock waits in a row that end the check: not a key collision but a lock on the table
# itself (a migration, LOCK TABLE), which more examples would only wait on again.
MAX_LOCK_WAITS = 5


def skip_if_read_only(run: VerificationRun) -> None:
    """Skip a check that writes (even rolled back) in read-only mode."""
    if run.settings.read_only:
        pytest.skip("read-only mode: this check inserts rows (always rolled back)")


def run_examples(
    run: VerificationRun, conn: psycopg.Connection, what: str, example: Example
) -> None:
    """Run ``example`` for the configured number of hypothesis examples.

    ``what`` names the object for messages when no valid row can be generated.
    """
    skip_if_read_only(run)
    catalog = run.expected_catalog()
    lock_waits: list[psycopg.Error] = []

    @settings(
        max_examples=run.settings.examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    # Reproducible per check, without hypothesis hashing this closure's source (read and
    # tokenized again for every check) to derive a seed and an example-database key.
    @seed(int.from_bytes(hashlib.blake2b(what.encode(), digest_size=8).digest()))
    @given(data=st.data())
    def one_example(data: st.DataObject) -> None:
        try:
            with savepoint(conn, rollback=True):
                # Deferred constraints would only fire at COMMIT, which never comes.
                conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
                example(RowFactory(conn, catalog, data))
        except psycopg.Error as err:
            if err.sqlstate not in LOCK_WAIT_SQLSTATES or conn.broken:
                raise
            lock_waits.append(err)
            if len(lock_waits) >= MAX_LOCK_WAITS:
                raise _LockedOut(err) from None
            reject()
        lock_waits.clear()

    one_example._hypothesis_internal_database_key = None  # type: ignore[attr-defined]

    try:
        # Pipeline mode: statements whose result nobody reads yet (an example's
        # ROLLBACK TO, the next one's SAVEPOINT and SET, ...) travel with the next one
        # that is read, one round trip for several.
        with conn.pipeline():
            # Rolled back with the check's transaction, like everything it sets.
            conn.execute(f"SET LOCAL lock_timeout = '{EXAMPLE_LOCK_TIMEOUT_MS}ms'")
            one_example()
    except (CannotGenerate, UnsupportedTypeError) as err:
        pytest.skip(f"{what}: {err}")
    except _LockedOut as locked:
        pytest.fail(
            f"{what}: {MAX_LOCK_WAITS} examples in a row waited over "
            f"{EXAMPLE_LOCK_TIMEOUT_MS} ms on locks held by other sessions "
            f"({locked.error.sqlstate}: {_first_line(locked.error)}): a migration, LOCK TABLE "
            "or long transaction holds the table; run the check again when it ends",
            pytrace=False,
        )
    except (Unsatisfiable, FailedHealthCheck):
        pytest.fail(
            f"{what}: no generated row was accepted by the database in "
            f"{run.settings.examples} examples (CHECK constraints, unique values or partition "
            "bounds the generator cannot see): register a strategy for the columns involved "
            "(pytest_dbverify.strategies.register_column)",
            pytrace=False,
        )
    except psycopg.Error as err:
        if err.sqlstate == READ_ONLY_SQLSTATE:
            pytest.skip(f"{what}: the target is read-only ({err.sqlstate}): write checks skipped")
        if err.sqlstate == "42501":
            pytest.fail(
                f"{what}: the verifying role may not write here ({err.sqlstate} "
                f"insufficient_privilege: {_first_line(err)}); grant it INSERT, UPDATE and "
                "DELETE, or run with --dbverify-read-only",
                pytrace=False,
            )
        raise


class _LockedOut(Exception):
    """Every recent example waited on another session's lock: stop drawing more."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(str(error))
        self.error = error


def expect_error(
    conn: psycopg.Connection,
    sqlstate: str | tuple[str, ...],
    statement: sql.Composed,
    params: list[object],
) -> psycopg.Error | None:
    """Run ``statement`` in a savepoint; return the error if it has ``sqlstate``, else None.

    ``sqlstate`` may list several codes (what one rule raises differs across versions).
    An error with another SQLSTATE propagates: it is not what the check is about.
    """
    accepted = (sqlstate,) if isinstance(sqlstate, str) else sqlstate
    try:
        with savepoint(conn):
            conn.execute(statement, params)
            settle(conn)
    except psycopg.Error as err:
        if err.sqlstate in accepted:
            return err
        if err.sqlstate in REJECTABLE:  # another constraint objected: try another example
            reject()
        raise
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
