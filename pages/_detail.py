"""Detail views of one record: a survey answer as a card, and personal data behind an explicit,
audited 显示原文 (session state ``bv_revealed``, cleared on logout)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pandas as pd
import streamlit as st

from data import access
from nlp.labels import SENTIMENT_NAMES_ZH
from pages import _cache as cache
from pages._format import call_level_note, zh_aspects
from pages._html import escape, highlighted_text
from pages._session import actor

T = TypeVar("T")


def revealed_response_text(response_id: str, masked_text: str, key: str) -> str:
    """The masked text, or the original after an explicit 显示原文 (qa/admin; audited)."""
    return _reveal(
        ("response", response_id),
        masked_text,
        key,
        lambda: access.reveal_response(cache.store(), actor(), response_id),
    )


def revealed_call_turns(call_id: str, key: str) -> pd.DataFrame:
    """A call's masked turns, or the original turns after 显示原文 (qa/admin; audited)."""
    return _reveal(
        ("call", call_id),
        cache.call_turns(call_id),
        key,
        lambda: access.reveal_call_turns(cache.store(), actor(), call_id),
    )


def _reveal(target: tuple[str, str], masked: T, key: str, fetch: Callable[[], T]) -> T:
    """``masked`` with a 显示原文 / 隐藏原文 button; the original (from ``fetch``, which checks
    the role and writes the audit entry) is kept in ``bv_revealed`` until hidden or logout."""
    if not actor().can("reveal_pii"):
        st.caption("个人信息已脱敏。")
        return masked
    shown = st.session_state.setdefault("bv_revealed", {})
    c1, c2 = st.columns([4, 1])
    if target in shown:
        c1.caption("🔓 正在显示原文（已记入审计日志）。")
        if c2.button("隐藏原文", key=f"{key}_hide"):
            shown.pop(target, None)
            st.rerun()
        return shown.get(target, masked)
    c1.caption("个人信息已脱敏。")
    if c2.button("显示原文", key=f"{key}_show", help="显示未脱敏的原文；每次都会记入审计日志"):
        shown[target] = fetch()
        st.rerun()
    return masked


def record_card(rec: pd.Series) -> None:
    """One survey answer: where it is from, the text highlighted, its labels."""
    with st.container(border=True):
        place = [escape(rec[c] or "") for c in ("response_id", "product", "region")]
        st.markdown(f"**{place[0]}** · {place[1]} · {place[2]}")
        st.markdown(highlighted_text(rec["text"]), unsafe_allow_html=True)
        st.caption(
            f"情感 {SENTIMENT_NAMES_ZH.get(rec['sentiment'])}（置信度 {rec['confidence']:.0%}）"
            f" · 催收方式 {zh_aspects(rec['aspects']) or '—'}"
        )


def call_level_banners(evidence: list[dict]) -> None:
    """One warning per call-level finding (start time, frequency, Regulation F), above the
    conversation; findings on a turn are shown in the conversation itself."""
    for item in evidence:
        if item.get("turn") is None:
            st.warning(call_level_note(item))
