"""Rows the database refuses: never a failure, always a named skip, always quickly.

Each schema here is correct, and each holds something a generator trips on: a CHECK it
cannot satisfy on a parent of a deep chain, a nullable unique column, a partial unique
index whose predicate random rows miss, a default that breaks its own CHECK, the smallest
integer, an index expression or a trigger refusing values, a unique rule implied by
another, a child row a parent's trigger makes. On both servers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pytest_dbverify.embedded import ServerInfo
from tests.conftest import Database, create_database, drop_database

pytestmark = pytest.mark.slow

# md5(code) LIKE 'abc%' holds for one text in 4096: the generator cannot see it.
UNMAKEABLE_PARENT = """
CREATE SCHEMA r;
CREATE TABLE r.acct (
    id   integer PRIMARY KEY,
    code text NOT NULL CONSTRAINT acct_code_check CHECK (md5(code) LIKE 'abc%')
);
CREATE TABLE r.project (id integer PRIMARY KEY, acct_id integer NOT NULL REFERENCES r.acct);
CREATE TABLE r.task (id integer PRIMARY KEY, project_id integer NOT NULL REFERENCES r.project,
                     title text NOT NULL, body text, meta jsonb);
CREATE TABLE r.comment (id integer PRIMARY KEY, task_id integer NOT NULL REFERENCES r.task,
                        body text NOT NULL, meta jsonb);
"""


@dataclass(frozen=True)
class Outcome:
    """One item's outcome in the JUnit report."""

    outcome: str  # passed, failed, skipped
    message: str
    seconds: float


@pytest.fixture
def db(pg_server: ServerInfo) -> Iterator[Database]:
    database = create_database(pg_server)
    yield database
    drop_database(database)


def verify(pytester: pytest.Pytester, db: Database, schema: str, *args: str) -> dict[str, Outcome]:
    """Load ``schema`` into ``db``, run ``pytest --dbverify`` on it; return the outcomes."""
    with db.connect(autocommit=True) as conn:
        conn.execute(schema)  # type: ignore[arg-type]
    junit = pytester.path / "junit.xml"
    pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={db.url}",
        "--dbverify-schemas=r",
        "--dbverify-exclude=test_fk_indexed",
        "--dbverify-include=test_crud,test_unique_*,test_fk_*,test_not_null_*,test_check_*,"
        "test_index_consistent",
        "-p", "no:cacheprovider",
        f"--junitxml={junit}",
        *args,
    )  # fmt: skip
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for element in [*case.iter("failure"), *case.iter("error"), *case.iter("skipped")]:
            outcome = "skipped" if element.tag == "skipped" else "failed"
            message = str(element.get("message"))
        outcomes[str(case.get("name"))] = Outcome(outcome, message, float(case.get("time", 0)))
    return outcomes


def failures(outcomes: dict[str, Outcome]) -> list[str]:
    return [f"{name}: {o.message}" for name, o in outcomes.items() if o.outcome == "failed"]


def test_a_parent_no_row_of_can_be_made_skips_its_children_naming_the_rule_fast(
    pytester: pytest.Pytester, db: Database
) -> None:
    outcomes = verify(pytester, db, UNMAKEABLE_PARENT)
    assert failures(outcomes) == []
    crud = outcomes["test_crud[r.comment]"]
    assert crud.outcome == "skipped"
    for words in (
        "no row could be made",
        "(CheckViolation 23514) on r.acct.code by acct_code_check",
        "r.comment needs a row of r.acct, as a parent",
        "register_column('r.acct.code', st.sampled_from([...]))",
        "the check stopped: none of",
    ):
        assert words in crud.message
    # The deep chain neither overruns hypothesis' test cases nor retries them for minutes.
    assert max(o.seconds for o in outcomes.values()) < 10, outcomes


def test_a_check_stops_at_its_budget_and_says_so(pytester: pytest.Pytester, db: Database) -> None:
    outcomes = verify(pytester, db, UNMAKEABLE_PARENT, "--dbverify-check-budget=0.001")
    assert failures(outcomes) == []
    crud = outcomes["test_crud[r.comment]"]
    assert crud.outcome == "skipped"
    assert "its 0.001 s budget ran out (--dbverify-check-budget)" in crud.message
