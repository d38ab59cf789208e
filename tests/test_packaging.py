"""The package as it would be published: built, checked, installed and used elsewhere.

`python -m build` makes the sdist from a copy of the checkout's files and the wheel from
that sdist (so the sdist holds what a build needs); twine checks both. The wheel goes
into a fresh virtualenv outside the checkout, where a copy of examples/bookshop uses it
as another repository would: the `dbverify` command, `python -m pytest_dbverify.embedded`,
dbmate from its wheel, the pytest11 plugin with its SQL files, and py.typed for mypy.
The build runs once per test run, shared by the xdist workers.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXAMPLE = ROOT / "examples" / "bookshop"
# What would point the consumer's tools back at this checkout or at a database.
LEAKS = ("PYTHONPATH", "DATABASE_URL", "DBVERIFY_URL", "GITHUB_STEP_SUMMARY", "VIRTUAL_ENV")


@dataclass(frozen=True)
class Dist:
    """The built artifacts and the tree they were built from."""

    source: Path
    sdist: Path
    wheel: Path

    def package_files(self) -> set[str]:
        """Every file of the package in the source tree, relative to the tree."""
        package = self.source / "pytest_dbverify"
        return {str(p.relative_to(self.source)) for p in package.rglob("*") if p.is_file()}


def run(argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command to completion; return its output, failing the test with it on error."""
    done = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    command = " ".join(str(arg) for arg in argv)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def build(source: Path, out: Path) -> None:
    """Copy the checkout's files (tracked or not ignored) to ``source``; build into ``out``."""
    # A copy: in the checkout, the sdist step would rewrite the egg-info there (the
    # editable install's) while other tests run, and would pick up untracked clutter.
    shutil.rmtree(source, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # a tracked file deleted in the work tree is not listed
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run([sys.executable, "-m", "build", "--outdir", out, source], ROOT)


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Dist:
    """The sdist and the wheel, built by whichever xdist worker asks first."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # the run's, above each worker's
    source, out = shared / "dist-source", shared / "dist"
    with (shared / "dist.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (out / "done").exists():
            build(source, out)
            (out / "done").touch()
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return Dist(source, sdist, wheel)


def test_twine_check_strict_passes(dist: Dist) -> None:
    output = run([sys.executable, "-m", "twine", "check", "--strict", dist.sdist, dist.wheel], ROOT)
    assert output.count("PASSED") == 2, output


def test_the_wheel_holds_the_package_its_data_and_entry_points_only(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        [info] = {name.split("/")[0] for name in names if ".dist-info/" in name}
        entry_points = ConfigParser()
        entry_points.read_string(wheel.read(f"{info}/entry_points.txt").decode())
        metadata = wheel.read(f"{info}/METADATA").decode()
    package = {name for name in names if not name.startswith(f"{info}/")}
    # Every module, every sql/*.sql and py.typed; no tests/, db/, examples/ or the like.
    assert package == dist.package_files()
    assert {"pytest_dbverify/py.typed", "pytest_dbverify/sql/columns.sql"} <= package
    assert dict(entry_points["pytest11"]) == PROJECT["entry-points"]["pytest11"]
    assert dict(entry_points["console_scripts"]) == PROJECT["scripts"]
    assert f"Name: {PROJECT['name']}\n" in metadata
    assert f"Version: {PROJECT['version']}\n" in metadata
    assert f"{info}/licenses/LICENSE" in names  # the license's text ships with it


def test_the_sdist_holds_what_a_build_needs_only(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as sdist:
        names = {member.name for member in sdist.getmembers() if member.isfile()}
    top = f"{PROJECT['name'].replace('-', '_')}-{PROJECT['version']}/"
    assert all(name.startswith(top) for name in names)
    files = {name.removeprefix(top) for name in names}
    egg_info = {name for name in files if name.startswith("pytest_dbverify.egg-info/")}
    built = {"PKG-INFO", "setup.cfg", *egg_info}
    # The package, what its build reads and nothing else: no half a test suite.
    needed = {"pyproject.toml", PROJECT["readme"], "MANIFEST.in", *PROJECT["license-files"]}
    assert files - built == dist.package_files() | needed


@dataclass(frozen=True)
class Consumer:
    """A copy of examples/bookshop, and a shell's environment with the wheel's venv active."""

    project: Path
    venv: Path
    env: dict[str, str]

    def run(self, *argv: str | Path, **env: str) -> str:
        """Run a command in the project, as typed in that shell."""
        return run(list(argv), self.project, {**self.env, **env})


@pytest.fixture
def consumer(dist: Dist, tmp_path: Path) -> Consumer:
    """The wheel alone in a new virtualenv, and a copy of the example project beside it."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    # This run's pip installs into it (--python): nothing to bootstrap, pip's cache reused.
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", dist.wheel], tmp_path)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in LEAKS and not name.startswith(("PG", "PYTEST_"))
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    project = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, project)
    return Consumer(project, venv, env)


def await_url(server: subprocess.Popen[str]) -> str:
    """Read the server's output up to the DATABASE_URL it prints; return that URL."""
    assert server.stdout is not None
    printed = []
    for line in server.stdout:
        if line.startswith("DATABASE_URL="):
            return line.removeprefix("DATABASE_URL=").strip()
        printed.append(line)
    pytest.fail(f"python -m pytest_dbverify.embedded printed no URL:\n{''.join(printed)}")


def test_the_wheel_in_a_fresh_venv_runs_the_example_consumer(consumer: Consumer) -> None:
    where = consumer.run("python", "-c", "import pytest_dbverify; print(pytest_dbverify.__file__)")
    assert Path(where.strip()).is_relative_to(consumer.venv), where
    # The console script: the ledger that the migration checks read.
    updated = consumer.run("dbverify", "ledger", "update")
    assert "added 20260302100000_add_format_price.sql" in updated
    # py.typed: without it mypy refuses the plugin's modules as untyped imports.
    consumer.run(
        sys.executable, "-m", "mypy", "--strict", "tests",
        "--python-executable", consumer.venv / "bin" / "python",
        "--cache-dir", consumer.project / ".mypy_cache",
    )  # fmt: skip

    # A database to deploy to, from the documented module; dbmate from its wheel.
    server = subprocess.Popen(
        ["python", "-m", "pytest_dbverify.embedded", "--dbname", "bookshop"],
        cwd=consumer.project, env=consumer.env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = await_url(server)
        consumer.run("dbmate", "--no-dump-schema", "up", DATABASE_URL=url)
        # The pytest11 plugin, its SQL files, the example's own strategies and tests.
        verified = consumer.run("pytest", "--dbverify", DATABASE_URL=url)
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as documented: stops and deletes it
        try:
            server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()  # its reaper then deletes the server
            raise
    assert server.returncode == 0
    pytest.LineMatcher(verified.splitlines()).fnmatch_lines(
        [
            f"dbverify target: {url} (env DATABASE_URL)",
            f"plugins: *dbverify-{PROJECT['version']}*",
            "dbverify/migration_files ....*",
            "tests/test_books.py ..*",
            "objects: 2 tables in public, 2 migration files",
        ]
    )
    assert "no migration ledger" not in verified
