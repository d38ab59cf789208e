"""Faults of a managed database, each with a bound on time: the run finishes, never hangs.

A check is caught in flight deterministically: the test holds an ACCESS EXCLUSIVE lock on
``content`` so that ``test_table_readable[public.content]`` waits on it (within
lock_timeout), and the fault strikes while it waits.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from pytest_dbverify.binaries import find_binaries
from pytest_dbverify.embedded import ServerInfo, ThrowawayServer
from pytest_dbverify.pool import ANSWER_MARGIN, APPLICATION_NAME
from tests.production import (
    SECRET,
    Run,
    admin,
    create_learning_db,
    password_server,
    project_dir,
    run_dbverify,
    url,
)
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

TABLES = "--dbverify-include=test_table_readable*"
LIGHT = "--dbverify-include=test_server_*,test_session_*,test_migration_applied*,test_table_*"


@pytest.fixture
def server() -> Iterator[ThrowawayServer]:
    """A password-checking server of this test's own, with the learning database."""
    with password_server() as server:
        create_learning_db(server.info, "learning")
        yield server


def in_background(project: Path, args: list[str]) -> tuple[ThreadPoolExecutor, Future[Run]]:
    pool = ThreadPoolExecutor(max_workers=1)
    return pool, pool.submit(run_dbverify, project, args, timeout=180)


def hold_lock(info: ServerInfo) -> psycopg.Connection:
    """Return a connection holding ACCESS EXCLUSIVE on content, in an open transaction."""
    conn = psycopg.connect(info.conninfo("learning"))
    conn.execute("LOCK TABLE content IN ACCESS EXCLUSIVE MODE")
    return conn


def our_waiting_backend(info: ServerInfo, timeout: float = 60) -> int:
    """Return the pid of our backend once it waits on a lock."""
    deadline = time.monotonic() + timeout
    with admin(info) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND wait_event_type = 'Lock'",
                [APPLICATION_NAME],
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("the verifier never waited on the lock")


def test_a_server_that_starts_10s_after_the_run_is_waited_for(
    tmp_path: Path, record_property
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThrowawayServer(find_binaries("embedded"), port=port)
    starter = threading.Timer(10.0, server.start)
    starter.start()
    try:
        run = run_dbverify(
            project_dir(tmp_path),
            [f"--dbverify-url=postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable",
             "--dbverify-connect-timeout=30", "--dbverify-include=test_server_*"],
        )  # fmt: skip
    finally:
        starter.join()
        server.stop()
    record_property("run_seconds", round(run.seconds, 1))
    assert run.ret == 0, run.output
    assert run.has_line("checks:  2 (2 passed) in *s"), run.output
    assert 10 < run.seconds < 10 + 20  # within the 30 s connect budget, not at its end


def test_a_restart_mid_run_fails_the_check_in_flight_and_the_run_goes_on(
    server: ThrowawayServer, tmp_path: Path, record_property
) -> None:
    info = server.info
    locker = hold_lock(info)
    pool, future = in_background(
        project_dir(tmp_path),
        [f"--dbverify-url={url(info, 'learning')}", TABLES, "--dbverify-lock-timeout=25",
         "--dbverify-statement-timeout=30", "--dbverify-connect-timeout=20"],
    )  # fmt: skip
    try:
        our_waiting_backend(info)
        began = time.monotonic()
        server.restart(down_for=2.0)
        run = future.result(timeout=60)
        after_fault = time.monotonic() - began
        record_property("seconds_after_fault", round(after_fault, 1))
    finally:
        pool.shutdown()
        locker.close()
    assert run.ret == 1, run.output
    assert run.has_line("cannot read public.content: * [*] *"), run.output
    assert run.has_line("FAILED dbverify/tables::test_table_readable[public.content]*")
    assert run.has_line("*1 failed, 7 passed*"), run.output  # the others, after the restart
    assert after_fault < 20
    assert SECRET not in run.everything()


def test_our_backend_terminated_mid_check_fails_that_check_only(
    server: ThrowawayServer, tmp_path: Path, record_property
) -> None:
    info = server.info
    locker = hold_lock(info)
    pool, future = in_background(
        project_dir(tmp_path),
        [f"--dbverify-url={url(info, 'learning')}", TABLES, "--dbverify-lock-timeout=25",
         "--dbverify-statement-timeout=30"],
    )  # fmt: skip
    try:
        pid = our_waiting_backend(info)
        began = time.monotonic()
        with admin(info) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        locker.rollback()
        run = future.result(timeout=60)
        after_fault = time.monotonic() - began
        record_property("seconds_after_fault", round(after_fault, 1))
    finally:
        pool.shutdown()
        locker.close()
    assert run.has_line(
        "cannot read public.content: AdminShutdown [57P01] terminating connection due to "
        "administrator command"
    ), run.output
    assert run.has_line("*1 failed, 7 passed*"), run.output
    assert run.ret == 1
    assert after_fault < 10


def test_a_network_that_stops_answering_ends_the_run_within_its_timeouts(
    server: ThrowawayServer, tmp_path: Path, record_property
) -> None:
    info = server.info
    statement_timeout, connect_timeout = 3.0, 3.0
    with TcpProxy(info.port) as proxy:
        target = url(info, "learning").replace(f":{info.port}/", f":{proxy.port}/")
        locker = hold_lock(info)
        pool, future = in_background(
            project_dir(tmp_path),
            [f"--dbverify-url={target}", LIGHT, "--dbverify-lock-timeout=2.5",
             f"--dbverify-statement-timeout={statement_timeout}",
             f"--dbverify-connect-timeout={connect_timeout}"],
        )  # fmt: skip
        try:
            our_waiting_backend(info)
            began = time.monotonic()
            proxy.blackhole()
            locker.rollback()
            run = future.result(timeout=120)
            after_fault = time.monotonic() - began
            record_property("seconds_after_fault", round(after_fault, 1))
        finally:
            pool.shutdown()
            locker.close()
    answer = statement_timeout + ANSWER_MARGIN
    assert run.has_line(
        f"cannot read public.content: OperationalError [None] no answer from the server "
        f"within {answer:g}s (statement_timeout plus {ANSWER_MARGIN:g}s): the network or the "
        "server stopped answering"
    ), run.output
    assert run.has_line("not checked: the target stopped answering earlier (*)"), run.output
    assert run.ret == 1
    # The check in flight, one pooled connection's check, one connect budget, and startup.
    assert after_fault < 2 * answer + connect_timeout + 10, run.output
