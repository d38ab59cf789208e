"""Passwords never survive redaction, whatever form they arrive in."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest

from pytest_dbverify.redact import redact_conninfo, redact_text, secrets_in
from pytest_dbverify.settings import Settings
from pytest_dbverify.target import Target, resolve_target


@pytest.mark.parametrize(
    ("conninfo", "expected"),
    [
        ("postgres://app:s3cret@db:5432/prod", "postgres://app:***@db:5432/prod"),
        ("postgresql://app:s3cret@db/prod?sslmode=require", "postgresql://app:***@db/prod?sslmode=require"),
        ("postgres://app:p%40ss@db/prod", "postgres://app:***@db/prod"),
        ("postgres://app:p@ss@db/prod", "postgres://***@db/prod"),
        ("postgres://app@db/prod?password=s3cret&sslmode=verify-full", "postgres://app@db/prod?password=***&sslmode=verify-full"),
        ("host=db user=app password=s3cret dbname=db", "host=db user=app password=*** dbname=db"),
        ("host=db password='it\\'s a secret' dbname=prod", "host=db password=*** dbname=prod"),
        ("host=db password = s3cret", "host=db password = ***"),
        ("postgres://app@db:5432/prod", "postgres://app@db:5432/prod"),
        ("postgres://db:5432/prod", "postgres://db:5432/prod"),
        # What a user types unencoded: libpq ends the user information at the first '@'
        # (never past a '/'), so all of it up to the last '@' is masked.
        ("postgres://shopper:p@ss#w0rd@127.0.0.1:5432/shop", "postgres://***@127.0.0.1:5432/shop"),
        ("postgres://shopper:p@ss?w0rd@127.0.0.1:5432/shop", "postgres://***@127.0.0.1:5432/shop"),
        ("postgres://shopper:p@ss/w0rd@127.0.0.1:5432/shop", "postgres://***@127.0.0.1:5432/shop"),
        ("postgres://app:pass/w0rd@db/prod?sslmode=disable", "postgres://***@db/prod?sslmode=disable"),
        ("postgres://app:50%off@db/prod", "postgres://***@db/prod"),
        ("postgres://admin@srv:s3cret@db/prod", "postgres://***@db/prod"),
        # libpq reads these as the user meant: only the password is masked.
        ("postgres://app:s3:cr#t@db/prod", "postgres://app:***@db/prod"),
        ("postgres://app:s3cr?t@db/prod", "postgres://app:***@db/prod"),
        ("postgres://app:s3cr#t@db/prod?application_name=ci@runner",
         "postgres://app:***@db/prod?application_name=ci@runner"),
        ("postgres://app@db/prod?sslmode=disable&Password=it's\"s3cret",
         "postgres://app@db/prod?sslmode=disable&Password=***"),
        ("postgres://app@db/prod?password=s3c&ret&sslmode=disable",
         "postgres://app@db/prod?password=***&sslmode=disable"),
        ("host=db password=s3\\ cr\\'et dbname=prod", "host=db password=*** dbname=prod"),
        ("host=db password=it's\"s3cret dbname=prod", "host=db password=*** dbname=prod"),
        ("host=db password=s3c&ret dbname=prod", "host=db password=*** dbname=prod"),
        ("host=db dbname=prod password='s3 cret", "host=db dbname=prod password=***"),
        ("host=db sslkey=k.pem sslpassword=k3ypass", "host=db sslkey=k.pem sslpassword=***"),
    ],
    ids=[
        "url", "url-with-params", "percent-encoded", "raw-at-sign", "query-param",
        "conninfo", "conninfo-quoted", "conninfo-spaces", "no-password", "no-userinfo",
        "unencoded-at-hash", "unencoded-at-question", "unencoded-at-slash", "unencoded-slash",
        "unencoded-percent", "at-in-user", "unencoded-colon-hash", "unencoded-question",
        "at-in-query", "query-param-any-case-quotes", "query-param-ampersand",
        "conninfo-escapes", "conninfo-bare-quotes", "conninfo-ampersand",
        "conninfo-unclosed-quote", "sslpassword",
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


# Each piece between two delimiters is distinctive: any of them in a text is a leak.
PIECES = ("Zq7", "Kx9", "Wm4")


@pytest.mark.parametrize(
    "url",
    [
        "postgres://shopper:Zq7@Kx9#Wm4@127.0.0.1:5432/shop",
        "postgres://shopper:Zq7@Kx9?Wm4@127.0.0.1:5432/shop",
        "postgres://shopper:Zq7@Kx9/Wm4@127.0.0.1:5432/shop",
        "postgres://shopper:Zq7/Kx9@Wm4@127.0.0.1:5432/shop",
        "postgres://shopper:Zq7/Kx9:Wm4@127.0.0.1:5432/shop",
        "postgres://shopper:Zq7%Kx9 Wm4@127.0.0.1:5432/shop",
        "postgres://shopper@127.0.0.1:5432/shop?password=Zq7&Kx9&Wm4",
        "postgres://shopper@127.0.0.1:5432/shop?password=Zq7 Kx9%Wm4",
    ],
    ids=["at-hash", "at-question", "at-slash", "slash-at", "slash-colon", "percent-space",
         "query-ampersand", "query-space-percent"],
)  # fmt: skip
def test_what_libpq_cuts_out_of_an_unencoded_password_is_masked(url: str) -> None:
    """libpq's own reading: the pieces it takes for host, port, database, or quotes back."""
    try:
        text = " ".join(f"{k}={v}" for k, v in psycopg.conninfo.conninfo_to_dict(url).items())
    except psycopg.ProgrammingError as err:
        text = str(err)
    assert any(piece in text for piece in PIECES[1:])  # libpq did cut the password
    texts = [redact_text(text, secrets_in(url)), redact_conninfo(url)]
    assert [piece for piece in PIECES for text in texts if piece in text] == []


@pytest.mark.parametrize(
    "url",
    [
        "postgres://shopper:p@ss#w0rd@127.0.0.1:5432/shop",
        "postgres://shopper:p@ss?w0rd@127.0.0.1:5432/shop",
        "postgres://shopper:p@ss/w0rd@127.0.0.1:5432/shop",
        "postgres://shopper:p%ss@127.0.0.1:5432/shop",
        "postgres://shopper:p ss@127.0.0.1:5432/shop",
    ],
    ids=["at-hash", "at-question", "at-slash", "percent", "space"],
)
def test_an_unencoded_password_is_refused_with_the_fix_and_none_of_it(url: str) -> None:
    with pytest.raises(pytest.UsageError) as refused:
        resolve_target(Settings.defaults(), environ={"DATABASE_URL": url})
    assert str(refused.value) == (
        "env DATABASE_URL: not a valid connection string: percent-encode the password in "
        "the URL (@ as %40, / as %2F, : as %3A, # as %23, ? as %3F, % as %25, a space as "
        "%20): postgres://***@127.0.0.1:5432/shop"
    )


def test_a_password_libpq_reads_unencoded_is_accepted_and_masked() -> None:
    url = "postgres://shopper:p:ss?w0#rd@127.0.0.1:5432/shop"
    assert psycopg.conninfo.conninfo_to_dict(url)["password"] == "p:ss?w0#rd"
    target = resolve_target(Settings.defaults(), environ={"DATABASE_URL": url})
    assert target is not None
    assert target.shown == "postgres://shopper:***@127.0.0.1:5432/shop"


@pytest.mark.parametrize(
    "conninfo",
    [
        "host=db password='it\\'s a \\\\ s3cret' dbname=prod",
        "host=db password=it\\'s\\ a\\ \\\\\\ s3cret dbname=prod",
        "host=db password=it's\"s3cret&x dbname=prod",
        "postgres://app@db/prod?sslmode=disable&password=it's%20a%20s3cret",
    ],
    ids=["quoted", "bare-escapes", "bare-quotes", "query-percent"],
)
def test_the_password_libpq_reads_from_a_conninfo_is_a_secret(conninfo: str) -> None:
    password = psycopg.conninfo.conninfo_to_dict(conninfo)["password"]
    assert password in secrets_in(conninfo)
    # as a user's test may print it, in its own words and as repr() shows it
    text = f"connected with {password} ({password!r})"
    quote = repr(password)[0]
    assert redact_text(text, secrets_in(conninfo)) == f"connected with *** ({quote}***{quote})"


def test_a_service_file_password_is_a_secret_of_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = tmp_path / "pg_service.conf"
    services.write_text(
        "# shop\n[other]\npassword=n0t-this-one\n\n[shop]\nhost=db\n"
        "password=Sv3@Nm6 Ce9\nsslpassword= k3y-pass \n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    for conninfo in ("service=shop", "postgresql:///?service=shop&sslmode=disable"):
        secrets = Target(conninfo, "test").secrets
        assert {"Sv3@Nm6 Ce9", "k3y-pass"} <= secrets
        assert "n0t-this-one" not in secrets
        assert Target(conninfo, "test").shown == conninfo
    monkeypatch.setenv("PGSERVICE", "shop")  # libpq's variable names it for a bare target
    assert "Sv3@Nm6 Ce9" in Target("", "libpq environment variables").secrets


def test_a_one_letter_pgpassword_leaves_the_text_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "a")
    assert redact_text("max_connections reached") == "max_connections reached"


@pytest.mark.parametrize("secret", ['it\'s "s3cret"', "back\\slash-s3cret", "tab\ts3cret"])
def test_a_secret_is_masked_as_repr_and_json_escape_it(secret: str) -> None:
    text = f"locals: pw = {secret!r}; json: {json.dumps({'p': secret})}"
    assert redact_text(text, {secret}) == """locals: pw = '***'; json: {"p": "***"}"""


def test_log_records_are_redacted_before_any_handler_formats_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pytest_dbverify.redact import redact_log_records

    logger = logging.getLogger("user")
    stop = redact_log_records(lambda: {"Pl4nted-pw"})
    try:
        logger.warning("connecting with %s to %s", "Pl4nted-pw", "postgres://u:0ther-pw@h/db")
        try:
            raise ValueError("rejected Pl4nted-pw")
        except ValueError:
            logger.exception("failed")
    finally:
        stop()
    logger.warning("after: Pl4nted-pw")  # stopped: records are made as before
    assert "Pl4nted-pw" not in caplog.text.split("after:")[0]
    assert "0ther-pw" not in caplog.text
    assert "connecting with *** to postgres://u:***@h/db" in caplog.text
    assert "ValueError: rejected ***" in caplog.text
    assert caplog.records[-1].getMessage() == "after: Pl4nted-pw"
