"""pytest entry point of pytest-dbverify (``pytest11``): options, marker, and the switch.

Inert unless ``--dbverify`` is given: no connection, no server, no dbmate call. Keep this
module's imports cheap: pytest imports it on every run of every project that has the
plugin installed.
"""

from __future__ import annotations

import pytest

from pytest_dbverify import fixtures
from pytest_dbverify.settings import add_options

MARKER = (
    "dbverify(objects=[...]): a database test, run (only) under --dbverify against the "
    "verified database; objects optionally names the tables, columns, constraints or indexes "
    "it exercises, for the coverage report"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare ``--dbverify`` and the settings."""
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and fixtures; under ``--dbverify``, the verification run."""
    config.addinivalue_line("markers", MARKER)
    config.pluginmanager.register(fixtures, "dbverify-fixtures")
    if not config.getoption("--dbverify"):
        return
    from pytest_dbverify import report
    from pytest_dbverify.run import PLUGIN_NAME, VerificationRun
    from pytest_dbverify.settings import resolve, validate

    run = VerificationRun(config, validate(resolve(config)))
    config.pluginmanager.register(run, PLUGIN_NAME)
    config.pluginmanager.register(report.CoverageReport(config, run), report.PLUGIN_NAME)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``--dbverify``, skip the tests marked ``dbverify``: they need a target."""
    if config.getoption("--dbverify"):
        return
    skip = pytest.mark.skip(reason="database test: run it with pytest --dbverify")
    for item in items:
        if item.get_closest_marker("dbverify"):
            item.add_marker(skip)
