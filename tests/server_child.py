"""Start a throwaway server, print how to find it as JSON, then wait to be stopped or killed.

Run as a separate process by tests/test_server.py, which interrupts or kills it.
Usage: server_child.py KIND [BINDIR]
"""

import json
import sys
import time
from pathlib import Path

from pytest_dbverify.binaries import _probe, find_binaries
from pytest_dbverify.embedded import ThrowawayServer

kind = sys.argv[1]
binaries = _probe(Path(sys.argv[2]), source="argv") if len(sys.argv) > 2 else find_binaries(kind)
with ThrowawayServer(binaries) as server:
    print(
        json.dumps(
            {
                "run_dir": str(server.run_dir),
                "pid": server.pid,
                "reaper_pid": server._reaper.pid if server._reaper else None,
                "conninfo": server.info.conninfo(),
            }
        ),
        flush=True,
    )
    time.sleep(600)
