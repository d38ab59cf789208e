"""The documented workflow for adding a migration, end to end, with the real commands.

new file (`dbmate new`), `dbmate up`, check (`pytest --dbverify`), `dbmate dump`,
`dbverify ledger update`: as the README tells a developer, in a copy of the project, on
a database of a throwaway server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_dbverify import ledger
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.migrations import find_dbmate
from tests.conftest import MIGRATIONS_DIR, create_database

pytestmark = pytest.mark.slow

UP = """-- migrate:up
CREATE TABLE content_tag (
    content_id uuid NOT NULL,
    tag        text NOT NULL,
    CONSTRAINT content_tag_pkey PRIMARY KEY (content_id, tag),
    CONSTRAINT content_tag_content_id_fkey FOREIGN KEY (content_id)
        REFERENCES content (id) ON DELETE CASCADE,
    CONSTRAINT content_tag_tag_check CHECK (tag <> '')
);

-- Content of a tag.
CREATE INDEX content_tag_tag_idx ON content_tag (tag);

-- migrate:down
DROP TABLE content_tag;
"""


@pytest.fixture
def embedded(request: pytest.FixtureRequest) -> ServerInfo:
    return request.config.pluginmanager.get_plugin("dbverify-test-servers").get("embedded")


def sh(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv[1:]} failed: {done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def check(pytester: pytest.Pytester, url: str) -> dict[str, str]:
    """`pytest --dbverify` on the new migration's checks; return the failures by test id."""
    junit = pytester.path / "junit.xml"
    pytester.runpytest_inprocess(
        "--dbverify", f"--dbverify-url={url}", "-p", "no:cacheprovider", f"--junitxml={junit}",
        "--dbverify-include=test_migration_*,test_schema_drift,test_*round_trip,"
        "test_table_readable,test_crud,test_fk_*,test_unique_enforced,test_check_enforced,"
        "test_index_valid",
        "--dbverify-examples=3",
        # The behaviour checks of the new table only: the others have tests of their own.
        "-k", "content_tag or migration or schema_drift or round_trip",
    )  # fmt: skip
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert any("content_tag" in str(case.get("name")) for case in cases)
    return {
        str(case.get("name")): str(failure.get("message"))
        for case in cases
        for failure in [*case.iter("failure"), *case.iter("error")]
    }


def test_adding_a_migration(pytester: pytest.Pytester, embedded: ServerInfo) -> None:
    project = pytester.path
    shutil.copytree(MIGRATIONS_DIR, project / "db" / "migrations")
    shutil.copyfile(ledger.default_ledger_path(MIGRATIONS_DIR), project / "db" / "migrations.sum")
    database = create_database(embedded)
    env = {**os.environ, "DATABASE_URL": database.url}
    env["PATH"] = os.pathsep.join([embedded.bindir, env.get("PATH", "")])
    dbmate = str(find_dbmate())
    sh([dbmate, "up"], project, env)  # the developer's database, up to date

    # 1. new file
    created = sh([dbmate, "new", "add_content_tags"], project, env)
    [path] = (project / "db" / "migrations").glob("*_add_content_tags.sql")
    assert path.name in created
    path.write_text(UP)
    # 2. up
    sh([dbmate, "up"], project, env)
    # 3. check: everything passes but the ledger, which names the new file and the fix
    failures = check(pytester, database.url)
    assert list(failures) == [f"test_migration_checksum[{path.stem}]"]
    assert "run `dbverify ledger update`" in failures[f"test_migration_checksum[{path.stem}]"]
    # 4. dump
    sh([dbmate, "dump"], project, env)
    assert "CREATE TABLE public.content_tag" in (project / "db" / "schema.sql").read_text()
    # 5. ledger update, then the check is green
    updated = sh([sys.executable, "-m", "pytest_dbverify.cli", "ledger", "update"], project, env)
    assert f"added {path.name}" in updated
    assert check(pytester, database.url) == {}
    sh([sys.executable, "-m", "pytest_dbverify.cli", "ledger", "check"], project, env)
