"""No secret reaches output: one planted password, every path, every place text goes.

The password of role ``app`` is planted in the target and handed to the verifier in every
way a user may (URL, conninfo ``password=``, PGPASSWORD, .env, the expected URL). Every
path of the bad-input matrix, a successful run (with xdist), failing user tests that hold
the fixtures (with ``--showlocals``), ``dbverify health``, and the library calls that
raise, all run; the password must appear in no stdout, stderr, JUnit XML, log record
(DEBUG, every logger) or exception text.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_dbverify.errors import DbverifyError
from pytest_dbverify.health import health_check
from pytest_dbverify.migrations import Dbmate
from pytest_dbverify.pool import connect
from pytest_dbverify.settings import Settings
from pytest_dbverify.target import Target
from tests.bad_inputs import CASES, prepare
from tests.conftest import MIGRATIONS_DIR
from tests.production import (
    SECRET,
    Run,
    create_learning_db,
    password_server,
    project_dir,
    run_dbverify,
    run_health,
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
"""


def _extra_paths(server_port: int, shadow: str, base: Path) -> list[tuple[str, Callable[[], Run]]]:
    """The paths beyond the matrix: each way of passing the password, success and failure."""
    info_port = server_port

    def u(db: str, password: str | None = SECRET) -> str:
        auth = f"app:{password}" if password is not None else "app"
        return f"postgresql://{auth}@127.0.0.1:{info_port}/{db}?sslmode=disable"

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
        ("writing checks pass, xdist", lambda: run_dbverify(
            project("writes"), [f"--dbverify-url={u('learning')}", "--dbverify-examples=1",
                                f"{light},test_crud*,test_fk_enforced*", "-n", "2"])),
        ("user tests fail, showlocals", lambda: run_dbverify(
            project("user", USER_TESTS),
            [f"--dbverify-url={u('learning')}", with_user, "-l", "--tb=long"])),
        ("PGPASSWORD", lambda: run_dbverify(
            project("pgpassword", USER_TESTS), [f"--dbverify-url={u('pending', None)}",
                                                with_user, "-l"],
            env={"PGPASSWORD": SECRET})),
        ("PGPASSWORD wrong", lambda: run_dbverify(
            project("pgpassword-wrong"), [f"--dbverify-url={u('pending', None)}"],
            env={"PGPASSWORD": SECRET + "x"})),
        ("conninfo password=", lambda: run_dbverify(
            project("conninfo"), [f"--dbverify-url={conninfo}", light])),
        ("conninfo password= refused", lambda: run_dbverify(
            project("conninfo-refused"),
            [f"--dbverify-url={conninfo.replace(str(info_port), '1')}",
             "--dbverify-connect-timeout=1"])),
        (".env", lambda: run_dbverify(
            _with_dotenv(project("dotenv"), u("pending")), [light])),
        ("DATABASE_URL env, xdist failures", lambda: run_dbverify(
            project("env"), [light, "-n", "2"], env={"DATABASE_URL": u("pending")})),
        ("expected URL with password", lambda: run_dbverify(
            project("shadow"), [f"--dbverify-url={u('pending')}",
                                f"--dbverify-expected-url={shadow}", light])),
        ("read-only", lambda: run_dbverify(
            project("read-only"), [f"--dbverify-url={u('learning')}", "--dbverify-read-only",
                                   "--dbverify-examples=2"])),
        ("health ok", lambda: run_health(base, [f"--url={u('learning')}"])),
        ("health wrong password", lambda: run_health(base, [f"--url={u('learning', 'x')}"])),
        ("health pending", lambda: run_health(
            base, [f"--url={u('pending')}", f"--migrations-dir={MIGRATIONS_DIR}"])),
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
