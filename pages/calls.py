"""通话质检：逐通查看违规证据与借款人情绪走势，按坐席/团队看行为记分卡。"""

import streamlit as st

from nlp.labels import VIOLATION_NAMES_ZH
from pages import _cache as cache
from pages import _charts as charts
from pages import _detail as detail
from pages import _format as fmt
from pages import _html as html
from pages import _session as session
from pages import _widgets as widgets

session.require("view_calls")
st.title("通话质检")
widgets.demo_banner()
f = widgets.sidebar_filters()

tab_calls, tab_agents = st.tabs(["通话列表", "坐席记分卡"])
with tab_agents:
    card = cache.agent_scorecard(f)
    st.caption(
        "行为与结果并重：违规率、借款人情绪变化（结束减开始）、方案提供率与承诺还款率。"
        "选中一行查看该坐席的通话。"
    )
    show = fmt.scorecard_for_display(card)
    percent = st.column_config.NumberColumn(format="%d%%")
    picked = widgets.pick_row(
        show, "cl_agents", column_config={"方案提供率": percent, "承诺还款率": percent}
    )
    widgets.download_buttons(show, "坐席记分卡", "cl_agents_dl")
    if picked is not None:
        st.session_state["cl_agent"] = card.iloc[picked]["agent_id"]

with tab_calls:
    c = st.columns(3)
    agents = sorted(cache.agent_scorecard(f)["agent_id"].dropna())
    agent = widgets.optional_select(c[0], "坐席", {a: a for a in agents}, "cl_agent")
    rule = widgets.optional_select(c[1], "违规类型", VIOLATION_NAMES_ZH, "cl_rule")
    only_bad = c[2].toggle("只看有违规的通话", key="cl_only_bad")
    calls = cache.calls_table(f, agent=agent, rule=rule)
    if only_bad:
        calls = calls[calls["n_violations"] > 0]
    view = fmt.calls_for_display(calls)
    st.caption(f"{len(view):,} 通电话。选中一行查看对话。")
    picked = widgets.pick_row(view, "cl_table")
    widgets.download_buttons(view, "通话列表", "cl_dl")
    if picked is not None:
        call = calls.iloc[picked]
        st.divider()
        st.subheader(f"通话 {html.escape(call['call_id'])} · 坐席 {html.escape(call['agent_id'])}")
        evidence = fmt.evidence_list(call["evidence"])
        for e in [e for e in evidence if e.get("turn") is None]:
            st.warning(f"{VIOLATION_NAMES_ZH.get(e['rule'], e['rule'])}：{e['explanation']}")
        turns = detail.revealed_call_turns(call["call_id"], key="cl_reveal")
        left, right = st.columns([3, 2])
        left.markdown(html.conversation_html(turns, evidence), unsafe_allow_html=True)
        trajectory = charts.trajectory(fmt.borrower_trajectory(turns))
        right.plotly_chart(trajectory, width="stretch", key="cl_traj")
