"""The bookshop's own database tests, run by `pytest --dbverify` beside the built-in checks."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest

from pytest_dbverify.catalog import Catalog
from pytest_dbverify.rows import RowFactory


@pytest.mark.dbverify(objects=["books.price"])
def test_format_price_prints_what_was_stored(
    dbverify_catalog: Catalog,
    dbverify_conn: psycopg.Connection,
    dbverify_examples: Callable[[Callable[[RowFactory], None]], None],
) -> None:
    """Property: for any stored book, format_price(price) gives its cents and currency back."""
    books = dbverify_catalog.table("public.books")

    def example(rows: RowFactory) -> None:
        book = rows.insert(books)
        row = dbverify_conn.execute(
            "SELECT (price).cents, (price).currency, format_price(price) FROM books "
            "WHERE isbn = %s",
            [book["isbn"]],
        ).fetchone()
        assert row is not None
        cents, currency, printed = row
        amount, printed_currency = printed.split(" ")
        assert Decimal(amount) * 100 == cents
        assert printed_currency == currency

    dbverify_examples(example)


@pytest.mark.dbverify(objects=["books.books_author_id_idx"])
def test_books_of_an_author_are_found_through_the_index(dbverify_conn: psycopg.Connection) -> None:
    """The shop's author page query can use books_author_id_idx."""
    dbverify_conn.execute("SET LOCAL enable_seqscan = off")
    plan = dbverify_conn.execute(
        "EXPLAIN SELECT isbn FROM books WHERE author_id = 42 ORDER BY title"
    ).fetchall()
    assert "books_author_id_idx" in " ".join(line for (line,) in plan)


def test_a_plain_unit_test_runs_without_a_database() -> None:
    """Tests not marked dbverify run as usual without --dbverify (and not under it)."""
    assert Decimal("12.50") * 100 == 1250
