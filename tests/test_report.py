"""The coverage report: objects per check, the JSON file, the GitHub step summary, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_dbverify.catalog import Catalog, Column, ColumnType, Constraint, Index, Table, TableName
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.migrations import MigrationFile
from pytest_dbverify.report import (
    CatalogObject,
    Coverage,
    ReportFacts,
    markdown_summary,
    objects_of_param,
    resolve_name,
    static_reasons,
)
from tests.conftest import LEARNING_TEMPLATE, MIGRATIONS_DIR, create_database, drop_database

INT = ColumnType(sql="integer", base="int4", base_schema="pg_catalog", category="N", modifier=-1)
ORDERS = TableName("shop", "orders")
TABLE = Table(
    name=ORDERS,
    kind="table",
    columns=(
        Column("id", 1, INT, not_null=True, identity="always"),
        Column("qty", 2, INT, not_null=True),
        Column("note", 3, INT, not_null=False),
    ),
    constraints=(
        Constraint("orders_pkey", "primary key", ("id",), "PRIMARY KEY (id)", index="orders_pkey"),
        Constraint("orders_qty_check", "check", ("qty",), "CHECK (qty > 0)", expression="qty > 0"),
        Constraint("orders_qty_not_null", "not null", ("qty",), "NOT NULL qty"),
        Constraint("orders_id_not_null", "not null", ("id",), "NOT NULL id"),
    ),
    indexes=(
        Index("orders_pkey", ("id",), (None,), "CREATE UNIQUE INDEX orders_pkey ...", "btree",
              unique=True, primary=True, predicate=None, valid=True, ready=True,
              constraint="orders_pkey"),
        Index("orders_note_idx", ("note",), (None,), "CREATE UNIQUE INDEX orders_note_idx ...",
              "btree", unique=True, primary=False, predicate=None, valid=True, ready=True),
    ),
)  # fmt: skip
CATALOG = Catalog(server_version_num=180000, schemas=("shop",), tables=(TABLE,))


class _Rule:
    """Stands for keys.UniqueRule: a named rule of a table."""

    def __init__(self, name: str) -> None:
        self.name = name


def labels(objects: list[CatalogObject]) -> list[str]:
    return [obj.label for obj in objects]


def test_a_whole_table_stands_for_the_table_and_its_insertable_columns() -> None:
    assert labels(objects_of_param(TABLE)) == [
        "table shop.orders",
        "column shop.orders.qty",
        "column shop.orders.note",
    ]


def test_members_map_to_their_objects() -> None:
    assert labels(objects_of_param((TABLE, TABLE.column("qty")))) == [
        "column shop.orders.qty",
        "constraint shop.orders.orders_qty_not_null",
    ]
    assert labels(objects_of_param((TABLE, TABLE.constraints[1]))) == [
        "constraint shop.orders.orders_qty_check"
    ]
    assert labels(objects_of_param((TABLE, TABLE.indexes[1]))) == [
        "index shop.orders.orders_note_idx"
    ]
    # A rule named like a constraint is the constraint; else like an index, the index.
    assert labels(objects_of_param((TABLE, _Rule("orders_pkey")))) == [
        "constraint shop.orders.orders_pkey"
    ]
    assert labels(objects_of_param((TABLE, _Rule("orders_note_idx")))) == [
        "index shop.orders.orders_note_idx"
    ]
    assert labels(objects_of_param(ORDERS)) == ["table shop.orders"]
    migration = MigrationFile("20260101000000", Path("db/migrations/20260101000000_init.sql"))
    assert labels(objects_of_param(migration)) == ["migration 20260101000000_init"]
    assert objects_of_param("not a catalog object") == []
    assert objects_of_param((TABLE, _Rule("no_such_thing"))) == []


@pytest.mark.parametrize(
    ("written", "label"),
    [
        ("orders", "table shop.orders"),
        ("shop.orders", "table shop.orders"),
        ("orders.qty", "column shop.orders.qty"),
        ("shop.orders.qty", "column shop.orders.qty"),
        ("shop.orders.orders_qty_check", "constraint shop.orders.orders_qty_check"),
        ("orders.orders_note_idx", "index shop.orders.orders_note_idx"),
        ("index shop.orders.anything", "index shop.orders.anything"),
        ("shop.orders.nope", "unknown shop.orders.nope"),
        ("other.orders.qty", "unknown other.orders.qty"),
        ("nope", "unknown nope"),
    ],
)
def test_names_a_user_writes_resolve_in_the_catalog(written: str, label: str) -> None:
    assert resolve_name(written, CATALOG).label == label


def test_objects_left_alone_by_design_say_why() -> None:
    reasons = static_reasons(CATALOG, "schema_migrations")
    assert "computes it" in reasons[CatalogObject("column", "shop.orders.id")]
    assert (
        "identity ALWAYS" in reasons[CatalogObject("constraint", "shop.orders.orders_id_not_null")]
    )
    assert CatalogObject("constraint", "shop.orders.orders_qty_not_null") not in reasons
    bookkeeping = static_reasons(CATALOG, "orders")
    assert "bookkeeping" in bookkeeping[CatalogObject("index", "shop.orders.orders_note_idx")]


def test_markdown_summary_escapes_cells_and_lists_failures() -> None:
    coverage = Coverage()
    facts = ReportFacts("postgres://app:***@db/x", "env DATABASE_URL", "18.1", "db/migrations",
                        exit_status=1, duration_s=1.5)  # fmt: skip
    report = coverage.build(facts, [CatalogObject("table", "shop.orders")], {})
    report["checks"] = [
        {"id": "dbverify/x::test_a[t|1]", "outcome": "failed", "duration_s": 0.1,
         "objects": ["table shop.orders"], "message": "line one | with a pipe\nline two"},
    ]  # fmt: skip
    text = markdown_summary(report)
    assert "### pytest-dbverify: 1 failed" in text
    assert "| Target | `postgres://app:***@db/x` (env DATABASE_URL) |" in text
    assert "| `dbverify/x::test_a[t\\|1]` | table shop.orders | line one \\| with a pipe |" in text
    assert "line two" not in text
    assert "| Objects | 1 in the catalog, 0 passed, 0 failed, 1 not checked |" in text


CHECKS = """
import pytest

@pytest.mark.dbverify(objects=["content.topic", "public.content.no_such_thing"])
def test_my_topic_rule(dbverify_conn):
    assert dbverify_conn.execute("SELECT 1").fetchone() == (1,)
"""


def test_report_names_failed_objects_unchecked_ones_and_never_the_password(
    pytester: pytest.Pytester, pg_server: ServerInfo, monkeypatch
) -> None:
    db = create_database(pg_server, template=LEARNING_TEMPLATE)
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute("ALTER TABLE content DROP CONSTRAINT content_difficulty_check")
        shutil_copy_migrations(pytester)
        secret = "report-secret-pw"
        # Local connections are trusted: the password is carried but not needed.
        url = f"postgresql://postgres:{secret}@127.0.0.1:{pg_server.port}/{db.name}?sslmode=disable"
        monkeypatch.setenv("DATABASE_URL", url)
        summary = pytester.path / "step_summary.md"
        summary.write_text("# earlier step\n")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        pytester.makepyfile(test_mine=CHECKS)
        result = pytester.runpytest_subprocess(
            "--dbverify",
            "--dbverify-include=test_check_enforced,test_constraint_validated,test_my_*",
            "--dbverify-examples=3",
            "--dbverify-report=out/report.json",
            "--junitxml=out/junit.xml",
        )
        assert result.ret == 1
        result.stdout.fnmatch_lines(["report:  *out/report.json (* objects, * not checked)"])
        report = json.loads((pytester.path / "out" / "report.json").read_text())
        text = (
            json.dumps(report) + summary.read_text() + (pytester.path / "out/junit.xml").read_text()
        )
        assert secret not in text + result.stdout.str()
        assert report["target"].startswith("postgresql://postgres:***@127.0.0.1:")
        assert report["server_version"].startswith(pg_server.version)
        assert report["counts"]["failed"] == 2

        objects = {(o["kind"], o["name"]): o for o in report["objects"]}
        dropped = objects[("constraint", "public.content.content_difficulty_check")]
        assert dropped["status"] == "failed"
        assert {c["id"] for c in dropped["checks"]} == {
            "dbverify/check_constraints::test_check_enforced[content.content_difficulty_check]",
            "dbverify/indexes::test_constraint_validated[content.content_difficulty_check]",
        }
        failed = {c["id"]: c for c in report["checks"] if c["outcome"] == "failed"}
        assert "content_difficulty_check" in " ".join(c["message"] for c in failed.values())
        assert objects[("constraint", "public.content.content_format_check")]["status"] == "passed"
        # The user's own test named its objects; a name not in the schema is listed apart.
        mine = objects[("column", "public.content.topic")]
        assert [c["id"] for c in mine["checks"]] == ["test_mine.py::test_my_topic_rule"]
        assert objects[("unknown", "public.content.no_such_thing")]["status"] == "passed"
        # Everything else is unchecked, with a reason.
        unchecked = {(u["kind"], u["name"]): u["reason"] for u in report["unchecked"]}
        assert "deselected" in unchecked[("table", "public.sessions")]
        assert "bookkeeping" in unchecked[("table", "public.schema_migrations")]
        assert len(report["objects"]) == report["objects_summary"]["total"]

        markdown = summary.read_text()
        assert markdown.startswith("# earlier step\n### pytest-dbverify: 2 failed")
        assert "| Server | PostgreSQL " + pg_server.version in markdown
        assert (
            "| `dbverify/check_constraints::test_check_enforced[content.content_difficulty_check]`"
            " | constraint public.content.content_difficulty_check |" in markdown
        )

        junit = ET.parse(pytester.path / "out" / "junit.xml").getroot()
        case = next(
            c for c in junit.iter("testcase")
            if c.get("name") == "test_check_enforced[content.content_difficulty_check]"
        )  # fmt: skip
        assert case.get("classname") == "dbverify.check_constraints"
        properties = [(p.get("name"), p.get("value")) for p in case.iter("property")]
        assert properties == [
            ("dbverify_object", "constraint public.content.content_difficulty_check")
        ]
        failure = case.find("failure")
        assert failure is not None
        assert "CHECK content_difficulty_check on public.content is not enforced" in (
            failure.get("message", "") + (failure.text or "")
        )
    finally:
        drop_database(db)


def test_report_under_xdist_matches_the_single_process_report(
    pytester: pytest.Pytester, learning_db, monkeypatch
) -> None:
    shutil_copy_migrations(pytester)
    monkeypatch.setenv("DATABASE_URL", learning_db.url)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    light = "--dbverify-include=test_table_*,test_migration_*,test_index_valid"
    reports = []
    for extra in ([], ["-n", "2"]):
        result = pytester.runpytest_subprocess(
            "--dbverify", light, "--dbverify-report=r.json", *extra
        )
        assert result.ret == 0
        report = json.loads((pytester.path / "r.json").read_text())
        reports.append({(o["kind"], o["name"]): o["status"] for o in report["objects"]})
    assert reports[0] == reports[1]
    assert reports[0][("index", "public.content.content_topic_difficulty_idx")] == "passed"


def test_the_report_directory_is_created_or_the_path_refused_at_once(
    pytester: pytest.Pytester, monkeypatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (pytester.path / "a_file").write_text("")
    shutil_copy_migrations(pytester)
    result = pytester.runpytest_subprocess("--dbverify", "--dbverify-report=a_file/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: dbverify report */a_file/r.json: cannot create directory */a_file (*; set by "
         "command line): choose another --dbverify-report path"]
    )  # fmt: skip
    result = pytester.runpytest_subprocess(
        "--dbverify", "--dbverify-include=test_server_*", "--dbverify-report=new/dir/r.json"
    )
    assert result.ret == 0
    assert json.loads((pytester.path / "new/dir/r.json").read_text())["counts"] == {"passed": 2}


def test_an_unreachable_target_leaves_every_object_unchecked_saying_why(
    pytester: pytest.Pytester, monkeypatch
) -> None:
    shutil_copy_migrations(pytester)
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:unreachable-pw@127.0.0.1:1/x")
    result = pytester.runpytest_subprocess(
        "--dbverify", "--dbverify-connect-timeout=1", "--dbverify-report=r.json"
    )
    assert result.ret == 1
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["counts"] == {"failed": 1}
    assert report["checks"][0]["message"].startswith(
        "cannot connect to postgresql://app:***@127.0.0.1:1/x (env DATABASE_URL): "
    )
    # The expected schema still comes from the migrations: every object is listed.
    assert report["objects_summary"] == {"total": 155, "unchecked": 155}
    reasons = {u["reason"] for u in report["unchecked"]}
    assert "the target was unreachable: no check ran" in reasons
    markdown = summary.read_text()
    assert markdown.startswith("### pytest-dbverify: target unreachable")
    assert "| Server | unreachable |" in markdown
    assert "unreachable-pw" not in markdown + json.dumps(report)


def shutil_copy_migrations(pytester: pytest.Pytester) -> None:
    import shutil

    shutil.copytree(MIGRATIONS_DIR, pytester.path / "db" / "migrations")
