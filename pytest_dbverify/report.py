"""Coverage report: which catalog objects the checks exercised, and how each check fared.

Every collected check carries the objects it exercises as ``dbverify_object`` user
properties (``"constraint public.content.content_pkey"``): ``--junitxml`` shows them, and
pytest-xdist carries them back from the workers with each test report. The controller
gathers the reports and, at the end, writes the ``--dbverify-report`` JSON file and, when
GitHub Actions sets ``GITHUB_STEP_SUMMARY``, appends a Markdown summary to that file.

The objects come from the checks' parameters (a ``Table``, ``(Table, Column)``,
``(Table, Constraint)``, ``(Table, Index)``, a ``TableName`` or a ``MigrationFile``), so a
new check module is covered without registering anything. A test of your own names its
objects in its marker: ``@pytest.mark.dbverify(objects=["public.content.topic"])``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psycopg
import pytest

from pytest_dbverify import summary
from pytest_dbverify.catalog import Catalog, Column, Constraint, Index, Table, TableName
from pytest_dbverify.errors import DbverifyError
from pytest_dbverify.migrations import MigrationFile, migration_files
from pytest_dbverify.redact import redact_text

if TYPE_CHECKING:
    from pytest_dbverify.run import VerificationRun

PLUGIN_NAME = "dbverify-report"
PROPERTY = "dbverify_object"
FIX_PROPERTY = "dbverify_fix"  # the SQL that repairs a drifted object
ROOT_CAUSE_PROPERTY = "dbverify_root_cause"  # the item a skipped check is grouped under
ADVICE_PROPERTY = "dbverify_advice"  # what a passing check advises (lint, advisories)
FORMAT_VERSION = 1
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
ObjectKind = Literal["table", "column", "constraint", "index", "migration", "unknown"]
KINDS: tuple[ObjectKind, ...] = ("table", "column", "constraint", "index", "migration")
_MESSAGE_LIMIT = 2000
_SUMMARY_FAILURES = 50


@dataclass(frozen=True, order=True)
class CatalogObject:
    """One object a check exercises: its kind and its schema-qualified name."""

    kind: ObjectKind
    name: str

    @property
    def label(self) -> str:
        """Return ``kind name``, the form user properties and reports carry."""
        return f"{self.kind} {self.name}"

    @classmethod
    def from_label(cls, label: str) -> CatalogObject:
        """Parse ``kind name``; anything else is an object of unknown kind."""
        kind, _, name = label.partition(" ")
        if kind in (*KINDS, "unknown") and name:
            return cls(kind, name)
        return cls("unknown", label)


def advise(item: pytest.Item, message: str) -> None:
    """Report advice from a passing check: in the summary and the reports, not as a failure.

    Not a warning: a project with ``filterwarnings = error`` would turn it into one.
    """
    item.user_properties.append((ADVICE_PROPERTY, message))


def table_object(name: TableName) -> CatalogObject:
    """Return the object of a table."""
    return CatalogObject("table", str(name))


def member_object(table: TableName, kind: ObjectKind, name: str) -> CatalogObject:
    """Return the object of a column, constraint or index of ``table``."""
    return CatalogObject(kind, f"{table}.{name}")


def objects_of_param(value: object) -> list[CatalogObject]:
    """Return the objects a check parameter stands for (none for other values).

    A whole table stands for the table and every column an INSERT may name: the checks
    given a table (CRUD) write each of them. A NOT NULL column also stands for its
    ``not null`` constraint (PostgreSQL 18 lists those in pg_constraint).
    """
    if isinstance(value, TableName):
        return [table_object(value)]
    if isinstance(value, MigrationFile):
        return [CatalogObject("migration", value.name)]
    if isinstance(value, Table):
        columns = [c.name for c in value.columns if c.insertable]
        return [
            table_object(value.name),
            *(member_object(value.name, "column", c) for c in columns),
        ]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Table):
        return _member_of(value[0], value[1])
    return []


def _member_of(table: Table, member: object) -> list[CatalogObject]:
    if isinstance(member, Column):
        found = [member_object(table.name, "column", member.name)]
        found += [
            member_object(table.name, "constraint", c.name)
            for c in table.constraints
            if c.kind == "not null" and c.columns == (member.name,)
        ]
        return found
    if isinstance(member, Constraint):
        return [member_object(table.name, "constraint", member.name)]
    if isinstance(member, Index):
        return [member_object(table.name, "index", member.name)]
    # Another rule about a named thing of the table (keys.UniqueRule): a constraint or index.
    name = getattr(member, "name", None)
    if isinstance(name, str):
        if any(c.name == name for c in table.constraints):
            return [member_object(table.name, "constraint", name)]
        if any(i.name == name for i in table.indexes):
            return [member_object(table.name, "index", name)]
    return []


def resolve_name(text: str, catalog: Catalog) -> CatalogObject:
    """Resolve a name a user wrote (``content``, ``public.content.topic``) in ``catalog``.

    ``kind name`` is taken as written. Otherwise a name is a table (``table`` or
    ``schema.table``) or a member of one (``table.member``, ``schema.table.member``),
    looked up as a column, then a constraint, then an index. Unknown names resolve to an
    object of kind ``unknown``, which the report lists apart.
    """
    kind, _, name = text.partition(" ")
    if kind in KINDS and name:
        return CatalogObject.from_label(text)
    parts = text.strip().split(".")
    tables = {str(t.name): t for t in catalog.tables}
    by_name = {t.name.name: t for t in catalog.tables}
    if len(parts) == 1 and parts[0] in by_name:
        return table_object(by_name[parts[0]].name)
    if len(parts) == 2 and text in tables:
        return table_object(tables[text].name)
    if len(parts) in (2, 3):
        *table_parts, member = parts
        table = tables.get(".".join(table_parts)) or by_name.get(table_parts[-1])
        if table is not None and (len(parts) == 2 or str(table.name) == ".".join(table_parts)):
            for kind, names in (
                ("column", [c.name for c in table.columns]),
                ("constraint", [c.name for c in table.constraints]),
                ("index", [i.name for i in table.indexes]),
            ):
                if member in names:
                    return member_object(table.name, kind, member)  # type: ignore[arg-type]
    return CatalogObject("unknown", text)


def table_objects(table: Table) -> list[CatalogObject]:
    """Return a table and its columns, constraints and indexes."""
    return [
        table_object(table.name),
        *(member_object(table.name, "column", c.name) for c in table.columns),
        *(member_object(table.name, "constraint", c.name) for c in table.constraints),
        *(member_object(table.name, "index", i.name) for i in table.indexes),
    ]


def all_objects(catalog: Catalog | None, migrations_dir: Path) -> list[CatalogObject]:
    """Return every object a run could check: the catalog's and the migration files."""
    found = [obj for table in (catalog.tables if catalog else ()) for obj in table_objects(table)]
    if migrations_dir.is_dir():
        found += [CatalogObject("migration", m.name) for m in migration_files(migrations_dir)]
    return found


def static_reasons(catalog: Catalog | None, migrations_table: str) -> dict[CatalogObject, str]:
    """Return why the built-in checks leave some objects alone, by design."""
    reasons: dict[CatalogObject, str] = {}
    for table in catalog.tables if catalog else ():
        why = None
        if table.partition_of is not None:
            why = f"part of a partition of {table.partition_of}: the checks run on the parent"
        elif table.name.matches(migrations_table):
            why = "part of dbmate's bookkeeping table: the migration checks read it"
        if why is not None:
            reasons.update(dict.fromkeys(table_objects(table), why))
            continue
        computed = {c.name for c in table.columns if not c.insertable}
        for name in computed:
            reasons[member_object(table.name, "column", name)] = (
                "identity ALWAYS or generated: the database computes it, no check writes it"
            )
        for constraint in table.constraints:
            if constraint.kind == "not null" and set(constraint.columns) <= computed:
                reasons[member_object(table.name, "constraint", constraint.name)] = (
                    "NOT NULL of an identity ALWAYS or generated column: no INSERT may name it"
                )
    return reasons


@dataclass
class CheckResult:
    """The outcome of one check item, from its setup, call and teardown reports."""

    nodeid: str
    objects: tuple[str, ...]
    outcome: str = "passed"
    duration: float = 0.0
    message: str | None = None
    fix: str | None = None
    root_cause: str | None = None
    advice: str | None = None

    def add(self, report: pytest.TestReport, secrets: Iterable[str]) -> None:
        """Fold one phase's report into the result."""
        self.duration += report.duration
        failed = "error" if report.when != "call" else "failed"
        if report.when == "call" and hasattr(report, "wasxfail"):
            self.outcome = "xfailed" if report.skipped else "xpassed"
            self.message = str(getattr(report, "wasxfail", "")) or None
        elif report.failed and self.outcome not in ("failed", "error"):
            self.outcome = failed
            self.message = _message(report, secrets)
        elif report.skipped:
            self.outcome = "skipped"
            self.message = _message(report, secrets)


def _message(report: pytest.TestReport, secrets: Iterable[str]) -> str | None:
    longrepr: Any = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:  # a skip: (path, line, why)
        text = str(longrepr[2]).removeprefix("Skipped: ")
    elif getattr(longrepr, "reprcrash", None) is not None:
        text = longrepr.reprcrash.message
    else:
        text = str(longrepr)
    for prefix in ("Failed: ", "AssertionError: "):  # pytest.fail and assert say nothing more
        text = text.strip().removeprefix(prefix)
    text = redact_text(text.strip(), secrets)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


@dataclass
class ReportFacts:
    """What the report says about the run besides the checks."""

    target: str
    target_source: str
    server_version: str | None
    expected_schema: str
    exit_status: int
    duration_s: float
    connect_error: str | None = None


@dataclass
class Coverage:
    """Checks by node id and the objects each exercised; builds the JSON and Markdown."""

    checks: dict[str, CheckResult] = field(default_factory=dict)
    deselected: set[CatalogObject] = field(default_factory=set)

    def record(self, report: pytest.TestReport, secrets: Iterable[str] = ()) -> None:
        """Fold a test report into the check results."""
        labels = tuple(str(v) for k, v in report.user_properties if k == PROPERTY)
        result = self.checks.setdefault(report.nodeid, CheckResult(report.nodeid, labels))
        result.add(report, secrets)
        for key, value in report.user_properties:
            if key == FIX_PROPERTY:
                result.fix = str(value)
            elif key == ROOT_CAUSE_PROPERTY:
                result.root_cause = str(value)
            elif key == ADVICE_PROPERTY:
                result.advice = redact_text(str(value), secrets)

    def outcomes(self) -> list[summary.Outcome]:
        """Return the finished checks as the summary reads them."""
        return [
            summary.Outcome(r.nodeid, r.outcome, r.message, r.root_cause, r.advice)
            for r in self.checks.values()
        ]

    def build(
        self,
        facts: ReportFacts,
        universe: Sequence[CatalogObject],
        reasons: Mapping[CatalogObject, str],
        *,
        stopped_early: bool = False,
    ) -> dict[str, Any]:
        """Return the report as plain data, ready for ``json.dumps``."""
        by_object: dict[CatalogObject, list[CheckResult]] = {obj: [] for obj in universe}
        for result in self.checks.values():
            for label in result.objects:
                by_object.setdefault(CatalogObject.from_label(label), []).append(result)
        objects = []
        for obj in sorted(by_object, key=_object_order):
            results = by_object[obj]
            status = _status(results)
            entry: dict[str, Any] = {
                "kind": obj.kind,
                "name": obj.name,
                "status": status,
                "checks": [{"id": r.nodeid, "outcome": r.outcome} for r in results],
            }
            if status in ("skipped", "unchecked"):
                entry["reason"] = self._reason(obj, results, reasons, facts, stopped_early)
            objects.append(entry)
        counts = Counter(r.outcome for r in self.checks.values())
        statuses = Counter(entry["status"] for entry in objects)
        return {
            "format": FORMAT_VERSION,
            "tool": "pytest-dbverify",
            "target": facts.target,
            "target_source": facts.target_source,
            "server_version": facts.server_version,
            "expected_schema": facts.expected_schema,
            "exit_status": facts.exit_status,
            "duration_s": round(facts.duration_s, 3),
            "connect_error": facts.connect_error,
            "counts": dict(sorted(counts.items())),
            "summary": summary.as_report(self.outcomes()),
            "objects_summary": {"total": len(objects), **dict(sorted(statuses.items()))},
            "objects": objects,
            "unchecked": [
                {"kind": e["kind"], "name": e["name"], "reason": e["reason"]}
                for e in objects
                if e["status"] in ("skipped", "unchecked")
            ],
            "checks": [
                {
                    "id": r.nodeid,
                    "outcome": r.outcome,
                    "duration_s": round(r.duration, 3),
                    "objects": list(r.objects),
                    "message": r.message,
                    "fix": r.fix,
                    "root_cause": r.root_cause,
                    "advice": r.advice,
                }
                for r in self.checks.values()
            ],
        }

    def _reason(
        self,
        obj: CatalogObject,
        results: Sequence[CheckResult],
        reasons: Mapping[CatalogObject, str],
        facts: ReportFacts,
        stopped_early: bool,
    ) -> str:
        if results:
            why = sorted({r.message or "no reason given" for r in results})
            return "skipped: " + "; ".join(why)
        if obj.kind == "unknown":
            return "named by a test's dbverify(objects=...) marker, but not in the expected schema"
        if obj in reasons:
            return reasons[obj]
        if facts.connect_error:
            return "the target was unreachable: no check ran"
        if obj in self.deselected:
            return "its checks were deselected (-k, --lf, --dbverify-include/--dbverify-exclude)"
        if stopped_early:
            return "the run stopped before its checks (-x, --maxfail or an interrupt)"
        return (
            "no check ran for it: deselected (-k, --lf, --dbverify-include/--dbverify-exclude) "
            "or no built-in check covers it"
        )


def _object_order(obj: CatalogObject) -> tuple[int, str]:
    return (KINDS.index(obj.kind) if obj.kind in KINDS else len(KINDS), obj.name)


def _status(results: Sequence[CheckResult]) -> str:
    outcomes = {r.outcome for r in results}
    if outcomes & {"failed", "error", "xpassed"}:
        return "failed"
    if outcomes & {"passed", "xfailed"}:
        return "passed"
    return "skipped" if outcomes else "unchecked"


def markdown_summary(report: Mapping[str, Any]) -> str:
    """Return a short Markdown summary of a report, for ``GITHUB_STEP_SUMMARY``."""
    counts: Mapping[str, int] = report["counts"]
    failures = [c for c in report["checks"] if c["outcome"] in ("failed", "error", "xpassed")]
    verdict = f"{len(failures)} failed" if failures else "passed"
    if report["connect_error"]:
        verdict = "target unreachable"
    objects: Mapping[str, int] = report["objects_summary"]
    not_checked = objects.get("skipped", 0) + objects.get("unchecked", 0)
    lines = [
        f"### pytest-dbverify: {verdict}",
        "",
        "| | |",
        "|---|---|",
        f"| Target | `{_cell(report['target'])}` ({_cell(report['target_source'])}) |",
        f"| Server | {_server(report)} |",
        f"| Expected schema | {_cell(report['expected_schema'])} |",
        "| Checks | "
        + (", ".join(f"{n} {outcome}" for outcome, n in counts.items()) or "none run")
        + f" in {report['duration_s']:.1f}s |",
        f"| Objects | {objects['total']} in the catalog, {objects.get('passed', 0)} passed, "
        f"{objects.get('failed', 0)} failed, {not_checked} not checked |",
        "",
    ]
    if report["connect_error"]:
        lines += [f"> {_cell(report['connect_error'])}", ""]
    found: Mapping[str, Any] = report["summary"]
    for cause in found["root_causes"]:
        lines.append(
            f"- **Root cause** `{_cell(cause['check'])}`: {_cell(cause['message'])} "
            f"({len(cause['grouped'])} checks not run because of it)"
        )
    if found["proven"]:
        lines += ["", "**Proven:** " + _cell("; ".join(found["proven"])), ""]
    if failures:
        lines += ["| Failed check | Object | Message |", "|---|---|---|"]
        for check in failures[:_SUMMARY_FAILURES]:
            message = (check["message"] or "").strip().splitlines()
            lines.append(
                f"| `{_cell(check['id'])}` | {_cell(', '.join(check['objects']) or '-')} "
                f"| {_cell(message[0] if message else '')} |"
            )
        if len(failures) > _SUMMARY_FAILURES:
            lines.append(f"\n{len(failures) - _SUMMARY_FAILURES} more in the JSON report.")
        lines.append("")
    return "\n".join(lines) + "\n"


def _server(report: Mapping[str, Any]) -> str:
    if report["server_version"]:
        return f"PostgreSQL {_cell(report['server_version'])}"
    return "unreachable" if report["connect_error"] else "unknown"


def _cell(text: str) -> str:
    """Make text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("`", "'")


class CoverageReport:
    """Hooks: tag items with their objects; at the end, write the report and summary."""

    def __init__(self, config: pytest.Config, run: VerificationRun) -> None:
        self.config = config
        self.run = run
        self.coverage = run.coverage
        self.is_worker = hasattr(config, "workerinput")
        self.path = self._report_path()
        self.written: dict[str, Any] | None = None
        self._started = time.perf_counter()

    def _report_path(self) -> Path | None:
        if self.run.settings.report is None:
            return None
        path = self.config.invocation_params.dir / self.run.settings.report
        if self.is_worker:
            return path
        try:  # as --junitxml does; now, so that a bad path fails before the checks run
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            where = self.run.settings.sources["report"]
            raise pytest.UsageError(
                f"dbverify report {path}: cannot create directory {path.parent} "
                f"({err.strerror}; set by {where}): choose another --dbverify-report path"
            ) from None
        return path

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Attach each item's objects (and a drift item's fix) as user properties."""
        for item in items:
            for obj in self._objects_of(item):
                item.user_properties.append((PROPERTY, obj.label))
            callspec = getattr(item, "callspec", None)
            fix = getattr(callspec.params.get("drift"), "fix", None) if callspec else None
            if fix:
                item.user_properties.append((FIX_PROPERTY, fix))

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        """Remember the objects of deselected checks, to say why they went unchecked."""
        for item in items:
            self.coverage.deselected.update(self._objects_of(item, resolve_marker=False))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold every phase's report into the check results."""
        if not self.is_worker:
            self.coverage.record(report, self.run.secrets)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write the JSON report and the GitHub step summary (controller only)."""
        summary_file = os.environ.get(STEP_SUMMARY_ENV)
        if self.is_worker or (self.path is None and not summary_file):
            return
        report = self.build(int(exitstatus), stopped_early=bool(session.shouldstop))
        try:
            if self.path is not None:
                self.path.write_text(json.dumps(report, indent=2) + "\n")
            if summary_file:
                with open(summary_file, "a", encoding="utf-8") as out:
                    out.write(markdown_summary(report))
        except OSError as err:
            self.run.say(f"dbverify: cannot write the report: {err} (--dbverify-report)")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            return
        self.written = report

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Say where the report went and what it found unchecked."""
        if self.written is None or self.path is None:
            return
        objects = self.written["objects_summary"]
        unchecked = objects.get("skipped", 0) + objects.get("unchecked", 0)
        terminalreporter.write_line(
            f"report:  {self.path} ({objects['total']} objects, {unchecked} not checked)"
        )

    def build(self, exit_status: int, *, stopped_early: bool = False) -> dict[str, Any]:
        """Return the report of the run so far."""
        run = self.run
        catalog = self._catalog()
        facts = ReportFacts(
            target=run.target.shown if run.target else "(none)",
            target_source=run.target.source if run.target else "",
            server_version=run.facts.version if run.facts else None,
            expected_schema=run.expectation.source,
            exit_status=exit_status,
            duration_s=time.perf_counter() - self._started,
            connect_error=run.connect_error,
        )
        settings = run.settings
        universe = all_objects(catalog, settings.migrations_dir)
        reasons = static_reasons(catalog, settings.migrations_table)
        return self.coverage.build(facts, universe, reasons, stopped_early=stopped_early)

    def _catalog(self) -> Catalog | None:
        if self.run.connect_error and self.run.expectation.conninfo is None:
            return None  # the expectation is the target's own catalog, out of reach
        try:
            return self.run.expected_catalog()
        except (DbverifyError, psycopg.Error, OSError) as err:
            # A report without the catalog still lists the checks that ran.
            self.run.say(
                "dbverify: the report lists no catalog objects: "
                f"{redact_text(str(err), self.run.secrets)}"
            )
        return None

    def _objects_of(self, item: pytest.Item, *, resolve_marker: bool = True) -> list[CatalogObject]:
        found: list[CatalogObject] = []
        callspec = getattr(item, "callspec", None)
        for value in callspec.params.values() if callspec is not None else ():
            found += objects_of_param(value)
        marker = item.get_closest_marker("dbverify")
        names = marker.kwargs.get("objects", ()) if marker is not None else ()
        if isinstance(names, str):
            names = [names]
        if names and resolve_marker:
            catalog = self._catalog()
            found += [
                resolve_name(n, catalog) if catalog else CatalogObject.from_label(n) for n in names
            ]
        return list(dict.fromkeys(found))
