"""告警：预警规则触发的告警（最新在前，可确认）；系统管理员在此管理规则与通知方式。"""

import streamlit as st

from data import alerts
from pages import _alert_widgets as ui
from pages import _cache as cache
from pages import _session as session

who = session.require("view_dashboard")
if not alerts.may_view(who):
    st.error(f"角色「{who.role_name}」无权查看告警。")
    st.stop()
st.title("告警")
store = cache.store()
ui.flash()

unread_only = st.toggle("只看未确认", key="alerts_unread_only")
table = alerts.list_alerts(store, unread_only=unread_only)
st.caption(
    f"未确认 {alerts.unread_count(store)} 条；每次上传数据后按预警规则评估，"
    "同一规则对同一产品、坐席或批次在冷却时间内只告警一次。最新在前。"
)
if table.empty:
    st.info("没有未确认的告警。" if unread_only else "还没有告警。")
else:
    st.dataframe(
        ui.alerts_for_display(table),
        column_config=ui.ALERT_COLUMNS,
        hide_index=True,
        width="stretch",
        key="alerts_table",
    )
    ui.ack_controls(store, who, table)

if alerts.may_manage(who):
    st.divider()
    st.subheader("预警规则与通知")
    tab_rules, tab_new, tab_delivery = st.tabs(["规则", "添加规则", "通知设置"])
    with tab_rules:
        ui.rules_list(store, who)
    with tab_new:
        ui.rule_form(store, who)
    with tab_delivery:
        ui.delivery_form(store, who)
