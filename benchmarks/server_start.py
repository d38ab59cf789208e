"""Time a throwaway server's start (to accepting connections) and stop, for both kinds.

Usage: python benchmarks/server_start.py [--repeat N]
Prints the median and the range of N runs per kind; the target is a median under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg

from pytest_dbverify.binaries import SERVER_KINDS, find_binaries
from pytest_dbverify.embedded import ThrowawayServer


def measure(kind: str, repeat: int) -> tuple[list[float], list[float]]:
    """Return the start and stop times of ``repeat`` servers of ``kind``."""
    binaries = find_binaries(kind)  # type: ignore[arg-type]
    starts, stops = [], []
    for _ in range(repeat):
        server = ThrowawayServer(binaries)
        began = time.perf_counter()
        info = server.start()
        with psycopg.connect(info.conninfo()) as conn:  # ready means it answers
            conn.execute("SELECT 1")
        starts.append(time.perf_counter() - began)
        began = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - began)
    return starts, stops


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'server':<28} {'start median':>12} {'start range':>16} {'stop median':>12}")
    for kind in SERVER_KINDS:
        version = find_binaries(kind).version
        starts, stops = measure(kind, args.repeat)
        label = f"{kind} (PostgreSQL {version})"
        span = f"{min(starts):.3f}-{max(starts):.3f} s"
        print(
            f"{label:<28} {statistics.median(starts):>10.3f} s {span:>16} "
            f"{statistics.median(stops):>10.3f} s"
        )


if __name__ == "__main__":
    main()
