"""Safe HTML for ``st.markdown(..., unsafe_allow_html=True)``: every piece of uploaded text is
escaped before markup is built around it. Pure functions (no streamlit)."""

from __future__ import annotations

import pandas as pd

from nlp.feedback import POLARITY_THRESHOLD, analyze
from nlp.highlight import tactic_spans
from nlp.labels import TACTIC_NAMES_ZH
from pages._format import evidence_note

BG_TINT = {"negative": "#fbe9e5", "neutral": "#f3f3f0", "positive": "#e6f3ec"}

# HTML and markdown syntax characters as numeric entities, in one pass: inside
# st.markdown(..., unsafe_allow_html=True) an uploaded "<script>", "[x](javascript:...)",
# "![](http://tracker)", "$...$" or "**" stays plain text.
_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-.!|~$:="})


def escape(text: str) -> str:
    """Text from uploads made inert before markup is built around it: HTML and markdown syntax
    as entities, line breaks as <br> (so a blank line cannot end an HTML block)."""
    out = str(text).translate(_ENTITIES)
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _polarity(score: float) -> str:
    """A clause score as negative / neutral / positive (the feedback labels' threshold)."""
    if score < -POLARITY_THRESHOLD:
        return "negative"
    return "positive" if score > POLARITY_THRESHOLD else "neutral"


def _tactic_words_in_bold(clause: str) -> str:
    pieces, last = [], 0
    for start, end, tactic in tactic_spans(clause):
        pieces.append(escape(clause[last:start]))
        pieces.append(
            f'<b title="{escape(TACTIC_NAMES_ZH.get(tactic, tactic))}" '
            f'style="border-bottom:2px solid #2f6f8f">{escape(clause[start:end])}</b>'
        )
        last = end
    pieces.append(escape(clause[last:]))
    return "".join(pieces)


def _legend() -> str:
    swatches = " ".join(
        f'<span style="background:{BG_TINT[label]}">{name}</span>'
        for label, name in (("negative", "负面"), ("neutral", "中性"), ("positive", "正面"))
    )
    return (
        f'<div style="font-size:0.8em;color:#666;margin-top:4px">底色：{swatches}；'
        "下划线粗体为催收方式用词</div>"
    )


def highlighted_text(text: str) -> str:
    """Escaped text, clauses tinted by polarity and tactic words in bold (safe HTML)."""
    analysis = analyze(text)
    parts = [
        f'<span style="background:{BG_TINT[_polarity(score)]};padding:2px 4px;'
        f'border-radius:4px;line-height:2">{_tactic_words_in_bold(clause)}</span>'
        for clause, score in zip(analysis.clauses, analysis.clause_scores, strict=True)
    ]
    return '<div style="font-size:1.05em">' + " ".join(parts) + "</div>" + _legend()


def _marked_turn(text: str, evidence: list[dict]) -> str:
    """A turn's escaped text with violating spans marked, then one note per violation."""
    text = escape(text)
    notes = []
    for e in evidence:
        span = escape(e.get("span") or "")
        if span and span in text:
            text = text.replace(span, f'<mark style="background:#f6c9bd">{span}</mark>', 1)
        notes.append(f'<div style="color:#a33;font-size:0.85em">⚠ {escape(evidence_note(e))}</div>')
    return text + "".join(notes)


def conversation_html(turns: pd.DataFrame, evidence: list[dict]) -> str:
    """A call as a chat: turns tinted by sentiment, violating spans marked with the rule.

    Turns are numbered from 第 1 轮 for people; ``turn_index`` (and evidence) count from 0."""
    by_turn: dict[int, list[dict]] = {}
    for e in evidence:
        if e.get("turn") is not None:
            by_turn.setdefault(int(e["turn"]), []).append(e)
    rows = []
    for t in turns.itertuples():
        agent = t.speaker == "agent"
        color = BG_TINT.get(t.sentiment or "neutral", "#f3f3f0")
        align = "flex-start" if agent else "flex-end"
        who = "坐席" if agent else "借款人"
        rows.append(
            f'<div style="display:flex;justify-content:{align};margin:4px 0">'
            f'<div style="max-width:80%;background:{color};padding:6px 10px;border-radius:8px">'
            f'<div style="font-size:0.75em;color:#666">{who} · 第 {int(t.turn_index) + 1} 轮</div>'
            f"{_marked_turn(t.text, by_turn.get(int(t.turn_index), []))}</div></div>"
        )
    return "".join(rows)
