"""The learning-app schema against /work/shared/SCHEMA.md, on every test server.

Each rule is shown twice: in the catalog (pg_catalog says the table, key, constraint or
index is there) and in behaviour (the database accepts what it must and rejects what it
must, with the constraint named in the error). The expectations are data, at the top.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import class_row, dict_row

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "db" / "migrations"

TABLES = (
    "sessions",
    "content",
    "behavioral_events",
    "like_engagement",
    "learner_model_state",
    "user_preferences",
    "generation_status",
)

FORMATS = ("text", "quiz", "video", "image", "audio")
EVENT_TYPES = (
    "impression",
    "view",
    "dwell",
    "skip",
    "complete",
    "answer",
    "share",
    "session_start",
    "session_end",
)
JOB_STATUSES = ("queued", "generating", "completed", "failed")

TIMESTAMPTZ = "timestamp with time zone"

# Every column SCHEMA.md names, with its type where SCHEMA.md gives one.
COLUMNS: dict[str, dict[str, str | None]] = {
    "sessions": {
        "id": "uuid",
        "created_at": TIMESTAMPTZ,
        "last_active_at": TIMESTAMPTZ,
        "ended_at": TIMESTAMPTZ,
    },
    "content": {
        "id": "uuid",
        "topic": None,
        "title": None,
        "format": None,
        "difficulty": None,
        "created_at": TIMESTAMPTZ,
    },
    "behavioral_events": {
        "id": "bigint",
        "session_id": "uuid",
        "content_id": "uuid",
        "event_type": None,
        "occurred_at": TIMESTAMPTZ,
        "dwell_ms": None,
        "payload": "jsonb",
    },
    "like_engagement": {"session_id": "uuid", "content_id": "uuid", "created_at": TIMESTAMPTZ},
    "learner_model_state": {
        "session_id": "uuid",
        "topic": None,
        "mastery": None,
        "confidence": None,
        "interaction_count": None,
        "updated_at": TIMESTAMPTZ,
    },
    "user_preferences": {"session_id": "uuid", "updated_at": TIMESTAMPTZ},
    "generation_status": {
        "id": "uuid",
        "topic": None,
        "status": None,
        "attempts": None,
        "content_id": "uuid",
        "session_id": "uuid",
        "error": None,
        "requested_at": TIMESTAMPTZ,
        "started_at": TIMESTAMPTZ,
        "finished_at": TIMESTAMPTZ,
    },
}

# Times the app always has: NOT NULL with a default.
REQUIRED_TIMESTAMPS = (
    ("sessions", "created_at"),
    ("sessions", "last_active_at"),
    ("content", "created_at"),
    ("behavioral_events", "occurred_at"),
    ("like_engagement", "created_at"),
    ("learner_model_state", "updated_at"),
    ("user_preferences", "updated_at"),
    ("generation_status", "requested_at"),
)

PRIMARY_KEYS = {
    "sessions": ("id",),
    "content": ("id",),
    "behavioral_events": ("id",),
    "like_engagement": ("session_id", "content_id"),
    "learner_model_state": ("session_id", "topic"),
    "user_preferences": ("session_id",),
    "generation_status": ("id",),
}
UUID_KEYED = ("sessions", "content", "generation_status")

# The columns of the minimal insert SCHEMA.md promises; every other column is optional.
MINIMAL_INSERT_COLUMNS = {
    "sessions": (),
    "content": ("topic", "title", "format", "difficulty"),
    "behavioral_events": ("session_id", "event_type"),
    "like_engagement": ("session_id", "content_id"),
    "learner_model_state": ("session_id", "topic"),
    "user_preferences": ("session_id",),
    "generation_status": ("topic",),
}


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    references: str
    on_delete: Literal["cascade", "set null"]

    @property
    def id(self) -> str:
        return f"{self.table}.{self.column}->{self.references}"

    @property
    def constraint(self) -> str:
        return f"{self.table}_{self.column}_fkey"

    @property
    def confdeltype(self) -> str:
        return {"cascade": "c", "set null": "n"}[self.on_delete]


FOREIGN_KEYS = (
    ForeignKey("behavioral_events", "session_id", "sessions", "cascade"),
    ForeignKey("behavioral_events", "content_id", "content", "set null"),
    ForeignKey("like_engagement", "session_id", "sessions", "cascade"),
    ForeignKey("like_engagement", "content_id", "content", "cascade"),
    ForeignKey("learner_model_state", "session_id", "sessions", "cascade"),
    ForeignKey("user_preferences", "session_id", "sessions", "cascade"),
    ForeignKey("generation_status", "content_id", "content", "set null"),
    ForeignKey("generation_status", "session_id", "sessions", "set null"),
)
FK_PARAMS = [pytest.param(fk, id=fk.id) for fk in FOREIGN_KEYS]


@dataclass(frozen=True)
class IndexNeed:
    """An index a query needs: its leading columns and what its predicate may be."""

    table: str
    columns: tuple[str, ...]
    predicate: Literal["none", "optional", "required"] = "none"
    mentions: tuple[str, ...] = ()  # what a predicate, when there is one, must say

    @property
    def id(self) -> str:
        return f"{self.table} ({', '.join(self.columns)})"


INDEX_NEEDS = (
    IndexNeed("content", ("topic", "difficulty")),
    IndexNeed("content", ("created_at",)),
    IndexNeed("behavioral_events", ("session_id", "occurred_at")),
    IndexNeed("behavioral_events", ("content_id",), "optional", ("content_id IS NOT NULL",)),
    IndexNeed("like_engagement", ("content_id",)),
    IndexNeed("generation_status", ("requested_at",), "required", ("'queued'", "'generating'")),
    IndexNeed("sessions", ("last_active_at",)),
)
WORK_QUEUE = INDEX_NEEDS[5]


@dataclass(frozen=True)
class CheckRule:
    table: str
    constraint: str
    columns: frozenset[str]
    values: tuple[str, ...] = ()  # an enumerated set the definition must list


CHECK_RULES = (
    CheckRule("sessions", "sessions_ended_at_check", frozenset({"created_at", "ended_at"})),
    CheckRule(
        "sessions", "sessions_last_active_at_check", frozenset({"created_at", "last_active_at"})
    ),
    CheckRule("content", "content_format_check", frozenset({"format"}), FORMATS),
    CheckRule("content", "content_difficulty_check", frozenset({"difficulty"})),
    CheckRule(
        "behavioral_events",
        "behavioral_events_event_type_check",
        frozenset({"event_type"}),
        EVENT_TYPES,
    ),
    CheckRule("behavioral_events", "behavioral_events_dwell_ms_check", frozenset({"dwell_ms"})),
    CheckRule("learner_model_state", "learner_model_state_mastery_check", frozenset({"mastery"})),
    CheckRule(
        "learner_model_state", "learner_model_state_confidence_check", frozenset({"confidence"})
    ),
    CheckRule(
        "learner_model_state",
        "learner_model_state_interaction_count_check",
        frozenset({"interaction_count"}),
    ),
    CheckRule(
        "user_preferences",
        "user_preferences_preferred_difficulty_check",
        frozenset({"preferred_difficulty"}),
    ),
    CheckRule(
        "generation_status", "generation_status_status_check", frozenset({"status"}), JOB_STATUSES
    ),
    CheckRule("generation_status", "generation_status_attempts_check", frozenset({"attempts"})),
    CheckRule("generation_status", "generation_status_error_check", frozenset({"status", "error"})),
    CheckRule(
        "generation_status",
        "generation_status_started_at_check",
        frozenset({"requested_at", "started_at"}),
    ),
    CheckRule(
        "generation_status",
        "generation_status_finished_at_check",
        frozenset({"requested_at", "started_at", "finished_at"}),
    ),
)


# --- helpers ---------------------------------------------------------------------------


def insert(conn: psycopg.Connection, table: str, **values: Any) -> dict[str, Any]:
    """Insert one row (``DEFAULT VALUES`` when given none) and return it."""
    if values:
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, values)),
            sql.SQL(", ").join([sql.Placeholder()] * len(values)),
        )
    else:
        query = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING *").format(sql.Identifier(table))
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, list(values.values())).fetchone()
    assert row is not None
    return row


def new_session(conn: psycopg.Connection, **values: Any) -> uuid.UUID:
    return insert(conn, "sessions", **values)["id"]


CONTENT_ROW = {"topic": "algebra", "title": "Fractions in five minutes", "format": "text"}


def new_content(conn: psycopg.Connection, **values: Any) -> uuid.UUID:
    return insert(conn, "content", **{**CONTENT_ROW, "difficulty": 3, **values})["id"]


# The minimal insert of each table, with whatever parent rows it needs.
MINIMAL_ROWS: dict[str, Callable[[psycopg.Connection], dict[str, Any]]] = {
    "sessions": lambda conn: {},
    "content": lambda conn: {**CONTENT_ROW, "difficulty": 3},
    "behavioral_events": lambda conn: {"session_id": new_session(conn), "event_type": "view"},
    "like_engagement": lambda conn: {
        "session_id": new_session(conn),
        "content_id": new_content(conn),
    },
    "learner_model_state": lambda conn: {"session_id": new_session(conn), "topic": "algebra"},
    "user_preferences": lambda conn: {"session_id": new_session(conn)},
    "generation_status": lambda conn: {"topic": "algebra"},
}


def row_for(conn: psycopg.Connection, table: str, **overrides: Any) -> dict[str, Any]:
    return {**MINIMAL_ROWS[table](conn), **overrides}


def count(conn: psycopg.Connection, table: str, column: str, value: object) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
        sql.Identifier(table), sql.Identifier(column)
    )
    row = conn.execute(query, [value]).fetchone()
    assert row is not None
    return int(row[0])


@contextmanager
def rejected(
    conn: psycopg.Connection, error: type[psycopg.Error], constraint: str
) -> Iterator[None]:
    """Expect the block to fail with ``error`` on ``constraint``, inside a savepoint."""
    with pytest.raises(error) as exc, conn.transaction():
        yield
    assert exc.value.diag.constraint_name == constraint


@dataclass(frozen=True)
class IndexInfo:
    name: str
    columns: list[str | None]  # key columns in order; None for an expression
    predicate: str | None
    is_unique: bool
    is_valid: bool
    is_ready: bool


def indexes_of(conn: psycopg.Connection, table: str) -> list[IndexInfo]:
    with conn.cursor(row_factory=class_row(IndexInfo)) as cur:
        return cur.execute(
            """
            SELECT ic.relname::text AS name,
                   ARRAY(SELECT a.attname::text
                         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                         LEFT JOIN pg_attribute a
                                ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         WHERE k.ord <= i.indnkeyatts
                         ORDER BY k.ord) AS columns,
                   pg_get_expr(i.indpred, i.indrelid) AS predicate,
                   i.indisunique AS is_unique,
                   i.indisvalid AS is_valid,
                   i.indisready AS is_ready
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = to_regclass(%s)
            ORDER BY ic.relname
            """,
            [f"public.{table}"],
        ).fetchall()


def serving_indexes(conn: psycopg.Connection, need: IndexNeed) -> list[IndexInfo]:
    """The indexes on ``need.table`` whose leading columns and predicate fit ``need``."""
    found = []
    for index in indexes_of(conn, need.table):
        if tuple(index.columns[: len(need.columns)]) != need.columns:
            continue
        if index.predicate is None and need.predicate == "required":
            continue
        if index.predicate is not None and (
            need.predicate == "none" or not all(m in index.predicate for m in need.mentions)
        ):
            continue
        found.append(index)
    return found


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    not_null: bool
    default: str | None
    identity: str


def columns_of(conn: psycopg.Connection, table: str) -> dict[str, ColumnInfo]:
    with conn.cursor(row_factory=class_row(ColumnInfo)) as cur:
        rows = cur.execute(
            """
            SELECT a.attname::text AS name,
                   format_type(a.atttypid, a.atttypmod) AS type,
                   a.attnotnull AS not_null,
                   pg_get_expr(d.adbin, d.adrelid) AS default,
                   a.attidentity::text AS identity
            FROM pg_attribute a
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
            """,
            [f"public.{table}"],
        ).fetchall()
    return {row.name: row for row in rows}


# --- catalog: tables, columns, keys ----------------------------------------------------


def test_public_holds_only_the_seven_tables_and_schema_migrations(conn):
    rows = conn.execute(
        """
        SELECT relname::text FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'f')
        """
    ).fetchall()
    assert {name for (name,) in rows} == {*TABLES, "schema_migrations"}


@pytest.mark.parametrize("table", TABLES)
def test_table_is_a_permanent_ordinary_table(conn, table):
    row = conn.execute(
        "SELECT relkind::text, relpersistence::text FROM pg_class WHERE oid = to_regclass(%s)",
        [f"public.{table}"],
    ).fetchone()
    assert row == ("r", "p")


@pytest.mark.parametrize(
    ("table", "column", "type_"),
    [
        pytest.param(table, column, type_, id=f"{table}.{column}")
        for table, columns in COLUMNS.items()
        for column, type_ in columns.items()
    ],
)
def test_named_column_exists(conn, table, column, type_):
    columns = columns_of(conn, table)
    assert column in columns, f"{table} has no column {column}: {sorted(columns)}"
    if type_ is not None:
        assert columns[column].type == type_


def test_no_timestamp_without_time_zone(conn):
    rows = conn.execute(
        """
        SELECT c.relname || '.' || a.attname
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND a.attnum > 0 AND NOT a.attisdropped
          AND a.atttypid IN ('timestamp'::regtype, 'time'::regtype, 'timetz'::regtype)
        """
    ).fetchall()
    assert rows == []


@pytest.mark.parametrize(
    ("table", "column"), [pytest.param(*tc, id=".".join(tc)) for tc in REQUIRED_TIMESTAMPS]
)
def test_required_timestamp_is_not_null_with_a_default(conn, table, column):
    info = columns_of(conn, table)[column]
    assert info.type == TIMESTAMPTZ
    assert info.not_null
    assert info.default is not None


@pytest.mark.parametrize("table", TABLES)
def test_only_the_minimal_insert_columns_are_required(conn, table):
    required = {
        info.name
        for info in columns_of(conn, table).values()
        if info.not_null and info.default is None and not info.identity
    }
    assert required <= set(MINIMAL_INSERT_COLUMNS[table])


@pytest.mark.parametrize(("table", "columns"), PRIMARY_KEYS.items(), ids=PRIMARY_KEYS)
def test_primary_key(conn, table, columns):
    row = conn.execute(
        """
        SELECT ARRAY(SELECT a.attname::text
                     FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                     ORDER BY k.ord)
        FROM pg_constraint con
        WHERE con.conrelid = to_regclass(%s) AND con.contype = 'p'
        """,
        [f"public.{table}"],
    ).fetchone()
    assert row is not None, f"{table} has no primary key"
    assert tuple(row[0]) == columns


@pytest.mark.parametrize("table", UUID_KEYED)
def test_uuid_key_defaults_to_gen_random_uuid(conn, table):
    info = columns_of(conn, table)["id"]
    assert (info.type, info.not_null, info.default) == ("uuid", True, "gen_random_uuid()")


def test_behavioral_events_id_is_bigint_identity_always(conn):
    info = columns_of(conn, "behavioral_events")["id"]
    assert (info.type, info.identity) == ("bigint", "a")


@pytest.mark.parametrize("fk", FK_PARAMS)
def test_foreign_key_and_its_delete_rule(conn, fk):
    row = conn.execute(
        """
        SELECT con.conname::text, con.confrelid::regclass::text, con.confdeltype::text,
               ARRAY(SELECT attname::text FROM pg_attribute
                     WHERE attrelid = con.confrelid AND attnum = ANY (con.confkey))
        FROM pg_constraint con
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attname = %s
        WHERE con.conrelid = to_regclass(%s) AND con.contype = 'f'
          AND con.conkey = ARRAY[a.attnum]
        """,
        [fk.column, f"public.{fk.table}"],
    ).fetchone()
    assert row == (fk.constraint, fk.references, fk.confdeltype, ["id"])
    if fk.on_delete == "set null":
        assert not columns_of(conn, fk.table)[fk.column].not_null


def test_no_foreign_keys_beyond_schema_md(conn):
    rows = conn.execute(
        """
        SELECT con.conrelid::regclass::text, a.attname::text, con.confrelid::regclass::text
        FROM pg_constraint con
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
        WHERE con.connamespace = 'public'::regnamespace AND con.contype = 'f'
        """
    ).fetchall()
    assert set(rows) == {(fk.table, fk.column, fk.references) for fk in FOREIGN_KEYS}


def test_generation_status_content_id_is_unique(conn):
    unique = [
        index
        for index in indexes_of(conn, "generation_status")
        if index.columns == ["content_id"] and index.is_unique and index.predicate is None
    ]
    assert unique, indexes_of(conn, "generation_status")
    assert any(index.is_valid and index.is_ready for index in unique), unique


@pytest.mark.parametrize("rule", CHECK_RULES, ids=lambda rule: rule.constraint)
def test_check_constraint(conn, rule):
    row = conn.execute(
        """
        SELECT con.convalidated, pg_get_constraintdef(con.oid),
               ARRAY(SELECT attname::text FROM pg_attribute
                     WHERE attrelid = con.conrelid AND attnum = ANY (con.conkey))
        FROM pg_constraint con
        WHERE con.conrelid = to_regclass(%s) AND con.conname = %s AND con.contype = 'c'
        """,
        [f"public.{rule.table}", rule.constraint],
    ).fetchone()
    assert row is not None, f"no CHECK {rule.constraint} on {rule.table}"
    validated, definition, columns = row
    assert validated
    assert set(columns) == rule.columns
    assert all(f"'{value}'" in definition for value in rule.values), definition


def test_every_constraint_is_validated(conn):
    rows = conn.execute(
        """
        SELECT conname::text FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace AND NOT convalidated
        """
    ).fetchall()
    assert rows == []


# --- catalog: indexes ------------------------------------------------------------------


@pytest.mark.parametrize("fk", FK_PARAMS)
def test_foreign_key_column_leads_a_valid_index(conn, fk):
    rows = conn.execute(
        """
        SELECT ic.relname::text, pg_get_expr(i.indpred, i.indrelid)
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = to_regclass(%s) AND a.attname = %s
          AND i.indisvalid AND i.indisready
        """,
        [f"public.{fk.table}", fk.column],
    ).fetchall()
    # A partial index still serves the FK's lookups when it only leaves out NULLs.
    usable = [name for name, pred in rows if pred in (None, f"({fk.column} IS NOT NULL)")]
    assert usable, f"no valid index leads with {fk.table}.{fk.column}: {rows}"


@pytest.mark.parametrize("need", INDEX_NEEDS, ids=lambda need: need.id)
def test_query_index_exists_and_is_valid(conn, need):
    found = serving_indexes(conn, need)
    assert found, f"no index for {need.id}: {indexes_of(conn, need.table)}"
    assert any(index.is_valid and index.is_ready for index in found), found


@pytest.mark.parametrize(
    ("status", "uses_index"),
    [("queued", True), ("generating", True), ("completed", False), ("failed", False)],
)
def test_work_queue_index_covers_the_open_states_only(conn, status, uses_index):
    # The planner uses a partial index only when the query implies its predicate, so the
    # plan shows which states the predicate really covers, whatever its text.
    queue_indexes = {index.name for index in serving_indexes(conn, WORK_QUEUE)}
    assert queue_indexes, f"no index for {WORK_QUEUE.id}"
    conn.execute("SET LOCAL enable_seqscan = off")
    plan = conn.execute(
        "EXPLAIN (COSTS OFF) SELECT id FROM generation_status"
        " WHERE status = %s ORDER BY requested_at LIMIT 10",
        [status],
    ).fetchall()
    text = "\n".join(line for (line,) in plan)
    assert any(name in text for name in queue_indexes) is uses_index, text


# --- catalog: migration history --------------------------------------------------------


def test_schema_migrations_records_every_migration_file(conn):
    files = {path.name.split("_", 1)[0] for path in MIGRATIONS_DIR.glob("*.sql")}
    rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert {version for (version,) in rows} == files


# --- behaviour: minimal inserts and defaults -------------------------------------------

A_TIME = object()  # the column holds a timezone-aware time

MINIMAL_DEFAULTS: dict[str, dict[str, object]] = {
    "sessions": {"created_at": A_TIME, "last_active_at": A_TIME, "ended_at": None},
    "content": {"created_at": A_TIME},
    "behavioral_events": {"occurred_at": A_TIME, "content_id": None},
    "like_engagement": {"created_at": A_TIME},
    "learner_model_state": {"updated_at": A_TIME},
    "user_preferences": {"updated_at": A_TIME, "preferred_difficulty": None},
    "generation_status": {
        "status": "queued",
        "requested_at": A_TIME,
        "started_at": None,
        "finished_at": None,
        "content_id": None,
        "session_id": None,
        "error": None,
    },
}


@pytest.mark.parametrize("table", TABLES)
def test_minimal_insert_succeeds_with_defaults(conn, table):
    row = insert(conn, table, **MINIMAL_ROWS[table](conn))
    for column, expected in MINIMAL_DEFAULTS[table].items():
        if expected is A_TIME:
            assert isinstance(row[column], datetime), column
            assert row[column].tzinfo is not None, column
        else:
            assert row[column] == expected, column


def test_sessions_insert_default_values(conn):
    (session_id,) = conn.execute("INSERT INTO sessions DEFAULT VALUES RETURNING id").fetchone()
    assert isinstance(session_id, uuid.UUID)


@pytest.mark.parametrize("table", UUID_KEYED)
def test_uuid_keys_are_random_and_distinct(conn, table):
    first = insert(conn, table, **MINIMAL_ROWS[table](conn))["id"]
    second = insert(conn, table, **MINIMAL_ROWS[table](conn))["id"]
    assert first != second
    assert (first.version, second.version) == (4, 4)


def test_behavioral_events_ids_are_generated_and_cannot_be_supplied(conn):
    session_id = new_session(conn)
    first = insert(conn, "behavioral_events", session_id=session_id, event_type="view")["id"]
    second = insert(conn, "behavioral_events", session_id=session_id, event_type="skip")["id"]
    assert second > first
    with pytest.raises(psycopg.errors.GeneratedAlways), conn.transaction():
        insert(conn, "behavioral_events", id=first + 1000, session_id=session_id, event_type="view")


# --- behaviour: enumerations, ranges and time order ------------------------------------

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def case(table: str, label: str | None = None, /, **overrides: Any) -> Any:
    label = label or ",".join(f"{key}={value!r}" for key, value in overrides.items())
    return pytest.param(table, overrides, id=f"{table}.{label}")


ACCEPTED = [
    *(case("content", format=value) for value in FORMATS),
    *(case("behavioral_events", event_type=value) for value in EVENT_TYPES),
    *(case("generation_status", status=value) for value in JOB_STATUSES if value != "failed"),
    case("generation_status", status="failed", error="model timed out"),
    case("content", difficulty=1),
    case("content", difficulty=5),
    case("learner_model_state", mastery=0),
    case("learner_model_state", mastery=1),
    case("learner_model_state", confidence=0),
    case("learner_model_state", confidence=1),
    case("learner_model_state", interaction_count=0),
    case("behavioral_events", dwell_ms=0),
    case("behavioral_events", dwell_ms=None),
    case("generation_status", attempts=0),
    case("user_preferences", preferred_difficulty=None),
    case("user_preferences", preferred_difficulty=1),
    case("user_preferences", preferred_difficulty=5),
    case("user_preferences", preferred_formats=list(FORMATS)),
    case("sessions", "ended_at=created_at", created_at=T0, last_active_at=T0, ended_at=T0),
    case(
        "sessions",
        "ended_at>created_at",
        created_at=T0,
        last_active_at=T0 + SECOND,
        ended_at=T0 + SECOND,
    ),
    case(
        "generation_status",
        "requested=started=finished",
        requested_at=T0,
        started_at=T0,
        finished_at=T0,
    ),
    case(
        "generation_status",
        "requested<started<finished",
        status="completed",
        requested_at=T0,
        started_at=T0 + SECOND,
        finished_at=T0 + 60 * SECOND,
    ),
    case("generation_status", "finished_never_started", requested_at=T0, finished_at=T0),
]


def reject(table: str, constraint: str, label: str | None = None, /, **overrides: Any) -> Any:
    param = case(table, label, **overrides)
    return pytest.param(table, overrides, constraint, id=param.id)


REJECTED = [
    reject("content", "content_format_check", format="podcast"),
    reject("content", "content_format_check", format="Text"),
    reject("behavioral_events", "behavioral_events_event_type_check", event_type="click"),
    reject("generation_status", "generation_status_status_check", status="cancelled"),
    reject(
        "user_preferences",
        "user_preferences_preferred_formats_check",
        preferred_formats=["podcast"],
    ),
    reject("content", "content_difficulty_check", difficulty=0),
    reject("content", "content_difficulty_check", difficulty=6),
    reject("learner_model_state", "learner_model_state_mastery_check", mastery=-0.01),
    reject("learner_model_state", "learner_model_state_mastery_check", mastery=1.01),
    reject("learner_model_state", "learner_model_state_mastery_check", mastery=float("nan")),
    reject("learner_model_state", "learner_model_state_confidence_check", confidence=-0.01),
    reject("learner_model_state", "learner_model_state_confidence_check", confidence=1.01),
    reject(
        "learner_model_state",
        "learner_model_state_interaction_count_check",
        interaction_count=-1,
    ),
    reject("behavioral_events", "behavioral_events_dwell_ms_check", dwell_ms=-1),
    reject("generation_status", "generation_status_attempts_check", attempts=-1),
    reject(
        "user_preferences", "user_preferences_preferred_difficulty_check", preferred_difficulty=0
    ),
    reject(
        "user_preferences", "user_preferences_preferred_difficulty_check", preferred_difficulty=6
    ),
    reject(
        "sessions",
        "sessions_ended_at_check",
        "ended_at<created_at",
        created_at=T0,
        last_active_at=T0,
        ended_at=T0 - SECOND,
    ),
    reject(
        "sessions",
        "sessions_last_active_at_check",
        "last_active_at<created_at",
        created_at=T0,
        last_active_at=T0 - SECOND,
    ),
    reject(
        "generation_status",
        "generation_status_started_at_check",
        "started<requested",
        requested_at=T0,
        started_at=T0 - SECOND,
    ),
    reject(
        "generation_status",
        "generation_status_finished_at_check",
        "finished<started",
        requested_at=T0,
        started_at=T0 + 60 * SECOND,
        finished_at=T0 + 30 * SECOND,
    ),
    reject(
        "generation_status",
        "generation_status_finished_at_check",
        "finished<requested_never_started",
        requested_at=T0,
        finished_at=T0 - SECOND,
    ),
    reject("generation_status", "generation_status_error_check", status="failed"),
    reject("generation_status", "generation_status_error_check", status="failed", error=""),
]


@pytest.mark.parametrize(("table", "overrides"), ACCEPTED)
def test_accepted(conn, table, overrides):
    row = insert(conn, table, **row_for(conn, table, **overrides))
    assert {column: row[column] for column in overrides} == overrides


@pytest.mark.parametrize(("table", "overrides", "constraint"), REJECTED)
def test_rejected_with_check_violation(conn, table, overrides, constraint):
    values = row_for(conn, table, **overrides)
    with rejected(conn, psycopg.errors.CheckViolation, constraint):
        insert(conn, table, **values)


# --- behaviour: uniqueness, references and delete rules --------------------------------


def like_row(conn: psycopg.Connection) -> dict[str, Any]:
    return {"session_id": new_session(conn), "content_id": new_content(conn)}


def job_with_content(conn: psycopg.Connection) -> dict[str, Any]:
    return {"topic": "algebra", "status": "completed", "content_id": new_content(conn)}


@pytest.mark.parametrize(
    ("table", "make_row", "constraint"),
    [
        pytest.param("like_engagement", like_row, "like_engagement_pkey", id="like twice"),
        pytest.param(
            "learner_model_state",
            MINIMAL_ROWS["learner_model_state"],
            "learner_model_state_pkey",
            id="model state twice per topic",
        ),
        pytest.param(
            "user_preferences",
            MINIMAL_ROWS["user_preferences"],
            "user_preferences_pkey",
            id="preferences twice per session",
        ),
        pytest.param(
            "generation_status",
            job_with_content,
            "generation_status_content_id_key",
            id="two jobs for one content item",
        ),
    ],
)
def test_duplicate_rejected(conn, table, make_row, constraint):
    values = make_row(conn)
    insert(conn, table, **values)
    with rejected(conn, psycopg.errors.UniqueViolation, constraint):
        insert(conn, table, **values)


def test_one_learner_may_like_many_items_and_one_item_many_learners(conn):
    learner, other = new_session(conn), new_session(conn)
    item, other_item = new_content(conn), new_content(conn)
    for session_id, content_id in [(learner, item), (learner, other_item), (other, item)]:
        insert(conn, "like_engagement", session_id=session_id, content_id=content_id)
    assert count(conn, "like_engagement", "content_id", item) == 2


def test_jobs_without_content_yet_are_not_duplicates(conn):
    for _ in range(3):
        insert(conn, "generation_status", topic="algebra")
    row = conn.execute("SELECT count(*) FROM generation_status WHERE content_id IS NULL")
    assert row.fetchone() == (3,)


@pytest.mark.parametrize("fk", FK_PARAMS)
def test_orphan_reference_rejected(conn, fk):
    values = row_for(conn, fk.table, **{fk.column: uuid.uuid4()})
    with rejected(conn, psycopg.errors.ForeignKeyViolation, fk.constraint):
        insert(conn, fk.table, **values)


SESSION_CHILDREN = (
    "behavioral_events",
    "like_engagement",
    "learner_model_state",
    "user_preferences",
)


def test_deleting_a_session_cascades_and_detaches_its_jobs(conn):
    gone, kept = new_session(conn), new_session(conn)
    item = new_content(conn)
    for session_id in (gone, kept):
        insert(conn, "behavioral_events", session_id=session_id, event_type="session_start")
        insert(conn, "behavioral_events", session_id=session_id, content_id=item, event_type="view")
        insert(conn, "like_engagement", session_id=session_id, content_id=item)
        insert(conn, "learner_model_state", session_id=session_id, topic="algebra")
        insert(conn, "user_preferences", session_id=session_id)
    job = insert(conn, "generation_status", topic="algebra", session_id=gone)["id"]

    conn.execute("DELETE FROM sessions WHERE id = %s", [gone])

    assert {t: count(conn, t, "session_id", gone) for t in SESSION_CHILDREN} == dict.fromkeys(
        SESSION_CHILDREN, 0
    )
    assert {t: count(conn, t, "session_id", kept) for t in SESSION_CHILDREN} == {
        "behavioral_events": 2,
        "like_engagement": 1,
        "learner_model_state": 1,
        "user_preferences": 1,
    }
    job_row = conn.execute("SELECT session_id FROM generation_status WHERE id = %s", [job])
    assert job_row.fetchone() == (None,)
    assert count(conn, "content", "id", item) == 1


def test_deleting_content_detaches_events_and_jobs_and_drops_its_likes(conn):
    learner = new_session(conn)
    gone, kept = new_content(conn), new_content(conn)
    event = insert(
        conn, "behavioral_events", session_id=learner, content_id=gone, event_type="complete"
    )["id"]
    insert(conn, "like_engagement", session_id=learner, content_id=gone)
    insert(conn, "like_engagement", session_id=learner, content_id=kept)
    job = insert(conn, "generation_status", topic="algebra", status="completed", content_id=gone)

    conn.execute("DELETE FROM content WHERE id = %s", [gone])

    event_row = conn.execute("SELECT content_id FROM behavioral_events WHERE id = %s", [event])
    assert event_row.fetchone() == (None,)
    job_row = conn.execute("SELECT content_id FROM generation_status WHERE id = %s", [job["id"]])
    assert job_row.fetchone() == (None,)
    assert count(conn, "like_engagement", "content_id", gone) == 0
    assert count(conn, "like_engagement", "content_id", kept) == 1
    assert count(conn, "sessions", "id", learner) == 1
