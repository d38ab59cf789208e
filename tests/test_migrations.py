"""The migration history: files well formed, up/rollback/up clean, schema.sql in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_dbverify.errors import MigrationError
from tests.conftest import MIGRATIONS_DIR, ROOT, Database

MIGRATION_FILES = sorted(MIGRATIONS_DIR.glob("*.sql"))
SCHEMA_FILE = ROOT / "db" / "schema.sql"

# Everything in schema public that is not dbmate's own bookkeeping.
OUR_OBJECTS = """
SELECT c.relkind::text, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relname NOT IN ('schema_migrations', 'schema_migrations_pkey')
UNION ALL
SELECT 'type', t.typname
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0
UNION ALL
SELECT 'function', p.proname
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public'
"""


def normalized_dump(sql: str) -> list[str]:
    """Keep the statements of a pg_dump, dropping what varies by pg_dump version and run."""
    kept = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("--", "\\restrict", "\\unrestrict", "SET ")):
            continue
        if stripped.startswith("SELECT pg_catalog.set_config('search_path'"):
            continue
        kept.append(line.rstrip())
    return kept


def test_there_is_a_history_of_several_migrations() -> None:
    assert len(MIGRATION_FILES) >= 4
    assert all(re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", path.name) for path in MIGRATION_FILES)


@pytest.mark.parametrize("path", MIGRATION_FILES, ids=lambda path: path.stem)
def test_every_migration_has_unindented_up_and_down_sections(path: Path) -> None:
    lines = path.read_text().splitlines()
    assert lines.count("-- migrate:up") == 1
    assert lines.count("-- migrate:down") == 1
    down = lines[lines.index("-- migrate:down") + 1 :]
    statements = [line for line in down if line.strip() and not line.startswith("--")]
    assert statements, f"{path.name}: the down section is empty"
    assert lines.index("-- migrate:up") < lines.index("-- migrate:down")


def test_rollback_all_the_way_down_leaves_nothing_of_ours(empty_db: Database) -> None:
    dbmate = empty_db.dbmate()
    dbmate.up()
    with empty_db.connect() as conn:
        assert len(conn.execute(OUR_OBJECTS).fetchall()) > 7
    for _ in MIGRATION_FILES:
        dbmate.rollback()
    with empty_db.connect() as conn:
        assert conn.execute(OUR_OBJECTS).fetchall() == []
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)
    with pytest.raises(MigrationError, match="no migrations have been applied"):
        dbmate.rollback()


def test_up_after_a_full_rollback_gives_the_same_schema(empty_db: Database, tmp_path: Path) -> None:
    dbmate = empty_db.dbmate()
    dbmate.up()
    first = dbmate.dump(tmp_path / "first.sql").read_text()
    for _ in MIGRATION_FILES:
        dbmate.rollback()
    dbmate.up()
    again = dbmate.dump(tmp_path / "again.sql").read_text()
    assert normalized_dump(again) == normalized_dump(first)


def test_schema_sql_matches_a_fresh_dump(empty_db: Database, tmp_path: Path) -> None:
    dbmate = empty_db.dbmate()
    dbmate.up()
    fresh = dbmate.dump(tmp_path / "schema.sql").read_text()
    assert normalized_dump(SCHEMA_FILE.read_text()) == normalized_dump(fresh)


def test_schema_sql_records_every_migration_version() -> None:
    recorded = re.findall(r"\('(\d{14})'\)", SCHEMA_FILE.read_text())
    assert recorded == [path.name.split("_")[0] for path in MIGRATION_FILES]
