"""Lint migrations with squawk (the ``squawk-cli`` package): locks and rewrites of busy tables.

Only the ``-- migrate:up`` section is linted (a down section drops what its up created,
which squawk rightly flags in an up). It goes to squawk on stdin with the other lines
blanked, so the line numbers squawk reports are the file's. A transactional section is
linted with ``--assume-in-transaction`` (dbmate wraps it in one), so that, for instance,
an index on a table created in the same migration is not flagged. squawk's own
``.squawk.toml`` in the working directory applies too.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pglast
from pglast import ast

from pytest_dbverify.errors import BinaryNotFoundError, DbverifyError
from pytest_dbverify.sections import Section

# Rules about style or taste (types, identity columns, timeouts, domains), not about a
# lock or a rewrite that would stall a busy table: reported, never failed.
STYLE_RULES = frozenset(
    {
        "ban-char-field",
        "ban-create-domain-with-constraint",
        "ban-alter-domain-with-add-constraint",
        "require-timeout-settings",
        "require-lock-timeout",
        "require-statement-timeout",
    }
)


def is_style(rule: str) -> bool:
    """Return True for a rule of style (``prefer-*`` and :data:`STYLE_RULES`)."""
    return rule.startswith("prefer-") or rule in STYLE_RULES


@dataclass(frozen=True)
class Finding:
    """One squawk finding, at a line of the migration file (1-based)."""

    line: int
    rule: str
    message: str
    help: str | None

    def describe(self) -> str:
        """Return ``line N: rule: message (help)``."""
        tail = f" ({self.help})" if self.help else ""
        return f"line {self.line}: {self.rule}: {self.message}{tail}"


def find_squawk() -> Path:
    """Return the squawk binary: the one the ``squawk-cli`` wheel installed, else PATH's."""
    try:
        files = importlib.metadata.distribution("squawk-cli").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name in ("squawk", "squawk.exe") and file.parent.name in ("bin", "Scripts"):
            path = Path(str(file.locate())).resolve()
            if os.access(path, os.X_OK):
                return path
    found = shutil.which("squawk")
    if found:
        return Path(found)
    raise BinaryNotFoundError(
        "squawk not found (neither the squawk-cli package nor squawk on PATH): "
        "run `pip install squawk-cli`"
    )


def squawk_argv(
    squawk: Path,
    *,
    file_name: str,
    exclude: Sequence[str],
    in_transaction: bool,
    pg_version: str | None,
) -> list[str]:
    """Build squawk's argv to lint stdin as ``file_name``."""
    argv = [str(squawk), "--reporter", "json", "--stdin-filepath", file_name]
    if exclude:
        argv.append("--exclude=" + ",".join(exclude))
    argv.append("--assume-in-transaction" if in_transaction else "--no-assume-in-transaction")
    if pg_version:
        argv.append(f"--pg-version={pg_version}")
    return argv


def lint_section(
    section: Section,
    *,
    file_name: str,
    exclude: Sequence[str] = (),
    pg_version: str | None = None,
    cwd: Path | None = None,
    squawk: Path | None = None,
) -> list[Finding]:
    """Return squawk's findings on one section of a migration file.

    Raises:
        BinaryNotFoundError: squawk is not installed.
        DbverifyError: squawk failed for another reason than findings.
    """
    argv = squawk_argv(
        squawk or find_squawk(),
        file_name=file_name,
        exclude=exclude,
        in_transaction=section.transaction,
        pg_version=pg_version,
    )
    done = subprocess.run(
        argv, input=section.text, capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )
    try:
        reported = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        reported = None
    if done.returncode not in (0, 1) or not isinstance(reported, list):
        raise DbverifyError(
            f"squawk failed on {file_name} (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[:500]}"
        )
    findings = [
        Finding(
            line=int(item["line"]) + 1,  # squawk's JSON lines are 0-based
            rule=str(item["rule_name"]),
            message=str(item["message"]),
            help=item.get("help"),
        )
        for item in reported
    ]
    return _without_new_relations(findings, section.text)


def _without_new_relations(findings: list[Finding], text: str) -> list[Finding]:
    """Drop lock findings on relations the same section creates, which squawk misses.

    squawk knows a table made by a plain CREATE TABLE earlier in the transaction is new
    (nobody else can be locked out of it), but not one made inside ``CREATE SCHEMA ...
    CREATE TABLE``, nor a materialized view. PostgreSQL's own parser (pglast) finds both.
    """
    if not findings:
        return findings
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return findings  # squawk parsed it; when we cannot, its findings stand
    created: set[Relation] = set()
    spans: list[tuple[int, int, Relation | None]] = []  # each statement's bytes, its target
    for raw in statements:
        first = raw.stmt_location or 0
        last = first + (raw.stmt_len or len(text.encode()))
        target = getattr(raw.stmt, "relation", None)
        spans.append((first, last, _relation(target) if isinstance(target, ast.RangeVar) else None))
        created.update(_creates(raw.stmt))
    starts = _line_starts(text)

    def on_new_relation(finding: Finding) -> bool:
        if is_style(finding.rule) or finding.line > len(starts):
            return False
        begin = starts[finding.line - 1]
        # Statements' spans are contiguous (each starts after the previous semicolon).
        target = next((t for first, last, t in spans if first <= begin < last), None)
        return target is not None and _is_created(target, created)

    return [finding for finding in findings if not on_new_relation(finding)]


Relation = tuple[str | None, str]  # (schema or None when unqualified, name)


def _relation(relation: ast.RangeVar, schema: str | None = None) -> Relation:
    return (relation.schemaname or schema, relation.relname or "")


def _creates(statement: ast.Node | None) -> list[Relation]:
    """Return the relations a statement creates: tables, views, and schema elements."""
    if isinstance(statement, ast.CreateSchemaStmt):
        made = []
        for element in statement.schemaElts or ():
            relation = getattr(element, "relation", None) or getattr(element, "view", None)
            if isinstance(element, ast.CreateStmt | ast.ViewStmt) and relation is not None:
                made.append(_relation(relation, statement.schemaname))
        return made
    if isinstance(statement, ast.CreateTableAsStmt) and statement.into is not None:
        return [_relation(statement.into.rel)] if statement.into.rel is not None else []
    if isinstance(statement, ast.CreateStmt) and statement.relation is not None:
        return [_relation(statement.relation)]
    return []


def _is_created(target: Relation, created: set[Relation]) -> bool:
    schema, name = target
    return any(n == name and (schema is None or s in (None, schema)) for s, n in created)


def _line_starts(text: str) -> list[int]:
    """Return the byte offset at which each line of ``text`` starts (libpg_query counts bytes)."""
    starts, offset = [], 0
    for line in text.encode().split(b"\n"):
        starts.append(offset)
        offset += len(line) + 1
    return starts
