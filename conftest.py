"""Root conftest: plugins the project's own tests need (pytester must be enabled here)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
TESTS = Path(__file__).resolve().parent / "tests"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the tool's own tests out of `pytest --dbverify` run with no path.

    None of them is marked dbverify, so they would be collected only to be deselected
    (over a second of imports on a fresh clone). Named on the command line, they run.
    """
    if (
        config.getoption("dbverify", default=False)
        and config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and (collection_path == TESTS or TESTS in collection_path.parents)
    ):
        return True
    return None
