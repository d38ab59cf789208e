"""Mutation test: break the deployed learning schema one way at a time; the verifier must fail.

A mutant is killed when ``pytest --dbverify`` against it exits 1 and one of its failures
names the broken object. The clean deployment must pass. Runs on the embedded server.

Every run of the suite takes one mutant of each kind (bounded: about a minute on two
cores); ``DBVERIFY_ALL_MUTANTS=1`` takes all of them (about 90; the kill-rate run).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from pytest_dbverify.binaries import find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from tests.conftest import LEARNING_TEMPLATE, MIGRATIONS_DIR, Database, create_database
from tests.mutants import VERIFIER, Mutant, grant_verifier, mutants

pytestmark = pytest.mark.slow
EXAMPLES = "3"


@pytest.fixture(scope="module")
def mutation_server() -> Iterator[ServerInfo]:
    """A server of the module's own: each mutant gets a database copied from a template."""
    with ThrowawayServer(find_binaries("embedded")) as server:
        info = server.info
        template = Database(info, LEARNING_TEMPLATE)
        template.dbmate().up()
        with template.connect(autocommit=True) as conn:
            grant_verifier(conn)
        yield info


@pytest.fixture(scope="module")
def expected_db(mutation_server: ServerInfo) -> Database:
    """The expected schema, a clean copy (never mutated)."""
    return create_database(mutation_server, template=LEARNING_TEMPLATE)


def all_mutants() -> list[Mutant]:
    """Mutants listed at collection time from a migrated scratch server."""
    with ThrowawayServer(find_binaries("embedded")) as server:
        db = Database(server.info, "scratch")
        db.dbmate().up()
        with db.connect(autocommit=True) as conn:
            return mutants(conn)


def one_of_each_kind(found: list[Mutant]) -> list[Mutant]:
    """Return the first mutant of each kind (the id up to the object's name)."""
    kinds: dict[str, Mutant] = {}
    for mutant in found:
        words = []
        for part in mutant.id.split("-"):
            if "_" in part or "." in part:
                break
            words.append(part)
        kinds.setdefault("-".join(words), mutant)
    return list(kinds.values())


MUTANTS = all_mutants()
if not os.environ.get("DBVERIFY_ALL_MUTANTS"):
    MUTANTS = one_of_each_kind(MUTANTS)


def verify(
    pytester: pytest.Pytester, target: Database, expected: Database
) -> tuple[int, list[str]]:
    """Run the verification as the non-superuser role; return its exit code and failures."""
    junit = pytester.path / "junit.xml"
    url = target.url.replace("postgres@", f"{VERIFIER}@")
    result = pytester.runpytest_inprocess(
        "--dbverify",
        f"--dbverify-url={url}",
        f"--dbverify-expected-url={expected.url}",
        f"--dbverify-migrations-dir={MIGRATIONS_DIR}",
        f"--dbverify-examples={EXAMPLES}",
        "--dbverify-round-trip=false",  # the target plays no part in it: tested elsewhere
        "-p", "no:cacheprovider",
        f"--junitxml={junit}",
    )  # fmt: skip
    failures = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            failures.append(f"{case.get('name')}: {failure.get('message')}")
    return int(result.ret), failures


def test_the_clean_deployment_passes(
    pytester: pytest.Pytester, mutation_server: ServerInfo, expected_db: Database
) -> None:
    target = create_database(mutation_server, template=LEARNING_TEMPLATE)
    code, failures = verify(pytester, target, expected_db)
    assert (code, failures) == (0, [])


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_every_mutant_is_killed_by_name(
    pytester: pytest.Pytester, mutation_server: ServerInfo, expected_db: Database, mutant: Mutant
) -> None:
    target = create_database(mutation_server, template=LEARNING_TEMPLATE)
    with target.connect(autocommit=True) as conn:
        mutant.apply(conn)
    code, failures = verify(pytester, target, expected_db)
    assert code == 1, f"mutant {mutant.id} survived: the verification passed"
    naming = [f for f in failures if any(name in f for name in mutant.names)]
    assert naming, f"mutant {mutant.id}: failures do not name {mutant.names}: {failures}"
