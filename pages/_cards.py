"""Small summary widgets: the learned parts' model cards and the open early-warning cases."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st


def model_cards() -> None:
    """The risk model's and the call heads' cards: what each learned part scored on its tuning
    split (the dev-set figures are in the README and from ``python -m nlp eval`` /
    ``eval-calls``)."""
    from nlp.compliance.learned import load_call_heads
    from nlp.labels import RISK_FLAG_NAMES_ZH, VIOLATION_NAMES_ZH
    from nlp.risk import load_risk_model

    rows = []
    risk = load_risk_model()
    for flag, r in (risk.card.get("report", {}) if risk else {}).items():
        rows.append(
            ("风险预警", RISK_FLAG_NAMES_ZH.get(flag, flag), r["tune_cues"], r["tune_model"])
        )
    calls = load_call_heads()
    for rule, r in (calls.card.get("agent_report", {}) if calls else {}).items():
        rows.append(
            ("通话违规", VIOLATION_NAMES_ZH.get(rule, rule), r["tune_rules"], r["tune_heads"])
        )
    if not rows:
        return
    st.caption("风险模型与通话标签头（调参集上的 F1；规则单独 → 规则 + 模型）")
    st.dataframe(
        pd.DataFrame(
            {
                "部分": [r[0] for r in rows],
                "标签": [r[1] for r in rows],
                "仅规则 F1": [round(r[2]["f1"], 3) for r in rows],
                "规则 + 模型 F1": [round(r[3]["f1"], 3) for r in rows],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def warning_counts(counts: Mapping[str, int]) -> None:
    """One calm line with the open early-warning cases and a link to 预警 (nothing when none)."""
    from nlp.labels import RISK_FLAG_NAMES_ZH

    if not counts.get("total"):
        return
    parts = "，".join(
        f"{name} {counts[flag]:,}" for flag, name in RISK_FLAG_NAMES_ZH.items() if counts[flag]
    )
    urgent = "🚨 " if counts.get("self_harm") else ""
    st.page_link(
        "pages/warnings.py",
        label=f"{urgent}预警：{counts['total']:,} 位借款人待跟进（{parts}）",
        icon=None if urgent else "🔔",
    )
