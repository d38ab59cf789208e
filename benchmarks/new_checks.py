"""Time the drift comparison, the rollback round trip and the data scan (118k rows).

Usage: python benchmarks/new_checks.py [--repeat N]

On a throwaway embedded server: the learning migrations applied to an "expected" and a
"target" database, the target filled with 118,000 rows across the seven tables. Prints
the median and range of N runs of each step, as the plugin runs them:
- drift: both catalog snapshots and their comparison;
- round trip: every migration up, down, up, then the whole stack down and up;
- data scan: every NOT NULL, CHECK, foreign key and unique rule over the target's rows.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from pytest_dbverify.binaries import find_binaries
from pytest_dbverify.catalog import load_catalog
from pytest_dbverify.data_scan import rules, scan
from pytest_dbverify.embedded import ThrowawayServer
from pytest_dbverify.migrations import Dbmate
from pytest_dbverify.roundtrip import run_round_trip
from pytest_dbverify.schema_diff import compare

MIGRATIONS = Path(__file__).resolve().parent.parent / "db" / "migrations"
ROWS = """
INSERT INTO sessions (id) SELECT gen_random_uuid() FROM generate_series(1, 10000);
INSERT INTO content (topic, title, format, difficulty)
     SELECT 'topic ' || n % 50, 'title ' || n,
            (ARRAY['text', 'quiz', 'video', 'image', 'audio'])[1 + n % 5], 1 + n % 5
       FROM generate_series(1, 8000) AS n;
CREATE TEMP TABLE s AS SELECT id, row_number() OVER () AS k FROM sessions;
CREATE TEMP TABLE c AS SELECT id, row_number() OVER () AS k FROM content;
INSERT INTO behavioral_events (session_id, content_id, event_type, dwell_ms)
     SELECT s.id, c.id, 'view', n % 60000
       FROM generate_series(1, 80000) AS n
       JOIN s ON s.k = 1 + n % 10000 JOIN c ON c.k = 1 + n % 8000;
INSERT INTO like_engagement (session_id, content_id)
     SELECT s.id, c.id FROM generate_series(1, 10000) AS n
       JOIN s ON s.k = n JOIN c ON c.k = 1 + (n * 7) % 8000;
INSERT INTO learner_model_state (session_id, topic, mastery, confidence)
     SELECT s.id, 'topic ' || n % 50, 0.5, 0.5 FROM generate_series(1, 5000) AS n JOIN s ON s.k = n;
INSERT INTO user_preferences (session_id) SELECT id FROM s WHERE k <= 3000;
INSERT INTO generation_status (topic, content_id, session_id)
     SELECT 'topic', c.id, s.id FROM generate_series(1, 2000) AS n
       JOIN s ON s.k = n JOIN c ON c.k = n;
ANALYZE;
"""


def timed(label: str, repeat: int, step: Callable[[], object]) -> None:
    """Run ``step`` ``repeat`` times and print the median and range."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    print(
        f"{label}: median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}, n={repeat})",
        flush=True,
    )


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with ThrowawayServer(find_binaries("embedded")) as server:
        info = server.info
        for name in ("expected", "target"):
            Dbmate(info.url(name), migrations_dir=MIGRATIONS, pg_bindir=Path(info.bindir)).up()
        with psycopg.connect(info.conninfo("target"), autocommit=True) as conn:
            conn.execute(ROWS)  # type: ignore[arg-type]
            total = sum(
                conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in ("sessions", "content", "behavioral_events", "like_engagement",
                          "learner_model_state", "user_preferences", "generation_status")
            )  # fmt: skip
        print(f"PostgreSQL {info.version}, target rows: {total}", flush=True)
        with (
            psycopg.connect(info.conninfo("expected")) as expected,
            psycopg.connect(info.conninfo("target")) as target,
        ):

            def drift() -> object:
                return compare(load_catalog(expected, ["public"]), load_catalog(target, ["public"]))

            timed("drift (two snapshots + comparison)", args.repeat, drift)
            single_pass = load_catalog(expected, ["public"])
            expected.rollback()
            tables = [t for t in single_pass.tables if t.name.name != "schema_migrations"]
            deployed = load_catalog(target, ["public"])
            target.rollback()
            print(f"data scan rules: {len(rules(tables))}", flush=True)
            timed(f"data scan ({total} rows)", args.repeat, lambda: scan(target, tables, deployed))
        timed(
            "round trip (6 migrations + full stack)",
            args.repeat,
            lambda: run_round_trip(
                info,
                MIGRATIONS,
                schemas=["public"],
                migrations_table="schema_migrations",
                single_pass=single_pass,
            ),
        )


if __name__ == "__main__":
    main()
