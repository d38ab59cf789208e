"""Domain CHECKs: a value that violates one cannot be cast to the domain, on 15 and 18."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dbverify.embedded import ServerInfo
from tests.conftest import create_database

MIGRATION = """-- migrate:up
CREATE DOMAIN email AS text CONSTRAINT email_shape CHECK (VALUE ~ '^[^@[:space:]]+@[^@]+$');
CREATE DOMAIN positive_int AS integer CONSTRAINT positive CHECK (VALUE > 0);
CREATE DOMAIN quantity AS positive_int CONSTRAINT at_most_1000 CHECK (VALUE <= 1000);
CREATE DOMAIN unused_code AS varchar(8) CONSTRAINT code_shape CHECK (VALUE ~ '^[A-Z]+$');
CREATE TABLE account (id bigint PRIMARY KEY, email email NOT NULL, items quantity);

-- migrate:down
DROP TABLE account;
DROP DOMAIN unused_code;
DROP DOMAIN quantity;
DROP DOMAIN positive_int;
DROP DOMAIN email;
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    migrations = pytester.path / "db" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "1_domains.sql").write_text(MIGRATION)
    return migrations


def _verify(pytester: pytest.Pytester, url: str, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        "--dbverify", f"--dbverify-url={url}", "-p", "no:cacheprovider", "-rfs", *extra
    )


@pytest.mark.parametrize("weakened", [False, True], ids=["as-migrated", "check-dropped"])
def test_every_domain_check_is_enforced(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path, weakened: bool
) -> None:
    target = create_database(pg_server)
    target.dbmate(project).migrate()
    if weakened:
        with target.connect(autocommit=True) as conn:
            conn.execute("ALTER DOMAIN email DROP CONSTRAINT email_shape")
    # Drift would name the dropped constraint first; here the behaviour must show it alone.
    result = _verify(pytester, target.url, "--dbverify-include=test_domain_check_enforced")
    text = result.stdout.str()
    if not weakened:
        assert result.ret == 0
        result.assert_outcomes(passed=4)
        return
    assert result.ret == 1
    result.assert_outcomes(passed=3, failed=1)
    assert "CHECK email_shape of domain public.email is not enforced" in text


def test_a_dropped_domain_check_is_one_failure(
    pytester: pytest.Pytester, pg_server: ServerInfo, project: Path
) -> None:
    target = create_database(pg_server)
    target.dbmate(project).migrate()
    with target.connect(autocommit=True) as conn:
        conn.execute("ALTER DOMAIN quantity DROP CONSTRAINT at_most_1000")
    result = _verify(
        pytester, target.url, "--dbverify-include=test_domain_check_enforced,test_schema_drift"
    )
    assert result.ret == 1
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    text = result.stdout.str()
    assert "FAILED dbverify/drift::test_schema_drift[domain public.quantity]" in text
    assert "(root cause: test_schema_drift[domain public.quantity])" in text
    assert "1 checks not run because of it" in text
