"""Nothing lost, nothing left: a full ``pytest --dbverify`` on a production-like database.

The learning schema holds generated data (tests/learning_data.py: 100k behavioral_events,
10k content, 1k sessions, likes, model state, preferences, jobs). Every table is
fingerprinted (its rows, ordered, hashed) before and after the run: identical. After the
run no object, prepared transaction, session or lock of ours is left. The one side effect
a rolled-back insert has is documented here: identity/sequence values are consumed (a
sequence is not transactional); read-only mode consumes none.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from pytest_dbverify.binaries import find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from pytest_dbverify.pool import APPLICATION_NAME
from tests.conftest import Database
from tests.learning_data import Sizes, fill, fingerprint, objects, sequences
from tests.production import project_dir, run_dbverify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def production() -> Iterator[Database]:
    """A migrated learning database filled with production-like data."""
    with ThrowawayServer(find_binaries("embedded")) as server:
        db = Database(server.info, "learning")
        db.dbmate().up()
        with db.connect(autocommit=True) as conn:
            counts = fill(conn)
        sizes = Sizes()
        assert counts["behavioral_events"] >= 100_000
        assert counts["content"] >= 10_000
        assert counts["sessions"] >= 1_000
        assert counts["like_engagement"] == sizes.likes
        assert counts["learner_model_state"] == sizes.model_states
        assert counts["user_preferences"] == sizes.preferences
        assert counts["generation_status"] == sizes.jobs
        yield db


def leftovers(conn: psycopg.Connection, server: ServerInfo) -> dict[str, int]:
    """Count what a finished run must not leave: its sessions, their locks, prepared xacts."""
    deadline = time.monotonic() + 5  # a backend exits a moment after its client hangs up
    while True:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE application_name = %s), "
            "(SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            " WHERE a.application_name = %s), "
            "(SELECT count(*) FROM pg_prepared_xacts)",
            [APPLICATION_NAME, APPLICATION_NAME],
        ).fetchone()
        assert row is not None
        found = {"sessions": row[0], "locks": row[1], "prepared transactions": row[2]}
        if not any(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def snapshot(db: Database) -> tuple[dict[str, tuple[int, str]], set[tuple[str, ...]], dict]:
    with db.connect(autocommit=True) as conn:
        return fingerprint(conn), objects(conn), sequences(conn)


@pytest.mark.parametrize(
    ("mode", "args"),
    [
        pytest.param("write", ["--dbverify-examples=2"], id="full"),
        pytest.param("read-only", ["--dbverify-read-only"], id="read-only"),
    ],
)
def test_a_run_loses_nothing_and_leaves_nothing(
    production: Database,
    tmp_path,
    record_property,
    mode: str,
    args: list[str],
) -> None:
    before_rows, before_objects, before_sequences = snapshot(production)
    run = run_dbverify(project_dir(tmp_path), [f"--dbverify-url={production.url}", *args])
    assert run.ret == 0, run.output
    assert run.has_line("checks:  * (* passed*) in *s")
    after_rows, after_objects, after_sequences = snapshot(production)

    assert after_rows == before_rows  # every row of every table, in order
    assert after_objects ^ before_objects == set()  # no table, type, function left or lost
    with production.connect(autocommit=True) as conn:
        assert leftovers(conn, production.server) == {
            "sessions": 0,
            "locks": 0,
            "prepared transactions": 0,
        }
    consumed = {
        name: (after_sequences[name] or 0) - (before_sequences[name] or 0)
        for name in before_sequences
    }
    record_property("sequence_values_consumed", consumed)
    record_property("run_seconds", round(run.seconds, 1))
    if mode == "read-only":
        assert after_sequences == before_sequences  # not even a sequence value
    else:
        # The documented side effect: rolled-back inserts into behavioral_events (identity
        # column) consumed identity values; the rows themselves are gone.
        assert consumed["public.behavioral_events_id_seq"] > 0
