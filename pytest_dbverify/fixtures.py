"""Fixtures for database tests, available to any test under ``--dbverify``.

Each one can be overridden by a fixture of the same name in a ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

    from pytest_dbverify.pool import GuardedConnection
    from pytest_dbverify.run import VerificationRun
    from pytest_dbverify.settings import Settings
    from pytest_dbverify.target import Target


@pytest.fixture(scope="session")
def dbverify_run(pytestconfig: pytest.Config) -> VerificationRun:
    """Session: the verification run (settings, target, server facts)."""
    from pytest_dbverify.run import get_run

    return get_run(pytestconfig)


@pytest.fixture(scope="session")
def dbverify_settings(dbverify_run: VerificationRun) -> Settings:
    """Session: the resolved settings of this run."""
    return dbverify_run.settings


@pytest.fixture(scope="session")
def dbverify_target(dbverify_run: VerificationRun) -> Target:
    """Session: the database under verification (``.shown`` is safe to print)."""
    assert dbverify_run.target is not None
    return dbverify_run.target


@pytest.fixture(scope="session")
def dbverify_pool(dbverify_run: VerificationRun) -> ConnectionPool[GuardedConnection]:
    """Session: the psycopg_pool ConnectionPool to the target (2 connections at most)."""
    return dbverify_run.pool()


@pytest.fixture
def dbverify_conn(
    dbverify_pool: ConnectionPool[GuardedConnection],
) -> Iterator[psycopg.Connection]:
    """Function: a pooled connection inside a transaction that is always rolled back."""
    with dbverify_pool.connection() as conn, conn.transaction(force_rollback=True):
        yield conn
