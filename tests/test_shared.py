"""pytest-xdist workers share one throwaway server per run instead of starting their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CONFTEST = """
import os, json, pathlib
import psycopg
import pytest
from pytest_dbverify.shared import SharedServers

def pytest_configure(config):
    config.pluginmanager.register(SharedServers(config, kinds=["embedded"]), "servers")

@pytest.fixture
def record(request):
    info = request.config.pluginmanager.get_plugin("servers").get("embedded")
    with psycopg.connect(info.conninfo()) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    seen = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "data_dir": data_dir}
    out = pathlib.Path(os.environ["RECORD_DIR"]) / f"{request.node.name}.json"
    out.write_text(json.dumps(seen))
"""

TESTS = """
import pytest

@pytest.mark.parametrize("n", range(8))
def test_uses_the_server(record, n):
    pass
"""


def test_xdist_workers_share_one_server(pytester: pytest.Pytester, monkeypatch) -> None:
    record_dir = pytester.mkdir("records")
    monkeypatch.setenv("RECORD_DIR", str(record_dir))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_shared=TESTS)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    seen = [json.loads(path.read_text()) for path in record_dir.iterdir()]
    assert {entry["worker"] for entry in seen} == {"gw0", "gw1"}
    data_dirs = {entry["data_dir"] for entry in seen}
    assert len(data_dirs) == 1
    # ... and the controller stopped it at the end of the run.
    assert not any(Path(d).exists() for d in data_dirs)
