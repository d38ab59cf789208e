"""Hand-made faults on a deployed copy of the learning schema are caught by name.

Each test copies the learning database (already migrated by dbmate), breaks it one way
with SQL or by touching the migration files of a copy of the project, runs
``pytest --dbverify`` against it as a user would (the expected schema built by the
plugin on its own throwaway server, the round trip there too), and asserts that the
named item fails. The clean deployment passes, on PostgreSQL 18 and, verified against an
expected schema built on 18, on PostgreSQL 15.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pytest_dbverify import ledger
from pytest_dbverify.embedded import ServerInfo
from tests.conftest import LEARNING_TEMPLATE, MIGRATIONS_DIR, Database, create_database

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_environment")]

NEWEST = "20260204111500_add_newest_content_and_stale_session_indexes"
# The checks this issue adds, plus the history checks they complete: enough to name every
# fault, and quick (the behaviour checks have tests of their own in test_mutations.py).
INCLUDE = (
    "--dbverify-include=test_schema_drift,test_migration_*,"
    "test_no_applied_migration_without_file,test_*round_trip"
)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No target leaks in from the outer environment."""
    for name in ("DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("DBVERIFY_URL", "DBVERIFY_SCHEMAS", "DBVERIFY_ROUND_TRIP"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def embedded(request: pytest.FixtureRequest) -> ServerInfo:
    """The run's shared embedded server (PostgreSQL 18) with the learning template."""
    return request.config.pluginmanager.get_plugin("dbverify-test-servers").get("embedded")


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """A copy of the project's migrations and ledger; returns the migrations directory."""
    migrations = pytester.path / "db" / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    shutil.copyfile(
        ledger.default_ledger_path(MIGRATIONS_DIR), pytester.path / "db" / "migrations.sum"
    )
    return migrations


def verify(
    pytester: pytest.Pytester, target: Database, migrations: Path
) -> tuple[int, dict[str, str]]:
    """Run the verification of ``target``; return the exit code and failures by test id."""
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={target.url}",
        f"--dbverify-migrations-dir={migrations}",
        INCLUDE,
        "-p", "no:cacheprovider",
        f"--junitxml={junit}",
    )  # fmt: skip
    failures = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            failures[str(case.get("name"))] = str(failure.get("message"))
    return int(result.ret), failures


def add_migration(migrations: Path, name: str, up: str, down: str) -> Path:
    """Write a new migration file and record it in the ledger, as the workflow does."""
    path = migrations / f"{name}.sql"
    path.write_text(f"-- migrate:up\n{up}\n\n-- migrate:down\n{down}\n")
    ledger.update(migrations, ledger.default_ledger_path(migrations))
    return path


def execute(target: Database, statement: str) -> None:
    with target.connect(autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


# Each fault: how to make it (on the target, the project's files, or both), and the
# failing test id that must name it.
Fault = Callable[[Database, Path], None]


def index_dropped(target: Database, migrations: Path) -> None:
    execute(target, "DROP INDEX public.content_created_at_idx")


def column_type_altered(target: Database, migrations: Path) -> None:
    execute(target, "ALTER TABLE public.content ALTER COLUMN difficulty TYPE integer")


def check_dropped(target: Database, migrations: Path) -> None:
    execute(target, "ALTER TABLE public.content DROP CONSTRAINT content_difficulty_check")


def extra_table(target: Database, migrations: Path) -> None:
    execute(target, "CREATE TABLE public.content_backup (LIKE public.content)")


def not_valid_foreign_key(target: Database, migrations: Path) -> None:
    execute(
        target,
        "ALTER TABLE public.like_engagement DROP CONSTRAINT like_engagement_content_id_fkey;"
        " ALTER TABLE public.like_engagement ADD CONSTRAINT like_engagement_content_id_fkey"
        " FOREIGN KEY (content_id) REFERENCES public.content (id) ON DELETE CASCADE NOT VALID",
    )


def applied_file_edited(target: Database, migrations: Path) -> None:
    path = migrations / f"{NEWEST}.sql"
    path.write_text(
        path.read_text().replace("ON content (created_at)", "ON content (created_at DESC)")
    )


def file_deleted(target: Database, migrations: Path) -> None:
    (migrations / f"{NEWEST}.sql").unlink()


def pending(target: Database, migrations: Path) -> None:
    target.dbmate(migrations).rollback()


def out_of_order(target: Database, migrations: Path) -> None:
    add_migration(
        migrations,
        "20260110000000_add_content_language",
        "ALTER TABLE content ADD COLUMN language text;",
        "ALTER TABLE content DROP COLUMN language;",
    )


def down_leaves_a_table(target: Database, migrations: Path) -> None:
    add_migration(
        migrations,
        "20260301000000_add_tags",
        "CREATE TABLE tag (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " name text NOT NULL);\n"
        "CREATE TABLE content_tag (content_id uuid NOT NULL REFERENCES content (id),"
        " tag_id bigint NOT NULL REFERENCES tag (id), PRIMARY KEY (content_id, tag_id));",
        "DROP TABLE content_tag;",  # forgets tag
    )
    target.dbmate(migrations).migrate()


FAULTS: dict[str, tuple[Fault, str]] = {
    "index-dropped": (
        index_dropped,
        "test_schema_drift[index public.content.content_created_at_idx]",
    ),
    "column-type-altered": (
        column_type_altered,
        "test_schema_drift[column public.content.difficulty]",
    ),
    "check-dropped": (
        check_dropped,
        "test_schema_drift[constraint public.content.content_difficulty_check]",
    ),
    "extra-table": (extra_table, "test_schema_drift[table public.content_backup]"),
    "not-valid-foreign-key": (
        not_valid_foreign_key,
        "test_schema_drift[constraint public.like_engagement.like_engagement_content_id_fkey]",
    ),
    "applied-file-edited": (applied_file_edited, f"test_migration_checksum[{NEWEST}]"),
    "file-deleted": (file_deleted, f"test_migration_file_present[{NEWEST}]"),
    "pending-migration": (pending, f"test_migration_applied[{NEWEST}]"),
    "migration-out-of-order": (
        out_of_order,
        "test_migration_applied[20260110000000_add_content_language]",
    ),
    "down-leaves-a-table": (
        down_leaves_a_table,
        "test_rollback_round_trip[20260301000000_add_tags]",
    ),
}
# What the failure must say besides its id (the object, the state, the fix).
SAYS = {
    "index-dropped": "found (deployed):           absent",
    "column-type-altered": "expected (from migrations): type smallint",
    "check-dropped": "CHECK (((difficulty >= 1) AND (difficulty <= 5)))",
    "extra-table": "expected (from migrations): absent",
    "not-valid-foreign-key": "found (deployed):           validated no",
    "applied-file-edited": "changed since migrations.sum recorded it",
    "file-deleted": "recorded in migrations.sum but the file is gone",
    "pending-migration": "is pending",
    "migration-out-of-order": "out of order",
    "down-leaves-a-table": "table public.tag left behind",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_caught_by_name(
    pytester: pytest.Pytester, embedded: ServerInfo, project: Path, fault: str
) -> None:
    make, failing_id = FAULTS[fault]
    target = create_database(embedded, template=LEARNING_TEMPLATE)
    make(target, project)
    code, failures = verify(pytester, target, project)
    assert code == 1, f"fault {fault} went unnoticed"
    assert failing_id in failures, f"fault {fault}: {failing_id} did not fail; failures: {failures}"
    assert SAYS[fault] in failures[failing_id], failures[failing_id]


def test_the_clean_deployment_passes(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path
) -> None:
    # On the system server (15) the expected schema still comes from the embedded 18:
    # the comparison holds across major versions.
    target = create_database(pg_server, template=LEARNING_TEMPLATE)
    code, failures = verify(pytester, target, project)
    assert (code, failures) == (0, {})


def test_drift_items_are_named_after_each_object(
    pytester: pytest.Pytester, embedded: ServerInfo, project: Path
) -> None:
    target = create_database(embedded, template=LEARNING_TEMPLATE)
    with target.connect(autocommit=True) as conn:
        for statement in (
            "ALTER TABLE content ALTER COLUMN model SET DEFAULT 'gpt'",
            "ALTER TABLE content ALTER COLUMN body DROP NOT NULL",
            "CREATE INDEX content_title_idx ON content (title)",
            "ALTER TABLE sessions ADD COLUMN note text",
            "CREATE TYPE mood AS ENUM ('calm')",
        ):
            conn.execute(statement)  # type: ignore[arg-type]
    code, failures = verify(pytester, target, project)
    assert code == 1
    drift = sorted(name for name in failures if name.startswith("test_schema_drift"))
    assert drift == [
        "test_schema_drift[column public.content.body]",
        "test_schema_drift[column public.content.model]",
        "test_schema_drift[column public.sessions.note]",
        "test_schema_drift[enum public.mood]",
        "test_schema_drift[index public.content.content_title_idx]",
    ]
    assert "default 'gpt'::text" in failures["test_schema_drift[column public.content.model]"]


def test_excluded_tables_and_other_schemas_are_ignored(
    pytester: pytest.Pytester, embedded: ServerInfo, project: Path
) -> None:
    target = create_database(embedded, template=LEARNING_TEMPLATE)
    with psycopg.connect(target.server.conninfo(target.name), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ops; CREATE TABLE ops.audit (id int)")
        conn.execute("ALTER TABLE user_preferences ADD COLUMN theme text")
    pytester.makeini("[pytest]\ndbverify_exclude_tables = user_preferences\n")
    code, failures = verify(pytester, target, project)
    assert (code, failures) == (0, {})
