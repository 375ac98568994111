"""审计日志：谁在何时做了什么（上传、删除、复核、显示原文、登录、角色变更），可筛选、可导出。"""

from datetime import timedelta

import streamlit as st

from data import access
from data.settings import display_today
from pages import _cache as cache
from pages import _session as session
from pages import _widgets as widgets

actor = session.require("view_audit")
st.title("审计日志")
facets = access.audit_facets(cache.store(), actor)
c = st.columns([2, 2, 2, 3])
today = display_today()  # the audit dates are read in the display time zone
dates = c[0].date_input("日期范围", value=(today - timedelta(days=30), today), key="au_dates")
users = c[1].multiselect("用户", facets["actor"], key="au_users", placeholder="全部")
actions = c[2].multiselect(
    "操作",
    facets["action"],
    key="au_actions",
    placeholder="全部",
    format_func=lambda a: access.AUDIT_ACTIONS.get(a, a),
)
search = c[3].text_input("搜索对象或详情", key="au_search", placeholder="如：批次号、记录编号")
d_from, d_to = dates if isinstance(dates, tuple | list) and len(dates) == 2 else (None, None)

criteria = {
    "date_from": d_from,
    "date_to": d_to,
    "users": tuple(users),
    "actions": tuple(actions),
    "search": search or None,
}
page = widgets.pager(
    lambda offset, limit: access.audit_page(
        cache.store(), actor, **criteria, offset=offset, limit=limit
    ),
    "au_pg",
    reset_on=criteria,
    noun="记录",
    note="最新在前。",
)
table = access.audit_for_display(page.rows)
st.dataframe(table, hide_index=True, width="stretch", key="au_table")
widgets.download_buttons(table, "审计日志", "au_dl")
