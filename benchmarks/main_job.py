"""Time the main job, ``pytest --dbverify`` with no target (throwaway server + migrations).

Usage: python benchmarks/main_job.py [--repeat N] [-- extra pytest args]
Runs in the repository root, as the README's main-job command does, and prints the
median and range of N wall times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(repeat: int, pytest_args: list[str], *, cache_dir: Path | None = None) -> list[float]:
    """Return the wall times of ``repeat`` main jobs; exit if one fails.

    ``cache_dir`` sets the plugin's cache directory (initialized clusters, round-trip
    findings): an empty one times a first run on a new machine.
    """
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PG")}
    env = {k: v for k, v in env.items() if not k.startswith("DBVERIFY_")}
    if cache_dir is not None:
        env["DBVERIFY_CACHE_DIR"] = str(cache_dir)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--dbverify", "-q", "-p", "no:cacheprovider",
             *pytest_args],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        times.append(time.perf_counter() - began)
        if result.returncode != 0:
            sys.exit(f"pytest --dbverify failed (exit {result.returncode}):\n{result.stdout}")
    return times


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    times = measure(args.repeat, args.pytest_args)
    print(
        f"pytest --dbverify {' '.join(args.pytest_args)}: median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}, n={args.repeat})"
    )


if __name__ == "__main__":
    main()
