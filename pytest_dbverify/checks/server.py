"""The server answers, and is a version the verifier supports."""

from __future__ import annotations

import time
from typing import Any

import pytest
from psycopg import sql

from pytest_dbverify.batch import run_all
from pytest_dbverify.catalog import minimum_version_ok
from pytest_dbverify.run import VerificationRun

pytestmark = pytest.mark.dbverify


def test_server_reachable(dbverify_run: VerificationRun, request: pytest.FixtureRequest) -> None:
    """A pooled connection answers a query; its round trip is reported."""
    if dbverify_run.connect_error:
        pytest.fail(dbverify_run.connect_error, pytrace=False)
    with dbverify_run.pool().connection() as dbverify_conn:
        began = time.perf_counter()
        assert dbverify_conn.execute("SELECT 1").fetchone() == (1,)
        # As record_property does, without its warning under junit_family=xunit2.
        request.node.user_properties.append(
            ("latency_ms", round((time.perf_counter() - began) * 1000, 2))
        )


def test_server_version_supported(dbverify_run: VerificationRun) -> None:
    """PostgreSQL 13 or newer."""
    row = _ask(
        dbverify_run,
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
    )
    version, number = row
    assert minimum_version_ok(number), (
        f"PostgreSQL {version} is older than 13, the oldest version pytest-dbverify supports"
    )


def test_session_settings_applied(dbverify_run: VerificationRun) -> None:
    """Our connections identify themselves and carry the safety timeouts."""
    row = _ask(
        dbverify_run,
        "SELECT current_setting('application_name'), current_setting('lock_timeout'), "
        "current_setting('statement_timeout'), current_setting('transaction_read_only')",
    )
    application_name, lock_timeout, statement_timeout, read_only = row
    assert application_name == "pytest-dbverify"
    assert lock_timeout != "0", "lock_timeout is not set"
    assert statement_timeout != "0", "statement_timeout is not set"
    if dbverify_run.settings.read_only:
        assert read_only == "on", "read-only mode, but transactions are not read-only"


def _ask(run: VerificationRun, query: str) -> tuple[Any, ...]:
    """Return the one row ``query`` answers, on a connection the checks share."""
    with run.checks_connection() as conn:
        [answer] = run_all(conn, sql.SQL(query))
    if answer.error is not None:
        raise answer.error
    assert answer.rows, f"no row for {query}"
    return answer.rows[0]
