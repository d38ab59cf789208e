"""--dbverify-setup: what migrations expect to exist before they run (roles, extensions).

A history written for a platform that provides a role and an extension cannot be applied
to a bare throwaway server: the setup file prepares every database the plugin builds from
the migrations (the expected schema's, the round trip's), on PostgreSQL 15 and 18.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dbverify.embedded import ServerInfo
from tests.conftest import create_database

MIGRATION = """-- migrate:up
CREATE TABLE note (id bigint PRIMARY KEY, body text NOT NULL, attrs hstore);
GRANT SELECT ON note TO app_reader;

-- migrate:down
DROP TABLE note;
"""
SETUP = """DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_reader') THEN
        CREATE ROLE app_reader;
    END IF;
END
$$;
CREATE EXTENSION IF NOT EXISTS hstore;
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    migrations = pytester.path / "db" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "1_note.sql").write_text(MIGRATION)
    (pytester.path / "db" / "setup.sql").write_text(SETUP)
    return pytester.path


def _verify(pytester: pytest.Pytester, url: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        "--dbverify", f"--dbverify-url={url}", "-p", "no:cacheprovider", *extra
    )


def test_the_setup_prepares_every_database_built_from_the_migrations(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path
) -> None:
    target = create_database(pg_server)
    with target.connect(autocommit=True) as conn:
        conn.execute(SETUP)
    target.dbmate(project / "db" / "migrations").migrate()
    without = _verify(pytester, target.url)
    assert without.ret == 1
    assert 'type "hstore" does not exist' in without.stderr.str()
    result = _verify(pytester, target.url, "--dbverify-setup=db/setup.sql")
    assert result.ret == 0, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert "failed" not in outcomes
    assert "errors" not in outcomes
    # The round trip ran in databases of its own, each prepared by the setup too.
    assert "1 migrations round-trip" in result.stdout.str()
    assert "1 tables: CRUD" in result.stdout.str()


def test_a_setup_that_fails_says_so_in_one_line(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path
) -> None:
    (project / "db" / "setup.sql").write_text("CREATE ROLE;")
    target = create_database(pg_server)
    result = _verify(pytester, target.url, "--dbverify-setup=db/setup.sql")
    assert result.ret != 0
    output = result.stdout.str() + result.stderr.str()
    assert "setup.sql (--dbverify-setup) fails on a new database: syntax error" in output
    assert "Traceback" not in output
