"""Plotly figure builders: pure functions from query frames to figures (no streamlit).

Every clickable mark carries ``customdata`` so a selection maps back to its records.

Readability rules every builder follows: titles are not drawn inside the figure (the page puts
them above it, where they wrap and no toolbar covers them: ``TITLES``); categories with long
names go on the y axis of horizontal bars, so they are never rotated or cut; the sentiment
legend is always 负面 · 中性 · 正面 (``nlp.labels.SENTIMENTS``); every rate carries its base n
and a Wilson 95% interval, and a rate with n < ``data.stats.MIN_BASE`` is drawn pale.
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from data.stats import MIN_BASE, standardised_rate, with_interval
from nlp.labels import EMOTION_NAMES_ZH, EMOTIONS, SENTIMENT_NAMES_ZH, SENTIMENTS, TACTIC_NAMES_ZH

COLORS = {"negative": "#c8553d", "neutral": "#b8b8b0", "positive": "#3b8f6e"}
ORDER = tuple(SENTIMENTS)
"""The one legend and stacking order of sentiment: negative, neutral, positive."""
STAGE_COLORS = ("#9ecae1", "#4292c6", "#08519c", "#b8b8b0")
FONT = dict(family="Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", size=13)
SMALL_OPACITY = 0.35
BAR = "#2f6f8f"

CONFIG = {"displayModeBar": False, "displaylogo": False}
"""``st.plotly_chart(config=...)``: no plotly toolbar over the chart (Streamlit's own
full-screen button stays); clicking a mark still selects it."""

TITLES = {
    "tactic": "各催收方式的借款人情感（← 负面 | 正面 →）",
    "trend": "负面占比与投诉率趋势",
    "emotions": "各催收方式引发的情绪",
    "plans": "提供还款方案与承诺还款率",
    "violations": "违规催收与承诺还款率",
    "violations_by_stage": "违规催收与承诺还款率（按逾期阶段分层）",
    "trajectory": "借款人情绪走势",
}
BASE_NOTE = f"每个比率标注样本数 n 与 95% 置信区间（Wilson）；浅色 = 样本不足 {MIN_BASE}，区间很宽，仅供参考。"
STAGE_NOTE = (
    "分层：只在同一逾期阶段内比较违规与无违规通话，◆ 为按全部通话的阶段构成标准化的比率；"
    "分层后差异消失，即来自阶段构成，而非催收手法（各阶段 n 与区间见悬停提示）。"
)


def _layout(fig: go.Figure, height: int = 360, **kw) -> go.Figure:
    titled = bool((kw.get("title") or {}).get("text"))
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40 if titled else 10, b=10),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0, traceorder="normal"),
        **kw,
    )
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(automargin=True)
    return fig


def _natural(values) -> list:
    """Category values in natural order (M1, M2, M3+, M10; 未填写 last)."""

    def key(v):
        text = str(v)
        return (text == "未填写", [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)])

    return sorted(values, key=key)


def _pct(x: float) -> str:
    return "—" if pd.isna(x) else f"{x:.0%}"


def _interval(row) -> str:
    """「54%（95% 区间 47–60%，n=245）」, with the small-base warning."""
    if pd.isna(row["rate"]):
        return "无数据"
    text = f"{row['rate']:.0%}（95% 区间 {row['low']:.0%}–{row['high']:.0%}，n={int(row['n']):,}）"
    return text + (f"<br>样本不足 {MIN_BASE}，仅供参考" if row["small"] else "")


def _opacity(small) -> list[float]:
    return [SMALL_OPACITY if s else 1.0 for s in small]


def _sentiment_shares(pivot: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per polarity: rate, low, high, small, n for each row of a key × polarity count pivot."""
    for pol in ORDER:
        if pol not in pivot:
            pivot[pol] = 0
    total = pivot[list(ORDER)].sum(axis=1)
    return {
        pol: with_interval(pd.DataFrame({"k": pivot[pol], "n": total}), "k", "n") for pol in ORDER
    }


def _sentiment_bar(fig: go.Figure, pol: str, keys, share: pd.DataFrame, mark: str, **bar) -> None:
    """One polarity's bars; ``customdata`` = [row key, polarity, count, interval text]."""
    fig.add_bar(
        name=SENTIMENT_NAMES_ZH[pol],
        marker=dict(color=COLORS[pol], opacity=_opacity(share["small"])),
        customdata=[
            [k, pol, int(n), _interval(r)]
            for k, n, (_, r) in zip(keys, share["k"], share.iterrows(), strict=True)
        ],
        hovertemplate=f"{mark} · {SENTIMENT_NAMES_ZH[pol]}：%{{customdata[2]:,}} 条，"
        "占 %{customdata[3]}<extra></extra>",
        **bar,
    )


def _with_base(name: str, n: float, small: bool) -> str:
    return f"{name}（n={int(n):,}{'，样本少' if small else ''}）"


def tactic_diverging(df: pd.DataFrame) -> go.Figure:
    """Diverging bars per tactic: negative to the left, positive to the right (% of mentions);
    each tactic's label carries its number of mentions."""
    if df.empty:
        return _layout(go.Figure())
    pivot = df.pivot_table(
        index="tactic", columns="polarity", values="n", aggfunc="sum", fill_value=0
    )
    shares = _sentiment_shares(pivot)
    order = shares["negative"].set_axis(pivot.index)["rate"].sort_values().index
    pivot = pivot.loc[[t for t in order if t in TACTIC_NAMES_ZH]]
    shares = _sentiment_shares(pivot)
    total = shares["negative"]["n"]
    names = [
        _with_base(TACTIC_NAMES_ZH.get(t, t), n, n < MIN_BASE)
        for t, n in zip(pivot.index, total, strict=True)
    ]
    neutral_half = shares["neutral"]["rate"].to_numpy() / 2
    fig = go.Figure()
    for pol in ORDER:
        rate = shares[pol]["rate"].to_numpy()
        x, base = {
            "negative": (-rate, -neutral_half),
            "neutral": (rate, -neutral_half),  # split around zero so the bar stays centred
            "positive": (rate, neutral_half),
        }[pol]
        _sentiment_bar(
            fig, pol, pivot.index, shares[pol], "%{y}", y=names, x=x, base=base, orientation="h"
        )
    fig.update_xaxes(tickformat=".0%", zeroline=True, zerolinecolor="#666", range=[-1, 1])
    fig.update_yaxes(categoryorder="array", categoryarray=names)
    return _layout(fig, height=90 + 34 * len(names), barmode="overlay")


def trend_lines(df: pd.DataFrame) -> go.Figure:
    """Negative share and complaint rate by period (95% intervals as whiskers; a period with
    fewer than MIN_BASE answers as a pale open marker), answers as faint bars on the right
    axis."""
    fig = go.Figure()
    if df.empty:
        return _layout(fig)
    periods = df[["period"]].astype(str).to_numpy()
    fig.add_bar(
        x=df["period"],
        y=df["n"],
        name="回答数",
        marker_color="#e4e7e5",
        yaxis="y2",
        hovertemplate="%{x|%Y-%m-%d}：%{y:,} 条回答<extra></extra>",
        customdata=periods,
    )
    for count, name, line in (
        ("negatives", "负面占比", dict(color=COLORS["negative"], width=3)),
        ("complaints", "投诉率", dict(color="#7a4e9c", width=2, dash="dot")),
    ):
        rates = with_interval(df, count, "n")
        fig.add_scatter(
            x=df["period"],
            y=rates["rate"],
            name=name,
            mode="lines+markers",
            line=line,
            marker=dict(
                size=8,
                symbol=["circle-open" if s else "circle" for s in rates["small"]],
                opacity=_opacity(rates["small"]),
            ),
            error_y=dict(
                type="data",
                symmetric=False,
                array=(rates["high"] - rates["rate"]).to_numpy(),
                arrayminus=(rates["rate"] - rates["low"]).to_numpy(),
                thickness=1,
                width=0,
                color=line["color"],
            ),
            customdata=[
                [p[0], _interval(r)] for p, (_, r) in zip(periods, rates.iterrows(), strict=True)
            ],
            hovertemplate=f"%{{x|%Y-%m-%d}} {name} %{{customdata[1]}}<extra></extra>",
        )
    top = max(1, int(df["n"].max()))
    fig.update_layout(
        yaxis=dict(tickformat=".0%", title="占比", rangemode="tozero"),
        yaxis2=dict(
            overlaying="y",
            side="right",
            showgrid=False,
            title="回答数（条）",
            tickformat=",d",
            tickmode="auto",
            nticks=5,
            range=[0, top * 1.15],
            rangemode="tozero",
        ),
    )
    return _layout(fig, height=380)


def stacked_share(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """100% stacked horizontal bars of sentiment per value of a dimension; each value's label
    carries its number of answers (``title`` is for the page to show above the figure)."""
    fig = go.Figure()
    if df.empty:
        return _layout(fig)
    pivot = df.pivot_table(
        index="value", columns="sentiment", values="n", aggfunc="sum", fill_value=0
    )
    pivot = pivot.loc[_natural(pivot.index)]
    shares = _sentiment_shares(pivot)
    total = shares["negative"]["n"]
    names = [_with_base(str(v), n, n < MIN_BASE) for v, n in zip(pivot.index, total, strict=True)]
    for pol in ORDER:
        _sentiment_bar(
            fig,
            pol,
            pivot.index,
            shares[pol],
            "%{y}",
            y=names,
            x=shares[pol]["rate"],
            orientation="h",
        )
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1])
    return _layout(fig, height=90 + 34 * len(names), barmode="stack")


def emotion_heatmap(df: pd.DataFrame) -> go.Figure:
    """Answers per tactic × emotion, in the label vocabulary's order."""
    if df.empty:
        return _layout(go.Figure())
    pivot = df.pivot_table(
        index="tactic", columns="emotion", values="n", aggfunc="sum", fill_value=0
    )
    pivot = pivot.reindex(
        index=[t for t in TACTIC_NAMES_ZH if t in pivot.index],
        columns=[e for e in EMOTIONS if e in pivot.columns],
    )
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=[EMOTION_NAMES_ZH.get(e, e) for e in pivot.columns],
            y=[TACTIC_NAMES_ZH.get(t, t) for t in pivot.index],
            colorscale="OrRd",
            colorbar=dict(title="条", thickness=12),
            hovertemplate="%{y} · %{x}：%{z:,} 条<extra></extra>",
            customdata=[[[t, e] for e in pivot.columns] for t in pivot.index],
        )
    )
    fig.update_xaxes(tickangle=0, side="top")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=90 + 32 * len(pivot))


def outcome_bars(df: pd.DataFrame, label_col: str, title: str | None = None) -> go.Figure:
    """Promise-to-pay rate per group as horizontal bars with 95% whiskers; each label carries
    its number of calls and a group with fewer than MIN_BASE is pale (``promises`` of ``ptp_n``
    calls; ``title`` is for the page)."""
    fig = go.Figure()
    if df.empty:
        return _layout(fig)
    rates = with_interval(df.assign(n=df["ptp_n"]), "promises", "n")
    names = [
        _with_base(str(lab), n, s)
        for lab, n, s in zip(rates[label_col], rates["n"], rates["small"], strict=True)
    ]
    fig.add_bar(
        y=names,
        x=rates["rate"],
        orientation="h",
        marker=dict(color=BAR, opacity=_opacity(rates["small"])),
        error_x=_whiskers(rates),
        customdata=[
            [int(c), _interval(r)]
            for c, (_, r) in zip(rates["calls"], rates.iterrows(), strict=True)
        ],
        hovertemplate="%{y}：承诺还款率 %{customdata[1]}<extra></extra>",
        showlegend=False,
    )
    _rate_labels(fig, names, rates)
    return _layout(fig, height=70 + 34 * len(names))


def _rate_labels(fig: go.Figure, names: list[str], rates: pd.DataFrame) -> None:
    """Each rate as text just right of its whisker (never white text on a pale bar), the axis
    ticks every 25% and the bars in the given order, top to bottom."""
    fig.add_scatter(
        y=names,
        x=rates["high"].fillna(rates["rate"]) + 0.02,
        mode="text",
        text=[_pct(r) for r in rates["rate"]],
        textposition="middle right",
        textfont=dict(color=["#9aa0a6" if s else "#1f2a30" for s in rates["small"]]),
        hoverinfo="skip",
        showlegend=False,
    )
    fig.update_xaxes(tickformat=".0%", range=[0, 1.15], tickvals=[0, 0.25, 0.5, 0.75, 1])
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1])


def _whiskers(rates: pd.DataFrame) -> dict:
    return dict(
        type="data",
        symmetric=False,
        array=(rates["high"] - rates["rate"]).fillna(0).to_numpy(),
        arrayminus=(rates["rate"] - rates["low"]).fillna(0).to_numpy(),
        thickness=1.2,
        width=3,
        color="#444",
    )


def stage_standardised(df: pd.DataFrame, by: str = "rule") -> pd.Series:
    """Per ``by`` group: the promise-to-pay rate standardised to the stage mix of all calls
    (``violation_outcomes(by_stage=True)`` rows: rule, stage, promise_rate, stage_calls)."""
    weights = df.groupby("stage")["stage_calls"].first().to_dict()
    return pd.Series(
        {
            key: standardised_rate(dict(zip(g["stage"], g["promise_rate"], strict=True)), weights)
            for key, g in df.groupby(by, sort=False)
        },
        dtype=float,
    )


def outcome_by_stage(df: pd.DataFrame, label_col: str) -> go.Figure:
    """Promise-to-pay rate per group within each overdue stage (grouped horizontal bars with 95%
    whiskers, pale when n < MIN_BASE), and ◆ the stage-standardised rate per group."""
    fig = go.Figure()
    if df.empty:
        return _layout(fig)
    rates = with_interval(df.assign(n=df["ptp_n"]), "promises", "n")
    order = rates.groupby(label_col, sort=False)["calls"].sum().sort_values(ascending=False)
    labels = list(order.index)
    stages = _natural(rates["stage"].unique())
    for i, stage in reversed(list(enumerate(stages))):  # horizontal groups draw bottom-up
        part = rates[rates["stage"] == stage].set_index(label_col).reindex(labels)
        part = part.dropna(subset=["n"]).astype({"small": bool})
        fig.add_bar(
            name=f"逾期 {stage}",
            legendrank=i,  # legend M1, M2, M3+ as the bars read top to bottom
            y=list(part.index),
            x=part["rate"],
            orientation="h",
            marker=dict(
                color=STAGE_COLORS[min(i, len(STAGE_COLORS) - 1)],
                opacity=_opacity(part["small"]),
            ),
            error_x=_whiskers(part),
            customdata=[[stage, _interval(r)] for _, r in part.iterrows()],
            hovertemplate="%{y} · 逾期 %{customdata[0]}：承诺还款率 %{customdata[1]}<extra></extra>",
        )
    std = stage_standardised(rates, label_col).reindex(labels)
    fig.add_scatter(
        name="按阶段构成标准化",
        legendrank=len(stages),
        y=labels,
        x=std.to_numpy(),
        mode="markers",
        marker=dict(symbol="diamond", size=10, color="#1f2a30"),
        hovertemplate="%{y}：阶段标准化承诺还款率 %{x:.0%}<extra></extra>",
    )
    fig.update_xaxes(tickformat=".0%", range=[0, 1], tickvals=[0, 0.25, 0.5, 0.75, 1])
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1])
    return _layout(
        fig, height=110 + 24 * len(labels) * (1 + rates["stage"].nunique()) // 2, barmode="group"
    )


def trajectory(points: list, title: str | None = None) -> go.Figure:
    """The borrower's sentiment per turn (the page shows ``TITLES["trajectory"]`` above it)."""
    fig = go.Figure()
    if points:
        x, y = zip(*points, strict=True)
        fig.add_scatter(
            x=list(x),
            y=list(y),
            mode="lines+markers",
            line=dict(color="#2f6f8f", width=2),
            marker=dict(size=8),
            hovertemplate="第 %{x} 轮：%{y:.2f}<extra></extra>",
        )
    fig.add_hline(y=0, line_color="#999", line_dash="dot")
    fig.update_yaxes(range=[-1.05, 1.05], title="情感分")
    fig.update_xaxes(title="对话轮次")
    return _layout(fig, height=240, title=dict(text=title, font=dict(size=14)) if title else None)


def confusion_heatmap(matrix: list[list[int]], labels: list[str], title: str) -> go.Figure:
    names = [SENTIMENT_NAMES_ZH.get(x, x) for x in labels]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=names,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="真实 %{y} → 预测 %{x}：%{z}<extra></extra>",
        )
    )
    fig.update_xaxes(title="预测")
    fig.update_yaxes(title="真实", autorange="reversed")
    return _layout(fig, height=320, title=dict(text=title, font=dict(size=14)))


def _points(event) -> list[dict]:
    return list(event.selection.points) if event else []


def drill_down(tactic_event, trend_event, breakdown_event, *, freq: str, dim: str) -> dict:
    """The overview's chart selections as ``records`` filters (tactic + polarity, a period, or a
    dimension value + sentiment); the last chart with a selection wins, {} when none."""
    drill: dict = {}
    for point in _points(tactic_event):
        if point.get("customdata"):
            drill = {"tactic": point["customdata"][0], "polarity": point["customdata"][1]}
    for point in _points(trend_event):
        drill = {"period": pd.Timestamp(point["x"]).date(), "freq": freq}
    for point in _points(breakdown_event):
        if point.get("customdata"):
            drill = {
                "dim": dim,
                "value": point["customdata"][0],
                "sentiment": point["customdata"][1],
            }
    return drill


def cell_css(min_rem: dict[str, float]) -> str:
    """A ``<style>`` that lets charts wrap: a ``st.container(key=f"{prefix}…")`` inside a
    horizontal container keeps at least ``min_rem[prefix]`` rem and shares the rest of the row,
    so two charts sit side by side at 1,440 px and stack at 800 px (Streamlit's own columns
    stack only below 640 px). Streamlit names a keyed container's class ``st-key-<key>``; its
    flex item is the layout wrapper around it."""
    rules = [
        f"[data-testid='stLayoutWrapper']:has(> [class*='st-key-{prefix}']) "
        f"{{ flex: 1 1 {rem}rem !important; min-width: min({rem}rem, 100%) !important; }}"
        for prefix, rem in min_rem.items()
    ]
    return "<style>" + "\n".join(rules) + "</style>"


def mood_timeline(contacts: pd.DataFrame) -> go.Figure:
    """One borrower's mood per contact (survey answers and calls), in time order.

    ``contacts`` is ``data.borrowers.timeline``: each point is a contact, its mood in [-1, 1]
    (below 0 is negative), marked by kind, with its risk flags in the hover text.
    """
    from nlp.labels import RISK_FLAG_NAMES_ZH

    fig = go.Figure()
    shown = contacts.dropna(subset=["mood"])
    fig.add_trace(
        go.Scatter(
            x=shown["contact_at"],
            y=shown["mood"],
            mode="lines",
            line=dict(color="#b8b8b0", width=1.5),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for kind, name, symbol in (("survey", "问卷", "circle"), ("call", "通话", "diamond")):
        part = shown[shown["kind"] == kind]
        flags = [
            "、".join(RISK_FLAG_NAMES_ZH.get(f, f) for f in fs) or "无" for fs in part["risk_flags"]
        ]
        fig.add_trace(
            go.Scatter(
                x=part["contact_at"],
                y=part["mood"],
                mode="markers",
                name=name,
                marker=dict(
                    symbol=symbol,
                    size=12,
                    color=[
                        COLORS["negative"] if m < 0 else COLORS["positive"] for m in part["mood"]
                    ],
                    line=dict(color="#333", width=[2 if f != "无" else 0 for f in flags]),
                ),
                customdata=list(zip(part["contact_id"], flags, strict=True)),
                hovertemplate="%{x|%Y-%m-%d %H:%M}<br>情绪 %{y:.2f}<br>风险：%{customdata[1]}"
                f"<extra>{name}</extra>",
            )
        )
    fig.add_hline(y=0, line=dict(color="#888", dash="dot", width=1))
    fig.update_layout(
        font=FONT,
        height=300,
        margin=dict(l=10, r=10, t=10, b=10),
        yaxis=dict(title="情绪（负 ← 0 → 正）", range=[-1.05, 1.05]),
        legend=dict(orientation="h", y=1.1),
    )
    return fig
