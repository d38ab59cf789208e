"""Strategies for the bookshop's own types and columns, registered before any test draws.

``register_type`` covers every column of a type the plugin has no strategy for (here the
composite ``money_amount``); ``register_column`` pins one column, for instance a key whose
every draw must meet its CHECK.
"""

from __future__ import annotations

from hypothesis import strategies as st

from pytest_dbverify import strategies

# money_amount is a composite type: PostgreSQL reads the text literal '(1250,EUR)'.
CURRENCIES = ("EUR", "GBP", "USD")
PRICES = st.builds(
    lambda cents, currency: f"({cents},{currency})",
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(CURRENCIES),
)
strategies.register_type("public.money_amount", PRICES)

# The same pattern as the books_isbn_check CHECK.
strategies.register_column("public.books.isbn", st.from_regex(r"97[89][0-9]{10}", fullmatch=True))
