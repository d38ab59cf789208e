"""The whole verification on tests/schemas/hard.sql, on both servers: no false failure.

hard.sql holds what real schemas do and a naive generator trips on: composite and cyclic
keys (one closed by a deferrable constraint), a self reference, a key to a non-primary
unique key, char(n) keys that pad, domains, enums, arrays, a generated column, identity
ALWAYS, a partitioned table, partial and expression unique indexes, an exclusion
constraint with a WHERE, a NOT NULL column a trigger fills, a rewrite rule, a table
without a primary key, and identifiers that need quoting, and rows a generator trips on
(CHECKs over text functions, a nullable unique column, a partial unique index whose
predicate random rows miss, a default its own CHECK refuses, the smallest integer, an
index expression and a trigger that refuse some values, a unique key implied by another,
a child row a parent's trigger makes); few_values.sql adds a key of
four values that the parents made for a sibling key can take. Every check must pass, and
every skip must be one of the few explained below.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_dbverify.embedded import ServerInfo
from tests.conftest import Database, create_database, drop_database

pytestmark = pytest.mark.slow
SCHEMAS = Path(__file__).resolve().parent / "schemas"
HARD_SQL = SCHEMAS / "hard.sql"
FEW_VALUES_SQL = SCHEMAS / "few_values.sql"
EXAMPLES = "5"

# The only skips: what cannot be shown on this schema, each with the reason it gives.
# The schema comes without migrations (the run takes the target's own catalog as the
# expectation, explicitly), so the migration and drift checks have nothing to compare
# (each says so).
NO_MIGRATIONS = "no migrations directory"
EXPECTED_SKIPS = {
    "test_migration_applied[no-migrations-dir]": NO_MIGRATIONS,
    "test_migration_checksum[no-migrations-dir]": NO_MIGRATIONS,
    "test_migration_file_present[no-ledger]": "no migration ledger",
    "test_no_applied_migration_without_file": NO_MIGRATIONS,
    "test_migration_sections[no-migrations-dir]": NO_MIGRATIONS,
    "test_migration_lint[no-migrations-dir]": NO_MIGRATIONS,
    "test_rollback_round_trip[no-migrations-dir]": NO_MIGRATIONS,
    "test_full_rollback_round_trip": NO_MIGRATIONS,
    "test_schema_drift[None]": "no expected schema apart from the target's own",
    "test_fk_actions[hard.employee.department_id->hard.department.id]": (
        "hard.department has rewrite rules: a DELETE or UPDATE there need not happen"
    ),
    "test_not_null_enforced[hard.Order Items.line code]": (
        "an explicit NULL is replaced by the BEFORE INSERT trigger fill line code"
    ),
}


@pytest.fixture(scope="module")
def hard_target(pg_server: ServerInfo) -> Iterator[Database]:
    db = create_database(pg_server)
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute(HARD_SQL.read_text(encoding="utf-8"))
            conn.execute(FEW_VALUES_SQL.read_text(encoding="utf-8"))
        yield db
    finally:
        drop_database(db)


def test_the_hard_schema_verifies_without_a_false_failure(
    pytester: pytest.Pytester, hard_target: Database
) -> None:
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={hard_target.url}",
        "--dbverify-schemas=hard",
        # No migrations (no db/migrations in the test's directory): said explicitly.
        "--dbverify-expect=target",
        f"--dbverify-examples={EXAMPLES}",
        "-p", "no:cacheprovider",
        f"--junitxml={junit}",
    )  # fmt: skip
    outcomes: dict[str, str] = {}
    failures: list[str] = []
    skips: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = str(case.get("name"))
        outcomes[name] = "passed"
        for failure in [*case.iter("failure"), *case.iter("error")]:
            failures.append(f"{name}: {failure.get('message')}")
        for skipped in case.iter("skipped"):
            skips[name] = str(skipped.get("message"))
    assert failures == []
    assert result.ret == 0
    assert sorted(skips) == sorted(EXPECTED_SKIPS), list(skips)
    for name, reason in EXPECTED_SKIPS.items():
        assert reason in skips[name], (name, skips[name])
    # Everything else ran: every table had its CRUD, every key its checks.
    assert len(outcomes) - len(skips) >= 140
    for table in ("Order Items", "bin", "booking", "customer", "department", "employee",
                  "shipment", "warehouse", "level", "roster", "pass", "member", "badge",
                  "account", "profile"):  # fmt: skip
        assert f"test_crud[hard.{table}]" in outcomes
