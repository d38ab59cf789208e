"""Many statements in one round trip, each answered on its own, an error included.

A check's examples are planned up front and sent together: libpq's pipeline mode sends
every statement without waiting, and a Sync after each group of statements that may fail
(a *segment*) bounds an error. The server then skips only the rest of that segment, and
the statement after the Sync (a ``ROLLBACK TO``) makes the transaction usable again. So a
statement expected to fail (an orphan, a duplicate) costs no round trip of its own, and
every answer, error or rows, is read once all of them have arrived.

psycopg's own pipeline raises the first error it reads and waits at each Sync; this uses
its public libpq wrapper (:mod:`psycopg.pq`) instead, its adapters to load rows, and
``conn.wait``, so :class:`pytest_dbverify.pool.GuardedConnection` still bounds a server
that stops answering (each wait lasts until the next answer, not the whole batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import abc, pq, sql
from psycopg.abc import PQGen
from psycopg.adapt import Transformer
from psycopg.errors import error_from_result
from psycopg.waiting import Ready, Wait

_SYNC = None  # a Sync in the command list


class Renderable(Protocol):
    """A statement whose SQL is only known when the batch is sent (see ``Batch.add``)."""

    def render(self) -> sql.Composable:
        """Return the statement, values inlined as literals."""


@dataclass
class Answer:
    """What the server said to one statement of a batch, once the batch has run."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error: psycopg.Error | None = None
    ran: bool = False  # False: not sent yet, or skipped after an error earlier in its segment

    @property
    def row(self) -> dict[str, Any] | None:
        """Return the first row by column name, or None if there is none."""
        if not self.rows:
            return None
        return dict(zip(self.columns, self.rows[0], strict=True))

    @property
    def failed(self) -> bool:
        """Return True if the statement ran into an error (skipped ones did not run)."""
        return self.error is not None


class Batch:
    """Statements to send together; each :meth:`add` returns the answer it will get."""

    def __init__(self) -> None:
        self._commands: list[tuple[sql.Composable | Renderable, Answer] | None] = []

    def __len__(self) -> int:
        return sum(command is not None for command in self._commands)

    def add(self, statement: sql.Composable | Renderable) -> Answer:
        """Queue one statement (no parameters: values are inlined with ``sql.Literal``).

        A :class:`Renderable` is rendered when the batch is sent, so it may depend on what
        was planned after it was queued (which columns later statements read back).
        """
        answer = Answer()
        self._commands.append((statement, answer))
        return answer

    def extend(self, other: Batch) -> None:
        """Queue ``other``'s statements and Syncs after these (its answers fill as it would)."""
        self._commands.extend(other._commands)

    def sync(self) -> None:
        """End a segment: an error skips the statements after it only up to here."""
        if self._commands and self._commands[-1] is _SYNC:
            return
        self._commands.append(_SYNC)

    def run(self, conn: psycopg.Connection[Any]) -> None:
        """Send every statement, then read every answer into its :class:`Answer`.

        Raises ``psycopg.OperationalError`` if the connection is lost; statement errors
        are answers, not exceptions.
        """
        self.sync()  # the last segment's answers come back only after a Sync
        commands, answers = self._render(conn)
        self._commands = []
        transformer = Transformer.from_context(conn)
        encoding = conn.info.encoding
        pgconn = conn.pgconn
        with conn.lock:
            pgconn.enter_pipeline_mode()
            try:
                for command in commands:
                    if command is _SYNC:
                        pgconn.pipeline_sync()
                    else:
                        pgconn.send_query_params(command, None)
                received = 0
                while received < len(commands):
                    for results in conn.wait(_answers(pgconn)):
                        answer = answers[received]
                        received += 1
                        if answer is not None:
                            _fill(answer, results, transformer, encoding)
                pgconn.exit_pipeline_mode()
            except BaseException:
                # Answers still in flight would be read as the next statement's: a
                # connection cut off mid-batch cannot be used again.
                if pgconn.pipeline_status != pq.PipelineStatus.OFF:
                    pgconn.finish()
                raise

    def _render(
        self, conn: psycopg.Connection[Any]
    ) -> tuple[list[bytes | None], list[Answer | None]]:
        commands: list[bytes | None] = []
        answers: list[Answer | None] = []
        for command in self._commands:
            if command is _SYNC:
                commands.append(_SYNC)
                answers.append(None)
                continue
            statement, answer = command
            composable = statement if isinstance(statement, sql.Composable) else statement.render()
            commands.append(composable.as_bytes(conn))
            answers.append(answer)
        return commands, answers


def _fill(
    answer: Answer, results: list[pq.abc.PGresult], transformer: abc.Transformer, encoding: str
) -> None:
    result = results[-1]
    status = result.status
    if status == pq.ExecStatus.PIPELINE_ABORTED:
        return
    answer.ran = True
    if status == pq.ExecStatus.FATAL_ERROR:
        answer.error = error_from_result(result, encoding=encoding)
        return
    if status == pq.ExecStatus.TUPLES_OK:
        transformer.set_pgresult(result)
        answer.columns = [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]
        answer.rows = transformer.load_rows(0, result.ntuples, tuple)


def _answers(pgconn: pq.abc.PGconn) -> PQGen[list[list[pq.abc.PGresult]]]:
    """Wait until at least one answer is complete; return the answers read so far.

    An answer is a statement's results, or a Sync's single result. Sending what libpq
    still holds goes on meanwhile, so a batch larger than the socket's buffers cannot
    stall both sides.
    """
    done: list[list[pq.abc.PGresult]] = []
    current: list[pq.abc.PGresult] = []
    while not done or current:  # a statement's results are complete at its NULL
        ready = yield Wait.RW if pgconn.flush() else Wait.R
        if not ready & Ready.R:
            continue
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                if not current:
                    break
                done.append(current)
                current = []
            elif result.status == pq.ExecStatus.PIPELINE_SYNC:
                done.append([result])
            else:
                current.append(result)
    return done
