"""`pytest --dbverify` as a user runs it: one tiny project per scenario, real servers."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from pytest_dbverify.binaries import find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from tests.conftest import MIGRATIONS_DIR, Database

pytestmark = pytest.mark.usefixtures("clean_environment")

SECRET = "planted-secret-pw"
# The checks that read only: enough to show where the target came from, fast.
LIGHT = "--dbverify-include=test_server_*,test_session_*,test_*migration*,test_table_*"
MARKED_TEST = """
import pytest

@pytest.mark.dbverify
def test_my_own_database_test(dbverify_conn):
    assert dbverify_conn.execute("SELECT 41 + 1").fetchone() == (42,)

def test_a_unit_test():
    pass
"""


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No target leaks in from the outer environment."""
    for name in ("DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("DBVERIFY_URL", "DBVERIFY_SCHEMAS", "DBVERIFY_READ_ONLY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def password_server() -> Iterator[ServerInfo]:
    """A server that checks passwords over TCP, with role ``app`` (password SECRET)."""
    with ThrowawayServer(find_binaries("embedded")) as server:
        info = server.info
        assert server.run_dir is not None
        (server.run_dir / "data" / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        with psycopg.connect(info.conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE app LOGIN PASSWORD '{SECRET}'")
            conn.execute("GRANT ALL ON SCHEMA public TO app")
            # Something to verify: an empty target without migrations fails by design.
            conn.execute("CREATE TABLE note (id int PRIMARY KEY)")
            conn.execute("GRANT SELECT ON note TO app")
            conn.execute("SELECT pg_reload_conf()")
        yield info


def app_url(info: ServerInfo, password: str = SECRET, dbname: str = "postgres") -> str:
    return f"postgresql://app:{password}@127.0.0.1:{info.port}/{dbname}?sslmode=disable"


def with_migrations(pytester: pytest.Pytester) -> None:
    shutil.copytree(MIGRATIONS_DIR, pytester.path / "db" / "migrations")
    shutil.copyfile(
        MIGRATIONS_DIR.parent / "migrations.sum", pytester.path / "db" / "migrations.sum"
    )


def output_of(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def test_without_dbverify_the_plugin_is_inert(pytester: pytest.Pytester, monkeypatch) -> None:
    # A target that would fail loudly if anything tried to reach it.
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/none")
    pytester.makepyfile(test_mixed=MARKED_TEST)
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*database test: run it with pytest --dbverify*"])
    assert "dbverify target" not in result.stdout.str()


def test_help_lists_every_setting_in_a_dbverify_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        [
            "database verification (pytest-dbverify):",
            "*--dbverify *",
            "*--dbverify-url=*",
            "*--dbverify-lock-timeout=SECONDS*",
            "*dbverify_read_only (bool):*",
        ]
    )


def test_main_job_without_a_target_verifies_a_throwaway_server(
    pytester: pytest.Pytester,
) -> None:
    with_migrations(pytester)
    pytester.makepyfile(test_mixed=MARKED_TEST)
    result = pytester.runpytest_subprocess("--dbverify", "--dbverify-examples=2", "-v")
    result.stdout.fnmatch_lines(
        [
            "dbverify: starting a throwaway PostgreSQL (embedded) ... PostgreSQL 18.* ready in *s",
            "dbverify: applying the migrations of * ... done in *s",
            "dbverify target: postgres://postgres@127.0.0.1:*/dbverify* (throwaway server *)",
            "dbverify server: PostgreSQL 18.*",
            "*dbverify/server::test_server_reachable PASSED*",
            "*dbverify/migrations::test_migration_applied?20260105090000_*] PASSED*",
            "*dbverify/tables::test_table_readable?public.like_engagement] PASSED*",
            "*dbverify/drift::test_schema_drift?none] PASSED*",
            "*dbverify/roundtrip::test_full_rollback_round_trip PASSED*",
            "*test_mixed.py::test_my_own_database_test PASSED*",
            "*dbverify summary*",
            "target:  postgres://postgres@127.0.0.1:*/dbverify* (throwaway server *)",
            "server:  PostgreSQL 18.*",
            "objects: 7 tables in public, 6 migration files",
            "checks:  216 (216 passed) in *s",
        ]
    )
    assert "test_a_unit_test" not in result.stdout.str()
    assert result.ret == 0


def test_database_url_from_the_environment_is_the_target(
    pytester: pytest.Pytester, learning_db: Database, monkeypatch
) -> None:
    with_migrations(pytester)
    monkeypatch.setenv("DATABASE_URL", learning_db.url)
    result = pytester.runpytest_subprocess("--dbverify", LIGHT)
    result.stdout.fnmatch_lines(
        [f"dbverify target: {learning_db.url} (env DATABASE_URL)", "*passed*"]
    )
    result.stdout.fnmatch_lines(["dbverify expected schema: * applied to a throwaway *"])
    assert result.ret == 0


def test_precedence_of_target_sources(
    pytester: pytest.Pytester, learning_db: Database, monkeypatch
) -> None:
    with_migrations(pytester)
    dead = "postgresql://postgres@127.0.0.1:1/dead"
    # .env alone
    pytester.makefile("", **{".env": f"# comment\nexport DATABASE_URL='{learning_db.url}'\n"})
    result = pytester.runpytest_subprocess("--dbverify", "--co")
    result.stdout.fnmatch_lines([f"dbverify target: {learning_db.url} (DATABASE_URL in *.env)"])
    # the environment wins over .env, and --dbverify-url over both
    monkeypatch.setenv("DATABASE_URL", dead)
    result = pytester.runpytest_subprocess("--dbverify", LIGHT, f"--dbverify-url={learning_db.url}")
    result.stdout.fnmatch_lines([f"dbverify target: {learning_db.url} (command line)"])
    assert result.ret == 0
    # libpq variables when nothing else is set
    monkeypatch.delenv("DATABASE_URL")
    (pytester.path / ".env").unlink()
    monkeypatch.setenv("PGHOST", learning_db.server.socket_dir)
    monkeypatch.setenv("PGPORT", str(learning_db.server.port))
    monkeypatch.setenv("PGUSER", "postgres")
    monkeypatch.setenv("PGDATABASE", learning_db.name)
    result = pytester.runpytest_subprocess("--dbverify", LIGHT)
    result.stdout.fnmatch_lines(
        [
            f"dbverify target: PGHOST={learning_db.server.socket_dir} PGPORT=* PGDATABASE=t_* "
            "PGUSER=postgres (libpq environment variables)"
        ]
    )
    assert result.ret == 0


def test_only_marked_tests_and_builtin_checks_run_and_can_be_filtered(
    pytester: pytest.Pytester, learning_db: Database, monkeypatch
) -> None:
    with_migrations(pytester)
    monkeypatch.setenv("DATABASE_URL", learning_db.url)
    pytester.makepyfile(test_mixed=MARKED_TEST)
    result = pytester.runpytest_subprocess(
        "--dbverify",
        "--dbverify-include=test_server_*,test_my_own_*",
        "--dbverify-exclude=test_server_version_*",
        "-v",
    )
    result.assert_outcomes(passed=2)  # test_server_reachable and the user's own marked test
    assert "test_table_readable" not in result.stdout.str()
    assert "test_a_unit_test" not in result.stdout.str()
    result = pytester.runpytest_subprocess("--dbverify", "--dbverify-include=test_table_*")
    result.assert_outcomes(passed=8)  # the seven tables and schema_migrations


def test_a_pending_migration_fails_by_name(
    pytester: pytest.Pytester, pg_server: ServerInfo, monkeypatch
) -> None:
    from tests.conftest import LEARNING_TEMPLATE, create_database, drop_database

    db = create_database(pg_server, template=LEARNING_TEMPLATE)
    try:
        with db.connect(autocommit=True) as conn:
            conn.execute("DELETE FROM schema_migrations WHERE version = '20260204111500'")
        with_migrations(pytester)
        monkeypatch.setenv("DATABASE_URL", db.url)
        result = pytester.runpytest_subprocess("--dbverify", LIGHT, "-n", "2")
        result.stdout.fnmatch_lines(
            [
                "FAILED dbverify/migrations::test_migration_applied"
                "?20260204111500_add_newest_content_and_stale_session_indexes]*",
                "*1 failed*",
            ]
        )
        assert result.ret == 1
    finally:
        drop_database(db)


def test_a_server_that_starts_late_is_waited_for(pytester: pytest.Pytester, monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/postgres")
    server = ThrowawayServer(find_binaries("embedded"), port=port)
    starter = threading.Timer(5.0, server.start)
    starter.start()
    try:
        began = time.monotonic()
        with_migrations(pytester)
        result = pytester.runpytest_subprocess(
            "--dbverify", "--dbverify-connect-timeout=30", "--dbverify-include=test_server_*"
        )
        assert time.monotonic() - began > 5
        result.stdout.fnmatch_lines(["*passed*"])
        assert result.ret == 0
    finally:
        starter.join()
        server.stop()


def test_a_wrong_password_fails_at_once_with_one_safe_line(
    pytester: pytest.Pytester, password_server: ServerInfo, monkeypatch
) -> None:
    with_migrations(pytester)
    monkeypatch.setenv("DATABASE_URL", app_url(password_server, password="wrong-" + SECRET))
    began = time.monotonic()
    result = pytester.runpytest_subprocess("--dbverify")
    elapsed = time.monotonic() - began
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*_ test_server_reachable _*",
            "cannot connect to "
            "postgresql://app:***@127.0.0.1:*/postgres?sslmode=disable (env DATABASE_URL): "
            'password authentication failed for user "app"; check the user and password*',
            "*1 failed*",
        ]
    )
    assert SECRET not in output_of(result)
    # No retry: well under the 30 s connect budget a healing fault would get (the
    # subprocess itself takes a second or more on a busy machine).
    assert elapsed < 10
    # The target is reached first: no throwaway server, no migrations for a lost cause.
    assert "throwaway" not in output_of(result)


@pytest.mark.parametrize(
    ("extra_args", "expected_exit"),
    [
        pytest.param([], 0, id="success"),
        pytest.param(["--dbverify-lock-timeout=soon"], 4, id="usage-error"),
        pytest.param(["--dbverify-url=postgresql://app:{secret}@127.0.0.1:1/x"], 1, id="refused"),
        pytest.param(
            ["--dbverify-url=postgresql://app:{secret}@127.0.0.1:1/x", "-n", "2"],
            1,
            id="refused-xdist",
        ),
        pytest.param(["--dbverify-url=postgresql://app:{secret}@[::1/x"], 4, id="malformed"),
        pytest.param(["--dbverify-url=mysql://app:{secret}@host/x"], 4, id="bad-scheme"),
        pytest.param(["--dbverify-url={wrong}"], 1, id="wrong-password"),
        pytest.param(
            ["--dbverify-include=test_table_*", "--dbverify-schemas=nope"], 4, id="unknown-schema"
        ),
        pytest.param(["--dbverify-migrations-dir={migrations}"], 1, id="check-failures"),
        pytest.param(["--dbverify-migrations-dir={migrations}", "-n", "2"], 1, id="xdist-failures"),
    ],
)
def test_the_password_never_reaches_any_output(
    pytester: pytest.Pytester,
    password_server: ServerInfo,
    monkeypatch,
    extra_args: list[str],
    expected_exit: int,
) -> None:
    monkeypatch.setenv("DATABASE_URL", app_url(password_server))
    args = [
        arg.format(
            secret=SECRET,
            wrong=app_url(password_server, password="x" + SECRET),
            migrations=MIGRATIONS_DIR,  # not applied on this server: the checks fail
        )
        for arg in extra_args
    ]
    junit = pytester.path / "junit.xml"
    # No migrations here: the target's own catalog is the expectation, as asked.
    result = pytester.runpytest_subprocess(
        "--dbverify", LIGHT, "--dbverify-expect=target", "--dbverify-connect-timeout=1",
        f"--junitxml={junit}", "-rA", *args,
    )  # fmt: skip
    assert result.ret == expected_exit, output_of(result)
    assert SECRET not in output_of(result)
    assert junit.exists() or expected_exit == 4  # a usage error stops before any report
    if junit.exists():
        assert SECRET not in junit.read_text()


@pytest.fixture
def dropped_fk_db(pg_server: ServerInfo) -> Iterator[Database]:
    """The learning schema with a foreign key dropped: a run that passes on it is false."""
    from tests.conftest import LEARNING_TEMPLATE, create_database, drop_database

    db = create_database(pg_server, template=LEARNING_TEMPLATE)
    with db.connect(autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE user_preferences DROP CONSTRAINT user_preferences_session_id_fkey"
        )
    yield db
    drop_database(db)


def test_a_run_without_migrations_fails_unless_the_target_is_asked_to_be_the_expectation(
    pytester: pytest.Pytester, dropped_fk_db: Database, monkeypatch
) -> None:
    # CI started in the wrong directory: no db/migrations here.
    monkeypatch.setenv("DATABASE_URL", dropped_fk_db.url)
    result = pytester.runpytest_subprocess("--dbverify")
    assert result.ret == 4, output_of(result)
    result.stderr.fnmatch_lines(
        [
            f"ERROR: no migrations directory at {pytester.path}/db/migrations (migrations_dir, "
            "default): the expected schema is built from the migrations: *; to take the "
            "target's own catalog as the expectation, pass --dbverify-expect=target"
        ]
    )
    assert "passed" not in output_of(result)
    result = pytester.runpytest_subprocess("--dbverify", LIGHT, "--dbverify-expect=target")
    result.stdout.fnmatch_lines(
        [
            "dbverify expected schema: the target's own catalog (expect=target, command line)",
            "dbverify settings: schemas=public (default with expect=target), expect=target "
            "(command line), *",
        ]
    )
    assert result.ret == 0
    # Collecting only runs nothing, and is no "nothing was verified" failure.
    result = pytester.runpytest_subprocess("--dbverify", "--dbverify-expect=target", "--co", "-q")
    result.stdout.fnmatch_lines(["dbverify/tables::test_table_readable?public.content]"])
    assert "nothing was verified" not in output_of(result)
    assert result.ret == 0


AUDIT_MIGRATION = """\
-- migrate:up
CREATE SCHEMA audit;
CREATE TABLE audit.event (id int PRIMARY KEY, kind text NOT NULL CHECK (kind <> ''));
-- A schema an extension owns is not the project's: never verified by default.
CREATE SCHEMA ext_owned;
ALTER EXTENSION plpgsql ADD SCHEMA ext_owned;

-- migrate:down
ALTER EXTENSION plpgsql DROP SCHEMA ext_owned;
DROP SCHEMA ext_owned;
DROP SCHEMA audit CASCADE;
"""


def test_the_default_schemas_are_those_the_migrations_create(
    pytester: pytest.Pytester, empty_db: Database, monkeypatch
) -> None:
    migrations = pytester.path / "db" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20260101000000_create_audit.sql").write_text(AUDIT_MIGRATION)
    empty_db.dbmate(migrations).up()
    with empty_db.connect(autocommit=True) as conn:
        conn.execute("ALTER TABLE audit.event DROP CONSTRAINT event_kind_check")
    monkeypatch.setenv("DATABASE_URL", empty_db.url)
    selection = "--dbverify-include=test_check_enforced,test_migration_file_present"
    result = pytester.runpytest_subprocess("--dbverify", selection, "-n", "2", "-rfs", "-v")
    result.stdout.fnmatch_lines(
        [
            "dbverify settings: schemas=audit,public (default: every schema the migrations "
            "create), *",
            "FAILED dbverify/check_constraints::test_check_enforced?audit.event.event_kind_check]*",
        ]
    )
    # No ledger beside these migrations: one skip that says so, with an id that reads.
    assert "test_migration_file_present[no-ledger]" in output_of(result)
    assert "ext_owned" not in output_of(result)
    assert result.ret == 1
    # A list that leaves a schema out is allowed, and said.
    result = pytester.runpytest_subprocess(
        "--dbverify", "--dbverify-include=test_server_reachable", "--dbverify-schemas=public"
    )
    result.stdout.fnmatch_lines(
        ["dbverify schemas left out: audit (in the expected schema, not in schemas (command line))"]
    )
    assert result.ret == 0
