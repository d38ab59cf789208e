"""One ``pytest --dbverify`` run: target, server facts, built-in items, summary.

Registered by :mod:`pytest_dbverify.plugin` only under ``--dbverify``. Under
pytest-xdist the controller resolves the target (starting a throwaway server when
none is set), connects once for the report header and writes the summary; workers
receive the target in ``workerinput`` and run the checks through their own pool.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import gc
import json
import os
import select
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import psycopg
import pytest
from psycopg_pool import ConnectionPool, PoolTimeout

from pytest_dbverify import summary
from pytest_dbverify.binaries import ServerKind, find_binaries
from pytest_dbverify.catalog import Catalog, Table, TableName, list_tables, load_catalog
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from pytest_dbverify.errors import DbverifyError, ExpectationError
from pytest_dbverify.expected import Expectation, ExpectedServers
from pytest_dbverify.migrations import migration_files
from pytest_dbverify.pool import (
    ConnectError,
    GuardedConnection,
    connect,
    count_slots,
    open_pool,
    server_words,
)
from pytest_dbverify.redact import redact_conninfo, redact_log_records, redact_text
from pytest_dbverify.report import ROOT_CAUSE_PROPERTY, Coverage
from pytest_dbverify.settings import EVERY_SCHEMA, Settings, describe
from pytest_dbverify.target import Target, checked, resolve_target

if TYPE_CHECKING:
    from pytest_dbverify.data_scan import Finding
    from pytest_dbverify.rootcause import Cause, RootCauses
    from pytest_dbverify.roundtrip import RoundTrip
    from pytest_dbverify.schema_diff import Difference

T = TypeVar("T")

PLUGIN_NAME = "dbverify-run"
CHECK_MODULES = (
    "server",
    "migrations",
    "migration_files",
    "tables",
    "crud",
    "keys",
    "foreign_keys",
    "not_null",
    "check_constraints",
    "domains",
    "indexes",
    "drift",
    "roundtrip",
)
# Check modules whose parametrization reads a catalog snapshot (drift: the target's too).
_GENERATED_FROM_CATALOGS = frozenset(
    {
        "crud",
        "keys",
        "foreign_keys",
        "not_null",
        "check_constraints",
        "domains",
        "indexes",
        "drift",
        "data",
    }
)
_TARGET_KEY = "dbverify_target"
_TERMINAL_WIDTH = 100  # the summary's statements wrap here
# A connection kept between checks idle longer than this goes back to the pool, whose
# check on the next loan finds out whether a proxy or idle_session_timeout closed it.
_KEEP_LENT_SECONDS = 5.0


@dataclass(frozen=True)
class ServerFacts:
    """What the first connection learned about the target."""

    version: str
    version_num: int
    database: str
    user: str
    latency_ms: float
    tables: int  # in the verified schemas, less dbmate's table and excluded ones


class VerificationRun:
    """The state and hooks of one verification run (a pytest plugin object)."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.target: Target | None = None
        self.facts: ServerFacts | None = None
        self._pool: ConnectionPool[GuardedConnection] | None = None
        self._expected_catalog: Catalog | None = None
        self._target_catalog: Catalog | None = None
        self._target_catalog_read: Future[Catalog] | None = None
        self._checked_tables: list[Table] | None = None
        self._oracle: psycopg.Connection | None = None
        self._lent: tuple[GuardedConnection, float] | None = None  # see checks_connection
        self.applied_versions: list[str] | None = None  # dbmate's table, read once
        self._round_trip: Future[RoundTrip] | None = None
        self._data_scan: dict[str, Finding] | None = None
        self.data_scan_seconds = 0.0
        self._expected_servers = ExpectedServers()
        self.expectation = Expectation(conninfo=None, source="not built yet")
        self.left_out: tuple[str, ...] = ()  # schemas of the expected one not verified
        self._outcomes: Counter[str] = Counter()
        self._started = time.perf_counter()
        self._workerinput: dict[str, str] | None = getattr(config, "workerinput", None)
        self.connect_error: str | None = None
        self.usage_error: str | None = None  # an xdist worker's, reported by the controller
        self.gone: str | None = None
        self.pool_note: str | None = None  # when the pool got fewer connections than it wanted
        self._differences: list[Difference] | None = None
        self._selected_names: set[str] = set()
        self._root_causes: RootCauses | None = None
        self.coverage = Coverage()  # every check's outcome (the controller's), for summaries
        expected = settings.expected_url
        self._expected_secrets = Target(expected, "").secrets if expected else frozenset()
        # pytest writes log records (ours, libraries', the user's tests') to the log file
        # and live logging itself: they are redacted as they are made.
        self._stop_redacting_logs = redact_log_records(lambda: self.secrets)

    @property
    def secrets(self) -> frozenset[str]:
        """Return the passwords to mask in any text of this run: the target's and the expected's."""
        target = self.target.secrets if self.target is not None else frozenset()
        return target | self._expected_secrets

    # -- pytest hooks -------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Resolve the target, build the expectation, settle the scope, or stop saying why.

        An unreachable target is a finding, not a crash: it becomes the failure of
        ``test_server_reachable`` (so JUnit reports carry it) and nothing else runs.
        A misconfiguration is a usage error (exit 4); migrations that do not apply stop
        the run with status 1. Either is one line.
        """
        if not session.config.option.collectonly:
            # The checks' imports (hypothesis, the generators: a third of a second without
            # a bytecode cache) happen meanwhile, while this waits on the servers.
            _in_background("warm-up", _warm_up)
        if self._workerinput is not None and _TARGET_KEY in self._workerinput:
            self._join_controller(self._workerinput[_TARGET_KEY])
            return
        try:
            self._start()
        except ConnectError as err:
            self.connect_error = str(err)
            self.expectation = Expectation(None, "not built: the target cannot be reached")
        except ExpectationError as err:
            raise pytest.UsageError(str(err)) from None
        except DbverifyError as err:
            _stop_at_start(session, f"dbverify: {redact_text(str(err), self.secrets)}")

    def pytest_report_header(self) -> list[str]:
        """Say what is verified, from where, on which server; never a password."""
        if self.target is None:
            return []
        lines = [f"dbverify target: {self.target.shown} ({self.target.source})"]
        if self.facts is not None:
            lines.append(
                f"dbverify server: PostgreSQL {self.facts.version}, database "
                f"{self.facts.database} as {self.facts.user}, "
                f"latency {self.facts.latency_ms:.1f} ms"
            )
        lines.append(f"dbverify expected schema: {self.expectation.source}")
        shown = ["schemas", "expect", "read_only", "migrations_dir"]
        lines.append("dbverify settings: " + ", ".join(describe(self.settings, shown)))
        if self.left_out:
            lines.append(
                f"dbverify schemas left out: {', '.join(self.left_out)} (in the expected "
                f"schema, not in schemas ({self.settings.sources['schemas']}))"
            )
        return lines

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep only tests marked ``dbverify``, add the built-in checks, apply include/exclude."""
        builtin: list[pytest.Item] = []
        names = (*CHECK_MODULES, "data") if self.settings.data_scan else CHECK_MODULES
        modules = {name: self._check_module(session, name) for name in names}
        if not self._selection_sound(session, list(modules.values()), items):
            items[:] = []
            return
        # Unreachable: only the check that says so (the others would wait and fail alike).
        for name in ("server",) if self.connect_error else names:
            module = modules[name]
            tests = [n for n in vars(module.obj) if n.startswith("test_")]
            if not any(self._name_selected(test) for test in tests):
                continue  # nothing to select: skip its parametrization (which may query)
            if not self._catalogs_read(name, session):
                items[:] = []
                return
            builtin.extend(
                item
                for item in session.genitems(module)
                if isinstance(item, pytest.Item) and not _nothing_to_check(item)
            )
        kept: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in [*builtin, *items]:
            selected = self._selected(item)
            if self.connect_error and item.name != "test_server_reachable":
                selected = False
            (kept if selected else dropped).append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        self._selected_names = {item.name for item in kept}

    @staticmethod
    def _check_module(session: pytest.Session, name: str) -> pytest.Module:
        path = Path(__file__).parent / "checks" / f"{name}.py"
        return pytest.Module.from_parent(session, path=path, nodeid=f"dbverify/{name}")

    def _selection_sound(
        self,
        session: pytest.Session,
        modules: Sequence[pytest.Module],
        items: Sequence[pytest.Item],
    ) -> bool:
        """Refuse include/exclude patterns that would quietly run fewer checks, or none.

        Patterns match check names: the built-in checks' and those of your tests marked
        dbverify. A worker cannot raise a usage error of its own: it asks the controller to
        stop with the words (see ``_catalogs_read``), and False is returned.

        Raises:
            pytest.UsageError: an include pattern matches no check, or none is left.
        """
        names = {
            name for module in modules for name in vars(module.obj) if name.startswith("test_")
        }
        names.update(_test_name(item) for item in items if item.get_closest_marker("dbverify"))
        try:
            self._refuse_empty_selection(names)
        except pytest.UsageError as err:
            if self._workerinput is None:
                raise
            session.shouldstop = f"{_USAGE_STOP}{err}"
            return False
        return True

    def _refuse_empty_selection(self, names: set[str]) -> None:
        src = self.settings.sources
        unmatched = [
            pattern
            for pattern in self.settings.include
            if not any(fnmatch.fnmatchcase(name, pattern) for name in names)
        ]
        if unmatched:
            raise pytest.UsageError(
                f"include ({src['include']}) pattern {', '.join(repr(p) for p in unmatched)} "
                "matches no check: check the name (`pytest --dbverify --co -q` lists the "
                "checks; --dbverify-include)"
            )
        if not any(self._name_selected(name) for name in names):
            raise pytest.UsageError(
                f"exclude ({src['exclude']}) leaves no check to run"
                + (f" of those include ({src['include']}) selects" if self.settings.include else "")
                + ": nothing would be verified (--dbverify-exclude)"
            )

    def _catalogs_read(self, module: str, session: pytest.Session) -> bool:
        """Read the catalogs a check module is generated from, or end the run saying why.

        Read here, not first inside the module's parametrization: pytest would turn the
        error into one collection error per module, each with a traceback. An xdist
        worker cannot exit with words of its own: it collects nothing and asks the
        controller to stop with them (``session.shouldstop``); False then.
        """
        if module not in _GENERATED_FROM_CATALOGS:
            return True
        try:
            self.target_catalog() if module == "drift" else self.expected_catalog()
        except CatalogLocked as err:
            if self._workerinput is None:
                pytest.exit(f"dbverify: {err}", returncode=1)
            session.shouldstop = f"dbverify: {err}"
            return False
        return True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Start the rollback round trip now if an item will ask for it.

        It works on a throwaway server of its own and mostly waits on dbmate and DDL, so
        it runs beside the checks instead of in front of the first item that needs it.
        """
        if session.config.option.collectonly or not self.settings.round_trip:
            return
        wanted = any(_module_name(item) == _ROUND_TRIP_CHECKS for item in session.items)
        if wanted and self.settings.migrations_dir.is_dir():
            self._round_trip = self._start_round_trip()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        """Remember an xdist worker's usage error: the run then ends with pytest's code 4."""
        stop = getattr(node, "workeroutput", {}).get("shouldstop")
        if isinstance(stop, str) and stop.startswith(_USAGE_STOP):
            self.usage_error = stop.removeprefix(_USAGE_STOP)

    @pytest.hookimpl(tryfirst=True)  # before the report, which may need the expectation
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Fail a run that verified nothing (every check skipped): a deploy gate never passes so."""
        if self._workerinput is not None:
            return
        self._expect_for_the_report()
        if self.usage_error is not None:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        elif (
            exitstatus == pytest.ExitCode.OK
            and not session.config.option.collectonly
            and not (self._outcomes["passed"] or self._outcomes["failed"])
        ):
            self.say(
                f"dbverify: nothing was verified: all {self._outcomes['skipped']} selected "
                "checks were skipped (-rs says why), and a run that checks nothing fails"
            )
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Make every failure safe to print; a built-in check's failure one line.

        A built-in check reports what it observed, not the plugin's source: its failure
        is the message alone (a lost connection says so). Any report's text that holds
        the target's password, a user's own test included, is redacted.
        """
        report = yield
        secrets = self.secrets
        excinfo = call.excinfo
        line = failure_line(excinfo.value) if excinfo is not None else None
        if report.failed and line is not None and item.nodeid.startswith("dbverify/"):
            report.longrepr = redact_text(line, secrets)
        if excinfo is not None and isinstance(excinfo.value, PoolTimeout):
            # No connection within the connect budget, after a pool that worked: the
            # target is gone for this run; the remaining checks say so at once.
            self.gone = redact_text(
                f"no connection to the target: {server_words(excinfo.value)}", secrets
            )
        _redact_report(report, secrets)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        """Make a collection error safe to print: a user's module may quote the password."""
        report = yield
        _redact_report(report, self.secrets)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Fail a check at once when the target stopped answering earlier in this run.

        A built-in check that depends on an object a root cause already reports (a
        pending migration, a missing table, a dropped constraint) is skipped, naming it.
        """
        if self.gone is not None and item.get_closest_marker("dbverify") is not None:
            pytest.fail(
                f"not checked: the target stopped answering earlier ({self.gone})", pytrace=False
            )
        callspec = getattr(item, "callspec", None)
        if callspec is None or not item.nodeid.startswith("dbverify/") or self.connect_error:
            return
        cause = self.root_cause(list(callspec.params.values()))
        if cause is not None:
            item.user_properties.append((ROOT_CAUSE_PROPERTY, cause.item))
            # A mark, not pytest.skip(): pytest then reports the skip at the item.
            item.add_marker(pytest.mark.skip(reason=cause.reason()))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count outcomes for the summary."""
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._outcomes[report.outcome] += 1

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Close with the target, server, counts and wall time."""
        if self.target is None:
            return
        facts = self.facts
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self._outcomes.items()))
        migrations_dir = self.settings.migrations_dir
        migrations = len(migration_files(migrations_dir)) if migrations_dir.is_dir() else 0
        terminalreporter.write_sep("-", "dbverify summary")
        findings = summary.lines(self.coverage.outcomes(), width=_TERMINAL_WIDTH)
        proven_at = next((n for n, line in enumerate(findings) if line.startswith("proven")), 0)
        for line in findings[:proven_at]:  # the root causes come first
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"target:  {self.target.shown} ({self.target.source})")
        terminalreporter.write_line(
            f"server:  PostgreSQL {facts.version}" if facts else "server:  unreachable"
        )
        if facts:
            terminalreporter.write_line(
                f"objects: {facts.tables} tables in {', '.join(self.settings.schemas)}, "
                f"{migrations} migration files"
            )
        if self.pool_note:
            terminalreporter.write_line(f"pool:    {self.pool_note}")
        for line in findings[proven_at:]:
            terminalreporter.write_line(line)
        terminalreporter.write_line(
            f"checks:  {sum(self._outcomes.values())} ({counts or 'none run'}) "
            f"in {time.perf_counter() - self._started:.2f}s"
        )

    def pytest_unconfigure(self) -> None:
        """Close the pool and stop the throwaway servers this process started."""
        if self._round_trip is not None:
            wait([self._round_trip])  # it drops its database on a server stopped below
        if self._pool is not None:
            if self._lent is not None:
                self._pool.putconn(self._lent[0])
                self._lent = None
            self._pool.close()
            self._pool = None
        if self._oracle is not None:
            self._oracle.close()
        self._expected_servers.stop()
        self._stop_redacting_logs()
        # What the run built (items, reports, catalogs, strategies) dies with the process:
        # spare pytest's closing gc.collect() passes and the interpreter's own scanning and
        # freeing it (over a second at 500 tables, per process). A program that goes on
        # after pytest.main() keeps those objects; new ones are collected as before.
        gc.freeze()

    # -- services for fixtures and checks ---------------------------------------------

    @property
    def target_is_throwaway(self) -> bool:
        """Return True when the target is the throwaway server built from the migrations."""
        return self.target is not None and self.target.conninfo == self.expectation.conninfo

    def pool(self) -> ConnectionPool[GuardedConnection]:
        """Return this process's pool, opening it (with retries) on first use."""
        if self.connect_error:
            pytest.fail(self.connect_error, pytrace=False)
        if self._pool is None:
            assert self.target is not None
            # connect() inside retries and explains; a full server grants fewer than 2.
            slots = count_slots(self.target, self.settings, wanted=2)
            self.pool_note = slots.note
            self._pool = open_pool(self.target, self.settings, max_size=slots.got)
        return self._pool

    @contextmanager
    def checks_connection(self) -> Iterator[GuardedConnection]:
        """Lend a built-in check a pooled connection, idle, kept for the next check.

        The pool checks a connection at every loan (a round trip): one kept from the
        check before is used again while it is fresh. One that broke, or was left in a
        transaction, goes back to the pool, which replaces or resets it.
        """
        pool = self.pool()
        lent, self._lent = self._lent, None
        if lent is not None and (
            time.monotonic() - lent[1] > _KEEP_LENT_SECONDS or _spoke_unasked(lent[0])
        ):
            pool.putconn(lent[0])  # idle long, or the server ended it: the pool checks
            lent = None
        conn = lent[0] if lent is not None else pool.getconn()
        try:
            yield conn
        finally:
            idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            # With a single slot, keeping it would leave none for your own tests.
            if conn.broken or not idle or pool.max_size < 2:
                pool.putconn(conn)
            else:
                self._lent = (conn, time.monotonic())

    def expected_catalog(self) -> Catalog:
        """Return the expected schema's catalog (from the migrations), loaded once per process."""
        if self._expected_catalog is None:
            if self.expectation.conninfo is None:
                self._expected_catalog = self.target_catalog()
            else:
                if self._name_selected("test_schema_drift") and not self.connect_error:
                    self._read_target_catalog_meanwhile()
                with psycopg.connect(self.expectation.conninfo, autocommit=True) as conn:
                    self._expected_catalog = self._load(conn)
        return self._expected_catalog

    def target_catalog(self) -> Catalog:
        """Return the target's own catalog, loaded once per process."""
        if self._target_catalog is None:
            reading, self._target_catalog_read = self._target_catalog_read, None
            if reading is not None:
                self._target_catalog = reading.result()
            else:
                self._target_catalog = self._read_target_catalog(self.pool())
        return self._target_catalog

    def _read_target_catalog_meanwhile(self) -> None:
        """Start reading the target's snapshot while the expected one is read.

        Drift compares both at collection: each server answers its catalog queries
        while the other does. The pool is opened here, in the calling thread.
        """
        if self._target_catalog is not None or self._target_catalog_read is not None:
            return
        pool = self.pool()
        self._target_catalog_read = _in_background("catalog", self._read_target_catalog, pool)

    def _read_target_catalog(self, pool: ConnectionPool[GuardedConnection]) -> Catalog:
        with pool.connection() as conn:
            try:
                catalog = self._load(conn)
            except psycopg.errors.LockNotAvailable as err:
                # Reading a column default opens its table: a migration holding ACCESS
                # EXCLUSIVE stops the catalog, and every check generated from it.
                assert self.target is not None
                words = redact_text(str(err).splitlines()[0], self.secrets)
                raise CatalogLocked(
                    f"cannot read the catalog of {self.target.shown}: {words} after "
                    f"{self.settings.lock_timeout:g}s (lock_timeout): another session holds "
                    "a table of it locked (a migration still running?); run again when it "
                    "ends, or wait longer with --dbverify-lock-timeout"
                ) from None
            conn.rollback()
        return catalog

    def oracle(self) -> psycopg.Connection | None:
        """Return a connection to the expected database (to evaluate its expressions), if any."""
        if self.expectation.conninfo is None:
            return None
        if self._oracle is None or self._oracle.closed:
            self._oracle = psycopg.connect(self.expectation.conninfo, autocommit=True)
        return self._oracle

    def round_trip(self) -> RoundTrip:
        """Return the rollback round trip of the migrations, run once per process.

        It runs in a database of its own on the run's throwaway server (or on one started
        for it when the expected schema came from ``--dbverify-expected-url``): never on
        the target, never on a database the user named.
        """
        if self._round_trip is None:
            self._round_trip = self._start_round_trip()
        return self._round_trip.result()

    def _start_round_trip(self) -> Future[RoundTrip]:
        from pytest_dbverify.roundtrip import run_round_trip  # only when a check asks

        single_pass = self.expected_catalog() if self.expectation.server else None
        return _in_background(
            "round-trip",
            lambda: run_round_trip(
                self._scratch_server(),
                self.settings.migrations_dir,
                schemas=self.settings.schemas,
                migrations_table=self.settings.migrations_table,
                exclude_tables=self.settings.exclude_tables,
                single_pass=single_pass,
                setup=self.settings.setup,
            ),
        )

    def data_scan(self) -> dict[str, Finding]:
        """Return the scan of the target's rows against the expected rules, once per process.

        One read-only REPEATABLE READ snapshot on a connection of its own (closed after),
        each statement bounded by ``statement_timeout``.
        """
        if self._data_scan is None:
            from pytest_dbverify.data_scan import scan  # only when a check asks

            assert self.target is not None
            began = time.perf_counter()
            with connect(self.target, self.settings) as conn:
                self._data_scan = scan(conn, self.checked_tables(), self.target_catalog())
            self.data_scan_seconds = time.perf_counter() - began
        return self._data_scan

    def _scratch_server(self) -> ServerInfo:
        if self.expectation.server is not None:
            return ServerInfo.from_json(self.expectation.server)
        kind: ServerKind = "system" if self.settings.server == "system" else "embedded"
        server = ThrowawayServer(find_binaries(kind))
        self._expected_servers.servers.append(server)
        return server.start()

    def differences(self) -> list[Difference]:
        """Return the drift: expected vs deployed, one difference per object (once per process)."""
        if self._differences is None:
            from pytest_dbverify.schema_diff import compare

            self._differences = compare(
                self.expected_catalog(),
                self.target_catalog(),
                ignore_tables=[self.settings.migrations_table],
            )
        return self._differences

    def root_cause(self, params: Sequence[object]) -> Cause | None:
        """Return the selected item that already reports why a check with ``params`` fails."""
        from pytest_dbverify.rootcause import dependencies
        from pytest_dbverify.schema_diff import Difference

        causes = self._causes()
        if not causes:  # no expectation apart from the target, or nothing wrong
            return None
        drift = next((p for p in params if isinstance(p, Difference)), None)
        if drift is not None:
            return causes.of_drift(drift)
        needed = dependencies(params, self.expected_catalog())
        return causes.of_check(needed) if needed is not None else None

    def _causes(self) -> RootCauses | None:
        """Index the root causes of this session, once per process (None: no expectation)."""
        if self._root_causes is None:
            if self.expectation.conninfo is None:
                return None
            from pytest_dbverify.rootcause import DRIFT_CHECK, MIGRATION_CHECK, RootCauses

            selected = self._selected_names
            drift_runs = any(name.startswith(f"{DRIFT_CHECK}[") for name in selected)
            history_runs = any(name.startswith(f"{MIGRATION_CHECK}[") for name in selected)
            self._root_causes = RootCauses(
                self.differences() if drift_runs else [],
                self._created_by_pending() if history_runs else {},
                selected,
            )
        return self._root_causes

    def _created_by_pending(self) -> dict[str, str]:
        """Return which pending migration creates each object the target lacks."""
        from pytest_dbverify.checks.migrations import applied_versions
        from pytest_dbverify.roundtrip import created_by

        try:
            applied = set(applied_versions(self))
        except pytest.fail.Exception:
            return {}  # no dbmate table: its own check says so
        files = migration_files(self.settings.migrations_dir)
        pending = [file for file in files if file.version not in applied]
        if not pending:
            return {}
        return created_by(
            self._scratch_server(),
            files,
            pending,
            schemas=self.settings.schemas,
            migrations_table=self.settings.migrations_table,
            setup=self.settings.setup,
        )

    def checked_tables(self) -> list[Table]:
        """Return the expected tables the write checks cover (not dbmate's bookkeeping)."""
        if self._checked_tables is None:
            bookkeeping = self.settings.migrations_table
            self._checked_tables = [
                table
                for table in self.expected_catalog().tables
                if table.partition_of is None and not table.name.matches(bookkeeping)
            ]
        return list(self._checked_tables)

    def _load(self, conn: psycopg.Connection) -> Catalog:
        return load_catalog(conn, self.settings.schemas, self.settings.exclude_tables)

    # -- internals --------------------------------------------------------------------

    def _join_controller(self, shared_json: str) -> None:
        """Take the target, expectation and schemas the controller settled (xdist worker)."""
        shared = json.loads(shared_json)
        self.connect_error = shared["connect_error"]
        self.expectation = Expectation(**shared["expectation"])
        self.settings = dataclasses.replace(
            self.settings,
            schemas=tuple(shared["schemas"]),
            sources={**self.settings.sources, "schemas": shared["schemas_source"]},
        )
        self.target = Target(shared["conninfo"], shared["source"], shared["label"])

    def _start(self) -> None:
        """Reach the target, build the expected schema, settle what is verified.

        The target is reached first: an unreachable one is reported at once, without the
        cost of a throwaway server and the migrations.
        """
        target = resolve_target(self.settings)
        if target is not None:
            self.target = target
            self.facts = self._probe(target)
        self.expectation = self._build_expectation(target)
        if self.target is None:
            assert self.expectation.conninfo is not None  # built from the migrations
            self.target = Target(
                self.expectation.conninfo, "throwaway server with the migrations applied"
            )
            self.facts = self._probe(self.target)
        self._settle_scope()

    def _build_expectation(self, target: Target | None) -> Expectation:
        """Return where the expected schema comes from, building it from the migrations.

        Raises:
            pytest.UsageError: expect=target without a target.
            ExpectationError: no throwaway server can apply the migrations.
            MigrationError: a migration does not apply.
        """
        src = self.settings.sources
        if self.settings.expected_url is not None:
            # Parsed as the target is: an unencoded '@' in its password would otherwise
            # reach libpq's words as a host name.
            source = src["expected_url"]
            expected = checked(Target(self.settings.expected_url, f"expected_url ({source})"))
            shown = redact_conninfo(expected.conninfo)
            return Expectation(expected.conninfo, f"{shown} ({source})")
        if self.settings.expect == "target":
            if target is None:
                raise pytest.UsageError(
                    "nothing to verify: no target is set (--dbverify-url, DATABASE_URL, .env, "
                    f"PG* variables) and expect=target ({src['expect']}) takes the expected "
                    "schema from it: set a target, or leave expect at migrations"
                )
            return Expectation(None, f"the target's own catalog (expect=target, {src['expect']})")
        # validate() made sure the directory exists and holds migrations.
        kind: ServerKind = "system" if self.settings.server == "system" else "embedded"
        return self._expected_servers.build(
            self.settings.migrations_dir, kind, self.say, self.settings.setup
        )

    def _expect_for_the_report(self) -> None:
        """Build the expected schema late, for a report on a run that could not connect.

        The report then lists every object the migrations create, each unchecked. The
        unreachable target was reported at once; only a run that writes a report pays.
        """
        from pytest_dbverify.report import STEP_SUMMARY_ENV

        wanted = self.settings.report is not None or os.environ.get(STEP_SUMMARY_ENV)
        if not (wanted and self.connect_error and self.expectation.conninfo is None):
            return
        try:
            self.expectation = self._build_expectation(self.target)
            if self.expectation.conninfo is not None:
                with psycopg.connect(self.expectation.conninfo, connect_timeout=10) as conn:
                    self._settle_schemas(_own_schemas(conn))
        except (DbverifyError, pytest.UsageError, psycopg.Error) as err:
            secrets = self.target.secrets if self.target else set()
            self.say(
                f"dbverify: the report lists no catalog objects: {redact_text(str(err), secrets)}"
            )

    def _settle_scope(self) -> None:
        """Settle the schemas to verify; refuse names that match nothing and empty runs.

        ``schemas`` defaults to every schema of the expected database that is neither a
        system schema nor an extension's (public when the target is its own expectation):
        a schema the migrations create is never left out unnoticed.

        Raises:
            pytest.UsageError: a schema or excluded table that exists nowhere, or a target
                that is its own expectation and has no table to verify.
        """
        assert self.target is not None
        assert self.facts is not None
        with ExitStack() as stack:
            deployed = stack.enter_context(connect(self.target, self.settings))
            expected = deployed
            if self.expectation.conninfo is not None:
                expected = stack.enter_context(
                    psycopg.connect(self.expectation.conninfo, connect_timeout=10)
                )
            own = _own_schemas(expected)
            self._settle_schemas(own)
            schemas = self.settings.schemas
            missing = _missing_schemas(expected, _missing_schemas(deployed, schemas))
            expected_tables = list_tables(expected, schemas)
            deployed_tables = list_tables(deployed, schemas)
        self.left_out = tuple(name for name in own if name not in schemas)
        self._refuse_unknown_schemas(missing)
        self._refuse_unknown_exclusions([*expected_tables, *deployed_tables])
        ours = [
            table
            for table in deployed_tables
            if not table.matches(self.settings.migrations_table)
            and not any(table.matches(name) for name in self.settings.exclude_tables)
        ]
        self.facts = dataclasses.replace(self.facts, tables=len(ours))
        if not ours and self.expectation.conninfo is None:
            raise pytest.UsageError(
                f"nothing to verify: the target has no tables in schemas {', '.join(schemas)} "
                f"and expect=target ({self.settings.sources['expect']}) takes its own catalog "
                "as the expectation: is this the right database? (--dbverify-url, "
                "--dbverify-schemas)"
            )

    def _settle_schemas(self, own: Sequence[str]) -> None:
        """Give ``schemas`` its default: the expected database's own schemas."""
        if self.settings.schemas:
            return
        schemas: tuple[str, ...] = ("public",)
        source = "default with expect=target"
        if self.expectation.conninfo is not None:
            schemas, source = tuple(own), f"default: {EVERY_SCHEMA}"
        self.settings = dataclasses.replace(
            self.settings, schemas=schemas, sources={**self.settings.sources, "schemas": source}
        )

    def _refuse_unknown_schemas(self, unknown: Sequence[str]) -> None:
        if unknown:
            raise pytest.UsageError(
                f"schemas ({self.settings.sources['schemas']}) names "
                f"{', '.join(repr(name) for name in unknown)}, which exists neither on the "
                "target nor in the expected schema: check the name (--dbverify-schemas)"
            )

    def _refuse_unknown_exclusions(self, tables: Sequence[TableName]) -> None:
        unknown = [
            name
            for name in self.settings.exclude_tables
            if not any(table.matches(name) for table in tables)
        ]
        if unknown:
            raise pytest.UsageError(
                f"exclude_tables ({self.settings.sources['exclude_tables']}) names "
                f"{', '.join(repr(name) for name in unknown)}, which is a table neither in the "
                f"expected schema nor on the target (schemas {', '.join(self.settings.schemas)})"
                ": check the name (--dbverify-exclude-tables)"
            )

    def say(self, line: str, *, end: str = "\n") -> None:
        """Write to the controller's terminal; ``end=" "`` keeps the line open."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        if end == "\n":
            reporter.write_line(line)
        else:
            reporter.write(line + end, flush=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: object) -> None:
        """Hand the resolved target to each xdist worker."""
        assert self.target is not None
        shared = {
            "conninfo": self.target.conninfo,
            "source": self.target.source,
            "label": self.target.label,
            "connect_error": self.connect_error,
            "expectation": dataclasses.asdict(self.expectation),
            "schemas": list(self.settings.schemas),
            "schemas_source": self.settings.sources["schemas"],
        }
        node.workerinput[_TARGET_KEY] = json.dumps(shared)  # type: ignore[attr-defined]

    def _probe(self, target: Target) -> ServerFacts:
        """Connect (retrying what can heal) and learn the server; tables are counted later."""
        with connect(target, self.settings) as conn:
            began = time.perf_counter()
            conn.execute("SELECT 1")
            latency = (time.perf_counter() - began) * 1000
            row = conn.execute(
                "SELECT current_setting('server_version'), "
                "current_setting('server_version_num')::int, current_database(), current_user"
            ).fetchone()
        assert row is not None
        return ServerFacts(row[0], row[1], row[2], row[3], latency, tables=0)

    def _selected(self, item: pytest.Item) -> bool:
        if item.get_closest_marker("dbverify") is None:
            return False
        return self._name_selected(_test_name(item))

    def _name_selected(self, name: str) -> bool:
        include, exclude = self.settings.include, self.settings.exclude
        if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
            return False
        return not any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)


def _own_schemas(conn: psycopg.Connection) -> tuple[str, ...]:
    """Return the schemas of a database that a project made: not the system's, no extension's.

    ``pg_*`` names are reserved for the system (pg_catalog, pg_toast, temporary schemas).
    """
    rows = conn.execute(
        "SELECT n.nspname FROM pg_catalog.pg_namespace n "
        "WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' "
        "AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d "
        "WHERE d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid "
        "AND d.deptype = 'e') ORDER BY n.nspname"
    ).fetchall()
    return tuple(row[0] for row in rows)


def _missing_schemas(conn: psycopg.Connection, names: Sequence[str]) -> tuple[str, ...]:
    """Return the schemas among ``names`` that the database of ``conn`` lacks."""
    present = {
        row[0]
        for row in conn.execute(
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY(%s)", [list(names)]
        )
    }
    return tuple(name for name in names if name not in present)


def _redact_report(
    report: pytest.TestReport | pytest.CollectReport, secrets: frozenset[str]
) -> None:
    """Redact a report's failure text (a traceback becomes its redacted text) and sections."""
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):  # not a skip
        text = str(report.longrepr)
        redacted = redact_text(text, secrets)
        if redacted != text:
            report.longrepr = redacted
    report.sections = [(title, redact_text(content, secrets)) for title, content in report.sections]


def _test_name(item: pytest.Item) -> str:
    """Return the name include/exclude patterns match: the function's, without the id."""
    return item.originalname if isinstance(item, pytest.Function) else item.name


def _stop_at_start(session: pytest.Session, line: str) -> NoReturn:
    """End the run before it starts: ``line`` once, on stderr, and exit status 1.

    ``pytest.exit`` here would print it twice: pytest's session wrapper writes ``Exit:
    ...`` for an exit before the session started, then the terminal reporter reports the
    same exception as ``_pytest.outcomes.Exit: ...`` at unconfigure. ``Session.Failed``
    ends the session with status 1 and says nothing of its own.
    """
    sys.stderr.write(f"ERROR: {line}\n")
    raise session.Failed(line)


def failure_line(err: BaseException) -> str | None:
    """Return what a failed built-in check observed, or None for a bug (keep its traceback)."""
    if isinstance(err, PoolTimeout):  # an OperationalError too, but no session was lost
        return f"no connection to the target: {server_words(err)}"
    if (isinstance(err, psycopg.OperationalError) and err.sqlstate is None) or isinstance(
        err, psycopg.errors.AdminShutdown | psycopg.errors.CrashShutdown
    ):
        return f"lost the connection to the target during the check: {server_words(err)}"
    if isinstance(err, psycopg.Error):
        words = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"{type(err).__name__} [{err.sqlstate}] {words}"
    if isinstance(err, pytest.fail.Exception):
        return err.msg  # the check's own words, without the error it was handling
    if not isinstance(err, AssertionError):
        return None
    # Assertion rewriting appends "assert <expr>" lines after our message: drop them.
    message = str(err).split("\nassert ", 1)[0].strip() or "assertion failed"
    notes = getattr(err, "__notes__", [])  # hypothesis: the falsifying example
    return "\n".join([message, *notes])


_ROUND_TRIP_CHECKS = "pytest_dbverify.checks.roundtrip"
# How an xdist worker's usage error reaches the controller (session.shouldstop).
_USAGE_STOP = "dbverify usage error: "


class CatalogLocked(DbverifyError):
    """The target's catalog cannot be read: a table of it is locked by another session."""


def _in_background(name: str, work: Callable[..., T], *args: object) -> Future[T]:
    """Run ``work(*args)`` on a thread of its own; the future holds its result or error."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"dbverify-{name}")
    future = executor.submit(work, *args)
    executor.shutdown(wait=False)  # the thread ends with the work
    return future


def _spoke_unasked(conn: psycopg.Connection) -> bool:
    """Return True if an idle connection has input waiting: the server said goodbye.

    A session the server ends (a restart, pg_terminate_backend, idle_session_timeout)
    gets a FATAL message, then EOF; we LISTEN to nothing. Seen without a round trip.
    """
    if conn.closed or conn.broken:
        return True
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


def _warm_up() -> None:
    """Import what the property checks run with.

    Only imports: hypothesis warns of strategies evaluated before its own session start.
    """
    from pytest_dbverify import properties

    del properties


def _nothing_to_check(item: pytest.Item) -> bool:
    """Return True for a check parametrized by no object (a schema without domains).

    pytest makes one skipped item of an empty parametrization; a schema with nothing of
    that kind has nothing to report there.
    """
    mark = item.get_closest_marker("skip")
    reason = str(mark.kwargs.get("reason", "")) if mark is not None else ""
    return reason.startswith("got empty parameter set")


def _module_name(item: pytest.Item) -> str | None:
    module = getattr(item, "module", None)
    return getattr(module, "__name__", None)


def get_run(config: pytest.Config) -> VerificationRun:
    """Return the run of this pytest session; a usage error without ``--dbverify``."""
    run = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if not isinstance(run, VerificationRun):
        raise pytest.UsageError("this needs a verification run: pass --dbverify")
    return run
