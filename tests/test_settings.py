"""Settings resolve once: command line > ini > environment > default, for every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dbverify.settings import OPTIONS, Option, resolve
from pytest_dbverify.target import read_dotenv, resolve_target

# Three distinct valid raw values per setting (command line, ini, environment) and the
# parsed value each must give.
SAMPLES: dict[str, list[tuple[str, object]]] = {
    "url": [("postgres://cli/db", "postgres://cli/db"), ("postgres://ini/db", "postgres://ini/db"),
            ("postgres://env/db", "postgres://env/db")],
    "expected_url": [("postgres://c/e", "postgres://c/e"), ("postgres://i/e", "postgres://i/e"),
                     ("postgres://e/e", "postgres://e/e")],
    "expect": [("target", "target"), ("migrations", "migrations"), ("TARGET", "target")],
    "migrations_dir": [("/m/cli", Path("/m/cli")), ("/m/ini", Path("/m/ini")),
                       ("/m/env", Path("/m/env"))],
    "migrations_table": [("cli_t", "cli_t"), ("ini_t", "ini_t"), ("env_t", "env_t")],
    "setup": [("/s/cli.sql", Path("/s/cli.sql")), ("/s/ini.sql", Path("/s/ini.sql")),
              ("/s/env.sql", Path("/s/env.sql"))],
    "schemas": [("a,b", ("a", "b")), ("c", ("c",)), ("d, e", ("d", "e"))],
    "exclude_tables": [("t1", ("t1",)), ("t2", ("t2",)), ("t3,t4", ("t3", "t4"))],
    "connect_timeout": [("1.5", 1.5), ("2", 2.0), ("3", 3.0)],
    "lock_timeout": [("0.5", 0.5), ("4", 4.0), ("5", 5.0)],
    "statement_timeout": [("6", 6.0), ("7", 7.0), ("8", 8.0)],
    "read_only": [("true", True), ("true", True), ("yes", True)],
    "include": [("test_a*", ("test_a*",)), ("test_b*", ("test_b*",)), ("test_c*", ("test_c*",))],
    "exclude": [("test_x*", ("test_x*",)), ("test_y*", ("test_y*",)), ("test_z*", ("test_z*",))],
    "examples": [("3", 3), ("4", 4), ("5", 5)],
    "check_budget": [("5", 5.0), ("20", 20.0), ("0.5", 0.5)],
    "server": [("system", "system"), ("embedded", "embedded"), ("SYSTEM", "system")],
    "advisories": [("warn", "warn"), ("fail", "fail"), ("WARN", "warn")],
    "ledger": [("/l/cli.sum", Path("/l/cli.sum")), ("/l/ini.sum", Path("/l/ini.sum")),
               ("/l/env.sum", Path("/l/env.sum"))],
    "round_trip": [("false", False), ("false", False), ("no", False)],
    "lint_exclude": [("a-rule", ("a-rule",)), ("b-rule", ("b-rule",)), ("c,d", ("c", "d"))],
    "data_scan": [("true", True), ("true", True), ("on", True)],
    "report": [("c.json", Path("c.json")), ("i.json", Path("i.json")), ("e.json", Path("e.json"))],
}  # fmt: skip


def test_every_setting_has_samples() -> None:
    assert set(SAMPLES) == {option.name for option in OPTIONS}


def cli_args(option: Option, raw: str) -> list[str]:
    return [option.flag] if option.is_flag else [f"{option.flag}={raw}"]


def ini_text(option: Option, raw: str) -> str:
    if option.ini_type == "linelist":
        raw = "\n    ".join(raw.split(","))
    return f"[pytest]\n{option.ini} =\n    {raw}\n"


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_precedence_cli_over_ini_over_env_over_default(
    pytester: pytest.Pytester, option: Option
) -> None:
    (cli_raw, cli_value), (ini_raw, ini_value), (env_raw, env_value) = SAMPLES[option.name]
    env = {option.env: env_raw}
    pytester.makeini(ini_text(option, ini_raw))
    both = resolve(pytester.parseconfig(*cli_args(option, cli_raw)), environ=env)
    assert (getattr(both, option.name), both.sources[option.name]) == (cli_value, "command line")
    no_cli = resolve(pytester.parseconfig(), environ=env)
    assert getattr(no_cli, option.name) == ini_value
    assert no_cli.sources[option.name] == f"ini {option.ini}"
    pytester.makeini("[pytest]\n")
    env_only = resolve(pytester.parseconfig(), environ=env)
    assert getattr(env_only, option.name) == env_value
    assert env_only.sources[option.name] == f"env {option.env}"
    default = resolve(pytester.parseconfig(), environ={})
    expected_default = option.default
    if option.name == "migrations_dir":
        expected_default = pytester.path / option.default
    assert (getattr(default, option.name), default.sources[option.name]) == (
        expected_default,
        "default",
    )


def test_a_bad_ini_number_names_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndbverify_lock_timeout = soon\n")
    with pytest.raises(pytest.UsageError) as failure:
        resolve(pytester.parseconfig(), environ={})
    assert str(failure.value) == (
        "ini dbverify_lock_timeout is not valid for lock timeout: expected seconds > 0"
    )


def test_an_explicit_false_in_ini_beats_true_in_the_environment(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndbverify_read_only = false\n")
    settings = resolve(pytester.parseconfig(), environ={"DBVERIFY_READ_ONLY": "true"})
    assert settings.read_only is False


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--dbverify-lock-timeout=soon"], {},
         "--dbverify-lock-timeout='soon' is not valid for lock timeout: expected seconds > 0"),
        (["--dbverify-statement-timeout=-1"], {},
         "--dbverify-statement-timeout='-1' is not valid for statement timeout: "
         "expected seconds > 0"),
        (["--dbverify-examples=0"], {},
         "--dbverify-examples='0' is not valid for examples: expected a whole number >= 1"),
        (["--dbverify-server=docker"], {},
         "--dbverify-server='docker' is not valid for server: expected embedded or system"),
        ([], {"DBVERIFY_READ_ONLY": "maybe"},
         "DBVERIFY_READ_ONLY='maybe' is not valid for read only: expected true or false"),
        ([], {"DBVERIFY_CONNECT_TIMEOUT": "inf"},
         "DBVERIFY_CONNECT_TIMEOUT='inf' is not valid for connect timeout: expected seconds > 0"),
    ],
    ids=["lock", "statement", "examples", "server", "read-only-env", "connect-inf"],
)  # fmt: skip
def test_bad_values_name_the_setting_and_what_it_accepts(
    pytester: pytest.Pytester, args: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(pytest.UsageError) as failure:
        resolve(pytester.parseconfig(*args), environ=env)
    assert str(failure.value) == message


def test_dotenv_reads_what_dbmate_reads(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# the app's settings\n\nexport DATABASE_URL='postgres://a@h/db'\n"
        'OTHER="quoted value"\nPLAIN=value # trailing comment\n'
    )
    assert read_dotenv(dotenv) == {
        "DATABASE_URL": "postgres://a@h/db",
        "OTHER": "quoted value",
        "PLAIN": "value",
    }


def test_a_bad_dotenv_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DATABASE_URL=postgres://a@h/db\nthis is not a setting\n")
    with pytest.raises(pytest.UsageError, match=r"\.env:2: not a KEY=value line"):
        read_dotenv(dotenv)


def test_the_environment_wins_over_dotenv(pytester: pytest.Pytester) -> None:
    (pytester.path / ".env").write_text("DATABASE_URL=postgres://from-dotenv/db\n")
    settings = resolve(pytester.parseconfig(), environ={})
    env = {"DATABASE_URL": "postgres://from-env/db"}
    target = resolve_target(settings, environ=env, cwd=pytester.path)
    assert target is not None
    assert (target.conninfo, target.source) == ("postgres://from-env/db", "env DATABASE_URL")
    target = resolve_target(settings, environ={}, cwd=pytester.path)
    assert target is not None
    assert target.conninfo == "postgres://from-dotenv/db"


def test_no_target_anywhere_means_a_throwaway_server(pytester: pytest.Pytester) -> None:
    settings = resolve(pytester.parseconfig(), environ={})
    assert resolve_target(settings, environ={"PGPASSWORD": "x"}, cwd=pytester.path) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:topsecret@h/db", "unsupported URL scheme 'mysql' in mysql://u:***@h/db"),
        ("postgres://u:topsecret@[::1/db", "not a valid connection string"),
        ("host=h password=topsecret port", "not a valid connection string"),
    ],
)
def test_malformed_targets_are_usage_errors_without_the_password(
    pytester: pytest.Pytester, url: str, message: str
) -> None:
    settings = resolve(pytester.parseconfig(f"--dbverify-url={url}"), environ={})
    with pytest.raises(pytest.UsageError) as failure:
        resolve_target(settings, environ={}, cwd=pytester.path)
    assert message in str(failure.value)
    assert "topsecret" not in str(failure.value)
