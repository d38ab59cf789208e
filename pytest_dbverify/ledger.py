"""The migration ledger: a committed checksum per migration file (``db/migrations.sum``).

dbmate records only versions, so a migration edited after it was applied goes unnoticed:
the database keeps the old schema while the file says another. Like Flyway's validate
and Atlas's ``atlas.sum``, the ledger records each file's SHA-256 when it is written
(``dbverify ledger update``), and the checks compare the files against it
(``dbverify ledger check``; ``test_migration_checksum`` under ``pytest --dbverify``).
Line endings are normalized before hashing, so a checkout with CRLF does not differ.

Format, one file per line after the comment lines (sorted by file name)::

    20260105090000_create_sessions_and_content.sql sha256:3f1c...
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_dbverify.errors import DbverifyError
from pytest_dbverify.migrations import migration_files
from pytest_dbverify.settings import Settings

HEADER = (
    "# Migration ledger: SHA-256 of every migration file (`dbverify ledger update`).\n"
    "# Commit it with the migrations. An applied migration must never change: add a new one.\n"
)
_PREFIX = "sha256:"

ProblemKind = Literal["edited", "unrecorded", "deleted"]


class LedgerError(DbverifyError):
    """The ledger file cannot be read, or an update would hide an edited migration."""


@dataclass(frozen=True)
class LedgerProblem:
    """One file that does not match the ledger."""

    kind: ProblemKind
    name: str  # the file name, e.g. 20260105090000_create_sessions_and_content.sql

    def describe(self, ledger: Path) -> str:
        """Return what is wrong and what to do about it, in one line."""
        if self.kind == "edited":
            return (
                f"{self.name} changed since {ledger.name} recorded it: an applied migration "
                "must not be edited (the deployed databases keep the old version); restore "
                "it and add a new migration, or, if it was never deployed anywhere, "
                "`dbverify ledger update --force`"
            )
        if self.kind == "unrecorded":
            return f"{self.name} is not in {ledger.name}: run `dbverify ledger update`"
        return (
            f"{self.name} is recorded in {ledger.name} but the file is gone: a migration "
            "that was applied somewhere was deleted; restore it (or, if it was never "
            "deployed, `dbverify ledger update --force`)"
        )


def default_ledger_path(migrations_dir: Path) -> Path:
    """Return the ledger beside ``migrations_dir``: ``db/migrations`` -> ``db/migrations.sum``."""
    return migrations_dir.parent / f"{migrations_dir.name}.sum"


def ledger_of(settings: Settings) -> Path:
    """Return the ledger a run uses: the ``ledger`` setting, else beside the migrations."""
    return settings.ledger or default_ledger_path(settings.migrations_dir)


def checksum(path: Path) -> str:
    """Return ``sha256:<hex>`` of the file's bytes with CRLF line endings made LF."""
    data = path.read_bytes().replace(b"\r\n", b"\n")
    return _PREFIX + hashlib.sha256(data).hexdigest()


def current(migrations_dir: Path) -> dict[str, str]:
    """Return the checksum of every migration file of ``migrations_dir``, by file name."""
    return {f.path.name: checksum(f.path) for f in migration_files(migrations_dir)}


def read_ledger(path: Path) -> dict[str, str]:
    """Return the ledger's entries, file name -> checksum.

    Raises:
        LedgerError: the file is missing or a line is not ``<file> sha256:<hex>``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LedgerError(
            f"no migration ledger at {path}: create it with `dbverify ledger update`"
        ) from None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].startswith(_PREFIX) or len(parts[1]) != 71:
            raise LedgerError(
                f"{path}:{number}: expected '<migration file> sha256:<64 hex digits>', got "
                f"{line.strip()[:80]!r}: regenerate it with `dbverify ledger update --force`"
            )
        entries[parts[0]] = parts[1]
    return entries


def render(entries: dict[str, str]) -> str:
    """Return the ledger file's text for ``entries``."""
    return HEADER + "".join(f"{name} {entries[name]}\n" for name in sorted(entries))


def problems(migrations_dir: Path, ledger: Path) -> list[LedgerProblem]:
    """Return every file that differs from the ledger (edited, unrecorded, deleted), sorted."""
    recorded = read_ledger(ledger)
    files = current(migrations_dir)
    found = [
        LedgerProblem("edited" if name in recorded else "unrecorded", name)
        for name, digest in files.items()
        if recorded.get(name) != digest
    ]
    found += [LedgerProblem("deleted", name) for name in recorded if name not in files]
    return sorted(found, key=lambda p: p.name)


@dataclass(frozen=True)
class Update:
    """What ``update`` changed in the ledger."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]


def update(migrations_dir: Path, ledger: Path, *, force: bool = False) -> Update:
    """Record every migration file's checksum in ``ledger``; return what changed.

    New files are added. A recorded file that changed or disappeared is refused unless
    ``force``: rewriting its checksum would hide exactly what the ledger is there to catch.

    Raises:
        LedgerError: an edited or deleted file without ``force``; an unreadable ledger.
    """
    recorded = read_ledger(ledger) if ledger.exists() else {}
    files = current(migrations_dir)
    added = tuple(sorted(n for n in files if n not in recorded))
    changed = tuple(sorted(n for n in files if n in recorded and recorded[n] != files[n]))
    removed = tuple(sorted(n for n in recorded if n not in files))
    if (changed or removed) and not force:
        refused = [LedgerProblem("edited", n) for n in changed]
        refused += [LedgerProblem("deleted", n) for n in removed]
        raise LedgerError("; ".join(p.describe(ledger) for p in refused))
    if added or changed or removed or not ledger.exists():
        ledger.write_text(render(files), encoding="utf-8")
    return Update(added=added, changed=changed, removed=removed)
