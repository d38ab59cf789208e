"""Count the CHECKs the expression parser understands, bounds and satisfies.

Usage: python benchmarks/check_parsers.py [--draws N] [--corpus DIR ...]

On a throwaway embedded server, one table per form of tests/check_forms.py and per case
of tests/test_check_expressions.py, plus tests/schemas/hard.sql; for each CHECK as
``pg_get_expr`` prints it:
- parsed: the tree has no opaque part;
- bounded: column_bounds says something of a column;
- satisfied: of N rows drawn by rows_for (the columns it reads always drawn), every one
  passes the CHECK, as the server judges (``SELECT (check) IS NOT FALSE``, one query for
  all draws); ``some`` counts those where at least one does.
``--corpus`` directories (dbmate migrations, read only) add the CHECK clauses written in
their files, as pglast prints them back: parsed and bounded only (no types, no server).

To compare two versions of the package, run it with each on PYTHONPATH (e.g. an older
commit's tree from ``git archive``): it measures the ``pytest_dbverify`` it imports.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pglast
import psycopg
from hypothesis import HealthCheck, Phase, given, settings
from pglast.stream import RawStream
from psycopg import sql

from pytest_dbverify import check_expressions
from pytest_dbverify.binaries import find_binaries
from pytest_dbverify.catalog import Table, load_catalog
from pytest_dbverify.embedded import ThrowawayServer
from pytest_dbverify.plans import sql_value
from pytest_dbverify.strategies import rows_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.check_forms import FORMS  # noqa: E402
from tests.test_check_expressions import CORPUS  # noqa: E402

_OPAQUE = check_expressions.Opaque


def understood(text: str) -> bool:
    """Return True if the whole expression parses into known nodes."""
    node = check_expressions.parse(text)
    return not any(isinstance(n, _OPAQUE) for n in _nodes(node))


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for value in vars(node).values() if hasattr(node, "__dict__") else _fields(node):
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, check_expressions.Node):
                yield from _nodes(child)
            elif isinstance(child, tuple):
                yield from (
                    n for c in child if isinstance(c, check_expressions.Node) for n in _nodes(c)
                )


def _fields(node: Any) -> Iterable[Any]:
    return (getattr(node, name) for name in getattr(node, "__dataclass_fields__", {}))


def draws(table: Table, columns: list[str], count: int) -> list[dict[str, Any]]:
    """Return ``count`` rows drawn by rows_for, as a check's example would draw them."""
    found: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(rows_for(table, columns=columns))
    def collect(row: dict[str, Any]) -> None:
        found.append(row)

    collect()
    return found


def passing(
    conn: psycopg.Connection, table: Table, expression: str, rows: list[dict[str, Any]]
) -> int:
    """Return how many rows the server says pass ``expression`` (one query for all)."""
    names = [c.name for c in table.columns]
    selects = [
        sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(
                    sql_value(row.get(n), table.column(n).type.sql), sql.Identifier(n)
                )
                for n in names
            )
        )
        for row in rows
    ]
    query = sql.SQL("SELECT count(*) FILTER (WHERE ({}) IS NOT FALSE) FROM ({}) AS {}").format(
        sql.SQL(expression), sql.SQL(" UNION ALL ").join(selects), sql.Identifier(table.name.name)
    )
    try:
        with conn.transaction():
            answer = conn.execute(query).fetchone()
    except psycopg.Error:
        return 0  # a drawn value the type refuses
    return int(answer[0]) if answer else 0


def printed_checks(conn: psycopg.Connection) -> list[tuple[Table, Any]]:
    """Return every (table, CHECK) of the database's user schemas."""
    schemas = [
        name
        for (name,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema'"
        )
    ]
    catalog = load_catalog(conn, schemas)
    return [(t, c) for t in catalog.tables for c in t.checks if c.expression]


def build(conn: psycopg.Connection) -> None:
    """Create the forms' and the corpus cases' tables, and hard.sql."""
    conn.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'very happy')")
    cases = [(f"form_{f.id}", f.columns, f.check) for f in FORMS]
    cases += [(f"case_{c.id}", c.columns, c.check) for c in CORPUS]
    for name, columns, check in cases:
        conn.execute(
            sql.SQL("CREATE TABLE {} ({}, CONSTRAINT {} CHECK ({}))").format(
                sql.Identifier(name), sql.SQL(columns), sql.Identifier(name), sql.SQL(check)
            )
        )
    conn.execute((ROOT / "tests" / "schemas" / "hard.sql").read_text(encoding="utf-8"))  # type: ignore[arg-type]


def written_checks(directories: list[Path]) -> list[str]:
    """Return the CHECK clauses of the migrations' SQL, printed back by pglast."""
    found: list[str] = []
    for directory in directories:
        for path in sorted(directory.rglob("*.sql")):
            try:
                tree = pglast.parse_sql(path.read_text(encoding="utf-8", errors="replace"))
            except pglast.parser.ParseError:
                continue
            for node in _constraints(tree):
                found.append(RawStream()(node.raw_expr))
    return found


def _constraints(tree: Any) -> Iterator[Any]:
    from pglast import ast

    def visit(node: Any) -> Iterator[Any]:
        if (
            isinstance(node, ast.Constraint)
            and node.contype == pglast.enums.ConstrType.CONSTR_CHECK
        ) and node.raw_expr is not None:
            yield node
        if isinstance(node, ast.Node):
            for name in node:
                yield from visit(getattr(node, name))
        elif isinstance(node, tuple):
            for item in node:
                yield from visit(item)

    for statement in tree:
        yield from visit(statement)


def main() -> None:
    """Print the counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--corpus", type=Path, nargs="*", default=[])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    with ThrowawayServer(find_binaries("embedded")) as server:
        info = server.info
        with psycopg.connect(info.conninfo("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE checks")
        with psycopg.connect(info.conninfo("checks"), autocommit=True) as conn:
            build(conn)
            checks = printed_checks(conn)
            totals = {"checks": 0, "parsed": 0, "bounded": 0, "satisfied": 0, "some": 0}
            accepted = drawn = 0
            for table, check in checks:
                types = {c.name: c.type for c in table.columns}
                parsed = understood(check.expression)
                bounded = bool(check_expressions.column_bounds(check.expression, types))
                columns = [c for c in check.columns if table.column(c).insertable]
                rows = draws(table, columns, args.draws)
                passed = passing(conn, table, check.expression, rows)
                accepted, drawn = accepted + passed, drawn + len(rows)
                totals["checks"] += 1
                totals["parsed"] += parsed
                totals["bounded"] += bounded
                totals["satisfied"] += bool(rows) and passed == len(rows)
                totals["some"] += passed > 0
                if args.verbose:
                    counts = f"{parsed:d} {bounded:d} {passed:3}/{len(rows):<3}"
                    print(f"{counts} {table.name.name}: {check.expression}")
    print("printed:", ", ".join(f"{k} {v}" for k, v in totals.items()), f"rows {accepted}/{drawn}")
    if args.corpus:
        written = written_checks(args.corpus)
        parsed = sum(understood(text) for text in written)
        bounded = sum(bool(check_expressions.column_bounds(text)) for text in written)
        print(f"written: checks {len(written)}, parsed {parsed}, bounded {bounded}")


if __name__ == "__main__":
    main()
