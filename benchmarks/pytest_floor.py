"""Time what pytest and hypothesis cost before any database work: the floor of a run.

Usage: python benchmarks/pytest_floor.py ITEMS [--repeat N]

Runs ``pytest -q`` in an empty directory on ITEMS parametrized items that do nothing,
then on ITEMS items that each run a one-example ``@given`` test (hypothesis' engine set
up and torn down once per item, as a built-in check with ``--dbverify-examples 1``
does), and prints the median wall times. A verifier that reports one pytest item per
table, constraint and index cannot run faster than the first figure, nor, drawing its
data with hypothesis, than the second. Both run with ``--assert=plain``: the plugin keeps
pytest from rewriting hypothesis' modules, which with no bytecode cache costs more than
the items do.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_EMPTY = """\
import pytest

@pytest.mark.parametrize("i", range({items}))
def test_item(i):
    assert i >= 0
"""

_GIVEN = """\
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

@settings(max_examples=1, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(x=st.integers())
def _property(i, x):
    assert isinstance(x, int)

@pytest.mark.parametrize("i", range({items}))
def test_item(i):
    _property(i)
"""


@dataclass(frozen=True)
class Floor:
    """Wall times of the two floor runs, seconds."""

    empty: list[float]
    given: list[float]


def _time_pytest(source: str, items: int) -> float:
    with tempfile.TemporaryDirectory(prefix="dbverify-floor-") as work:
        (Path(work) / "test_floor.py").write_text(source.format(items=items))
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--assert=plain",
             "test_floor.py"],
            cwd=work, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"pytest_floor: the floor run failed:\n{result.stdout[-2000:]}")
    return seconds


def measure(items: int, repeat: int = 3) -> Floor:
    """Time both floor runs ``repeat`` times, interleaved."""
    empty: list[float] = []
    given: list[float] = []
    for _ in range(repeat):
        empty.append(_time_pytest(_EMPTY, items))
        given.append(_time_pytest(_GIVEN, items))
    return Floor(empty, given)


def main() -> None:
    """Print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items", type=int, help="number of items (a run's check count)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    floor = measure(args.items, args.repeat)
    print(f"{args.items} empty pytest items:          {statistics.median(floor.empty):.2f} s")
    print(f"{args.items} one-example @given items:    {statistics.median(floor.given):.2f} s")


if __name__ == "__main__":
    main()
