"""Plotly figure builders: pure functions from query frames to figures (no streamlit).

Every clickable mark carries ``customdata`` so a selection maps back to its records.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from nlp.labels import EMOTION_NAMES_ZH, SENTIMENT_NAMES_ZH, TACTIC_NAMES_ZH, TACTICS

COLORS = {"negative": "#c8553d", "neutral": "#b8b8b0", "positive": "#3b8f6e"}
FONT = dict(family="Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", size=13)


def _layout(fig: go.Figure, height: int = 360, **kw) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=50),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend=dict(orientation="h", yanchor="top", y=-0.08, x=0),
        **kw,
    )
    return fig


def _sentiment_bar(
    fig: go.Figure, pol: str, pivot: pd.DataFrame, mark: str, amount: str, **bar
) -> None:
    """One polarity's bars; ``customdata`` = [row key, polarity, count] for the drill-down."""
    fig.add_bar(
        name=SENTIMENT_NAMES_ZH[pol],
        marker_color=COLORS[pol],
        customdata=[[k, pol, int(n)] for k, n in zip(pivot.index, pivot[pol], strict=True)],
        hovertemplate=f"{mark} · {SENTIMENT_NAMES_ZH[pol]}：{amount}<extra></extra>",
        **bar,
    )


def tactic_diverging(df: pd.DataFrame) -> go.Figure:
    """Diverging bars per tactic: negative to the left, positive to the right (% of mentions)."""
    if df.empty:
        return _layout(go.Figure())
    pivot = df.pivot_table(
        index="tactic", columns="polarity", values="n", aggfunc="sum", fill_value=0
    )
    for pol in COLORS:
        if pol not in pivot:
            pivot[pol] = 0
    pivot["total"] = pivot[list(COLORS)].sum(axis=1)
    pivot["neg_share"] = pivot["negative"] / pivot["total"]
    pivot = pivot.sort_values("neg_share")
    order = [t for t in pivot.index if t in TACTICS]
    pivot = pivot.loc[order]
    names = [TACTIC_NAMES_ZH.get(t, t) for t in pivot.index]
    fig = go.Figure()
    for pol, sign in (("negative", -1), ("neutral", 0), ("positive", 1)):
        share = pivot[pol] / pivot["total"]
        if pol == "neutral":  # split neutral around zero so the bar stays centred
            base = -share / 2
            x = share
        else:
            base = (
                -pivot["neutral"] / pivot["total"] / 2
                if sign < 0
                else (pivot["neutral"] / pivot["total"] / 2)
            )
            x = sign * share
        _sentiment_bar(
            fig,
            pol,
            pivot,
            "%{y}",
            "%{customdata[2]:,} 条",
            y=names,
            x=x,
            base=base,
            orientation="h",
        )
    fig.update_xaxes(tickformat=".0%", zeroline=True, zerolinecolor="#666", range=[-1, 1])
    totals = [f"{n:,} 条提及" for n in pivot["total"]]
    fig.add_trace(
        go.Scatter(
            y=names,
            x=[1.0] * len(names),
            mode="text",
            text=totals,
            textposition="middle left",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    return _layout(
        fig,
        height=60 + 38 * len(names),
        barmode="overlay",
        title=dict(text="各催收方式的借款人情感（← 负面 | 正面 →）", font=dict(size=14)),
    )


def trend_lines(df: pd.DataFrame) -> go.Figure:
    """Negative share and complaint rate by period, responses as faint bars."""
    fig = go.Figure()
    if df.empty:
        return _layout(fig)
    fig.add_bar(
        x=df["period"],
        y=df["n"],
        name="回答数",
        marker_color="#e4e7e5",
        yaxis="y2",
        hovertemplate="%{x|%Y-%m-%d}：%{y:,} 条<extra></extra>",
        customdata=df[["period"]].astype(str).to_numpy(),
    )
    fig.add_scatter(
        x=df["period"],
        y=df["negative_share"],
        name="负面占比",
        mode="lines+markers",
        line=dict(color=COLORS["negative"], width=3),
        customdata=df[["period"]].astype(str).to_numpy(),
        hovertemplate="%{x|%Y-%m-%d} 负面占比 %{y:.1%}<extra></extra>",
    )
    fig.add_scatter(
        x=df["period"],
        y=df["complaint_rate"],
        name="投诉率",
        mode="lines+markers",
        line=dict(color="#7a4e9c", width=2, dash="dot"),
        customdata=df[["period"]].astype(str).to_numpy(),
        hovertemplate="%{x|%Y-%m-%d} 投诉率 %{y:.1%}<extra></extra>",
    )
    fig.update_layout(
        yaxis=dict(tickformat=".0%", title=None, rangemode="tozero"),
        yaxis2=dict(overlaying="y", side="right", showgrid=False, title=None),
    )
    return _layout(fig, title=dict(text="负面占比与投诉率趋势", font=dict(size=14)))


def stacked_share(df: pd.DataFrame, title: str) -> go.Figure:
    """100% stacked bars of sentiment per value of a dimension."""
    fig = go.Figure()
    if df.empty:
        return _layout(fig)
    pivot = df.pivot_table(
        index="value", columns="sentiment", values="n", aggfunc="sum", fill_value=0
    )
    total = pivot.sum(axis=1)
    for pol in ("negative", "neutral", "positive"):
        if pol not in pivot:
            continue
        _sentiment_bar(
            fig,
            pol,
            pivot,
            "%{x}",
            "%{y:.0%}（%{customdata[2]:,} 条）",
            x=pivot.index,
            y=pivot[pol] / total,
        )
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, barmode="stack", title=dict(text=title, font=dict(size=14)))


def emotion_heatmap(df: pd.DataFrame) -> go.Figure:
    if df.empty:
        return _layout(go.Figure())
    pivot = df.pivot_table(
        index="tactic", columns="emotion", values="n", aggfunc="sum", fill_value=0
    )
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=[EMOTION_NAMES_ZH.get(e, e) for e in pivot.columns],
            y=[TACTIC_NAMES_ZH.get(t, t) for t in pivot.index],
            colorscale="OrRd",
            hovertemplate="%{y} · %{x}：%{z:,} 条<extra></extra>",
            customdata=[[[t, e] for e in pivot.columns] for t in pivot.index],
        )
    )
    return _layout(
        fig,
        height=80 + 34 * len(pivot),
        title=dict(text="各催收方式引发的情绪", font=dict(size=14)),
    )


def outcome_bars(df: pd.DataFrame, label_col: str, title: str) -> go.Figure:
    """Promise-to-pay rate per group, with call counts in the hover."""
    fig = go.Figure()
    if df.empty:
        return _layout(fig)
    fig.add_bar(
        x=df[label_col],
        y=df["promise_rate"],
        marker_color="#2f6f8f",
        text=[f"{r:.0%}" for r in df["promise_rate"]],
        textposition="outside",
        customdata=df[["calls"]].to_numpy(),
        hovertemplate="%{x}：承诺还款率 %{y:.1%}（%{customdata[0]:,} 通）<extra></extra>",
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(fig, height=320, title=dict(text=title, font=dict(size=14)))


def trajectory(points: list, title: str = "借款人情绪走势") -> go.Figure:
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
    return _layout(fig, height=240, title=dict(text=title, font=dict(size=14)))


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
