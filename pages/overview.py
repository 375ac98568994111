"""总览：管理者五秒看懂各催收方式的借款人感受，并可点开任意柱子背后的记录。"""

import pandas as pd
import streamlit as st

from data.queries import BREAKDOWN_DIMENSIONS
from data.report import monthly_summary_html
from nlp.labels import REQUEST_NAMES_ZH, SENTIMENT_NAMES_ZH, TACTIC_NAMES_ZH
from pages import _charts as charts
from pages import _ui as ui

ui.require("view_dashboard")
st.title("借款人之声 · 总览")
ui.demo_banner()
f = ui.sidebar_filters()
k = ui.q("kpis", f)
cur, prev = k["current"], k["previous"] or {}


def delta(key: str, pct: bool = True):
    if prev.get(key) is None or cur.get(key) is None:
        return None
    d = cur[key] - prev[key]
    return f"{d * 100:+.1f} 个百分点" if pct else f"{d:+,.0f}"


cols = st.columns(6)
cols[0].metric("问卷回答", ui.fmt_int(cur["n"]), delta("n", pct=False), help="较上一同长周期")
cols[1].metric("通话", ui.fmt_int(cur["calls"]))
cols[2].metric(
    "负面占比", ui.fmt_pct(cur["negative_share"]), delta("negative_share"), delta_color="inverse"
)
cols[3].metric(
    "投诉率", ui.fmt_pct(cur["complaint_rate"]), delta("complaint_rate"), delta_color="inverse"
)
cols[4].metric(
    "平均满意度",
    ui.fmt_num(cur["csat"], 2),
    help=f"基于 {ui.fmt_int(cur['csat_n'])} 份评分 (1-5)；平均 NPS {ui.fmt_num(cur['nps'], 1)}",
)
cols[5].metric(
    "希望被理解/灵活还款",
    ui.fmt_pct(cur["wants_flexibility"]),
    help=f"提出「{REQUEST_NAMES_ZH['understanding']}」或「{REQUEST_NAMES_ZH['flexible_plan']}」"
    f"诉求的回答占比，基数 {ui.fmt_int(cur['n'])} 条（行业文章称 >70%）",
)

left, right = st.columns([3, 2])
with left:
    ev = st.plotly_chart(
        charts.tactic_diverging(ui.q("sentiment_by_tactic", f)),
        on_select="rerun",
        key="ov_tactic",
        width="stretch",
    )
with right:
    freq = st.segmented_control(
        "周期",
        ["month", "week"],
        default="month",
        key="ov_freq",
        format_func={"month": "按月", "week": "按周"}.get,
    )
    ev_trend = st.plotly_chart(
        charts.trend_lines(ui.q("trend", f, freq=freq or "month")),
        on_select="rerun",
        key="ov_trend",
        width="stretch",
    )

drill: dict = {}
for point in ev.selection.points if ev else []:
    if point.get("customdata"):
        drill = {"tactic": point["customdata"][0], "polarity": point["customdata"][1]}
for point in ev_trend.selection.points if ev_trend else []:
    drill = {"period": pd.Timestamp(point["x"]).date(), "freq": freq or "month"}

c1, c2 = st.columns(2)
with c1:
    dim = st.selectbox(
        "分组维度", list(BREAKDOWN_DIMENSIONS), key="ov_dim", format_func=BREAKDOWN_DIMENSIONS.get
    )
    ev_dim = st.plotly_chart(
        charts.stacked_share(
            ui.q("breakdown", f, dim=dim), f"按{BREAKDOWN_DIMENSIONS[dim]}的情感分布"
        ),
        on_select="rerun",
        key="ov_breakdown",
        width="stretch",
    )
    for point in ev_dim.selection.points if ev_dim else []:
        if point.get("customdata"):
            drill = {
                "dim": dim,
                "value": point["customdata"][0],
                "sentiment": point["customdata"][1],
            }
with c2:
    st.plotly_chart(
        charts.emotion_heatmap(ui.q("emotions_by_tactic", f)), width="stretch", key="ov_emotions"
    )

st.subheader("催收方式 → 结果")
o1, o2, o3 = st.columns(3)
plans = ui.q("plan_outcomes", f)
if not plans.empty:
    plans["label"] = plans["agent_offered_plan"].map({True: "提供了还款方案", False: "未提供方案"})
    o1.plotly_chart(
        charts.outcome_bars(plans, "label", "提供还款方案与承诺还款率"),
        width="stretch",
        key="ov_plans",
    )
viol = ui.q("violation_outcomes", f)
if not viol.empty:
    viol["label"] = viol["rule"].map(lambda r: ui.RULE_NAMES_ZH.get(r, r))
    o2.plotly_chart(
        charts.outcome_bars(viol, "label", "违规催收与承诺还款率"), width="stretch", key="ov_viol"
    )
csat = ui.q("csat_by_tactic", f)
if not csat.empty:
    tbl = csat.pivot_table(index="tactic", columns="polarity", values="csat").round(2)
    tbl.index = [TACTIC_NAMES_ZH.get(t, t) for t in tbl.index]
    tbl.columns = [SENTIMENT_NAMES_ZH.get(c, c) for c in tbl.columns]
    o3.markdown("**按催收体验的平均满意度 (1-5)**")
    o3.dataframe(tbl, width="stretch")

st.subheader("明细记录")
if drill:
    st.caption("已按所选图表元素筛选：" + "，".join(f"{k}={v}" for k, v in drill.items()))
else:
    st.caption("点击上方任一柱子或折线点，查看其背后的记录。下表为最新投诉。")
rows = ui.q("records", f, **drill) if drill else ui.q("records", f, complaint_only=True, limit=200)
table = ui.records_for_display(rows)
picked = st.dataframe(
    table,
    width="stretch",
    hide_index=True,
    key="ov_records",
    on_select="rerun",
    selection_mode="single-row",
)
if picked and picked.selection.rows:
    rec = rows.iloc[picked.selection.rows[0]]
    with st.container(border=True):
        st.markdown(
            f"**{ui.escape(rec['response_id'])}** · {ui.escape(rec['product'] or '')} · "
            f"{ui.escape(rec['region'] or '')}"
        )
        st.markdown(ui.highlighted_text(rec["text"]), unsafe_allow_html=True)
        st.caption(
            f"情感 {SENTIMENT_NAMES_ZH.get(rec['sentiment'])}（置信度 {rec['confidence']:.0%}）"
            f" · 催收方式 {ui.zh_aspects(rec['aspects']) or '—'}"
        )
ui.download_buttons(table, "借款人之声-明细", "ov_dl")
ui.keywords_panel(f, drill, rows)

with st.expander("月度摘要（可转发）"):
    months = pd.period_range(
        end=pd.Timestamp(f.date_to or pd.Timestamp.today()), periods=12, freq="M"
    )[::-1]
    month = st.selectbox(
        "月份", list(months), key="ov_month", format_func=lambda m: f"{m:%Y年%m月}"
    )
    st.download_button(
        "下载月度摘要 (HTML)",
        monthly_summary_html(ui.store(), month.to_timestamp().date(), f),
        f"借款人之声-{month}-月度摘要.html",
        "text/html",
        key="ov_report",
    )
