"""The example consumer (examples/bookshop) works as a new user runs it.

The project is copied into a pytester directory and run there in a pytest subprocess,
with this checkout's plugin already installed in the environment (as `pip install -e
../.. -e .` would leave it); installing a fresh virtualenv per test would only repeat
pip's work. Its own migrations, settings, registered strategies and marked tests are
used as they are.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tomllib

from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.migrations import Dbmate
from pytest_dbverify.shared import SharedServers
from tests.conftest import _PLUGIN as SERVERS_PLUGIN
from tests.conftest import ROOT, create_database, drop_database

EXAMPLE = ROOT / "examples" / "bookshop"
USER_TESTS = (
    "tests/test_books.py::test_format_price_prints_what_was_stored",
    "tests/test_books.py::test_books_of_an_author_are_found_through_the_index",
)


@pytest.fixture
def bookshop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A copy of the example project as the working directory, no target in the environment."""
    for name in ("DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "DBVERIFY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    return pytester


def test_the_example_depends_on_this_plugin_by_path() -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    assert project["project"]["dependencies"] == ["pytest-dbverify"]
    source = project["tool"]["uv"]["sources"]["pytest-dbverify"]
    plugin = tomllib.loads(((EXAMPLE / source["path"]).resolve() / "pyproject.toml").read_text())
    assert plugin["project"]["name"] == "pytest-dbverify"
    ini = project["tool"]["pytest"]["ini_options"]
    assert ini["dbverify_migrations_dir"] == "db/migrations"


def test_without_dbverify_only_the_unit_test_runs(bookshop: pytest.Pytester) -> None:
    result = bookshop.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=2)


def test_pytest_dbverify_passes_on_a_throwaway_server(bookshop: pytest.Pytester) -> None:
    result = bookshop.runpytest_subprocess("--dbverify", "--dbverify-report=report.json", "-v")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "dbverify: starting a throwaway PostgreSQL (embedded) ... * ready in *s",
            "dbverify: applying the migrations of */db/migrations ... done in *s",
            # The composite money_amount column is written through the registered strategy.
            "dbverify/crud::test_crud?books] PASSED*",
            *(f"{test} PASSED*" for test in USER_TESTS),
            "objects: 2 tables in public, 2 migration files",  # not dbmate's own table
        ]
    )
    assert "test_a_plain_unit_test" not in result.stdout.str()
    report = json.loads((bookshop.path / "report.json").read_text())
    objects = {(o["kind"], o["name"]): o for o in report["objects"]}
    price = objects[("column", "public.books.price")]
    assert price["status"] == "passed"
    assert {c["id"] for c in price["checks"]} == {
        "dbverify/crud::test_crud[books]",
        "dbverify/not_null::test_not_null_enforced[books.price]",
        USER_TESTS[0],
    }
    index = objects[("index", "public.books.books_author_id_idx")]
    assert USER_TESTS[1] in {c["id"] for c in index["checks"]}
    assert report["counts"].get("failed", 0) == 0


@pytest.fixture(scope="session")
def deployed_server(request: pytest.FixtureRequest) -> ServerInfo:
    """The system's PostgreSQL (15): the throwaway-server test covers the embedded 18."""
    servers: SharedServers = request.config.pluginmanager.get_plugin(SERVERS_PLUGIN)
    return servers.get("system")


def test_pytest_dbverify_passes_against_a_deployed_database(
    bookshop: pytest.Pytester, deployed_server: ServerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_server = deployed_server
    db = create_database(pg_server)
    try:
        # The deploy: dbmate applies the example's migrations to "production".
        Dbmate(
            db.url, migrations_dir=EXAMPLE / "db" / "migrations", pg_bindir=Path(pg_server.bindir)
        ).up()
        monkeypatch.setenv("DATABASE_URL", db.url)
        result = bookshop.runpytest_subprocess("--dbverify", "--junitxml=junit.xml")
        assert result.ret == 0, result.stdout.str()
        result.stdout.fnmatch_lines([f"dbverify target: {db.url} (env DATABASE_URL)"])
        outcomes = result.parseoutcomes()
        assert outcomes["passed"] >= 40
        assert "failed" not in outcomes
        assert (
            "test_format_price_prints_what_was_stored" in (bookshop.path / "junit.xml").read_text()
        )
    finally:
        drop_database(db)
