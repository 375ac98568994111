"""Issue 16: times in the display time zone (BV_DISPLAY_TZ) on every page, export and report;
every download audited; role names; messages without repeated prefixes or English.

The store is a real DuckDB file with a small demo dataset plus two calls late in the evening,
Beijing time (stored as UTC instants); scoring uses the lexicon backend.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
LATE = "2026-10-12T23:30:00+08:00"  # 15:30 UTC
EARLY_NEXT_DAY = "2026-10-13T07:00:00+08:00"  # 2026-10-12 23:00 UTC


def _call(call_id: str, started_at: str) -> dict:
    return {
        "call_id": call_id,
        "borrower_id": f"B-{call_id}",
        "agent_id": "A-TZ",
        "team": "M1组",
        "started_at": started_at,
        "duration_s": 60,
        "outcome": "promise_to_pay",
        "turns": [
            {"speaker": "agent", "text": "您好，我是某某消费金融的催收专员王伟，工号 1024。"},
            {"speaker": "borrower", "text": "我下周一还款。"},
        ],
    }


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("tz") / "bv.duckdb"
    mp.setenv("BV_SENTIMENT_MODEL", "lexicon")
    from data.demo_loader import ensure_demo
    from data.ingest import ingest_calls_bytes
    from data.store import open_store

    store = open_store(path)
    ensure_demo(store, model="lexicon", n_surveys=200, n_calls=20)
    lines = [_call("tz-late", LATE), _call("tz-next", EARLY_NEXT_DAY)]
    raw = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in lines).encode()
    ingest_calls_bytes(store, raw, "tz.jsonl", uploaded_by="fixture")
    mp.undo()
    return path


@pytest.fixture(autouse=True)
def fresh_caches(demo_db, monkeypatch):
    monkeypatch.setenv("BV_DB_PATH", str(demo_db))
    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    monkeypatch.setenv("BV_AUTH", "off")
    monkeypatch.delenv("BV_DISPLAY_TZ", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _exports():
    from data.store import open_store

    return open_store().query("SELECT * FROM audit_log WHERE action = 'export' ORDER BY ts")


# --------------------------------------------------------------------------- the helper
def test_a_utc_instant_is_shown_in_beijing_time_and_the_setting_changes_it(monkeypatch):
    from data.settings import format_display_time, settings, to_display_time

    utc = pd.Timestamp("2026-10-12T15:30:00Z")
    assert settings().display_tz == "Asia/Shanghai"
    assert format_display_time(utc) == "2026-10-12 23:30"
    assert format_display_time(pd.Timestamp(LATE)) == "2026-10-12 23:30"
    shown = to_display_time(pd.Series([utc, pd.NaT]))
    assert str(shown.dt.tz) == "Asia/Shanghai" and shown.iloc[0] == utc  # same instant
    assert format_display_time(pd.Series([utc, pd.NaT])).tolist() == ["2026-10-12 23:30", ""]
    naive = pd.Series(pd.to_datetime(["2026-05-01 10:00"]))  # a local date: unchanged
    assert format_display_time(naive).tolist() == ["2026-05-01 10:00"]
    monkeypatch.setenv("BV_DISPLAY_TZ", "UTC")
    assert format_display_time(utc) == "2026-10-12 15:30"
    monkeypatch.setenv("BV_DISPLAY_TZ", "Mars/Olympus")
    with pytest.raises(ValueError, match="BV_DISPLAY_TZ"):
        settings()


def test_stored_call_times_stay_aware_and_days_are_display_days():
    from data import queries
    from data.store import open_store

    store = open_store()
    calls = queries.calls_table(store, queries.Filters(), agent="A-TZ")
    assert calls["started_at"].dt.tz is not None  # stored instants stay tz-aware
    day = queries.Filters(date_from=date(2026, 10, 13), date_to=date(2026, 10, 13))
    # 07:00 on the 13th Beijing time is still the 12th in UTC: the filter uses display days
    assert queries.calls_table(store, day, agent="A-TZ")["call_id"].tolist() == ["tz-next"]


# --------------------------------------------------------------------------- pages
def test_calls_page_shows_the_call_at_23_30_as_stored_with_its_offset():
    at = _open("pages/calls.py")
    at.selectbox(key="cl_agent").set_value("A-TZ").run()
    assert not at.exception, [e.message for e in at.exception]
    table = next(d.value for d in at.dataframe if "开始时间" in d.value.columns)
    shown = dict(zip(table["通话"], table["开始时间"], strict=True))
    assert shown == {"tz-late": "2026-10-12 23:30", "tz-next": "2026-10-13 07:00"}


def test_batch_list_shows_upload_times_in_beijing_time():
    from data.queries import list_batches
    from data.settings import format_display_time
    from data.store import open_store

    at = _open("pages/upload.py")
    table = next(d.value for d in at.dataframe if "上传时间" in d.value.columns)
    assert not table["上传时间"].str.contains(r"\+00:00").any()
    stored = list_batches(open_store())
    assert str(stored["uploaded_at"].dt.tz) == "Asia/Shanghai"
    assert table["上传时间"].tolist() == format_display_time(stored["uploaded_at"]).tolist()


def test_audit_log_times_follow_the_setting(monkeypatch):
    from data import access
    from data.auth import LOCAL_ACTOR
    from data.store import open_store

    log = access.audit_log(open_store(), LOCAL_ACTOR)
    beijing = access.audit_for_display(log)["时间"].iloc[0]
    monkeypatch.setenv("BV_DISPLAY_TZ", "UTC")
    utc = access.audit_for_display(log)["时间"].iloc[0]
    hours = (pd.Timestamp(beijing) - pd.Timestamp(utc)) / pd.Timedelta(hours=1)
    assert hours == 8


def test_exports_write_times_in_the_display_time_zone():
    from data.exports import to_csv_bytes, to_xlsx_bytes

    frame = pd.DataFrame({"时间": pd.to_datetime(["2026-10-12T15:30:00Z"]), "x": ["a"]})
    assert "2026-10-12 23:30:00+08:00" in to_csv_bytes(frame).decode("utf-8-sig")
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(frame))).active
    assert sheet["A2"].value.strftime("%H:%M") == "23:30"


def test_monthly_summary_says_when_and_in_which_time_zone_it_was_made():
    from data.report import monthly_summary_html
    from data.store import open_store

    page = monthly_summary_html(open_store(), date(2026, 10, 1))
    assert "（Asia/Shanghai）自动生成" in page


# --------------------------------------------------------------------------- downloads audited
def test_the_monthly_summary_download_is_audited():
    at = _open("pages/overview.py")
    before = len(_exports())
    at.download_button(key="ov_report").click().run()
    assert not at.exception, [e.message for e in at.exception]
    log = _exports()
    assert len(log) == before + 1
    entry = log.iloc[-1]
    assert entry["target"].endswith("-月度摘要") and entry["actor"] == "本地用户"
    assert json.loads(entry["detail"])["format"] == "html"


@pytest.mark.parametrize(
    "page",
    ["pages/overview.py", "pages/complaints.py", "pages/calls.py", "pages/audit.py"],
)
def test_every_download_button_writes_an_audit_entry(page):
    at = _open(page)
    keys = [b.key for b in at.download_button]
    assert keys, "the page has no download button"
    for key in keys:
        before = len(_exports())
        at.download_button(key=key).click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert len(_exports()) == before + 1, f"{key} was not audited"


# --------------------------------------------------------------------------- names and messages
def test_roles_are_named_business_manager_and_system_administrator():
    from data import auth
    from pages._format import permissions_table

    assert auth.ROLES["manager"] == "业务主管" and auth.ROLES["admin"] == "系统管理员"
    assert {"业务主管", "系统管理员"} <= set(permissions_table().columns)
    assert not {"管理者", "管理员"} & set(auth.ROLES.values())


def test_a_violation_is_named_once():
    from pages._format import violation_note
    from pages._html import conversation_html

    assert (
        violation_note("threat", "威胁恐吓：以暴力、拘捕相威胁") == "威胁恐吓：以暴力、拘捕相威胁"
    )
    assert violation_note("off_hours", "非规定时间联系：通话开始时间不在允许的时段内") == (
        "非规定时段通话：通话开始时间不在允许的时段内"
    )
    assert violation_note("impersonation", "冒充公检法、律师或政府工作人员") == (
        "冒充公检法/律师：冒充公检法、律师或政府工作人员"
    )
    turns = pd.DataFrame(
        {"turn_index": [0, 1], "speaker": ["agent", "borrower"], "text": ["再不还就上门", "好"]}
    ).assign(sentiment=None)
    evidence = [
        {"rule": "threat", "turn": 0, "span": "上门", "explanation": "威胁恐吓：以上门相威胁"}
    ]
    chat = conversation_html(turns, evidence)
    assert chat.count("威胁恐吓") == 1
    assert "第 1 轮" in chat and "第 2 轮" in chat and "第 0 轮" not in chat


@pytest.mark.parametrize(
    ("message", "lead", "shown"),
    [
        ("无法读取文件：文件是空的", "无法读取文件：", "无法读取文件：文件是空的"),
        (
            "文件未导入：发现 1 处错误，例如 第 2 行：x",
            "文件未导入，数据库未改动：",
            "文件未导入，数据库未改动：发现 1 处错误，例如 第 2 行：x",
        ),
        (
            "a.jsonl 第2行：JSON 格式错误（第10列） / a.jsonl line 2: invalid JSON at column 10",
            "文件未导入，数据库未改动：",
            "文件未导入，数据库未改动：a.jsonl 第2行：JSON 格式错误（第10列）",
        ),
        (
            "无法读取文件：第 3 行：引号未闭合或位置不对（unexpected end of data）",
            "无法读取文件：",
            "无法读取文件：第 3 行：引号未闭合或位置不对",
        ),
        ("3 个通话编号(call_id)已存在于其他批次中，文件未导入", "文件未导入，数据库未改动：", None),
        ("表头有重复列名：Customer Name, Customer Name", "无法读取文件：", None),
    ],
)
def test_error_messages_do_not_repeat_their_prefix_or_mix_in_english(message, lead, shown):
    from pages._format import error_message

    text = error_message(message, lead)
    if shown is not None:
        assert text == shown
    assert text.count("无法读取") <= 1 and text.count("文件未导入") <= 1
    if "Customer" in message:
        assert text.endswith("Customer Name, Customer Name")  # names are kept, not "English"


def test_drill_down_caption_names_the_selection_in_chinese_with_its_count():
    from pages._format import drill_caption

    text = drill_caption({"tactic": "threat_intimidation", "polarity": "negative"}, 1420)
    assert text == "已按所选图表元素筛选：催收方式「威胁恐吓」 · 情感「负面」，共 1,420 条记录。"
    assert "=" not in drill_caption(
        {"dim": "product", "value": "信用卡", "sentiment": "positive"}, 3
    )
    assert "2026年05月" in drill_caption({"period": date(2026, 5, 1), "freq": "month"}, 3)


def test_today_is_the_display_time_zones_date() -> None:
    from datetime import timedelta

    from data.settings import display_today

    # UTC+14 and UTC-12 are 26 hours apart: their dates always differ, whatever the server's
    assert display_today("Etc/GMT-14") - display_today("Etc/GMT+12") in (timedelta(1), timedelta(2))
