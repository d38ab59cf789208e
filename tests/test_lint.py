"""squawk (the squawk-cli wheel) on migration sections: real runs, findings mapped to lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_dbverify.embedded import ServerInfo
from pytest_dbverify.lint import find_squawk, lint_section, squawk_argv
from pytest_dbverify.sections import parse
from pytest_dbverify.settings import DEFAULT_LINT_EXCLUDE
from tests.conftest import MIGRATIONS_DIR, create_database

RISKY = """-- migrate:up
-- A busy table.
ALTER TABLE content ALTER COLUMN topic TYPE varchar(200);

ALTER TABLE content ADD CONSTRAINT content_title_len CHECK (length(title) < 500);

-- migrate:down
ALTER TABLE content DROP CONSTRAINT content_title_len;
DROP TABLE content;
"""


def test_the_learning_migrations_pass_with_the_default_rules():
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        up = parse(path.read_text()).sections["up"]
        assert (
            lint_section(up, file_name=path.name, exclude=DEFAULT_LINT_EXCLUDE, pg_version="15.0")
            == []
        )


def test_findings_name_the_rule_and_the_file_line():
    up = parse(RISKY).sections["up"]
    findings = lint_section(up, file_name="x.sql", exclude=DEFAULT_LINT_EXCLUDE)
    assert [(f.line, f.rule) for f in findings] == [
        (3, "changing-column-type"),
        (5, "constraint-missing-not-valid"),
    ]
    assert findings[0].describe().startswith("line 3: changing-column-type: ")


def test_the_down_section_is_not_linted_and_rules_can_be_excluded():
    up = parse(RISKY).sections["up"]
    findings = lint_section(
        up, file_name="x.sql", exclude=[*DEFAULT_LINT_EXCLUDE, "changing-column-type"]
    )
    assert [f.rule for f in findings] == ["constraint-missing-not-valid"]  # no ban-drop-table


def test_argv():
    squawk = find_squawk()
    assert squawk_argv(
        squawk, file_name="a.sql", exclude=["r1", "r2"], in_transaction=False, pg_version="15.4"
    ) == [
        str(squawk), "--reporter", "json", "--stdin-filepath", "a.sql", "--exclude=r1,r2",
        "--no-assume-in-transaction", "--pg-version=15.4",
    ]  # fmt: skip


# A history whose second migration has a lock hazard (an index built without CONCURRENTLY
# on an existing table) and a rule of style (a char column).
HISTORY = {
    "1_base": (
        "CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL);",
        "DROP TABLE item;",
    ),
    "2_code": (
        "ALTER TABLE item ADD COLUMN code char(3);\nCREATE INDEX item_name_idx ON item (name);",
        "DROP INDEX item_name_idx;\nALTER TABLE item DROP COLUMN code;",
    ),
}


@pytest.fixture
def history(pytester: pytest.Pytester) -> Path:
    migrations = pytester.path / "db" / "migrations"
    migrations.mkdir(parents=True)
    for name, (up, down) in HISTORY.items():
        (migrations / f"{name}.sql").write_text(f"-- migrate:up\n{up}\n\n-- migrate:down\n{down}\n")
    return migrations


def _lint_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        "--dbverify", "--dbverify-include=test_migration_lint", "-p", "no:cacheprovider", *args
    )


@pytest.mark.parametrize("applied", [1, 2], ids=["pending", "applied"])
def test_a_migration_production_ran_is_advised_on_and_a_pending_one_fails(
    pytester: pytest.Pytester, pg_server: ServerInfo, history: Path, applied: int
) -> None:
    target = create_database(pg_server)
    staging = pytester.path / "applied"
    staging.mkdir()
    for path in sorted(history.glob("*.sql"))[:applied]:
        shutil.copyfile(path, staging / path.name)
    target.dbmate(staging).migrate()
    report = pytester.path / "report.json"
    result = _lint_run(pytester, f"--dbverify-url={target.url}", f"--dbverify-report={report}")
    text = result.stdout.str()
    advice = json.loads(report.read_text())["summary"]["advice"]["test_migration_lint[2_code]"]
    if applied == 2:  # everything ran in production: advice, never a failure
        assert result.ret == 0
        result.assert_outcomes(passed=2)
        assert "advice (1 checks; not failures, see the JSON report):" in text
        assert "2_code.sql (-- migrate:up; already applied on the target, reported only)" in text
        assert "line 3: require-concurrent-index-creation" in advice
        assert "line 2: ban-char-field" in advice
    else:  # the hazard is still ahead: it fails; the rule of style is reported only
        assert result.ret == 1
        result.assert_outcomes(passed=1, failed=1)
        failure = text[text.index("__ test_migration_lint[2_code] __") :]
        failure = failure[: failure.index("dbverify summary")]
        assert "line 3: require-concurrent-index-creation" in failure
        assert "ban-char-field" not in failure
        assert "test_migration_lint[2_code]: squawk on 2_code.sql (-- migrate:up; rules of" in text
        assert "line 2: ban-char-field" in advice
        assert "require-concurrent" not in advice


def test_on_a_throwaway_target_a_hazard_fails(pytester: pytest.Pytester, history: Path) -> None:
    result = _lint_run(pytester)
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    assert "require-concurrent-index-creation" in result.stdout.str()


def test_relations_made_in_the_same_section_are_new_even_when_squawk_misses_it():
    # squawk sees through a plain CREATE TABLE, not CREATE SCHEMA ... CREATE TABLE, nor a
    # materialized view: nobody can be locked out of those either. An existing table is.
    text = """-- migrate:up
CREATE SCHEMA app
  CREATE TABLE t (id bigint PRIMARY KEY, name text)
  CREATE TABLE u (id bigint);
ALTER TABLE app.t ADD CONSTRAINT t_id_positive CHECK (id > 0);
ALTER TABLE app.u ADD CONSTRAINT u_t FOREIGN KEY (id) REFERENCES app.t (id);
CREATE MATERIALIZED VIEW app.totals AS SELECT count(*) AS n FROM app.t;
CREATE UNIQUE INDEX totals_n ON app.totals (n);
CREATE INDEX content_title_idx ON content (title);

-- migrate:down
DROP SCHEMA app CASCADE;
"""
    up = parse(text).sections["up"]
    findings = lint_section(up, file_name="x.sql", exclude=DEFAULT_LINT_EXCLUDE)
    assert [(f.line, f.rule) for f in findings] == [(9, "require-concurrent-index-creation")]
