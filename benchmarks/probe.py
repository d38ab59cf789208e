"""A pytest plugin that records where the time of a ``pytest --dbverify`` run goes.

Loaded by the benchmarks as ``-p probe`` (with ``benchmarks/`` on ``PYTHONPATH``), in the
controller and in every xdist worker. It appends JSON lines to ``$DBVERIFY_BENCH_OUT``:

* one ``process`` record per process: wall-clock stamps (epoch seconds) of process
  creation, this module's import, configure, session start, collection and the test
  loop, and the process's peak RSS and CPU time;
* one ``item`` record per test item: its duration and outcome, and, when
  ``$DBVERIFY_BENCH_PROXY`` names a counting proxy's control port
  (``benchmarks/proxy.py``), the round trips and statements that crossed the proxy
  while it ran (meaningful with ``-n 0``, where items run one at a time).

Without ``$DBVERIFY_BENCH_OUT`` it does nothing.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Generator
from typing import Any

import psutil
import pytest
from proxy import read_counters  # benchmarks/ is on PYTHONPATH with this module

IMPORTED = time.time()
_OUT = os.environ.get("DBVERIFY_BENCH_OUT")
_PROXY = os.environ.get("DBVERIFY_BENCH_PROXY")
_stamps: dict[str, Any] = {"imported": IMPORTED, "created": psutil.Process().create_time()}


def _write(record: dict[str, Any]) -> None:
    if _OUT:
        with open(_OUT, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def _counters() -> dict[str, int]:
    return read_counters(int(_PROXY)) if _PROXY else {}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Stamp the end of start-up: interpreter, imports, plugins, options."""
    _stamps["configured"] = time.time()
    worker = getattr(config, "workerinput", None)
    _stamps["worker"] = worker["workerid"] if worker else "controller"


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Generator[None, None, None]:
    """Time the session start: target, expected-schema server, migrations, probe."""
    _stamps["sessionstart_begin"] = time.time()
    yield
    _stamps["sessionstart_end"] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, None, None]:
    """Time collection (catalog snapshots and the generation of items)."""
    _stamps["collection_begin"] = time.time()
    yield
    _stamps["collection_end"] = time.time()
    _stamps["items"] = len(session.items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, None, None]:
    """Time the checks themselves."""
    _stamps["loop_begin"] = time.time()
    yield
    _stamps["loop_end"] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """Record one item: duration and, through a proxy, its round trips and statements."""
    before = _counters()
    began = time.perf_counter()
    yield
    duration = time.perf_counter() - began
    after = _counters()
    record: dict[str, Any] = {"kind": "item", "nodeid": item.nodeid, "duration": duration}
    for key in ("round_trips", "statements", "connections"):
        if key in after:
            record[key] = after[key] - before[key]
    _write(record)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Write the process record, with its peak RSS (KiB on Linux) and CPU time."""
    _stamps["unconfigured"] = time.time()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _stamps["maxrss_kib"] = usage.ru_maxrss
    _stamps["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    _stamps["pid"] = os.getpid()
    _write({"kind": "process", **_stamps})
