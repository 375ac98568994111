"""投诉复核的两处补充：「模型最没把握」排序，以及复核表单里修正情绪与催收方式。

Widget keys carry the complaints page's prefix ``cp_``; the label fields' keys also carry the
record id, so a field never shows another record's labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from nlp.labels import EMOTION_NAMES_ZH, EMOTIONS, SENTIMENT_NAMES_ZH, SENTIMENTS, TACTIC_NAMES_ZH
from pages import _format as fmt

ORDERS = {"severity": "按严重程度", "uncertain": "模型最没把握"}
NOTES = {
    "severity": "按严重程度、时间排序；选中一行查看详情。",
    "uncertain": "未复核的记录按模型把握程度排序（最没把握在前），包括模型未判为投诉的记录："
    "复核它们最能帮助训练新版本。选中一行查看详情。",
}
PAIRS = [f"{t}:{s}" for t in TACTIC_NAMES_ZH for s in SENTIMENTS]


def order_select() -> str:
    """The queue order (``severity`` or ``uncertain``)."""
    picked = st.segmented_control(
        "排序", list(ORDERS), default="severity", key="cp_order", format_func=ORDERS.get
    )
    return picked or "severity"


def queue_table(queue: pd.DataFrame, order: str) -> pd.DataFrame:
    """The queue for display; under 「模型最没把握」 with its 不确定度 column."""
    table = fmt.queue_for_display(queue)
    if order == "uncertain" and not table.empty:
        table.insert(2, "不确定度", queue["uncertainty"].to_numpy())
    return table


def _pair_name(pair: str) -> str:
    tactic, polarity = pair.split(":")
    return f"{TACTIC_NAMES_ZH[tactic]}·{SENTIMENT_NAMES_ZH[polarity]}"


def _model_pairs(aspects) -> list[str]:
    found = aspects if isinstance(aspects, Mapping) else {}
    if isinstance(aspects, str) and aspects:
        import json

        found = json.loads(aspects)
    return [f"{t}:{p}" for t, p in found.items() if f"{t}:{p}" in PAIRS]


def _model_emotions(emotions) -> list[str]:
    return [e for e in (list(emotions) if emotions is not None else []) if e in EMOTIONS]


def label_fields(rec: Mapping, record_id: str) -> tuple[list[str], list[str]]:
    """Inside the review form: the record's emotions and tactics (with polarity), preset to the
    model's answer for the reviewer to correct. Returns the chosen emotions and pairs."""
    c = st.columns(2)
    emotions = c[0].multiselect(
        "情绪（可修正）",
        list(EMOTIONS),
        default=_model_emotions(rec.get("emotions")),
        key=f"cp_emotions_{record_id}",
        format_func=EMOTION_NAMES_ZH.get,
    )
    pairs = c[1].multiselect(
        "催收方式·极性（可修正）",
        PAIRS,
        default=_model_pairs(rec.get("aspects")),
        key=f"cp_aspects_{record_id}",
        format_func=_pair_name,
    )
    return emotions, pairs


def corrections(rec: Mapping, emotions: list[str], pairs: list[str]) -> dict:
    """``emotions`` / ``aspects`` keyword arguments for the review: only the label kinds the
    reviewer changed (an unchanged field confirms nothing, and trains nothing)."""
    out: dict = {}
    if sorted(emotions) != sorted(_model_emotions(rec.get("emotions"))):
        out["emotions"] = sorted(emotions)
    if sorted(pairs) != sorted(_model_pairs(rec.get("aspects"))):
        out["aspects"] = dict(p.split(":") for p in pairs)  # a later pair for a tactic wins
    return out
