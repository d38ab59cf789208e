"""Passwords never survive redaction, whatever form they arrive in."""

from __future__ import annotations

import pytest

from pytest_dbverify.redact import redact_conninfo, redact_text, secrets_in


@pytest.mark.parametrize(
    ("conninfo", "expected"),
    [
        ("postgres://app:s3cret@db:5432/prod", "postgres://app:***@db:5432/prod"),
        ("postgresql://app:s3cret@db/prod?sslmode=require", "postgresql://app:***@db/prod?sslmode=require"),
        ("postgres://app:p%40ss@db/prod", "postgres://app:***@db/prod"),
        ("postgres://app:p@ss@db/prod", "postgres://app:***@db/prod"),
        ("postgres://app@db/prod?password=s3cret&sslmode=verify-full", "postgres://app@db/prod?password=***&sslmode=verify-full"),
        ("host=db user=app password=s3cret dbname=db", "host=db user=app password=*** dbname=db"),
        ("host=db password='it\\'s a secret' dbname=prod", "host=db password=*** dbname=prod"),
        ("host=db password = s3cret", "host=db password = ***"),
        ("postgres://app@db:5432/prod", "postgres://app@db:5432/prod"),
        ("postgres://db:5432/prod", "postgres://db:5432/prod"),
    ],
    ids=[
        "url", "url-with-params", "percent-encoded", "raw-at-sign", "query-param",
        "conninfo", "conninfo-quoted", "conninfo-spaces", "no-password", "no-userinfo",
    ],
)  # fmt: skip
def test_redact_conninfo_masks_the_password(conninfo: str, expected: str) -> None:
    assert redact_conninfo(conninfo) == expected


def test_known_secret_is_masked_in_free_text() -> None:
    url = "postgres://app:hunter2xyz@db/prod"
    message = 'connection failed: FATAL: role "app" with password "hunter2xyz" rejected'
    assert "hunter2xyz" not in redact_text(message, secrets_in(url))


def test_percent_decoded_secret_is_masked_too() -> None:
    secrets = secrets_in("postgres://app:p%40ssw0rd@db/prod")
    assert redact_text("echo p@ssw0rd", secrets) == "echo ***"


def test_pgpassword_is_always_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-env")
    assert redact_text("dbmate said from-the-env") == "dbmate said ***"


def test_urls_inside_text_are_masked() -> None:
    text = 'Error: parse "postgres://u:topsecret@h:bad/db": invalid port'
    assert "topsecret" not in redact_text(text)
