"""Paging for tables that show part of a longer result: the rows of one page and the true
total, so a table never says 共 300 条 because its query stopped at 300 rows."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from data.store import Store

PAGE_SIZE = 50


@dataclass(frozen=True, eq=False)
class Page:
    """One page of a longer result: at most ``limit`` rows from ``offset`` (0-based), and the
    true number of matching rows, however many pages there are.

    Example:
        ``complaint_page(store, f, offset=50)`` -> ``Page(rows=<50 rows>, total=1420, offset=50,
        limit=50)``: 「共 1,420 条，第 51–100 条」.
    """

    rows: pd.DataFrame
    total: int
    offset: int = 0
    limit: int = PAGE_SIZE

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return self.offset + 1 if len(self.rows) else 0

    @property
    def last(self) -> int:
        """1-based position of the last row shown (0 when there is none)."""
        return self.offset + len(self.rows)

    @property
    def pages(self) -> int:
        """How many pages of ``limit`` rows the total makes (at least 1)."""
        return max(1, -(-self.total // max(self.limit, 1)))

    @property
    def number(self) -> int:
        """1-based number of this page."""
        return self.offset // max(self.limit, 1) + 1


def paged(
    store: Store, sql: str, params: list, order_by: str, offset: int = 0, limit: int = PAGE_SIZE
) -> Page:
    """Rows ``offset`` to ``offset + limit`` of ``sql`` in ``order_by`` order, and its total.

    An offset past the end moves back to the last page (filters that shrink the result never
    leave an empty page behind a non-empty one).
    """
    limit = max(1, int(limit))
    total = int(store.scalar(f"SELECT count(*) FROM ({sql})", params) or 0)
    last_start = (max(total, 1) - 1) // limit * limit
    offset = min(max(0, int(offset)), last_start)
    rows = store.query(
        f"SELECT * FROM ({sql}) ORDER BY {order_by} LIMIT {limit} OFFSET {offset}", params
    )
    return Page(rows, total, offset, limit)


def first_rows(store: Store, sql: str, params: list, order_by: str, limit: int) -> pd.DataFrame:
    """The first ``limit`` rows of ``sql`` in ``order_by`` order (no total)."""
    return store.query(f"SELECT * FROM ({sql}) ORDER BY {order_by} LIMIT {int(limit)}", params)
