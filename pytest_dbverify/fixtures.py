"""Fixtures for database tests, available to any test under ``--dbverify``.

Each one can be overridden by a fixture of the same name in a ``conftest.py``. Mark the
tests that use them ``@pytest.mark.dbverify``: they run only under ``--dbverify``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

    from pytest_dbverify.catalog import Catalog
    from pytest_dbverify.pool import GuardedConnection
    from pytest_dbverify.rows import RowFactory
    from pytest_dbverify.run import VerificationRun
    from pytest_dbverify.settings import Settings
    from pytest_dbverify.target import Target


@pytest.fixture(scope="session")
def dbverify_run(pytestconfig: pytest.Config) -> VerificationRun:
    """Session: the verification run (settings, target, server facts); needs --dbverify."""
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


@pytest.fixture(scope="session")
def dbverify_catalog(dbverify_run: VerificationRun) -> Catalog:
    """Session: the expected schema's catalog snapshot (tables, columns, constraints, indexes).

    Built from the migrations applied to a throwaway server (or --dbverify-expected-url);
    ``dbverify_catalog.table("public.orders")`` gives a table for
    ``pytest_dbverify.strategies.rows_for`` and ``values_for``.
    """
    return dbverify_run.expected_catalog()


@pytest.fixture
def dbverify_examples(
    dbverify_run: VerificationRun, dbverify_conn: psycopg.Connection, request: pytest.FixtureRequest
) -> Callable[[Callable[[RowFactory], None]], None]:
    """Function: run a property over generated rows, as the built-in checks do.

    ``dbverify_examples(example)`` calls ``example(rows)`` --dbverify-examples times, each
    in a savepoint of ``dbverify_conn`` that is rolled back; ``rows.insert(table)`` inserts a
    generated row (parents first) and returns it as stored, ``rows.values(table)`` only
    draws one. Skipped in read-only mode. Strategies registered with
    ``pytest_dbverify.strategies.register_type`` / ``register_column`` are used.
    """
    from pytest_dbverify.properties import run_examples

    def run(example: Callable[[RowFactory], None]) -> None:
        run_examples(dbverify_run, dbverify_conn, request.node.name, example)

    return run
