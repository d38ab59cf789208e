"""Settings: declared once, resolved once into a frozen object, each value with its source.

Every setting exists as a command-line flag ``--dbverify-x``, an ini key ``dbverify_x``
and an environment variable ``DBVERIFY_X``. The first of those that is set (not None)
wins, in that order, else the default. There is deliberately no password setting:
libpq reads ``PGPASSWORD``, ``~/.pgpass`` and service files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import pytest

IniType = Literal["string", "bool", "linelist", "int", "float"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One setting: its name, meaning, type and default."""

    name: str
    help: str
    parse: Callable[[str], Any]
    default: Any
    ini_type: IniType = "string"
    accepts: str = ""
    metavar: str = "VALUE"
    is_flag: bool = False
    shown_default: str = ""  # how to say the default when the value alone does not

    @property
    def default_text(self) -> str:
        """Return the default as ``--help`` and docs/settings.md say it."""
        return self.shown_default or _show(self.default)

    @property
    def flag(self) -> str:
        """Return the command-line flag, ``--dbverify-x-y``."""
        return "--dbverify-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        """Return the ini key, ``dbverify_x_y``."""
        return f"dbverify_{self.name}"

    @property
    def env(self) -> str:
        """Return the environment variable, ``DBVERIFY_X_Y``."""
        return f"DBVERIFY_{self.name.upper()}"


def parse_bool(text: str) -> bool:
    """Parse yes/no words; anything else is an error."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(text)


def parse_seconds(text: str) -> float:
    """Parse a positive number of seconds."""
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError(text)
    return value


def parse_count(text: str) -> int:
    """Parse a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def parse_list(text: str) -> tuple[str, ...]:
    """Parse a comma- or newline-separated list, dropping blanks."""
    return tuple(part.strip() for part in text.replace("\n", ",").split(",") if part.strip())


def one_of(*choices: str) -> Callable[[str], str]:
    """Return a parser that accepts one of ``choices``, in any case."""

    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in choices:
            raise ValueError(text)
        return word

    return parse


parse_advisories = one_of("fail", "warn")
parse_expect = one_of("migrations", "target")
# The default of ``schemas``: settled once the expected schema is built (run.py).
EVERY_SCHEMA = "every schema the migrations create"

# Squawk rules that are style preferences, or that do not apply to dbmate's transactional
# migrations (each file runs in one transaction, so a half-applied file cannot happen),
# rather than locks or rewrites of busy tables.
DEFAULT_LINT_EXCLUDE = (
    "prefer-robust-stmts",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "require-lock-timeout",
    "require-statement-timeout",
)
parse_server = one_of("embedded", "system")


OPTIONS: tuple[Option, ...] = (
    Option("url", "database to verify (URL or conninfo); default: DATABASE_URL, .env, PG* "
           "variables, else a throwaway server with the migrations applied",
           str, None, accepts="a postgres:// URL or a libpq conninfo string", metavar="URL"),
    Option("expected_url", "a database that already holds the expected schema (a shadow "
           "database); default: the migrations applied to a throwaway server", str, None,
           accepts="a postgres:// URL or a libpq conninfo string", metavar="URL"),
    Option("expect", "where the expected schema comes from: migrations (the migrations "
           "applied to a throwaway server, or expected_url) or target (the target's own "
           "catalog: an object missing on the target goes unnoticed)", parse_expect,
           "migrations", accepts="migrations or target", metavar="SOURCE"),
    Option("migrations_dir", "dbmate migrations directory", Path, Path("db/migrations"),
           accepts="a directory path", metavar="DIR"),
    Option("migrations_table", "dbmate's migrations table", str, "schema_migrations",
           accepts="a table name", metavar="TABLE"),
    Option("setup", "SQL run as superuser in every database built from the migrations (the "
           "expected schema's, the round trip's), before them: the roles, extensions and "
           "schemas they expect to exist; it may run more than once, so write it to be run "
           "again (CREATE EXTENSION IF NOT EXISTS, a DO block for roles)", Path, None,
           accepts="an SQL file path", metavar="FILE"),
    Option("schemas", "schemas to verify (the default leaves out system schemas and those an "
           "extension owns; with expect=target it is public)", parse_list, (), "linelist",
           accepts="schema names, comma-separated", metavar="SCHEMAS",
           shown_default=EVERY_SCHEMA),
    Option("exclude_tables", "tables to leave out (schema.table or table)", parse_list, (),
           "linelist", accepts="table names, comma-separated", metavar="TABLES"),
    Option("connect_timeout", "total seconds to keep retrying a connection that can heal",
           parse_seconds, 30.0, "float", accepts="seconds > 0", metavar="SECONDS"),
    Option("lock_timeout", "lock_timeout of every verifier connection, in seconds",
           parse_seconds, 2.0, "float", accepts="seconds > 0", metavar="SECONDS"),
    Option("statement_timeout", "statement_timeout of every verifier connection, in seconds",
           parse_seconds, 30.0, "float", accepts="seconds > 0", metavar="SECONDS"),
    Option("read_only", "run only checks that write nothing (replicas, cautious production)",
           parse_bool, False, "bool", accepts="true or false", is_flag=True),
    Option("include", "run only checks whose name matches one of these patterns",
           parse_list, (), "linelist", accepts="fnmatch patterns, comma-separated",
           metavar="PATTERNS"),
    Option("exclude", "skip checks whose name matches one of these patterns",
           parse_list, (), "linelist", accepts="fnmatch patterns, comma-separated",
           metavar="PATTERNS"),
    Option("examples", "hypothesis examples per property check", parse_count, 10, "int",
           accepts="a whole number >= 1", metavar="N"),
    Option("check_budget", "seconds a property check may spend drawing and sending examples "
           "before it stops (skipped, saying so, if none was accepted yet)", parse_seconds,
           60.0, "float", accepts="seconds > 0", metavar="SECONDS"),
    Option("server", "throwaway server to use when no target is set", parse_server,
           "embedded", accepts="embedded or system", metavar="KIND"),
    Option("ledger", "migration checksum ledger (written by `dbverify ledger update`); "
           "default: beside the migrations directory, db/migrations -> db/migrations.sum",
           Path, None, accepts="a file path", metavar="FILE"),
    Option("round_trip", "roll every migration down and up again on a throwaway database "
           "and compare the schemas (never on the target)", parse_bool, True, "bool",
           accepts="true or false", metavar="BOOL"),
    Option("lint_exclude", "squawk rules not to apply to the migrations' up sections",
           parse_list, DEFAULT_LINT_EXCLUDE, "linelist", accepts="squawk rule names, "
           "comma-separated", metavar="RULES"),
    Option("data_scan", "scan the deployed rows for violations of the expected constraints "
           "(read-only, one snapshot; reads whole tables)", parse_bool, False, "bool",
           accepts="true or false", is_flag=True),
    Option("advisories", "how to report a foreign key without an index and a constraint the "
           "migrations leave NOT VALID or NOT ENFORCED: warn (as advice in the summary and "
           "the reports; the item passes) or fail", parse_advisories, "warn",
           accepts="fail or warn", metavar="MODE"),
    Option("report", "write a JSON coverage report here: every catalog object with the checks "
           "that exercised it and their outcome, and what nothing checked (relative to the "
           "current directory, as --junitxml)", Path, None, accepts="a file path",
           metavar="PATH"),
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one run; ``sources`` says where each value came from."""

    url: str | None
    expected_url: str | None
    expect: str
    migrations_dir: Path
    migrations_table: str
    setup: Path | None
    schemas: tuple[str, ...]
    exclude_tables: tuple[str, ...]
    connect_timeout: float
    lock_timeout: float
    statement_timeout: float
    read_only: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    examples: int
    check_budget: float
    server: str
    ledger: Path | None
    round_trip: bool
    lint_exclude: tuple[str, ...]
    data_scan: bool
    advisories: str
    report: Path | None
    sources: Mapping[str, str]

    def __repr__(self) -> str:
        # pytest shows fixture values in tracebacks: URLs appear with their password masked.
        from pytest_dbverify.redact import redact_conninfo

        shown = {
            field.name: redact_conninfo(value) if isinstance(value, str) else value
            for field in fields(self)
            if (value := getattr(self, field.name)) is not None and field.name != "sources"
        }
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @classmethod
    def defaults(cls) -> Settings:
        """Return every setting at its default, as a program outside pytest starts from."""
        values = {option.name: option.default for option in OPTIONS}
        return cls(**values, sources=dict.fromkeys(values, "default"))


def add_options(parser: pytest.Parser) -> None:
    """Declare ``--dbverify`` and every setting's flag and ini key."""
    group = parser.getgroup("dbverify", "database verification (pytest-dbverify)")
    group.addoption(
        "--dbverify",
        action="store_true",
        default=False,
        help="verify the database: run the built-in checks and tests marked dbverify only",
    )
    for option in OPTIONS:
        text = f"{option.help} (env {option.env}; default: {option.default_text})"
        if option.is_flag:
            group.addoption(option.flag, action="store_const", const="true", default=None,
                            help=text)  # fmt: skip
        else:
            group.addoption(option.flag, default=None, metavar=option.metavar,
                            help=f"{text}; accepts {option.accepts}")  # fmt: skip
        # No ini default: None tells "not set" apart from an explicit empty value.
        parser.addini(option.ini, f"{option.help} ({option.accepts})", type=option.ini_type,
                      default=None)  # fmt: skip


def resolve(config: pytest.Config, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting once: command line > ini > environment > default."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        values[option.name], sources[option.name] = _resolve_one(option, config, environ)
    if values["migrations_dir"] is not None and not values["migrations_dir"].is_absolute():
        values["migrations_dir"] = config.rootpath / values["migrations_dir"]
    if values["ledger"] is not None and not values["ledger"].is_absolute():
        values["ledger"] = config.rootpath / values["ledger"]
    if values["setup"] is not None and not values["setup"].is_absolute():
        values["setup"] = config.rootpath / values["setup"]
    return Settings(**values, sources=sources)


def validate(settings: Settings) -> Settings:
    """Reject settings that are each valid but together, or on this machine, are not.

    Raises:
        pytest.UsageError: one line naming the settings, their sources and the fix.
    """
    src = settings.sources
    if not settings.schemas and src["schemas"] != "default":
        raise pytest.UsageError(
            f"schemas ({src['schemas']}) names no schema: name at least one, or leave the "
            f"setting out for {EVERY_SCHEMA}"
        )
    if settings.lock_timeout >= settings.statement_timeout:
        raise pytest.UsageError(
            f"lock_timeout={settings.lock_timeout:g}s ({src['lock_timeout']}) is not shorter "
            f"than statement_timeout={settings.statement_timeout:g}s "
            f"({src['statement_timeout']}): a statement waiting on a production lock would "
            "be cancelled by the wrong timeout; lower --dbverify-lock-timeout or raise "
            "--dbverify-statement-timeout"
        )
    if settings.url is not None and settings.url.strip() == (settings.expected_url or "").strip():
        raise pytest.UsageError(
            f"expected_url ({src['expected_url']}) is the target itself: the expected schema "
            "must come from another database (a shadow database); unset it to build the "
            "expectation from the migrations"
        )
    if settings.expect == "target" and settings.expected_url is not None:
        raise pytest.UsageError(
            f"expect=target ({src['expect']}) takes the target's own catalog as the expected "
            f"schema, but expected_url ({src['expected_url']}) names a database holding it: "
            "unset one of them"
        )
    if settings.setup is not None and not settings.setup.is_file():
        raise pytest.UsageError(
            f"setup ({src['setup']}) names {settings.setup}, which is not a file: name the SQL "
            "file that prepares a database for the migrations, or unset it"
        )
    _validate_migrations_dir(settings)
    return settings


def _validate_migrations_dir(settings: Settings) -> None:
    """Refuse a migrations directory that would quietly leave the run with less to check.

    Raises:
        pytest.UsageError: a named directory is missing, the default one is missing while
            the expected schema is to be built from it, or it holds no migration file.
    """
    migrations_dir, src = settings.migrations_dir, settings.sources
    if not migrations_dir.is_dir():
        if src["migrations_dir"] != "default":
            raise pytest.UsageError(
                f"migrations_dir={migrations_dir} ({src['migrations_dir']}) is not a "
                "directory: fix the path, or leave the setting out to use db/migrations"
            )
        if settings.expect == "migrations" and settings.expected_url is None:
            # A CI job started in the wrong directory: never a quiet pass on the target's
            # own catalog.
            raise pytest.UsageError(
                f"no migrations directory at {migrations_dir} (migrations_dir, default): the "
                "expected schema is built from the migrations: run pytest from the project's "
                "directory or set --dbverify-migrations-dir (ini dbverify_migrations_dir, env "
                "DBVERIFY_MIGRATIONS_DIR); to take the target's own catalog as the expectation, "
                "pass --dbverify-expect=target"
            )
        return
    from pytest_dbverify.migrations import migration_files  # only under --dbverify

    if not migration_files(migrations_dir):
        raise pytest.UsageError(
            f"migrations_dir={migrations_dir} ({src['migrations_dir']}) holds no migration "
            "file (dbmate applies files named <version>_<name>.sql): point "
            "--dbverify-migrations-dir at the directory that holds them"
        )


def _resolve_one(
    option: Option, config: pytest.Config, environ: Mapping[str, str]
) -> tuple[Any, str]:
    cli = config.getoption(option.flag)
    if cli is not None:
        return _parse(option, cli, option.flag), "command line"
    try:
        ini = config.getini(option.ini)
    except (ValueError, pytest.UsageError):  # pytest's own conversion of int/float keys
        raise pytest.UsageError(
            f"ini {option.ini} is not valid for {option.name.replace('_', ' ')}: "
            f"expected {option.accepts}"
        ) from None
    if ini is not None and not _is_empty_list(ini, option):
        return _parse_ini(option, ini), f"ini {option.ini}"
    env = environ.get(option.env)
    if env is not None and env != "":
        return _parse(option, env, option.env), f"env {option.env}"
    return option.default, "default"


def _parse_ini(option: Option, value: object) -> Any:
    if option.ini_type == "bool":
        return bool(value)
    if option.ini_type == "linelist":
        assert isinstance(value, list)
        return parse_list(",".join(value))
    return _parse(option, str(value), option.ini)


def _is_empty_list(value: object, option: Option) -> bool:
    # pytest returns [] for an unset linelist even with default=None on some versions.
    return option.ini_type == "linelist" and value == []


def _parse(option: Option, text: str, where: str) -> Any:
    try:
        return option.parse(text)
    except ValueError:
        raise pytest.UsageError(
            f"{where}={text!r} is not valid for {option.name.replace('_', ' ')}: "
            f"expected {option.accepts}"
        ) from None


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value) or "none"
    return "none" if value is None else str(value)


def describe(settings: Settings, names: Sequence[str]) -> list[str]:
    """Return ``name=value (source)`` for the named settings, for the report header."""
    options = {option.name: option for option in OPTIONS}
    lines = []
    for name in names:
        value, source = getattr(settings, name), settings.sources[name]
        unsettled = source == "default" and value == options[name].default
        lines.append(
            f"{name}={options[name].default_text if unsettled else _show(value)} ({source})"
        )
    return lines
