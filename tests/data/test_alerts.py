"""Alerts (data.alerts, data.alert_metrics, data.alert_delivery) on a real DuckDB file.

Rows are written straight into the tables with hand-chosen labels, so each metric's value can
be read off the test; the ingest tests go through the real reader, scorer and batch writer.
Delivery goes to real servers on 127.0.0.1: an ``http.server`` for the webhook and an aiosmtpd
``Controller`` for e-mail. The evaluation time is fixed: 2026-06-30 12:00 in Asia/Shanghai.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from data import alert_delivery, alerts
from data.alert_delivery import deliver, delivery_log, wait_for_deliveries
from data.alerts import AlertAccessDenied, AlertRuleError
from data.auth import Actor
from data.settings import AlertSettings, alert_settings

NOW = datetime(2026, 6, 30, 4, 0, tzinfo=UTC)  # 12:00 on 2026-06-30 in Shanghai
ADMIN = Actor("boss", "admin")
MANAGER = Actor("mgr", "manager")
RESEARCHER = Actor("res", "researcher")


# --------------------------------------------------------------------------- rows
def batch(store, batch_id: str, kind: str = "survey", uploaded_at: datetime = NOW) -> str:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO batches (batch_id, file_name, sha256, kind, row_count, uploaded_by, "
            "uploaded_at, status, is_demo) VALUES (?, ?, ?, ?, 0, 't', ?, 'stored', FALSE)",
            [batch_id, f"{batch_id}.csv", batch_id, kind, uploaded_at - timedelta(hours=1)],
        )
    return batch_id


def answers(
    store,
    batch_id: str,
    product: str,
    day: str | None,
    n: int,
    *,
    negative: int = 0,
    complaints: int = 0,
    self_harm: int = 0,
) -> None:
    """``n`` answers on ``day``: the first ``negative`` negative (the rest neutral), the first
    ``complaints`` complaints, the first ``self_harm`` flagged."""
    with store.transaction() as cur:
        for i in range(n):
            rid = f"{batch_id}-{product}-{day}-{i}"
            cur.execute(
                "INSERT INTO responses (response_id, batch_id, submitted_at, product, text) "
                "VALUES (?, ?, ?, ?, '回答')",
                [rid, batch_id, pd.Timestamp(day) if day else None, product],
            )
            cur.execute(
                "INSERT INTO scores (target_kind, target_id, batch_id, model_id, sentiment, "
                "sentiment_score, complaint, risk_flags) VALUES ('response', ?, ?, 'hand', ?, 0, "
                "?, ?)",
                [
                    rid,
                    batch_id,
                    "negative" if i < negative else "neutral",
                    i < complaints,
                    ["self_harm"] if i < self_harm else [],
                ],
            )


def calls(store, batch_id: str, agent: str, n: int, violations: int, started: datetime) -> None:
    """``n`` calls of ``agent``; ``violations`` violations spread one per call from the first."""
    with store.transaction() as cur:
        for i in range(n):
            cid = f"{batch_id}-{agent}-{i}"
            cur.execute(
                "INSERT INTO calls (call_id, batch_id, agent_id, started_at) VALUES (?, ?, ?, ?)",
                [cid, batch_id, agent, started],
            )
            cur.execute(
                "INSERT INTO call_analysis (call_id, batch_id, violations) VALUES (?, ?, ?)",
                [cid, batch_id, ["harassment_frequency"] if i < violations else []],
            )


def days_ago(n: int) -> str:
    return str((pd.Timestamp("2026-06-30") - pd.Timedelta(days=n)).date())


@pytest.fixture
def store(tmp_store):
    """Two products over the last two weeks and two agents this week.

    信用卡: previous 7 days 20 answers, 2 negative (10%); last 7 days 20 answers, 8 negative
    (40%) and 6 complaints: negative share +30 points, complaint rate 6/40 = 15% over 30 days.
    消费贷: 20 answers each week, 4 then 5 negative: +5 points; 1 complaint in 40: 2.5%.
    坐席 A1: 20 calls, 8 violations (40 per 100 calls); A2: 20 calls, 1 violation (5).
    """
    batch(tmp_store, "s1")
    answers(tmp_store, "s1", "信用卡", days_ago(10), 20, negative=2)
    answers(tmp_store, "s1", "信用卡", days_ago(2), 20, negative=8, complaints=6)
    answers(tmp_store, "s1", "消费贷", days_ago(9), 20, negative=4)
    answers(tmp_store, "s1", "消费贷", days_ago(1), 20, negative=5, complaints=1)
    batch(tmp_store, "c1", kind="calls")
    calls(tmp_store, "c1", "A1", 20, 8, NOW - timedelta(days=2))
    calls(tmp_store, "c1", "A2", 20, 1, NOW - timedelta(days=3))
    return tmp_store


def fire(store, metric: str, threshold, params=None, *, batch_id=None, now=NOW):
    alerts.add_rule(store, ADMIN, metric, threshold, params)
    return alerts.evaluate(store, now=now, batch_id=batch_id)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("metric", "threshold", "params", "message"),
    [
        ("churn_rate", 5, {}, "未知指标「churn_rate」"),
        ("complaint_rate", -1, {}, "阈值不能为负数"),
        ("complaint_rate", "abc", {}, "阈值「abc」不是数字"),
        ("complaint_rate", "", {}, "请填写阈值"),
        ("complaint_rate", "nan", {}, "不是有限的数字"),
        ("complaint_rate", 150, {}, "应在 0–100"),
        ("self_harm", 0.5, {}, "应为整数"),
        ("complaint_rate", 10, {"product": "房贷"}, "产品「房贷」不在已导入的问卷数据中"),
        ("agent_violations_per_100", 10, {"agent": "Z9"}, "坐席「Z9」不在已导入的通话数据中"),
        ("complaint_rate", 10, {"period_days": 0}, "应为 1–366 之间的整数"),
        ("complaint_rate", 10, {"period_days": "两周"}, "统计周期（天）「两周」不是数字"),
        ("complaint_rate", 10, {"agent": "A1"}, "没有参数 agent"),
    ],
)
def test_a_bad_rule_is_refused_naming_what_is_wrong(store, metric, threshold, params, message):
    with pytest.raises(AlertRuleError, match=message):
        alerts.add_rule(store, ADMIN, metric, threshold, params)
    assert alerts.list_rules(store) == []


def test_the_unknown_product_message_lists_the_products_there_are(store):
    with pytest.raises(AlertRuleError) as exc:
        alerts.validate_rule(store, "complaint_rate", 10, {"product": "房贷"})
    assert "信用卡" in str(exc.value) and "消费贷" in str(exc.value)


def test_a_valid_rule_is_stored_with_its_defaults_and_a_readable_name(store, db_tools):
    rule = alerts.add_rule(store, ADMIN, "complaint_rate", "１５%", {"product": "信用卡"})
    assert rule.threshold == 15.0  # full-width digits and a % sign are accepted
    assert rule.params == {"product": "信用卡", "period_days": 30, "min_n": 20}
    assert rule.name == "投诉率 > 15%（信用卡，30 天）"
    assert alerts.list_rules(store) == [rule]
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action = 'alert_rule_add'") == 1
    alerts.delete_rule(store, ADMIN, rule.rule_id)
    assert alerts.list_rules(store) == []


def test_only_an_admin_manages_rules_and_a_researcher_sees_no_alerts(store):
    with pytest.raises(AlertAccessDenied, match="业务主管"):
        alerts.add_rule(store, MANAGER, "complaint_rate", 10)
    with pytest.raises(AlertAccessDenied):
        alerts.acknowledge(store, RESEARCHER)
    assert alerts.may_view(MANAGER) and not alerts.may_view(RESEARCHER)


# --------------------------------------------------------------------------- metrics
def test_negative_share_rise_fires_for_the_product_that_rose(store):
    fired = fire(store, "negative_share_rise", 29.9)
    assert [(a.condition_key, round(a.value, 6)) for a in fired] == [("product:信用卡", 30.0)]
    assert "40.0%" in fired[0].message and "10.0%" in fired[0].message
    assert fired[0].link.startswith("/overview?product=")


def test_negative_share_rise_does_not_fire_at_or_below_the_threshold(store):
    assert fire(store, "negative_share_rise", 30) == []  # above, not equal


def test_negative_share_rise_for_one_product_and_its_minimum_base(store):
    fired = fire(store, "negative_share_rise", 4, {"product": "消费贷"})
    assert [a.condition_key for a in fired] == ["product:消费贷"]
    assert fire(store, "negative_share_rise", 0, {"min_n": 21}) == []  # 20 a week is too few


def test_complaint_rate_fires_above_the_threshold_only(store):
    fired = fire(store, "complaint_rate", 14)
    assert [(a.subject, a.value) for a in fired] == [("产品「信用卡」", 15.0)]
    assert fire(store, "complaint_rate", 15) == []


def test_complaint_rate_uses_the_period(store):
    # the last 7 days only: 信用卡 6 of 20 (30%), 消费贷 1 of 20 (5%)
    fired = fire(store, "complaint_rate", 20, {"period_days": 7})
    assert [(a.condition_key, a.value) for a in fired] == [("product:信用卡", 30.0)]


def test_a_reviewer_correction_changes_the_complaint_rate(store):
    from data import reviews

    flagged = store.query(
        "SELECT target_id FROM scores WHERE complaint AND target_id LIKE 's1-信用卡-%' LIMIT 2"
    )["target_id"]
    for rid in flagged:
        reviews.add_review(store, "response", rid, "qa", "false_positive")
    assert fire(store, "complaint_rate", 14) == []  # 4 of 40 now: 10%


def test_agent_violations_per_100_calls(store):
    fired = fire(store, "agent_violations_per_100", 39)
    assert [(a.condition_key, a.value) for a in fired] == [("agent:A1", 40.0)]
    assert fired[0].link == "/calls?agent=A1&from=2026-06-01"


def test_agent_violations_below_the_threshold_and_for_one_agent(store):
    assert fire(store, "agent_violations_per_100", 40) == []
    fired = fire(store, "agent_violations_per_100", 4, {"agent": "A2"})
    assert [(a.condition_key, a.value) for a in fired] == [("agent:A2", 5.0)]


def test_calls_outside_the_period_do_not_count(store):
    assert fire(store, "agent_violations_per_100", 39, {"period_days": 1}) == []


def test_self_harm_fires_once_per_batch_with_a_flagged_text(store):
    batch(store, "s2")
    answers(store, "s2", "信用卡", days_ago(0), 3, self_harm=1)
    fired = fire(store, "self_harm", 0, batch_id="s2")
    assert [(a.condition_key, a.value, a.batch_id) for a in fired] == [("batch:s2", 1.0, "s2")]
    assert "1 条回答带有自伤风险提示" in fired[0].message
    assert alerts.evaluate(store, now=NOW, batch_id="s1") == []  # a batch without any


def test_self_harm_counts_a_flagged_call_once_and_respects_the_threshold(store):
    batch(store, "c2", kind="calls")
    with store.transaction() as cur:
        for i in range(2):  # two flagged turns of one call
            cur.execute(
                "INSERT INTO scores (target_kind, target_id, batch_id, model_id, sentiment, "
                "sentiment_score, risk_flags) VALUES ('turn', ?, 'c2', 'hand', 'negative', -1, "
                "['self_harm'])",
                [f"call-9#{i}"],
            )
    assert fire(store, "self_harm", 1, batch_id="c2") == []  # 1 call, not more than 1
    fired = alerts.evaluate(store, now=NOW)  # manual: every batch of the last day
    assert fired == []
    rule = alerts.add_rule(store, ADMIN, "self_harm", 0)
    fired = alerts.evaluate(store, now=NOW)
    assert [(a.rule_id, a.condition_key, a.value) for a in fired] == [
        (rule.rule_id, "batch:c2", 1.0)
    ]
    assert fired[0].link == "/calls?batch=c2"


def test_a_rule_that_fails_to_compute_does_not_stop_the_others(store, monkeypatch):
    from data.alert_metrics import METRICS

    alerts.add_rule(store, ADMIN, "negative_share_rise", 0)
    alerts.add_rule(store, ADMIN, "complaint_rate", 14)
    broken = replace(METRICS["negative_share_rise"], compute=lambda *_: 1 / 0)
    monkeypatch.setitem(METRICS, "negative_share_rise", broken)
    assert [a.metric for a in alerts.evaluate(store, now=NOW)] == ["complaint_rate"]


# --------------------------------------------------------------------------- cool-down
def test_the_cool_down_keeps_one_condition_from_alerting_twice(store, monkeypatch):
    assert len(fire(store, "complaint_rate", 14)) == 1
    assert alerts.evaluate(store, now=NOW + timedelta(hours=1)) == []
    assert len(alerts.evaluate(store, now=NOW + timedelta(hours=25))) == 1  # default 24 h
    monkeypatch.setenv("BV_ALERT_COOLDOWN_H", "2")
    assert alerts.evaluate(store, now=NOW + timedelta(hours=26)) == []
    assert len(alerts.evaluate(store, now=NOW + timedelta(hours=28))) == 1


def test_the_cool_down_is_per_condition_and_a_rule_may_set_its_own(store):
    alerts.add_rule(store, ADMIN, "complaint_rate", 14)
    assert len(alerts.evaluate(store, now=NOW)) == 1
    batch(store, "s3")
    answers(store, "s3", "消费贷", days_ago(0), 40, complaints=40)  # now 消费贷 fires too
    assert [a.condition_key for a in alerts.evaluate(store, now=NOW)] == ["product:消费贷"]
    rule = alerts.add_rule(store, ADMIN, "complaint_rate", 14, cooldown_h=0)
    assert {a.rule_id for a in alerts.evaluate(store, now=NOW)} == {rule.rule_id}
    again = alerts.evaluate(store, now=NOW + timedelta(minutes=1))
    assert len(again) == 2 and {a.rule_id for a in again} == {rule.rule_id}


# --------------------------------------------------------------------------- list and ack
def test_alerts_are_listed_newest_first_and_acknowledged(store):
    alerts.add_rule(store, ADMIN, "complaint_rate", 14)
    alerts.add_rule(store, ADMIN, "agent_violations_per_100", 39)
    first = alerts.evaluate(store, now=NOW - timedelta(hours=30))
    second = alerts.evaluate(store, now=NOW)
    assert len(first) == len(second) == 2
    listed = alerts.list_alerts(store)
    assert listed["fired_at"].is_monotonic_decreasing and len(listed) == 4
    assert alerts.unread_count(store) == 4
    assert alerts.acknowledge(store, MANAGER, [first[0].alert_id]) == 1
    assert alerts.unread_count(store) == 3
    assert first[0].alert_id not in set(alerts.list_alerts(store, unread_only=True)["alert_id"])
    assert alerts.acknowledge(store, MANAGER) == 3
    assert alerts.unread_count(store) == 0
    row = alerts.list_alerts(store).iloc[0]
    assert row["acked_by"] == "mgr" and pd.notna(row["acked_at"])


# --------------------------------------------------------------------------- delivery
@pytest.fixture
def receiver() -> Iterator[SimpleNamespace]:
    """A webhook on 127.0.0.1 that records each POST and answers the queued statuses, then 200."""
    got: list[tuple[str, str, bytes]] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, self.headers["Content-Type"], body))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(
        url=f"http://127.0.0.1:{server.server_port}/hook", got=got, statuses=statuses
    )
    server.shutdown()
    server.server_close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailBox:
    """An aiosmtpd handler that keeps every envelope."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def mail_server() -> Iterator[SimpleNamespace]:
    box, port = MailBox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield SimpleNamespace(box=box, port=port)
    controller.stop()


def test_the_webhook_receives_the_alert_as_json(store, receiver):
    alert = fire(store, "complaint_rate", 14)[0]
    done = deliver(store, [alert.notice()], AlertSettings(webhook=receiver.url))
    assert [(a.channel, a.attempt, a.ok) for a in done] == [("webhook", 1, True)]
    path, content_type, body = receiver.got[0]
    assert path == "/hook" and content_type == "application/json; charset=utf-8"
    sent = json.loads(body.decode("utf-8"))
    assert sent["rule"] == {"id": alert.rule_id, "name": "投诉率 > 14%（30 天）"}
    assert (sent["metric"], sent["value"], sent["threshold"]) == ("complaint_rate", 15.0, 14.0)
    assert sent["subject"] == "product:信用卡" and sent["link"] == alert.link
    assert datetime.fromisoformat(sent["time"]) == NOW
    assert [(a.channel, a.ok) for a in delivery_log(store)] == [("webhook", True)]


def test_a_webhook_error_is_retried_and_each_attempt_logged(store, receiver):
    receiver.statuses += [503, 500]
    alert = fire(store, "complaint_rate", 14)[0]
    pauses: list[float] = []
    done = deliver(
        store, [alert.notice()], AlertSettings(webhook=receiver.url), sleep=pauses.append
    )
    assert [(a.attempt, a.ok) for a in done] == [(1, False), (2, False), (3, True)]
    assert "HTTP 503" in (done[0].error or "") and pauses == [1.0, 2.0]  # backoff doubles
    assert len(receiver.got) == 3
    assert alerts.list_alerts(store)["delivery"].iloc[0] == "Webhook ✓"


def test_a_client_error_is_not_retried(store, receiver):
    receiver.statuses.append(404)
    alert = fire(store, "complaint_rate", 14)[0]
    done = deliver(
        store, [alert.notice()], AlertSettings(webhook=receiver.url), sleep=lambda _: None
    )
    assert [(a.attempt, a.ok, a.error) for a in done] == [(1, False, "HTTP 404 Not Found")]


def test_the_mail_arrives_in_chinese_utf8(store, mail_server):
    alert = fire(store, "complaint_rate", 14)[0]
    cfg = AlertSettings(
        smtp_host="127.0.0.1",
        smtp_port=mail_server.port,
        smtp_from="bv@example.com",
        emails=("qa@example.com", "lead@example.com"),
    )
    done = deliver(store, [alert.notice()], cfg)
    assert [(a.channel, a.target, a.ok) for a in done] == [
        ("email", "qa@example.com, lead@example.com", True)
    ]
    envelope = mail_server.box.envelopes[0]
    assert envelope.mail_from == "bv@example.com"
    assert envelope.rcpt_tos == ["qa@example.com", "lead@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert msg["Subject"] == "【借款人之声告警】投诉率 > 14%（30 天）：产品「信用卡」"
    assert msg.get_content_charset() == "utf-8"
    body = msg.get_content()
    assert "产品「信用卡」投诉率 15.0%，超过阈值 14%" in body
    assert "时间：2026-06-30 12:00 CST" in body  # the display time zone


def test_webhook_and_mail_are_both_sent_and_a_refused_login_is_not_retried(
    store, receiver, mail_server
):
    alert = fire(store, "complaint_rate", 14)[0]
    cfg = AlertSettings(
        webhook=receiver.url,
        smtp_host="127.0.0.1",
        smtp_port=mail_server.port,
        emails=("qa@example.com",),
        smtp_user="bv",
        smtp_password="secret",
    )
    done = deliver(store, [alert.notice()], cfg, sleep=lambda _: None)
    # the test server offers no AUTH: the mail fails once and is not retried
    assert [(a.channel, a.attempt, a.ok) for a in done] == [
        ("webhook", 1, True),
        ("email", 1, False),
    ]
    assert "不支持" in (done[1].error or "")
    assert alerts.list_alerts(store)["delivery"].iloc[0] == "Webhook ✓，邮件 ✗"


# --------------------------------------------------------------------------- after an upload
COMPLAINTS = "回答内容\n你们天天打电话骚扰我家人，我要投诉！\n催收员态度很好\n".encode()


def test_a_dead_webhook_is_retried_and_logged_and_the_upload_is_stored(tmp_store, monkeypatch):
    from data.ingest import ingest_survey_bytes

    monkeypatch.setenv("BV_ALERT_WEBHOOK", f"http://127.0.0.1:{free_port()}/hook")
    monkeypatch.setattr(alert_delivery, "BACKOFF_S", 0.01)
    alerts.add_rule(tmp_store, ADMIN, "complaint_rate", 0, {"min_n": 1})
    result = ingest_survey_bytes(tmp_store, COMPLAINTS, "complaints.csv")
    assert wait_for_deliveries(30)
    assert tmp_store.scalar("SELECT count(*) FROM responses WHERE batch_id = ?", [result.batch_id])
    fired = alerts.list_alerts(tmp_store)
    assert len(fired) == 1 and fired["batch_id"].iloc[0] == result.batch_id
    log = delivery_log(tmp_store)
    assert [(a.channel, a.attempt, a.ok) for a in reversed(log)] == [
        ("webhook", 1, False),
        ("webhook", 2, False),
        ("webhook", 3, False),
    ]
    assert all("无法连接" in (a.error or "") for a in log)
    assert fired["delivery"].iloc[0] == "Webhook ✗"


def test_an_evaluation_error_never_undoes_an_upload(tmp_store, monkeypatch):
    from data.ingest import ingest_survey_bytes

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    alerts.add_rule(tmp_store, ADMIN, "complaint_rate", 0, {"min_n": 1})
    monkeypatch.setattr(alerts, "evaluate", broken)
    result = ingest_survey_bytes(tmp_store, COMPLAINTS, "complaints.csv")
    assert result.batch_id and result.rows == 2
    assert tmp_store.scalar("SELECT count(*) FROM responses") == 2
    assert alerts.list_alerts(tmp_store).empty


def test_demo_data_never_alerts(tmp_store):
    from data.batches import store_survey_batch
    from nlp.pipeline import score_frame

    alerts.add_rule(tmp_store, ADMIN, "complaint_rate", 0, {"min_n": 1})
    rows = pd.DataFrame({"text": ["我要投诉你们，天天骚扰", "谢谢"]})
    scored = score_frame(rows, "text", "lexicon")
    store_survey_batch(
        tmp_store, rows, scored, file_name="demo.csv", sha="d", uploaded_by="示例数据", is_demo=True
    )
    assert alerts.list_alerts(tmp_store).empty


# --------------------------------------------------------------------------- settings
def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BV_ALERT_EMAILS", "qa@example.com; lead@example.com")
    monkeypatch.setenv("BV_SMTP_PORT", "587")
    monkeypatch.setenv("BV_SMTP_PASSWORD", "secret")
    cfg = alert_settings()
    assert cfg.emails == ("qa@example.com", "lead@example.com")
    assert cfg.smtp_starttls and cfg.cooldown_h == 24.0 and "secret" not in repr(cfg)
    monkeypatch.setenv("BV_ALERT_COOLDOWN_H", "-1")
    with pytest.raises(ValueError, match="BV_ALERT_COOLDOWN_H"):
        alert_settings()


def test_the_admin_overrides_the_webhook_recipients_and_cool_down(tmp_store, monkeypatch):
    monkeypatch.setenv("BV_ALERT_WEBHOOK", "https://hooks.example.com/env")
    with pytest.raises(AlertRuleError, match="http:// 或 https://"):
        alerts.save_delivery_settings(tmp_store, ADMIN, {"webhook": "file:///etc/passwd"})
    with pytest.raises(AlertRuleError, match="不是有效的邮箱地址"):
        alerts.save_delivery_settings(tmp_store, ADMIN, {"emails": "qa@example.com, 张三"})
    with pytest.raises(AlertRuleError, match="小时数"):
        alerts.save_delivery_settings(tmp_store, ADMIN, {"cooldown_h": "一天"})
    with pytest.raises(AlertAccessDenied):
        alerts.save_delivery_settings(tmp_store, MANAGER, {"webhook": ""})
    cfg = alerts.save_delivery_settings(
        tmp_store, ADMIN, {"webhook": "", "emails": "qa@example.com", "cooldown_h": "6"}
    )
    assert (cfg.webhook, cfg.emails, cfg.cooldown_h) == ("", ("qa@example.com",), 6.0)
    cfg = alerts.save_delivery_settings(tmp_store, ADMIN, {"webhook": None})
    assert cfg.webhook == "https://hooks.example.com/env"  # back to the environment's
