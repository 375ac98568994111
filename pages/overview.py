"""总览：管理者五秒看懂各催收方式的借款人感受，并可点开任意柱子背后的记录。"""

import streamlit as st

from data.queries import BREAKDOWN_DIMENSIONS
from nlp.labels import REQUEST_NAMES_ZH
from pages import _cache as cache
from pages import _charts as charts
from pages import _detail as detail
from pages import _format as fmt
from pages import _session as session
from pages import _widgets as widgets

session.require("view_dashboard")
st.title("借款人之声 · 总览")
widgets.demo_banner()
f = widgets.sidebar_filters()
k = cache.kpis(f)
cur, prev = k["current"], k["previous"] or {}

cols = st.columns(6)
n_delta = fmt.delta(cur, prev, "n", pct=False)
cols[0].metric("问卷回答", fmt.integer(cur["n"]), n_delta, help="较上一同长周期")
cols[1].metric("通话", fmt.integer(cur["calls"]))
neg, neg_delta = fmt.percent(cur["negative_share"]), fmt.delta(cur, prev, "negative_share")
cols[2].metric("负面占比", neg, neg_delta, delta_color="inverse")
rate, rate_delta = fmt.percent(cur["complaint_rate"]), fmt.delta(cur, prev, "complaint_rate")
cols[3].metric("投诉率", rate, rate_delta, delta_color="inverse")
cols[4].metric(
    "平均满意度",
    fmt.decimal(cur["csat"], 2),
    help=f"基于 {fmt.integer(cur['csat_n'])} 份评分 (1-5)；平均 NPS {fmt.decimal(cur['nps'], 1)}",
)
cols[5].metric(
    "希望被理解/灵活还款",
    fmt.percent(cur["wants_flexibility"]),
    help=f"提出「{REQUEST_NAMES_ZH['understanding']}」或「{REQUEST_NAMES_ZH['flexible_plan']}」"
    f"诉求的回答占比，基数 {fmt.integer(cur['n'])} 条（行业文章称 >70%）",
)

left, right = st.columns([3, 2])
with left:
    fig = charts.tactic_diverging(cache.sentiment_by_tactic(f))
    ev = st.plotly_chart(fig, on_select="rerun", key="ov_tactic", width="stretch")
with right:
    freq = st.segmented_control(
        "周期",
        ["month", "week"],
        default="month",
        key="ov_freq",
        format_func={"month": "按月", "week": "按周"}.get,
    )
    fig = charts.trend_lines(cache.trend(f, freq=freq or "month"))
    ev_trend = st.plotly_chart(fig, on_select="rerun", key="ov_trend", width="stretch")

c1, c2 = st.columns(2)
with c1:
    dim = st.selectbox(
        "分组维度", list(BREAKDOWN_DIMENSIONS), key="ov_dim", format_func=BREAKDOWN_DIMENSIONS.get
    )
    title = f"按{BREAKDOWN_DIMENSIONS[dim]}的情感分布"
    fig = charts.stacked_share(cache.breakdown(f, dim=dim), title)
    ev_dim = st.plotly_chart(fig, on_select="rerun", key="ov_breakdown", width="stretch")
with c2:
    fig = charts.emotion_heatmap(cache.emotions_by_tactic(f))
    st.plotly_chart(fig, width="stretch", key="ov_emotions")
drill = charts.drill_down(ev, ev_trend, ev_dim, freq=freq or "month", dim=dim)

st.subheader("催收方式 → 结果")
o1, o2, o3 = st.columns(3)
if not (plans := cache.plan_outcomes(f)).empty:
    fig = charts.outcome_bars(fmt.with_plan_label(plans), "label", "提供还款方案与承诺还款率")
    o1.plotly_chart(fig, width="stretch", key="ov_plans")
if not (viol := cache.violation_outcomes(f)).empty:
    fig = charts.outcome_bars(fmt.with_rule_label(viol), "label", "违规催收与承诺还款率")
    o2.plotly_chart(fig, width="stretch", key="ov_viol")
if not (csat := cache.csat_by_tactic(f)).empty:
    o3.markdown("**按催收体验的平均满意度 (1-5)**")
    o3.dataframe(fmt.csat_table(csat), width="stretch")

st.subheader("明细记录")
if drill:
    st.caption("已按所选图表元素筛选：" + "，".join(f"{k}={v}" for k, v in drill.items()))
else:
    st.caption("点击上方任一柱子或折线点，查看其背后的记录。下表为最新投诉。")
rows = cache.records(f, **drill) if drill else cache.records(f, complaint_only=True, limit=200)
table = fmt.records_for_display(rows)
if (picked := widgets.pick_row(table, "ov_records")) is not None:
    detail.record_card(rows.iloc[picked])
widgets.download_buttons(table, "借款人之声-明细", "ov_dl")
widgets.keywords_panel(f, drill, rows)
widgets.monthly_summary(f, key="ov")
