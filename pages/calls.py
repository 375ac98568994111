"""通话质检：逐通查看违规证据与借款人情绪走势，按坐席/团队看行为记分卡。"""

import json

import pandas as pd
import streamlit as st

from nlp.labels import SENTIMENT_NAMES_ZH, VIOLATION_NAMES_ZH
from pages import _charts as charts
from pages import _ui as ui

ui.require("view_calls")
st.title("通话质检")
ui.demo_banner()
f = ui.sidebar_filters()

tab_calls, tab_agents = st.tabs(["通话列表", "坐席记分卡"])
with tab_agents:
    card = ui.q("agent_scorecard", f)
    st.caption(
        "行为与结果并重：违规率、借款人情绪变化（结束减开始）、方案提供率与承诺还款率。"
        "选中一行查看该坐席的通话。"
    )
    show = pd.DataFrame(
        {
            "坐席": card["agent_id"],
            "姓名": card["agent_name"],
            "团队": card["team"],
            "通话数": card["calls"],
            "每百通违规": card["violations_per_100"].round(1),
            "情绪变化": card["sentiment_change"].round(2),
            "方案提供率": (card["plan_rate"] * 100).round(0),
            "承诺还款率": (card["promise_rate"] * 100).round(0),
        }
    )
    pick = st.dataframe(
        show,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="cl_agents",
        column_config={
            "方案提供率": st.column_config.NumberColumn(format="%d%%"),
            "承诺还款率": st.column_config.NumberColumn(format="%d%%"),
        },
    )
    ui.download_buttons(show, "坐席记分卡", "cl_agents_dl")
    if pick and pick.selection.rows:
        st.session_state["cl_agent"] = card.iloc[pick.selection.rows[0]]["agent_id"]

with tab_calls:
    c = st.columns(3)
    agents = [None, *sorted(ui.q("agent_scorecard", f)["agent_id"].dropna())]
    agent = c[0].selectbox(
        "坐席", agents, key="cl_agent", format_func=lambda v: "全部" if v is None else v
    )
    rule = c[1].selectbox(
        "违规类型",
        [None, *VIOLATION_NAMES_ZH],
        key="cl_rule",
        format_func=lambda v: "全部" if v is None else VIOLATION_NAMES_ZH[v],
    )
    only_bad = c[2].toggle("只看有违规的通话", key="cl_only_bad")
    calls = ui.q("calls_table", f, agent=agent, rule=rule)
    if only_bad:
        calls = calls[calls["n_violations"] > 0]
    view = pd.DataFrame(
        {
            "开始时间": pd.to_datetime(calls["started_at"]).dt.strftime("%Y-%m-%d %H:%M"),
            "通话": calls["call_id"],
            "坐席": calls["agent_id"],
            "团队": calls["team"],
            "违规": calls["violations"].map(lambda v: ui.zh_list(v, VIOLATION_NAMES_ZH)),
            "情绪(开始→结束)": [
                f"{SENTIMENT_NAMES_ZH.get(a, '—')} → {SENTIMENT_NAMES_ZH.get(b, '—')}"
                for a, b in zip(
                    calls["borrower_sentiment_start"], calls["borrower_sentiment_end"], strict=True
                )
            ],
            "提供方案": calls["agent_offered_plan"].map({True: "是", False: ""}),
            "承诺还款": calls["promise_to_pay"].map({True: "是", False: ""}),
        }
    )
    st.caption(f"{len(view):,} 通电话。选中一行查看对话。")
    sel = st.dataframe(
        view,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="cl_table",
    )
    ui.download_buttons(view, "通话列表", "cl_dl")
    if sel and sel.selection.rows:
        call = calls.iloc[sel.selection.rows[0]]
        st.divider()
        st.subheader(f"通话 {ui.escape(call['call_id'])} · 坐席 {ui.escape(call['agent_id'])}")
        evidence = json.loads(call["evidence"]) if isinstance(call["evidence"], str) else []
        for e in [e for e in evidence if e.get("turn") is None]:
            st.warning(f"{VIOLATION_NAMES_ZH.get(e['rule'], e['rule'])}：{e['explanation']}")
        turns = ui.revealed_call_turns(call["call_id"], key="cl_reveal")
        left, right = st.columns([3, 2])
        with left:
            st.markdown(ui.conversation_html(turns, evidence), unsafe_allow_html=True)
        with right:
            borrower = turns[turns["speaker"] == "borrower"]
            points = [
                (int(t), float(s))
                for t, s in zip(borrower["turn_index"], borrower["sentiment_score"], strict=True)
            ]
            st.plotly_chart(charts.trajectory(points), width="stretch", key="cl_traj")
