"""One fault, one failure, and the SQL that repairs it.

A drifted object fails once, by name, with the statements that bring the target back to
the migrations (running them leaves no drift, on PostgreSQL 15 and 18); the checks that
could only fail again because of it are skipped under it, named as their root cause, and
the summary and the JSON report say so first.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import psycopg
import pytest

from pytest_dbverify.catalog import load_catalog
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.schema_diff import compare
from tests.conftest import LEARNING_TEMPLATE, create_database, drop_database
from tests.test_drift import NEWEST, SCHEMA_FAULTS, add_migration, clean_environment, project

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_environment")]
__all__ = ["clean_environment", "project"]  # fixtures, used by name

# Beyond test_drift's faults: each kind of repair the fixes write.
MORE_FAULTS = (
    "ALTER TABLE public.like_engagement DROP CONSTRAINT like_engagement_content_id_fkey",
    "ALTER TABLE public.sessions DROP COLUMN last_active_at",
    "ALTER TABLE public.content ALTER COLUMN difficulty DROP DEFAULT",
    "ALTER TABLE public.sessions ALTER COLUMN id DROP DEFAULT",
    "DROP TABLE public.user_preferences",
    "ALTER INDEX public.content_topic_difficulty_idx RENAME TO content_topic_level_idx",
    "UPDATE pg_index SET indisvalid = false"
    " WHERE indexrelid = 'public.like_engagement_content_id_idx'::regclass",
)


def _statements(fix: str) -> list[str]:
    """Split a fix into statements: CONCURRENTLY ones cannot share a transaction."""
    return [part.strip() for part in fix.split(";\n") if part.strip().strip(";")]


def test_every_fix_brings_the_target_back(pg_server: ServerInfo) -> None:
    expected_db = create_database(pg_server, template=LEARNING_TEMPLATE)
    target = create_database(pg_server, template=LEARNING_TEMPLATE)
    faults = [statement for statement, _, _ in SCHEMA_FAULTS.values()]
    faults = [f for f in faults if "like_engagement_content_id_fkey" not in f]  # in MORE
    try:
        with target.connect(autocommit=True) as conn:
            for statement in [*faults, *MORE_FAULTS]:
                conn.execute(statement)  # type: ignore[arg-type]
        with expected_db.connect(autocommit=True) as conn:
            expected = load_catalog(conn, ["public"], ["schema_migrations"])
        with target.connect(autocommit=True) as conn:
            drifted = compare(expected, load_catalog(conn, ["public"], ["schema_migrations"]))
            assert len(drifted) >= len(faults) + len(MORE_FAULTS) - 1
            assert all(d.fix for d in drifted), [d.id for d in drifted if not d.fix]
            for difference in drifted:
                for statement in _statements(difference.fix):
                    conn.execute(statement)  # type: ignore[arg-type]
            repaired = load_catalog(conn, ["public"], ["schema_migrations"])
        assert compare(expected, repaired) == []
    finally:
        drop_database(target)
        drop_database(expected_db)


def test_one_fault_is_one_failure_with_the_rest_grouped_under_it(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path
) -> None:
    """A pending migration that creates tables, and a dropped foreign key: two failures."""
    add_migration(
        project,
        "20260301000000_add_tags",
        "CREATE TABLE tag (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " name text NOT NULL UNIQUE CHECK (length(name) > 0));\n"
        "CREATE TABLE content_tag (content_id uuid NOT NULL REFERENCES content (id),"
        " tag_id bigint NOT NULL REFERENCES tag (id), PRIMARY KEY (content_id, tag_id));\n"
        "ALTER TABLE content ADD COLUMN language text;",
        "ALTER TABLE content DROP COLUMN language; DROP TABLE content_tag; DROP TABLE tag;",
    )
    target = create_database(pg_server, template=LEARNING_TEMPLATE)
    with target.connect(autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE public.like_engagement DROP CONSTRAINT like_engagement_content_id_fkey"
        )
    junit, report = pytester.path / "junit.xml", pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={target.url}",
        f"--dbverify-migrations-dir={project}",
        "--dbverify-round-trip=false",
        "-p", "no:cacheprovider",
        f"--junitxml={junit}",
        f"--dbverify-report={report}",
        "-rs",
    )  # fmt: skip
    assert result.ret == 1
    failed, skipped = {}, {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            failed[str(case.get("name"))] = str(failure.get("message"))
        for skip in case.iter("skipped"):
            skipped[str(case.get("name"))] = str(skip.get("message"))
    pending = "test_migration_applied[20260301000000_add_tags]"
    fk = "test_schema_drift[constraint public.like_engagement.like_engagement_content_id_fkey]"
    assert sorted(failed) == sorted([pending, fk])
    under_pending = [name for name, why in skipped.items() if f"root cause: {pending}" in why]
    under_fk = [name for name, why in skipped.items() if f"root cause: {fk}" in why]
    # The new tables' behaviour and drift checks, and the new column's drift.
    assert "test_crud[content_tag]" in under_pending
    assert "test_unique_enforced[tag.tag_name_key]" in under_pending
    assert "test_schema_drift[table public.tag]" in under_pending
    assert "test_schema_drift[column public.content.language]" in under_pending
    assert sorted(under_fk) == sorted(
        f"{check}[like_engagement.{name}]"
        for check, name in [
            ("test_fk_enforced", "content_id->content.id"),
            ("test_fk_actions", "content_id->content.id"),
            ("test_fk_indexed", "content_id->content.id"),
            ("test_constraint_validated", "like_engagement_content_id_fkey"),
        ]
    )
    # The summary names the root causes before anything else, then what was proven.
    text = result.stdout.str()
    summary = text[text.index("dbverify summary") :]
    assert summary.index("root causes (2; fix these first):") < summary.index("target:")
    assert f"  {pending}: migration 20260301000000_add_tags.sql is pending" in summary
    assert "proven:  8 tables readable" in summary
    assert f"  {len(under_pending) + len(under_fk)} x grouped under a root cause above" in summary
    # The JSON report: the fix with the drift, the root cause with each grouped check.
    data = json.loads(report.read_text())
    checks = {check["id"].rpartition("::")[2]: check for check in data["checks"]}
    assert 'ADD CONSTRAINT "like_engagement_content_id_fkey" FOREIGN KEY' in checks[fk]["fix"]
    assert checks["test_crud[content_tag]"]["root_cause"] == pending
    causes = {c["check"]: c for c in data["summary"]["root_causes"]}
    assert sorted(causes[fk]["grouped"]) == sorted(under_fk)
    assert "no drift" not in data["summary"]["proven"]


def test_a_root_cause_that_does_not_run_groups_nothing(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path
) -> None:
    """With drift deselected, the behaviour checks fail on their own: never a quiet pass."""
    target = create_database(pg_server, template=LEARNING_TEMPLATE)
    with target.connect(autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE public.like_engagement DROP CONSTRAINT like_engagement_content_id_fkey"
        )
    result = pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={target.url}",
        f"--dbverify-migrations-dir={project}",
        "--dbverify-include=test_fk_enforced",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 1
    assert (
        "FAILED dbverify/foreign_keys::test_fk_enforced[like_engagement.content_id->content.id]"
        in result.stdout.str()
    )


def test_a_pending_migration_needs_no_target_connection_of_its_own(
    pg_server: ServerInfo,
) -> None:
    """created_by attributes each object to the pending migration that makes it."""
    from pytest_dbverify.migrations import migration_files
    from pytest_dbverify.roundtrip import created_by
    from tests.conftest import MIGRATIONS_DIR

    files = migration_files(MIGRATIONS_DIR)
    owners = created_by(
        pg_server, files, files[-1:], schemas=["public"], migrations_table="schema_migrations"
    )
    assert owners == {
        "index public.content.content_created_at_idx": NEWEST,
        "index public.sessions.sessions_last_active_at_idx": NEWEST,
    }
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as conn:
        leftovers = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbverify_roundtrip_%'"
        ).fetchone()
    assert leftovers == (0,)
