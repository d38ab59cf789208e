"""The learning app's write latency with and without a full verification running beside it.

Usage: python benchmarks/live_traffic.py [--kind embedded|system] [--repeat 3] [--rate 100]

A throwaway server gets the learning schema and production-like data
(``tests/learning_data.py``). Each repetition runs the app's writes
(``tests/workload.py``: events, likes, learner model upserts, job updates) with pgbench at
a fixed rate, and ``pytest --dbverify --dbverify-url=...`` against the same database in
the middle of it. Transactions that ended while the verifier ran are "with"; those before
and after it, in the same pgbench run, are "without". Prints p50/p99 of each (medians over
the repetitions), the worst latency, the workload's errors and the verification's result.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the workload and the data generator live in tests/

from pytest_dbverify.binaries import find_binaries  # noqa: E402
from pytest_dbverify.embedded import ThrowawayServer  # noqa: E402
from pytest_dbverify.migrations import Dbmate  # noqa: E402
from tests.learning_data import fill  # noqa: E402
from tests.production import project_dir, run_dbverify  # noqa: E402
from tests.workload import Overlap, percentile, verify_under_load  # noqa: E402

LOCK_TIMEOUT = 2.0  # the verifier's default lock_timeout


def ms(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["embedded", "system"], default="embedded")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100, help="transactions per second")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--lead", type=float, default=3, help="seconds alone before and after")
    args = parser.parse_args()
    binaries = find_binaries(args.kind)
    pgbench = binaries.tool("pgbench")
    with ThrowawayServer(binaries) as server, tempfile.TemporaryDirectory() as tmp:
        info = server.info
        with psycopg.connect(info.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE learning")
        url = info.url("learning")
        Dbmate(url, migrations_dir=ROOT / "db" / "migrations", pg_bindir=binaries.bindir).up()
        with psycopg.connect(info.conninfo("learning"), autocommit=True) as conn:
            counts = fill(conn)
        project = project_dir(Path(tmp) / "project", migrations=ROOT / "db" / "migrations")
        began = time.monotonic()
        warm = run_dbverify(project, [f"--dbverify-url={url}"], timeout=600)
        alone_seconds = time.monotonic() - began
        if warm.ret != 0:
            sys.exit(f"the verification fails without load:\n{warm.output}")
        print(
            f"PostgreSQL {info.version} ({args.kind}), {sum(counts.values())} rows; workload "
            f"{args.rate:g} tx/s, {args.clients} clients; verification "
            f"alone {alone_seconds:.1f} s"
        )
        runs: list[Overlap] = []
        for index in range(args.repeat):
            overlap = verify_under_load(
                pgbench, url, project, Path(tmp) / f"run{index}", [], rate=args.rate,
                clients=args.clients, lead=args.lead,
            )  # fmt: skip
            runs.append(overlap)
            report(index + 1, overlap)
        summarize(runs)


def report(number: int, overlap: Overlap) -> None:
    """Print one repetition's figures."""
    with_, without = overlap.during, overlap.alone
    window = overlap.ended - overlap.began
    print(
        f"  run {number}: without p50 {ms(percentile(without, 0.5))} p99 "
        f"{ms(percentile(without, 0.99))} (n={len(without)}); with p50 "
        f"{ms(percentile(with_, 0.5))} p99 {ms(percentile(with_, 0.99))} max "
        f"{ms(max(with_, default=0))} (n={len(with_)}, verifier ran {window:.1f} s); "
        f"errors {overlap.workload.errors}; verification exit {overlap.verification.ret}"
    )


def summarize(runs: list[Overlap]) -> None:
    """Print the medians over the repetitions and the worst case."""

    def median(values: list[float]) -> str:
        return ms(statistics.median(values))

    worst = max(max(run.workload.transactions, key=lambda t: t.latency).latency for run in runs)
    print(
        f"median of {len(runs)}: without p50 {median([percentile(r.alone, 0.5) for r in runs])}"
        f" p99 {median([percentile(r.alone, 0.99) for r in runs])}; with p50 "
        f"{median([percentile(r.during, 0.5) for r in runs])} p99 "
        f"{median([percentile(r.during, 0.99) for r in runs])}"
    )
    print(
        f"worst latency {ms(worst)} (lock_timeout {LOCK_TIMEOUT:g} s); workload errors "
        f"{sum(run.workload.errors for run in runs)}; verifications passed "
        f"{sum(run.verification.ret == 0 for run in runs)} of {len(runs)}"
    )


if __name__ == "__main__":
    main()
