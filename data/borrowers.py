"""One borrower across every contact: survey answers and calls joined by borrower id.

A contact's mood is a score in [-1, 1]: a survey answer's sentiment score, or the mean score of
the callee's turns in a call. :func:`mood_falling` says whether a borrower's recent contacts
show a decline that is more than noise.

Mood falling (the definition the 预警 page and the tests use): over the borrower's last
:data:`RECENT` contacts that have a mood (at least :data:`MIN_CONTACTS`), the least-squares
slope of mood against contact order is negative with a one-sided p-value below
:data:`P_VALUE`, and the fitted line falls by at least :data:`MIN_DROP` from the first of those
contacts to the last. The test guards against noise; the drop guards against a tiny but steady
drift that no one would call a fall.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.query_base import masked
from data.store import Store

RECENT = 6
MIN_CONTACTS = 3
P_VALUE = 0.10
MIN_DROP = 0.5


@dataclass(frozen=True)
class MoodTrend:
    """The mood-falling verdict and what it rests on."""

    falling: bool
    contacts: int
    slope: float | None = None
    p_value: float | None = None
    drop: float | None = None

    def describe(self) -> str:
        """One Chinese line for the page."""
        if self.contacts < MIN_CONTACTS or self.slope is None:
            return f"最近有情绪分的接触 {self.contacts} 次，不足 {MIN_CONTACTS} 次，无法判断趋势"
        verdict = "情绪持续走低" if self.falling else "未见显著下滑"
        return (
            f"{verdict}：最近 {self.contacts} 次接触，每次平均变化 {self.slope:+.2f}，"
            f"拟合降幅 {self.drop:.2f}，单侧 p = {self.p_value:.3f}"
        )


def mood_falling(moods: list[float]) -> MoodTrend:
    """Whether ``moods`` (oldest first) end in a statistically meaningful decline."""
    values = [float(m) for m in moods if m is not None and not math.isnan(float(m))][-RECENT:]
    n = len(values)
    if n < MIN_CONTACTS:
        return MoodTrend(False, n)
    x = np.arange(n, dtype=float)
    y = np.asarray(values)
    if np.ptp(y) == 0:
        return MoodTrend(False, n, 0.0, 1.0, 0.0)
    from scipy import stats

    fit = stats.linregress(x, y, alternative="less")
    slope = float(fit.slope)
    p_value = float(fit.pvalue) if not math.isnan(fit.pvalue) else (0.0 if slope < 0 else 1.0)
    drop = -slope * (n - 1)
    falling = slope < 0 and p_value < P_VALUE and drop >= MIN_DROP
    return MoodTrend(falling, n, slope, p_value, drop)


_CONTACTS = """
    SELECT 'survey' AS kind, r.response_id AS contact_id, r.submitted_at AS contact_at, r.text AS text,
           s.sentiment, s.sentiment_score AS mood, s.risk_flags, s.aspects,
           NULL::VARCHAR[] AS violations, NULL::BOOLEAN AS plan_offered,
           NULL::BOOLEAN AS promise_to_pay, NULL::VARCHAR AS outcome, r.product
    FROM responses r
    JOIN scores s ON s.target_kind = 'response' AND s.target_id = r.response_id
    WHERE r.borrower_id = ?
    UNION ALL
    SELECT 'call', c.call_id, c.started_at, NULL,
           a.borrower_sentiment_end,
           (SELECT avg(ts.sentiment_score) FROM turns t JOIN scores ts
              ON ts.target_kind = 'turn' AND ts.target_id = t.call_id || '#' || t.turn_index
            WHERE t.call_id = c.call_id AND t.speaker <> 'agent'),
           a.risk_flags, NULL, a.violations, a.agent_offered_plan, a.promise_to_pay, c.outcome,
           c.product
    FROM calls c LEFT JOIN call_analysis a USING (call_id)
    WHERE c.borrower_id = ?
"""


def timeline(store: Store, borrower_id: str, reveal: bool = False) -> pd.DataFrame:
    """Every contact of one borrower in time order (survey text masked unless ``reveal``).

    Columns: kind (survey/call), contact_id, contact_at, text, sentiment, mood, risk_flags, tactics,
    violations, plan_offered, promise_to_pay, outcome, product, promise_kept.
    ``promise_kept`` is set on a call with a promise to pay: True when a later contact of the
    borrower ended ``paid``, False when a later contact did not, None when none followed yet.
    """
    df = store.query(
        f"SELECT * FROM ({_CONTACTS}) ORDER BY contact_at NULLS LAST, contact_id",
        [borrower_id, borrower_id],
    )
    df["tactics"] = [
        sorted(json.loads(a)) if isinstance(a, str) and a else [] for a in df.pop("aspects")
    ]
    for col in ("risk_flags", "violations"):
        df[col] = [list(v) if _is_list(v) else [] for v in df[col]]
    df["promise_kept"] = _promises_kept(df)
    return df if reveal else masked(df, "text")


def _is_list(value) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _promises_kept(df: pd.DataFrame) -> list[bool | None]:
    out: list[bool | None] = []
    outcomes = df["outcome"].tolist()
    for i, promised in enumerate(df["promise_to_pay"].tolist()):
        if promised is not True:
            out.append(None)
            continue
        later = [o for o in outcomes[i + 1 :] if isinstance(o, str) and o]
        out.append(None if not later else any(o == "paid" for o in later))
    return out


def borrower_summary(store: Store, borrower_id: str) -> dict:
    """Headline facts for the borrower page: contact counts, flags, trend."""
    df = timeline(store, borrower_id)
    flags = sorted({f for fs in df["risk_flags"] for f in fs})
    return {
        "contacts": len(df),
        "surveys": int((df["kind"] == "survey").sum()),
        "calls": int((df["kind"] == "call").sum()),
        "flags": flags,
        "violations": sorted({v for vs in df["violations"] for v in vs}),
        "trend": mood_falling(df["mood"].tolist()),
        "last_contact": df["contact_at"].max() if len(df) else None,
    }


def falling_borrowers(store: Store, limit: int = 200) -> pd.DataFrame:
    """Borrowers (with at least :data:`MIN_CONTACTS` contacts) whose mood is falling."""
    ids = store.query(
        f"""SELECT borrower_id FROM (
                SELECT borrower_id FROM responses WHERE borrower_id IS NOT NULL
                UNION ALL SELECT borrower_id FROM calls WHERE borrower_id IS NOT NULL)
            GROUP BY borrower_id HAVING count(*) >= {MIN_CONTACTS}
            ORDER BY borrower_id LIMIT ?""",
        [limit * 20],
    )["borrower_id"].tolist()
    rows = []
    for bid in ids:
        moods = store.query(
            f"SELECT mood FROM ({_CONTACTS}) ORDER BY contact_at NULLS LAST, contact_id", [bid, bid]
        )["mood"].tolist()
        trend = mood_falling(moods)
        if trend.falling:
            rows.append({"borrower_id": bid, "contacts": trend.contacts, "drop": trend.drop})
        if len(rows) >= limit:
            break
    return pd.DataFrame(rows, columns=["borrower_id", "contacts", "drop"])
