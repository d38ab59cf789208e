"""The opt-in scan of existing rows: bad rows written past a constraint are named, with keys."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest

from pytest_dbverify.embedded import ServerInfo
from tests.conftest import LEARNING_TEMPLATE, MIGRATIONS_DIR, Database, create_database

pytestmark = pytest.mark.slow

SESSION = "00000000-0000-0000-0000-000000000001"
GHOST = "00000000-0000-0000-0000-0000000000ff"
BAD_ROWS = f"""
INSERT INTO sessions (id) VALUES ('{SESSION}');
INSERT INTO content (id, topic, title, format, difficulty)
     SELECT ('00000000-0000-0000-0000-0000000001' || lpad(n::text, 2, '0'))::uuid,
            't', 'x', 'text', 3
       FROM generate_series(1, 12) AS n;
-- An orphan slipped in while the foreign key's triggers were disabled (a bulk load).
ALTER TABLE like_engagement DISABLE TRIGGER ALL;
INSERT INTO like_engagement (session_id, content_id)
     VALUES ('{GHOST}', '00000000-0000-0000-0000-000000000101');
ALTER TABLE like_engagement ENABLE TRIGGER ALL;
-- Twelve rows broke the difficulty rule while it was dropped; it came back NOT VALID.
ALTER TABLE content DROP CONSTRAINT content_difficulty_check;
UPDATE content SET difficulty = 9;
-- A NULL where the migrations say NOT NULL.
ALTER TABLE content ALTER COLUMN title DROP NOT NULL;
UPDATE content SET title = NULL WHERE id = '00000000-0000-0000-0000-000000000103';
ALTER TABLE content ADD CONSTRAINT content_difficulty_check
      CHECK (difficulty BETWEEN 1 AND 5) NOT VALID;
-- Duplicates while the unique rule was missing.
ALTER TABLE generation_status DROP CONSTRAINT generation_status_content_id_key;
INSERT INTO generation_status (topic, content_id) VALUES
    ('t', '00000000-0000-0000-0000-000000000102'), ('t', '00000000-0000-0000-0000-000000000102');
"""


@pytest.fixture
def embedded(request: pytest.FixtureRequest) -> ServerInfo:
    return request.config.pluginmanager.get_plugin("dbverify-test-servers").get("embedded")


def scan(pytester: pytest.Pytester, target: Database) -> tuple[int, dict[str, str], list[str]]:
    shutil.copytree(MIGRATIONS_DIR, pytester.path / "db" / "migrations", dirs_exist_ok=True)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess(
        "--dbverify", f"--dbverify-url={target.url}", "--dbverify-data-scan",
        "--dbverify-include=test_rows_satisfy", "-p", "no:cacheprovider", f"--junitxml={junit}",
    )  # fmt: skip
    failures, passed = {}, []
    for case in ET.parse(junit).getroot().iter("testcase"):
        bad = [*case.iter("failure"), *case.iter("error")]
        for failure in bad:
            failures[str(case.get("name"))] = str(failure.get("message"))
        if not bad:
            passed.append(str(case.get("name")))
    return int(result.ret), failures, passed


def test_clean_rows_pass(pytester: pytest.Pytester, embedded: ServerInfo) -> None:
    target = create_database(embedded, template=LEARNING_TEMPLATE)
    with target.connect(autocommit=True) as conn:
        conn.execute(f"INSERT INTO sessions (id) VALUES ('{SESSION}')")
    code, failures, passed = scan(pytester, target)
    assert (code, failures) == (0, {})
    assert (
        "test_rows_satisfy[foreign key like_engagement.like_engagement_content_id_fkey]" in passed
    )
    assert "test_rows_satisfy[not null content.topic]" in passed


def test_bad_rows_are_named_with_their_keys(
    pytester: pytest.Pytester, embedded: ServerInfo
) -> None:
    target = create_database(embedded, template=LEARNING_TEMPLATE)
    with target.connect(autocommit=True) as conn:
        conn.execute(BAD_ROWS)  # type: ignore[arg-type]
    code, failures, _ = scan(pytester, target)
    assert code == 1
    assert set(failures) == {
        "test_rows_satisfy[foreign key like_engagement.like_engagement_session_id_fkey]",
        "test_rows_satisfy[check content.content_difficulty_check]",
        "test_rows_satisfy[unique generation_status.generation_status_content_id_key]",
        "test_rows_satisfy[not null content.title]",
    }
    orphan = failures[
        "test_rows_satisfy[foreign key like_engagement.like_engagement_session_id_fkey]"
    ]
    assert "1 offending rows in public.like_engagement" in orphan
    assert f"({GHOST},00000000-0000-0000-0000-000000000101)" in orphan
    check = failures["test_rows_satisfy[check content.content_difficulty_check]"]
    assert "12 offending rows in public.content break check" in check
    assert check.endswith(", and 7 more")
    duplicate = failures[
        "test_rows_satisfy[unique generation_status.generation_status_content_id_key]"
    ]
    assert "(00000000-0000-0000-0000-000000000102) x2" in duplicate
    assert (
        "00000000-0000-0000-0000-000000000103"
        in failures["test_rows_satisfy[not null content.title]"]
    )
