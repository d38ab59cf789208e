"""How catalog objects are named in test ids and in SQL.

Kept apart from :mod:`pytest_dbverify.rows` (which pulls in hypothesis) so that
collection, which names every item, imports nothing it does not need.
"""

from __future__ import annotations

from psycopg import sql

from pytest_dbverify.catalog import Constraint, Table, TableName


def short_name(table: TableName) -> str:
    """Return ``table`` as test ids show it: without the ``public.`` prefix."""
    return table.name if table.schema == "public" else str(table)


def fk_id(table: Table, fk: Constraint) -> str:
    """Return ``child.cols->parent.cols``, the id a CI log shows."""
    assert fk.ref_table is not None
    return (
        f"{short_name(table.name)}.{','.join(fk.columns)}->"
        f"{short_name(fk.ref_table)}.{','.join(fk.ref_columns)}"
    )


def quoted(table: TableName) -> sql.Identifier:
    """Return the table as a quoted, schema-qualified identifier."""
    return sql.Identifier(table.schema, table.name)
