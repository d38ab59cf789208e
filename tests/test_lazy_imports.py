"""Collection does no work that can wait: hypothesis and the generators load on first use."""

from __future__ import annotations

import pytest

from tests.conftest import Database

# What the checks need only when they run (seconds to import, more without a bytecode cache).
LATE = (
    "hypothesis",
    "pytest_dbverify.strategies",
    "pytest_dbverify.rows",
    "pytest_dbverify.properties",
    "pytest_dbverify.check_expressions",
    "pytest_dbverify.roundtrip",
    "pytest_dbverify.data_scan",
)
RECORDER = f"""
import sys

def pytest_collection_finish(session):
    loaded = [name for name in {LATE!r} if name in sys.modules]
    print("loaded at collection:", ", ".join(loaded) or "none")
"""


def test_collection_imports_nothing_the_checks_need_only_to_run(
    pytester: pytest.Pytester, learning_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every built-in item is collected, and none of the late modules was imported."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    pytester.makeconftest(RECORDER)
    result = pytester.runpytest_subprocess(
        "--dbverify", f"--dbverify-url={learning_db.url}", "--collect-only", "-q", "-s"
    )
    assert result.ret == 0, "\n".join(result.outlines + result.errlines)
    result.stdout.fnmatch_lines(["loaded at collection: none"])
    result.stdout.fnmatch_lines(
        [
            "dbverify/crud::test_crud[content]",
            "dbverify/foreign_keys::test_fk_actions[[]*",
            "dbverify/check_constraints::test_check_enforced[[]*",
        ]
    )
