"""pytest-dbverify: prove that a deployed PostgreSQL database is what its migrations say.

The public names below load on first use, so that importing the package (which pytest
does for every run, through the plugin entry point) costs next to nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_dbverify.binaries import PgBinaries, find_binaries
    from pytest_dbverify.embedded import ServerInfo, ThrowawayServer, throwaway_server
    from pytest_dbverify.errors import (
        BinaryNotFoundError,
        DbverifyError,
        MigrationError,
        ServerStartError,
    )
    from pytest_dbverify.health import HealthReport, health_check
    from pytest_dbverify.migrations import Dbmate, DbmateResult, MigrationStatus, find_dbmate
    from pytest_dbverify.redact import redact_conninfo, redact_text

_EXPORTS = {
    "PgBinaries": "binaries",
    "find_binaries": "binaries",
    "ServerInfo": "embedded",
    "ThrowawayServer": "embedded",
    "throwaway_server": "embedded",
    "BinaryNotFoundError": "errors",
    "DbverifyError": "errors",
    "MigrationError": "errors",
    "ServerStartError": "errors",
    "HealthReport": "health",
    "health_check": "health",
    "Dbmate": "migrations",
    "DbmateResult": "migrations",
    "MigrationStatus": "migrations",
    "find_dbmate": "migrations",
    "redact_conninfo": "redact",
    "redact_text": "redact",
}

__all__ = [
    "BinaryNotFoundError",
    "Dbmate",
    "DbmateResult",
    "DbverifyError",
    "HealthReport",
    "MigrationError",
    "MigrationStatus",
    "PgBinaries",
    "ServerInfo",
    "ServerStartError",
    "ThrowawayServer",
    "find_binaries",
    "find_dbmate",
    "health_check",
    "redact_conninfo",
    "redact_text",
    "throwaway_server",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_dbverify' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pytest_dbverify.{module}"), name)
