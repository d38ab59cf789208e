"""A dbmate migration file's sections, and what is wrong with their layout.

dbmate finds ``-- migrate:up`` and ``-- migrate:down`` only at the start of a line; an
indented marker is SQL comment to it, so the section silently becomes part of the other
one and the mistake shows only when the migration is applied or rolled back. A section
marked ``transaction:false`` runs outside a transaction: if it holds more than one
statement a failure leaves it half done, so it must hold one ``CONCURRENTLY`` statement
alone (which, conversely, cannot run inside a transaction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MARKER = re.compile(r"^--\s*migrate:(?P<kind>up|down)(?P<options>[^\n]*)$")
_INDENTED = re.compile(r"^\s+--\s*migrate:(up|down)\b")
_OPTION = re.compile(r"^(?P<key>[a-z_]+):(?P<value>\S+)$")
_CONCURRENTLY = re.compile(
    r"^(CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY|"
    r"REINDEX\s+(\(.*?\)\s*)?(INDEX|TABLE|SCHEMA|DATABASE)\s+CONCURRENTLY)\b",
    re.IGNORECASE | re.DOTALL,
)
_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")


@dataclass(frozen=True)
class Section:
    """One section: its marker's line (1-based), options and text."""

    kind: str  # up or down
    line: int
    transaction: bool
    text: str


@dataclass
class Layout:
    """The sections of a file and the problems of its layout, each naming its line."""

    sections: dict[str, Section] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def parse(text: str) -> Layout:
    """Split a migration file into its sections and list what is wrong with them."""
    layout = Layout()
    lines = text.splitlines()
    current: tuple[str, int, bool] | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None:
            kind, line, transaction = current
            # Blank lines keep the file's numbering: a linter's line numbers stay true.
            padded = "\n" * line + "\n".join(body)
            layout.sections[kind] = Section(kind, line, transaction, padded)

    for number, line in enumerate(lines, start=1):
        if _INDENTED.match(line):
            layout.problems.append(
                f"line {number}: indented marker {line.strip()!r}: dbmate only sees markers "
                "at the start of a line; remove the indentation"
            )
        match = _MARKER.match(line.rstrip())
        if match is None:
            if current is None and line.strip() and not line.lstrip().startswith("--"):
                layout.problems.append(f"line {number}: SQL before -- migrate:up")
            body.append(line)
            continue
        kind = match["kind"]
        if kind in layout.sections or (current is not None and current[0] == kind):
            layout.problems.append(f"line {number}: a second -- migrate:{kind} marker")
        transaction = True
        for option in match["options"].split():
            parsed = _OPTION.match(option)
            if (
                parsed is None
                or parsed["key"] != "transaction"
                or parsed["value"]
                not in (
                    "true",
                    "false",
                )
            ):
                layout.problems.append(
                    f"line {number}: unknown option {option!r} (dbmate knows transaction:false)"
                )
            elif parsed["value"] == "false":
                transaction = False
        close()
        current, body = (kind, number, transaction), []
    close()
    for kind in ("up", "down"):
        if kind not in layout.sections:
            layout.problems.append(f"no unindented -- migrate:{kind} line")
    up, down = layout.sections.get("up"), layout.sections.get("down")
    if up is not None and down is not None and down.line < up.line:
        layout.problems.append(f"line {down.line}: -- migrate:down comes before -- migrate:up")
    for section in layout.sections.values():
        layout.problems.extend(_transaction_problems(section))
    return layout


def _transaction_problems(section: Section) -> list[str]:
    statements = split_statements(section.text)
    concurrent = [s for s in statements if _CONCURRENTLY.match(s)]
    where = f"-- migrate:{section.kind} (line {section.line})"
    if section.transaction:
        return [
            f"{where} runs in a transaction but holds {_head(s)}: PostgreSQL refuses "
            f"CONCURRENTLY in a transaction; put it alone in a migration whose section is "
            f"marked `-- migrate:{section.kind} transaction:false`"
            for s in concurrent
        ]
    if len(statements) == 1 and concurrent:
        return []
    held = ", ".join(_head(s) for s in statements) or "nothing"
    return [
        f"{where} is transaction:false but holds {held}: such a section must hold one "
        "CREATE INDEX CONCURRENTLY (or DROP INDEX / REINDEX ... CONCURRENTLY) alone, since "
        "a failure part way leaves it half applied"
    ]


def _head(statement: str) -> str:
    words = statement.split()
    return " ".join(words[:5]) + (" ..." if len(words) > 5 else "")


def split_statements(text: str) -> list[str]:
    """Split SQL into statements, without comments; quotes and dollar quotes are respected."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            current.append(" ")
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            current.append(" ")
            continue
        if char in ("'", '"'):
            end = i + 1
            while end < n:
                if text[end] == char and text.startswith(char * 2, end):
                    end += 2
                    continue
                if text[end] == char:
                    break
                end += 1
            current.append(text[i : end + 1])
            i = end + 1
            continue
        dollar = _DOLLAR.match(text, i) if char == "$" else None
        if dollar is not None:
            tag = dollar.group(0)
            end = text.find(tag, dollar.end())
            end = n if end < 0 else end + len(tag)
            current.append(text[i:end])
            i = end
            continue
        if char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current))
    return [" ".join(s.split()) for s in statements if s.strip()]
