"""Errors raised by pytest-dbverify: one root, one subclass per kind of failure."""

from __future__ import annotations


class DbverifyError(Exception):
    """Root of every error pytest-dbverify raises on purpose."""


class BinaryNotFoundError(DbverifyError):
    """A program pytest-dbverify needs (PostgreSQL, dbmate) is not installed or not reachable."""


class ServerStartError(DbverifyError):
    """A throwaway PostgreSQL server could not be initialized or started."""


class MigrationError(DbverifyError):
    """A dbmate command failed; the message carries dbmate's own words, redacted."""

    def __init__(self, message: str, output: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.output = output
        self.detail = detail  # dbmate's own last words, naming the failing file


class ExpectationError(DbverifyError):
    """The expected schema cannot be built where the settings say it comes from."""
