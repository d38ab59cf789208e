"""Migration file layout: markers, options, transaction:false sections, statement splitting."""

from __future__ import annotations

import pytest

from pytest_dbverify.sections import parse, split_statements
from tests.conftest import MIGRATIONS_DIR


@pytest.mark.parametrize("path", sorted(MIGRATIONS_DIR.glob("*.sql")), ids=lambda p: p.stem)
def test_the_learning_migrations_are_sound(path):
    layout = parse(path.read_text())
    assert layout.problems == []
    assert set(layout.sections) == {"up", "down"}


def test_sections_keep_the_file_line_numbers():
    layout = parse("-- migrate:up\nCREATE TABLE t (id int);\n\n-- migrate:down\nDROP TABLE t;\n")
    up, down = layout.sections["up"], layout.sections["down"]
    assert (up.line, down.line) == (1, 4)
    assert up.text.splitlines()[1] == "CREATE TABLE t (id int);"
    assert down.text.splitlines()[4] == "DROP TABLE t;"


def test_an_indented_marker_is_named_with_its_line():
    layout = parse("-- migrate:up\nCREATE TABLE t (id int);\n  -- migrate:down\nDROP TABLE t;\n")
    assert layout.problems == [
        "line 3: indented marker '-- migrate:down': dbmate only sees markers at the start of "
        "a line; remove the indentation",
        "no unindented -- migrate:down line",
    ]


def test_missing_duplicate_and_misordered_markers():
    assert parse("CREATE TABLE t (id int);\n").problems == [
        "line 1: SQL before -- migrate:up",
        "no unindented -- migrate:up line",
        "no unindented -- migrate:down line",
    ]
    assert (
        "line 3: a second -- migrate:up marker"
        in parse("-- migrate:up\nSELECT 1;\n-- migrate:up\n-- migrate:down\n").problems
    )
    assert (
        "line 1: -- migrate:down comes before -- migrate:up"
        in parse("-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 1;\n").problems
    )
    assert parse("-- migrate:up transactions:off\n-- migrate:down\n").problems == [
        "line 1: unknown option 'transactions:off' (dbmate knows transaction:false)"
    ]


def test_transaction_false_holds_one_concurrent_statement_alone():
    good = (
        "-- migrate:up transaction:false\n-- why: a busy table\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);\n\n"
        "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS t_a_idx;\n"
    )
    assert parse(good).problems == []
    two = (
        "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\nSELECT 1;\n"
        "-- migrate:down\n"
    )
    [problem] = parse(two).problems
    assert problem.startswith(
        "-- migrate:up (line 1) is transaction:false but holds CREATE INDEX CONCURRENTLY i ON "
        "..., SELECT 1: such a section must hold one CREATE INDEX CONCURRENTLY"
    )
    other = "-- migrate:up transaction:false\nALTER TABLE t ADD COLUMN b int;\n-- migrate:down\n"
    assert "holds ALTER TABLE t ADD COLUMN ..." in parse(other).problems[0]


def test_concurrently_inside_a_transaction_is_refused():
    text = (
        "-- migrate:up\nCREATE UNIQUE INDEX CONCURRENTLY i ON t (a);\n-- migrate:down\nSELECT 1;\n"
    )
    [problem] = parse(text).problems
    assert problem.startswith(
        "-- migrate:up (line 1) runs in a transaction but holds CREATE UNIQUE INDEX "
        "CONCURRENTLY i ...: PostgreSQL refuses CONCURRENTLY in a transaction"
    )


def test_statements_split_outside_quotes_comments_and_dollar_quotes():
    text = """
    -- a comment; with a semicolon
    INSERT INTO t VALUES ('a;b', "c;d");  /* block; comment */
    CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
    DO $$ BEGIN PERFORM 1; END $$
    """
    assert split_statements(text) == [
        "INSERT INTO t VALUES ('a;b', \"c;d\")",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$",
        "DO $$ BEGIN PERFORM 1; END $$",
    ]
    assert split_statements("SELECT 'it''s; fine';") == ["SELECT 'it''s; fine'"]
