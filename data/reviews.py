"""Human review of model labels: store actions, read the queue, measure agreement."""

from __future__ import annotations

import json

import pandas as pd

from data.store import Store, new_id, now

ACTIONS = {
    "confirm": "确认",
    "false_positive": "误报",
    "correct": "修正标签",
    "note": "备注",
    "assign": "指派",
}


def add_review(
    store: Store,
    target_kind: str,
    target_id: str,
    reviewer: str,
    action: str,
    *,
    sentiment: str | None = None,
    aspects: dict | None = None,
    complaint: bool | None = None,
    note: str | None = None,
    assignee: str | None = None,
    emotions: list[str] | None = None,
) -> str:
    """Record one review action (and its audit entry) atomically. Returns the review id.

    ``aspects`` (tactic -> polarity) and ``emotions`` are the reviewer's full answer for that
    label kind when given (an empty one says "none"); ``None`` leaves the model's standing.
    """
    if action not in ACTIONS:
        raise ValueError(f"未知的复核动作 {action}")
    if action == "false_positive":
        complaint = False
    if action == "confirm" and complaint is None:
        complaint = True
    review_id = new_id("r")
    with store.transaction() as cur:
        exists = cur.execute(
            "SELECT 1 FROM scores WHERE target_kind = ? AND target_id = ?", [target_kind, target_id]
        ).fetchone()
        if not exists:
            raise ValueError(f"记录 {target_id} 不存在")
        cur.execute(
            "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                review_id,
                target_kind,
                target_id,
                reviewer,
                now(),
                action,
                sentiment,
                json.dumps(aspects, ensure_ascii=False) if aspects is not None else None,
                complaint,
                note,
                assignee,
            ],
        )
        if emotions is not None:
            cur.execute("INSERT INTO review_emotions VALUES (?, ?)", [review_id, list(emotions)])
        store.audit(
            reviewer,
            f"review:{action}",
            target_id,
            {
                "sentiment": sentiment,
                "complaint": complaint,
                "assignee": assignee,
                **({"aspects": aspects} if aspects is not None else {}),
                **({"emotions": emotions} if emotions is not None else {}),
            },
            cur=cur,
        )
    return review_id


def history(store: Store, target_id: str) -> pd.DataFrame:
    return store.query(
        "SELECT reviewed_at, reviewer, action, sentiment, complaint, note, assignee "
        "FROM reviews WHERE target_id = ? ORDER BY reviewed_at DESC",
        [target_id],
    )


def history_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """Review history with Chinese column names and values."""
    from data.settings import format_display_time
    from nlp.labels import SENTIMENT_NAMES_ZH

    return pd.DataFrame(
        {
            "时间": format_display_time(df["reviewed_at"]),
            "复核人": df["reviewer"],
            "动作": df["action"].map(lambda a: ACTIONS.get(a, a)),
            "修正情感": df["sentiment"].map(lambda v: SENTIMENT_NAMES_ZH.get(v, "") if v else ""),
            "投诉": df["complaint"].map(lambda v: "" if pd.isna(v) else ("是" if v else "否")),
            "备注": df["note"].fillna(""),
            "指派给": df["assignee"].fillna(""),
        }
    )


def agreement(store: Store) -> dict:
    """Model vs reviewer agreement on sentiment and complaint, over reviewed records."""
    df = store.query(
        """SELECT s.sentiment AS model_sentiment, s.complaint AS model_complaint,
                  arg_max(r.sentiment, r.reviewed_at) FILTER (WHERE r.sentiment IS NOT NULL)
                      AS human_sentiment,
                  arg_max(r.complaint, r.reviewed_at) FILTER (WHERE r.complaint IS NOT NULL)
                      AS human_complaint
           FROM reviews r JOIN scores s USING (target_kind, target_id)
           GROUP BY r.target_kind, r.target_id, s.sentiment, s.complaint"""
    )
    sent = df.dropna(subset=["human_sentiment"])
    comp = df.dropna(subset=["human_complaint"])
    return {
        "reviewed": len(df),
        "sentiment_n": len(sent),
        "sentiment_agreement": float((sent.model_sentiment == sent.human_sentiment).mean())
        if len(sent)
        else None,
        "complaint_n": len(comp),
        "complaint_agreement": float((comp.model_complaint == comp.human_complaint).mean())
        if len(comp)
        else None,
    }


def reviewed_labels(store: Store) -> pd.DataFrame:
    """Reviewer-corrected records as a labelled set (text, sentiment, complaint)."""
    return store.query(
        """SELECT x.text, arg_max(r.sentiment, r.reviewed_at) FILTER
                  (WHERE r.sentiment IS NOT NULL) AS sentiment,
                  arg_max(r.complaint, r.reviewed_at) FILTER (WHERE r.complaint IS NOT NULL)
                  AS complaint
           FROM reviews r JOIN responses x ON r.target_kind = 'response'
                AND r.target_id = x.response_id
           GROUP BY x.response_id, x.text"""
    )
