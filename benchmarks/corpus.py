"""Measure the verifier on a corpus of real schemas: one row per case and server.

Usage:
    python benchmarks/corpus.py DIR... [--server 15|18|both] [--cases a,b] [--timeout 900]
                                       [--json PATH] [--failures PATH] [-- PYTEST_ARGS...]

A case is a directory holding a dbmate ``migrations/`` folder (and, when the project
needs settings, a ``pyproject.toml`` with them, e.g. ``dbverify_schemas``), a dbmate
migrations folder itself, or an SQL dump (``*.sql``, loaded as one migration with an
empty down). Anything else is passed over with a note, so ``corpus/*`` works on a folder
that also holds notes. The corpus lives outside the repository (other projects' schemas).

For each case and server (15: the system PostgreSQL, ``--dbverify-server system``; 18:
the embedded wheel, ``embedded``):

1. the migrations are applied with ``dbmate up`` to a fresh database on a throwaway
   server of that kind, as a deploy would;
2. every table is fingerprinted: its row count and the md5 of its ordered rows;
3. the verifier runs as another repository would: ``pytest --dbverify`` in a temporary
   project directory with no conftest.py (the case's pyproject.toml copied in, the
   checksum ledger recorded first with ``dbverify ledger update``), DATABASE_URL set to
   the loaded database, in a process group of its own that is killed whole after
   ``--timeout`` seconds (SIGINT first, so that pytest writes the report of the items
   done); per-item outcomes come from its JSON report, else from its ``-v`` lines;
4. the fingerprints are taken again and compared.

It prints one row per case and server (tables, items, passed / failed / skipped, wall
time, fingerprints equal) with the items by kind, then the skips grouped by reason and
the failures grouped by check. Items of a check with no object at all (pytest's "got
empty parameter set") are left out of the counts. ``--json`` writes every result with
each item's id, outcome and message; ``--failures`` writes one line per failure, for
triage. Run it under ``nice`` on a shared machine: cases take seconds to many minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql

from pytest_dbverify.binaries import find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from pytest_dbverify.errors import MigrationError
from pytest_dbverify.migrations import Dbmate

ServerKind = Literal["system", "embedded"]
SERVERS: dict[str, ServerKind] = {"15": "system", "18": "embedded"}
# Check function -> the kind a row counts it under; others count under their own name.
KINDS = {
    "test_crud": "crud",
    "test_fk_enforced": "fk",
    "test_fk_actions": "fk_actions",
    "test_unique_enforced": "unique",
    "test_not_null_enforced": "not_null",
    "test_check_enforced": "check",
    "test_index_valid": "index",
    "test_index_consistent": "index",
    "test_schema_drift": "drift",
    "test_migration_applied": "history",
    "test_no_applied_migration_without_file": "history",
    "test_migration_checksum": "history",
    "test_migration_file_present": "history",
    "test_rollback_round_trip": "rollback",
    "test_full_rollback_round_trip": "rollback",
    "test_migration_sections": "files",
    "test_migration_lint": "files",
    "test_fk_indexed": "advisory",
    "test_constraint_validated": "advisory",
    "test_table_readable": "read",
    "test_server_reachable": "server",
    "test_server_version_supported": "server",
    "test_session_settings_applied": "server",
}
KIND_ORDER = list(dict.fromkeys(KINDS.values()))
NO_OBJECT = "got empty parameter set"
# A pytest -v line: "<path>/dbverify/crud::test_crud[x] PASSED   [ 10%]".
_VERBOSE_LINE = re.compile(r"(dbverify/\S+::.*?) (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)\b")
# An item's line before its outcome is printed (not the summary's "FAILED <id> - ...").
_STARTED_LINE = re.compile(r"^(?:\S*/)?(dbverify/\S+::\S.*?)\s*$", re.MULTILINE)
_TABLES = """
SELECT n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
 ORDER BY 1, 2
"""


# --- cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One schema: its dbmate migrations and the project settings to verify it with."""

    name: str
    migrations: Path
    settings: Path | None = None


def is_migrations_dir(path: Path) -> bool:
    """Return whether ``path`` holds dbmate migration files."""
    return any(
        re.match(r"^\d+_.*\.sql$", f.name) and "-- migrate:up" in f.read_text(errors="replace")
        for f in path.glob("*.sql")
    )


def find_cases(paths: Sequence[Path], work: Path) -> list[Case]:
    """Return the cases among ``paths``; an SQL dump becomes a migrations folder in ``work``."""
    cases = []
    for path in paths:
        settings = path / "pyproject.toml"
        if path.is_dir() and is_migrations_dir(path / "migrations"):
            cases.append(
                Case(path.name, path / "migrations", settings if settings.is_file() else None)
            )
        elif path.is_dir() and is_migrations_dir(path):
            cases.append(Case(path.name, path))
        elif path.is_file() and path.suffix == ".sql":
            folder = work / "dumps" / path.stem
            folder.mkdir(parents=True)
            dump = path.read_text()
            (folder / f"00000000000001_{path.stem}.sql").write_text(
                f"-- migrate:up\n{dump}\n-- migrate:down\n"
            )
            cases.append(Case(path.stem, folder))
        else:
            print(f"corpus: {path}: not a case (no dbmate migrations, not an .sql dump)")
    return cases


# --- results ---------------------------------------------------------------------------


@dataclass
class Item:
    """One pytest item of a verifier run."""

    id: str
    outcome: str
    message: str = ""

    @property
    def check(self) -> str:
        """Return the check function: ``dbverify/crud::test_crud[x]`` -> ``test_crud``."""
        return self.id.split("::", 1)[-1].split("[", 1)[0]

    @property
    def kind(self) -> str:
        """Return the kind the item counts under."""
        return KINDS.get(self.check, self.check.removeprefix("test_"))


@dataclass
class Result:
    """One case on one server."""

    case: str
    server: str
    version: str = ""
    tables: int = 0
    load_error: str | None = None
    wall: float = 0.0
    timed_out: bool = False
    exit_code: int | None = None
    running: str | None = None  # the item under way when a run was killed
    items: list[Item] = field(default_factory=list)
    fingerprints_equal: bool | None = None
    changed_tables: list[str] = field(default_factory=list)
    # Constraints and indexes a check passed or failed on, of all the report lists.
    exercised: tuple[int, int] | None = None

    def counted(self) -> list[Item]:
        """Return the items that are about an object (not pytest's empty placeholders)."""
        return [i for i in self.items if NO_OBJECT not in i.message]

    def outcomes(self) -> Counter[str]:
        """Return the count of each outcome, errors counted as failed."""
        return Counter("failed" if i.outcome == "error" else i.outcome for i in self.counted())


def reasons_of(message: str) -> list[str]:
    """Return a skip or failure message without the objects it names, to group by.

    Messages read ``<object>: <what happened>: <details>``: keep what happened, without
    parenthesized asides, identifiers and numbers masked. Squawk's give one per rule.
    """
    text = " ".join(message.split()) or "(no message)"
    if text.startswith("squawk on"):
        return [f"squawk {rule}" for rule in sorted(set(re.findall(r"line \d+: ([a-z-]+):", text)))]
    if ": " in text and not text.startswith("no migration ledger"):
        text = text.split(": ", 1)[1]
    text = re.split(r": |; ", re.sub(r" ?\([^()]*\)", "", text), maxsplit=1)[0]
    text = re.sub(r"[\w\"]+(?:\.[\w\"]+)+|\S*[_\d]\S*", "…", text)
    return [text[:100]]


# --- one case ----------------------------------------------------------------------------


def fingerprints(conninfo: str) -> dict[str, str]:
    """Return each table's row count and md5 of its rows in order, by qualified name."""
    prints = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for schema, table in conn.execute(_TABLES).fetchall():
            query = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                " FROM {} AS t"
            ).format(sql.Identifier(schema, table))
            row = conn.execute(query).fetchone()
            prints[f"{schema}.{table}"] = f"{row[0]} rows, md5 {row[1]}" if row else "?"
    return prints


def table_count(conninfo: str) -> int:
    """Return the number of tables (partitioned and partitions included) but dbmate's."""
    query = """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema'
           AND n.nspname NOT LIKE 'pg\\_%'
           AND (n.nspname, c.relname) <> ('public', 'schema_migrations')
    """
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def verifier_command(case: Case, kind: ServerKind, work: Path, extra: Sequence[str]) -> list[str]:
    """Return the argv of ``pytest --dbverify`` for ``case`` run in ``work``."""
    return [
        sys.executable, "-m", "pytest", "--dbverify", "-p", "no:cacheprovider", "-v",
        "--dbverify-migrations-dir", str(case.migrations.resolve()),
        "--dbverify-server", kind,
        "--dbverify-ledger", str(work / "migrations.sum"),
        "--dbverify-report", str(work / "report.json"),
        *extra,
    ]  # fmt: skip


def _clean_environ(url: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DBVERIFY_"))}
    environ["DATABASE_URL"] = url
    return environ


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a run that overran: SIGINT to pytest, then SIGTERM and SIGKILL to its group.

    On SIGINT pytest ends the session as after Ctrl-C: the JSON report of the items done
    so far is written. Whatever is left (a server, a stuck child) goes with the group.
    """
    steps = ((process.pid, signal.SIGINT, 60.0), (-process.pid, signal.SIGTERM, 10.0),
             (-process.pid, signal.SIGKILL, 10.0))  # fmt: skip
    for pid, sig, grace in steps:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def exercised(report: Path) -> tuple[int, int]:
    """Return how many constraints and indexes a check decided on, and how many there are."""
    objects = [
        o for o in json.loads(report.read_text())["objects"] if o["kind"] in ("constraint", "index")
    ]
    return sum(o["status"] in ("passed", "failed") for o in objects), len(objects)


def items_from_report(report: Path) -> list[Item]:
    """Return the items of a ``--dbverify-report`` JSON."""
    checks = json.loads(report.read_text())["checks"]
    return [Item(c["id"], c["outcome"], c.get("message") or "") for c in checks]


def items_from_output(output: str) -> tuple[list[Item], str | None]:
    """Return the finished items of a ``-v`` run's output, and the last one left unfinished."""
    items = [
        Item(m[1], m[2].lower().replace("xfail", "xfailed").replace("xpass", "xpassed"))
        for m in _VERBOSE_LINE.finditer(output)
    ]
    unfinished = [m[1] for m in _STARTED_LINE.finditer(output) if not _VERBOSE_LINE.search(m[0])]
    return items, unfinished[-1] if unfinished else None


def run_verifier(
    case: Case, url: str, kind: ServerKind, result: Result, timeout: float, extra: Sequence[str]
) -> None:
    """Run ``pytest --dbverify`` on ``url`` as another repository would; fill ``result``."""
    with tempfile.TemporaryDirectory(prefix=f"corpus-{case.name}-") as tmp:
        work = Path(tmp)
        if case.settings is not None:
            shutil.copy(case.settings, work / "pyproject.toml")
        subprocess.run(
            [sys.executable, "-m", "pytest_dbverify.cli", "ledger", "update",
             "--migrations-dir", str(case.migrations), "--ledger", str(work / "migrations.sum")],
            cwd=work, capture_output=True, check=True,
        )  # fmt: skip
        output = work / "output.txt"
        began = time.perf_counter()
        with output.open("wb") as sink:
            process = subprocess.Popen(
                verifier_command(case, kind, work, extra),
                cwd=work,
                env=_clean_environ(url),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                result.exit_code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                result.timed_out = True
                _stop(process)
        result.wall = time.perf_counter() - began
        report = work / "report.json"
        text = output.read_text(errors="replace")
        done, unfinished = items_from_output(text)
        result.running = unfinished if result.timed_out else None
        if report.is_file():
            result.items = items_from_report(report)
            result.exercised = exercised(report)
        else:
            result.items = done
            if not result.timed_out:
                tail = "\n".join(text.splitlines()[-5:])
                result.load_error = (
                    f"the verifier wrote no report (exit {result.exit_code}): {tail}"
                )


def run_case(
    info: ServerInfo, server: str, case: Case, timeout: float, extra: Sequence[str]
) -> Result:
    """Load ``case`` into a fresh database on ``info``'s server and verify it."""
    result = Result(case.name, server, version=info.version)
    db = "corpus_" + re.sub(r"\W", "_", case.name.lower())
    dbmate = Dbmate(info.url(db), migrations_dir=case.migrations, pg_bindir=Path(info.bindir))
    try:
        dbmate.up()
    except MigrationError as err:
        result.load_error = err.detail or str(err)
        return result
    conninfo = info.conninfo(db)
    try:
        result.tables = table_count(conninfo)
        before = fingerprints(conninfo)
        run_verifier(case, info.url(db), SERVERS[server], result, timeout, extra)
        after = fingerprints(conninfo)
        result.changed_tables = sorted(t for t in before.keys() | after.keys()
                                       if before.get(t) != after.get(t))  # fmt: skip
        result.fingerprints_equal = not result.changed_tables
    finally:
        with psycopg.connect(info.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
    return result


@contextmanager
def server(kind: ServerKind) -> Iterator[ServerInfo]:
    """Run a throwaway server of ``kind`` to load the cases into."""
    with ThrowawayServer(find_binaries(kind)) as running:
        yield running.info


# --- printing --------------------------------------------------------------------------


def by_kind(result: Result) -> str:
    """Return the items by kind: ``crud 38, fk 12, ...`` in a fixed order."""
    kinds = Counter(i.kind for i in result.counted())
    order = KIND_ORDER + sorted(set(kinds) - set(KIND_ORDER))
    return ", ".join(f"{k} {kinds[k]}" for k in order if kinds[k])


def row(result: Result) -> str:
    """Return the result's line of the table."""
    head = f"{result.case:<24.24} {result.server:>3} {result.tables:>6}"
    if result.load_error and not result.items:
        return f"{head}  load failed: {result.load_error[:200]}"
    n = result.outcomes()
    wall = f"{result.wall:7.0f}s" + (" TIMEOUT" if result.timed_out else "")
    same = {True: "yes", False: "NO", None: "?"}[result.fingerprints_equal]
    skipped = n["skipped"] + n["xfailed"]
    return (
        f"{head} {len(result.counted()):>6} {n['passed']:>6} {n['failed']:>6} {skipped:>7} "
        f"{wall:>9} {same:>5}\n{'':<36}{by_kind(result)}"
    )


def report(results: Sequence[Result]) -> None:
    """Print the table, then skips by reason and failures by check, per row."""
    print(f"\n{'case':<24} srv tables  items passed failed skipped      wall  same")
    for result in results:
        print(row(result))
        if result.timed_out:
            print(f"{'':<36}killed while running: {result.running or '(between items)'}")
        if result.changed_tables:
            print(f"{'':<36}tables changed: {', '.join(result.changed_tables)}")
        if result.exercised is not None and result.exercised[1]:
            done, total = result.exercised
            print(f"{'':<36}constraints and indexes exercised: {done}/{total} "
                  f"({100 * done / total:.0f}%)")  # fmt: skip
    for result in results:
        counted = result.counted()
        skips = Counter(
            reason for i in counted if i.outcome == "skipped" for reason in reasons_of(i.message)
        )
        failures = Counter(
            f"{i.check}: {reason}"
            for i in counted
            if i.outcome in ("failed", "error")
            for reason in reasons_of(i.message)
        )
        if not skips and not failures:
            continue
        print(f"\n{result.case} on {result.server}:")
        for label, counts in (("skipped", skips), ("failed", failures)):
            for reason, count in counts.most_common():
                print(f"  {label} {count:>4}  {reason}")


def write_failures(results: Sequence[Result], path: Path) -> None:
    """Write one line per failed item: case, server, item id, message."""
    lines = [
        f"{r.case}\t{r.server}\t{i.id}\t{' '.join(i.message.split())}"
        for r in results
        for i in r.counted()
        if i.outcome in ("failed", "error")
    ]
    path.write_text("\n".join(lines) + "\n")


# --- main --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Run every case on the chosen servers and print the figures."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="case directories or SQL dumps")
    parser.add_argument("--server", choices=["15", "18", "both"], default="both")
    parser.add_argument("--cases", help="only these cases, by name, comma-separated")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per verifier run (default 900)"
    )
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--failures", type=Path, help="write one line per failed item here")
    args = parser.parse_args(argv)
    servers = ["15", "18"] if args.server == "both" else [args.server]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        cases = find_cases(args.paths, Path(tmp))
        if args.cases:
            wanted = set(args.cases.split(","))
            if unknown := wanted - {c.name for c in cases}:
                sys.exit(f"corpus: no case named {', '.join(sorted(unknown))} among the paths")
            cases = [c for c in cases if c.name in wanted]
        for name in servers:
            with server(SERVERS[name]) as info:
                for case in cases:
                    print(f"{case.name} on PostgreSQL {info.version} ...", flush=True)
                    result = run_case(info, name, case, args.timeout, extra)
                    print(row(result), flush=True)
                    results.append(result)
                    if args.json:  # after every case: a long run killed midway keeps its rows
                        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
                    if args.failures:
                        write_failures(results, args.failures)
    report(results)


if __name__ == "__main__":
    main()
