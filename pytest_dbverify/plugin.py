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
    _leave_libraries_unrewritten(config)
    from pytest_dbverify import report
    from pytest_dbverify.run import PLUGIN_NAME, VerificationRun
    from pytest_dbverify.settings import resolve, validate

    run = VerificationRun(config, validate(resolve(config)))
    config.pluginmanager.register(run, PLUGIN_NAME)
    config.pluginmanager.register(report.CoverageReport(config, run), report.PLUGIN_NAME)


def _leave_libraries_unrewritten(config: pytest.Config) -> None:
    """Import hypothesis and this package without pytest's assertion rewriting.

    Both declare a pytest11 entry point, so pytest marks each whole distribution for
    rewriting when it is installed from a wheel. Their asserts are internal invariants,
    not tests (a built-in check's failure is reported as its message alone): rewriting
    them buys nothing and, with no bytecode cache to keep the result
    (PYTHONDONTWRITEBYTECODE, a fresh CI image), costs about 1.2 s per run for hypothesis
    and 0.3 s for this package. pytest has no public switch for one package, so this
    reaches into its hook; if that ever changes shape, both are rewritten as before.
    """
    from _pytest.assertion.rewrite import assertstate_key

    hook = getattr(config.stash.get(assertstate_key, None), "hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    if isinstance(marked, set):
        marked.difference_update({"hypothesis", "pytest_dbverify"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``--dbverify``, skip the tests marked ``dbverify``: they need a target."""
    if config.getoption("--dbverify"):
        return
    skip = pytest.mark.skip(reason="database test: run it with pytest --dbverify")
    for item in items:
        if item.get_closest_marker("dbverify"):
            item.add_marker(skip)
