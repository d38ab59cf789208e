"""The migration files themselves are sound: layout, transaction:false blocks, and squawk.

- ``test_migration_sections[<file>]``: unindented ``-- migrate:up`` and ``-- migrate:down``
  markers, known options only, and every ``transaction:false`` section holding one
  CONCURRENTLY statement alone (:mod:`pytest_dbverify.sections`);
- ``test_migration_lint[<file>]``: the up section passes squawk (``squawk-cli``), less the
  rules in ``--dbverify-lint-exclude`` (and squawk's ``.squawk.toml``), for the target's
  PostgreSQL version (:mod:`pytest_dbverify.lint`).

Files only: no database is touched, except to learn the target's version.
"""

from __future__ import annotations

import pytest

from pytest_dbverify import lint, sections
from pytest_dbverify.checks.migrations import applied_versions
from pytest_dbverify.errors import BinaryNotFoundError
from pytest_dbverify.migrations import MigrationFile, migration_files
from pytest_dbverify.report import advise
from pytest_dbverify.run import VerificationRun, get_run

pytestmark = pytest.mark.dbverify


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per migration file of the migrations directory."""
    if "migration_file" not in metafunc.fixturenames:
        return
    migrations_dir = get_run(metafunc.config).settings.migrations_dir
    if not migrations_dir.is_dir():
        reason = f"no migrations directory at {migrations_dir} (--dbverify-migrations-dir)"
        metafunc.parametrize(
            "migration_file",
            [pytest.param(None, id="no-migrations-dir", marks=pytest.mark.skip(reason=reason))],
        )
        return
    files = migration_files(migrations_dir)
    metafunc.parametrize("migration_file", files, ids=[file.name for file in files])


def test_migration_sections(migration_file: MigrationFile) -> None:
    """The file has unindented up and down markers and sound transaction:false sections."""
    layout = sections.parse(migration_file.path.read_text(encoding="utf-8"))
    if layout.problems:
        pytest.fail(
            f"{migration_file.path.name}:\n  " + "\n  ".join(layout.problems), pytrace=False
        )


def test_migration_lint(
    migration_file: MigrationFile, dbverify_run: VerificationRun, request: pytest.FixtureRequest
) -> None:
    """Squawk finds no lock or rewrite hazard in the up section (configurable rules)."""
    layout = sections.parse(migration_file.path.read_text(encoding="utf-8"))
    up = layout.sections.get("up")
    if up is None:
        pytest.fail(f"{migration_file.path.name}: no -- migrate:up section", pytrace=False)
    version = dbverify_run.target_catalog().server_version_num
    try:
        findings = lint.lint_section(
            up,
            file_name=migration_file.path.name,
            exclude=dbverify_run.settings.lint_exclude,
            pg_version=f"{version // 10000}.{version % 10000}",
            cwd=dbverify_run.config.rootpath,
        )
    except BinaryNotFoundError as err:
        pytest.skip(str(err))
    # A migration production already ran cannot be made safer: its findings are advice.
    # So are rules of style. Hazards in a migration still to run fail.
    ran = _applied_on_target(migration_file, dbverify_run)
    hazards = [] if ran else [f for f in findings if not lint.is_style(f.rule)]
    advice = [f for f in findings if f not in hazards]
    how = (
        "(silence a rule for the project with --dbverify-lint-exclude, or for one "
        "statement with a `-- squawk-ignore RULE` comment above it)"
    )
    if advice:
        why = "already applied on the target" if ran else "rules of style"
        advise(
            request.node,
            f"squawk on {migration_file.path.name} (-- migrate:up; {why}, reported only):\n  "
            + "\n  ".join(f.describe() for f in advice)
            + f"\n  {how}",
        )
    if hazards:
        pytest.fail(
            f"squawk on {migration_file.path.name} (-- migrate:up, not applied on the target "
            "yet):\n  " + "\n  ".join(f.describe() for f in hazards) + f"\n  {how}",
            pytrace=False,
        )


def _applied_on_target(migration_file: MigrationFile, run: VerificationRun) -> bool:
    """Return True if the target is a deployment that already ran this migration.

    A throwaway target built from the migrations has run them all, but no deploy has:
    there, as on a target where the file is pending, its hazards are still ahead.
    """
    if run.target_is_throwaway:
        return False
    try:
        return migration_file.version in applied_versions(run)
    except pytest.fail.Exception:
        return False  # no dbmate table: nothing ran yet (its own check says so)
