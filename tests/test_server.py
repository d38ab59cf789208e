"""The throwaway server: both kinds start, serve, and leave nothing behind on any exit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from pytest_dbverify.binaries import SERVER_KINDS, PgBinaries, ServerKind, find_binaries
from pytest_dbverify.embedded import (
    ThrowawayServer,
    _reachable,
    default_base_dir,
    server_account,
    throwaway_server,
)
from pytest_dbverify.errors import BinaryNotFoundError, ServerStartError

CHILD = Path(__file__).with_name("server_child.py")
EXPECTED_MAJOR = {"embedded": 18, "system": 15}


@pytest.fixture(params=SERVER_KINDS)
def kind(request: pytest.FixtureRequest) -> ServerKind:
    return request.param  # type: ignore[no-any-return]


def processes_serving(run_dir: str) -> list[psutil.Process]:
    """Every live process whose command line names ``run_dir`` (a postmaster, a reaper)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if any(run_dir in part for part in cmdline) and alive(process.pid):
            found.append(process)
    return found


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def child() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes started by a test; killed at the end whatever happened."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """A scratch directory other accounts can enter (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="dbverify-test-"))
    yield path
    shutil.rmtree(path)


def start_child(child: list[subprocess.Popen[str]], kind: ServerKind) -> dict[str, object]:
    process = subprocess.Popen(
        [sys.executable, str(CHILD), kind], stdout=subprocess.PIPE, text=True
    )
    child.append(process)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"server child exited with {process.wait()} before starting a server"
    return json.loads(line)  # type: ignore[no-any-return]


def test_server_of_each_kind_serves_its_version_on_socket_and_tcp(kind: ServerKind) -> None:
    with throwaway_server(kind) as info:
        assert info.major == EXPECTED_MAJOR[kind]
        with psycopg.connect(info.conninfo()) as over_socket:
            version = over_socket.execute("SHOW server_version_num").fetchone()
            peer = over_socket.execute("SELECT inet_server_addr()").fetchone()
        assert version is not None
        assert int(version[0]) // 10000 == EXPECTED_MAJOR[kind]
        assert peer == (None,)  # a unix socket has no server address
        with psycopg.connect(info.url()) as over_tcp:
            peer = over_tcp.execute("SELECT host(inet_server_addr())").fetchone()
        assert peer == ("127.0.0.1",)


def test_stop_leaves_no_process_and_no_directory(kind: ServerKind) -> None:
    server = ThrowawayServer(find_binaries(kind))
    server.start()
    run_dir = str(server.run_dir)
    assert processes_serving(run_dir)
    server.stop()
    assert processes_serving(run_dir) == []
    assert not Path(run_dir).exists()
    server.stop()  # twice is harmless


def test_an_exception_inside_the_block_still_cleans_up() -> None:
    server = ThrowawayServer(find_binaries("embedded"))

    def fail_inside() -> None:
        with server:
            raise RuntimeError(f"failure while {server.run_dir} runs")

    with pytest.raises(RuntimeError, match="failure while") as failure:
        fail_inside()
    run_dir = str(failure.value).split()[2]
    assert processes_serving(run_dir) == []
    assert not Path(run_dir).exists()


def test_ctrl_c_stops_the_server_and_removes_its_directory(child, kind: ServerKind) -> None:
    started = start_child(child, kind)
    child[0].send_signal(signal.SIGINT)
    assert child[0].wait(timeout=15) != 0
    assert wait_until(lambda: not processes_serving(started["run_dir"]))
    assert not Path(started["run_dir"]).exists()


def test_a_killed_owner_leaves_nothing_behind(child, kind: ServerKind) -> None:
    started = start_child(child, kind)
    child[0].send_signal(signal.SIGKILL)
    child[0].wait()
    # The reaper notices that its owner is gone, shuts the server down, deletes its files.
    assert wait_until(lambda: not processes_serving(started["run_dir"]))
    assert wait_until(lambda: not Path(started["run_dir"]).exists())


def test_a_later_start_removes_orphans_it_can_prove_are_its_own(child) -> None:
    started = start_child(child, "embedded")
    # Kill the reaper first, then the owner: the server is orphaned for real.
    os.kill(started["reaper_pid"], signal.SIGKILL)
    child[0].send_signal(signal.SIGKILL)
    child[0].wait()
    assert alive(started["pid"])
    assert Path(started["run_dir"]).exists()
    with throwaway_server("embedded"):
        assert not Path(started["run_dir"]).exists()
        assert not alive(started["pid"])


def test_a_foreign_directory_is_not_touched_by_orphan_cleanup() -> None:
    # A directory whose owner is alive (this process) is not an orphan.
    runs = default_base_dir() / "runs"
    foreign = Path(tempfile.mkdtemp(prefix="srv-", dir=runs))
    me = psutil.Process()
    (foreign / "owner.json").write_text(
        json.dumps({"pid": me.pid, "started": me.create_time(), "postmaster_pid": None})
    )
    try:
        with throwaway_server("embedded"):
            assert foreign.exists()
    finally:
        shutil.rmtree(foreign)


def test_under_root_the_server_runs_as_an_unprivileged_account(kind: ServerKind) -> None:
    server = ThrowawayServer(find_binaries(kind))
    with server:
        uid = psutil.Process(server.pid).uids().real
        account = server_account()
    assert uid != 0
    assert uid == (account.uid if account else os.geteuid())


def test_a_normal_user_runs_the_server_as_itself(readable_dir: Path) -> None:
    """As a normal user, no account switching: the server runs as the invoking user."""
    account = server_account()
    if account is None:  # already a normal user: this process is the proof
        with ThrowawayServer(find_binaries("embedded")) as server:
            assert psutil.Process(server.pid).uids().real == os.geteuid()
        return
    # Root: run a child as the unprivileged account, with an interpreter and a copy of the
    # package it can read (this venv may sit below a directory it cannot enter).
    interpreter = shutil.which("python3", path="/usr/bin:/bin")
    assert interpreter, "the unprivileged-user test needs the system's /usr/bin/python3"
    site = readable_dir / "site"
    for package in (Path(psutil.__file__).parent, Path(__file__).parents[1] / "pytest_dbverify"):
        shutil.copytree(package, site / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CHILD, site / CHILD.name)
    for path in [readable_dir, *readable_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    bindir = _reachable(find_binaries("embedded"), account).bindir
    process = subprocess.Popen(
        [interpreter, "-S", str(site / CHILD.name), "embedded", str(bindir)],
        stdout=subprocess.PIPE, text=True, user=account.uid, group=account.gid,
        extra_groups=[], cwd="/", env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert psutil.Process(started["pid"]).uids().real == account.uid
        with psycopg.connect(started["conninfo"]) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
        assert wait_until(lambda: not Path(started["run_dir"]).exists())
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def test_missing_binaries_name_the_directory_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BinaryNotFoundError, match=r"no PostgreSQL server in .*expected"):
        ThrowawayServer(PgBinaries(tmp_path, "18", "test")).start()


def test_a_bad_bindir_override_says_which_variable(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBVERIFY_PG_BINDIR", str(tmp_path / "nowhere"))
    with pytest.raises(BinaryNotFoundError, match=r"from DBVERIFY_PG_BINDIR"):
        find_binaries("system")


def test_a_failed_start_names_the_cause_from_the_server_log() -> None:
    server = ThrowawayServer(find_binaries("embedded"), settings={"no_such_setting": "1"})
    with pytest.raises(ServerStartError) as failure:
        server.start()
    message = str(failure.value)
    assert "unrecognized configuration parameter" in message
    assert "no_such_setting" in message
    assert server.run_dir is None
    assert "\n" not in message
