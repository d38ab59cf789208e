"""The docs stay true to the code: the settings table, quoted messages, links, the workflow."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
import tomllib
from packaging.requirements import Requirement

from tests.conftest import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
# Until a release, `pip install pytest-dbverify` finds nothing on PyPI (the git form is fine).
FROM_PYPI = re.compile(r"pip\s+install\s+'?pytest-dbverify(?![\w-]|\s*@)")
INSTALL_PAGES = sorted(
    [ROOT / "README.md", *DOCS.rglob("*.md"), *DOCS.rglob("*.yml")]
    + [p for p in (ROOT / "examples").rglob("*") if p.suffix in {".md", ".toml", ".yml"}]
)
LINK = re.compile(r"\[[^\]]*\]\((?!https?://)([^)#\s]*)(?:#([^)\s]*))?\)")


def package_source() -> str:
    """Return the package's Python source with implicitly concatenated strings joined."""
    text = "\n".join(p.read_text() for p in sorted((ROOT / "pytest_dbverify").rglob("*.py")))
    return re.sub(r"\"\s*\n\s*(?:rf|fr|f|r)?\"", "", text)


def slug(heading: str) -> str:
    """Return GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_settings_table_is_generated_from_the_options() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "settings_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    from pytest_dbverify.settings import OPTIONS

    page = (DOCS / "settings.md").read_text()
    for option in OPTIONS:
        assert f"`{option.ini} ({option.ini_type})`" in page
        assert f"`{option.env}`" in page


def test_every_quoted_message_in_troubleshooting_is_in_the_code() -> None:
    source = package_source()
    headings = re.findall(r"^### `(.+)`$", (DOCS / "troubleshooting.md").read_text(), re.M)
    assert len(headings) > 25
    for heading in headings:
        for fragment in re.split(r"<[^>]+>", heading):
            assert fragment.strip() in source, f"{fragment!r} (from {heading!r}) is not in the code"


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(page) -> None:
    for target, anchor in LINK.findall(page.read_text()):
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: broken link to {target}"
        if anchor and path.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
            assert anchor in {slug(h) for h in headings}, f"{page.name}: no #{anchor} in {target}"


def test_every_page_is_listed_in_the_docs_index() -> None:
    index = (DOCS / "README.md").read_text()
    for page in PAGES:
        if page.name != "README.md":
            assert f"]({page.name})" in index, page.name


def test_the_workflow_runs_dbverify_with_the_secret_and_uploads_both_reports() -> None:
    workflow = (DOCS / "examples" / "github-actions-dbverify.yml").read_text()
    assert "DATABASE_URL: ${{ secrets.DBVERIFY_DATABASE_URL }}" in workflow
    assert "pytest --dbverify" in workflow
    assert "--junitxml=reports/dbverify.xml" in workflow
    assert "--dbverify-report=reports/dbverify.json" in workflow
    assert "uses: actions/upload-artifact@" in workflow
    assert "if: always()" in workflow
    assert "\t" not in workflow  # YAML forbids tabs in indentation


@pytest.mark.parametrize("page", INSTALL_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_installing_from_pypi_is_offered_only_for_after_a_release(page) -> None:
    for paragraph in re.split(r"\n\s*\n", page.read_text()):
        if FROM_PYPI.search(paragraph):
            assert "release" in paragraph, f"installs from PyPI as if it worked today: {paragraph}"


def test_the_workflow_installs_this_plugin_from_git() -> None:
    workflow = (DOCS / "examples" / "github-actions-dbverify.yml").read_text()
    [install] = re.findall(r"^ *run: pip install (.+)$", workflow, re.M)
    [argument] = shlex.split(install)
    requirement = Requirement(argument)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requirement.name == project["name"]
    assert requirement.url == "git+https://github.com/OWNER/pytest-dbverify"
    assert "OWNER is a placeholder" in workflow
