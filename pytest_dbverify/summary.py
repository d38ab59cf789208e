"""What a run proved, what it found, and what it left unchecked, in a few lines.

The counts alone (``215 passed``) say how many, not what: this turns the built-in checks'
outcomes into statements by kind (``12 foreign keys enforced``), names the root causes
first, each with the checks grouped under it, and groups what was not checked by why.
Pure: it reads finished results, shared by the terminal summary and the reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FAILED = ("failed", "error", "xpassed")
# Check function -> what a passing item proves, by kind, in the order a reader wants it.
PROOFS: tuple[tuple[str, str], ...] = (
    ("test_table_readable", "tables readable"),
    ("test_crud", "tables: CRUD"),
    ("test_fk_enforced", "foreign keys enforced"),
    ("test_fk_actions", "foreign key actions as declared"),
    ("test_unique_enforced", "unique keys enforced"),
    ("test_not_null_enforced", "NOT NULLs enforced"),
    ("test_check_enforced", "CHECKs enforced"),
    ("test_domain_check_enforced", "domain CHECKs enforced"),
    ("test_index_valid", "indexes valid"),
    ("test_index_consistent", "indexes consistent"),
    ("test_constraint_validated", "constraints validated"),
    ("test_fk_indexed", "foreign keys indexed"),
    ("test_migration_applied", "migrations applied"),
    ("test_migration_checksum", "migration checksums"),
    ("test_migration_sections", "migration files well-formed"),
    ("test_migration_lint", "migrations lint-clean"),  # hazards; advice is counted apart
    ("test_rollback_round_trip", "migrations round-trip"),
    ("test_rows_satisfy", "rules hold on deployed rows"),
)
_REASONS_SHOWN = 5


@dataclass(frozen=True)
class Outcome:
    """One finished check: its node id, outcome, message and the root cause it sits under."""

    nodeid: str
    outcome: str
    message: str | None = None
    root_cause: str | None = None
    advice: str | None = None

    @property
    def check(self) -> str:
        """Return the check function's name: ``test_crud`` of ``dbverify/crud::test_crud[t]``."""
        return self.nodeid.rpartition("::")[2].partition("[")[0]

    @property
    def name(self) -> str:
        """Return the item's name, as a root cause is named: ``test_crud[t]``."""
        return self.nodeid.rpartition("::")[2]


@dataclass(frozen=True)
class RootCause:
    """A failed check that others were grouped under."""

    item: str
    message: str
    grouped: tuple[str, ...]


def proven(outcomes: Iterable[Outcome]) -> list[str]:
    """Return one statement per kind of check: ``12 foreign keys enforced`` (or ``11 of 12``)."""
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    advised: Counter[str] = Counter()
    drift: list[Outcome] = []
    for result in outcomes:
        if result.check == "test_schema_drift":
            drift.append(result)
            continue
        if result.outcome == "skipped":
            continue  # not checked: said apart
        total[result.check] += 1
        passed[result.check] += result.outcome in ("passed", "xfailed")
        advised[result.check] += result.advice is not None
    statements = [
        f"{passed[check]}{'' if passed[check] == total[check] else f' of {total[check]}'} {what}"
        + (f" ({advised[check]} with advice)" if advised[check] else "")
        for check, what in PROOFS
        if total[check]
    ]
    if drift:
        differing = sum(r.outcome in FAILED for r in drift)
        clean = any(r.name == "test_schema_drift[none]" and r.outcome == "passed" for r in drift)
        if clean:
            statements.append("no drift")
        elif differing:
            statements.append(
                f"drift: {differing} object differs" if differing == 1
                else f"drift: {differing} objects differ"
            )  # fmt: skip
    return statements


def root_causes(outcomes: Sequence[Outcome]) -> list[RootCause]:
    """Return the failed checks others were grouped under, the largest group first."""
    grouped: dict[str, list[str]] = {}
    for result in outcomes:
        if result.root_cause is not None:
            grouped.setdefault(result.root_cause, []).append(result.name)
    failed = {r.name: r for r in outcomes if r.outcome in FAILED}
    causes = [
        RootCause(name, _first_line(failed[name].message), tuple(grouped.get(name, ())))
        for name in failed
        if name in grouped
    ]
    return sorted(causes, key=lambda cause: -len(cause.grouped))


def not_checked(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """Return the skipped checks counted by reason (those under a root cause as one reason)."""
    reasons: Counter[str] = Counter()
    for result in outcomes:
        if result.outcome != "skipped":
            continue
        if result.root_cause is not None:
            reasons["grouped under a root cause above"] += 1
        else:
            reasons[_first_line(result.message) or "no reason given"] += 1
    return dict(reasons.most_common())


def lines(outcomes: Sequence[Outcome], *, width: int = 100) -> list[str]:
    """Return the summary's lines: root causes, what was proven, what was not checked."""
    out: list[str] = []
    causes = root_causes(outcomes)
    if causes:
        out.append(f"root causes ({len(causes)}; fix these first):")
        for cause in causes:
            out.append(f"  {cause.item}: {cause.message}")
            out.append(f"    {len(cause.grouped)} checks not run because of it")
    statements = proven(outcomes)
    if statements:
        out += _wrapped("proven:  ", statements, width)
    advised = [r for r in outcomes if r.advice]
    if advised:
        out.append(f"advice ({len(advised)} checks; not failures, see the JSON report):")
        for result in advised[:_REASONS_SHOWN]:
            out.append(f"  {result.name}: {_shorten(_first_line(result.advice), width - 8)}")
        if len(advised) > _REASONS_SHOWN:
            out.append(f"  ... {len(advised) - _REASONS_SHOWN} more (--dbverify-report)")
    skipped = not_checked(outcomes)
    if skipped:
        out.append(f"not checked: {sum(skipped.values())}")
        for reason, count in list(skipped.items())[:_REASONS_SHOWN]:
            out.append(f"  {count} x {_shorten(reason, width - 8)}")
        if len(skipped) > _REASONS_SHOWN:
            out.append(f"  ... {len(skipped) - _REASONS_SHOWN} more reasons (pytest -rs)")
    return out


def as_report(outcomes: Sequence[Outcome]) -> Mapping[str, object]:
    """Return the summary as plain data for the JSON report."""
    return {
        "proven": proven(outcomes),
        "root_causes": [
            {"check": c.item, "message": c.message, "grouped": list(c.grouped)}
            for c in root_causes(outcomes)
        ],
        "not_checked": not_checked(outcomes),
        "advice": {r.name: r.advice for r in outcomes if r.advice},
    }


def _wrapped(head: str, statements: Sequence[str], width: int) -> list[str]:
    out = [head]
    for statement in statements:
        piece = statement if out[-1] == head else f"; {statement}"
        if len(out[-1]) + len(piece) > width and out[-1] != head:
            out.append(" " * len(head) + statement)
        else:
            out[-1] += piece
    return out


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
