"""Rollback round trip: every migration's down undoes its up, on a throwaway database.

For each migration in order: snapshot, ``dbmate migrate`` (this one only), snapshot,
``dbmate rollback``, compare with the first snapshot (a no-op or partial down fails,
naming what it left behind), ``dbmate migrate`` again and compare with the first up.
Then the full stack: the step-wise result equals the single pass, all the way down
leaves no object of ours, and all the way up again equals the single pass.

Destructive by nature, so it runs only in a database it creates on a throwaway server
the plugin started itself, never on the target. One migration at a time comes from a
staging directory that holds the first N files: dbmate then applies and rolls back
exactly that one, as it would in production.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from pytest_dbverify import sections
from pytest_dbverify.catalog import Catalog, load_catalog
from pytest_dbverify.cluster_cache import default_cache_dir
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.errors import MigrationError
from pytest_dbverify.expected import create_database, run_setup
from pytest_dbverify.migrations import Dbmate, MigrationFile, find_dbmate, migration_files
from pytest_dbverify.schema_diff import ABSENT, compare

# Objects of the verified schemas that load_catalog does not describe (views, sequences,
# functions, range and base types, schemas): a down that leaves one of them behind must be
# named too. Indexes, enums and domains are in the catalog. Members of extensions are the
# extension's business; dbmate's table is left out.
_INVENTORY = """
SELECT 'schema ' || n.nspname
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
UNION ALL
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                      WHEN 'f' THEN 'foreign table' ELSE 'type'
       END || ' ' || n.nspname || '.' || c.relname
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY(%(schemas)s)
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
   AND c.oid IS DISTINCT FROM to_regclass(%(bookkeeping)s)
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT 'type ' || n.nspname || '.' || t.typname
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = ANY(%(schemas)s) AND t.typtype IN ('r', 'm', 'b')
   AND NOT (t.typelem <> 0 AND t.typlen = -1)
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
UNION ALL
SELECT 'function ' || n.nspname || '.' || p.proname
       || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = ANY(%(schemas)s)
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'extension ' || e.extname FROM pg_catalog.pg_extension e
"""


# The modules whose code decides the findings (with sql/*.sql): a change invalidates them.
_FINDINGS_CODE = (
    "roundtrip",
    "catalog",
    "schema_diff",
    "normalize",
    "migrations",
    "partitions",
    "sections",
)


@dataclass(frozen=True)
class Snapshot:
    """The schema at one point: the catalog and the inventory of every named object."""

    catalog: Catalog
    objects: frozenset[str]


@dataclass
class RoundTrip:
    """The findings of one round trip: per migration file name, and for the full stack."""

    steps: dict[str, list[str]] = field(default_factory=dict)  # file name -> problems
    full: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # The first file whose own round trip failed: the whole stack's would fail on it again.
    full_not_run: str | None = None


def changes(before: Snapshot, after: Snapshot, ignore_tables: Sequence[str]) -> list[str]:
    """Return what differs from ``before`` to ``after``, one line per object."""
    lines: list[str] = []
    described: set[str] = set()
    for d in compare(before.catalog, after.catalog, ignore_tables=ignore_tables):
        described.add(d.id)
        if d.expected == ABSENT:
            lines.append(f"{d.id} left behind ({d.found.removeprefix('present: ')})")
        elif d.found == ABSENT:
            lines.append(f"{d.id} gone ({d.expected.removeprefix('present: ')})")
        else:
            lines.append(f"{d.id}: {d.expected} -> {d.found}")
    lines += [
        f"{o} left behind" for o in sorted(after.objects - before.objects) if o not in described
    ]
    lines += [f"{o} gone" for o in sorted(before.objects - after.objects) if o not in described]
    return lines


def run_round_trip(
    server: ServerInfo,
    migrations_dir: Path,
    *,
    schemas: Sequence[str],
    migrations_table: str,
    exclude_tables: Sequence[str] = (),
    single_pass: Catalog | None = None,
    cache_dir: Path | None = None,
    setup: Path | None = None,
) -> RoundTrip:
    """Run the round trip of ``migrations_dir`` in a new database on ``server``; drop it after.

    Once per input: a second call on the server (another xdist worker) returns the
    findings of the first, and so does a later run, from ``cache_dir`` (the user's
    cache, :func:`pytest_dbverify.cluster_cache.default_cache_dir`, when None).

    Args:
        server: A throwaway server of our own (never the target).
        migrations_dir: The dbmate migrations.
        schemas: The verified schemas (what the snapshots describe).
        migrations_table: dbmate's table, left out of the comparisons.
        exclude_tables: Tables the user excludes, left out too.
        single_pass: The catalog of all migrations applied at once (the expected schema);
            when given, the step-wise result is compared with it too.
        cache_dir: Where findings are kept between runs.
        setup: SQL run in each new database before the migrations (roles, extensions).
    """
    files = migration_files(migrations_dir)
    options = [list(schemas), migrations_table, list(exclude_tables), single_pass is not None]
    options.append(setup.read_bytes() if setup is not None else None)
    key = _digest(files, *options, server.version, _dbmate_stamp(), _code_stamp())
    # xdist workers share the server: the first to get the lock runs the round trip and
    # leaves its findings beside the lock; the others read them instead of running it again.
    # The findings also stay in the user's cache: the same files, options, server, dbmate
    # and plugin code give the same findings on the next run.
    shared = Path(server.socket_dir) / f"round-trip-{key}.json"
    kept = (cache_dir or default_cache_dir()) / "round-trips" / f"{key}.json"
    with _one_at_a_time(server):
        for findings in (shared, kept):
            found = _read(findings)
            if found is not None:
                _write(shared, found)
                return found
        result = _run(
            _Scratch(server, schemas, migrations_table, setup),
            files,
            [migrations_table, *exclude_tables],
            single_pass,
        )
        _write(shared, result)
        _write(kept, result)
    return result


def created_by(
    server: ServerInfo,
    files: Sequence[MigrationFile],
    pending: Sequence[MigrationFile],
    *,
    schemas: Sequence[str],
    migrations_table: str,
    setup: Path | None = None,
) -> dict[str, str]:
    """Return which pending migration creates or changes each object (label -> file name).

    In a new database on ``server``: the applied migrations (``files`` less ``pending``),
    then each pending one in turn, comparing the catalog before and after it. Empty when
    the applied ones do not migrate alone (the history then says why, elsewhere).
    """
    owners: dict[str, str] = {}
    with _Scratch(server, schemas, migrations_table, setup) as scratch:
        for file in files:
            if file not in pending:
                scratch.stage(file)
        try:
            scratch.dbmate.migrate()
            before = scratch.snapshot().catalog
            for file in pending:
                scratch.stage(file)
                scratch.dbmate.migrate()
                after = scratch.snapshot().catalog
                for difference in compare(before, after):
                    owners.setdefault(difference.id, file.name)
                before = after
        except MigrationError:
            pass  # what applied so far is attributed; the round trip names the failure
    return owners


def _read(findings: Path) -> RoundTrip | None:
    """Return the findings kept in ``findings``, or None (none, or unreadable: run again)."""
    try:
        return RoundTrip(**json.loads(findings.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(findings: Path, result: RoundTrip) -> None:
    """Keep ``result`` in ``findings``, whole or not at all (a run killed mid-write)."""
    try:
        findings.parent.mkdir(parents=True, exist_ok=True)
        partial = findings.with_suffix(f".{uuid.uuid4().hex[:8]}.partial")
        partial.write_text(json.dumps(dataclasses.asdict(result)))
        partial.replace(findings)
    except OSError:
        pass  # an unwritable cache costs the next run its round trip, nothing more


def _dbmate_stamp() -> list[object]:
    """Return what identifies the dbmate binary (its path, size and time), cheaply."""
    binary = find_dbmate()
    stat = binary.stat()
    return [str(binary), stat.st_size, stat.st_mtime_ns]


@functools.cache
def _code_stamp() -> str:
    """Return a hash of the plugin code the findings depend on: new code, new findings."""
    package = Path(__file__).resolve().parent
    sources = [package / f"{name}.py" for name in _FINDINGS_CODE] + sorted(
        package.glob("sql/*.sql")
    )
    digest = hashlib.blake2b(digest_size=16)
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _run(
    scratch: _Scratch,
    files: Sequence[MigrationFile],
    ignore: Sequence[str],
    single_pass: Catalog | None,
) -> RoundTrip:
    """Round-trip each file in turn, then the whole stack.

    A file whose round trip leaves the database in no known state (its down or its second
    up failed) does not decide the later files' verdicts: a fresh database with every file
    up to it applied once takes over, and the round trip goes on from there. Only a file
    whose first up fails stops it (the later ones build on it).
    """
    began = time.perf_counter()
    result = RoundTrip()
    with scratch:
        empty = scratch.snapshot()
        before = empty
        for number, file in enumerate(files):
            scratch.stage(file)
            if _has_no_down(file):
                # Nothing to roll back with: say so once, and go on from its up, rather
                # than watch the second up fail and rebuild the database (O(n) files each).
                problems, after = _up_only(scratch.dbmate, before, scratch.snapshot, ignore)
            else:
                problems, after = _step(scratch.dbmate, before, scratch.snapshot, ignore)
            result.steps[file.path.name] = problems
            if after is None and not problems[0].startswith(_UP_FAILED):
                after = scratch.restore()  # every staged file applied once, in a new database
            if after is None:
                for later in files[number + 1 :]:
                    result.steps[later.path.name] = [
                        f"not run: {file.path.name} does not apply, and it comes before"
                    ]
                result.full_not_run = file.path.name
                result.seconds = time.perf_counter() - began
                return result
            if problems:
                result.full_not_run = result.full_not_run or file.path.name
            before = after
        if result.full_not_run is None:
            result.full = _full_stack(
                scratch.dbmate, files, empty, before, single_pass, scratch.snapshot, ignore
            )
    result.seconds = time.perf_counter() - began
    return result


_UP_FAILED = "up failed: "


class _Scratch:
    """A scratch database and the staging directory dbmate migrates it from.

    ``restore`` swaps in a new database with the staged files applied once: the state a
    file's round trip should have ended in.
    """

    def __init__(
        self,
        server: ServerInfo,
        schemas: Sequence[str],
        migrations_table: str,
        setup: Path | None = None,
    ) -> None:
        self.server = server
        self.schemas = schemas
        self.migrations_table = migrations_table
        self.setup = setup
        self._staging = tempfile.TemporaryDirectory()
        self.staging = Path(self._staging.name)
        self.dbname = ""
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> _Scratch:
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
        self._staging.cleanup()

    @property
    def dbmate(self) -> Dbmate:
        """Return dbmate bound to the current database and the staging directory."""
        return Dbmate(
            self.server.url(self.dbname),
            migrations_dir=self.staging,
            pg_bindir=Path(self.server.bindir),
        )

    def stage(self, file: MigrationFile) -> None:
        """Add ``file`` to what dbmate applies next."""
        shutil.copyfile(file.path, self.staging / file.path.name)

    def snapshot(self) -> Snapshot:
        """Return the current database's schema."""
        assert self._conn is not None
        return _snapshot(self._conn, self.schemas, self.migrations_table)

    def restore(self) -> Snapshot | None:
        """Replace the database with a new one, every staged file applied; None if they fail."""
        self._close()
        self._open()
        try:
            self.dbmate.migrate()
        except MigrationError:
            return None
        return self.snapshot()

    def _open(self) -> None:
        self.dbname = f"dbverify_roundtrip_{uuid.uuid4().hex[:12]}"
        create_database(self.server, self.dbname)
        self._conn = psycopg.connect(self.server.conninfo(self.dbname), autocommit=True)
        if self.setup is not None:
            run_setup(self.server.conninfo(self.dbname), self.setup)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        with psycopg.connect(self.server.conninfo(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.dbname)
                )
            )


_NO_DOWN = "no down: its -- migrate:down section holds no statement, so it cannot be rolled back"


def _has_no_down(file: MigrationFile) -> bool:
    """Return True if the file's down section is missing or holds only comments."""
    down = sections.parse(file.path.read_text(encoding="utf-8")).sections.get("down")
    if down is None:
        return True
    code = [line for line in down.text.splitlines() if line.strip() and not _comment(line)]
    return not code


def _comment(line: str) -> bool:
    return line.strip().startswith("--")


def _up_only(
    dbmate: Dbmate, before: Snapshot, snapshot: Callable[[], Snapshot], ignore: Sequence[str]
) -> tuple[list[str], Snapshot | None]:
    """Apply a file that has no down: its one problem, and the state after its up.

    An up that changes no object (a data migration) needs no down: no problem then.
    """
    try:
        dbmate.migrate()
    except MigrationError as err:
        return [f"{_UP_FAILED}{err}"], None
    after = snapshot()
    return ([_NO_DOWN] if changes(before, after, ignore) else []), after


def _step(
    dbmate: Dbmate,
    before: Snapshot,
    snapshot: Callable[[], Snapshot],
    ignore: Sequence[str],
) -> tuple[list[str], Snapshot | None]:
    """Run up, down, up again for the newest staged file; return its problems and the end state.

    The end state is None when dbmate failed: the database is then in no known state, so
    later steps cannot run.
    """
    try:
        dbmate.migrate()
    except MigrationError as err:
        return [f"{_UP_FAILED}{err}"], None
    first_up = snapshot()
    try:
        dbmate.rollback()
    except MigrationError as err:
        return [f"down failed: {err}"], None
    left = changes(before, snapshot(), ignore)
    problems = [f"after up and down, not as before up: {line}" for line in left]
    try:
        dbmate.migrate()
    except MigrationError as err:
        return [*problems, f"up failed the second time (after down): {err}"], None
    again = snapshot()
    problems += [f"up again differs from the first up: {line}" for line in
                 changes(first_up, again, ignore)]  # fmt: skip
    return problems, again


def _full_stack(
    dbmate: Dbmate,
    files: Sequence[MigrationFile],
    empty: Snapshot,
    stepwise: Snapshot,
    single_pass: Catalog | None,
    snapshot: Callable[[], Snapshot],
    ignore: Sequence[str],
) -> list[str]:
    problems: list[str] = []
    if single_pass is not None:
        problems += [
            f"one migration at a time differs from all at once: {d.kind} {d.name}: "
            f"{d.expected} -> {d.found}"
            for d in compare(single_pass, stepwise.catalog, ignore_tables=ignore)
        ]
    for _ in files:
        try:
            dbmate.rollback()
        except MigrationError as err:
            return [*problems, f"all the way down failed: {err}"]
    problems += [f"all the way down, not empty: {line}" for line in
                 changes(empty, snapshot(), ignore)]  # fmt: skip
    try:
        dbmate.migrate()
    except MigrationError as err:
        return [*problems, f"all the way up again failed: {err}"]
    problems += [f"all the way up again differs: {line}" for line in
                 changes(stepwise, snapshot(), ignore)]  # fmt: skip
    return problems


def _snapshot(conn: psycopg.Connection, schemas: Sequence[str], migrations_table: str) -> Snapshot:
    catalog = load_catalog(conn, schemas, [migrations_table])
    rows = conn.execute(
        _INVENTORY, {"schemas": list(schemas), "bookkeeping": _qualified(migrations_table)}
    ).fetchall()
    return Snapshot(catalog, frozenset(row[0] for row in rows))


def _digest(files: Sequence[MigrationFile], *options: object) -> str:
    """Hash what a round trip depends on: the migration files' names and bytes, and options."""
    digest = hashlib.blake2b(repr(options).encode(), digest_size=16)
    for file in files:
        digest.update(b"\0".join([file.path.name.encode(), file.path.read_bytes(), b""]))
    return digest.hexdigest()


def _qualified(table: str) -> str:
    return sql.Identifier(*table.split(".")).as_string(None)


@contextmanager
def _one_at_a_time(server: ServerInfo) -> Iterator[None]:
    """Hold the server's round-trip lock: xdist workers share the server, not its limits.

    Two workers migrating a large schema at once can exhaust the shared lock table
    (max_locks_per_transaction), and the round trip would report a failure of its own.
    """
    with open(Path(server.socket_dir) / "round-trip.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _state(text: str) -> str:
    return text if text == "absent" else text.removeprefix("present: ")
