"""The one place that makes connection strings and free text safe to print.

Passwords reach pytest-dbverify in URLs (``postgres://user:secret@host/db``), in
``key=value`` conninfo strings (``password=secret``), in URL query parameters
(``?password=secret``) and in ``PGPASSWORD``. Every message that may contain any of
them goes through :func:`redact_text` before it is shown, logged or raised.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import unquote

MASK = "***"
MIN_LITERAL = 3  # shortest secret masked wherever it appears

# scheme://user:password@  (the password runs to the last '@' before the host part)
_URL_USERINFO = re.compile(
    r"(?P<prefix>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<secret>[^\s/?#]*)(?P<at>@)"
)
# password=value in a query string or a conninfo, quoted ('a b', with \' escapes) or bare
_PASSWORD_PARAM = re.compile(
    r"(?P<prefix>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s&'\"]+)", re.IGNORECASE
)


def secrets_in(conninfo: str) -> set[str]:
    """Return the passwords written in a URL or conninfo string, raw and percent-decoded."""
    found: set[str] = set()
    for pattern in (_URL_USERINFO, _PASSWORD_PARAM):
        for match in pattern.finditer(conninfo):
            secret = match.group("secret").strip("'")
            if secret:
                found.update({secret, unquote(secret)})
    return found


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every password in ``text``: in URLs, ``password=`` settings and known secrets.

    ``secrets`` adds literal values to mask wherever they appear (for instance the
    password of the target URL inside a server message); ``PGPASSWORD`` is always one.
    """
    masked = _URL_USERINFO.sub(lambda m: f"{m['prefix']}{MASK}{m['at']}", text)
    masked = _PASSWORD_PARAM.sub(lambda m: f"{m['prefix']}{MASK}", masked)
    # A one- or two-character password would turn every such letter of the text into a
    # mask; it stays masked where it stands in a URL or a password= setting.
    known = {s for s in secrets if len(s) >= MIN_LITERAL}
    env_password = os.environ.get("PGPASSWORD")
    if env_password:
        known.add(env_password)
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted(known, key=len, reverse=True):
        masked = masked.replace(secret, MASK)
    return masked


def redact_conninfo(conninfo: str) -> str:
    """Return a URL or conninfo string with its password replaced by ``***``."""
    return redact_text(conninfo, secrets_in(conninfo))
