"""The cache of initialized clusters: used when sound, rebuilt when not, safe to race."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import pytest

from pytest_dbverify.binaries import SERVER_KINDS, ServerKind, find_binaries
from pytest_dbverify.cluster_cache import ClusterCache, default_cache_dir
from pytest_dbverify.embedded import ThrowawayServer, server_account


@pytest.fixture(params=SERVER_KINDS)
def kind(request: pytest.FixtureRequest) -> ServerKind:
    return request.param  # type: ignore[no-any-return]


def entries(cache: ClusterCache) -> list[Path]:
    return sorted((cache.root / "clusters").iterdir())


def start_and_query(server: ThrowawayServer) -> int:
    """Start ``server``, check that it answers, stop it; return its major version."""
    with server, psycopg.connect(server.info.conninfo()) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def test_the_second_server_starts_from_the_cache_owned_by_the_server_account(
    kind: ServerKind, tmp_path: Path
) -> None:
    cache = ClusterCache(tmp_path / "cache")
    binaries = find_binaries(kind)
    first = ThrowawayServer(binaries, cache=cache)
    assert start_and_query(first) == binaries.major
    assert not first.from_cache
    [entry] = entries(cache)
    assert (entry / "data" / "PG_VERSION").read_text().strip() == str(binaries.major)

    second = ThrowawayServer(binaries, cache=cache)
    with second:
        assert second.from_cache
        assert second.run_dir is not None
        data = (second.run_dir / "data").stat()
        account = server_account()
        assert data.st_uid == (account.uid if account else os.geteuid())
        assert stat.S_IMODE(data.st_mode) == 0o700
        assert psutil.Process(second.pid).uids().real == data.st_uid
        with psycopg.connect(second.info.conninfo()) as conn:
            conn.execute("CREATE TABLE written_by_this_run (id int)")
    # What a run writes stays in its copy: the cache still holds a fresh cluster.
    third = ThrowawayServer(binaries, cache=cache)
    with third, psycopg.connect(third.info.conninfo()) as conn:
        assert third.from_cache
        assert conn.execute("SELECT to_regclass('written_by_this_run')").fetchone() == (None,)
    assert entries(cache) == [entry]


@pytest.mark.parametrize("damage", ["no manifest", "truncated file", "manifest of another key"])
def test_a_partial_or_damaged_entry_is_never_used_and_is_rebuilt(
    damage: str, tmp_path: Path
) -> None:
    cache = ClusterCache(tmp_path / "cache")
    binaries = find_binaries("embedded")
    start_and_query(ThrowawayServer(binaries, cache=cache))
    [entry] = entries(cache)
    manifest = entry / "manifest.json"
    if damage == "no manifest":  # what an interrupted build would leave, were it not staged
        manifest.unlink()
    elif damage == "truncated file":
        (entry / "data" / "global" / "pg_control").write_bytes(b"")
    else:
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "key": "other"}))

    rebuilt = ThrowawayServer(binaries, cache=cache)
    assert start_and_query(rebuilt) == binaries.major
    assert not rebuilt.from_cache  # initdb ran
    [entry] = entries(cache)
    again = ThrowawayServer(binaries, cache=cache)
    assert start_and_query(again) == binaries.major
    assert again.from_cache  # and the entry it stored is sound


def test_an_entry_the_server_cannot_start_from_is_replaced(tmp_path: Path) -> None:
    cache = ClusterCache(tmp_path / "cache")
    binaries = find_binaries("embedded")
    start_and_query(ThrowawayServer(binaries, cache=cache))
    [entry] = entries(cache)
    # Same size, so the manifest still matches: only starting the server finds it out.
    control = entry / "data" / "global" / "pg_control"
    control.write_bytes(b"\0" * control.stat().st_size)

    fallback = ThrowawayServer(binaries, cache=cache)
    assert start_and_query(fallback) == binaries.major
    assert not fallback.from_cache
    healed = ThrowawayServer(binaries, cache=cache)
    assert start_and_query(healed) == binaries.major
    assert healed.from_cache


def test_servers_racing_to_build_the_same_entry_all_start_and_leave_one_entry(
    tmp_path: Path,
) -> None:
    cache = ClusterCache(tmp_path / "cache")
    binaries = find_binaries("embedded")
    servers = [ThrowawayServer(binaries, cache=cache) for _ in range(4)]
    with ThreadPoolExecutor(len(servers)) as pool:
        majors = list(pool.map(start_and_query, servers))
    assert majors == [binaries.major] * len(servers)
    clusters = [path.name for path in (cache.root / "clusters").iterdir()]
    assert len(clusters) == 1, clusters  # no staging or trash left behind
    assert start_and_query(later := ThrowawayServer(binaries, cache=cache)) == binaries.major
    assert later.from_cache


def test_concurrent_stores_of_one_key_keep_exactly_one_complete_entry(tmp_path: Path) -> None:
    source = ThrowawayServer(find_binaries("embedded"), cache=ClusterCache(tmp_path / "first"))
    start_and_query(source)
    [made] = entries(ClusterCache(tmp_path / "first"))
    cache = ClusterCache(tmp_path / "cache")
    with ThreadPoolExecutor(6) as pool:
        stored = list(pool.map(lambda _: cache.store("k" * 32, made / "data", {}), range(6)))
    assert stored.count(True) == 1
    assert [path.name for path in entries(cache)] == ["k" * 32]
    restored = tmp_path / "restored"
    assert cache.restore("k" * 32, restored)
    assert (restored / "PG_VERSION").is_file()


def test_an_unwritable_cache_only_costs_an_initdb(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    server = ThrowawayServer(find_binaries("embedded"), cache=ClusterCache(blocked))
    assert start_and_query(server) == find_binaries("embedded").major
    assert not server.from_cache


def test_the_cache_directory_follows_the_variables(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBVERIFY_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("DBVERIFY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "pytest-dbverify"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "pytest-dbverify"
