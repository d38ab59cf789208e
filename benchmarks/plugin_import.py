"""Measure what the installed plugin adds to pytest's start when ``--dbverify`` is off.

Usage: python benchmarks/plugin_import.py [--repeat N]
Runs ``pytest --collect-only`` in an empty directory N times with the plugin and N times
with it disabled (``-p no:dbverify``), interleaved, and prints the medians and their
difference (target: under 50 ms), plus the plugin modules' own import time.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time


def time_pytest(args: list[str], cwd: str) -> float:
    """Return the wall time of one ``pytest`` run with ``args`` in ``cwd``."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider", *args],
        cwd=cwd, capture_output=True, check=False,
    )  # fmt: skip
    return time.perf_counter() - began


def plugin_import_ms() -> float:
    """Return the cumulative import time of the plugin module, pytest already imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import pytest_dbverify.plugin"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+pytest_dbverify\.plugin$", line)
        if match:
            return int(match.group(1)) / 1000
    raise RuntimeError("pytest_dbverify.plugin not in the import-time report")


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as empty:
        time_pytest([], empty)  # warm the file cache
        with_plugin, without = [], []
        for _ in range(args.repeat):
            with_plugin.append(time_pytest([], empty))
            without.append(time_pytest(["-p", "no:dbverify"], empty))
    on, off = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest start with the plugin (inert):  median {on * 1000:7.1f} ms")
    print(f"pytest start with -p no:dbverify:      median {off * 1000:7.1f} ms")
    print(f"added by the plugin:                   {(on - off) * 1000:7.1f} ms (target < 50 ms)")
    print(f"import of pytest_dbverify.plugin:      {plugin_import_ms():7.1f} ms (cumulative)")


if __name__ == "__main__":
    main()
