"""Which database to verify: the first source that names one wins.

``--dbverify-url`` (or its ini key / ``DBVERIFY_URL``) > ``DATABASE_URL`` from the
environment > ``DATABASE_URL`` from ``.env`` in the working directory (never overriding
the environment, as dbmate reads it) > libpq's ``PG*`` variables > None, meaning a
throwaway server with the migrations applied. URLs and conninfo strings pass through to
libpq untouched (sslmode, sslrootcert, options, target_session_attrs, ...).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import psycopg.conninfo
import pytest

from pytest_dbverify.redact import (
    redact_conninfo,
    redact_text,
    secrets_in,
    service_secrets,
    userinfo_needs_encoding,
)
from pytest_dbverify.settings import Settings

# The libpq variables that name a server by themselves (PGPASSWORD alone names none).
_LIBPQ_TARGET_VARS = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")
_DOTENV_WHY = "(dbmate and pytest-dbverify read DATABASE_URL from this file)"
_DOTENV_LINE = re.compile(
    r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$"
)


@dataclass(frozen=True)
class Target:
    """The database under verification; ``conninfo`` may hold a password, ``shown`` never."""

    conninfo: str
    source: str
    label: str = ""

    def __repr__(self) -> str:
        # pytest shows fixture values in tracebacks: the repr must not carry the password.
        return f"Target({self.shown!r}, source={self.source!r})"

    @property
    def shown(self) -> str:
        """Return the target for messages, with any password replaced by ``***``."""
        if self.conninfo:
            return redact_conninfo(self.conninfo)
        return self.label or "(libpq defaults)"

    @cached_property  # asked for every test report the controller folds in
    def secrets(self) -> frozenset[str]:
        """Return the literal passwords to mask in any text about this target.

        Those written in the URL or conninfo, and the one libpq may read from the service
        file it names (or ``PGSERVICE``); ``PGPASSWORD`` is masked everywhere anyway.
        """
        return frozenset(secrets_in(self.conninfo) | service_secrets(self.conninfo))


def resolve_target(
    settings: Settings, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Target | None:
    """Return the target named by settings or environment, or None for a throwaway server."""
    environ = os.environ if environ is None else environ
    dotenv = (cwd or Path.cwd()) / ".env"
    present = _dotenv_present(dotenv)  # checked even when not read: dbmate reads it too
    if settings.url is not None:
        return checked(Target(settings.url, settings.sources["url"]))
    if environ.get("DATABASE_URL"):
        return checked(Target(environ["DATABASE_URL"], "env DATABASE_URL"))
    if present:
        url = read_dotenv(dotenv).get("DATABASE_URL")
        if url:
            return checked(Target(url, f"DATABASE_URL in {dotenv}"))
    named = [name for name in _LIBPQ_TARGET_VARS if environ.get(name)]
    if named:
        # libpq reads the variables itself; the label only shows them (none is secret).
        label = " ".join(f"{name}={environ[name]}" for name in named)
        return Target("", "libpq environment variables", label=label)
    return None


def read_dotenv(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines as dbmate does; a line of any other shape is an error.

    Strict on purpose: a mistyped line must not silently drop the target and leave the
    run verifying a throwaway server instead of the database the user meant.
    """
    values: dict[str, str] = {}
    for number, line in enumerate(_dotenv_text(path).splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            raise pytest.UsageError(
                f"{path}:{number}: not a KEY=value line: fix or remove it "
                "(dbmate and pytest-dbverify read DATABASE_URL from this file)"
            )
        value = match["value"]
        quote = value[:1]
        if quote in ("'", '"'):
            closing = value.find(quote, 1)
            if closing < 0:
                raise pytest.UsageError(
                    f"{path}:{number}: the value of {match['key']} opens a {quote} quote that "
                    "it does not close: close it or remove it (dbmate and pytest-dbverify "
                    "read DATABASE_URL from this file)"
                )
            value = value[: closing + 1]  # what follows the closing quote is a comment
        values[match["key"]] = _unquote(value)
    return values


def _dotenv_present(path: Path) -> bool:
    """Return True if ``path`` is a file to read; a ``.env`` that is not one is an error.

    A directory or a dangling link must not read as "no .env": the run would verify a
    throwaway server instead of the database the file was meant to name.

    Raises:
        pytest.UsageError: ``path`` exists (or is a link) but is not a regular file.
    """
    if path.is_file():
        return True
    if path.is_symlink():
        raise pytest.UsageError(
            f"{path} is a symbolic link to {os.readlink(path)}, which does not exist: fix "
            f"the link or remove it {_DOTENV_WHY}"
        )
    if path.exists():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise pytest.UsageError(f"{path} is {kind}: make it a file or remove it {_DOTENV_WHY}")
    return False


def _dotenv_text(path: Path) -> str:
    """Return the text of ``.env``, which must be readable UTF-8 (as dbmate reads it).

    Raises:
        pytest.UsageError: the file cannot be read, or holds a byte that is not UTF-8.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise pytest.UsageError(
            f"cannot read {path} ({err.strerror}): make it readable or remove it {_DOTENV_WHY}"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        number = data.count(b"\n", 0, err.start) + 1
        raise pytest.UsageError(
            f"{path}:{number}: byte 0x{data[err.start]:02x} is not UTF-8: save the file as "
            f"UTF-8 {_DOTENV_WHY}"
        ) from None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].rstrip()


def checked(target: Target) -> Target:
    """Return ``target`` stripped; reject what libpq cannot parse, showing no password."""
    conninfo = target.conninfo.strip()
    if target.conninfo and not conninfo:
        # libpq would read blanks as "all defaults": a local socket, retried for the whole
        # connect budget instead of saying that the setting is blank. ("" is how a caller
        # asks for libpq's PG* variables on purpose.)
        raise pytest.UsageError(
            f"{target.source}: the database URL is empty: set it to a postgres:// URL or "
            "a conninfo string, or unset it"
        )
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", conninfo)
    if scheme and scheme.group(1) not in ("postgres", "postgresql"):
        raise pytest.UsageError(
            f"{target.source}: unsupported URL scheme {scheme.group(1)!r} in {target.shown}: "
            "expected postgres:// or postgresql://"
        )
    if userinfo_needs_encoding(conninfo):
        # libpq would read part of the password as the host, port or database (and quote
        # it back as such), or refuse it with its own words about the password.
        raise pytest.UsageError(
            f"{target.source}: not a valid connection string: percent-encode the password "
            "in the URL (@ as %40, / as %2F, : as %3A, # as %23, ? as %3F, % as %25, a space "
            f"as %20): {target.shown}"
        )
    try:
        psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as err:
        detail = redact_text(str(err).strip().splitlines()[0], target.secrets)
        raise pytest.UsageError(
            f"{target.source}: not a valid connection string ({detail}): {target.shown}"
        ) from None
    return Target(conninfo, target.source)
