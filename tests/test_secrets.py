"""No secret reaches output: planted passwords, every path, every place text goes.

The password of role ``app`` is planted in the target and handed to the verifier in every
way a user may (URL, conninfo ``password=``, PGPASSWORD, .env, the expected URL). Every
path of the bad-input matrix, a successful run (with xdist), failing user tests that hold
the fixtures and the password libpq used (with ``--showlocals``), ``dbverify health``, and
the library calls that raise, all run; the password must appear in no stdout, stderr,
JUnit XML, JSON report, step summary, log record (DEBUG, every logger) or exception text.

Passwords a URL cannot hold unencoded (``@ : / # ? %``, blanks, quotes, backslashes) are
planted too, on both servers, in each form a user may type them: unencoded or encoded in
the URL, in its query string, quoted or escaped in a conninfo, in a service file, in
PGPASSWORD. No piece of them may show either.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from psycopg import sql

from pytest_dbverify.binaries import SERVER_KINDS, ServerKind
from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.errors import DbverifyError, MigrationError
from pytest_dbverify.health import health_check
from pytest_dbverify.migrations import Dbmate
from pytest_dbverify.pool import connect
from pytest_dbverify.settings import Settings
from pytest_dbverify.target import Target
from tests.bad_inputs import CASES, prepare
from tests.conftest import MIGRATIONS_DIR
from tests.production import (
    APP,
    SECRET,
    Run,
    admin,
    create_learning_db,
    password_server,
    project_dir,
    run_dbverify,
    run_health,
    serve_health,
    url,
)

USER_TESTS = """
import logging
import pytest

@pytest.mark.dbverify
def test_user_sees_the_target(dbverify_target, dbverify_settings, dbverify_conn):
    logging.getLogger("user").info("verifying %r with %r", dbverify_target, dbverify_settings)
    assert dbverify_conn.execute("SELECT 1").fetchone() == (2,), dbverify_target

@pytest.mark.dbverify
def test_user_query_fails(dbverify_conn):
    dbverify_conn.execute("SELECT * FROM no_such_table")

@pytest.mark.dbverify
def test_user_shows_the_password(dbverify_conn):
    password = dbverify_conn.info.password  # whatever libpq read: URL, service file, ...
    print("connected with", password)
    logging.getLogger("user").warning("connected with %s", password)
    assert password == "", f"connected with {password}"
"""


# A user's module that cannot even be imported, quoting the target as it fails.
BROKEN_MODULE = """
import os

url = os.environ["DATABASE_URL"]
raise RuntimeError(f"no fixtures for {url} (password {url.split(':')[2].split('@')[0]})")
"""


def _extra_paths(server_port: int, shadow: str, base: Path) -> list[tuple[str, Callable[[], Run]]]:
    """The paths beyond the matrix: each way of passing the password, success and failure."""
    info_port = server_port

    def u(db: str, password: str | None = SECRET) -> str:
        auth = f"app:{password}" if password is not None else "app"
        return f"postgresql://{auth}@127.0.0.1:{info_port}/{db}?sslmode=disable"

    def verify(project: Path, args: list[str], env: dict[str, str] | None = None) -> Run:
        return run_dbverify(project, args, env=env, reports=True)

    def project(name: str, user_tests: str = "") -> Path:
        path = project_dir(base / name)
        (path / "test_user.py").write_text(user_tests)
        return path

    conninfo = (
        f"host=127.0.0.1 port={info_port} user=app password={SECRET} dbname=pending sslmode=disable"
    )
    light = "--dbverify-include=test_server_*,test_*migration*,test_table_*"
    with_user = f"{light},test_user_*"  # only where USER_TESTS are: a pattern must match
    return [
        ("writing checks pass, xdist", lambda: verify(
            project("writes"), [f"--dbverify-url={u('learning')}", "--dbverify-examples=1",
                                f"{light},test_crud*,test_fk_enforced*", "-n", "2"])),
        ("user tests fail, showlocals", lambda: verify(
            project("user", USER_TESTS),
            [f"--dbverify-url={u('learning')}", with_user, "-l", "--tb=long"])),
        ("PGPASSWORD", lambda: verify(
            project("pgpassword", USER_TESTS), [f"--dbverify-url={u('pending', None)}",
                                                with_user, "-l"],
            env={"PGPASSWORD": SECRET})),
        ("PGPASSWORD wrong", lambda: verify(
            project("pgpassword-wrong"), [f"--dbverify-url={u('pending', None)}"],
            env={"PGPASSWORD": SECRET + "x"})),
        ("user module fails at import", lambda: verify(
            project("broken", BROKEN_MODULE), [light, "-l"], env={"DATABASE_URL": u("learning")})),
        ("conninfo password=", lambda: verify(
            project("conninfo"), [f"--dbverify-url={conninfo}", light])),
        ("conninfo password= refused", lambda: verify(
            project("conninfo-refused"),
            [f"--dbverify-url={conninfo.replace(str(info_port), '1')}",
             "--dbverify-connect-timeout=1"])),
        (".env", lambda: verify(
            _with_dotenv(project("dotenv"), u("pending")), [light])),
        ("DATABASE_URL env, xdist failures", lambda: verify(
            project("env"), [light, "-n", "2"], env={"DATABASE_URL": u("pending")})),
        ("expected URL with password", lambda: verify(
            project("shadow"), [f"--dbverify-url={u('pending')}",
                                f"--dbverify-expected-url={shadow}", light])),
        ("read-only", lambda: verify(
            project("read-only"), [f"--dbverify-url={u('learning')}", "--dbverify-read-only",
                                   "--dbverify-examples=2"])),
        ("health ok", lambda: run_health(base, [f"--url={u('learning')}"])),
        ("health wrong password", lambda: run_health(base, [f"--url={u('learning', 'x')}"])),
        ("health pending", lambda: run_health(
            base, [f"--url={u('pending')}", f"--migrations-dir={MIGRATIONS_DIR}"])),
        ("health served", lambda: serve_health(
            base, [f"--url={u('pending')}", f"--migrations-dir={MIGRATIONS_DIR}"], env={})),
        ("health refused", lambda: run_health(
            base, [f"--url={u('learning').replace(str(info_port), '1')}",
                   "--connect-timeout=1"])),
    ]  # fmt: skip


def _with_dotenv(project: Path, database_url: str) -> Path:
    (project / ".env").write_text(f"DATABASE_URL='{database_url}'\n")
    return project


def _library_texts(port: int) -> list[str]:
    """Exception texts and reprs of the library's own calls, each given the password."""
    texts: list[str] = []
    wrong = f"postgresql://app:{SECRET}x@127.0.0.1:{port}/learning?sslmode=disable"
    refused = f"postgresql://app:{SECRET}@127.0.0.1:1/learning?sslmode=disable"
    settings = dataclasses.replace(Settings.defaults(), url=wrong, connect_timeout=1.0)
    for conninfo in (wrong, refused):
        target = Target(conninfo, "test")
        texts += [repr(target), target.shown]
        with pytest.raises(DbverifyError) as failure:
            connect(target, settings)
        texts += [str(failure.value), repr(failure.value)]
        report = health_check(conninfo, connect_timeout=1.0, migrations_dir=MIGRATIONS_DIR)
        texts.append(report.to_json())
    texts.append(repr(settings))
    dbmate = Dbmate(refused, migrations_dir=MIGRATIONS_DIR)
    texts.append(repr(dbmate))
    with pytest.raises(DbverifyError) as failure:
        dbmate.migrate()
    texts += [str(failure.value), repr(failure.value), getattr(failure.value, "output", "")]
    return texts


@pytest.mark.slow
def test_the_planted_password_reaches_no_output(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with password_server() as server:
        info = server.info
        prepare(info)
        create_learning_db(info, "shadow")
        shadow = url(info, "shadow")
        # The matrix's paths that are handed the password (the others never see it).
        paths: list[tuple[str, Callable[[], Run]]] = [
            (f"matrix {case.id}", lambda case=case: case.run(info, tmp_path / case.id))
            for case in CASES
            if case.sees_password
        ]
        paths += _extra_paths(info.port, shadow, tmp_path / "extra")
        # Three at a time: each is mostly a pytest subprocess waiting on a server.
        with ThreadPoolExecutor(max_workers=3) as pool:
            runs = dict(
                zip([name for name, _ in paths], pool.map(lambda p: p[1](), paths), strict=True)
            )
        library = _library_texts(info.port)
    leaks = [name for name, run in runs.items() if SECRET in run.everything()]
    leaks += [f"library text {i}" for i, text in enumerate(library) if SECRET in text]
    leaks += [f"log record {r.name}" for r in caplog.records if SECRET in r.getMessage()]
    assert leaks == [], f"{len(leaks)} leaks"
    # The paths did reach what they were meant to: the failures failed, the runs ran.
    assert runs["writing checks pass, xdist"].ret == 0, runs["writing checks pass, xdist"].output
    assert runs["user tests fail, showlocals"].has_line("*dbverify_target = Target(*")
    assert runs["PGPASSWORD"].ret == 1
    assert runs["PGPASSWORD"].has_line("*not applied*")
    assert runs["PGPASSWORD wrong"].has_line("*password authentication failed*")
    assert runs["health ok"].ret == 0
    assert runs["health wrong password"].ret == 1
    no_report = [
        name
        for name, run in runs.items()
        if not (run.junit or run.ret in (2, 4) or "ERROR: dbverify:" in run.err or "health" in name)
    ]
    assert no_report == []
    assert any(run.log for run in runs.values())  # the log files did record something
    assert runs["health served"].out.startswith("503 "), runs["health served"].output
    assert runs["user module fails at import"].has_line("*RuntimeError: no fixtures for *")
    assert "password authentication failed" not in runs["user tests fail, showlocals"].output
    assert runs["user tests fail, showlocals"].has_line("*connected with ****")


# Passwords a URL cannot hold as they are, one role each; every piece between two special
# characters is distinctive (three characters, masked wherever it appears): any in output
# is a leak. The first has the reported shape ("p@ss#w0rd").
SHOPPER = "Zq7@Kx9#Wm4"
BUYER = "Rt2/Hn5?Jd8:Lp1%Vb6 Qs3"
QUOTER = "Gh4 it's \\ Yu7"
SERVICE = "Sv3@Nm6 Ce9"
PIECES = ("Zq7", "Kx9", "Wm4", "Rt2", "Hn5", "Jd8", "Lp1", "Vb6", "Qs3", "Gh4", "Yu7",
          "Sv3", "Nm6", "Ce9")  # fmt: skip
LIGHT = "--dbverify-include=test_server_*,test_*migration*,test_table_*,test_user_*"
PERCENT_ENCODE = (
    "ERROR: *: not a valid connection string: percent-encode the password in the URL (@ as "
    "%40, / as %2F, : as %3A, # as %23, ? as %3F, % as %25, a space as %20): "
    "postgresql://***@127.0.0.1:*?sslmode=disable"
)


def _plant(info: ServerInfo, base: Path) -> Path:
    """Create a role per password (members of app: its databases), and a service file."""
    with admin(info) as conn:
        for role, password in (("shopper", SHOPPER), ("buyer", BUYER), ("quoter", QUOTER),
                               ("servicer", SERVICE)):  # fmt: skip
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    sql.Identifier(role), sql.Literal(password), sql.Identifier(APP)
                )
            )
    base.mkdir(parents=True)
    services = base / "pg_service.conf"
    services.write_text(
        f"[verify]\nhost=127.0.0.1\nport={info.port}\nuser=servicer\npassword={SERVICE}\n"
        "dbname=learning\nsslmode=disable\n"
    )
    return services


def _form_paths(info: ServerInfo, services: Path, base: Path) -> dict[str, Callable[[], Run]]:
    """Each password form through pytest --dbverify, dbverify health and its endpoint."""

    def u(user: str, password: str | None, db: str = "learning", query: str = "") -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{info.port}/{db}?sslmode=disable{query}"

    def conninfo(password: str) -> str:
        return (f"host=127.0.0.1 port={info.port} user=quoter password={password} "
                "dbname=learning sslmode=disable")  # fmt: skip

    quoted = "'" + QUOTER.replace("\\", "\\\\").replace("'", "\\'") + "'"
    escaped = QUOTER.replace("\\", "\\\\").replace("'", "\\'").replace(" ", "\\ ")
    forms: dict[str, tuple[str, dict[str, str]]] = {
        "reported URL, unencoded": (u("shopper", SHOPPER), {}),
        "URL, unencoded": (u("buyer", BUYER), {}),
        "URL, encoded": (u("buyer", quote(BUYER, safe="")), {}),
        "?password=, encoded": (u("buyer", None, query=f"&password={quote(BUYER)}"), {}),
        "&Password=, other case": (u("buyer", None, query=f"&Password={quote(BUYER)}"), {}),
        "?password=, unencoded": (u("buyer", None, query=f"&password={BUYER}"), {}),
        "conninfo, quoted": (conninfo(quoted), {}),
        "conninfo, escaped": (conninfo(escaped), {}),
        "conninfo, wrong": (conninfo(quoted[:-1] + "x'"), {}),
        "service file": ("service=verify", {"PGSERVICEFILE": str(services)}),
        "PGPASSWORD": (u("shopper", None), {"PGPASSWORD": SHOPPER}),
    }
    paths: dict[str, Callable[[], Run]] = {}
    for name, (target, env) in forms.items():
        slug = "".join(c if c.isalnum() else "-" for c in name)
        project = project_dir(base / slug)
        (project / "test_user.py").write_text(USER_TESTS)
        paths[f"{name}: pytest"] = lambda p=project, t=target, e=env: run_dbverify(
            p, [LIGHT, "-l"], env={**e, "DATABASE_URL": t}, reports=True
        )
        paths[f"{name}: health"] = lambda p=project, t=target, e=env: run_health(
            p, [f"--url={t}"], env=e
        )
        paths[f"{name}: served"] = lambda p=project, t=target, e=env: serve_health(
            p, [], env={**e, "DATABASE_URL": t}
        )
    shadow = project_dir(base / "expected")
    paths["expected URL, unencoded: pytest"] = lambda: run_dbverify(
        shadow, [LIGHT, f"--dbverify-url={u('buyer', quote(BUYER, safe=''))}",
                 f"--dbverify-expected-url={u('shopper', SHOPPER, db='shadow')}"], reports=True
    )  # fmt: skip
    return paths


def _unparsed_texts(port: int) -> list[str]:
    """The library handed unencoded URLs as they are: libpq and dbmate (Go) cut them up."""
    texts: list[str] = []
    settings = dataclasses.replace(Settings.defaults(), connect_timeout=1.0)
    for password in (SHOPPER, BUYER):
        raw = f"postgresql://shopper:{password}@127.0.0.1:{port}/learning?sslmode=disable"
        target = Target(raw, "test")
        with pytest.raises(DbverifyError) as failure:
            connect(target, settings)
        texts += [repr(target), target.shown, str(failure.value)]
        dbmate = Dbmate(raw, migrations_dir=MIGRATIONS_DIR)
        with pytest.raises(MigrationError) as migrating:
            dbmate.migrate()
        texts += [repr(dbmate), str(migrating.value), migrating.value.output]
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_no_piece_of_a_special_password_reaches_any_output(
    kind: ServerKind, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with password_server(kind=kind) as server:
        info = server.info
        create_learning_db(info, "learning")
        services = _plant(info, tmp_path / "services")
        paths = _form_paths(info, services, tmp_path / "forms")
        with ThreadPoolExecutor(max_workers=3) as pool:
            runs = dict(zip(paths, pool.map(lambda path: path(), paths.values()), strict=True))
        library = _unparsed_texts(info.port)
    leaks = [
        f"{name}: {piece}" for name, run in runs.items() for piece in PIECES
        if piece in run.everything()
    ]  # fmt: skip
    leaks += [
        f"library text {i}: {piece}" for i, text in enumerate(library) for piece in PIECES
        if piece in text
    ]  # fmt: skip
    leaks += [f"log record {r.name}" for r in caplog.records
              if any(piece in r.getMessage() for piece in PIECES)]  # fmt: skip
    assert leaks == []
    # Unencoded, the URL is refused at once, with the fix; encoded, every form connects.
    refused = ["reported URL, unencoded", "URL, unencoded", "expected URL, unencoded"]
    for name in [f"{form}: pytest" for form in refused]:
        assert runs[name].ret == 4, runs[name].output
        assert runs[name].has_line(PERCENT_ENCODE), runs[name].output
    assert runs["reported URL, unencoded: health"].ret == 2
    assert "percent-encode the password" in runs["reported URL, unencoded: served"].err
    for form in ("URL, encoded", "?password=, encoded", "conninfo, quoted",
                 "conninfo, escaped", "service file", "PGPASSWORD"):  # fmt: skip
        run = runs[f"{form}: pytest"]
        assert run.has_line("*connected with ****"), run.output
        assert run.has_line("FAILED test_user.py::test_user_shows_the_password*"), run.output
        assert all([run.junit, run.report, run.summary, run.log]), form
        assert '"status": "healthy"' in runs[f"{form}: health"].out, runs[f"{form}: health"].err
        assert runs[f"{form}: served"].out.startswith("200 "), runs[f"{form}: served"].output
    assert runs["conninfo, wrong: pytest"].has_line("*password authentication failed*")
    assert runs["&Password=, other case: pytest"].has_line("*invalid URI query parameter*")
