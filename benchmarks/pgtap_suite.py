"""Generate a pgTAP suite equivalent to the plugin's checks, install pgTAP, run pg_prove.

Usage: python benchmarks/pgtap_suite.py CONNINFO OUT_DIR [--layout table|single] [--run]

The peer of ``pytest --dbverify`` at equal work, generated from a database's own catalog
(any schema; the benchmark uses it on the learning schema and the synthetic ones):

* structure: ``has_table``, ``has_pk``, ``col_not_null`` per NOT NULL column, ``fk_ok``
  per foreign key, ``has_index`` per index;
* behaviour, one example each: ``lives_ok`` for insert, update and delete of a generated
  row plus ``isnt_empty`` to read it back (CRUD); ``throws_ok`` 23503 for a row whose
  foreign key points at a missing parent; ``throws_ok`` 23505 for a duplicate of each
  primary key, unique constraint and unique index; ``throws_ok`` 23514 for a row
  violating each CHECK constraint.

Rows need values that satisfy every constraint, and violations need values that break
exactly one. Both are found by trial at generation time (not timed): literal candidates
per column type (and the string literals of the table's CHECKs) are tried, in rolled-back
transactions against the database, until an insert succeeds or fails with the expected
SQLSTATE and constraint name. A test that cannot be made is left out and counted in
``Suite.skipped``. Parents are inserted as fixtures, each test with its own seed so the
tests of one file do not collide; every file runs in a transaction that is rolled back.

pgTAP comes from Debian (``postgresql-<major>-pgtap``, ``pg_prove`` from
``libtap-parser-sourcehandler-pgtap-perl``); :func:`ensure_packages` installs them with
apt-get when missing. pgTAP is plain SQL: ``CREATE EXTENSION pgtap`` works on the system
server whose package is installed; a server without the extension files (the embedded
PostgreSQL 18 wheel) gets the same script run directly (:func:`install_pgtap`).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

PACKAGES = ("postgresql-{major}-pgtap", "libtap-parser-sourcehandler-pgtap-perl")
_EXTENSION_DIRS = sorted(Path("/usr/share/postgresql").glob("*/extension"), reverse=True)
_MAX_TRIALS = 300
TAP_SCHEMA = "tap"  # pgTAP's functions live here, out of the verified schemas
_MAX_SEED = 100_000  # every seed up to this makes a valid row (checked)

# --- catalog -----------------------------------------------------------------------

_TABLES = """
SELECT c.oid, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY(%s)
   AND c.relname <> ALL(%s)
 ORDER BY n.nspname, c.relname
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef, a.attidentity, a.attgenerated,
       coalesce(bt.typcategory, t.typcategory), coalesce(bt.typname, t.typname),
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e
              WHERE e.enumtypid = coalesce(bt.oid, t.oid) ORDER BY e.enumsortorder)
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
 WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
"""
_CONSTRAINTS = """
SELECT con.conrelid, con.conname, con.contype, con.confrelid,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
       pg_get_constraintdef(con.oid)
  FROM pg_constraint con
 WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'f', 'c')
 ORDER BY con.conrelid, con.conname
"""
_INDEXES = """
SELECT i.indrelid, ic.relname, i.indisunique,
       NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid),
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),
       i.indnkeyatts, i.indexprs IS NOT NULL
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
 WHERE i.indrelid = ANY(%s)
 ORDER BY i.indrelid, ic.relname
"""


@dataclass
class Column:
    """One column, with its base type's category (pg_type.typcategory)."""

    name: str
    type: str
    not_null: bool
    has_default: bool
    identity: str
    generated: str
    category: str
    base: str
    labels: list[str]


@dataclass
class Constraint:
    """A key, unique, foreign-key or check constraint, or a unique index (kind "i")."""

    name: str
    kind: str  # p, u, f, c; unique indexes without a constraint are kind "i"
    columns: list[str]
    parent: int = 0
    parent_columns: list[str] = field(default_factory=list)
    definition: str = ""


@dataclass
class Table:
    """A table and what the suite tests on it."""

    oid: int
    schema: str
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        """Return the quoted, schema-qualified name."""
        return f"{ident(self.schema)}.{ident(self.name)}"

    def of_kind(self, *kinds: str) -> list[Constraint]:
        """Return the constraints of these kinds."""
        return [c for c in self.constraints if c.kind in kinds]


def ident(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote a string literal."""
    return "'" + text.replace("'", "''") + "'"


def load_tables(
    conn: psycopg.Connection, schemas: Sequence[str], exclude: Sequence[str]
) -> dict[int, Table]:
    """Read the tables, columns, constraints and indexes of ``schemas``."""
    tables = {
        oid: Table(oid, schema, name)
        for oid, schema, name in conn.execute(_TABLES, [list(schemas), list(exclude)])
    }
    oids = list(tables)
    for row in conn.execute(_COLUMNS, [oids]):
        tables[row[0]].columns[row[1]] = Column(*row[1:])
    for oid, name, kind, parent, cols, pcols, definition in conn.execute(_CONSTRAINTS, [oids]):
        tables[oid].constraints.append(Constraint(name, kind, cols, parent, pcols, definition))
    for oid, name, unique, own, cols, nkeys, has_exprs in conn.execute(_INDEXES, [oids]):
        tables[oid].indexes.append(name)
        if unique and own and not has_exprs:
            tables[oid].constraints.append(Constraint(name, "i", cols[:nkeys]))
    return tables


# --- values and rows -----------------------------------------------------------------

_STRING_LITERAL = re.compile(r"'((?:[^']|'')*)'::")


def candidates(column: Column, table: Table) -> list[str]:
    """Return value templates for ``column`` ({s} is the row's seed), first the likeliest."""
    c, base = column.category, column.base
    if column.labels:
        return [f"{_escape(literal(label))}::{column.type}" for label in column.labels]
    if c == "N":
        found = ["{s}", "1", "0", "5", "10", "100"]
    elif c == "S":
        quoted = [m.group(1).replace("''", "'") for c in table.of_kind("c")
                  for m in _STRING_LITERAL.finditer(c.definition)]  # fmt: skip
        found = ["'v{s}'", *dict.fromkeys(_escape(literal(q)) for q in quoted if q), "'x'"]
    elif c == "B":
        found = ["true", "false"]
    elif c == "D":
        found = ["'2026-01-01 00:00:00+00'::timestamptz + {s} * interval '1 second'", "now()"]
    elif c == "T":
        found = ["'{s} seconds'"]
    elif base == "uuid":
        found = ["'00000000-0000-4000-8000-{s:012d}'"]
    elif base in ("json", "jsonb"):
        found = ["'{{}}'", "'[]'"]
    elif c == "A":
        found = ["'{{}}'"]
    elif c == "I":
        found = ["'10.0.0.{s}'", "'127.0.0.1'"]
    else:
        found = ["'{s}'", "'x'", "'{{}}'"]
    return [f"({value})::{column.type}" for value in found]


def _escape(text: str) -> str:
    """Escape braces: value templates go through str.format."""
    return text.replace("{", "{{").replace("}", "}}")


def violations(column: Column, definition: str = "") -> list[str]:
    """Return values likely to break a CHECK (``definition``) on ``column``."""
    c = column.category
    if c == "S":  # a literal the check names may be what it forbids ('failed' without error)
        quoted = [m.group(1).replace("''", "'") for m in _STRING_LITERAL.finditer(definition)]
        found = ["''", "'zzz_not_allowed'", "repeat('x', 1000)", *map(literal, quoted)]
    elif c == "N":
        found = ["-1", "0", "-1000000", "1000000", "11", "101", "6"]
    elif c == "B":
        found = ["false", "true"]
    elif c == "D":
        found = ["'1900-01-01 00:00:00+00'::timestamptz", "'2999-01-01 00:00:00+00'::timestamptz"]
    elif c == "A":
        found = ["'{zzz_not_allowed}'"]
    else:
        found = ["NULL"]
    return [f"({value})::{column.type}" for value in found] + ["NULL"]


@dataclass
class Template:
    """How to build a valid row of one table for any seed."""

    table: Table
    values: dict[str, str]  # column -> value template, for columns given explicitly
    parents: dict[str, tuple[int, str]]  # column -> (parent table oid, parent column)

    def row(self, seed: int, templates: dict[int, Template]) -> dict[str, str]:
        """Return the column -> SQL value of the row with ``seed``."""
        row = {col: value.format(s=seed) for col, value in self.values.items()}
        for col, (parent, parent_col) in self.parents.items():
            row[col] = templates[parent].row(seed, templates)[parent_col]
        return row


def insert_sql(table: Table, row: dict[str, str]) -> str:
    """Return the INSERT of ``row`` (identity columns given explicitly)."""
    if not row:
        return f"INSERT INTO {table.qualified} DEFAULT VALUES"
    cols = ", ".join(ident(c) for c in row)
    overriding = (
        " OVERRIDING SYSTEM VALUE" if any(table.columns[c].identity == "a" for c in row) else ""
    )
    return f"INSERT INTO {table.qualified} ({cols}){overriding} VALUES ({', '.join(row.values())})"


def where_sql(row: dict[str, str], columns: Sequence[str]) -> str:
    """Return a WHERE clause matching ``row`` on ``columns``."""
    return " AND ".join(f"{ident(c)} = {row[c]}" for c in columns) or "true"


class SuiteBuilder:
    """Finds row templates and violating values by trial against one database."""

    def __init__(self, conn: psycopg.Connection, tables: dict[int, Table]) -> None:
        self.conn = conn
        self.tables = tables
        self.templates: dict[int, Template] = {}
        self.failed: set[int] = set()

    # fixtures ------------------------------------------------------------------

    def ancestors(self, oid: int, seen: set[int] | None = None) -> list[int]:
        """Return the tables whose rows a row of ``oid`` needs, parents first."""
        seen = set() if seen is None else seen
        order: list[int] = []
        for parent, _ in self.templates[oid].parents.values():
            if parent not in seen:
                seen.add(parent)
                order += [*self.ancestors(parent, seen), parent]
        return order

    def fixture(self, oid: int, seed: int) -> list[str]:
        """Return the inserts of the parents a row of ``oid`` with ``seed`` needs."""
        return [
            insert_sql(self.tables[p], self.templates[p].row(seed, self.templates))
            for p in self.ancestors(oid)
        ]

    def outcome(self, statements: Sequence[str]) -> tuple[str | None, str | None]:
        """Run ``statements`` in a rolled-back transaction; return (sqlstate, constraint)."""
        try:
            with self.conn.transaction(force_rollback=True):
                for statement in statements:
                    self.conn.execute(statement)
        except psycopg.Error as err:
            return err.sqlstate, err.diag.constraint_name
        return None, None

    # templates -----------------------------------------------------------------

    def build(self, oid: int, visiting: frozenset[int] = frozenset()) -> Template | None:
        """Find a template for ``oid`` (after its parents'), or None."""
        if oid in self.templates:
            return self.templates[oid]
        if oid in self.failed:
            return None
        table = self.tables[oid]
        parents: dict[str, tuple[int, str]] = {}
        for fk in table.of_kind("f"):
            if fk.parent == oid or fk.parent in visiting or fk.parent not in self.tables:
                if all(not table.columns[c].not_null for c in fk.columns):
                    continue  # a cycle or outside parent: leave the nullable key NULL
                self.failed.add(oid)
                return None
            if self.build(fk.parent, visiting | {oid}) is None:
                self.failed.add(oid)
                return None
            links = ((fk.parent, pc) for pc in fk.parent_columns)
            parents.update(zip(fk.columns, links, strict=True))
        keyed = {c for k in table.of_kind("p", "u", "i") for c in k.columns}
        wanted = [
            col for col in table.columns.values()
            if col.name not in parents and not col.generated
            and ((col.not_null and not col.has_default and not col.identity) or col.name in keyed)
        ]  # fmt: skip
        options = {col.name: self._castable(candidates(col, table)) for col in wanted}
        choice = dict.fromkeys(options, 0)
        for _ in range(_MAX_TRIALS):
            template = Template(
                table, {c: options[c][i] for c, i in choice.items() if options[c]}, parents
            )
            self.templates[oid] = template
            # Seeds up to _MAX_SEED must all work, together: tests use one seed each.
            seeds = (1, 2, _MAX_SEED)
            state, constraint = self.outcome(
                [s for seed in seeds for s in self.fixture(oid, seed)]
                + [insert_sql(table, template.row(seed, self.templates)) for seed in seeds]
            )
            del self.templates[oid]
            if state is None:
                self.templates[oid] = template
                return template
            if not self._advance(table, choice, options, constraint):
                break
        self.failed.add(oid)
        return None

    def _castable(self, values: list[str]) -> list[str]:
        seeds = (1, _MAX_SEED, 10 * _MAX_SEED)  # 10x: the missing parents of orphan tests
        return [
            v
            for v in values
            if all(self.outcome([f"SELECT {v.format(s=s)}"])[0] is None for s in seeds)
        ]

    @staticmethod
    def _advance(
        table: Table, choice: dict[str, int], options: dict[str, list[str]], constraint: str | None
    ) -> bool:
        """Step the choices of the columns of the failed constraint, like an odometer."""
        named = [c for c in table.constraints if c.name == constraint]
        cols = [c for c in (named[0].columns if named else choice) if c in choice]
        if not cols and named and named[0].kind == "c":  # a CHECK on columns we leave out
            cols = [c for c in choice if c in named[0].definition]
        for col in cols or list(choice):
            choice[col] += 1
            if choice[col] < len(options[col]):
                return True
            choice[col] = 0
        return False

    # tests ---------------------------------------------------------------------

    def violating_row(self, oid: int, check: Constraint, seed: int) -> dict[str, str] | None:
        """Return a row of ``oid`` that breaks exactly ``check``, or None."""
        table = self.tables[oid]
        base = self.templates[oid].row(seed, self.templates)
        cols = [c for c in table.columns if re.search(rf"\b{re.escape(c)}\b", check.definition)]
        cols = [c for c in cols if not table.columns[c].generated] or check.columns
        options = [violations(table.columns[c], check.definition) for c in cols]
        fixture = self.fixture(oid, seed)
        for combo in itertools.islice(itertools.product(*options), 60):
            row = {**base, **dict(zip(cols, combo, strict=True))}
            state, name = self.outcome([*fixture, insert_sql(table, row)])
            if state == "23514" and name == check.name:
                return row
        return None


@dataclass
class Suite:
    """The generated test files and what could not be generated."""

    files: list[Path]
    tests: int
    skipped: list[str]


class _Seeds:
    def __init__(self) -> None:
        self._next = itertools.count(1)

    def __call__(self) -> int:
        seed = next(self._next)
        if seed > _MAX_SEED:
            raise RuntimeError(f"a table needs more than {_MAX_SEED} seeds: raise _MAX_SEED")
        return seed


def table_tests(
    builder: SuiteBuilder, table: Table, skipped: list[str], seed: _Seeds
) -> Iterator[str]:
    """Yield the SQL of the tests (and their fixtures) of one table."""
    t, s, n = table.qualified, literal(table.schema), literal(table.name)
    yield f"SELECT has_table({s}, {n}, {literal(f'table {table.name}')});"
    if table.of_kind("p"):
        yield f"SELECT has_pk({s}, {n}, {literal(f'{table.name} has a primary key')});"
    for col in table.columns.values():
        if col.not_null:
            desc = literal(f"{table.name}.{col.name} NOT NULL")
            yield f"SELECT col_not_null({s}, {n}, {literal(col.name)}, {desc});"
    for fk in table.of_kind("f"):
        parent = builder.tables.get(fk.parent)
        if parent is None:
            continue
        yield (
            f"SELECT fk_ok({s}, {n}, {_names(fk.columns)}, {literal(parent.schema)}, "
            f"{literal(parent.name)}, {_names(fk.parent_columns)}, {literal(fk.name)});"
        )
    for index in table.indexes:
        yield f"SELECT has_index({s}, {n}, {literal(index)}, {literal(f'index {index}')});"
    template = builder.build(table.oid)
    if template is None:
        skipped.append(f"{table.name}: no valid row found (CRUD and violation tests left out)")
        return
    # CRUD: insert, read back, update, delete one row.
    k = seed()
    row = template.row(k, builder.templates)
    yield from (f"{statement};" for statement in builder.fixture(table.oid, k))
    match = where_sql(row, _match_columns(table, row))
    yield _lives(insert_sql(table, row), f"{table.name}: insert")
    yield (f"SELECT isnt_empty({_dollar(f'SELECT 1 FROM {t} WHERE {match}')}, "
           f"{literal(f'{table.name}: read back')});")  # fmt: skip
    updatable = [c for c in table.columns.values() if c.identity != "a" and not c.generated]
    if updatable:
        setter = f"{ident(updatable[0].name)} = {ident(updatable[0].name)}"
        yield _lives(f"UPDATE {t} SET {setter} WHERE {match}", f"{table.name}: update")
    yield _lives(f"DELETE FROM {t} WHERE {match}", f"{table.name}: delete")
    # Orphans: each foreign key pointing at a parent that does not exist.
    for fk in table.of_kind("f"):
        if fk.parent not in builder.templates or not set(fk.columns) <= set(template.parents):
            continue
        k = seed()
        missing = builder.templates[fk.parent].row(10 * _MAX_SEED - k, builder.templates)
        pairs = zip(fk.columns, fk.parent_columns, strict=True)
        orphan = {**template.row(k, builder.templates), **{c: missing[p] for c, p in pairs}}
        fixture = builder.fixture(table.oid, k)
        if builder.outcome([*fixture, insert_sql(table, orphan)]) != ("23503", fk.name):
            skipped.append(f"{fk.name}: no orphan found that this key alone rejects")
            continue
        yield from (f"{statement};" for statement in fixture)
        yield _throws(insert_sql(table, orphan), "23503", f"{fk.name}: orphan rejected")
    # Duplicates: each key, unique constraint and unique index.
    for key in table.of_kind("p", "u", "i"):
        a, b = seed(), seed()
        first_row = template.row(a, builder.templates)
        dup = {**template.row(b, builder.templates), **{c: first_row[c] for c in key.columns}}
        setup = [*builder.fixture(table.oid, a), *builder.fixture(table.oid, b),
                 insert_sql(table, first_row)]  # fmt: skip
        state, name = builder.outcome([*setup, insert_sql(table, dup)])
        if state != "23505" or name != key.name:
            skipped.append(f"{key.name}: no duplicate found that this key alone rejects")
            continue
        yield from (f"{statement};" for statement in setup)
        yield _throws(insert_sql(table, dup), "23505", f"{key.name}: duplicate rejected")
    # Checks: a row violating each CHECK.
    for check in table.of_kind("c"):
        k = seed()
        bad = builder.violating_row(table.oid, check, k)
        if bad is None:
            skipped.append(f"{check.name}: no violating row found")
            continue
        yield from (f"{statement};" for statement in builder.fixture(table.oid, k))
        yield _throws(insert_sql(table, bad), "23514", f"{check.name}: violation rejected")


def _match_columns(table: Table, row: dict[str, str]) -> list[str]:
    """Return the columns that find ``row`` again: its key, else its comparable columns."""
    for key in table.of_kind("p", "u", "i"):
        if set(key.columns) <= set(row):
            return key.columns
    return [c for c in row if table.columns[c].base not in ("json", "xml", "point")]


def _names(columns: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(literal(c) for c in columns) + "]::name[]"


def _dollar(text: str) -> str:
    return f"$sql${text}$sql$"


def _lives(statement: str, description: str) -> str:
    return f"SELECT lives_ok({_dollar(statement)}, {literal(description)});"


def _throws(statement: str, code: str, description: str) -> str:
    return f"SELECT throws_ok({_dollar(statement)}, '{code}', NULL, {literal(description)});"


def _file(tests: list[str]) -> str:
    count = sum(1 for line in tests if line.startswith("SELECT "))
    return "\n".join(
        [
            f"SET search_path TO {TAP_SCHEMA}, public;",
            "BEGIN;",
            f"SELECT plan({count});",
            *tests,
            "SELECT * FROM finish();",
            "ROLLBACK;",
            "",
        ]
    )


def generate(
    conninfo: str,
    out_dir: Path,
    *,
    schemas: Sequence[str] = ("public",),
    exclude: Sequence[str] = ("schema_migrations",),
    layout: str = "table",
) -> Suite:
    """Write the suite for the database at ``conninfo`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.sql"):
        old.unlink()
    skipped: list[str] = []
    files: list[Path] = []
    all_tests: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = load_tables(conn, schemas, exclude)
        builder = SuiteBuilder(conn, tables)
        shared = _Seeds()  # one file: seeds unique across tables
        for table in tables.values():
            seeds = shared if layout == "single" else _Seeds()
            tests = list(table_tests(builder, table, skipped, seeds))
            if layout == "single":
                all_tests += tests
                continue
            path = out_dir / f"{len(files):04d}_{table.name}.sql"
            path.write_text(_file(tests))
            files.append(path)
    if layout == "single":
        path = out_dir / "suite.sql"
        path.write_text(_file(all_tests))
        files.append(path)
    plans = (re.search(r"plan\((\d+)\)", f.read_text()) for f in files)
    return Suite(files, sum(int(m[1]) for m in plans if m), skipped)


# --- installing and running pgTAP ------------------------------------------------------


def ensure_packages(server_major: int = 15) -> None:
    """Install pgTAP and pg_prove with apt-get when either is missing (needs root)."""
    control = Path(f"/usr/share/postgresql/{server_major}/extension/pgtap.control")
    if shutil.which("pg_prove") and control.is_file():
        return
    packages = [p.format(major=server_major) for p in PACKAGES]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"pgtap_suite: pgTAP or pg_prove is missing: install {' '.join(packages)} "
                 "(Debian: sudo apt-get install ...)")  # fmt: skip
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *packages]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.exit(f"pgtap_suite: apt-get install {' '.join(packages)} failed: "
                     f"{result.stderr.strip().splitlines()[-1:]}")  # fmt: skip


def install_pgtap(conninfo: str) -> str:
    """Make pgTAP available in the database (schema ``tap``); return how it was installed."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {TAP_SCHEMA}")
        try:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS pgtap SCHEMA {TAP_SCHEMA}")
            return "extension"
        except psycopg.errors.FeatureNotSupported:
            pass  # no control file on this server (the embedded wheel): run the script
        except psycopg.errors.UndefinedFile:
            pass
        scripts = [s for d in _EXTENSION_DIRS for s in d.glob("pgtap--[0-9]*.[0-9]*.[0-9]*.sql")
                   if "--" not in s.name[len("pgtap--"):]]  # fmt: skip
        if not scripts:
            raise RuntimeError("no pgTAP script found: install postgresql-15-pgtap")
        script = max(scripts, key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)])
        text = "\n".join(
            line for line in script.read_text().splitlines() if not line.startswith("\\")
        ).replace("@extschema@", TAP_SCHEMA)
        if conn.execute(f"SELECT to_regproc('{TAP_SCHEMA}.plan') IS NULL").fetchone()[0]:  # type: ignore[index]
            conn.execute(f"SET search_path TO {TAP_SCHEMA}")
            conn.execute(text.encode())
            conn.execute("RESET search_path")
        return f"script {script.name}"


@dataclass
class ProveResult:
    """One pg_prove run."""

    seconds: float
    ok: bool
    summary: str


def run_pg_prove(
    host: str, port: int, dbname: str, files: Sequence[Path], jobs: int = 1
) -> ProveResult:
    """Run ``pg_prove`` on ``files``; return its wall time and verdict."""
    command = ["pg_prove", "-h", host, "-p", str(port), "-U", "postgres", "-d", dbname,
               "-j", str(jobs), *map(str, files)]  # fmt: skip
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if line.startswith(("Result", "Files="))), "")
    failed = [line for line in lines if "Failed" in line or "not ok" in line][:5]
    return ProveResult(seconds, result.returncode == 0, "; ".join([summary, *failed]))


def main() -> None:
    """Generate the suite, and with --run install pgTAP and run pg_prove."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conninfo", help="the database (its catalog and, with --run, the target)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--layout", choices=("table", "single"), default="table",
                        help="one file per table (default) or one file")  # fmt: skip
    parser.add_argument("--run", action="store_true", help="install pgTAP and run pg_prove")
    args = parser.parse_args()
    suite = generate(args.conninfo, args.out_dir, layout=args.layout)
    print(f"{suite.tests} tests in {len(suite.files)} files under {args.out_dir}")
    for line in suite.skipped:
        print(f"  not generated: {line}")
    if args.run:
        ensure_packages()
        print(f"pgTAP installed as {install_pgtap(args.conninfo)}")
        params = psycopg.conninfo.conninfo_to_dict(args.conninfo)
        host, port = str(params.get("host", "localhost")), int(str(params.get("port", 5432)))
        result = run_pg_prove(host, port, str(params.get("dbname", "postgres")), suite.files)
        verdict = "ok" if result.ok else "FAILED"
        print(f"pg_prove: {result.seconds:.2f} s, {verdict}: {result.summary}")


if __name__ == "__main__":
    main()
