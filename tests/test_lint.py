"""squawk (the squawk-cli wheel) on migration sections: real runs, findings mapped to lines."""

from __future__ import annotations

from pytest_dbverify.lint import find_squawk, lint_section, squawk_argv
from pytest_dbverify.sections import parse
from pytest_dbverify.settings import DEFAULT_LINT_EXCLUDE
from tests.conftest import MIGRATIONS_DIR

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
