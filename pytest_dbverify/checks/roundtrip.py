"""Rollback round trip: every migration's down undoes its up (on a throwaway database).

One item per migration file (``test_rollback_round_trip[<file>]``) and one for the whole
stack (``test_full_rollback_round_trip``). The round trip runs once per run (xdist workers
share its findings), in a database of its own on a throwaway server, never on the target
(see :mod:`pytest_dbverify.roundtrip`); ``--dbverify-round-trip=false`` turns it off.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dbverify.migrations import MigrationFile, migration_files
from pytest_dbverify.report import ROOT_CAUSE_PROPERTY
from pytest_dbverify.run import VerificationRun, get_run

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per migration file of the migrations directory."""
    if "stepped" not in metafunc.fixturenames:
        return
    run = get_run(metafunc.config)
    migrations_dir = run.settings.migrations_dir
    if not migrations_dir.is_dir():
        reason = f"no migrations directory at {migrations_dir} (--dbverify-migrations-dir)"
        metafunc.parametrize(
            "stepped",
            [pytest.param(None, id="no-migrations-dir", marks=pytest.mark.skip(reason=reason))],
        )
        return
    files = migration_files(migrations_dir)
    metafunc.parametrize("stepped", files, ids=[file.name for file in files])


def _round_trip_or_skip(run: VerificationRun) -> None:
    if not run.settings.round_trip:
        pytest.skip(f"round trip turned off ({run.settings.sources['round_trip']})")
    if not run.settings.migrations_dir.is_dir():
        pytest.skip(f"no migrations directory at {run.settings.migrations_dir}")


def test_rollback_round_trip(stepped: MigrationFile, dbverify_run: VerificationRun) -> None:
    """The migration's down undoes its up exactly, and its up applied again gives the same."""
    _round_trip_or_skip(dbverify_run)
    problems = dbverify_run.round_trip().steps[stepped.path.name]
    if problems:
        pytest.fail(
            f"round trip of {stepped.path.name} (up, down, up on a throwaway database):\n  "
            + "\n  ".join(problems),
            pytrace=False,
        )


def test_full_rollback_round_trip(
    dbverify_run: VerificationRun, request: pytest.FixtureRequest
) -> None:
    """All the way down leaves nothing of ours; all the way up equals the single pass."""
    _round_trip_or_skip(dbverify_run)
    result = dbverify_run.round_trip()
    if result.full_not_run is not None:
        # The whole stack would stop at the same file: say it once, under that file.
        cause = f"test_rollback_round_trip[{Path(result.full_not_run).stem}]"
        request.node.user_properties.append((ROOT_CAUSE_PROPERTY, cause))
        pytest.skip(
            f"not checked: {result.full_not_run} does not round-trip on its own "
            f"(root cause: {cause})"
        )
    if result.full:
        pytest.fail(
            "round trip of the whole stack (on a throwaway database):\n  "
            + "\n  ".join(result.full),
            pytrace=False,
        )
