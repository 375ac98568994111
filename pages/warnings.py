"""预警：需要人工跟进的借款人（自伤风险、经济困难、健康、投诉升级、失联），按严重程度与时间排序。"""

import streamlit as st

from data import warnings
from data.warnings import STATUSES
from nlp.labels import RISK_FLAG_NAMES_ZH
from pages import _borrower as borrower_view
from pages import _cache as cache
from pages import _format as fmt
from pages import _session as session
from pages import _widgets as widgets

who = session.require("handle_warnings")
st.title("预警")
widgets.demo_banner()
warnings.sync_cases(cache.store())  # idempotent: catches up if an ingest could not

counts = cache.case_counts()
cols = st.columns(len(RISK_FLAG_NAMES_ZH) + 1)
cols[0].metric("未关闭个案", fmt.integer(counts["total"]))
for col, (flag, name) in zip(cols[1:], RISK_FLAG_NAMES_ZH.items(), strict=True):
    col.metric(name, fmt.integer(counts[flag]))
if counts["self_harm"]:
    st.error(f"有 {counts['self_harm']} 位借款人表达了轻生念头，请立即安排专人联系。", icon="🚨")

tab_queue, tab_person = st.tabs(["预警队列", "借款人视图"])
with tab_queue:
    c = st.columns([2, 3])
    flag = widgets.optional_select(c[0], "风险类型", RISK_FLAG_NAMES_ZH, "wn_flag", url="flag")
    shown = c[1].multiselect(
        "状态",
        list(STATUSES),
        default=["new", "in_progress"],
        format_func=STATUSES.get,
        key="wn_status",
    )
    queue = cache.case_queue(tuple(shown), flag, who.can("reveal_pii"))
    st.caption("按严重程度、最近接触时间排序；选中一行处理个案并查看该借款人的全部接触。")
    picked = widgets.pick_row(borrower_view.cases_for_display(queue), "wn_table")
    if picked is not None:
        st.divider()
        borrower_view.case_form(cache.store(), who, queue.iloc[picked])

with tab_person:
    widgets.seed_from_url("wn_bid", widgets.url_value("borrower"))
    bid = st.text_input("借款人ID", key="wn_bid", placeholder="如：B900001")
    falling = cache.falling_borrowers()
    if not falling.empty:
        st.caption("情绪持续走低的借款人：" + "、".join(falling["borrower_id"].head(12)))
    if bid.strip():
        widgets.page_url({"borrower": bid.strip()})
        borrower_view.show(bid.strip(), who.can("reveal_pii"))
