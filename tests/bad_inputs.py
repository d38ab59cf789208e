"""The bad-input matrix: each case is a user's mistake and the one line that explains it.

A case names the project it runs in (with or without the learning migrations, or a
broken copy of them), the target, the settings, the exit code, and the exact line the
user must see (fnmatch: ``*`` stands for ports and temporary paths only). Used by
tests/test_bad_input.py (message, exit code, no traceback) and tests/test_secrets.py
(the planted password appears nowhere).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from pytest_dbverify.embedded import ServerInfo
from tests.conftest import MIGRATIONS_DIR
from tests.production import (
    APP,
    SECRET,
    Run,
    admin,
    create_learning_db,
    project_dir,
    run_dbverify,
    run_health,
    url,
)

USAGE, FAILED, OK = 4, 1, 0
# The read-only checks: enough to reach every failure below, and fast.
LIGHT = "--dbverify-include=test_server_*,test_session_*,test_*migration*,test_table_*"


@dataclass(frozen=True)
class Case:
    """One bad input: how to run it, and what the user must see."""

    id: str
    args: tuple[str, ...]
    ret: int
    line: str
    env: Mapping[str, str] = field(default_factory=dict)
    # "good", "none", "empty", "sql-error", "no-down", "no-extension"
    migrations: str = "good"
    files: Mapping[str, str] = field(default_factory=dict)  # "\udcXX" writes byte 0xXX
    dirs: tuple[str, ...] = ()
    links: Mapping[str, str] = field(default_factory=dict)  # name -> where it points
    health: bool = False  # `dbverify health` instead of `pytest --dbverify`

    @property
    def sees_password(self) -> bool:
        """Return True when the case hands the verifier the planted password."""
        given = " ".join([*self.args, *self.env.values(), *self.files.values()])
        placeholders = ["{secret}", "{app}", *("{" + name + "}" for name in DATABASES)]
        return SECRET in given or any(name in given for name in placeholders)

    def run(self, server: ServerInfo, base: Path) -> Run:
        """Run the case in a fresh project under ``base``."""
        project = project_dir(base, migrations=_migrations(self.migrations, base))
        for name, text in self.files.items():
            path = project / name
            path.write_text(_fill(text, server), encoding="utf-8", errors="surrogateescape")
        for name in self.dirs:
            (project / name).mkdir()
        for name, points_to in self.links.items():
            (project / name).symlink_to(points_to)
        args = [_fill(arg, server) for arg in self.args]
        env = {key: _fill(value, server) for key, value in self.env.items()}
        if self.health:
            return run_health(project, args, env=env)
        return run_dbverify(project, args, env=env)


def _fill(text: str, server: ServerInfo) -> str:
    return text.format(
        port=server.port,
        socket=server.socket_dir,
        secret=SECRET,
        app=url(server, "learning"),
        **{name: url(server, name) for name in DATABASES},
    )


def _migrations(kind: str, base: Path) -> Path | None:
    if kind == "none":
        return None
    if kind == "good":
        return MIGRATIONS_DIR
    broken = base.parent / f"{base.name}-migrations"
    broken.mkdir()
    if kind == "empty":
        (broken / "README.md").write_text("The migrations live elsewhere now.\n")
        return broken
    for path in MIGRATIONS_DIR.glob("*.sql"):
        (broken / path.name).write_text(path.read_text())
    if kind == "sql-error":
        (broken / "20270101000000_add_tags.sql").write_text(
            "-- migrate:up\nALTER TABLE content ADD COLUMN tags text[] NOT NULL DEFAULT '{}',;\n"
            "-- migrate:down\nALTER TABLE content DROP COLUMN tags;\n"
        )
    elif kind == "no-down":
        (broken / "20270101000000_add_tags.sql").write_text(
            "-- migrate:up\nALTER TABLE content ADD COLUMN tags text[];\n"
        )
    elif kind == "no-extension":  # on no server kind: neither the wheel's nor the system's
        (broken / "20270101000000_add_an_extension.sql").write_text(
            "-- migrate:up\nCREATE EXTENSION dbverify_nowhere;\n"
            "-- migrate:down\nDROP EXTENSION dbverify_nowhere;\n"
        )
    return broken


# Databases of the matrix server, each prepared once (see prepare()).
DATABASES = ("learning", "pending", "orphan", "empty", "odd", "invalid", "closed", "old")


def prepare(server: ServerInfo) -> None:
    """Create the roles and databases the cases point at."""
    with admin(server) as conn:
        conn.execute("CREATE ROLE nologin")
        conn.execute(f"CREATE ROLE limited LOGIN CONNECTION LIMIT 0 PASSWORD '{SECRET}'")
        conn.execute("CREATE ROLE blocked LOGIN")
        conn.execute(f"CREATE ROLE reader LOGIN PASSWORD '{SECRET}'")
        conn.execute(f"CREATE ROLE old LOGIN PASSWORD '{SECRET}'")
    for name in ("learning", "pending", "orphan", "old"):
        create_learning_db(server, name)
    with admin(server, "pending") as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = '20260204111500'")
    with admin(server, "orphan") as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES ('20260301000000')")
    with admin(server, "learning") as conn:
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
        conn.execute("REVOKE SELECT ON content FROM reader")
    with admin(server) as conn:
        for name in ("empty", "odd", "invalid", "closed"):
            conn.execute(f'CREATE DATABASE "{name}" OWNER {APP}')
    with admin(server, "odd") as conn:
        conn.execute("CREATE TYPE complex AS (r float8, i float8)")
        conn.execute("CREATE TABLE reading (id int PRIMARY KEY, value complex NOT NULL)")
        conn.execute(f"ALTER TABLE reading OWNER TO {APP}")
        conn.execute(f"ALTER TYPE complex OWNER TO {APP}")
    with admin(server, "invalid") as conn:
        # What a failed CREATE INDEX CONCURRENTLY leaves behind: an invalid index.
        conn.execute("CREATE TABLE tag (name text)")
        conn.execute("INSERT INTO tag VALUES ('a'), ('a')")
        with suppress(psycopg.errors.UniqueViolation):  # the duplicate is the point
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY tag_name_key ON tag (name)")
        conn.execute(f"ALTER TABLE tag OWNER TO {APP}")
    with admin(server) as conn:
        conn.execute("ALTER DATABASE closed ALLOW_CONNECTIONS false")
    with admin(server, "old") as conn:
        # A PostgreSQL 12 as far as SQL can tell: this role's current_setting() answers
        # server_version(_num) for an older server (pg_catalog is searched after "fake").
        conn.execute("CREATE SCHEMA fake")
        conn.execute(
            "CREATE FUNCTION fake.current_setting(name text) RETURNS text LANGUAGE sql AS $$ "
            "SELECT CASE name WHEN 'server_version_num' THEN '120022' "
            "WHEN 'server_version' THEN '12.22' ELSE pg_catalog.current_setting(name) END $$"
        )
        conn.execute("GRANT USAGE ON SCHEMA fake TO old")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO old")
        conn.execute("ALTER ROLE old SET search_path = fake, pg_catalog, public")


def _u(db: str, user: str = APP, password: str | None = SECRET, query: str = "") -> str:
    auth = f"{user}:{password}" if password is not None else user
    return f"postgresql://{auth}@127.0.0.1:{{port}}/{db}?sslmode=disable{query}"


CONNECT = "cannot connect to postgresql://"
PERCENT_ENCODE = (
    "not a valid connection string: percent-encode the password in the URL (@ as %40, / as "
    "%2F, : as %3A, # as %23, ? as %3F, % as %25, a space as %20)"
)
CASES: tuple[Case, ...] = (
    # -- the URL ------------------------------------------------------------------------
    Case("malformed-url", ("--dbverify-url=postgresql://app:{secret}@[::1/learning",), USAGE,
         'ERROR: command line: not a valid connection string (end of string reached when '
         'looking for matching "]" in IPv6 host address in URI: '
         '"postgresql://app:***@[::1/learning"): postgresql://app:***@[::1/learning'),
    # The reported shape: libpq would take "w0rd...@127.0.0.1" for the host (and say so).
    Case("password-not-percent-encoded",
         ("--dbverify-url=postgresql://app:{secret}@p#w0rd@127.0.0.1:{port}/learning",), USAGE,
         f"ERROR: command line: {PERCENT_ENCODE}: postgresql://***@127.0.0.1:*/learning"),
    Case("unknown-scheme", ("--dbverify-url=mysql://app:{secret}@127.0.0.1/learning",), USAGE,
         "ERROR: command line: unsupported URL scheme 'mysql' in mysql://app:***@127.0.0.1/"
         "learning: expected postgres:// or postgresql://"),
    Case("conninfo-without-equals", ("--dbverify-url=host=127.0.0.1 dbname",), USAGE,
         'ERROR: command line: not a valid connection string (missing "=" after "dbname" in '
         "connection info string): host=127.0.0.1 dbname"),
    Case("unknown-conninfo-key", ("--dbverify-url=hots=127.0.0.1 password={secret}",), USAGE,
         'ERROR: command line: not a valid connection string (invalid connection option '
         '"hots"): hots=127.0.0.1 password=***'),
    Case("unknown-url-parameter", (f"--dbverify-url={_u('learning', query='&sslmod=require')}",),
         USAGE, 'ERROR: command line: not a valid connection string (invalid URI query '
         'parameter: "sslmod"): postgresql://app:***@127.0.0.1:*/learning?sslmode=disable'
         "&sslmod=require"),
    Case("blank-database-url", (), USAGE,
         "ERROR: env DATABASE_URL: the database URL is empty: set it to a postgres:// URL or "
         "a conninfo string, or unset it", env={"DATABASE_URL": "  "}),
    Case("dotenv-bad-line", (), USAGE,
         "ERROR: */.env:2: not a KEY=value line: fix or remove it (dbmate and pytest-dbverify "
         "read DATABASE_URL from this file)",
         files={".env": "# the target\nDATABASE_URL {app}\n"}),
    Case("dotenv-unterminated-quote", (), USAGE,
         "ERROR: */.env:1: the value of DATABASE_URL opens a \" quote that it does not close: "
         "close it or remove it (dbmate and pytest-dbverify read DATABASE_URL from this file)",
         files={".env": 'DATABASE_URL="{app}\n'}),
    Case("dotenv-not-utf8", (), USAGE,
         "ERROR: */.env:2: byte 0xe9 is not UTF-8: save the file as UTF-8 (dbmate and "
         "pytest-dbverify read DATABASE_URL from this file)",
         files={".env": "DATABASE_URL={app}\n# the caf\udce9's database\n"}),
    Case("dotenv-is-a-directory", (), USAGE,
         "ERROR: */.env is a directory: make it a file or remove it (dbmate and "
         "pytest-dbverify read DATABASE_URL from this file)", dirs=(".env",)),
    Case("dotenv-dangling-link", (), USAGE,
         "ERROR: */.env is a symbolic link to ../secrets/.env, which does not exist: fix the "
         "link or remove it (dbmate and pytest-dbverify read DATABASE_URL from this file)",
         links={".env": "../secrets/.env"}),
    # -- the server's answer ------------------------------------------------------------
    Case("wrong-password", (f"--dbverify-url={_u('learning', password='x' + SECRET)}",), FAILED,
         f"{CONNECT}app:***@127.0.0.1:*/learning?sslmode=disable (command line): password "
         'authentication failed for user "app"; check the user and password (PGPASSWORD, '
         "~/.pgpass or the URL)"),
    Case("unknown-database", (f"--dbverify-url={_u('nosuchdb')}",), FAILED,
         f"{CONNECT}app:***@127.0.0.1:*/nosuchdb?sslmode=disable (command line): database "
         '"nosuchdb" does not exist; check the database name in the URL'),
    Case("unknown-role", (f"--dbverify-url={_u('learning', user='ghost')}",), FAILED,
         f"{CONNECT}ghost:***@127.0.0.1:*/learning?sslmode=disable (command line): password "
         'authentication failed for user "ghost"; check the user and password (PGPASSWORD, '
         "~/.pgpass or the URL)"),
    Case("unknown-role-local", ("--dbverify-url=postgresql://ghost@/learning?host={socket}"
                                "&port={port}",), FAILED,
         f"{CONNECT}ghost@/learning?host=*&port=* (command line): role \"ghost\" does not "
         "exist; check the user name in the URL"),
    Case("role-cannot-log-in", ("--dbverify-url=postgresql://nologin@/learning?host={socket}"
                                "&port={port}",), FAILED,
         f"{CONNECT}nologin@/learning?host=*&port=* (command line): role \"nologin\" is not "
         "permitted to log in; ask for this role to be allowed to connect from here"),
    Case("hba-rejects", (f"--dbverify-url={_u('learning', user='blocked', password=None)}",),
         FAILED, f"{CONNECT}blocked@127.0.0.1:*/learning?sslmode=disable (command line): "
         'pg_hba.conf rejects connection for host "127.0.0.1", user "blocked", database '
         '"learning", no encryption; ask for this role to be allowed to connect from here'),
    Case("database-closed", (f"--dbverify-url={_u('closed')}",), FAILED,
         f"{CONNECT}app:***@127.0.0.1:*/closed?sslmode=disable (command line): database "
         '"closed" is not currently accepting connections; the database is closed to '
         "connections (ALTER DATABASE ... ALLOW_CONNECTIONS)"),
    Case("role-connection-limit", (f"--dbverify-url={_u('learning', user='limited')}",
                                   "--dbverify-connect-timeout=1"), FAILED,
         f"{CONNECT}limited:***@127.0.0.1:*/learning?sslmode=disable (command line): too many "
         'connections for role "limited"; still failing after *s and * attempts: the server '
         "has no connection slot left for this role (max_connections, the role's CONNECTION "
         "LIMIT): close idle sessions, or allow longer with --dbverify-connect-timeout (now 1s)"),
    Case("unknown-host", ("--dbverify-url=postgresql://app:{secret}@db.example.invalid/learning",),
         FAILED, f"{CONNECT}app:***@db.example.invalid/learning (command line): failed to "
         "resolve host 'db.example.invalid': [Errno -2] Name or service not known; check the "
         "host name in the URL"),
    Case("refused-port", ("--dbverify-url=postgresql://app:{secret}@127.0.0.1:1/learning",
                          "--dbverify-connect-timeout=1"), FAILED,
         f"{CONNECT}app:***@127.0.0.1:1/learning (command line): Connection refused; still "
         "failing after *s and * attempts: check that the server is up and reachable from "
         "here, or allow longer with --dbverify-connect-timeout (now 1s)"),
    Case("port-out-of-range", ("--dbverify-url=postgresql://app:{secret}@127.0.0.1:99999/x",),
         FAILED, f"{CONNECT}app:***@127.0.0.1:99999/x (command line): invalid port number: "
         '"99999"; fix the connection string'),
    Case("bad-sslmode", (f"--dbverify-url={_u('learning')}".replace("disable", "maybe"),), FAILED,
         f"{CONNECT}app:***@127.0.0.1:*/learning?sslmode=maybe (command line): invalid sslmode "
         'value: "maybe"; fix the connection string'),
    Case("tls-refused", (f"--dbverify-url={_u('learning')}".replace("disable", "require"),),
         FAILED, f"{CONNECT}app:***@127.0.0.1:*/learning?sslmode=require (command line): server "
         "does not support SSL, but SSL was required; check sslmode / sslrootcert in the URL "
         "against what the server offers"),
    # -- settings -----------------------------------------------------------------------
    Case("bad-seconds", ("--dbverify-lock-timeout=soon",), USAGE,
         "ERROR: --dbverify-lock-timeout='soon' is not valid for lock timeout: expected "
         "seconds > 0"),
    Case("bad-count", ("--dbverify-examples=0",), USAGE,
         "ERROR: --dbverify-examples='0' is not valid for examples: expected a whole number "
         ">= 1"),
    Case("bad-choice", ("--dbverify-server=docker",), USAGE,
         "ERROR: --dbverify-server='docker' is not valid for server: expected embedded or "
         "system"),
    Case("bad-bool-env", (), USAGE,
         "ERROR: DBVERIFY_READ_ONLY='perhaps' is not valid for read only: expected true or "
         "false", env={"DBVERIFY_READ_ONLY": "perhaps"}),
    Case("bad-ini", ("-o", "dbverify_connect_timeout=forever"), USAGE,
         "ERROR: ini dbverify_connect_timeout is not valid for connect timeout: expected "
         "seconds > 0"),
    Case("conflicting-timeouts", ("--dbverify-lock-timeout=60", "--dbverify-statement-timeout=5"),
         USAGE, "ERROR: lock_timeout=60s (command line) is not shorter than statement_timeout=5s "
         "(command line): a statement waiting on a production lock would be cancelled by the "
         "wrong timeout; lower --dbverify-lock-timeout or raise --dbverify-statement-timeout"),
    Case("expected-is-target", ("--dbverify-url={app}", "--dbverify-expected-url={app}"), USAGE,
         "ERROR: expected_url (command line) is the target itself: the expected schema must "
         "come from another database (a shadow database); unset it to build the expectation "
         "from the migrations"),
    Case("no-schema", ("--dbverify-schemas=,",), USAGE,
         "ERROR: schemas (command line) names no schema: name at least one, or leave the "
         "setting out for every schema the migrations create"),
    Case("unknown-schema", ("--dbverify-url={app}", "--dbverify-schemas=public,pubilc"), USAGE,
         "ERROR: schemas (command line) names 'pubilc', which exists neither on the target "
         "nor in the expected schema: check the name (--dbverify-schemas)"),
    Case("bad-expect", ("--dbverify-expect=catalog",), USAGE,
         "ERROR: --dbverify-expect='catalog' is not valid for expect: expected migrations or "
         "target"),
    Case("expect-target-and-expected-url", ("--dbverify-url={app}", "--dbverify-expect=target",
                                            "--dbverify-expected-url={pending}"), USAGE,
         "ERROR: expect=target (command line) takes the target's own catalog as the expected "
         "schema, but expected_url (command line) names a database holding it: unset one of "
         "them"),
    Case("expect-target-without-target", ("--dbverify-expect=target",), USAGE,
         "ERROR: nothing to verify: no target is set (--dbverify-url, DATABASE_URL, .env, PG* "
         "variables) and expect=target (command line) takes the expected schema from it: set a "
         "target, or leave expect at migrations"),
    Case("unknown-excluded-table", ("--dbverify-url={app}", "--dbverify-exclude-tables=contnet"),
         USAGE, "ERROR: exclude_tables (command line) names 'contnet', which is a table neither "
         "in the expected schema nor on the target (schemas public): check the name "
         "(--dbverify-exclude-tables)"),
    Case("include-matches-nothing", ("--dbverify-url={app}",
                                     "--dbverify-include=test_server_*,test_tabel_*"), USAGE,
         "ERROR: include (command line) pattern 'test_tabel_*' matches no check: check the name "
         "(`pytest --dbverify --co -q` lists the checks; --dbverify-include)"),
    Case("exclude-leaves-nothing", ("--dbverify-url={app}", "--dbverify-exclude=test_*"), USAGE,
         "ERROR: exclude (command line) leaves no check to run: nothing would be verified "
         "(--dbverify-exclude)"),
    Case("everything-skipped", ("--dbverify-url={app}", "--dbverify-read-only",
                                "--dbverify-include=test_crud"), FAILED,
         "dbverify: nothing was verified: all 7 selected checks were skipped (-rs says why), "
         "and a run that checks nothing fails"),
    # -- migrations ---------------------------------------------------------------------
    Case("missing-migrations-dir", ("--dbverify-migrations-dir=db/migratoins",), USAGE,
         "ERROR: migrations_dir=*/db/migratoins (command line) is not a directory: fix the "
         "path, or leave the setting out to use db/migrations"),
    Case("no-migrations-dir-here", ("--dbverify-url={app}",), USAGE,
         "ERROR: no migrations directory at */db/migrations (migrations_dir, default): the "
         "expected schema is built from the migrations: run pytest from the project's directory "
         "or set --dbverify-migrations-dir (ini dbverify_migrations_dir, env "
         "DBVERIFY_MIGRATIONS_DIR); to take the target's own catalog as the expectation, pass "
         "--dbverify-expect=target", migrations="none"),
    Case("no-migration-files", ("--dbverify-url={app}",), USAGE,
         "ERROR: migrations_dir=*/db/migrations (default) holds no migration file "
         "(dbmate applies files named <version>_<name>.sql): point --dbverify-migrations-dir at "
         "the directory that holds them", migrations="empty"),
    Case("migrations-need-a-missing-extension", ("--dbverify-url={app}",), USAGE,
         "ERROR: the migrations of * could not be applied to any throwaway server (embedded "
         "PostgreSQL 18.* lacks extension dbverify_nowhere; system PostgreSQL 15.* lacks "
         "extension dbverify_nowhere): install the extension's package for a server kind "
         "(--dbverify-server system), name a database that holds the migrated schema "
         "(--dbverify-expected-url), or take the target's own catalog as the expectation "
         "(--dbverify-expect=target)", migrations="no-extension"),
    Case("migration-sql-error", ("--dbverify-url={app}",), FAILED,
         "ERROR: dbverify: the migrations of * do not apply to an empty PostgreSQL 18.* "
         "(embedded): 20270101000000_add_tags.sql: Error: line: 2, column: 66, position: 80: "
         'pq: syntax error at or near ";" at position 2:66 (42601); fix that migration '
         "(`dbmate up` on an empty database shows the same error)",
         migrations="sql-error"),
    Case("migration-without-down", ("--dbverify-url={app}",), FAILED,
         "ERROR: dbverify: the migrations of * do not apply to an empty PostgreSQL 18.* "
         "(embedded): 20270101000000_add_tags.sql: Error: dbmate requires each migration to "
         "define a down block with '-- migrate:down'; fix that migration (`dbmate up` on an "
         "empty database shows the same error)", migrations="no-down"),
    Case("pending-migration", ("--dbverify-url={pending}", LIGHT), FAILED,
         "migration 20260204111500_add_newest_content_and_stale_session_indexes.sql is "
         "pending: not applied to the target (newest applied: 20260121093000): run "
         "`dbmate migrate`"),
    Case("applied-without-file", ("--dbverify-url={orphan}", LIGHT), FAILED,
         "applied on the target but missing from */db/migrations: 20260301000000 (a deleted "
         "or unmerged migration file?)"),
    Case("wrong-migrations-table", ("--dbverify-url={app}", LIGHT,
                                    "--dbverify-migrations-table=dbmate_migrations"), FAILED,
         "no table dbmate_migrations: dbmate has never migrated this database (or "
         "--dbverify-migrations-table names another table)"),
    # -- the schema ---------------------------------------------------------------------
    Case("empty-database", ("--dbverify-url={empty}", LIGHT), FAILED,
         "no table schema_migrations: dbmate has never migrated this database (or "
         "--dbverify-migrations-table names another table)"),
    Case("empty-database-own-expectation", ("--dbverify-url={empty}", LIGHT,
                                             "--dbverify-expect=target"), USAGE,
         "ERROR: nothing to verify: the target has no tables in schemas public and expect=target "
         "(command line) takes its own catalog as the expectation: is this the right database? "
         "(--dbverify-url, --dbverify-schemas)", migrations="none"),
    Case("unknown-column-type", ("--dbverify-url={odd}", "--dbverify-expect=target",
                                 "--dbverify-include=test_crud*,test_server_reachable"), OK,
         "SKIPPED [1] *: CRUD on public.reading: no hypothesis strategy for column "
         "public.reading.value of type complex: register one in conftest.py before the tests "
         "draw, for every column of the type: pytest_dbverify.strategies.register_type("
         "'complex', <strategy>), or for this column only: pytest_dbverify.strategies."
         "register_column('public.reading.value', <strategy>)"),
    Case("invalid-index", ("--dbverify-url={invalid}", "--dbverify-expect=target",
                           "--dbverify-include=test_index_*"), FAILED,
         "index tag_name_key on public.tag is not valid (a failed CREATE INDEX CONCURRENTLY "
         "leaves it so): REINDEX INDEX CONCURRENTLY it"),
    Case("table-not-readable", (f"--dbverify-url={_u('learning', user='reader')}",
                                "--dbverify-include=test_table_*"), FAILED,
         "cannot read public.content: InsufficientPrivilege [42501] permission denied for "
         "table content"),
    Case("postgresql-older-than-13", (f"--dbverify-url={_u('old', user='old')}",
                                      "--dbverify-include=test_server_*"), FAILED,
         "PostgreSQL 12.22 is older than 13, the oldest version pytest-dbverify supports"),
    # -- dbverify health ----------------------------------------------------------------
    Case("health-no-target", (), 2,
         "dbverify: error: no database to check: pass --url, or set DATABASE_URL (in the "
         "environment or in .env) or libpq's PG* variables", health=True),
    Case("health-bad-timeout", ("--url={app}", "--connect-timeout=0"), 2,
         "dbverify: error: argument --connect-timeout: '0': expected seconds > 0 (see "
         "`dbverify health --help`)", health=True),
    Case("health-bad-scheme", ("--url=mysql://app:{secret}@127.0.0.1/learning",), 2,
         "dbverify: error: --url: unsupported URL scheme 'mysql' in "
         "mysql://app:***@127.0.0.1/learning: expected postgres:// or postgresql://",
         health=True),
    Case("health-password-not-percent-encoded", (), 2,
         f"dbverify: error: env DATABASE_URL: {PERCENT_ENCODE}: postgresql://***@127.0.0.1:*/x",
         env={"DATABASE_URL": "postgresql://app:{secret}/w0rd@127.0.0.1:{port}/x"}, health=True),
)  # fmt: skip

CaseRunner = Callable[[Case], Run]
