"""Stop a throwaway PostgreSQL server and delete its directory once its owner is gone.

Started by :mod:`pytest_dbverify.embedded` as ``python -I _reaper.py`` in a session of
its own. It reads its standard input, a pipe whose only writer is the owning process:

* ``watch PID RUN_DIR``: the server to reap (the newest line wins);
* ``delete PATH``: the owner stopped the server and renamed its directory to PATH: delete
  that instead, in a detached child, so that the owner's exit does not wait for it.

EOF means the owner is done, or was killed (even by SIGKILL), and then no server or
directory must outlive it. The run directory travels on stdin, not in argv, so that no
process names it once the owner has stopped the server. Standard library only, and no
import of the package, so it starts fast and cannot fail on the package's own imports.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path


def _is_our_postmaster(pid: int, data_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(str(data_dir)) in cmdline


def _is_gone(pid: int) -> bool:
    # A zombie has exited; only its new parent (init) can reap it, whenever it gets to it.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _is_gone(pid):
            return True
        time.sleep(0.01)
    return False


def reap(run_dir: Path, postmaster_pid: int) -> None:
    """Kill the postmaster if it still serves ``run_dir``, then remove ``run_dir``."""
    data_dir = run_dir / "data"
    if _is_our_postmaster(postmaster_pid, data_dir):
        # SIGQUIT is PostgreSQL's immediate shutdown: children exit too, no checkpoint.
        os.kill(postmaster_pid, signal.SIGQUIT)
        if not _wait_gone(postmaster_pid, 5.0):
            os.kill(postmaster_pid, signal.SIGKILL)
            _wait_gone(postmaster_pid, 5.0)
    shutil.rmtree(run_dir, ignore_errors=True)


def main() -> int:
    """Read commands until EOF on stdin, then reap the server or delete what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watched: tuple[int, Path] | None = None
    deleted: Path | None = None
    for raw in sys.stdin.buffer:
        command, _, rest = os.fsdecode(raw.rstrip(b"\n")).partition(" ")
        if command == "watch":
            pid, _, run_dir = rest.partition(" ")
            watched = (int(pid), Path(run_dir))
        elif command == "delete":
            deleted = Path(rest)
    if deleted is not None:
        # The owner waits for this process: let a child do the slow part.
        if os.fork() == 0:
            shutil.rmtree(deleted, ignore_errors=True)
            os._exit(0)
    elif watched is not None:
        reap(watched[1], watched[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
