"""The SQL that brings a drifted object back to what the migrations create.

Pure functions over catalog objects: the expected object (from the migrations' own
catalog, as the server prints its definition) and the deployed one. Each returns the
statements a person would review and run on the target; none is ever run by the
verifier. Data-losing repairs (dropping what the migrations do not create) say so in a
comment first; lock-heavy ones use the online form (``CREATE INDEX CONCURRENTLY``,
``ADD CONSTRAINT ... NOT VALID`` then ``VALIDATE``).
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from pytest_dbverify import normalize
from pytest_dbverify.catalog import Column, Constraint, Domain, Index, Table, TableName, Trigger

_DATA_LOSS = "-- drops data: check that nothing needs it first\n"


def quote(*parts: str) -> str:
    """Return a quoted, dot-joined identifier: ``"public"."content"``."""
    return sql.Identifier(*parts).as_string(None)


def _table(name: TableName) -> str:
    return quote(name.schema, name.name)


def _literal(text: str) -> str:
    return sql.Literal(text).as_string(None)


# --- tables and columns -----------------------------------------------------------------


def create_table(table: Table) -> str:
    """Return CREATE TABLE with its columns, then its constraints, indexes and triggers."""
    columns = ",\n".join(f"    {_column_definition(c)}" for c in table.columns)
    statements = [f"CREATE TABLE {_table(table.name)} (\n{columns}\n)"]
    if table.partition_key:
        statements[0] += f" PARTITION BY {table.partition_key}"
    statements += [
        _add_constraint(table.name, c, validate_later=False)
        for c in table.constraints
        if c.kind != "not null"
    ]
    statements += [_create_index(i) for i in table.indexes if i.constraint is None]
    statements += [t.definition for t in table.triggers]
    if table.row_security:
        statements.append(f"ALTER TABLE {_table(table.name)} ENABLE ROW LEVEL SECURITY")
    return ";\n".join(statements) + ";"


def drop_table(table: Table) -> str:
    """Return DROP TABLE for a table the migrations do not create."""
    return f"{_DATA_LOSS}DROP TABLE {_table(table.name)};"


def table_facts(want: Table, have: Table) -> str:
    """Return the repair of a table's own facts (row level security; else recreate)."""
    statements = []
    name = _table(want.name)
    if want.row_security != have.row_security:
        verb = "ENABLE" if want.row_security else "DISABLE"
        statements.append(f"ALTER TABLE {name} {verb} ROW LEVEL SECURITY;")
    if (want.kind, want.partition_of, want.partition_bound, want.partition_key) != (
        have.kind,
        have.partition_of,
        have.partition_bound,
        have.partition_key,
    ) or want.has_rules != have.has_rules:
        statements.append(
            f"-- {name} differs in kind, partitioning or rules: no ALTER changes that; "
            "recreate it as the migrations do and move its rows"
        )
    return "\n".join(statements)


def add_column(table: TableName, column: Column) -> str:
    """Return ADD COLUMN with the expected type, NOT NULL, default or generation."""
    return f"ALTER TABLE {_table(table)} ADD COLUMN {_column_definition(column)};"


def drop_column(table: TableName, column: Column) -> str:
    """Return DROP COLUMN for a column the migrations do not create."""
    return f"{_DATA_LOSS}ALTER TABLE {_table(table)} DROP COLUMN {quote(column.name)};"


def column_facts(table: TableName, want: Column, have: Column) -> str:
    """Return ALTER COLUMN statements that make ``have`` what ``want`` is."""
    alter = f"ALTER TABLE {_table(table)} ALTER COLUMN {quote(want.name)}"
    if want.generated != have.generated or (want.generated and want.default != have.default):
        return (
            f"{_DATA_LOSS}ALTER TABLE {_table(table)} DROP COLUMN {quote(want.name)};\n"
            f"{add_column(table, want)}"
        )
    statements = []
    if (want.type.sql, want.collation) != (have.type.sql, have.collation):
        collate = f" COLLATE {quote(want.collation)}" if want.collation else ""
        statements.append(
            f"{alter} TYPE {want.type.sql}{collate} USING {quote(want.name)}::{want.type.sql};"
        )
    if want.identity != have.identity:
        if not want.identity:
            statements.append(f"{alter} DROP IDENTITY;")
        elif not have.identity:
            statements.append(f"{alter} ADD GENERATED {want.identity.upper()} AS IDENTITY;")
        else:
            statements.append(f"{alter} SET GENERATED {want.identity.upper()};")
    if want.default != have.default and not want.identity:
        statements.append(
            f"{alter} SET DEFAULT {want.default};" if want.default else f"{alter} DROP DEFAULT;"
        )
    if want.not_null != have.not_null:
        statements.append(f"{alter} {'SET' if want.not_null else 'DROP'} NOT NULL;")
    return "\n".join(statements)


def _column_definition(column: Column) -> str:
    text = f"{quote(column.name)} {column.type.sql}"
    if column.collation:
        text += f" COLLATE {quote(column.collation)}"
    if column.generated:
        text += f" GENERATED ALWAYS AS ({column.default}) {column.generated.upper()}"
    elif column.identity:
        text += f" GENERATED {column.identity.upper()} AS IDENTITY"
    elif column.default is not None:
        text += f" DEFAULT {column.default}"
    if column.not_null and not column.identity:
        text += " NOT NULL"
    return text


# --- constraints ---------------------------------------------------------------------------


def add_constraint(table: TableName, constraint: Constraint) -> str:
    """Return ADD CONSTRAINT; a foreign key or CHECK as NOT VALID, then VALIDATE.

    VALIDATE takes a lock that lets reads and writes go on, where a plain ADD would hold
    ACCESS EXCLUSIVE for the whole scan of a busy table.
    """
    return _add_constraint(table, constraint, validate_later=True) + ";"


def _add_constraint(table: TableName, constraint: Constraint, *, validate_later: bool) -> str:
    head = f"ALTER TABLE {_table(table)} ADD CONSTRAINT {quote(constraint.name)}"
    definition = constraint.definition
    online = validate_later and constraint.kind in ("foreign key", "check")
    if online and constraint.validated and "NOT VALID" not in definition:
        return (
            f"{head} {definition} NOT VALID;\n"
            f"ALTER TABLE {_table(table)} VALIDATE CONSTRAINT {quote(constraint.name)}"
        )
    return f"{head} {definition}"


def drop_constraint(table: TableName, constraint: Constraint) -> str:
    """Return DROP CONSTRAINT for a constraint the migrations do not create."""
    return f"ALTER TABLE {_table(table)} DROP CONSTRAINT {quote(constraint.name)};"


def constraint_facts(table: TableName, want: Constraint, have: Constraint) -> str:
    """Return the repair of a constraint that exists on both sides but differs."""
    alter = f"ALTER TABLE {_table(table)}"
    rule_differs = normalize.constraint_definition(want.definition) != (
        normalize.constraint_definition(have.definition)
    )
    if rule_differs or want.nulls_not_distinct != have.nulls_not_distinct:
        return f"{drop_constraint(table, have)}\n{add_constraint(table, want)}"
    statements = []
    if want.name != have.name:
        statements.append(f"{alter} RENAME CONSTRAINT {quote(have.name)} TO {quote(want.name)};")
    if want.enforced != have.enforced:
        word = "ENFORCED" if want.enforced else "NOT ENFORCED"
        statements.append(f"{alter} ALTER CONSTRAINT {quote(want.name)} {word};")
    if (want.deferrable, want.initially_deferred) != (have.deferrable, have.initially_deferred):
        timing = "DEFERRABLE" if want.deferrable else "NOT DEFERRABLE"
        if want.deferrable:
            timing += " INITIALLY DEFERRED" if want.initially_deferred else " INITIALLY IMMEDIATE"
        if want.kind == "foreign key":
            statements.append(f"{alter} ALTER CONSTRAINT {quote(want.name)} {timing};")
        else:  # only foreign keys take ALTER CONSTRAINT ... DEFERRABLE
            return f"{drop_constraint(table, have)}\n{add_constraint(table, want)}"
    if want.validated and not have.validated:
        statements.append(f"{alter} VALIDATE CONSTRAINT {quote(want.name)};")
    elif have.validated and not want.validated:
        statements.append(
            f"-- {want.name} is validated on the target, NOT VALID in the migrations: "
            "stricter than expected, nothing to undo"
        )
    return "\n".join(statements)


# --- indexes and triggers ------------------------------------------------------------------


def create_index(index: Index) -> str:
    """Return the expected index's own definition, built CONCURRENTLY (no write lock)."""
    return _create_index(index, concurrently=True) + ";"


def _create_index(index: Index, *, concurrently: bool = False) -> str:
    if not concurrently:
        return index.definition
    return index.definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)


def drop_index(schema: str, index: Index) -> str:
    """Return DROP INDEX CONCURRENTLY for an index the migrations do not create."""
    return f"DROP INDEX CONCURRENTLY {quote(schema, index.name)};"


def index_facts(schema: str, want: Index, have: Index) -> str:
    """Return the repair of an index that exists on both sides but differs."""
    statements = []
    if _without_name(want) != _without_name(have):
        return f"{drop_index(schema, have)}\n{create_index(want)}"
    if want.name != have.name:
        statements.append(f"ALTER INDEX {quote(schema, have.name)} RENAME TO {quote(want.name)};")
    if (want.valid, want.ready) != (have.valid, have.ready):
        statements.append(f"REINDEX INDEX CONCURRENTLY {quote(schema, want.name)};")
    return "\n".join(statements)


def _without_name(index: Index) -> str:
    return normalize.index_definition(index.definition)


def create_trigger(trigger: Trigger) -> str:
    """Return the expected trigger's definition, as the server prints it."""
    return trigger.definition + ";"


def drop_trigger(table: TableName, trigger: Trigger) -> str:
    """Return DROP TRIGGER for a trigger the migrations do not create."""
    return f"DROP TRIGGER {quote(trigger.name)} ON {_table(table)};"


def trigger_facts(table: TableName, want: Trigger, have: Trigger) -> str:
    """Return the repair of a trigger that exists on both sides but differs."""
    if normalize.trigger_definition(want.definition) != normalize.trigger_definition(
        have.definition
    ):
        return f"{drop_trigger(table, have)}\n{create_trigger(want)}"
    verb = "ENABLE" if want.enabled else "DISABLE"
    return f"ALTER TABLE {_table(table)} {verb} TRIGGER {quote(want.name)};"


# --- schema-wide objects ---------------------------------------------------------------------


def enum_repair(name: str, want: Sequence[str] | None, have: Sequence[str] | None) -> str:
    """Return CREATE TYPE, ADD VALUE for missing labels, or what no ALTER can do."""
    qualified = quote(*name.split(".", 1))
    if want is None:
        return f"DROP TYPE {qualified};"  # refused while a column uses it
    labels = ", ".join(_literal(label) for label in want)
    if have is None:
        return f"CREATE TYPE {qualified} AS ENUM ({labels});"
    statements = []
    for position, label in enumerate(want):
        if label not in have:
            after = f" AFTER {_literal(want[position - 1])}" if position else ""
            before = f" BEFORE {_literal(want[1])}" if not position and len(want) > 1 else ""
            statements.append(
                f"ALTER TYPE {qualified} ADD VALUE {_literal(label)}{after or before};"
            )
    extra = [label for label in have if label not in want]
    if extra or [x for x in have if x in want] != [x for x in want if x in have]:
        statements.append(
            f"-- labels cannot be removed or reordered in place: recreate {name} as "
            f"ENUM ({labels}) and convert its columns"
        )
    return "\n".join(statements)


def domain_repair(want: Domain | None, have: Domain | None) -> str:
    """Return CREATE DOMAIN, or ALTER DOMAIN for the facts that differ."""
    if want is None:
        assert have is not None
        return f"DROP DOMAIN {quote(*have.name.split('.', 1))};"
    qualified = quote(*want.name.split(".", 1))
    checks = "".join(f" CONSTRAINT {check}" for check in want.checks)
    if have is None or have.base != want.base:
        default = f" DEFAULT {want.default}" if want.default else ""
        create = (
            f"CREATE DOMAIN {qualified} AS {want.base}{default}"
            f"{' NOT NULL' if want.not_null else ''}{checks};"
        )
        return create if have is None else f"-- base type differs: recreate\n{create}"
    statements = []
    if want.not_null != have.not_null:
        statements.append(
            f"ALTER DOMAIN {qualified} {'SET' if want.not_null else 'DROP'} NOT NULL;"
        )
    if want.default != have.default:
        statements.append(
            f"ALTER DOMAIN {qualified} SET DEFAULT {want.default};"
            if want.default
            else f"ALTER DOMAIN {qualified} DROP DEFAULT;"
        )
    for check in have.checks:
        if check not in want.checks:
            statements.append(f"ALTER DOMAIN {qualified} DROP CONSTRAINT {check.split(' ', 1)[0]};")
    for check in want.checks:
        if check not in have.checks:
            statements.append(f"ALTER DOMAIN {qualified} ADD CONSTRAINT {check};")
    return "\n".join(statements)


def extension_repair(name: str, want_schema: str | None, have_schema: str | None) -> str:
    """Return CREATE, DROP or SET SCHEMA for an extension."""
    if want_schema is None:
        return f"DROP EXTENSION {quote(name)};"
    if have_schema is None:
        return f"CREATE EXTENSION IF NOT EXISTS {quote(name)} SCHEMA {quote(want_schema)};"
    return f"ALTER EXTENSION {quote(name)} SET SCHEMA {quote(want_schema)};"
