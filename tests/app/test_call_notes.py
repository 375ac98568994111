"""Issue 15, presentation of call findings: each violation once with its label, 「模型判断」 next
to a learned finding, the off-hours banner with the call's local start time and the allowed
window, and no_identity_disclosure saying what was missing.

Unit tests on the formatting functions, then one AppTest on the 通话质检 page with a real
DuckDB store (two calls ingested with the lexicon backend; no demo data).
"""

from __future__ import annotations

import html
import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pages._format import call_level_note, evidence_list, evidence_note, violation_note
from pages._html import conversation_html

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


# --------------------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    ("rule", "explanation", "shown"),
    [
        ("threat", "威胁恐吓：以暴力相威胁", "威胁恐吓：以暴力相威胁"),
        ("threat", "威胁恐吓", "威胁恐吓"),  # the explanation is the label itself
        (
            "off_hours",
            "非规定时间联系：通话开始时间不在允许的时段内",
            "非规定时段通话：通话开始时间不在允许的时段内",
        ),
        (
            "mini_miranda",
            "缺少债务催收声明（mini-Miranda）：未告知本次通话是债务催收",
            "未告知债务催收身份：未告知本次通话是债务催收",
        ),
        (  # a colon inside brackets is not a label
            "no_identity_disclosure",
            "开场未报姓名或工号（已报机构：安信消费金融）",
            "未自报家门：开场未报姓名或工号（已报机构：安信消费金融）",
        ),
        (
            "no_identity_disclosure",
            "未自报家门：开场未报姓名或工号（已报机构：安信消费金融）",
            "未自报家门：开场未报姓名或工号（已报机构：安信消费金融）",
        ),
        (
            "reg_f_call_frequency",
            "7天内第8次致电（11-02 至 11-08），超过7次即推定骚扰（Reg F 1006.14(b)(2)(i)）",
            "7日内致电超过7次：7天内第8次致电（11-02 至 11-08），超过7次即推定骚扰（Reg F "
            "1006.14(b)(2)(i)）",
        ),
    ],
)
def test_a_violation_is_labelled_once(rule: str, explanation: str, shown: str) -> None:
    assert violation_note(rule, explanation) == shown


def test_a_learned_finding_says_model_judgement_next_to_its_label() -> None:
    item = {"rule": "threat", "turn": 2, "span": "x", "explanation": "威胁恐吓：以暴力相威胁"}
    assert evidence_note(item) == "威胁恐吓：以暴力相威胁"
    assert evidence_note({**item, "learned": True}) == "威胁恐吓（模型判断）：以暴力相威胁"


def test_evidence_list_keeps_each_violation_once() -> None:
    item = {"rule": "threat", "turn": 2, "span": "上门", "explanation": "威胁恐吓：以上门相威胁"}
    stored = json.dumps([item, {**item, "learned": True}, {**item, "turn": 3}], ensure_ascii=False)
    assert [(e["rule"], e["turn"]) for e in evidence_list(stored)] == [
        ("threat", 2),
        ("threat", 3),
    ]
    assert (
        evidence_list(None) == [] and evidence_list("") == [] and evidence_list(float("nan")) == []
    )


def test_the_conversation_names_each_violation_once() -> None:
    turns = pd.DataFrame(
        {"turn_index": [0, 1], "speaker": ["agent", "borrower"], "text": ["再不还就上门", "好"]}
    ).assign(sentiment=None)
    item = {"rule": "threat", "turn": 0, "span": "上门", "explanation": "威胁恐吓：以上门相威胁"}
    chat = conversation_html(turns, evidence_list([item, item]))
    assert html.unescape(chat).count("威胁恐吓") == 1
    learned = html.unescape(conversation_html(turns, [{**item, "learned": True}]))
    assert "威胁恐吓（模型判断）：以上门相威胁" in learned


def test_off_hours_banner_states_local_start_time_and_window() -> None:
    new = {
        "rule": "off_hours",
        "turn": None,
        "span": "开始时间 2030-01-02 22:40（允许 08:00-22:00）",
        "explanation": "非规定时间联系：通话于当地时间 22:40 开始（2030-01-02，UTC+08:00），"
        "不在允许时段 08:00-22:00 内",
    }
    assert call_level_note(new) == (
        "非规定时段通话：通话于当地时间 22:40 开始（2030-01-02，UTC+08:00），"
        "不在允许时段 08:00-22:00 内"
    )
    stored_before = {**new, "explanation": "非规定时间联系：通话开始时间不在允许的时段内"}
    assert call_level_note(stored_before) == (
        "非规定时段通话：通话于当地时间 22:40 开始（2030-01-02），不在允许时段 08:00-22:00 内"
    )


def test_frequency_banners_carry_their_evidence_once() -> None:
    over = {
        "rule": "over_frequency",
        "turn": None,
        "span": "借款人 B1 在 2030-01-02 的第 4 通已接通电话（每日上限 3）",
        "explanation": "联系过频：同一借款人在规定期间内的通话次数超过上限",
    }
    assert call_level_note(over) == (
        "超频次通话：同一借款人在规定期间内的通话次数超过上限"
        "（借款人 B1 在 2030-01-02 的第 4 通已接通电话（每日上限 3））"
    )
    reg_f = {
        "rule": "reg_f_after_conversation",
        "turn": None,
        "span": "距上次通话（11-03 10:12）不足7天",
        "explanation": "距上次通话（11-03 10:12）不足7天（通话 6 天后再次致电），推定骚扰"
        "（Reg F 1006.14(b)(2)(ii)）",
    }
    note = call_level_note(reg_f)
    assert note.startswith("通话后7日内再次致电：距上次通话（11-03 10:12）不足7天")
    assert note.count("距上次通话") == 1


# --------------------------------------------------------------------------- the page
DAY = (date.today() - timedelta(days=3)).isoformat()  # inside the page's default date range
LATE_CALL = {
    "call_id": "note-late",
    "borrower_id": "B-NOTE",
    "agent_id": "A-NOTE",
    "team": "M1组",
    "started_at": f"{DAY}T22:40:00+08:00",
    "duration_s": 60,
    "outcome": "connected",
    "turns": [
        {"speaker": "agent", "text": "您好，这边是安信消费金融贷后部"},
        {"speaker": "borrower", "text": "什么事"},
        {"speaker": "agent", "text": "你再不还钱，我们就派人去你家找你"},
    ],
}


@pytest.fixture(scope="module")
def notes_db(tmp_path_factory) -> Path:
    from data.ingest import ingest_calls_bytes
    from data.store import open_store

    mp = pytest.MonkeyPatch()
    mp.setenv("BV_SENTIMENT_MODEL", "lexicon")
    path = tmp_path_factory.mktemp("notes") / "bv.duckdb"
    store = open_store(path)
    raw = (json.dumps(LATE_CALL, ensure_ascii=False) + "\n").encode()
    ingest_calls_bytes(store, raw, "late.jsonl", uploaded_by="fixture", model="lexicon")
    mp.undo()
    return path


@pytest.fixture()
def calls_page(notes_db, monkeypatch) -> AppTest:
    for key, value in {
        "BV_DB_PATH": str(notes_db),
        "BV_SENTIMENT_MODEL": "lexicon",
        "BV_AUTH": "off",
        "BV_DEMO": "0",
    }.items():
        monkeypatch.setenv(key, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/calls.py").run()
    table = next(d.key for d in at.dataframe if d.key and d.key.startswith("cl_table_"))
    at.session_state[table] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_calls_page_shows_each_finding_once_with_what_was_missing(calls_page) -> None:
    banners = [w.value for w in calls_page.warning]
    assert banners == [
        f"非规定时段通话：通话于当地时间 22:40 开始（{DAY}，UTC+08:00），不在允许时段 08:00-22:00 内"
    ]
    chat = html.unescape(next(m.value for m in calls_page.markdown if "第 1 轮" in m.value))
    assert "未自报家门：开场未报姓名或工号（已报机构：安信消费金融）" in chat
    assert "未报机构名称" not in chat  # the company was said
    assert chat.count("威胁恐吓") == 1
