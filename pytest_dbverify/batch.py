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

from collections import deque
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

    def fenced(self, name: str) -> Batch:
        """Return these statements each in a savepoint ``name`` of its own, rolled back.

        For statements that may fail, sent inside a transaction: an error is then undone
        with the savepoint, and the statements after it run.
        """
        fenced = Batch()
        savepoint = sql.Identifier(name)
        for command in self._commands:
            if command is _SYNC:
                continue
            fenced.add(sql.SQL("SAVEPOINT {}").format(savepoint))
            fenced._commands.append(command)
            fenced.sync()
            fenced.add(sql.SQL("ROLLBACK TO {}").format(savepoint))
            fenced.add(sql.SQL("RELEASE {}").format(savepoint))
        return fenced

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
        with Pipeline(conn) as pipeline:
            pipeline.send(self)


def run_all(conn: psycopg.Connection[Any], *statements: sql.Composable) -> list[Answer]:
    """Send ``statements`` in one round trip, each in a segment of its own; return answers.

    On an idle connection each runs in a transaction of its own, as in autocommit.
    """
    batch = Batch()
    answers = []
    for statement in statements:
        answers.append(batch.add(statement))
        batch.sync()
    batch.run(conn)
    return answers


class Pipeline:
    """Batches sent as they are planned; every answer read when the block ends.

    The server works on what was sent while the client plans what comes next. The
    connection is the pipeline's for the whole block: send nothing else through it.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._pgconn = conn.pgconn
        self._transformer = Transformer.from_context(conn)
        self._encoding = conn.info.encoding
        self._waiting: deque[Answer | None] = deque()  # one per command sent, in order
        self._results: list[pq.abc.PGresult] = []  # of the statement being read
        self._lost: psycopg.Error | None = None

    def __enter__(self) -> Pipeline:
        self._conn.lock.acquire()
        try:
            self._pgconn.enter_pipeline_mode()
        except BaseException:
            self._conn.lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        pgconn = self._pgconn
        try:
            self.drain()
            if self._lost is not None or pgconn.status == pq.ConnStatus.BAD:
                # libpq answered what was in flight with errors: the session is gone.
                pgconn.finish()
                raise self._lost or psycopg.OperationalError(
                    "the server closed the connection during the batch"
                )
            pgconn.exit_pipeline_mode()
        except BaseException:
            # Answers still in flight would be read as the next statement's: a
            # connection cut off mid-batch cannot be used again.
            if pgconn.pipeline_status != pq.PipelineStatus.OFF:
                pgconn.finish()
            raise
        finally:
            self._conn.lock.release()

    def send(self, batch: Batch) -> None:
        """Send ``batch``'s statements now; their answers fill by the end of the block."""
        pgconn = self._pgconn
        for command in batch._commands:
            if command is _SYNC:
                pgconn.pipeline_sync()
                self._waiting.append(None)
                continue
            statement, answer = command
            composable = statement if isinstance(statement, sql.Composable) else statement.render()
            # The transformer, not the connection: psycopg would make one per literal.
            pgconn.send_query_params(composable.as_bytes(self._transformer), None)
            self._waiting.append(answer)
        batch._commands = []
        pgconn.flush()
        # Read what is there already: a server whose answers nobody reads stops working.
        pgconn.consume_input()
        self._take()

    def drain(self) -> None:
        """Wait for the answers to everything sent so far."""
        if self._waiting and self._waiting[-1] is not None:
            # The server answers a segment only at its Sync (in a transaction, a Sync
            # commits nothing).
            self._pgconn.pipeline_sync()
            self._waiting.append(None)
        while self._waiting:
            self._conn.wait(self._read())

    def _read(self) -> PQGen[None]:
        """Wait until at least one answer more is in (sending what libpq still holds)."""
        pgconn = self._pgconn
        before = len(self._waiting)
        while len(self._waiting) == before:
            ready = yield Wait.RW if pgconn.flush() else Wait.R
            if ready & Ready.R:
                try:
                    pgconn.consume_input()
                except psycopg.OperationalError:
                    # The server hung up; what it said first (why) may be read yet.
                    self._take()
                    if self._lost is not None:
                        raise self._lost from None
                    raise
                self._take()

    def _take(self) -> None:
        """Fill the answers whose results are all in, without waiting."""
        pgconn = self._pgconn
        while self._waiting and not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                if not self._results:
                    return  # nothing more has arrived
                self._answered(self._results)
                self._results = []
            elif result.status == pq.ExecStatus.PIPELINE_SYNC:
                self._answered([result])
            else:
                self._results.append(result)

    def _answered(self, results: list[pq.abc.PGresult]) -> None:
        answer = self._waiting.popleft()
        if answer is not None:
            _fill(answer, results, self._transformer, self._encoding)
            error = answer.error
            if self._lost is None and error is not None and _ends_the_session(error):
                self._lost = error  # the server's words: why it left


def _ends_the_session(error: psycopg.Error) -> bool:
    """Return True for an error after which the server closes the connection (FATAL)."""
    return error.diag.severity_nonlocalized in ("FATAL", "PANIC")


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
