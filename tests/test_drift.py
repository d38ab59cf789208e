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
    pytester: pytest.Pytester, target: Database, migrations: Path, *extra: str
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
        *extra,
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


# Faults made with SQL on the deployed copy: all in one database (each is its own object,
# so each fails its own item), with the failing id and what its message must say.
SCHEMA_FAULTS = {
    "index dropped": (
        "DROP INDEX public.content_created_at_idx",
        "test_schema_drift[index public.content.content_created_at_idx]",
        "found (deployed):           absent",
    ),
    "column type altered": (
        "ALTER TABLE public.content ALTER COLUMN difficulty TYPE integer",
        "test_schema_drift[column public.content.difficulty]",
        "expected (from migrations): type smallint",
    ),
    "CHECK dropped": (
        "ALTER TABLE public.content DROP CONSTRAINT content_difficulty_check",
        "test_schema_drift[constraint public.content.content_difficulty_check]",
        "CHECK (((difficulty >= 1) AND (difficulty <= 5)))",
    ),
    "extra table": (
        "CREATE TABLE public.content_backup (LIKE public.content)",
        "test_schema_drift[table public.content_backup]",
        "expected (from migrations): absent",
    ),
    "NOT VALID foreign key": (
        "ALTER TABLE public.like_engagement DROP CONSTRAINT like_engagement_content_id_fkey;"
        " ALTER TABLE public.like_engagement ADD CONSTRAINT like_engagement_content_id_fkey"
        " FOREIGN KEY (content_id) REFERENCES public.content (id) ON DELETE CASCADE NOT VALID",
        "test_schema_drift[constraint public.like_engagement.like_engagement_content_id_fkey]",
        "found (deployed):           validated no",
    ),
    "default changed": (
        "ALTER TABLE public.content ALTER COLUMN model SET DEFAULT 'gpt'",
        "test_schema_drift[column public.content.model]",
        "found (deployed):           default 'gpt'::text",
    ),
    "NOT NULL dropped": (
        "ALTER TABLE public.content ALTER COLUMN body DROP NOT NULL",
        "test_schema_drift[column public.content.body]",
        "not null no",
    ),
    "extra index": (
        "CREATE INDEX content_title_idx ON public.content (title)",
        "test_schema_drift[index public.content.content_title_idx]",
        "expected (from migrations): absent",
    ),
    "extra column": (
        "ALTER TABLE public.sessions ADD COLUMN note text",
        "test_schema_drift[column public.sessions.note]",
        "found (deployed):           present: text",
    ),
    "extra enum": (
        "CREATE TYPE public.mood AS ENUM ('calm')",
        "test_schema_drift[enum public.mood]",
        "found (deployed):           ('calm')",
    ),
}


def test_schema_faults_are_caught_by_name(
    pytester: pytest.Pytester, embedded: ServerInfo, project: Path
) -> None:
    target = create_database(embedded, template=LEARNING_TEMPLATE)
    with target.connect(autocommit=True) as conn:
        for statement, _, _ in SCHEMA_FAULTS.values():
            conn.execute(statement)  # type: ignore[arg-type]
    code, failures = verify(pytester, target, project, "--dbverify-round-trip=false")
    assert code == 1
    # One item per object, no more: nothing else drifted.
    assert sorted(f for f in failures if f.startswith("test_schema_drift")) == sorted(
        failing_id for _, failing_id, _ in SCHEMA_FAULTS.values()
    )
    for fault, (_, failing_id, says) in SCHEMA_FAULTS.items():
        assert says in failures[failing_id], f"{fault}: {failures[failing_id]}"


# Faults in the migration history: how to make each (on the target, the project's files,
# or both), the failing id that must name it and what its message must say.
Fault = Callable[[Database, Path], None]


def applied_file_edited(target: Database, migrations: Path) -> None:
    path = migrations / f"{NEWEST}.sql"
    edited = path.read_text().replace("ON content (created_at)", "ON content (created_at DESC)")
    path.write_text(edited)


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


HISTORY_FAULTS: dict[str, tuple[Fault, str, str]] = {
    "applied-file-edited": (
        applied_file_edited,
        f"test_migration_checksum[{NEWEST}]",
        "changed since migrations.sum recorded it",
    ),
    "file-deleted": (
        file_deleted,
        f"test_migration_file_present[{NEWEST}]",
        "recorded in migrations.sum but the file is gone",
    ),
    "pending-migration": (pending, f"test_migration_applied[{NEWEST}]", "is pending"),
    "migration-out-of-order": (
        out_of_order,
        "test_migration_applied[20260110000000_add_content_language]",
        "out of order",
    ),
    "down-leaves-a-table": (
        down_leaves_a_table,
        "test_rollback_round_trip[20260301000000_add_tags]",
        "table public.tag left behind",
    ),
}


@pytest.mark.parametrize("fault", HISTORY_FAULTS)
def test_history_faults_are_caught_by_name(
    pytester: pytest.Pytester, embedded: ServerInfo, project: Path, fault: str
) -> None:
    make, failing_id, says = HISTORY_FAULTS[fault]
    target = create_database(embedded, template=LEARNING_TEMPLATE)
    make(target, project)
    # The round trip does not look at the target: only the fault about it needs it.
    extra = () if fault == "down-leaves-a-table" else ("--dbverify-round-trip=false",)
    code, failures = verify(pytester, target, project, *extra)
    assert code == 1, f"fault {fault} went unnoticed"
    assert failing_id in failures, f"fault {fault}: {failing_id} did not fail; failures: {failures}"
    assert says in failures[failing_id], failures[failing_id]


def test_the_clean_deployment_passes(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path
) -> None:
    # On the system server (15) the expected schema still comes from the embedded 18:
    # the comparison holds across major versions.
    target = create_database(pg_server, template=LEARNING_TEMPLATE)
    code, failures = verify(pytester, target, project)
    assert (code, failures) == (0, {})


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
