"""Normalize catalog text so that two servers describing the same object say the same thing.

PostgreSQL deparses definitions (``pg_get_constraintdef``, ``pg_get_indexdef``, defaults)
from the parsed tree, so spacing and names vary with how an object was made and with the
server's version, not with what it does. These functions strip what varies and keep what
matters; attributes compared on their own (NOT VALID, DEFERRABLE, an index's name) are
cut from the text so that one difference is reported once, under its own name.
"""

from __future__ import annotations

import re

# The suffixes PostgreSQL gives names it makes up (ChooseConstraintName, ChooseIndexName),
# optionally followed by a number when the name was taken.
_GENERATED_SUFFIX = re.compile(r"_(pkey|key|fkey|check|excl|idx|not_null)\d*$")
_CONSTRAINT_TAIL = re.compile(
    r"\s+(NOT VALID|NOT ENFORCED|DEFERRABLE|NOT DEFERRABLE|INITIALLY DEFERRED|"
    r"INITIALLY IMMEDIATE)\b"
)
_INDEX_NAME = re.compile(r"^(CREATE (?:UNIQUE )?INDEX) (?:\"(?:[^\"]|\"\")+\"|\S+) ON ")
_TRIGGER_NAME = re.compile(r"^(CREATE (?:CONSTRAINT )?TRIGGER) (?:\"(?:[^\"]|\"\")+\"|\S+) ")
_SPACE = re.compile(r"\s+")


def squeeze(text: str | None) -> str | None:
    """Collapse runs of whitespace to one space and trim; None stays None."""
    if text is None:
        return None
    return _SPACE.sub(" ", text).strip()


def looks_generated(name: str) -> bool:
    """Return True if ``name`` has the shape of a name PostgreSQL chose itself.

    ``ADD CONSTRAINT`` / ``CREATE INDEX`` without a name get ``<table>_<columns>_<suffix>``
    (``_pkey``, ``_key``, ``_fkey``, ``_check``, ``_excl``, ``_idx``, ``_not_null``), with a
    number appended when that was taken, so the same migration can give different names on
    two databases whose history differs. Such names are matched by definition instead.
    """
    return _GENERATED_SUFFIX.search(name) is not None


def constraint_definition(definition: str) -> str:
    """Return a constraint's definition without the attributes compared separately.

    ``pg_get_constraintdef`` appends NOT VALID, NOT ENFORCED (PostgreSQL 18) and the
    deferrability; each is its own finding, so the text keeps only the rule itself.
    """
    return squeeze(_CONSTRAINT_TAIL.sub("", definition)) or ""


def index_definition(definition: str) -> str:
    """Return ``pg_get_indexdef`` text without the index's own name.

    The name is compared on its own (by name first, then by this text for indexes whose
    name PostgreSQL chose), so a renamed index is one finding, not a different definition.
    """
    return squeeze(_INDEX_NAME.sub(r"\1 ON ", definition, count=1)) or ""


def trigger_definition(definition: str) -> str:
    """Return ``pg_get_triggerdef`` text without the trigger's own name."""
    return squeeze(_TRIGGER_NAME.sub(r"\1 ", definition, count=1)) or ""


def expression(text: str | None) -> str | None:
    """Return a default or generation expression in comparable form."""
    return squeeze(text)
