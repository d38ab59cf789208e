"""Drift: the deployed schema is the schema the migrations produce, object by object.

The behaviour checks prove that what the migrations promise is enforced; drift adds what
behaviour cannot show: an extra table or index, a column type changed by hand, a default
or trigger that differs, a constraint left NOT VALID, an invalid index. The expected
snapshot is the migrations applied to the run's throwaway server (never the target); both
snapshots are normalized (:mod:`pytest_dbverify.normalize`) and compared
(:mod:`pytest_dbverify.schema_diff`). One item per differing object, named after it
(``test_schema_drift[index public.content.content_created_at_idx]``); with no difference,
one passing item ``test_schema_drift[none]``.
"""

from __future__ import annotations

import pytest

from pytest_dbverify.run import VerificationRun, get_run
from pytest_dbverify.schema_diff import Difference

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per object that differs between the expected and the deployed snapshot."""
    if "drift" not in metafunc.fixturenames:
        return
    run = get_run(metafunc.config)
    if run.expectation.conninfo is None:
        reason = f"no expected schema apart from the target's own ({run.expectation.source})"
        metafunc.parametrize("drift", [pytest.param(None, marks=pytest.mark.skip(reason=reason))])
        return
    differences = run.differences()
    if not differences:
        metafunc.parametrize("drift", [pytest.param(None, id="none")])
        return
    metafunc.parametrize("drift", differences, ids=[d.id for d in differences])


def test_schema_drift(drift: Difference | None, dbverify_run: VerificationRun) -> None:
    """The deployed object is the object the migrations create (normalized definitions)."""
    if drift is None:
        return
    run = dbverify_run
    expected_major = run.expected_catalog().server_version_num // 10000
    found_major = run.target_catalog().server_version_num // 10000
    note = ""
    if expected_major != found_major:
        note = (
            f"\n  (expected schema built on PostgreSQL {expected_major}, target runs "
            f"{found_major}: definitions compared after normalization)"
        )
    pytest.fail(f"schema drift: {drift.describe()}{note}", pytrace=False)
