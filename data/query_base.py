"""What every dashboard query shares: the sidebar filters, their SQL, and masking."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import pandas as pd

from data.pii import mask_pii, mask_series
from data.settings import settings


@dataclass(frozen=True)
class Filters:
    """Sidebar filters shared by every page. Empty tuples mean "all"."""

    date_from: date | None = None
    date_to: date | None = None
    products: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    batches: tuple[str, ...] = ()
    use_reviews: bool = True
    extra: tuple[tuple[str, str], ...] = field(default=())

    def previous_period(self) -> Filters | None:
        """The same-length period just before this one (for KPI deltas)."""
        if not (self.date_from and self.date_to):
            return None
        days = (self.date_to - self.date_from).days + 1
        return replace(
            self,
            date_from=self.date_from - timedelta(days=days),
            date_to=self.date_from - timedelta(days=1),
        )


def where_clause(f: Filters, alias: str = "r", date_col: str = "submitted_at") -> tuple[str, list]:
    clauses, params = ["TRUE"], []
    # submitted_at holds local dates; started_at is an instant, so its days are display days
    tz = settings().display_tz if date_col == "started_at" else None
    if f.date_from:
        clauses.append(f"{alias}.{date_col} >= ?")
        params.append(pd.Timestamp(f.date_from, tz=tz))
    if f.date_to:
        clauses.append(f"{alias}.{date_col} < ?")
        params.append(pd.Timestamp(f.date_to, tz=tz) + pd.Timedelta(days=1))
    for col, values in (
        ("product", f.products),
        ("region", f.regions),
        ("channel", f.channels),
        ("overdue_bucket", f.buckets),
        ("batch_id", f.batches),
    ):
        if values:
            clauses.append(f"{alias}.{col} IN (SELECT UNNEST(?::VARCHAR[]))")
            params.append(list(values))
    return " AND ".join(clauses), params


def call_filters(f: Filters) -> Filters:
    return replace(f, regions=(), channels=())


def masked(df: pd.DataFrame, column: str = "text") -> pd.DataFrame:
    """``df`` with personal data in ``column`` masked (the read path for display and export)."""
    if not df.empty and column in df.columns:
        df[column] = mask_series(df[column])
    return df


def masked_evidence(value):
    """Call evidence JSON with the quoted spans and explanations masked."""
    import json

    if not isinstance(value, str) or not value:
        return value
    items = json.loads(value)
    for e in items if isinstance(items, list) else []:
        for key in ("span", "explanation"):
            if isinstance(e.get(key), str):
                e[key] = mask_pii(e[key])
    return json.dumps(items, ensure_ascii=False)
