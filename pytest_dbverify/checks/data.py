"""Existing data (opt-in, ``--dbverify-data-scan``): the deployed rows obey the expected rules.

One item per expected rule: ``test_rows_satisfy[not null content.topic]``,
``[check content.content_difficulty_check]``, ``[foreign key like_engagement.<fk>]``,
``[unique content.content_pkey]``. The whole scan runs once per process, in one
read-only snapshot (:mod:`pytest_dbverify.data_scan`); it reads every row, so it is off
by default. The module is collected only when the setting is on.
"""

from __future__ import annotations

import pytest

from pytest_dbverify.data_scan import Rule, rules
from pytest_dbverify.run import VerificationRun, get_run

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per NOT NULL column, CHECK, foreign key and unique rule of the expected schema."""
    if "rule" not in metafunc.fixturenames:
        return
    found = rules(get_run(metafunc.config).checked_tables())
    metafunc.parametrize("rule", found, ids=[rule.id for rule in found])


def test_rows_satisfy(rule: Rule, dbverify_run: VerificationRun) -> None:
    """No deployed row violates the rule (orphans, duplicates, CHECK and NOT NULL violations)."""
    finding = dbverify_run.data_scan()[rule.id]
    if finding.error is not None:
        pytest.fail(
            f"could not scan {rule.table.name} for {rule.id}: {finding.error}", pytrace=False
        )
    if finding.count:
        what = "duplicated keys (key x rows)" if rule.kind == "unique" else "offending rows"
        more = (
            f", and {finding.count - len(finding.samples)} more"
            if finding.count > len(finding.samples)
            else ""
        )
        pytest.fail(
            f"{finding.count} {what} in {rule.table.name} break {rule.id}: "
            f"{'; '.join(finding.samples)}{more}",
            pytrace=False,
        )
