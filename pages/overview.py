"""总览：业务主管五秒看懂各催收方式的借款人感受，并可点开任意柱子背后的记录。"""

import streamlit as st

from data.queries import BREAKDOWN_DIMENSIONS
from pages import _cache as cache
from pages import _cards as cards
from pages import _charts as charts
from pages import _detail as detail
from pages import _format as fmt
from pages import _model_versions as versions
from pages import _session as session
from pages import _widgets as widgets

who = session.require("view_dashboard")
st.title("借款人之声 · 总览")
widgets.demo_banner()
f = widgets.sidebar_filters()
widgets.overview_from_url()
widgets.overview_kpis(cache.kpis(f))
st.caption(versions.version_caption())
if who.can("handle_warnings"):
    cards.warning_counts(cache.case_counts())
st.html(charts.cell_css({"ov_wide": 26, "ov_cell": 22}))

with st.container(horizontal=True):
    with st.container(key="ov_wide_tactic"):
        st.markdown(f"**{charts.TITLES['tactic']}**")
        fig = charts.tactic_diverging(cache.sentiment_by_tactic(f))
        st.plotly_chart(fig, on_select=widgets.drill_changed, key="ov_tactic", config=charts.CONFIG)
    with st.container(key="ov_wide_trend"):
        st.markdown(f"**{charts.TITLES['trend']}**")
        freq = st.segmented_control(
            "周期",
            ["month", "week"],
            default="month",
            key="ov_freq",
            format_func={"month": "按月", "week": "按周"}.get,
            label_visibility="collapsed",
        )
        fig = charts.trend_lines(cache.trend(f, freq=freq or "month"))
        st.plotly_chart(fig, on_select=widgets.drill_changed, key="ov_trend", config=charts.CONFIG)

with st.container(horizontal=True):
    with st.container(key="ov_cell_breakdown"):
        dim = st.selectbox(
            "分组维度",
            list(BREAKDOWN_DIMENSIONS),
            key="ov_dim",
            format_func=BREAKDOWN_DIMENSIONS.get,
        )
        st.markdown(f"**按{BREAKDOWN_DIMENSIONS[dim]}的情感分布**")
        fig = charts.stacked_share(cache.breakdown(f, dim=dim))
        st.plotly_chart(
            fig, on_select=widgets.drill_changed, key="ov_breakdown", config=charts.CONFIG
        )
    with st.container(key="ov_cell_emotions"):
        st.markdown(f"**{charts.TITLES['emotions']}**")
        fig = charts.emotion_heatmap(cache.emotions_by_tactic(f))
        st.plotly_chart(fig, key="ov_emotions", config=charts.CONFIG)
drill = widgets.drill_still_shown(st.session_state["ov_drill"], freq=freq or "month", dim=dim)

st.subheader("催收方式 → 结果")
by_stage = st.toggle(
    "按逾期阶段分层",
    key="ov_by_stage",
    help="在同一逾期阶段（M1/M2/M3+）内比较，避免阶段构成不同造成的假象",
)
st.caption(charts.BASE_NOTE)
widgets.overview_to_url(freq=freq or "month", dim=dim, by_stage=by_stage, drill=drill)
with st.container(horizontal=True):
    if not (plans := cache.plan_outcomes(f)).empty:
        with st.container(key="ov_cell_plans"):
            st.markdown(f"**{charts.TITLES['plans']}**")
            fig = charts.outcome_bars(fmt.with_plan_label(plans), "label")
            st.plotly_chart(fig, key="ov_plans", config=charts.CONFIG)
    if not (viol := cache.violation_outcomes(f, by_stage=by_stage)).empty:
        with st.container(key="ov_cell_viol"):
            st.markdown(f"**{charts.TITLES['violations' + ('_by_stage' if by_stage else '')]}**")
            if by_stage:
                st.caption(charts.STAGE_NOTE)
            chart = charts.outcome_by_stage if by_stage else charts.outcome_bars
            st.plotly_chart(
                chart(fmt.with_rule_label(viol), "label"), key="ov_viol", config=charts.CONFIG
            )
if not (csat := cache.csat_by_tactic(f)).empty:
    st.markdown("**按催收体验的平均满意度 (1-5)**（括号内为评分数，灰色 = 不足 30 份）")
    st.dataframe(fmt.csat_with_base(csat))

st.subheader("明细记录")
if drill:
    st.caption(fmt.drill_caption(drill, cache.records_page(f, limit=1, **drill).total))
else:
    st.caption("点击上方任一柱子或折线点，查看其背后的记录。下表为最新投诉。")
criteria = drill or {"complaint_only": True}
page = widgets.pager(
    lambda offset, limit: cache.records_page(f, **criteria, offset=offset, limit=limit),
    "ov_pg",
    reset_on=(criteria, f),
    noun="记录",
    note="选中一行查看详情。",
)
rows = page.rows
table = fmt.records_for_display(rows)
# the key carries the selection and the page, so a selected row never moves to another record
table_key = "ov_records_" + str(abs(hash((repr(criteria), str(f), page.offset))))
if (picked := widgets.pick_row(table, table_key)) is not None:
    detail.record_card(rows.iloc[picked])
widgets.download_buttons(table, "借款人之声-明细", "ov_dl")
widgets.keywords_panel(f, drill, cache.records(f, **criteria))  # newest 500: a keyword sample
widgets.monthly_summary(f, key="ov")
