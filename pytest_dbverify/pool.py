"""Connections to the target: retried while the server can still come up, then pooled.

A database that was deployed a minute ago may still be starting, restarting or behind a
proxy that is not ready: those errors are retried with exponential backoff and jitter
until the connect budget is spent. Errors that waiting cannot heal (a wrong password, an
unknown database or role, TLS refused) fail at once. Either way the error is one line:
what failed, where (redacted), the server's last word, and the setting that fixes it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg
import psycopg.conninfo
from psycopg.abc import PQGen
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from pytest_dbverify.errors import DbverifyError
from pytest_dbverify.redact import redact_text
from pytest_dbverify.settings import Settings
from pytest_dbverify.target import Target

RV = TypeVar("RV")
# psycopg (3.3) raises this private error when a wait's deadline passes.
_WAIT_TIMEOUT: type[Exception] = getattr(psycopg.errors, "_WaitTimeout", TimeoutError)

APPLICATION_NAME = "pytest-dbverify"
_CONNECT_ATTEMPT_MAX = 10  # seconds one connection attempt may take (libpq connect_timeout)
# A peer that vanishes (network cut, host gone) is noticed within about 11 s instead of
# the kernel's two hours; a user's own values in the URL win.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
               "keepalives_count": 3}  # fmt: skip

# libpq words for failures that no amount of waiting will fix, with the fix to name.
_PERMANENT = (
    (re.compile(r"password authentication failed|no password supplied|"
                r"authentication failed|SCRAM", re.I),
     "check the user and password (PGPASSWORD, ~/.pgpass or the URL)"),
    (re.compile(r'database ".*" does not exist', re.I),
     "check the database name in the URL"),
    (re.compile(r'role ".*" does not exist', re.I), "check the user name in the URL"),
    (re.compile(r"no pg_hba\.conf entry|pg_hba\.conf rejects|not permitted to log in|"
                r"permission denied", re.I),
     "ask for this role to be allowed to connect from here"),
    (re.compile(r"is not currently accepting connections", re.I),
     "the database is closed to connections (ALTER DATABASE ... ALLOW_CONNECTIONS)"),
    # Before the SSL pattern: "invalid sslmode value" is a typo, not a server's refusal.
    (re.compile(r"invalid (connection option|sslmode|port|integer|value)", re.I),
     "fix the connection string"),
    (re.compile(r"SSL|certificate|TLS", re.I),
     "check sslmode / sslrootcert in the URL against what the server offers"),
    (re.compile(r"failed to resolve host|could not translate host name|"
                r"Name or service not known", re.I),
     "check the host name in the URL"),
)  # fmt: skip


# Full, but may free up: retried, and named when the budget runs out.
_NO_SLOTS = re.compile(r"too many (clients|connections)|connection slots are reserved", re.I)


class ConnectError(DbverifyError):
    """The target could not be reached; the message is one safe line."""


# A healthy server answers every statement within statement_timeout (it cancels the
# statement then); silence past that plus this margin means the network or the host is gone.
ANSWER_MARGIN = 5.0


class GuardedConnection(psycopg.Connection[TupleRow]):
    """A connection that gives up on a server that stops answering, instead of hanging.

    TCP keepalives catch a vanished peer only when nothing is in flight and no proxy
    answers for it; this bounds every round trip on the client side as well.
    """

    answer_timeout: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        """Consume ``gen`` as psycopg does, within ``answer_timeout`` seconds."""
        limit = self.answer_timeout if timeout is None else timeout
        try:
            return super().wait(gen, interval, limit)
        except _WAIT_TIMEOUT:
            if timeout is not None:
                raise  # psycopg's own deadline: psycopg handles it
            self.pgconn.finish()  # the connection's state is unknown: it is done
            raise psycopg.OperationalError(
                f"no answer from the server within {limit:g}s (statement_timeout plus "
                f"{ANSWER_MARGIN:g}s): the network or the server stopped answering"
            ) from None


@dataclass
class Backoff:
    """Exponential backoff with jitter within a total budget; time is passed in.

    The tuning values are class constants so that tests can shrink them.
    """

    deadline: float
    INITIAL: float = 0.1
    FACTOR: float = 2.0
    MAX_DELAY: float = 2.0
    JITTER: float = 0.2
    _delay: float = 0.0

    def next_delay(self, now: float) -> float | None:
        """Return how long to wait before the next attempt, or None when out of budget."""
        remaining = self.deadline - now
        if remaining <= 0:
            return None
        self._delay = min(self.MAX_DELAY, self._delay * self.FACTOR or self.INITIAL)
        jittered = self._delay * (1 + random.uniform(-self.JITTER, self.JITTER))
        return min(jittered, remaining)


def session_setup(settings: Settings) -> str:
    """Return the SET statements every verifier connection runs once, in one round trip."""
    idle = max(60.0, 2 * settings.statement_timeout)  # a hung run must not hold locks
    statements = [
        f"SET lock_timeout = '{_ms(settings.lock_timeout)}ms'",
        f"SET statement_timeout = '{_ms(settings.statement_timeout)}ms'",
        f"SET idle_in_transaction_session_timeout = '{_ms(idle)}ms'",
        # Our statements touch a row or two, but a plan with a scan type turned off costs
        # over jit_above_cost before PostgreSQL 18: LLVM would compile for ~50 ms each time.
        "SET jit = off",
    ]
    if settings.read_only:
        statements.append("SET default_transaction_read_only = on")
    return "; ".join(statements)


def permanent_fix(message: str) -> str | None:
    """Return the fix for an error that retrying cannot heal, or None if it may heal."""
    for pattern, fix in _PERMANENT:
        if pattern.search(message):
            return fix
    return None


def server_words(err: BaseException) -> str:
    """Return the meaningful part of a libpq error, on one line."""
    text = " ".join(str(err).split())
    # libpq: "connection to server at "h", port 5432 failed: FATAL:  <the server's words>";
    # with several hosts, the last attempt's words are the ones to show.
    words = text.rsplit("failed: ", 1)[-1].removeprefix("connection is bad: ")
    return re.sub(r"^(FATAL|ERROR):\s+", "", words).removesuffix(
        " Is the server running on that host and accepting TCP/IP connections?"
    )


def connect(
    target: Target,
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    budget_setting: str = "--dbverify-connect-timeout",
) -> psycopg.Connection:
    """Open one configured connection, retrying healable failures within the budget.

    ``budget_setting`` is what the caller's user sets to allow a longer budget.
    """
    try:
        conninfo = verifier_conninfo(target.conninfo)
    except psycopg.ProgrammingError as err:  # libpq quotes the part it cannot parse
        words = redact_text(str(err).strip(), target.secrets)
        raise ConnectError(
            f"cannot connect to {target.shown} ({target.source}): {words}; fix the "
            "connection string"
        ) from None
    started = clock()
    backoff = Backoff(deadline=started + settings.connect_timeout)
    attempts = 0
    while True:
        attempts += 1
        try:
            conn = GuardedConnection.connect(
                conninfo, connect_timeout=_connect_timeout(target.conninfo, clock, backoff)
            )
        except psycopg.OperationalError as err:
            words = redact_text(server_words(err), target.secrets)
            fix = permanent_fix(words)
            if fix is not None:
                raise ConnectError(
                    f"cannot connect to {target.shown} ({target.source}): {words}; {fix}"
                ) from None
            delay = backoff.next_delay(clock())
            if delay is None:
                raise ConnectError(
                    f"cannot connect to {target.shown} ({target.source}): {words}; still "
                    f"failing after {clock() - started:.1f}s and {attempts} attempts: "
                    f"{_healable_fix(words)}, or allow longer with {budget_setting} "
                    f"(now {settings.connect_timeout:g}s)"
                ) from None
            sleep(delay)
            continue
        configure(conn, settings)
        return conn


def configure(conn: psycopg.Connection, settings: Settings) -> None:
    """Apply the verifier's session settings to a fresh connection, leaving it idle."""
    if isinstance(conn, GuardedConnection):
        conn.answer_timeout = settings.statement_timeout + ANSWER_MARGIN
    # In autocommit the SETs travel as one simple query: one round trip, no BEGIN/COMMIT.
    autocommit, conn.autocommit = conn.autocommit, True
    conn.execute(session_setup(settings))
    conn.autocommit = autocommit


def open_pool(
    target: Target, settings: Settings, *, max_size: int = 2
) -> ConnectionPool[GuardedConnection]:
    """Return an open pool of configured connections to ``target``.

    Call :func:`connect` first: it retries and explains; the pool then opens at once.
    """
    pool = ConnectionPool(
        verifier_conninfo(target.conninfo),
        connection_class=GuardedConnection,
        kwargs=_attempt_kwargs(target, settings),
        min_size=1,
        max_size=max_size,
        open=False,
        name="pytest-dbverify",
        configure=lambda conn: configure(conn, settings),
        check=ConnectionPool.check_connection,
        timeout=settings.connect_timeout,
        reconnect_timeout=settings.connect_timeout,
    )
    try:
        pool.open(wait=True, timeout=settings.connect_timeout)
    except Exception as err:
        pool.close()
        raise ConnectError(
            f"cannot open a connection pool to {target.shown} ({target.source}): "
            f"{redact_text(server_words(err), target.secrets)}"
        ) from None
    return pool


@dataclass(frozen=True)
class Slots:
    """How many connections the target granted of those wanted, and why not more."""

    got: int
    wanted: int
    refusal: str = ""  # the server's words when it refused one (redacted)

    @property
    def note(self) -> str | None:
        """Return one line for the summary when the pool got fewer than it wanted."""
        if self.got >= self.wanted:
            return None
        if not _NO_SLOTS.search(self.refusal):
            cause = f"the server refused more: {self.refusal}"
        elif "too many connections for role" in self.refusal:
            cause = "the role's CONNECTION LIMIT nearly used up"
        else:
            cause = "max_connections nearly used up"
        return f"got {self.got} of {self.wanted} connections ({cause}); checks ran within them"


def count_slots(target: Target, settings: Settings, *, wanted: int) -> Slots:
    """Return how many of ``wanted`` connections the target grants now, then close them.

    The first comes from :func:`connect` (retried, explained); the others are tried once
    each: a server out of slots refuses at once, and the pool is then sized to what it
    got instead of queueing checks behind a connection that never comes.
    """
    held = [connect(target, settings)]
    refusal = ""
    try:
        while len(held) < wanted:
            try:
                conninfo = psycopg.conninfo.make_conninfo(
                    verifier_conninfo(target.conninfo), **_attempt_kwargs(target, settings)
                )
                held.append(psycopg.connect(conninfo))
            except psycopg.OperationalError as err:
                refusal = redact_text(server_words(err), target.secrets)
                break
    finally:
        for conn in held:
            conn.close()
    return Slots(got=len(held), wanted=wanted, refusal=refusal)


def verifier_conninfo(conninfo: str) -> str:
    """Return the user's conninfo plus what every verifier connection adds to it."""
    given = psycopg.conninfo.conninfo_to_dict(conninfo)
    keepalives = {key: value for key, value in _KEEPALIVES.items() if key not in given}
    return psycopg.conninfo.make_conninfo(conninfo, application_name=APPLICATION_NAME, **keepalives)


def _attempt_kwargs(target: Target, settings: Settings) -> dict[str, int]:
    """Return the connect_timeout of one attempt, unless the URL sets its own."""
    if "connect_timeout" in psycopg.conninfo.conninfo_to_dict(target.conninfo):
        return {}
    # A connection to a silent network must fail, not wait for the kernel.
    return {"connect_timeout": max(2, min(_CONNECT_ATTEMPT_MAX, int(settings.connect_timeout)))}


def _healable_fix(words: str) -> str:
    if _NO_SLOTS.search(words):
        return (
            "the server has no connection slot left for this role (max_connections, the "
            "role's CONNECTION LIMIT): close idle sessions"
        )
    return "check that the server is up and reachable from here"


def _connect_timeout(conninfo: str, clock: Callable[[], float], backoff: Backoff) -> int | None:
    if "connect_timeout" in psycopg.conninfo.conninfo_to_dict(conninfo):
        return None  # the user's own wins
    # A silent network must not eat the whole budget in one attempt (libpq minimum: 2 s).
    return max(2, min(_CONNECT_ATTEMPT_MAX, int(backoff.deadline - clock())))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
