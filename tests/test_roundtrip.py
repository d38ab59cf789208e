"""Rollback round trips on a throwaway database: the learning migrations, and broken downs."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import load_catalog
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.roundtrip import run_round_trip
from tests.conftest import LEARNING_TEMPLATE, MIGRATIONS_DIR, Database


def write(directory: Path, files: dict[str, tuple[str, str]]) -> Path:
    directory.mkdir()
    for name, (up, down) in files.items():
        (directory / f"{name}.sql").write_text(f"-- migrate:up\n{up}\n\n-- migrate:down\n{down}\n")
    return directory


def test_the_learning_migrations_round_trip(pg_server: ServerInfo, tmp_path: Path):
    with Database(pg_server, LEARNING_TEMPLATE).connect() as conn:
        single_pass = load_catalog(conn, ["public"])
    result = run_round_trip(
        pg_server,
        MIGRATIONS_DIR,
        schemas=["public"],
        migrations_table="schema_migrations",
        single_pass=single_pass,
        cache_dir=tmp_path,  # run it, whatever an earlier run kept
    )
    assert result.full == []
    assert result.steps == {path.name: [] for path in sorted(MIGRATIONS_DIR.glob("*.sql"))}


@pytest.fixture
def embedded(request: pytest.FixtureRequest) -> ServerInfo:
    return request.config.pluginmanager.get_plugin("dbverify-test-servers").get("embedded")


def round_trip(server: ServerInfo, directory: Path, cache: Path | None = None):
    return run_round_trip(
        server,
        directory,
        schemas=["public"],
        migrations_table="schema_migrations",
        cache_dir=cache or directory.parent / "cache",
    )


def test_a_partial_down_names_what_it_left_behind(embedded: ServerInfo, tmp_path: Path):
    directory = write(
        tmp_path / "m",
        {
            "1_base": ("CREATE TABLE a (id int PRIMARY KEY);", "DROP TABLE a;"),
            "2_reporting": (
                "CREATE TABLE r (id int);\n"
                "CREATE VIEW v AS SELECT id FROM r;\n"
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
                "CREATE INDEX a_id_hash ON a USING hash (id);",
                "DROP VIEW v;\nDROP TABLE r;",  # forgets f and the index on a
            ),
        },
    )
    result = round_trip(embedded, directory)
    assert result.steps["1_base.sql"] == []
    problems = result.steps["2_reporting.sql"]
    assert problems[:2] == [
        "after up and down, not as before up: index public.a.a_id_hash left behind "
        "(CREATE INDEX ON public.a USING hash (id))",
        "after up and down, not as before up: function public.f() left behind",
    ]
    assert problems[2].startswith("up failed the second time (after down): dbmate migrate failed")
    assert "already exists" in problems[2]
    # The whole stack would stop at the same file: it is not run, and says so once.
    assert (result.full, result.full_not_run) == ([], "2_reporting.sql")


def test_a_down_that_drops_too_much_and_a_no_op_down(embedded: ServerInfo, tmp_path: Path):
    directory = write(
        tmp_path / "m",
        {
            "1_base": ("CREATE TABLE a (id int);", "DROP TABLE a;"),
            "2_greedy": ("CREATE TABLE b (id int);", "DROP TABLE b; DROP TABLE a;"),
        },
    )
    result = round_trip(embedded, directory)
    assert result.steps["2_greedy.sql"][0] == (
        "after up and down, not as before up: table public.a gone (table with 1 columns (id))"
    )
    noop = write(
        tmp_path / "n", {"1_noop_down": ("CREATE TABLE IF NOT EXISTS c (id int);", "SELECT 1;")}
    )
    result = round_trip(embedded, noop)
    assert result.steps["1_noop_down.sql"] == [
        "after up and down, not as before up: "
        "table public.c left behind (table with 1 columns (id))"
    ]
    assert (result.full, result.full_not_run) == ([], "1_noop_down.sql")


def test_a_failing_down_leaves_the_later_files_their_own_verdicts(
    embedded: ServerInfo, tmp_path: Path
):
    directory = write(
        tmp_path / "m",
        {
            "1_broken": ("CREATE TABLE a (id int PRIMARY KEY);", "DROP TABLE missing;"),
            "2_next": ("CREATE TABLE b (id int REFERENCES a (id) UNIQUE);", "DROP TABLE b;"),
            "3_enum": ("CREATE TYPE mood AS ENUM ('calm');", "DROP TYPE mood;"),
            "4_label": ("ALTER TYPE mood ADD VALUE 'tense';", "SELECT 1;"),  # no way back
            "5_uses": ("CREATE TABLE c (m mood);", "DROP TABLE c;"),
            "6_wrong": ("CREATE TABLE d (id int);", "DROP TABLE d CASCADE; DROP TABLE d;"),
            "7_last": ("CREATE TABLE e (id int);", "DROP TABLE e;"),
        },
    )
    result = round_trip(embedded, directory)
    [problem] = result.steps["1_broken.sql"]
    assert problem.startswith("down failed: dbmate rollback failed")
    assert 'table "missing" does not exist' in problem
    # Each later file is judged from the state its predecessors should have left.
    assert result.steps["2_next.sql"] == []
    assert result.steps["3_enum.sql"] == []
    no_way_back, up_again = result.steps["4_label.sql"]
    assert no_way_back == (
        "after up and down, not as before up: enum public.mood: ('calm') -> ('calm', 'tense')"
    )
    assert 'enum label "tense" already exists' in up_again
    assert result.steps["5_uses.sql"] == []
    assert result.steps["6_wrong.sql"][0].startswith("down failed: dbmate rollback failed")
    assert result.steps["7_last.sql"] == []
    assert (result.full, result.full_not_run) == ([], "1_broken.sql")


def test_a_file_whose_up_fails_stops_the_files_after_it(embedded: ServerInfo, tmp_path: Path):
    directory = write(
        tmp_path / "m",
        {
            "1_base": ("CREATE TABLE a (id int);", "DROP TABLE a;"),
            "2_broken": ("CREATE TABLE b (id int REFERENCES missing (id));", "DROP TABLE b;"),
            "3_next": ("CREATE TABLE c (id int);", "DROP TABLE c;"),
        },
    )
    result = round_trip(embedded, directory)
    assert result.steps["1_base.sql"] == []
    assert result.steps["2_broken.sql"][0].startswith("up failed: dbmate migrate failed")
    assert result.steps["3_next.sql"] == [
        "not run: 2_broken.sql does not apply, and it comes before"
    ]
    assert result.full_not_run == "2_broken.sql"


def test_a_data_only_migration_is_fine(embedded: ServerInfo, tmp_path: Path):
    # Seeds and backfills change rows, not the schema: nothing to undo in it.
    directory = write(
        tmp_path / "m",
        {
            "1_base": ("CREATE TABLE a (id int);", "DROP TABLE a;"),
            "2_seed": ("INSERT INTO a VALUES (1);", "DELETE FROM a WHERE id = 1;"),
        },
    )
    result = round_trip(embedded, directory)
    assert result.steps == {"1_base.sql": [], "2_seed.sql": []}
    assert result.full == []


def test_a_second_round_trip_on_the_server_reads_the_first_ones_findings(
    embedded: ServerInfo, tmp_path: Path
):
    # A role outlives the scratch database: running this up a second time would fail.
    role = f"dbverify_once_{tmp_path.name[-20:].replace('-', '_')}"
    directory = write(tmp_path / "m", {"1_role": (f"CREATE ROLE {role};", f"DROP ROLE {role};")})
    try:
        first = round_trip(embedded, directory)
        assert first.steps == {"1_role.sql": []}
        assert first.full == []
        assert round_trip(embedded, directory) == first  # xdist's second worker
        (directory / "1_role.sql").write_text(
            f"-- migrate:up\nCREATE ROLE {role};\n\n-- migrate:down\nSELECT 1;\n"
        )
        edited = round_trip(embedded, directory)  # a changed file is run again
        assert edited.steps["1_role.sql"][0].startswith("up failed: dbmate migrate failed")
        assert "already exists" in edited.steps["1_role.sql"][0]
    finally:
        with psycopg.connect(embedded.conninfo(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_a_later_run_reads_the_findings_kept_in_the_cache(embedded: ServerInfo, tmp_path: Path):
    # The role outlives the round trip: only findings kept from the first run can pass now.
    role = f"dbverify_kept_{tmp_path.name[-20:].replace('-', '_')}"
    directory = write(tmp_path / "m", {"1_role": (f"CREATE ROLE {role};", f"DROP ROLE {role};")})
    cache = tmp_path / "cache"

    def new_server() -> None:  # what a run's xdist workers share dies with its server
        for shared in Path(embedded.socket_dir).glob("round-trip-*.json"):
            shared.unlink()

    try:
        first = round_trip(embedded, directory, cache)
        assert first.steps == {"1_role.sql": []}
        new_server()
        assert list((cache / "round-trips").glob("*.json"))
        assert round_trip(embedded, directory, cache) == first
        # Elsewhere (an empty cache) it runs, and the role left behind shows.
        new_server()
        again = round_trip(embedded, directory, tmp_path / "empty")
        assert "already exists" in again.steps["1_role.sql"][0]
    finally:
        with psycopg.connect(embedded.conninfo(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_a_file_without_a_down_is_named_once_and_the_rest_go_on(
    embedded: ServerInfo, tmp_path: Path
):
    # Histories of tools without downs (Prisma, golang-migrate up-only): each such file is
    # one finding, from the state its up leaves, with no rebuild of the database after it.
    directory = write(
        tmp_path / "m",
        {
            "1_base": ("CREATE TABLE a (id int);", "-- nothing to undo with"),
            "2_more": ("CREATE TABLE b (id int);", ""),
            "3_good": ("CREATE TABLE c (id int);", "DROP TABLE c;"),
            "4_seed": ("INSERT INTO c VALUES (1);", ""),  # data only: nothing to undo
        },
    )
    result = round_trip(embedded, directory)
    no_down = "no down: its -- migrate:down section holds no statement, so it cannot be rolled back"
    assert result.steps == {
        "1_base.sql": [no_down],
        "2_more.sql": [no_down],
        "3_good.sql": [],
        "4_seed.sql": [],
    }
    assert (result.full, result.full_not_run) == ([], "1_base.sql")
