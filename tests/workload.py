"""The learning app's writes as a steady pgbench workload, with per-transaction latencies.

Four pgbench scripts reproduce what the app writes while a learner works: an event
appended to ``behavioral_events``, a like given or taken back on ``like_engagement``, a
``learner_model_state`` upsert, and a ``generation_status`` job claimed and finished.
They run at a fixed rate (``pgbench -R``) for a bounded time (``-T``) with a
per-transaction log (``-l``), so latencies can be split by when each transaction ran:
before, during or after a verification. Keys are drawn from the ranges
``tests/learning_data.py`` fills, so every write hits existing rows.
"""

from __future__ import annotations

import itertools
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.learning_data import Sizes
from tests.production import Run, run_dbverify

_SIZES = Sizes()
_SESSION = rf"\set s random(0, {_SIZES.sessions - 1})"
_CONTENT = rf"\set c random(0, {_SIZES.content - 1})"

# name -> (weight, script). Weights follow the app: events dominate.
SCRIPTS: dict[str, tuple[int, str]] = {
    "event": (
        6,
        f"""{_SESSION}
{_CONTENT}
\\set d random(0, 60000)
INSERT INTO behavioral_events (session_id, content_id, event_type, dwell_ms, payload)
VALUES (md5('s' || :s)::uuid, md5('c' || :c)::uuid, 'dwell', :d, '{{"src": "pgbench"}}');
""",
    ),
    "like": (
        2,
        f"""{_SESSION}
{_CONTENT}
BEGIN;
INSERT INTO like_engagement (session_id, content_id)
VALUES (md5('s' || :s)::uuid, md5('c' || :c)::uuid) ON CONFLICT DO NOTHING;
DELETE FROM like_engagement
WHERE session_id = md5('s' || :s)::uuid
  AND content_id = md5('c' || ((:c + 1) % {_SIZES.content}))::uuid;
END;
""",
    ),
    "model": (
        2,
        f"""{_SESSION}
\\set t random(1, 8)
\\set m random(0, 100)
INSERT INTO learner_model_state AS m (session_id, topic, mastery, confidence, interaction_count)
VALUES (md5('s' || :s)::uuid, (ARRAY['algebra', 'biology', 'chemistry', 'history', 'music',
        'physics', 'poetry', 'rust'])[:t], :m / 100.0, 0.5, 1)
ON CONFLICT (session_id, topic) DO UPDATE
SET mastery = excluded.mastery, confidence = least(1, m.confidence + 0.01),
    interaction_count = m.interaction_count + 1, updated_at = now();
""",
    ),
    "job": (
        1,
        f"""\\set j random(0, {_SIZES.jobs - 1})
BEGIN;
UPDATE generation_status
SET status = 'generating', attempts = attempts + 1, error = NULL, finished_at = NULL,
    started_at = greatest(now(), requested_at)
WHERE id = md5('j' || :j)::uuid;
UPDATE generation_status SET status = 'completed', finished_at = started_at
WHERE id = md5('j' || :j)::uuid;
END;
""",
    ),
}


def write_scripts(directory: Path) -> list[Path]:
    """Write the scripts into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (_, text) in SCRIPTS.items():
        path = directory / f"{name}.sql"
        path.write_text(text)
        paths.append(path)
    return paths


def pgbench_cmd(
    pgbench: Path, url: str, scripts: Sequence[Path], *, rate: float, seconds: int,
    clients: int, log_prefix: Path,
) -> list[str]:  # fmt: skip
    """Return the pgbench argv: the weighted scripts, at ``rate`` tx/s, for ``seconds``."""
    weighted = [f"--file={path}@{SCRIPTS[path.stem][0]}" for path in scripts]
    return [
        str(pgbench), "--no-vacuum", *weighted, f"--rate={rate:g}", f"--time={seconds}",
        f"--client={clients}", "--jobs=1", "--log", f"--log-prefix={log_prefix}",
        "--failures-detailed", url,
    ]  # fmt: skip


@dataclass(frozen=True)
class Transaction:
    """One logged transaction: when it ended (epoch seconds) and its latency (seconds)."""

    ended: float
    latency: float


@dataclass(frozen=True)
class WorkloadResult:
    """What a finished pgbench run reports."""

    returncode: int
    output: str
    transactions: tuple[Transaction, ...]
    failed: int  # transactions that ended in an error (pgbench's own count)
    aborted: int  # clients that pgbench stopped on an error

    @property
    def errors(self) -> int:
        """Return every error the workload saw."""
        return self.failed + self.aborted + (self.returncode != 0)


class Workload:
    """A pgbench run in the background; ``finish()`` waits for it and parses its results."""

    def __init__(
        self, pgbench: Path, url: str, workdir: Path, *, rate: float = 100, seconds: int = 10,
        clients: int = 4,
    ) -> None:  # fmt: skip
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_prefix = workdir / "pgbench_log"
        argv = pgbench_cmd(
            pgbench, url, write_scripts(workdir / "scripts"), rate=rate, seconds=seconds,
            clients=clients, log_prefix=self.log_prefix,
        )  # fmt: skip
        self.seconds = seconds
        self.process = subprocess.Popen(
            argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def finish(self) -> WorkloadResult:
        """Wait for the run's end and return its results."""
        output, _ = self.process.communicate(timeout=self.seconds + 60)
        return WorkloadResult(
            returncode=self.process.returncode,
            output=output,
            transactions=tuple(_read_logs(self.log_prefix)),
            failed=_count(r"number of failed transactions: (\d+)", output),
            aborted=len(re.findall(r"client \d+ aborted", output)),
        )


def _count(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    return int(match.group(1)) if match else 0


def _read_logs(prefix: Path) -> list[Transaction]:
    """Parse pgbench's per-transaction logs (one file per thread).

    A line: ``client tx_no time_us script_no epoch_s epoch_us [lag_us]``; with ``--rate``
    the time counts from the scheduled start, so a queued transaction's wait is in it. A
    failed transaction logs a word (``failed``, ``serialization``...) instead of a time.
    """
    transactions = []
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        for line in path.read_text().splitlines():
            fields = line.split()
            latency = int(fields[2]) / 1e6 if fields[2].isdigit() else float("inf")
            transactions.append(Transaction(int(fields[4]) + int(fields[5]) / 1e6, latency))
    return transactions


def percentile(latencies: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` quantile of ``latencies`` (inclusive method)."""
    if len(latencies) < 2:
        return latencies[0] if latencies else float("nan")
    return statistics.quantiles(latencies, n=1000, method="inclusive")[round(fraction * 1000) - 1]


def split(
    transactions: Sequence[Transaction], began: float, ended: float
) -> tuple[list[float], list[float]]:
    """Return the latencies of transactions that ended inside [began, ended] and outside it."""
    inside = [t.latency for t in transactions if began <= t.ended <= ended]
    outside = [t.latency for t in transactions if not began <= t.ended <= ended]
    return inside, outside


@dataclass(frozen=True)
class Overlap:
    """A workload run with a verification inside it: both results and the verifier's window."""

    workload: WorkloadResult
    verification: Run
    began: float  # epoch seconds
    ended: float

    @property
    def during(self) -> list[float]:
        """Return the latencies of transactions that ended while the verifier ran."""
        return split(self.workload.transactions, self.began, self.ended)[0]

    @property
    def alone(self) -> list[float]:
        """Return the latencies of transactions that ended before or after it."""
        return split(self.workload.transactions, self.began, self.ended)[1]


def verify_under_load(
    pgbench: Path, url: str, project: Path, workdir: Path, args: Sequence[str], *,
    rate: float, clients: int, lead: float, chunk: int = 5,
) -> Overlap:  # fmt: skip
    """Run the workload; ``lead`` seconds in, run ``pytest --dbverify``; stop ``lead`` after.

    The workload runs as back-to-back pgbench runs of ``chunk`` seconds (pgbench needs a
    fixed ``-T``; the verification's length is not known in advance). The seconds before
    and after the verification are the baseline.
    """
    stop = threading.Event()
    results: list[WorkloadResult] = []

    def drive() -> None:
        for index in itertools.count():
            if stop.is_set():
                return
            results.append(
                Workload(pgbench, url, workdir / f"chunk{index}", rate=rate, seconds=chunk,
                         clients=clients).finish()
            )  # fmt: skip

    driver = threading.Thread(target=drive, name="workload")
    driver.start()
    try:
        time.sleep(lead)
        began = time.time()
        run = run_dbverify(project, [f"--dbverify-url={url}", *args], timeout=600)
        ended = time.time()
        time.sleep(lead)
    finally:
        stop.set()
        driver.join()
    return Overlap(merge(results), run, began, ended)


def merge(results: Sequence[WorkloadResult]) -> WorkloadResult:
    """Return the results of back-to-back runs as one."""
    return WorkloadResult(
        returncode=max((result.returncode for result in results), default=0),
        output="\n".join(result.output for result in results),
        transactions=tuple(t for result in results for t in result.transactions),
        failed=sum(result.failed for result in results),
        aborted=sum(result.aborted for result in results),
    )
