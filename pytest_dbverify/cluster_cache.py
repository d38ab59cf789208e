"""A per-user cache of freshly initialized PostgreSQL clusters, copied into each server.

``initdb`` is most of a throwaway server's start (about 0.9 s of 1.1 s on two busy
cores), and what it writes depends only on the server binaries, initdb's options, the
account that owns the files and the time zone: so it runs once per such key, and each
server starts from a copy (``cp -a``, a tenth of the time).

Layout: ``<cache dir>/clusters/<key>/`` holds ``data/`` (the cluster, owned by the
account the server runs as) and ``manifest.json`` (the key's parts and every file's
size). An entry is built in a staging directory and renamed into place with its manifest
written last, so a directory under its final name is complete; concurrent runs and
xdist workers that build the same entry race harmlessly (the first rename wins). An
entry whose manifest does not match its files is never used: it is discarded and
rebuilt, as is one from which the server then fails to start.

The cache lives in ``$DBVERIFY_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytest-dbverify``,
else ``~/.cache/pytest-dbverify``; deleting that directory clears it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR_ENV = "DBVERIFY_CACHE_DIR"
_MANIFEST = "manifest.json"
_FORMAT = 1  # bump when the layout changes: older entries then stop matching


def default_cache_dir() -> Path:
    """Return the cache directory: ``$DBVERIFY_CACHE_DIR``, else the XDG cache's."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "pytest-dbverify"


def cache_key(parts: Mapping[str, object]) -> str:
    """Return the entry name for ``parts`` (JSON-serializable): a hash of all of them."""
    text = json.dumps({"format": _FORMAT, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ClusterCache:
    """Initialized clusters under ``root``, each stored once and copied out on every use."""

    root: Path

    def entry(self, key: str) -> Path:
        """Return the directory of the entry ``key`` (it may not exist)."""
        return self.root / "clusters" / key

    def restore(self, key: str, data_dir: Path) -> bool:
        """Copy the entry ``key`` to ``data_dir`` (not existing yet); False if none is valid.

        An invalid entry (partial, tampered with, from another layout) is discarded, so
        that the caller's fresh cluster replaces it.
        """
        entry = self.entry(key)
        manifest = _read_manifest(entry, key)
        if manifest is None:
            if entry.exists():
                self.discard(key)
            return False
        try:
            copy_tree(entry / "data", data_dir)
        except (OSError, subprocess.SubprocessError):
            shutil.rmtree(data_dir, ignore_errors=True)
            return False
        if _sizes(data_dir) != manifest["files"]:
            # Checked on the copy: one walk, and it catches an entry damaged since it was made.
            shutil.rmtree(data_dir, ignore_errors=True)
            self.discard(key)
            return False
        return True

    def store(self, key: str, data_dir: Path, parts: Mapping[str, object]) -> bool:
        """Add a copy of the cluster in ``data_dir`` (not running) as the entry ``key``.

        Never fails the caller: a cache that cannot be written (read-only home, full
        disk) costs the next run an initdb, nothing else. Returns whether it was stored.
        """
        clusters = self.root / "clusters"
        staging: Path | None = None
        try:
            clusters.mkdir(parents=True, exist_ok=True, mode=0o700)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=clusters))
            copy_tree(data_dir, staging / "data")
            manifest = {"key": key, "parts": dict(parts), "files": _sizes(staging / "data")}
            (staging / _MANIFEST).write_text(json.dumps(manifest))  # last: marks it complete
            staging.rename(self.entry(key))
            staging = None
        except (OSError, subprocess.SubprocessError):
            return False  # an entry of the same key renamed first, or no room: keep theirs
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        self._prune(key, parts)
        return True

    def discard(self, key: str) -> None:
        """Remove the entry ``key``: renamed away at once, then deleted."""
        entry = self.entry(key)
        trash = entry.with_name(f".trash-{key}-{os.getpid()}-{id(self)}")
        try:
            entry.rename(trash)
        except OSError:
            return  # gone already (another process discarded it)
        shutil.rmtree(trash, ignore_errors=True)

    def _prune(self, key: str, parts: Mapping[str, object]) -> None:
        """Drop entries made for other binaries at the same place (an upgraded server)."""
        bindir = parts.get("bindir")
        for other in (self.root / "clusters").glob("[0-9a-f]*"):
            if other.name == key:
                continue
            try:
                manifest = json.loads((other / _MANIFEST).read_text())
            except (OSError, ValueError):
                continue
            if manifest.get("parts", {}).get("bindir") == bindir:
                self.discard(other.name)


def copy_tree(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (which must not exist) with modes and owners.

    GNU ``cp -a`` where there is one (C, and a reflink where the file system has them);
    else Python's copy, then the owners as the source has them when we are root.
    """
    if sys.platform.startswith("linux") and shutil.which("cp"):
        result = subprocess.run(
            ["cp", "-a", "--reflink=auto", "--", str(source), str(target)],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        if result.returncode == 0:
            return
        shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True)
    if os.geteuid() == 0:
        for path in [target, *target.rglob("*")]:
            stat = (source / path.relative_to(target)).lstat()
            os.lchown(path, stat.st_uid, stat.st_gid)


def _sizes(data_dir: Path) -> dict[str, int]:
    """Return every file's size by its path relative to ``data_dir``."""
    sizes = {}
    root = str(data_dir)
    for folder, _dirs, files in os.walk(root):
        prefix = folder[len(root) + 1 :]
        for name in files:
            relative = f"{prefix}/{name}" if prefix else name
            sizes[relative] = os.lstat(f"{folder}/{name}").st_size
    return sizes


def _read_manifest(entry: Path, key: str) -> dict[str, dict[str, int]] | None:
    try:
        manifest = json.loads((entry / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return None
    files = manifest.get("files")
    if not isinstance(files, dict) or not {"PG_VERSION", "global/pg_control"} <= files.keys():
        return None
    return {"files": files}
