"""Bad input: every case ends with one exact line, its exit code, and no traceback of ours.

The cases are in tests/bad_inputs.py; each runs ``pytest --dbverify`` (or ``dbverify
health``) as a user would, in a subprocess, against a real server prepared for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_dbverify.embedded import ServerInfo
from tests.bad_inputs import CASES, Case, prepare
from tests.production import SECRET, password_server


@pytest.fixture(scope="module")
def matrix_server() -> Iterator[ServerInfo]:
    """One server with every role and database the cases need."""
    with password_server() as server:
        prepare(server.info)
        yield server.info


def test_the_matrix_has_at_least_25_distinct_cases() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_explained_in_one_line(
    case: Case, matrix_server: ServerInfo, tmp_path: Path
) -> None:
    run = case.run(matrix_server, tmp_path / "project")
    assert run.has_line(case.line), f"exit {run.ret}; output:\n{run.output}"
    assert run.ret == case.ret, run.output
    if case.line.startswith("ERROR: "):  # a run that stops at its start says why once
        assert run.count_lines(case.line) == 1, run.output
    assert "_pytest.outcomes" not in run.output
    assert run.our_traceback() == []
    assert SECRET not in run.everything()
