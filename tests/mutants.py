"""Mutants of the deployed learning schema: each breaks one promise the schema makes.

Used by tests/test_mutations.py (each mutant must make ``pytest --dbverify`` fail, naming
the broken object) and benchmarks/mutation_score.py (prints the kill rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

VERIFIER = "dbverify_verifier"

# The indexes SCHEMA.md lists (the query paths the app needs).
LISTED_INDEXES = (
    "content_topic_difficulty_idx",
    "content_created_at_idx",
    "behavioral_events_session_id_occurred_at_idx",
    "behavioral_events_content_id_idx",
    "like_engagement_content_id_idx",
    "generation_status_open_requested_at_idx",
    "sessions_last_active_at_idx",
)


@dataclass(frozen=True)
class Mutant:
    """One way to break the deployed schema, and the name a failure must mention."""

    id: str
    statements: tuple[sql.Composable, ...]
    names: tuple[str, ...]  # a failure must mention one of these

    def apply(self, conn: psycopg.Connection) -> None:
        """Break the database ``conn`` points at (autocommit, as its owner)."""
        for statement in self.statements:
            conn.execute(statement)


def _table(name: str) -> sql.Identifier:
    return sql.Identifier("public", name)


def mutants(conn: psycopg.Connection) -> list[Mutant]:
    """Return every mutant of the learning schema in the database ``conn`` points at."""
    found: list[Mutant] = []
    constraints = conn.execute(
        """
        SELECT con.conrelid::regclass::text, c.relname, con.conname, con.contype,
               pg_get_expr(con.conbin, con.conrelid),
               (SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = con.conrelid AND a.attnum = con.conkey[1])
          FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
         WHERE c.relnamespace = 'public'::regnamespace AND con.contype IN ('f', 'u', 'c')
           AND c.relname <> 'schema_migrations'
         ORDER BY 2, 3
        """
    ).fetchall()
    for _, table, name, kind, expression, first_column in constraints:
        drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            _table(table), sql.Identifier(name)
        )
        label = {"f": "fk", "u": "unique", "c": "check"}[kind]
        found.append(Mutant(f"drop-{label}-{name}", (drop,), (name,)))
        if kind == "c":
            # Same name, weaker rule: anything with a value in its first column passes.
            weaker = sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK (({}) OR {} IS NOT NULL)"
            ).format(
                _table(table),
                sql.Identifier(name),
                sql.SQL(expression),
                sql.Identifier(first_column),
            )
            found.append(Mutant(f"weaken-check-{name}", (drop, weaker), (name,)))
    not_nulls = conn.execute(
        """
        SELECT c.relname, a.attname
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
           AND c.relname <> 'schema_migrations' AND a.attnum > 0 AND a.attnotnull
           AND a.attidentity = '' AND NOT EXISTS (
               SELECT 1 FROM pg_constraint p
                WHERE p.conrelid = c.oid AND p.contype = 'p' AND a.attnum = ANY (p.conkey))
         ORDER BY 1, 2
        """
    ).fetchall()
    for table, column in not_nulls:
        statement = sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(
            _table(table), sql.Identifier(column)
        )
        found.append(
            Mutant(f"drop-not-null-{table}.{column}", (statement,), (f"{table}.{column}",))
        )
    for index in LISTED_INDEXES:
        statement = sql.SQL("DROP INDEX {}").format(sql.Identifier("public", index))
        found.append(Mutant(f"drop-index-{index}", (statement,), (index,)))
    found.extend(
        [
            Mutant(
                "disable-triggers-like_engagement",
                (sql.SQL("ALTER TABLE {} DISABLE TRIGGER ALL").format(_table("like_engagement")),),
                ("like_engagement",),
            ),
            Mutant(
                "trigger-drops-content-rows",
                (
                    sql.SQL(
                        "CREATE FUNCTION public.swallow() RETURNS trigger LANGUAGE plpgsql "
                        "AS $$ BEGIN RETURN NULL; END $$"
                    ),
                    sql.SQL(
                        "CREATE TRIGGER swallow BEFORE INSERT ON {} "
                        "FOR EACH ROW EXECUTE FUNCTION public.swallow()"
                    ).format(_table("content")),
                ),
                ("content",),
            ),
            Mutant(
                "rule-instead-nothing-user_preferences",
                (
                    sql.SQL(
                        "CREATE RULE ignore_inserts AS ON INSERT TO {} DO INSTEAD NOTHING"
                    ).format(_table("user_preferences")),
                ),
                ("user_preferences",),
            ),
            Mutant(
                "revoke-insert-learner_model_state",
                (
                    sql.SQL("REVOKE INSERT ON {} FROM {}").format(
                        _table("learner_model_state"), sql.Identifier(VERIFIER)
                    ),
                ),
                ("learner_model_state",),
            ),
        ]
    )
    return found


def grant_verifier(conn: psycopg.Connection) -> None:
    """Create the non-superuser role the verification runs as, with the rights it needs."""
    conn.execute(
        sql.SQL(
            "DO $$ BEGIN CREATE ROLE {role} LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ).format(role=sql.Identifier(VERIFIER))
    )
    for statement in (
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ):
        conn.execute(sql.SQL(statement).format(role=sql.Identifier(VERIFIER)))
