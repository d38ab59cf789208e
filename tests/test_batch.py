"""Batches and plans on real servers: one round trip, each statement answered on its own."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.batch import Batch, Pipeline
from pytest_dbverify.catalog import load_catalog
from pytest_dbverify.plans import (
    ExamplePlan,
    LockWait,
    Rejected,
    RowDropped,
    expected_error,
    insert_statement,
    locator_where,
    sql_value,
)
from tests.conftest import Database

TABLES = """
CREATE TABLE parent (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), label text);
CREATE TABLE child (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id uuid NOT NULL REFERENCES parent,
    note text,
    born date,
    amount numeric(8, 2) CHECK (amount >= 0)
);
"""


@pytest.fixture
def tables(empty_db: Database) -> Database:
    with empty_db.connect(autocommit=True) as conn:
        conn.execute(TABLES)
    return empty_db


def test_answers_come_back_in_order_with_rows_as_python_values(tables: Database):
    batch = Batch()
    with tables.connect() as conn:
        begin = batch.add(sql.SQL("BEGIN"))
        row = batch.add(
            sql.SQL("SELECT {}, {}, {}").format(
                sql_value(date(2026, 1, 2), "date"),
                sql_value(Decimal("1.50"), "numeric(8,2)"),
                sql_value("it's", "text"),
            )
        )
        nothing = batch.add(sql.SQL("SELECT 1 WHERE false"))
        batch.add(sql.SQL("ROLLBACK"))
        batch.run(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert begin.ran
    assert not begin.rows
    assert row.rows == [(date(2026, 1, 2), Decimal("1.50"), "it's")]
    assert nothing.ran
    assert nothing.row is None


def test_an_error_skips_only_the_rest_of_its_segment(tables: Database):
    batch = Batch()
    with tables.connect() as conn:
        batch.add(sql.SQL("BEGIN"))
        batch.add(sql.SQL("SAVEPOINT s"))
        orphan = batch.add(
            sql.SQL("INSERT INTO child (parent_id) VALUES ({})").format(
                sql_value(uuid.uuid4(), "uuid")
            )
        )
        skipped = batch.add(sql.SQL("SELECT 1"))
        batch.sync()
        batch.add(sql.SQL("ROLLBACK TO s"))
        after = batch.add(sql.SQL("SELECT 2"))
        batch.add(sql.SQL("ROLLBACK"))
        batch.run(conn)
    assert orphan.error is not None
    assert orphan.error.sqlstate == "23503"
    assert orphan.error.diag.constraint_name == "child_parent_id_fkey"
    assert not skipped.ran
    assert skipped.error is None
    assert after.rows == [(2,)]


def test_a_pipeline_sends_as_it_goes_and_drains_without_a_final_sync(tables: Database):
    with tables.connect(autocommit=True) as conn, Pipeline(conn) as pipeline:
        first = Batch()
        answer = first.add(sql.SQL("SELECT 1"))
        pipeline.send(first)  # no Sync: the server answers a segment only at one
        pipeline.drain()
        assert answer.rows == [(1,)]
        second = Batch()
        more = second.add(sql.SQL("SELECT 2"))
        pipeline.send(second)
    assert more.rows == [(2,)]


def test_a_batch_larger_than_the_socket_buffers_does_not_stall(tables: Database):
    batch = Batch()
    text = "x" * 1000
    answers = [batch.add(sql.SQL("SELECT {}::text").format(sql.Literal(text))) for _ in range(3000)]
    with tables.connect(autocommit=True) as conn:
        batch.run(conn)
    assert all(a.rows == [(text,)] for a in answers)


def test_a_connection_lost_mid_batch_raises_and_is_closed(tables: Database):
    batch = Batch()
    with tables.connect(autocommit=True) as conn:
        batch.add(sql.SQL("SELECT pg_terminate_backend(pg_backend_pid())"))
        batch.add(sql.SQL("SELECT 1"))
        with pytest.raises(psycopg.OperationalError):
            batch.run(conn)
        assert conn.closed or conn.broken


def test_a_later_statement_reads_what_an_insert_stored_through_a_reference(tables: Database):
    with tables.connect() as conn:
        catalog = load_catalog(conn, ["public"])
        conn.rollback()
        parent, child = catalog.table("public.parent"), catalog.table("public.child")
        plan = ExamplePlan(Batch())
        plan.batch.add(sql.SQL("BEGIN"))
        with_label = plan.insert(parent, {"label": "it's"})
        without = plan.insert(parent, {"label": None})  # a NULL passes through as NULL
        kid = plan.insert(child, {"parent_id": with_label.ref("id"), "note": without.ref("label")})
        found = plan.execute(
            sql.SQL("SELECT note IS NULL, parent_id = {} FROM child WHERE {}").format(
                sql_value(with_label.ref("id"), "uuid"), locator_where(kid)
            )
        )
        plan.batch.add(sql.SQL("ROLLBACK"))
        plan.batch.run(conn)
        plan.verdict()
    assert found.rows == [(True, True)]
    stored = kid.stored
    assert stored is not None
    assert stored["parent_id"] == with_label.ref("id")
    assert repr(kid.ref("parent_id")) == repr(stored["parent_id"])


def test_judges_reject_wait_out_locks_and_raise_in_order(tables: Database):
    with tables.connect() as conn:
        catalog = load_catalog(conn, ["public"])
        conn.rollback()
        child = catalog.table("public.child")
        plan = ExamplePlan(Batch())
        plan.batch.add(sql.SQL("BEGIN"))
        with plan.savepoint():
            negative = plan.attempt(
                insert_statement(child, {"parent_id": uuid.uuid4(), "amount": Decimal(-1)})
            )
        with plan.savepoint():
            plan.insert(child, {"parent_id": uuid.uuid4()})  # an orphan: not rejectable
        plan.batch.add(sql.SQL("ROLLBACK"))
        plan.batch.run(conn)
    assert expected_error(negative, "23514") is not None  # CHECK before foreign keys
    with pytest.raises(Rejected):
        expected_error(negative, "23503")  # another rule spoke: draw again
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        plan.verdict()


def test_a_lock_wait_and_a_swallowed_row_are_judged_as_such(tables: Database):
    with tables.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE void (label text)")
        conn.execute(
            "CREATE FUNCTION swallow() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER swallow BEFORE INSERT ON void FOR EACH ROW EXECUTE FUNCTION swallow()"
        )
        catalog = load_catalog(conn, ["public"])
    key = uuid.uuid4()
    with tables.connect() as holder, tables.connect() as conn:
        holder.execute("INSERT INTO parent (id) VALUES (%s)", [key])  # uncommitted
        plan = ExamplePlan(Batch())
        plan.batch.add(sql.SQL("BEGIN"))
        plan.batch.add(sql.SQL("SET LOCAL lock_timeout = '50ms'"))
        plan.insert(catalog.table("public.parent"), {"id": key})
        plan.batch.sync()  # the insert fails: the ROLLBACK is in a segment of its own
        plan.batch.add(sql.SQL("ROLLBACK"))
        plan.batch.run(conn)
        with pytest.raises(LockWait):
            plan.verdict()
        holder.rollback()
        plan = ExamplePlan(Batch())
        plan.batch.add(sql.SQL("BEGIN"))
        plan.insert(catalog.table("public.void"), {"label": "gone"})
        plan.batch.add(sql.SQL("ROLLBACK"))
        plan.batch.run(conn)
        with pytest.raises(RowDropped, match="swallows inserts"):
            plan.verdict()
