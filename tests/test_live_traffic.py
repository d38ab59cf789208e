"""A full verification beside the app's live writes: the app never waits on the verifier.

The workload (``tests/workload.py``) is the learning app's writes at a fixed rate, with
pgbench; ``pytest --dbverify`` runs against the same database in the middle of it.
``benchmarks/live_traffic.py`` prints the latency figures this test bounds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.settings import OPTIONS
from tests.conftest import LEARNING_TEMPLATE, Database, create_database, drop_database
from tests.learning_data import fill
from tests.production import project_dir
from tests.workload import percentile, verify_under_load

pytestmark = pytest.mark.slow

LOCK_TIMEOUT = next(float(o.default) for o in OPTIONS if o.name == "lock_timeout")
# pgbench's latency under --rate counts from each transaction's scheduled start, so it
# includes pgbench's own schedule lag and CPU starvation on a shared 2-core machine that
# runs the suite in parallel (measured alone: max ~30 ms). The margin absorbs that noise;
# a write queued behind a lock of the verifier's for its whole lock_timeout plus the
# margin would still fail.
MARGIN = 0.5


@pytest.fixture
def busy_db(pg_server: ServerInfo) -> Iterator[Database]:
    """A migrated database of this test's own with production-like data, dropped after."""
    db = create_database(pg_server, template=LEARNING_TEMPLATE)
    with db.connect(autocommit=True) as conn:
        fill(conn)
    yield db
    drop_database(db)


def test_the_apps_writes_go_on_unhindered_while_a_full_verification_runs(
    busy_db: Database, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    overlap = verify_under_load(
        Path(busy_db.server.bindir) / "pgbench", busy_db.url, project_dir(tmp_path / "project"),
        tmp_path / "workload", [], rate=50, clients=4, lead=2, chunk=4,
    )  # fmt: skip
    workload, run = overlap.workload, overlap.verification
    latencies = [t.latency for t in workload.transactions]
    record_property("p99_with_ms", round(percentile(overlap.during, 0.99) * 1000, 1))
    record_property("p99_without_ms", round(percentile(overlap.alone, 0.99) * 1000, 1))
    record_property("max_ms", round(max(latencies) * 1000, 1))
    assert run.ret == 0, run.output
    assert run.has_line("checks:  * (* passed*) in *s"), run.output
    assert workload.errors == 0, workload.output
    # The workload ran before, throughout and after the verification.
    ends = [t.ended for t in workload.transactions]
    assert min(ends) < overlap.began
    assert max(ends) > overlap.ended
    assert len(overlap.during) > 30 * (overlap.ended - overlap.began)  # 50 tx/s, kept up
    assert max(latencies) < LOCK_TIMEOUT + MARGIN, sorted(latencies)[-5:]
