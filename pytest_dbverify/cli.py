"""The ``dbverify`` command: ``health`` (a health report, or served over HTTP) and ``ledger``.

``dbverify ledger update`` records the checksum of every migration file in the ledger
(``db/migrations.sum``); ``dbverify ledger check`` compares the files with it (exit 0
when they match, 1 when not). Neither touches a database.

Health exit codes: 0 healthy, 1 unhealthy, 2 usage error (bad flags, no database named). A
usage error is one line on stderr, never a traceback. The target is resolved as the
plugin resolves it (``--url`` > ``DATABASE_URL`` > ``.env`` > libpq's ``PG*``
variables), except that health never starts a throwaway server: no target is an error.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import pytest

from pytest_dbverify import ledger
from pytest_dbverify.health import HealthReport, HealthServer, check_target, health_settings
from pytest_dbverify.redact import redact_text
from pytest_dbverify.settings import parse_list, parse_seconds
from pytest_dbverify.target import resolve_target

PROG = "dbverify"
EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_USAGE = 0, 1, 2
DEFAULT_HOST = "127.0.0.1"
DEFAULT_MIGRATIONS_DIR = Path("db/migrations")  # dbmate's own default
_SERVE_HELP = "[HOST:]PORT with PORT 0-65535 (0 picks a free port; IPv6 as [::1]:PORT)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exits 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``dbverify: error: message`` on stderr and exit 2."""
        _usage_error(f"{message} (see `{self.prog} --help`)")


def parse_serve(text: str) -> tuple[str, int]:
    """Parse ``[HOST:]PORT`` (IPv6 hosts in brackets) into a host and a port.

    Raises:
        ValueError: ``text`` is not of that shape, or the port is out of range.
    """
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(text)
    elif ":" in text:
        host, _, port = text.rpartition(":")
        if ":" in host:  # an IPv6 host without brackets is ambiguous: where does it end?
            raise ValueError(text)
    else:
        host, port = DEFAULT_HOST, text
    if not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(text)
    return host, int(port)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``dbverify`` and its ``health`` command."""
    parser = _Parser(prog=PROG, description="Check a deployed PostgreSQL database.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    health = commands.add_parser(
        "health",
        help="print the database's health as JSON, or serve it on GET /healthz",
        description="Print the database's health as JSON on stdout, or serve it over HTTP.",
        epilog="exit status: 0 healthy, 1 unhealthy, 2 usage error",
    )
    health.add_argument(
        "--url",
        help="database URL or conninfo (default: DATABASE_URL, then .env, then PG* "
        "variables); prefer DATABASE_URL for a password: argv is visible to other users",
    )
    health.add_argument(
        "--migrations-dir",
        type=Path,
        metavar="DIR",
        help=f"dbmate migrations whose versions must be applied (default: "
        f"{DEFAULT_MIGRATIONS_DIR} if it exists, else no migration check)",
    )
    health.add_argument(
        "--schemas",
        type=_arg(parse_list, "schema names, comma-separated"),
        default=("public",),
        metavar="A,B",
        help="schemas whose tables must be readable (default: public)",
    )
    health.add_argument(
        "--migrations-table",
        default="schema_migrations",
        metavar="T",
        help="dbmate's table, table or schema.table (default: schema_migrations)",
    )
    health.add_argument(
        "--connect-timeout",
        type=_arg(parse_seconds, "seconds > 0"),
        default=5.0,
        metavar="S",
        help="seconds to keep retrying the connection; also bounds each query (default: 5)",
    )
    health.add_argument(
        "--serve",
        type=_arg(parse_serve, _SERVE_HELP),
        metavar="[HOST:]PORT",
        help=f"serve GET /healthz (200 healthy, 503 unhealthy) until stopped; host "
        f"default {DEFAULT_HOST}",
    )
    books = commands.add_parser(
        "ledger",
        help="record (update) or verify (check) the checksums of the migration files",
        description="Record or verify the SHA-256 of every migration file in the ledger, "
        "so that a migration edited after it was applied is caught.",
        epilog="exit status: 0 the ledger matches (or was updated), 1 it does not, 2 usage error",
    )
    books.add_argument("action", choices=("update", "check"), help="update or check")
    books.add_argument(
        "--migrations-dir",
        type=Path,
        default=DEFAULT_MIGRATIONS_DIR,
        metavar="DIR",
        help=f"dbmate migrations directory (default: {DEFAULT_MIGRATIONS_DIR})",
    )
    books.add_argument(
        "--ledger",
        type=Path,
        metavar="FILE",
        help="the ledger file (default: beside the directory, db/migrations -> db/migrations.sum)",
    )
    books.add_argument(
        "--force",
        action="store_true",
        help="update: also rewrite the checksums of edited files and drop deleted ones "
        "(only for migrations never deployed anywhere)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dbverify``; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "ledger":
        return run_ledger(args.action, args.migrations_dir, args.ledger, force=args.force)
    migrations_dir: Path | None = args.migrations_dir
    if migrations_dir is None and DEFAULT_MIGRATIONS_DIR.is_dir():
        migrations_dir = DEFAULT_MIGRATIONS_DIR.resolve()
    elif migrations_dir is not None and not migrations_dir.is_dir():
        _usage_error(f"--migrations-dir {migrations_dir}: not a directory")
    try:
        settings = health_settings(
            args.url,
            schemas=args.schemas,
            migrations_table=args.migrations_table,
            connect_timeout=args.connect_timeout,
        )
        target = resolve_target(settings)
    except (ValueError, pytest.UsageError) as err:
        _usage_error(str(err))
    if target is None:
        _usage_error(
            "no database to check: pass --url, or set DATABASE_URL (in the environment "
            "or in .env) or libpq's PG* variables"
        )

    def check() -> HealthReport:
        return check_target(target, settings, migrations_dir=migrations_dir)

    if args.serve is not None:
        return serve(args.serve, check)
    report = check()
    print(report.to_json(), flush=True)
    return EXIT_HEALTHY if report.healthy else EXIT_UNHEALTHY


def run_ledger(action: str, migrations_dir: Path, path: Path | None, *, force: bool) -> int:
    """Run ``dbverify ledger update|check``; return the exit status."""
    if not migrations_dir.is_dir():
        _usage_error(f"--migrations-dir {migrations_dir}: not a directory")
    path = path or ledger.default_ledger_path(migrations_dir)
    try:
        if action == "update":
            done = ledger.update(migrations_dir, path, force=force)
            changes = [f"added {n}" for n in done.added] + [f"rewrote {n}" for n in done.changed]
            changes += [f"removed {n}" for n in done.removed]
            _say(f"{path}: " + ("; ".join(changes) if changes else "up to date"))
            return EXIT_HEALTHY
        found = ledger.problems(migrations_dir, path)
    except ledger.LedgerError as err:
        _say(f"error: {err}")
        return EXIT_UNHEALTHY
    for problem in found:
        _say(problem.describe(path))
    if not found:
        _say(f"{path}: matches the {len(ledger.current(migrations_dir))} migration files")
    return EXIT_UNHEALTHY if found else EXIT_HEALTHY


def serve(address: tuple[str, int], check: Callable[[], HealthReport]) -> int:
    """Serve ``GET /healthz`` on ``address`` until SIGINT or SIGTERM; return 0."""
    host, port = address
    try:
        server = HealthServer((host, port), check)
    except OSError as err:
        _usage_error(f"--serve {host}:{port}: cannot listen there: {err.strerror or err}")
    server.log = lambda line: _say(line)
    # Stop cleanly on Ctrl-C and SIGTERM, even when started with SIGINT ignored (`cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _say(f"serving health on {server.url}")
        server.serve_forever()
    except KeyboardInterrupt:
        _say("stopped")
    finally:
        server.server_close()
    return EXIT_HEALTHY


def _arg(parse: Callable[[str], object], accepts: str) -> Callable[[str], object]:
    """Wrap a parser so that argparse says what is accepted instead of the function name."""

    def parse_arg(text: str) -> object:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {accepts}") from None
        if value == ():
            raise argparse.ArgumentTypeError(f"{text!r}: expected {accepts}")
        return value

    return parse_arg


def _say(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)


def _usage_error(message: str) -> NoReturn:
    _say(f"error: {redact_text(message)}")
    sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
