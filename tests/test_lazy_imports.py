"""Collection does no work that can wait: hypothesis and the generators load on first use."""

from __future__ import annotations

import pytest

from tests.conftest import MIGRATIONS_DIR, Database

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

def pytest_sessionfinish(session):
    loaded = [name for name in {LATE!r} if name in sys.modules]
    print("loaded by the end:", ", ".join(loaded) or "none")
"""


def test_collection_imports_nothing_the_checks_need_only_to_run(
    pytester: pytest.Pytester, learning_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every built-in item is collected, and none of the late modules was imported."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = _verify_with(
        pytester, RECORDER, learning_db, f"--dbverify-migrations-dir={MIGRATIONS_DIR}",
        "--collect-only",
    )  # fmt: skip
    result.stdout.fnmatch_lines(["loaded at collection: none"])
    # --collect-only runs nothing, not even the round trip that starts after collection.
    result.stdout.fnmatch_lines(["loaded by the end: none"])
    result.stdout.fnmatch_lines(
        [
            "dbverify/crud::test_crud[content]",
            "dbverify/foreign_keys::test_fk_actions[[]*",
            "dbverify/check_constraints::test_check_enforced[[]*",
        ]
    )


LOADER_RECORDER = """
import sys

import pytest

# As when the plugin is installed from a wheel: pytest marks the distribution for rewriting.
pytest.register_assert_rewrite("pytest_dbverify")

def pytest_sessionfinish(session):
    for name in ("hypothesis.core", "pytest_dbverify.strategies", "pytest_dbverify.checks.crud"):
        print(name, "loaded by", type(sys.modules[name].__loader__).__name__)
"""


def test_hypothesis_and_the_plugin_are_imported_without_assertion_rewriting(
    pytester: pytest.Pytester, learning_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Libraries skip pytest's rewriting (seconds with no bytecode cache)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = _verify_with(pytester, LOADER_RECORDER, learning_db, "-k", "test_crud")
    result.stdout.fnmatch_lines(
        [
            "*hypothesis.core loaded by SourceFileLoader",
            "*pytest_dbverify.strategies loaded by SourceFileLoader",
            "*pytest_dbverify.checks.crud loaded by SourceFileLoader",
        ]
    )


def _verify_with(
    pytester: pytest.Pytester, conftest: str, db: Database, *args: str
) -> pytest.RunResult:
    """Run ``pytest --dbverify`` on ``db`` in a subprocess with ``conftest``; it must pass."""
    pytester.makeconftest(conftest)
    result = pytester.runpytest_subprocess(
        "--dbverify", f"--dbverify-url={db.url}", "--dbverify-expect=target", *args, "-q", "-s"
    )
    assert result.ret == 0, "\n".join(result.outlines + result.errlines)
    return result
