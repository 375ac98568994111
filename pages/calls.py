"""通话质检：逐通查看违规证据与借款人情绪走势、坐席记分卡（研究员只见本人上传的批次，脱敏只读）。"""

import streamlit as st

from data import access
from nlp.labels import VIOLATION_NAMES_ZH
from pages import _cache as cache
from pages import _charts as charts
from pages import _detail as detail
from pages import _format as fmt
from pages import _html as html
from pages import _session as session
from pages import _widgets as widgets

who = session.require("view_calls")
st.title("通话质检")
widgets.demo_banner()
f = access.calls_filters(cache.store(), who, widgets.sidebar_filters())
if access.own_uploads_only(who, "view_calls"):
    st.info("研究员视图：只显示您本人上传的通话批次，个人信息已脱敏，只读。", icon="🔎")
if f is None:
    st.info("您还没有上传过通话批次（或所选批次都不是您上传的）。请先在「数据上传」页上传通话。")
    st.stop()

tab_calls, tab_agents = st.tabs(["通话列表", "坐席记分卡"])
with tab_agents:
    card = cache.agent_scorecard(f)
    st.caption(
        "行为与结果并重：违规率、借款人情绪变化（结束减开始）、方案提供率与承诺还款率"
        "（附 95% 区间；通话不足 30 通的坐席显示为灰色，比率仅供参考）。选中一行查看该坐席的通话。"
    )
    show = fmt.scorecard_with_base(card)
    percent = {
        "方案提供率": "{:.0f}%",
        "承诺还款率": "{:.0f}%",
        "每百通违规": "{:.1f}",
        "情绪变化": "{:.2f}",
    }
    picked = widgets.pick_row(fmt.grey_small_rows(show, "通话数", percent), "cl_agents")
    widgets.download_buttons(show, "坐席记分卡", "cl_agents_dl")
    if picked is not None:
        st.session_state["cl_agent"] = card.iloc[picked]["agent_id"]

with tab_calls:
    c = st.columns(3)
    agents = sorted(cache.agent_scorecard(f)["agent_id"].dropna())
    agent = widgets.optional_select(c[0], "坐席", {a: a for a in agents}, "cl_agent", url="agent")
    rule = widgets.optional_select(c[1], "违规类型", VIOLATION_NAMES_ZH, "cl_rule", url="rule")
    widgets.seed_from_url("cl_only_bad", widgets.url_value("bad", ["1"]) and True)
    only_bad = c[2].toggle("只看有违规的通话", key="cl_only_bad")
    widgets.page_url({"agent": agent, "rule": rule, "bad": widgets.flag(only_bad)})
    page = widgets.pager(
        lambda offset, limit: cache.calls_page(
            f, agent=agent, rule=rule, violations_only=only_bad, offset=offset, limit=limit
        ),
        "cl_pg",
        reset_on=(agent, rule, only_bad, f),
        unit="通",
        noun="电话",
        note="选中一行查看对话。",
    )
    calls = page.rows
    view = fmt.calls_for_display(calls)
    # the key carries the filters and the page, so a selection never moves to another call
    picked = widgets.pick_row(
        view, "cl_table_" + str(abs(hash((agent, rule, only_bad, str(f), page.offset))))
    )
    widgets.download_buttons(view, "通话列表", "cl_dl")
    if picked is not None:
        call = calls.iloc[picked]
        st.divider()
        st.subheader(f"通话 {html.escape(call['call_id'])} · 坐席 {html.escape(call['agent_id'])}")
        evidence = fmt.evidence_list(call["evidence"])
        st.caption(fmt.call_facts(call))
        detail.call_level_banners(evidence)  # start time, frequency; turn findings in the chat
        turns = detail.revealed_call_turns(call["call_id"], key="cl_reveal")
        left, right = st.columns([3, 2])
        left.markdown(html.conversation_html(turns, evidence), unsafe_allow_html=True)
        trajectory = charts.trajectory(fmt.borrower_trajectory(turns))
        right.markdown(f"**{charts.TITLES['trajectory']}**")
        right.plotly_chart(trajectory, width="stretch", key="cl_traj", config=charts.CONFIG)
