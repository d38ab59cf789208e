"""pytest's own conventions hold under --dbverify: -n auto, -x, -k, --lf, -q/-v, markers, help."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.settings import OPTIONS
from pytest_dbverify.shared import SharedServers
from tests.conftest import (
    _PLUGIN as SERVERS_PLUGIN,
)
from tests.conftest import (
    LEARNING_TEMPLATE,
    MIGRATIONS_DIR,
    Database,
    create_database,
    drop_database,
)

# Table, migration and CHECK checks and the user's own test; -k keeps those about content.
SELECTION = (
    "--dbverify-include=test_table_*,test_migration_applied,test_check_enforced,test_my_*",
    "-k",
    "content or migration or my_own",
)
MARKED = """
import pytest

@pytest.mark.dbverify
def test_my_own_check(dbverify_conn):
    assert dbverify_conn.execute("SELECT count(*) FROM content").fetchone() == (0,)
"""


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> ServerInfo:
    """One server kind is enough here: these tests are about pytest, not PostgreSQL versions."""
    servers: SharedServers = request.config.pluginmanager.get_plugin(SERVERS_PLUGIN)
    return servers.get("embedded")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A consumer project with the migrations, one marked test and no outside target."""
    for name in ("DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "DBVERIFY_URL"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(MIGRATIONS_DIR, pytester.path / "db" / "migrations")
    pytester.makepyfile(test_mine=MARKED)
    pytester.makeini("[pytest]\naddopts = --strict-markers --strict-config\n")
    return pytester


@pytest.fixture
def broken_db(pg_server: ServerInfo, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A migrated database whose two CHECKs on content.difficulty and .format are gone."""
    db = create_database(pg_server, template=LEARNING_TEMPLATE)
    with db.connect(autocommit=True) as conn:
        conn.execute("ALTER TABLE content DROP CONSTRAINT content_difficulty_check")
        conn.execute("ALTER TABLE content DROP CONSTRAINT content_format_check")
    monkeypatch.setenv("DATABASE_URL", db.url)
    yield db
    drop_database(db)


def test_help_groups_the_options_and_lists_accepted_values(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    group = text[text.index("database verification (pytest-dbverify):") :]
    for option in OPTIONS:
        assert option.flag in group, option.flag
        if not option.is_flag:
            assert f"accepts {option.accepts}" in " ".join(group.split()), option.name
    ini = " ".join(text[text.index("dbverify_server (string):") :].split())
    assert ini.startswith(
        "dbverify_server (string): throwaway server to use when no target is set "
        "(embedded or system)"
    )


def test_marker_is_registered_for_strict_markers(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--strict-markers", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.dbverify(objects=[[]...]): a database test*"])
    # Without --dbverify the marked test is skipped, not an unknown-marker error.
    result = project.runpytest_subprocess("--strict-markers", "-W", "error")
    result.assert_outcomes(skipped=1)


def test_fixtures_are_listed_with_their_scope_and_use(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--fixtures")
    text = " ".join(result.stdout.str().split())
    for fixture, words in [
        ("dbverify_conn", "a pooled connection inside a transaction that is always rolled back"),
        ("dbverify_pool", "Session: the psycopg_pool ConnectionPool"),
        ("dbverify_catalog", "the expected schema's catalog snapshot"),
        ("dbverify_examples", "run a property over generated rows"),
        ("dbverify_target", ".shown"),
        ("dbverify_settings", "the resolved settings"),
    ]:
        assert f"{fixture} [session scope]" in text or f"{fixture} --" in text, fixture
        assert words in text, fixture


def test_verbose_shows_one_line_per_check_and_quiet_only_counts(
    project: pytest.Pytester, learning_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", learning_db.url)
    verbose = project.runpytest_subprocess("--dbverify", *SELECTION, "--dbverify-examples=2", "-v")
    verbose.stdout.fnmatch_lines(
        [
            "dbverify/tables::test_table_readable?public.content] PASSED*",
            "dbverify/check_constraints::test_check_enforced?content.content_format_check] PASSED*",
            "test_mine.py::test_my_own_check PASSED*",
        ]
    )
    quiet = project.runpytest_subprocess("--dbverify", *SELECTION, "--dbverify-examples=2", "-q")
    assert "PASSED" not in quiet.stdout.str()
    quiet.stdout.fnmatch_lines(["*dbverify summary*", "* passed, * deselected in *"])
    assert verbose.parseoutcomes()["passed"] == quiet.parseoutcomes()["passed"]
    assert verbose.ret == quiet.ret == 0


def test_k_selects_checks_by_object_name(
    project: pytest.Pytester, learning_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", learning_db.url)
    result = project.runpytest_subprocess(
        "--dbverify", "-k", "test_table_readable and sessions", "-v"
    )
    result.stdout.fnmatch_lines(["dbverify/tables::test_table_readable?public.sessions] PASSED*"])
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 1
    assert outcomes["deselected"] > 100


def test_x_stops_at_the_first_failed_check_and_lf_reruns_the_failures(
    project: pytest.Pytester, broken_db: Database
) -> None:
    args = ["--dbverify", *SELECTION, "--dbverify-examples=3"]
    stopped = project.runpytest_subprocess(*args, "-x")
    assert stopped.ret == 1
    stopped.stdout.fnmatch_lines(["*stopping after 1 failures*", "*1 failed*"])
    full = project.runpytest_subprocess(*args)
    full.assert_outcomes(failed=2, passed=full.parseoutcomes()["passed"])
    rerun = project.runpytest_subprocess(*args, "--lf", "-v")
    rerun.stdout.fnmatch_lines(["run-last-failure: rerun previous 2 failures*"])
    outcomes = rerun.parseoutcomes()
    assert outcomes["failed"] == 2
    assert "passed" not in outcomes
    rerun.stdout.fnmatch_lines(
        ["*test_check_enforced?content.content_difficulty_check] FAILED*"], consecutive=False
    )


def test_n_auto_runs_the_checks_on_workers(project: pytest.Pytester, broken_db: Database) -> None:
    single = project.runpytest_subprocess("--dbverify", *SELECTION, "--dbverify-examples=2")
    workers = project.runpytest_subprocess(
        "--dbverify", *SELECTION, "--dbverify-examples=2", "-n", "auto"
    )
    workers.stdout.fnmatch_lines(["created: * workers", "*dbverify summary*"])
    # xdist's controller does not count deselected items: compare what ran.
    counts = ("passed", "failed")
    assert [workers.parseoutcomes()[c] for c in counts] == [
        single.parseoutcomes()[c] for c in counts
    ]
    assert workers.ret == single.ret == 1
    workers.stdout.fnmatch_lines(
        ["FAILED dbverify/check_constraints::test_check_enforced?content.content_format_check]*"],
        consecutive=False,
    )
