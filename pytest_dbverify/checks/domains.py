"""Every CHECK of a domain rejects a value that violates it (23514).

Read-only: a value is cast to the domain (``SELECT 'x'::email``), which applies the
domain's constraints without writing anything, so this runs in read-only mode too. The
violating values are derived from the expression (on ``VALUE``) as for a table's CHECK,
and the expected database confirms that each violates the migrations' domain before the
target is asked to reject it. A domain whose CHECK was dropped or weakened on the target
accepts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from pytest_dbverify.catalog import ColumnType, Domain
from pytest_dbverify.run import VerificationRun, get_run

if TYPE_CHECKING:
    from pytest_dbverify.batch import Answer

pytestmark = pytest.mark.dbverify

CHECK_VIOLATION = "23514"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per CHECK constraint of a domain of the expected schema."""
    if "domain_check" not in metafunc.fixturenames:
        return
    catalog = get_run(metafunc.config).expected_catalog()
    pairs = [(domain, check) for domain in catalog.domains for check in domain.checks]
    metafunc.parametrize("domain_check", pairs, ids=[f"{d.name}.{_name_of(c)}" for d, c in pairs])


def test_domain_check_enforced(
    domain_check: tuple[Domain, str], dbverify_run: VerificationRun
) -> None:
    """A value violating the domain's CHECK cannot be cast to the domain."""
    from pytest_dbverify.batch import run_all
    from pytest_dbverify.check_expressions import DOMAIN_VALUE, ParseError, violations
    from pytest_dbverify.plans import sql_value

    domain, check = domain_check
    name, expression = _name_of(check), _expression_of(check)
    ctype = _column_type(dbverify_run, domain)
    candidates: list[object] = []
    if ctype is not None:
        try:
            derived = violations(expression, {DOMAIN_VALUE: ctype})
        except ParseError:
            derived = []
        candidates += [v[DOMAIN_VALUE] for v in derived]
    oracle = dbverify_run.oracle()
    if oracle is not None:  # it tells which of some everyday values break the CHECK
        candidates += [p for p in _probes(ctype, domain.base) if p not in candidates]
    casts = [_cast(sql_value(value, domain.base), domain) for value in candidates]
    if oracle is not None and casts:
        # Kept: what the migrations' domain refuses by this very constraint.
        confirmed = run_all(oracle, *casts)
        kept = [
            (v, c) for v, c, a in zip(candidates, casts, confirmed, strict=True)
            if _refused(a) and a.error is not None and a.error.diag.constraint_name == name
        ]  # fmt: skip
    else:
        kept = list(zip(candidates, casts, strict=True))
    if not kept:
        pytest.skip(
            f"domain {domain.name}: no value violating CHECK {name} {expression} could be "
            "derived from its expression or found among everyday values of its type; "
            "nothing to cast"
        )
    with dbverify_run.checks_connection() as conn:
        answers = run_all(conn, *(cast for _, cast in kept))
    for (value, _), answer in zip(kept, answers, strict=True):
        if answer.error is not None and not _refused(answer):
            raise answer.error
        assert _refused(answer), (
            f"CHECK {name} of domain {domain.name} is not enforced: {value!r} was cast to "
            f"{domain.name} (it violates {expression}); expected 23514"
        )


# Everyday values by type category, tried when none can be derived from the expression
# (a regular expression, a function): the expected database says which violate.
_PROBES: dict[str, tuple[object, ...]] = {
    "S": ("", " ", "x", "X", "0", "-", "@", "a b", "a@b", "a@b.c", "x" * 300),
    "N": (0, -1, 1, 100, 1000, 1001, -2147483647, 2147483647),
    "B": (True, False),
}


_CATEGORY_OF_BASE = (("character", "S"), ("text", "S"), ("citext", "S"), ("integer", "N"),
                     ("smallint", "N"), ("bigint", "N"), ("numeric", "N"), ("real", "N"),
                     ("double precision", "N"), ("boolean", "B"))  # fmt: skip


def _probes(ctype: ColumnType | None, base: str) -> tuple[object, ...]:
    """Return everyday values of the domain's type (from a column of it, else its base)."""
    if ctype is not None:
        category, is_array = ctype.category, ctype.is_array
    else:
        is_array = base.endswith("[]")
        category = next((c for prefix, c in _CATEGORY_OF_BASE if base.startswith(prefix)), "")
    element = _PROBES.get(category, ())
    if is_array:
        return ([], list(element[:1]), list(element[:1]) * 11)
    return element


def _cast(value: sql.Composable, domain: Domain) -> sql.Composable:
    schema, _, name = domain.name.partition(".")
    return sql.SQL("SELECT CAST({} AS {})").format(value, sql.Identifier(schema, name))


def _refused(answer: Answer) -> bool:
    return isinstance(answer.error, psycopg.errors.CheckViolation)


def _name_of(check: str) -> str:
    """Return the constraint's name from ``name CHECK (...)``."""
    return check.partition(" CHECK ")[0]


def _expression_of(check: str) -> str:
    """Return the CHECK's expression from ``name CHECK (...) [NOT VALID]``."""
    rule = check.partition(" CHECK ")[2]
    return rule.removesuffix(" NOT VALID")


def _column_type(run: VerificationRun, domain: Domain) -> ColumnType | None:
    """Return the type of a column that uses the domain (its base type's facts), if any.

    A column of a domain over this one will do: its base type is this one's.
    """
    catalog = run.expected_catalog()
    bare = domain.name.partition(".")[2]  # format_type leaves out a visible schema
    over = {domain.name} | {d.name for d in catalog.domains if d.base in (domain.name, bare)}
    for table in catalog.tables:
        for column in table.columns:
            if column.type.domain in over:
                return column.type
    return None
