"""Production-like data for the learning schema, generated inside the server.

``fill(conn)`` loads sessions, content, behavioral_events, likes, learner model state,
preferences and generation jobs with ``INSERT ... SELECT generate_series``: 100k events
load in about a second. Values are derived from the row number (uuids from md5), so two
fills of the same size are identical. ``fingerprint(conn)`` hashes every table's rows in
order; ``objects(conn)`` lists the database's objects, for "nothing lost, nothing left".

Runnable by hand: ``python -m tests.learning_data URL [--events N]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

TOPICS = ("algebra", "biology", "chemistry", "history", "music", "physics", "poetry", "rust")
FORMATS = ("text", "quiz", "video", "image", "audio")
EVENT_TYPES = ("impression", "view", "dwell", "skip", "complete", "answer", "share")
STATUSES = ("queued", "generating", "completed", "failed")


@dataclass(frozen=True)
class Sizes:
    """How many rows of each kind to generate."""

    sessions: int = 1_000
    content: int = 10_000
    events: int = 100_000
    likes: int = 20_000
    model_states: int = 4_000
    preferences: int = 800
    jobs: int = 12_000


def _array(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{value}'" for value in values) + "]"


def _pick(values: tuple[str, ...], index: str) -> str:
    """SQL for values[index % len] (1-based arrays)."""
    return f"({_array(values)})[1 + ({index}) % {len(values)}]"


def statements(sizes: Sizes) -> list[str]:
    """Return the INSERT ... SELECT statements that fill the schema, parents first."""
    s, c = sizes.sessions, sizes.content
    session = "md5('s' || (({i}) % " + str(s) + "))::uuid"
    content = "md5('c' || (({i}) % " + str(c) + "))::uuid"
    base = "timestamptz '2026-01-01 00:00:00+00'"
    return [
        f"""INSERT INTO sessions (id, created_at, last_active_at, ended_at, client_info)
        SELECT md5('s' || i)::uuid, {base} + i * interval '1 minute',
               {base} + i * interval '1 minute' + interval '3 days',
               CASE WHEN i % 4 = 0 THEN {base} + i * interval '1 minute' + interval '5 days' END,
               jsonb_build_object('ua', 'browser-' || i % 7, 'tz', 'UTC')
        FROM generate_series(0, {s - 1}) AS i""",
        f"""INSERT INTO content (id, topic, title, format, difficulty, body, model, created_at)
        SELECT md5('c' || i)::uuid, {_pick(TOPICS, "i")}, 'Item ' || i,
               {_pick(FORMATS, "i / 3")}, 1 + i % 5,
               jsonb_build_object('text', repeat('lorem ', 1 + i % 20), 'n', i),
               'gen-' || i % 3, {base} + i * interval '10 seconds'
        FROM generate_series(0, {c - 1}) AS i""",
        f"""INSERT INTO behavioral_events (session_id, content_id, event_type, occurred_at,
                                        dwell_ms, payload)
        SELECT {session.format(i="i")},
               CASE WHEN i % 10 = 0 THEN NULL ELSE {content.format(i="i * 7")} END,
               {_pick(EVENT_TYPES, "i")}, {base} + i * interval '1 second',
               CASE WHEN i % 3 = 0 THEN (i * 37) % 60000 END,
               jsonb_build_object('seq', i)
        FROM generate_series(0, {sizes.events - 1}) AS i""",
        # Distinct (session, content) pairs: content advances by one per row within a session.
        f"""INSERT INTO like_engagement (session_id, content_id, created_at)
        SELECT {session.format(i="i")}, md5('c' || ((i / {s}) % {c}))::uuid,
               {base} + i * interval '2 seconds'
        FROM generate_series(0, {min(sizes.likes, s * c) - 1}) AS i""",
        f"""INSERT INTO learner_model_state (session_id, topic, mastery, confidence,
                                          interaction_count, state, updated_at)
        SELECT {session.format(i="i")}, {_pick(TOPICS, f"i / {s}")}, (i % 101) / 100.0,
               (i % 53) / 52.0, i % 40, jsonb_build_object('alpha', i % 9),
               {base} + i * interval '1 minute'
        FROM generate_series(0, {min(sizes.model_states, s * len(TOPICS)) - 1}) AS i""",
        f"""INSERT INTO user_preferences (session_id, preferred_topics, preferred_formats,
                                       preferred_difficulty, settings)
        SELECT md5('s' || i)::uuid, ARRAY[{_pick(TOPICS, "i")}], ARRAY[{_pick(FORMATS, "i")}],
               CASE WHEN i % 6 = 0 THEN NULL ELSE 1 + i % 5 END, '{{"autoplay": false}}'
        FROM generate_series(0, {min(sizes.preferences, s) - 1}) AS i""",
        f"""INSERT INTO generation_status (id, topic, status, attempts, error, content_id,
                                        session_id, requested_at, started_at, finished_at)
        SELECT md5('j' || i)::uuid, {_pick(TOPICS, "i")}, {_pick(STATUSES, "i")}, i % 4,
               CASE WHEN i % 4 = 3 THEN 'model timeout' END,
               CASE WHEN i % 4 = 2 AND i / 4 < {c} THEN md5('c' || (i / 4))::uuid END,
               {session.format(i="i")}, {base} + i * interval '5 seconds',
               CASE WHEN i % 4 > 0 THEN {base} + i * interval '5 seconds' + interval '1 s' END,
               CASE WHEN i % 4 > 1 THEN {base} + i * interval '5 seconds' + interval '9 s' END
        FROM generate_series(0, {sizes.jobs - 1}) AS i""",
    ]


def fill(conn: psycopg.Connection, sizes: Sizes = Sizes()) -> dict[str, int]:
    """Fill the learning schema on ``conn`` and commit; return the row count per table."""
    with conn.transaction():
        for statement in statements(sizes):
            conn.execute(statement)  # type: ignore[arg-type]  # built from constants
    conn.execute("ANALYZE")
    return row_counts(conn)


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Return the number of rows of every table in public."""
    counts = {}
    for table in tables(conn):
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counts[table] = row.fetchone()[0]  # type: ignore[index]
    return counts


def tables(conn: psycopg.Connection) -> list[str]:
    """Return the tables of schema public, by name."""
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind IN ('r', 'p') ORDER BY relname"
    )
    return [row[0] for row in rows]


def fingerprint(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Return (row count, md5 of the rows in order) for every table in public."""
    result = {}
    for table in tables(conn):
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                "FROM {} AS t"
            ).format(sql.Identifier(table))
        ).fetchone()
        assert row is not None
        result[table] = (row[0], row[1])
    return result


def objects(conn: psycopg.Connection) -> set[tuple[str, ...]]:
    """Return the database's own objects: relations, types, functions, constraints, schemas."""
    query = """
        SELECT 'relation', n.nspname, c.relname, c.relkind::text FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
        UNION ALL SELECT 'type', n.nspname, t.typname, t.typtype::text FROM pg_type t
          JOIN pg_namespace n ON n.oid = t.typnamespace
        UNION ALL SELECT 'function', n.nspname, p.proname, p.oid::regprocedure::text
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        UNION ALL SELECT 'constraint', conrelid::regclass::text, conname, contype::text
          FROM pg_constraint
        UNION ALL SELECT 'schema', nspname, '', '' FROM pg_namespace
    """
    return {tuple(row) for row in conn.execute(query)}


def sequences(conn: psycopg.Connection) -> dict[str, int | None]:
    """Return the last value of every sequence (identity columns included)."""
    rows = conn.execute("SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences")
    return {row[0]: row[1] for row in rows}


def main() -> None:
    """Fill the database at URL (already migrated) and print the counts and time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--events", type=int, default=Sizes.events)
    args = parser.parse_args()
    began = time.perf_counter()
    with psycopg.connect(args.url, autocommit=True) as conn:
        counts = fill(conn, Sizes(events=args.events))
    print(f"filled in {time.perf_counter() - began:.2f}s: {counts}")


if __name__ == "__main__":
    main()
