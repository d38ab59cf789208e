"""Tables whose CHECKs real schemas write verify with no failure, on both servers.

One table per form of tests/check_forms.py (functions, patterns, the clock, several
columns, "exactly one of"), created by a migration: every table's CRUD item inserts rows
the generator drew within its CHECK, and every CHECK item finds a violating row that the
expected database confirms and the target refuses. None fails, none is skipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from pytest_dbverify.embedded import ServerInfo
from tests.check_forms import FORMS
from tests.conftest import Database, create_database, drop_database

pytestmark = pytest.mark.slow


def _migration() -> str:
    tables = [
        sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, {}, CONSTRAINT {} CHECK ({}));")
        .format(
            sql.Identifier(form.id), sql.SQL(form.columns), sql.Identifier(form.id),
            sql.SQL(form.check),
        )
        .as_string()
        for form in FORMS
    ]  # fmt: skip
    drops = ", ".join(sql.Identifier(form.id).as_string() for form in FORMS)
    return "-- migrate:up\n" + "\n".join(tables) + f"\n\n-- migrate:down\nDROP TABLE {drops};\n"


@pytest.fixture(scope="module")
def migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("forms") / "migrations"
    directory.mkdir()
    (directory / "20240101000000_forms.sql").write_text(_migration(), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def forms_dbs(pg_server: ServerInfo, migrations: Path) -> Iterator[tuple[Database, Database]]:
    """The target and the expected database, both migrated."""
    target, expected = create_database(pg_server), create_database(pg_server)
    try:
        target.dbmate(migrations).up()
        expected.dbmate(migrations).up()
        yield target, expected
    finally:
        drop_database(target)
        drop_database(expected)


def test_real_checks_verify_without_a_failure_or_a_skip(
    pytester: pytest.Pytester, forms_dbs: tuple[Database, Database], migrations: Path
) -> None:
    target, expected_db = forms_dbs
    junit = pytester.path / "junit.xml"
    pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={target.url}",
        f"--dbverify-expected-url={expected_db.url}",
        f"--dbverify-migrations-dir={migrations}",
        "--dbverify-include=test_check_enforced,test_crud",
        "--dbverify-examples=5",
        "-p", "no:cacheprovider",
        f"--junitxml={junit}",
    )  # fmt: skip
    outcomes: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = str(case.get("name"))
        outcomes[name] = "passed"
        for problem in [*case.iter("failure"), *case.iter("error"), *case.iter("skipped")]:
            outcomes[name] = f"{problem.tag}: {problem.get('message')}"
    expected = {f"test_check_enforced[{f.id}.{f.id}]" for f in FORMS}
    expected |= {f"test_crud[{f.id}]" for f in FORMS}
    assert {n: o for n, o in outcomes.items() if o != "passed"} == {}
    assert expected <= set(outcomes)
