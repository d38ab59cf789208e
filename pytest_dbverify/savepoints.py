"""Savepoints that cost no wait of their own in pipeline mode.

psycopg's ``conn.transaction()`` syncs a pipeline when it opens a savepoint and twice
when it closes one: three waits for the server per block. The verifier opens one for
every example and every statement expected to fail, so :func:`savepoint` only queues
its commands: ``SAVEPOINT`` travels with the next statement whose result is read, and
``ROLLBACK TO`` with the one after. :func:`settle` is that read, for a statement that
returns nothing or may fail: one Sync, after which the pipeline is clean even if the
statement failed. Outside pipeline mode each command is a round trip, as with psycopg.

Every verifier connection is inside a transaction (``BEGIN``) when these run, so a
Sync never commits anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg import pq, sql

_names = itertools.count()


@contextmanager
def savepoint(conn: psycopg.Connection, *, rollback: bool = False) -> Iterator[None]:
    """Run the block in a savepoint: rolled back if it raises, or always if ``rollback``."""
    name = sql.Identifier(f"dbverify_{next(_names)}")
    conn.execute(sql.SQL("SAVEPOINT {}").format(name))
    try:
        yield
    except BaseException:
        if not conn.broken:  # a lost connection keeps its error, not a second one
            _roll_back(conn, name)
        raise
    if rollback:
        _roll_back(conn, name)
    else:
        conn.execute(sql.SQL("RELEASE {}").format(name))


def settle(conn: psycopg.Connection) -> None:
    """Wait for every statement sent so far, raising the error of one that failed.

    In pipeline mode that is one Sync (results stay readable on their cursors); outside
    it, every statement has already been answered.
    """
    pipeline = _pipeline(conn)
    if pipeline is not None:
        pipeline.sync()


def _roll_back(conn: psycopg.Connection, name: sql.Identifier) -> None:
    pipeline = _pipeline(conn)
    if pipeline is None:
        conn.execute(sql.SQL("ROLLBACK TO {0}; RELEASE {0}").format(name))
        return
    if conn.pgconn.pipeline_status == pq.PipelineStatus.ABORTED:
        # An error read without a Sync (a fetch): the server ignores all until one.
        # What it raises was raised already, or belongs to statements queued behind
        # the failed one, skipped as they should be.
        with suppress(psycopg.Error):
            pipeline.sync()
    conn.execute(sql.SQL("ROLLBACK TO {}").format(name))
    conn.execute(sql.SQL("RELEASE {}").format(name))


def _pipeline(conn: psycopg.Connection) -> psycopg.Pipeline | None:
    # psycopg names the running pipeline only privately; ``conn.pipeline()`` would nest
    # one more level, whose entry and exit each sync.
    return conn._pipeline
