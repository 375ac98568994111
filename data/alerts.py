"""Early-warning alerts: admin-defined rules over metrics, evaluated after every upload.

A rule names a metric of ``data.alert_metrics.METRICS``, a threshold and the metric's
parameters. :func:`evaluate` computes each enabled rule's readings and fires an alert for every
reading above the threshold, unless the same rule fired for the same condition (its
``condition_key``, such as ``product:信用贷``) within the cool-down: the rule's own, else
``BV_ALERT_COOLDOWN_H`` (24 h). Fired alerts are stored, listed on the 告警 page (the unread
count is in the navigation) and sent by ``data.alert_delivery``. ``data.batches`` calls
:func:`evaluate_after_ingest` once a batch is committed; it never raises.

The functions that change something take the acting user (``data.auth.Actor``: anything with
``user``, ``role`` and ``role_name``; this module cannot import ``data.auth``, which reaches
the ingest path through the inbox). Example::

    rule = add_rule(store, admin, "complaint_rate", "15", {"product": "信用贷"})
    fired = evaluate(store)  # [Alert(...)] when 信用贷's 30-day complaint rate is above 15%
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd

from data.alert_delivery import (
    Attempt,
    Notice,
    amount,
    check_webhook_url,
    deliver,
    deliver_in_background,
)
from data.alert_metrics import METRICS, Metric, Param, Reading, Window
from data.settings import AlertSettings, alert_settings, cooldown_hours, settings, split_emails
from data.store import Store, new_id, now

log = logging.getLogger(__name__)

#: roles that see alerts; only an admin manages rules and delivery settings
VIEW_ROLES = frozenset({"admin", "manager", "qa"})
MANAGE_ROLES = frozenset({"admin"})


class AlertRuleError(ValueError):
    """A rule or a delivery setting is refused; the message names what is wrong (Chinese)."""


class AlertAccessDenied(PermissionError):
    """The actor's role may not do this; the message is safe to show."""


class Actor(Protocol):
    """Who is acting (``data.auth.Actor``)."""

    @property
    def user(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def role_name(self) -> str: ...


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class AlertRule:
    """A stored rule. ``params`` holds every parameter of its metric (defaults filled in)."""

    rule_id: str
    name: str
    metric: str
    threshold: float
    params: dict
    cooldown_h: float | None
    enabled: bool
    created_by: str
    created_at: datetime


def known_products(store: Store) -> list[str]:
    """Products of the stored survey answers."""
    return store.query(
        "SELECT DISTINCT product FROM responses WHERE product IS NOT NULL ORDER BY 1"
    )["product"].tolist()


def known_agents(store: Store) -> list[str]:
    """Agent ids of the stored calls."""
    return store.query("SELECT DISTINCT agent_id FROM calls WHERE agent_id IS NOT NULL ORDER BY 1")[
        "agent_id"
    ].tolist()


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise AlertRuleError(f"{what}「{value}」不是数字")
    text = unicodedata.normalize("NFKC", str(value)).strip().rstrip("%").strip()
    if not text:
        raise AlertRuleError(f"请填写{what}")
    try:
        number = float(text)
    except ValueError:
        raise AlertRuleError(f"{what}「{value}」不是数字") from None
    if not math.isfinite(number):
        raise AlertRuleError(f"{what}「{value}」不是有限的数字")
    return number


def _choices(values: list[str]) -> str:
    if not values:
        return "尚无数据"
    shown = "、".join(values[:10])
    return f"现有：{shown}" + (f" 等 {len(values)} 个" if len(values) > 10 else "")


def _check_param(store: Store, param: Param, value: object) -> object:
    if value is None or (isinstance(value, str) and not value.strip()):
        return param.default
    if param.kind == "int":
        number = _number(value, param.label)
        if number != int(number) or not param.lo <= number <= param.hi:
            raise AlertRuleError(f"{param.label}「{value}」应为 {param.lo}–{param.hi:,} 之间的整数")
        return int(number)
    name = str(value).strip()
    known = known_products(store) if param.kind == "product" else known_agents(store)
    if name not in known:
        what = "产品" if param.kind == "product" else "坐席"
        where = "问卷" if param.kind == "product" else "通话"
        raise AlertRuleError(f"{what}「{name}」不在已导入的{where}数据中（{_choices(known)}）")
    return name


def validate_rule(
    store: Store, metric: str, threshold: object, params: Mapping[str, object] | None = None
) -> tuple[Metric, float, dict]:
    """The metric, the threshold as a number and the full parameters of a proposed rule.

    Raises:
        AlertRuleError: unknown metric or parameter, a threshold that is not a number, is
            negative or out of range, or a product / agent not in the data.
    """
    m = METRICS.get(str(metric).strip())
    if m is None:
        names = "、".join(f"{x.label}（{x.name}）" for x in METRICS.values())
        raise AlertRuleError(f"未知指标「{metric}」，可选：{names}")
    value = _number(threshold, "阈值")
    if value < 0:
        raise AlertRuleError(f"阈值不能为负数（{value:g}）：{m.threshold_help}")
    if m.max_threshold is not None and value > m.max_threshold:
        raise AlertRuleError(
            f"阈值 {value:g} 超出范围：{m.label}的阈值应在 0–{amount(m.max_threshold, m.unit)}之间"
        )
    if m.integer_threshold and value != int(value):
        raise AlertRuleError(f"阈值 {value:g} 应为整数（{m.unit}）：{m.threshold_help}")
    given = dict(params or {})
    allowed = {p.name: p for p in m.params}
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        labels = "、".join(p.label for p in m.params)
        raise AlertRuleError(f"指标「{m.label}」没有参数 {', '.join(unknown)}（可用：{labels}）")
    checked = {name: _check_param(store, p, given.get(name)) for name, p in allowed.items()}
    return m, value, checked


def describe(metric: Metric, threshold: float, params: Mapping[str, object]) -> str:
    """A rule's default name, e.g. 「投诉率 > 15%（信用贷，30 天）」."""
    scope = [str(params[k]) for k in ("product", "agent") if params.get(k)]
    if "period_days" in params and metric.name != "self_harm":
        scope.append(f"{params['period_days']} 天")
    suffix = f"（{'，'.join(scope)}）" if scope else ""
    return f"{metric.label} > {amount(threshold, metric.unit)}{suffix}"


def _require(actor: Actor, roles: frozenset[str], what: str) -> None:
    if actor.role not in roles:
        raise AlertAccessDenied(f"角色「{actor.role_name}」无权{what}")


def may_view(actor: Actor) -> bool:
    return actor.role in VIEW_ROLES


def may_manage(actor: Actor) -> bool:
    return actor.role in MANAGE_ROLES


def add_rule(
    store: Store,
    actor: Actor,
    metric: str,
    threshold: object,
    params: Mapping[str, object] | None = None,
    *,
    name: str | None = None,
    cooldown_h: object = None,
) -> AlertRule:
    """Validate and store a rule (admin only). Raises AlertRuleError with the reason."""
    _require(actor, MANAGE_ROLES, "管理告警规则")
    m, value, checked = validate_rule(store, metric, threshold, params)
    hours = None
    if cooldown_h is not None and str(cooldown_h).strip():
        try:
            hours = cooldown_hours(str(cooldown_h))
        except ValueError as exc:
            raise AlertRuleError(str(exc)) from None
    rule = AlertRule(
        new_id("rule"),
        (name or "").strip() or describe(m, value, checked),
        m.name,
        value,
        checked,
        hours,
        True,
        actor.user,
        now(),
    )
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO alert_rules VALUES (?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
            [
                *(rule.rule_id, rule.name, rule.metric, value),
                *(json.dumps(checked, ensure_ascii=False), hours, actor.user, rule.created_at),
            ],
        )
        store.audit(actor.user, "alert_rule_add", rule.rule_id, {"name": rule.name}, cur=cur)
    return rule


def delete_rule(store: Store, actor: Actor, rule_id: str) -> None:
    """Remove a rule (admin only); the alerts it fired stay in the list."""
    _require(actor, MANAGE_ROLES, "管理告警规则")
    with store.transaction() as cur:
        row = cur.execute("SELECT name FROM alert_rules WHERE rule_id = ?", [rule_id]).fetchone()
        if row is None:
            raise AlertRuleError(f"规则 {rule_id} 不存在")
        cur.execute("DELETE FROM alert_rules WHERE rule_id = ?", [rule_id])
        store.audit(actor.user, "alert_rule_delete", rule_id, {"name": row[0]}, cur=cur)


def list_rules(store: Store, enabled_only: bool = False) -> list[AlertRule]:
    """Every rule, oldest first."""
    where = "WHERE enabled" if enabled_only else ""
    frame = store.query(f"SELECT * FROM alert_rules {where} ORDER BY created_at, rule_id")
    return [
        AlertRule(
            r.rule_id,
            r.name,
            r.metric,
            float(r.threshold),
            json.loads(r.params),
            None if pd.isna(r.cooldown_h) else float(r.cooldown_h),
            bool(r.enabled),
            r.created_by,
            r.created_at,
        )
        for r in frame.itertuples()
    ]


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Alert:
    """A fired alert (a row of ``alerts``)."""

    alert_id: str
    rule_id: str
    rule_name: str
    metric: str
    condition_key: str
    subject: str
    value: float
    threshold: float
    message: str
    link: str
    batch_id: str | None
    fired_at: datetime

    def notice(self) -> Notice:
        """What ``data.alert_delivery`` sends about this alert."""
        m = METRICS.get(self.metric)
        return Notice(
            self.alert_id,
            self.rule_id,
            self.rule_name,
            self.metric,
            m.label if m else self.metric,
            self.condition_key,
            self.subject,
            self.value,
            self.threshold,
            m.unit if m else "",
            self.fired_at,
            self.link,
            self.message,
        )


def _message(m: Metric, rule: AlertRule, r: Reading) -> str:
    return (
        f"{r.subject}{m.label} {amount(r.value, m.unit, '.1f')}，"
        f"超过阈值 {amount(rule.threshold, m.unit)}"
        f"（{r.detail}）"
    )


def evaluate(store: Store, now: datetime | None = None, batch_id: str | None = None) -> list[Alert]:
    """Evaluate every enabled rule; store and return the alerts that fire.

    Args:
        now: the evaluation time (default: now); periods end on its local day.
        batch_id: the batch just stored: per-batch metrics (self_harm) look at it alone.

    A rule that fails to compute is logged and skipped; the others still run.
    """
    at = pd.Timestamp(now or _now())
    at = (at.tz_localize("UTC") if at.tzinfo is None else at).to_pydatetime()
    w = Window(at, batch_id, settings().display_tz)
    default_cd = delivery_settings(store).cooldown_h
    candidates: list[tuple[AlertRule, Metric, Reading]] = []
    for rule in list_rules(store, enabled_only=True):
        m = METRICS.get(rule.metric)
        if m is None:
            log.warning("alert rule %s names an unknown metric %s", rule.rule_id, rule.metric)
            continue
        try:
            params = {p.name: rule.params.get(p.name, p.default) for p in m.params}
            readings = m.compute(store, w, params)
        except Exception:
            log.exception("alert rule %s could not be evaluated", rule.rule_id)
            continue
        # rounded: 40% - 10% is 30.000000000000004 points, which is not above a threshold of 30
        readings = [replace(r, value=round(r.value, 6)) for r in readings]
        candidates += [(rule, m, r) for r in readings if r.value > rule.threshold]
    fired: list[Alert] = []
    if not candidates:
        return fired
    with store.transaction() as cur:
        for rule, m, r in candidates:
            hours = default_cd if rule.cooldown_h is None else rule.cooldown_h
            last = cur.execute(
                "SELECT max(fired_at) FROM alerts WHERE rule_id = ? AND condition_key = ?",
                [rule.rule_id, r.key],
            ).fetchone()[0]
            if last is not None and last > at - timedelta(hours=hours):
                continue  # cooling down: this condition alerted recently
            alert = Alert(
                new_id("alert"),
                rule.rule_id,
                rule.name,
                m.name,
                r.key,
                r.subject,
                float(r.value),
                rule.threshold,
                _message(m, rule, r),
                r.link,
                batch_id,
                at,
            )
            cur.execute(
                "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                [getattr(alert, f) for f in Alert.__dataclass_fields__],
            )
            fired.append(alert)
    return fired


def _now() -> datetime:
    return now()


def evaluate_after_ingest(store: Store, batch_id: str, **delivery_options) -> list[Alert]:
    """Called once a batch is committed: evaluate the rules, send new alerts in the background.

    Never raises: an upload is stored whatever happens here (errors are logged).
    """
    try:
        if not store.scalar("SELECT count(*) FROM alert_rules WHERE enabled"):
            return []
        fired = evaluate(store, batch_id=batch_id)
        _send(store, fired, **delivery_options)
        return fired
    except Exception:
        log.exception("alert evaluation after batch %s failed", batch_id)
        return []


def evaluate_now(store: Store, actor: Actor) -> list[Alert]:
    """Evaluate every rule now (the admin's button); new alerts are sent in the background."""
    _require(actor, MANAGE_ROLES, "手动评估告警规则")
    fired = evaluate(store)
    _send(store, fired)
    return fired


def _send(store: Store, fired: list[Alert], **delivery_options) -> None:
    if fired:
        cfg = delivery_settings(store)
        deliver_in_background(store, [a.notice() for a in fired], cfg, **delivery_options)


def send_test(store: Store, actor: Actor) -> list[Attempt]:
    """Send a test alert on every configured channel now and return the attempts (logged
    like real ones, under a ``test-`` id). Nothing is stored in the alert list."""
    _require(actor, MANAGE_ROLES, "发送测试告警")
    at = now()
    notice = Notice(
        new_id("test"),
        "test",
        "测试告警",
        "test",
        "测试",
        "test:1",
        "通知设置",
        1.0,
        0.0,
        "",
        at,
        "/alerts",
        f"这是{actor.user}从「告警」页发送的测试告警：收到即表示通知设置可用。",
    )
    return deliver(store, [notice], delivery_settings(store))


# --------------------------------------------------------------------------- the alert list
_DELIVERY = """
    SELECT alert_id, string_agg(CASE channel WHEN 'webhook' THEN 'Webhook' ELSE '邮件' END
                                || CASE WHEN ok THEN ' ✓' ELSE ' ✗' END, '，' ORDER BY channel DESC)
                     AS delivery
    FROM (SELECT alert_id, channel, bool_or(ok) AS ok FROM alert_deliveries GROUP BY ALL)
    GROUP BY alert_id
"""


def list_alerts(store: Store, *, unread_only: bool = False, limit: int = 500) -> pd.DataFrame:
    """Alerts newest first, with ``delivery`` (e.g. 「Webhook ✓，邮件 ✗」, None if unsent)."""
    where = "WHERE a.acked_at IS NULL" if unread_only else ""
    return store.query(
        f"""SELECT a.*, d.delivery FROM alerts a LEFT JOIN ({_DELIVERY}) d USING (alert_id)
            {where} ORDER BY a.fired_at DESC, a.alert_id LIMIT ?""",
        [limit],
    )


def unread_count(store: Store) -> int:
    """Alerts nobody has acknowledged yet (the badge)."""
    return int(store.scalar("SELECT count(*) FROM alerts WHERE acked_at IS NULL") or 0)


def acknowledge(store: Store, actor: Actor, alert_ids: list[str] | None = None) -> int:
    """Mark alerts read (``None`` = every unread one). Returns how many changed."""
    _require(actor, VIEW_ROLES, "确认告警")
    with store.transaction() as cur:
        ids = cur.execute(
            "SELECT alert_id FROM alerts WHERE acked_at IS NULL AND "
            "(?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], alert_id))",
            [alert_ids, alert_ids],
        ).fetchall()
        ids = [i[0] for i in ids]
        if ids:
            cur.execute(
                "UPDATE alerts SET acked_at = ?, acked_by = ? "
                "WHERE alert_id IN (SELECT UNNEST(?::VARCHAR[]))",
                [now(), actor.user, ids],
            )
            store.audit(actor.user, "alert_ack", "", {"alerts": len(ids)}, cur=cur)
    return len(ids)


# --------------------------------------------------------------------------- delivery settings
_OVERRIDABLE = ("webhook", "emails", "cooldown_h")


def delivery_settings(store: Store) -> AlertSettings:
    """The environment's alert settings with the admin page's overrides applied."""
    base = alert_settings()
    saved = dict(
        store.query("SELECT key, value FROM alert_settings").itertuples(index=False, name=None)
    )
    changes: dict[str, object] = {}
    if "webhook" in saved:
        changes["webhook"] = saved["webhook"]
    if "emails" in saved:
        changes["emails"] = split_emails(saved["emails"])
    if "cooldown_h" in saved:
        changes["cooldown_h"] = float(saved["cooldown_h"])
    return replace(base, **changes)


def save_delivery_settings(
    store: Store, actor: Actor, values: Mapping[str, str | None]
) -> AlertSettings:
    """Override ``webhook``, ``emails`` and/or ``cooldown_h`` (None = back to the environment's
    value; "" = off for webhook/emails). Raises AlertRuleError for an invalid value."""
    _require(actor, MANAGE_ROLES, "修改告警通知设置")
    checked: dict[str, str | None] = {}
    for key, value in values.items():
        if key not in _OVERRIDABLE:
            raise AlertRuleError(f"没有名为 {key} 的告警设置（可改：{'、'.join(_OVERRIDABLE)}）")
        text = None if value is None else str(value).strip()
        try:
            if text and key == "webhook":
                text = check_webhook_url(text)
            elif text and key == "emails":
                bad = [e for e in split_emails(text) if "@" not in e.strip("@")]
                if bad:
                    raise ValueError(f"收件人「{bad[0]}」不是有效的邮箱地址")
                text = ",".join(split_emails(text))
            elif key == "cooldown_h" and text is not None:
                text = str(cooldown_hours(text or "?"))
        except ValueError as exc:
            raise AlertRuleError(str(exc)) from None
        checked[key] = text
    with store.transaction() as cur:
        for key, text in checked.items():
            cur.execute("DELETE FROM alert_settings WHERE key = ?", [key])
            if text is not None:
                cur.execute(
                    "INSERT INTO alert_settings VALUES (?, ?, ?, ?)", [key, text, actor.user, now()]
                )
        store.audit(actor.user, "alert_settings", "", {"changed": sorted(checked)}, cur=cur)
    return delivery_settings(store)
