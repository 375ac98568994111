"""Widget groups of the 告警 page, and its navigation entry with the unread count.

Widget keys are prefixed ``alerts_``. The data layer (``data.alerts``) checks the role again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import alerts
from data.alert_delivery import CHANNELS, amount, channels, delivery_log
from data.alert_metrics import METRICS
from data.auth import Actor
from data.settings import AlertSettings, format_display_time
from data.store import Store
from pages import _cache as cache

PAGE = "pages/alerts.py"
ALERT_COLUMNS = {
    "时间": st.column_config.TextColumn(width="small"),
    "说明": st.column_config.TextColumn(width="large"),
    "查看": st.column_config.LinkColumn(display_text="打开"),
}


def nav_page(who: Actor) -> st.Page | None:
    """告警 for the roles that see alerts, its title carrying the unread count (「告警 (3)」),
    which the sidebar also shows while it is not zero. None for the other roles."""
    if not alerts.may_view(who):
        return None
    unread = alerts.unread_count(cache.store())
    if unread:
        st.sidebar.caption(f"🔔 {unread} 条告警未确认")
    return st.Page(PAGE, title=f"告警 ({unread})" if unread else "告警", icon="🔔")


def flash(message: str | None = None) -> None:
    """Show the message the previous run left (no argument), or leave one and rerun."""
    if message is None:
        if shown := st.session_state.pop("alerts_flash", None):
            st.success(shown)
        return
    st.session_state["alerts_flash"] = message
    st.rerun()


# --------------------------------------------------------------------------- the list
def alerts_for_display(table: pd.DataFrame) -> pd.DataFrame:
    """Fired alerts with Chinese columns, times in the display time zone."""
    units = {name: m.unit for name, m in METRICS.items()}
    return pd.DataFrame(
        {
            "时间": format_display_time(table["fired_at"]),
            "规则": table["rule_name"],
            "对象": table["subject"],
            "数值": [
                amount(v, units.get(m, ""), ".1f")
                for v, m in zip(table["value"], table["metric"], strict=True)
            ],
            "说明": table["message"],
            "送达": table["delivery"].fillna("—"),
            "状态": [
                f"已确认（{by}）" if pd.notna(at) else "未确认"
                for at, by in zip(table["acked_at"], table["acked_by"], strict=True)
            ],
            "查看": table["link"],
        }
    )


def ack_controls(store: Store, who: Actor, table: pd.DataFrame) -> None:
    """Acknowledge the chosen unread alerts, or all of them."""
    unread = table[table["acked_at"].isna()]
    if unread.empty:
        return
    labels = dict(
        zip(
            unread["alert_id"],
            format_display_time(unread["fired_at"]) + " " + unread["rule_name"],
            strict=True,
        )
    )
    c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="bottom")
    picked = c1.multiselect(
        "选择要确认的告警", list(labels), format_func=labels.get, key="alerts_ack_pick"
    )
    if c2.button("确认所选", key="alerts_ack", disabled=not picked):
        flash(f"已确认 {alerts.acknowledge(store, who, picked)} 条告警。")
    if c3.button("全部确认", key="alerts_ack_all"):
        flash(f"已确认 {alerts.acknowledge(store, who)} 条告警。")


# --------------------------------------------------------------------------- rules (admin)
def rules_table(rules: list[alerts.AlertRule]) -> pd.DataFrame:
    """Rules with Chinese columns."""
    return pd.DataFrame(
        {
            "名称": [r.name for r in rules],
            "指标": [METRICS[r.metric].label if r.metric in METRICS else r.metric for r in rules],
            "阈值": [amount(r.threshold, _unit(r.metric)) for r in rules],
            "参数": [_params_text(r) for r in rules],
            "冷却（小时）": [
                "默认" if r.cooldown_h is None else f"{r.cooldown_h:g}" for r in rules
            ],
            "创建者": [r.created_by for r in rules],
            "创建时间": [format_display_time(r.created_at) for r in rules],
        }
    )


def _unit(metric: str) -> str:
    return METRICS[metric].unit if metric in METRICS else ""


def _params_text(rule: alerts.AlertRule) -> str:
    m = METRICS.get(rule.metric)
    if m is None:
        return ""
    parts = [f"{p.label.split('（')[0]}：{rule.params.get(p.name) or '全部'}" for p in m.params]
    return "；".join(parts)


def rules_list(store: Store, who: Actor) -> None:
    """The rules, deleting one, and evaluating them now."""
    rules = alerts.list_rules(store)
    if not rules:
        st.info("还没有预警规则：在「添加规则」中添加。没有规则时，上传数据不会产生告警。")
        return
    st.dataframe(rules_table(rules), hide_index=True, width="stretch", key="alerts_rules")
    names = {r.rule_id: r.name for r in rules}
    c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="bottom")
    doomed = c1.selectbox("选择规则", list(names), format_func=names.get, key="alerts_rule_pick")
    if c2.button("删除规则", key="alerts_rule_delete") and doomed:
        alerts.delete_rule(store, who, doomed)
        flash(f"已删除规则「{names[doomed]}」。")
    if c3.button("立即评估", key="alerts_evaluate", help="按当前数据评估全部规则"):
        fired = alerts.evaluate_now(store, who)
        flash(f"评估完成：新触发 {len(fired)} 条告警。" if fired else "评估完成：没有新告警。")


def rule_form(store: Store, who: Actor) -> None:
    """Add a rule: metric, threshold, its parameters; a refused rule shows why."""
    metric = st.selectbox(
        "指标", list(METRICS), format_func=lambda n: METRICS[n].label, key="alerts_new_metric"
    )
    m = METRICS[metric]
    st.caption(m.threshold_help)
    threshold = st.text_input(
        f"阈值（{m.unit}）", value=f"{m.default_threshold:g}", key=f"alerts_new_threshold_{metric}"
    )
    params: dict[str, object] = {}
    for p in m.params:
        key = f"alerts_new_{metric}_{p.name}"
        if p.kind in ("product", "agent"):
            known = (
                alerts.known_products(store) if p.kind == "product" else alerts.known_agents(store)
            )
            params[p.name] = st.selectbox(
                p.label, ["", *known], format_func=lambda v: v or "（全部，分别计算）", key=key
            )
        else:
            params[p.name] = st.number_input(
                p.label, min_value=p.lo, max_value=p.hi, value=p.default, step=1, key=key
            )
    c1, c2 = st.columns(2)
    name = c1.text_input("规则名称", key="alerts_new_name", placeholder="留空则自动生成")
    cooldown = c2.text_input(
        "冷却时间（小时）", key="alerts_new_cooldown", placeholder="留空 = 默认"
    )
    if st.button("添加规则", type="primary", key="alerts_add"):
        try:
            rule = alerts.add_rule(
                store, who, metric, threshold, params, name=name, cooldown_h=cooldown
            )
        except alerts.AlertRuleError as exc:
            st.error(str(exc))
        else:
            flash(f"已添加规则「{rule.name}」。")


# --------------------------------------------------------------------------- delivery (admin)
def settings_table(cfg: AlertSettings) -> pd.DataFrame:
    """The delivery settings in effect (the password left out, the webhook's query hidden)."""
    targets = dict(channels(cfg))
    rows = {
        "Webhook": targets.get("webhook", "（未设置）"),
        "收件人": ", ".join(cfg.emails) or "（未设置）",
        "SMTP 服务器": f"{cfg.smtp_host}:{cfg.smtp_port}" if cfg.smtp_host else "（未设置）",
        "发件人": cfg.smtp_from,
        "STARTTLS": "是" if cfg.smtp_starttls else "否",
        "SMTP 登录": cfg.smtp_user or "（不登录）",
        "冷却时间": f"{cfg.cooldown_h:g} 小时",
    }
    return pd.DataFrame({"设置": list(rows), "当前值": list(rows.values())})


def delivery_form(store: Store, who: Actor) -> None:
    """Delivery settings: override the webhook, recipients and cool-down; send a test."""
    try:
        cfg = alerts.delivery_settings(store)
    except ValueError as exc:  # a malformed BV_SMTP_PORT / BV_ALERT_COOLDOWN_H
        st.error(f"告警通知设置有误：{exc}")
        return
    st.caption(
        "默认来自环境变量（BV_ALERT_WEBHOOK、BV_ALERT_EMAILS、BV_SMTP_*、BV_ALERT_COOLDOWN_H）；"
        "SMTP 服务器与密码只能通过环境变量设置。"
    )
    st.dataframe(settings_table(cfg), hide_index=True, width="stretch", key="alerts_settings")
    with st.form("alerts_delivery"):
        webhook = st.text_input(
            "Webhook 地址（留空 = 不发送）", value=cfg.webhook, key="alerts_webhook"
        )
        emails = st.text_input(
            "收件人（逗号分隔）", value=", ".join(cfg.emails), key="alerts_emails"
        )
        cooldown = st.text_input("冷却时间（小时）", value=f"{cfg.cooldown_h:g}", key="alerts_cd")
        c1, c2 = st.columns(2)
        save = c1.form_submit_button("保存", type="primary")
        reset = c2.form_submit_button("恢复为环境变量设置")
    values = {"webhook": webhook, "emails": emails, "cooldown_h": cooldown} if save else None
    if reset:
        values = {"webhook": None, "emails": None, "cooldown_h": None}
    if values is not None:
        try:
            alerts.save_delivery_settings(store, who, values)
        except alerts.AlertRuleError as exc:
            st.error(str(exc))
        else:
            flash("通知设置已保存。")
    if st.button("发送测试告警", key="alerts_test", disabled=not channels(cfg)):
        with st.spinner("正在发送……"):
            tries = alerts.send_test(store, who)
        for channel, target in channels(cfg):
            mine = [t for t in tries if t.channel == channel]
            if any(t.ok for t in mine):
                st.success(f"{CHANNELS[channel]}（{target}）发送成功。")
            else:
                st.error(f"{CHANNELS[channel]}（{target}）发送失败：{mine[-1].error}")
    log_table(store)


def log_table(store: Store) -> None:
    """The newest delivery attempts."""
    log = delivery_log(store, limit=100)
    if not log:
        return
    st.markdown("**发送记录**（最近 100 次尝试）")
    table = pd.DataFrame(
        {
            "时间": [format_display_time(a.at) for a in log],
            "渠道": [CHANNELS.get(a.channel, a.channel) for a in log],
            "目标": [a.target for a in log],
            "第几次": [a.attempt for a in log],
            "结果": ["成功" if a.ok else "失败" for a in log],
            "错误": [a.error or "" for a in log],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", key="alerts_log")
