"""Managed-database realism: roles that are not superusers, read-only targets, TLS, few slots.

On a managed host the verifier connects as the role that owns the schema (never a
superuser), or as a SELECT-only role in read-only mode; the server may be a read-only
replica; TLS is required, with the provider's CA; connection slots are scarce.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pytest_dbverify.embedded import ThrowawayServer, server_account
from tests.production import (
    SECRET,
    Run,
    admin,
    create_learning_db,
    password_server,
    project_dir,
    run_dbverify,
    url,
)

pytestmark = pytest.mark.slow

WRITES = "test_crud*,test_fk_enforced*,test_unique_enforced*,test_not_null_enforced*"
READS = "test_server_*,test_session_*,test_*migration*,test_table_*,test_index_*"
SSL_CHECK = """
import pytest

@pytest.mark.dbverify
def test_my_connection_is_encrypted(dbverify_conn):
    row = dbverify_conn.execute(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row == (True,)
"""


@pytest.fixture(scope="module")
def managed() -> Iterator[ThrowawayServer]:
    """A server with TLS on; ``app`` (not a superuser) owns the migrated ``learning``.

    The system PostgreSQL: the embedded wheel is built without TLS support.
    """
    with password_server(kind="system") as server:
        info = server.info
        create_learning_db(info, "learning")
        with admin(info) as conn:
            conn.execute(f"CREATE ROLE viewer LOGIN PASSWORD '{SECRET}'")
        with admin(info, "learning") as conn:
            conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO viewer")
        create_learning_db(info, "replica")
        with admin(info) as conn:
            # What a hot standby answers to every write: 25006 read_only_sql_transaction.
            conn.execute("ALTER DATABASE replica SET default_transaction_read_only = on")
        assert server.run_dir is not None
        _enable_tls(server, server.run_dir / "data")
        yield server


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """Make a self-signed certificate (its own CA) for 127.0.0.1 with the openssl CLI."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _enable_tls(server: ThrowawayServer, data_dir: Path) -> None:
    cert, key = make_cert(data_dir, "server")
    account = server_account()
    for path in (cert, key):
        path.chmod(0o600)
        if account is not None:
            os.chown(path, account.uid, account.gid)
    with admin(server.info) as conn:
        conn.execute("ALTER SYSTEM SET ssl = on")
        conn.execute("SELECT pg_reload_conf()")
    with psycopg.connect(url(server.info, "learning").replace("disable", "require")) as conn:
        assert conn.pgconn.ssl_in_use


def verify(project: Path, target: str, *args: str) -> Run:
    return run_dbverify(project, [f"--dbverify-url={target}", "--dbverify-examples=2", *args])


def test_the_schema_owner_verifies_everything_without_superuser(
    managed: ThrowawayServer, tmp_path: Path
) -> None:
    with admin(managed.info) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'app'").fetchone()
    assert row == (False,)
    run = verify(project_dir(tmp_path), url(managed.info, "learning"),
                 f"--dbverify-include={READS},{WRITES}")  # fmt: skip
    assert run.ret == 0, run.output
    assert run.has_line("checks:  * (* passed) in *s"), run.output  # nothing skipped


def test_a_select_only_role_verifies_in_read_only_mode(
    managed: ThrowawayServer, tmp_path: Path
) -> None:
    target = url(managed.info, "learning", user="viewer")
    run = verify(project_dir(tmp_path), target, "--dbverify-read-only", "-rs",
                 f"--dbverify-include={READS},{WRITES}")  # fmt: skip
    assert run.ret == 0, run.output
    assert run.has_line(
        "SKIPPED [*] *: read-only mode: this check inserts rows (always rolled back)"
    )
    assert run.has_line("checks:  * (* passed, * skipped) in *s"), run.output


def test_a_read_only_target_runs_the_read_checks_and_skips_the_writes_saying_why(
    managed: ThrowawayServer, tmp_path: Path
) -> None:
    run = verify(project_dir(tmp_path), url(managed.info, "replica"), "-rs",
                 f"--dbverify-include={READS},{WRITES}")  # fmt: skip
    assert run.ret == 0, run.output
    assert run.has_line(
        "SKIPPED [*] *: CRUD on public.content: the target is read-only (25006): write checks "
        "skipped"
    ), run.output
    assert run.has_line("checks:  * (* passed, * skipped) in *s"), run.output


@pytest.mark.parametrize("sslmode", ["require", "verify-full"])
def test_tls_with_a_certificate_made_here(
    managed: ThrowawayServer, tmp_path: Path, sslmode: str
) -> None:
    assert managed.run_dir is not None
    ca = managed.run_dir / "data" / "server.crt"
    query = f"sslmode={sslmode}" + (f"&sslrootcert={ca}" if sslmode == "verify-full" else "")
    project = project_dir(tmp_path)
    (project / "test_ssl.py").write_text(SSL_CHECK)
    run = verify(project, url(managed.info, "learning", query=query),
                 f"--dbverify-include={READS},test_my_*")  # fmt: skip
    assert run.ret == 0, run.output
    assert 'name="test_my_connection_is_encrypted"' in run.junit  # ran, and (ret 0) passed


def test_tls_with_the_wrong_ca_fails_at_once_saying_so(
    managed: ThrowawayServer, tmp_path: Path
) -> None:
    other_ca, _ = make_cert(tmp_path, "other")
    query = f"sslmode=verify-full&sslrootcert={other_ca}"
    run = verify(
        project_dir(tmp_path / "p"),  # the target is reached first: no throwaway server
        url(managed.info, "learning", query=query),
        "--dbverify-include=test_server_*",
    )
    assert run.ret == 1, run.output
    assert run.has_line(
        "cannot connect to postgresql://app:***@127.0.0.1:*/learning?sslmode=verify-full"
        "&sslrootcert=* (command line): SSL error: certificate verify failed; check sslmode / "
        "sslrootcert in the URL against what the server offers"
    ), run.output
    assert run.seconds < 15  # no retry: waiting does not fix a certificate


def test_few_connection_slots_left_the_pool_makes_do_and_says_so(tmp_path: Path) -> None:
    settings = {"max_connections": "8", "superuser_reserved_connections": "3"}
    with password_server(settings) as server:
        info = server.info
        create_learning_db(info, "learning")
        # 5 slots for ordinary roles; the application holds 4 of them.
        held = [psycopg.connect(url(info, "learning")) for _ in range(4)]
        try:
            run = verify(project_dir(tmp_path), url(info, "learning"),
                         f"--dbverify-include={READS}", "--dbverify-connect-timeout=5")  # fmt: skip
        finally:
            for conn in held:
                conn.close()
    assert run.ret == 0, run.output
    assert run.has_line(
        "pool:    got 1 of 2 connections (max_connections nearly used up); checks ran within them"
    ), run.output
    assert run.seconds < 60
