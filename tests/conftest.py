"""Real PostgreSQL servers for the project's tests: the embedded wheel's and the system's.

One server of each kind per test run (shared by xdist workers), with the learning-app
migrations applied once to a template database; each test gets a database of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from pytest_dbverify.binaries import SERVER_KINDS, ServerKind
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.migrations import Dbmate
from pytest_dbverify.shared import SharedServers

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "db" / "migrations"
LEARNING_TEMPLATE = "learning_template"
_PLUGIN = "dbverify-test-servers"


@dataclass(frozen=True)
class Database:
    """One database on a throwaway server, owned by one test."""

    server: ServerInfo
    name: str

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    def connect(self, **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.server.conninfo(self.name), **kwargs)  # type: ignore[arg-type]

    def dbmate(self, migrations_dir: Path = MIGRATIONS_DIR) -> Dbmate:
        return Dbmate(self.url, migrations_dir=migrations_dir, pg_bindir=Path(self.server.bindir))


def _migrate_template(info: ServerInfo) -> None:
    Database(info, LEARNING_TEMPLATE).dbmate().up()


def pytest_configure(config: pytest.Config) -> None:
    servers = SharedServers(config, kinds=SERVER_KINDS, prepare=_migrate_template)
    config.pluginmanager.register(servers, _PLUGIN)


@pytest.fixture(scope="session", params=SERVER_KINDS)
def pg_server(request: pytest.FixtureRequest) -> ServerInfo:
    """The run's throwaway server of one kind: embedded (PostgreSQL 18) and system (15)."""
    servers: SharedServers = request.config.pluginmanager.get_plugin(_PLUGIN)
    kind: ServerKind = request.param
    return servers.get(kind)


def create_database(server: ServerInfo, *, template: str = "template0") -> Database:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return Database(server, name)


def drop_database(db: Database) -> None:
    with psycopg.connect(db.server.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


@pytest.fixture
def empty_db(pg_server: ServerInfo) -> Iterator[Database]:
    """An empty database of this test's own, dropped afterwards."""
    db = create_database(pg_server)
    yield db
    drop_database(db)


@pytest.fixture(scope="session")
def learning_db(pg_server: ServerInfo) -> Iterator[Database]:
    """A database with every migration applied; tests must roll back what they write."""
    db = create_database(pg_server, template=LEARNING_TEMPLATE)
    yield db
    drop_database(db)


@pytest.fixture
def conn(learning_db: Database) -> Iterator[psycopg.Connection]:
    """A connection to the migrated database, inside a transaction rolled back afterwards.

    The outer transaction is explicit: ``conn.transaction()`` in a test is then always a
    savepoint, never a transaction of its own that would commit.
    """
    with learning_db.connect() as connection, connection.transaction(force_rollback=True):
        yield connection
