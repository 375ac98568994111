"""AppTest of the 告警 page: the list, acknowledging, and the admin's rule form.

The store is a real DuckDB file with two scored survey answers and one call (lexicon model),
and one alert fired by a real rule; login is off, so the session acts as the local admin. No webhook or mail
server is configured, so nothing leaves the machine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGE = "pages/alerts.py"
SURVEY = (
    "回答内容,产品,提交日期\n"
    "你们天天打电话骚扰我家人，我要投诉！,信用卡,2026-06-01\n"
    "催收员态度很好,信用卡,2026-06-01\n"
).encode()
# one call without a violation, so 总览 (the page the app opens on) has every chart to draw
CALL = {
    "call_id": "c1",
    "borrower_id": "B1",
    "agent_id": "A1",
    "team": "M1组",
    "duration_s": 60,
    "started_at": "2026-06-01T10:00:00+08:00",
    "outcome": "promise_to_pay",
    "turns": [
        {
            "speaker": "agent",
            "text": "您好，请问是张先生本人吗？我是信和金融的催收专员孙磊，工号1234，本次通话会录音。"
            "您的借款已逾期，请问今天能还款吗？",
        },
        {"speaker": "borrower", "text": "好的，我今晚还。"},
    ],
}


@pytest.fixture
def db(db_path, monkeypatch) -> Path:
    from data import alerts
    from data.auth import LOCAL_ACTOR
    from data.ingest import ingest_calls_bytes, ingest_survey_bytes
    from data.store import open_store

    path = db_path  # its connection is closed after the test (tests/conftest.py)
    for key, value in {
        "BV_DB_PATH": str(path),
        "BV_SENTIMENT_MODEL": "lexicon",
        "BV_AUTH": "off",
        "BV_DEMO": "0",
        "BV_INBOX": "off",
        "BV_ALERT_WEBHOOK": "",
        "BV_SMTP_HOST": "",
    }.items():
        monkeypatch.setenv(key, value)
    store = open_store(path)
    ingest_survey_bytes(store, SURVEY, "s.csv")
    ingest_calls_bytes(store, (json.dumps(CALL, ensure_ascii=False) + "\n").encode(), "c.jsonl")
    alerts.add_rule(store, LOCAL_ACTOR, "complaint_rate", 0, {"min_n": 1})
    assert len(alerts.evaluate(store, now=datetime(2026, 6, 2, tzinfo=UTC))) == 1
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()  # app.py registers the pages (总览 first), then 告警 opens through it
    assert not at.exception, [e.message for e in at.exception]
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def table_with(at: AppTest, column: str):
    """The shown table that has ``column`` (plain tables carry no key in AppTest)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def alert_table(at: AppTest):
    return table_with(at, "送达")


def test_the_page_lists_the_alert_with_chinese_labels(db):
    at = open_page()
    assert [t.value for t in at.title] == ["告警"]
    table = alert_table(at)
    assert list(table.columns[:4]) == ["时间", "规则", "对象", "数值"]
    row = table.iloc[0]
    assert (row["规则"], row["对象"], row["数值"], row["状态"]) == (
        "投诉率 > 0%（30 天）",
        "产品「信用卡」",
        "50.0%",
        "未确认",
    )
    assert row["送达"] == "—" and row["查看"].startswith("/complaints?product=")
    assert any("未确认 1 条" in c.value for c in at.caption)
    assert [tab.label for tab in at.tabs] == ["规则", "添加规则", "通知设置"]  # the admin's


def badge(at: AppTest) -> list[str]:
    """The sidebar's unread count (AppTest keeps app.py's sidebar on the first page only)."""
    return [c.value for c in at.sidebar.caption if "告警" in c.value]


def test_the_sidebar_shows_the_unread_count_until_the_alert_is_acknowledged(db):
    from data import alerts
    from data.store import open_store

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert badge(at) == ["🔔 1 条告警未确认"]
    at.switch_page(PAGE).run()
    alert_id = alerts.list_alerts(open_store(db))["alert_id"].iloc[0]
    at.multiselect(key="alerts_ack_pick").select(alert_id).run()
    at.button(key="alerts_ack").click().run()
    assert not at.exception
    assert any("已确认 1 条告警" in s.value for s in at.success)
    assert alert_table(at).iloc[0]["状态"] == "已确认（本地用户）"
    at.toggle(key="alerts_unread_only").set_value(True).run()
    assert any("没有未确认的告警" in i.value for i in at.info)
    fresh = AppTest.from_file(APP, default_timeout=60)
    fresh.run()
    assert not fresh.exception and badge(fresh) == []


def test_a_refused_rule_shows_why_and_a_valid_one_is_added(db):
    at = open_page()
    at.selectbox(key="alerts_new_metric").set_value("negative_share_rise").run()
    at.text_input(key="alerts_new_threshold_negative_share_rise").input("十个点").run()
    at.button(key="alerts_add").click().run()
    assert any("阈值「十个点」不是数字" in e.value for e in at.error)
    at.text_input(key="alerts_new_threshold_negative_share_rise").input("12").run()
    at.selectbox(key="alerts_new_negative_share_rise_product").set_value("信用卡").run()
    at.button(key="alerts_add").click().run()
    assert not at.exception and not at.error
    names = table_with(at, "创建者")["名称"].tolist()
    assert names == ["投诉率 > 0%（30 天）", "负面占比环比上升 > 12 个百分点（信用卡，7 天）"]


def test_deleting_a_rule(db):
    at = open_page()
    at.button(key="alerts_rule_delete").click().run()
    assert any("已删除规则" in s.value for s in at.success)
    assert any("还没有预警规则" in i.value for i in at.info)


@pytest.mark.parametrize(("role", "sees"), [("manager", True), ("qa", True), ("researcher", False)])
def test_the_page_is_in_the_navigation_of_managers_and_qa_only(
    db, tmp_path, monkeypatch, role, sees
):
    from data import auth
    from data.store import open_store

    auth_file, password = tmp_path / "auth.yaml", "a-long-password-1"
    monkeypatch.setattr(auth, "BCRYPT_ROUNDS", 4)
    monkeypatch.setenv("BV_AUTH", "on")
    monkeypatch.setenv("BV_AUTH_FILE", str(auth_file))
    auth.ensure_admin(auth_file, open_store(db), password="admin-password-1")
    auth.add_user(open_store(db), auth_file, auth.Actor("admin", "admin"), "u1", role, password)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="login_user").input("u1")
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    if not sees:
        assert badge(at) == []
        with pytest.raises(ValueError):
            at.switch_page(PAGE)
        return
    assert badge(at) == ["🔔 1 条告警未确认"]
    at.switch_page(PAGE).run()
    assert [t.value for t in at.title] == ["告警"] and not at.exception
    assert not [tab for tab in at.tabs if tab.label == "添加规则"]  # rules are the admin's
    assert at.multiselect(key="alerts_ack_pick")  # but anyone who sees alerts acknowledges


def test_the_admin_sets_a_webhook_and_sends_a_test_alert(db):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        at = open_page()
        at.text_input(key="alerts_webhook").input("ftp://example.com/hook")
        at.button(key="FormSubmitter:alerts_delivery-保存").click().run()
        assert any("http:// 或 https://" in e.value for e in at.error)
        at.text_input(key="alerts_webhook").input(f"http://127.0.0.1:{server.server_port}/h")
        at.button(key="FormSubmitter:alerts_delivery-保存").click().run()
        assert any("通知设置已保存" in s.value for s in at.success)
        at.button(key="alerts_test").click().run()
        assert any("发送成功" in s.value for s in at.success), [e.value for e in at.error]
        assert "测试告警" in got[0].decode("utf-8")
        assert "成功" in table_with(at, "渠道")["结果"].tolist()
    finally:
        server.shutdown()
        server.server_close()
