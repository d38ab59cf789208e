"""Types drawn as their text form: every value the strategy draws is accepted as is.

For each type of :data:`pytest_dbverify.literal_types.LITERAL_BUILDERS` (and arrays of a
few), on PostgreSQL 15 and 18: the drawn values insert, and what is read back equals what
was sent after the same cast, compared the way the CRUD check compares (as text for the
types without ``=``). Extension types are tried where the server ships the extension:
hstore, ltree and cube on both, pgvector's vector on the embedded 18.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from psycopg import sql

from pytest_dbverify.catalog import Table, load_catalog
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.literal_types import LITERAL_BUILDERS
from pytest_dbverify.plans import sql_value
from pytest_dbverify.rows import NO_EQUALITY
from pytest_dbverify.strategies import values_for
from tests.conftest import Database, create_database, drop_database

CORE = {
    "tsvector": "tsvector",
    "tsquery": "tsquery",
    "money": "money",
    "bit": "bit",
    "bit5": "bit(5)",
    "varbit": "varbit",
    "varbit12": "bit varying(12)",
    "xml": "xml",
    "point": "point",
    "line": "line",
    "lseg": "lseg",
    "box": "box",
    "path": "path",
    "polygon": "polygon",
    "circle": "circle",
    "pg_lsn": "pg_lsn",
    "oid": "oid",
    "regclass": "regclass",
    "regtype": "regtype",
    "regproc": "regproc",
    "regprocedure": "regprocedure",
    "regoperator": "regoperator",
    "regnamespace": "regnamespace",
    "regrole": "regrole",
    "regconfig": "regconfig",
    "regdictionary": "regdictionary",
    "regcollation": "regcollation",
    "int4multirange": "int4multirange",
    "int8multirange": "int8multirange",
    "nummultirange": "nummultirange",
    "datemultirange": "datemultirange",
    "tsmultirange": "tsmultirange",
    "tstzmultirange": "tstzmultirange",
    "tsvector_array": "tsvector[]",
    "point_array": "point[]",
    "money_array": "money[]",
}
EXTENSIONS = {"hstore": "hstore", "ltree": "ltree", "cube": "cube", "vector": "vector(4)"}
FAST = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def literal_db(pg_server: ServerInfo) -> Iterator[tuple[Database, dict[str, str]]]:
    db = create_database(pg_server)
    try:
        with db.connect(autocommit=True) as conn:
            available = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions")}
            types = dict(CORE)
            if not _has_libxml(conn):  # the embedded wheel is built without it
                del types["xml"]
            conn.execute("CREATE SCHEMA lt")
            for extension, type_sql in EXTENSIONS.items():
                if extension in available:
                    conn.execute(f"CREATE EXTENSION {extension}")
                    types[extension] = type_sql
            for name, type_sql in types.items():
                conn.execute(f"CREATE TABLE lt.{name} (value {type_sql} NOT NULL)")
        yield db, types
    finally:
        drop_database(db)


def _has_libxml(conn: psycopg.Connection) -> bool:
    try:
        with conn.transaction():
            conn.execute("SELECT '<a/>'::xml")
    except psycopg.errors.FeatureNotSupported:
        return False
    return True


def test_every_literal_type_is_covered(
    literal_db: tuple[Database, dict[str, str]], pg_server: ServerInfo
) -> None:
    db, _ = literal_db
    with db.connect() as conn:
        covered = {t.column("value").type.base for t in load_catalog(conn, ["lt"]).tables}
    missing = set(LITERAL_BUILDERS) - covered
    # pgvector ships with the embedded wheel only, which has no libxml (every xml value is
    # refused there, "unsupported XML feature").
    assert missing == ({"xml"} if pg_server.version.startswith("18") else {"vector"})


def test_drawn_values_are_accepted_and_read_back_equal(
    literal_db: tuple[Database, dict[str, str]],
) -> None:
    db, types = literal_db
    with db.connect(autocommit=True) as conn:
        catalog = load_catalog(conn, ["lt"])
        for name in types:
            _accepted_as_drawn(conn, catalog.table(f"lt.{name}"))


def _accepted_as_drawn(conn: psycopg.Connection, table: Table) -> None:
    column = table.column("value")
    target = sql.Identifier(table.name.schema, table.name.name)

    @FAST
    @given(values_for(column, table=table.name))
    def accepted(value: Any) -> None:
        sent = sql_value(value, column.type.sql)
        equal = (
            sql.SQL("value::text IS NOT DISTINCT FROM ({})::text").format(sent)
            if column.type.base in NO_EQUALITY
            else sql.SQL("value IS NOT DISTINCT FROM {}").format(sent)
        )
        insert = sql.SQL("INSERT INTO {} (value) VALUES ({}) RETURNING {}")
        try:
            with conn.transaction(force_rollback=True):
                row = conn.execute(insert.format(target, sent, equal)).fetchone()
        except psycopg.Error as err:
            raise AssertionError(f"{table.name}: {value!r} refused: {err}") from None
        assert row == (True,), f"{table.name}: {value!r} read back different"

    accepted()
