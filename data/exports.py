"""Exports that open cleanly in Excel, cannot smuggle formulas, and carry no personal data.

Text cells are masked with ``data.pii.mask_pii`` (a second line of defence: the query results
the pages export are masked already).
"""

from __future__ import annotations

import io

import pandas as pd

from data.ingest import neutralise_formula
from data.pii import mask_series
from data.settings import to_display_time


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Personal data in text cells masked; text starting with = + - @ gets a leading quote;
    times in the display time zone (``BV_DISPLAY_TZ``)."""
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = to_display_time(out[col])
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = mask_series(out[col]).map(neutralise_formula)
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 with BOM so Excel shows Chinese correctly."""
    return safe_frame(df).to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(df: pd.DataFrame) -> bytes:
    """An Excel sheet; times as display-time-zone wall clock (Excel has no time zones)."""
    buf = io.BytesIO()
    frame = safe_frame(df)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            frame[col] = frame[col].dt.tz_localize(None)
    frame.to_excel(buf, index=False, engine="openpyxl")
    return buf.getvalue()
