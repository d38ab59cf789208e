"""The one place that makes connection strings and free text safe to print.

Passwords reach pytest-dbverify in URLs (``postgres://user:secret@host/db``), in
``key=value`` conninfo strings (``password=secret``, quoted or with backslash escapes),
in URL query parameters (``?password=secret``), in libpq service files (``service=name``)
and in ``PGPASSWORD``. Every message that may contain any of them goes through
:func:`redact_text` before it is shown, logged or raised; :func:`redact_log_records`
sends every log record through it too.

A URL whose password holds an unencoded ``@`` or ``/`` is ambiguous: libpq ends the user
information at the first ``@`` (and never past a ``/``), so the rest of the password
becomes the host, the port or the database name, and libpq, the server and dbmate quote
it as such. Here everything between ``://`` and the last ``@`` before the host part is
secret, and so is each piece of the password that a URL parser may cut out of it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote

MASK = "***"
MIN_LITERAL = 3  # shortest secret masked wherever it appears

# Connection parameters whose value is a secret (libpq's names; matched in any case).
_SECRET_KEYS = ("password", "sslpassword", "oauth_client_secret", "scram_client_key",
                "scram_server_key")  # fmt: skip
# The parameters libpq accepts in a URL's query string (18), and JDBC's "ssl". A query
# naming anything else is not taken for one: its '@' may end the user information.
_URI_KEYWORDS = frozenset((
    "application_name", "channel_binding", "client_encoding", "connect_timeout", "dbname",
    "fallback_application_name", "gssdelegation", "gssencmode", "gsslib", "host",
    "hostaddr", "keepalives", "keepalives_count", "keepalives_idle", "keepalives_interval",
    "krbsrvname", "load_balance_hosts", "max_protocol_version", "min_protocol_version",
    "oauth_client_id", "oauth_client_secret", "oauth_issuer", "oauth_scope", "options",
    "passfile", "password", "port", "replication", "require_auth", "requirepeer",
    "scram_client_key", "scram_server_key", "service", "ssl", "ssl_max_protocol_version",
    "ssl_min_protocol_version", "sslcert", "sslcertmode", "sslcompression", "sslcrl",
    "sslcrldir", "sslkey", "sslkeylogfile", "sslmode", "sslnegotiation", "sslpassword",
    "sslrootcert", "sslsni", "target_session_attrs", "tcp_user_timeout", "user",
))  # fmt: skip
# Where libpq or Go's URL parser (dbmate's) may cut a password written into a URL.
_URL_DELIMITERS = re.compile(r"[@:/?#&=,\s]")
# User information that some parser cuts short: libpq at '@' and '/', Go at '?' and '#'.
_CUTTABLE_USERINFO = re.compile(r"[@/?#\s]|%(?![0-9A-Fa-f]{2})")
# What makes a URL's user information unreadable as written: libpq stops it at '@' and
# '/', refuses blanks, and cannot decode a '%' without two hex digits after it.
_UNREADABLE_USERINFO = re.compile(r"[@/\s]|%(?![0-9A-Fa-f]{2})")
_FORMATTER = logging.Formatter()  # formats a log record's traceback, to redact it
# System service file when PGSYSCONFDIR is not set: psycopg-binary's and Debian's libpq.
_SYSTEM_SERVICE_FILE = Path("/etc/postgresql-common/pg_service.conf")

# A URL in free text runs to the next blank; a whole conninfo that is a URL, to its end.
_URL_IN_TEXT = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<rest>\S*)")
_URL_WHOLE = re.compile(r"\A\s*(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<rest>.*?)\s*\Z", re.S)
# "password=" and the other secret parameters, in any case, with blanks around '='.
_SECRET_KEY = (
    r"(?P<prefix>(?<![\w-])(?:(?:ssl)?password|oauth_client_secret|scram_(?:client|server)_key)"
    r"\s*=\s*)"
)
_NEXT_QUERY_PARAM = r"&(?=[A-Za-z_]\w*=)"
# In a conninfo or free text, a value is quoted ('a b', with \' escapes; to the end when
# unclosed), or bare up to a blank (\ escapes one) or a query's next "&key=".
_SECRET_PARAM = re.compile(
    _SECRET_KEY
    + rf"(?P<secret>'(?:[^'\\]|\\.)*(?:'|\\?\Z)|(?:[^\s\\&]|\\.|(?!{_NEXT_QUERY_PARAM})&)+)",
    re.IGNORECASE | re.DOTALL,
)
# In a URL's query string only the next "&key=" ends a value: libpq refuses a blank in a
# URL, quoting the whole value in its message.
_SECRET_QUERY_PARAM = re.compile(
    _SECRET_KEY + rf"(?P<secret>(?:[^&]|(?!{_NEXT_QUERY_PARAM})&)+)", re.IGNORECASE | re.DOTALL
)


def secrets_in(conninfo: str) -> set[str]:
    """Return the passwords written in a URL or conninfo string, and the pieces to mask.

    For a URL: the password, raw and percent-decoded; when a parser could cut it (an
    unencoded ``@ / ? #`` ...), also the whole user information and every piece of the
    password between such characters. For a conninfo: each secret value as written and
    as libpq reads it (quotes and backslash escapes removed).
    """
    found: set[str] = set()
    url = _URL_WHOLE.match(conninfo)
    if url is not None:
        rest = url["rest"]
        end = _userinfo_end(rest)
        if end >= 0:
            userinfo = rest[:end]
            password = userinfo.partition(":")[2]
            found.add(password)
            if _CUTTABLE_USERINFO.search(userinfo):
                found.add(userinfo)
                found.update(_pieces(password))
        for match in _SECRET_QUERY_PARAM.finditer(rest[end + 1 :]):
            found.update(_pieces(match["secret"]))
    else:
        for key, written, value in _conninfo_pairs(conninfo):
            if key.lower() in _SECRET_KEYS:
                found.update({written, value})
        # What a password= setting spells, even where the string does not parse.
        found.update(match["secret"].strip("'") for match in _SECRET_PARAM.finditer(conninfo))
    found |= {unquote(secret) for secret in found}
    found.discard("")
    return found


def service_secrets(conninfo: str, environ: Mapping[str, str] | None = None) -> set[str]:
    """Return the passwords libpq may read from a service file to connect with ``conninfo``.

    The service is the conninfo's ``service=`` (else ``PGSERVICE``); its section is read
    from ``PGSERVICEFILE`` (else ``~/.pg_service.conf``) and from the system file
    (``PGSYSCONFDIR``). Such a password is never written anywhere we print, but a server
    message or a user's own test may quote it: it is masked like the URL's.
    """
    environ = os.environ if environ is None else environ
    name = _settings(conninfo).get("service") or environ.get("PGSERVICE")
    if not name:
        return set()
    files: list[Path] = []
    if environ.get("PGSERVICEFILE"):
        files.append(Path(environ["PGSERVICEFILE"]))
    else:
        with contextlib.suppress(RuntimeError):  # no home directory: libpq skips it too
            files.append(Path.home() / ".pg_service.conf")
    sysconf = environ.get("PGSYSCONFDIR")
    files.append(Path(sysconf) / "pg_service.conf" if sysconf else _SYSTEM_SERVICE_FILE)
    found: set[str] = set()
    for path in files:
        found |= _service_passwords(path, name)
    found.discard("")
    return found


def userinfo_needs_encoding(conninfo: str) -> bool:
    """Return True when a URL's user or password holds what libpq cannot read unencoded.

    An ``@`` or ``/``: libpq takes the rest of the password for the host, port or database
    name. A blank, or a ``%`` without two hex digits: libpq refuses the URL.
    """
    url = _URL_WHOLE.match(conninfo)
    if url is None:
        return False
    end = _userinfo_end(url["rest"])
    return end >= 0 and _ambiguous(url["rest"][:end])


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every password in ``text``: in URLs, ``password=`` settings and known secrets.

    ``secrets`` adds literal values to mask wherever they appear (for instance the
    password of the target URL inside a server message); ``PGPASSWORD`` is always one.
    """
    # Known secrets first: a password with blanks or quotes, as repr() shows it after
    # "password = ", must not be cut short by the shape below before it is seen whole.
    masked = _URL_IN_TEXT.sub(_mask_url, _mask_literals(text, secrets))
    return _SECRET_PARAM.sub(_mask_param, masked)


def redact_conninfo(conninfo: str) -> str:
    """Return a URL or conninfo string with its password replaced by ``***``."""
    masked = _URL_WHOLE.sub(_mask_url, conninfo)  # a URL may hold blanks (libpq refuses)
    return redact_text(masked, secrets_in(conninfo))


def redact_log_records(secrets: Callable[[], Iterable[str]]) -> Callable[[], None]:
    """Redact every log record made from now on, with ``secrets()`` as known secrets.

    Records are redacted when they are made, before any handler (a log file, live
    logging, a capture) formats them: message, traceback and stack. Returns the function
    that stops it.
    """
    previous = logging.getLogRecordFactory()

    def make(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        known = tuple(secrets())
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: the handler reports that, as ever
            return record
        safe = redact_text(message, known)
        if safe != message:
            record.msg, record.args = safe, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(_FORMATTER.formatException(record.exc_info), known)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, known)
        return record

    logging.setLogRecordFactory(make)

    def stop() -> None:
        if logging.getLogRecordFactory() is make:
            logging.setLogRecordFactory(previous)

    return stop


def _mask_url(match: re.Match[str]) -> str:
    """Mask a URL's password; all of its user information when that is ambiguous."""
    scheme, rest = match["scheme"], match["rest"]
    end = _userinfo_end(rest)
    after = _SECRET_QUERY_PARAM.sub(_mask_param, rest[max(end, 0) :])
    userinfo = rest[: max(end, 0)]
    if end >= 0 and _ambiguous(userinfo):
        return f"{scheme}{MASK}{after}"
    user, colon, password = userinfo.partition(":")
    if colon and password:
        return f"{scheme}{user}:{MASK}{after}"
    return f"{scheme}{userinfo}{after}"


def _mask_param(match: re.Match[str]) -> str:
    return f"{match['prefix']}{MASK}"


def _mask_literals(text: str, secrets: Iterable[str]) -> str:
    known = set(secrets)
    env_password = os.environ.get("PGPASSWORD")
    if env_password:
        known.add(env_password)
    # A one- or two-character secret would turn every such letter of the text into a
    # mask; it stays masked where it stands in a URL or a password= setting.
    spellings = {s for secret in known for s in _spellings(secret) if len(s) >= MIN_LITERAL}
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted(spellings, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _spellings(secret: str) -> set[str]:
    """Return ``secret`` as text may spell it: raw, and escaped by repr(), JSON or Go's %q."""
    return {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]}


def _userinfo_end(rest: str) -> int:
    """Return the index of the '@' that ends a URL's user information (after ``://``), or -1.

    The later of libpq's reading (the first '@', unless a '/' comes first) and the
    reading that lets the password hold anything (the last '@' before the query string):
    so a password is masked whole however its URL is read.
    """
    slash = rest.find("/")
    libpq = rest.find("@", 0, slash if slash >= 0 else len(rest))
    return max(libpq, rest.rfind("@", 0, _query_start(rest)))


def _query_start(rest: str) -> int:
    """Return the index of the '?' that starts the query string: libpq parameters follow."""
    for match in re.finditer(r"\?", rest):
        items = rest[match.end() :].split("&")
        if all(item.partition("=")[0] in _URI_KEYWORDS and "=" in item for item in items):
            return match.start()
    return len(rest)


def _ambiguous(userinfo: str) -> bool:
    """Return True when a URL's user information cannot be read as the user wrote it."""
    return _UNREADABLE_USERINFO.search(userinfo) is not None


def _pieces(secret: str) -> set[str]:
    """Return ``secret`` and every run of it between characters a URL parser cuts at."""
    cuts = [match.start() for match in _URL_DELIMITERS.finditer(secret)]
    starts = [0, *(cut + 1 for cut in cuts)]
    ends = [*cuts, len(secret)]
    return {secret[start:end] for start in starts for end in ends if end > start}


def _settings(conninfo: str) -> dict[str, str]:
    """Return the parameters a URL's query string or a conninfo sets, as libpq reads them."""
    url = _URL_WHOLE.match(conninfo)
    if url is None:
        return {key: value for key, _, value in _conninfo_pairs(conninfo)}
    rest = url["rest"]
    query = rest[_query_start(rest) + 1 :]
    pairs = (item.partition("=") for item in query.split("&") if "=" in item)
    return {key: unquote(value) for key, _, value in pairs}


def _conninfo_pairs(conninfo: str) -> Iterator[tuple[str, str, str]]:
    """Yield each ``key=value`` of a conninfo: the key, the value as written, as libpq reads it.

    libpq's rules: blanks separate pairs and may surround '='; a value is bare (up to a
    blank) or in single quotes; a backslash takes the next character literally in both.
    Stops at the first thing that is not a pair, where libpq would fail.
    """
    i, n = 0, len(conninfo)
    while True:
        while i < n and conninfo[i].isspace():
            i += 1
        if i >= n:
            return
        start = i
        while i < n and conninfo[i] != "=" and not conninfo[i].isspace():
            i += 1
        key = conninfo[start:i]
        while i < n and conninfo[i].isspace():
            i += 1
        if i >= n or conninfo[i] != "=":
            return
        i += 1
        while i < n and conninfo[i].isspace():
            i += 1
        quoted = i < n and conninfo[i] == "'"
        i += quoted
        start, value = i, []
        while i < n and (conninfo[i] != "'" if quoted else not conninfo[i].isspace()):
            if conninfo[i] == "\\" and i + 1 < n:
                i += 1
            value.append(conninfo[i])
            i += 1
        yield key, conninfo[start:i], "".join(value)
        i += quoted  # the closing quote


def _service_passwords(path: Path, service: str) -> set[str]:
    """Return the secret values of section ``[service]`` of a libpq service file."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return set()
    found: set[str] = set()
    section = None
    for line in (raw.strip() for raw in lines):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == service and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            if key.strip().lower() in _SECRET_KEYS:
                found.update({value, value.strip()})
    return found
