"""Readability and rates with their base: the figure builders (pure) and the pages (AppTest).

What a browser shows at 1,440 and 800 px was checked with headless chromium; here the rules
behind it are pinned: no title or toolbar inside a figure, long category names on the y axis,
one sentiment legend order, integer counts on the trend's right axis, every rate with n and a
95% interval, small bases pale, and a stratified view of the outcome by overdue stage.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data.stats import MIN_BASE
from nlp.labels import SENTIMENT_NAMES_ZH, SENTIMENTS
from pages import _charts as charts
from pages import _format as fmt

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
LEGEND = [SENTIMENT_NAMES_ZH[s] for s in SENTIMENTS]  # 负面, 中性, 正面
PRODUCTS = ["个人消费贷", "信用卡分期", "企业经营贷", "汽车金融分期贷款", "小微企业主经营周转贷",
            "住房装修消费分期", "教育培训分期付款", "农户生产经营贷款"]  # fmt: skip


def _sentiment_counts(key: str, values: list[str], n: int = 40) -> pd.DataFrame:
    rows = [(v, s, n + i) for i, v in enumerate(values) for s in reversed(SENTIMENTS)]
    return pd.DataFrame(rows, columns=[key, "sentiment" if key == "value" else "polarity", "n"])


def _legend(fig) -> list[str]:
    return [t.name for t in fig.data if t.type == "bar" and t.showlegend is not False]


# --------------------------------------------------------------------------- figure builders
def test_every_sentiment_chart_has_the_same_legend_order() -> None:
    tactic = charts.tactic_diverging(_sentiment_counts("tactic", ["sms", "home_visit"]))
    share = charts.stacked_share(_sentiment_counts("value", ["M3+", "M1"]))
    assert _legend(tactic) == _legend(share) == LEGEND
    for fig in (tactic, share):
        assert fig.layout.legend.traceorder == "normal"  # not reversed for stacked bars


def test_eight_long_product_names_sit_on_the_y_axis_in_full_with_their_base() -> None:
    fig = charts.stacked_share(_sentiment_counts("value", PRODUCTS[::-1], n=5))
    bars = [t for t in fig.data if t.type == "bar"]
    assert {t.orientation for t in bars} == {"h"}
    labels = list(bars[0].y)
    assert len(labels) == 8 and all(any(p in lab for p in PRODUCTS) for lab in labels)
    assert all("n=" in lab for lab in labels)
    assert fig.layout.height >= 34 * 8  # grows with the number of categories
    assert fig.layout.yaxis.automargin


def test_stage_values_are_in_natural_order() -> None:
    fig = charts.stacked_share(_sentiment_counts("value", ["M3+", "未填写", "M10", "M2", "M1"]))
    order = [lab.split("（")[0] for lab in fig.layout.yaxis.categoryarray[::-1]]
    assert order == ["M1", "M2", "M3+", "M10", "未填写"]


def test_figures_carry_no_title_and_the_page_shows_no_plotly_toolbar() -> None:
    trend = pd.DataFrame(
        {
            "period": pd.to_datetime(["2026-01-01", "2026-02-01"]),
            "n": [347, 12],
            "negative_share": [0.5, 0.25],
            "complaint_rate": [0.2, 0.0],
            "negatives": [173.5, 3],
            "complaints": [69.4, 0],
        }
    )
    figs = [
        charts.trend_lines(trend),
        charts.tactic_diverging(_sentiment_counts("tactic", ["sms"])),
        charts.emotion_heatmap(pd.DataFrame({"tactic": ["sms"], "emotion": ["anger"], "n": [3]})),
        charts.trajectory([(1, 0.2), (2, -0.4)]),
    ]
    assert all(not f.layout.title.text for f in figs)
    assert charts.CONFIG["displayModeBar"] is False
    assert charts.TITLES["trajectory"] and charts.TITLES["trend"]


def test_the_trend_right_axis_has_a_title_and_integer_ticks() -> None:
    trend = pd.DataFrame(
        {
            "period": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
            "n": [347, 260, 12],
            "negative_share": [0.5, 0.25, 0.5],
            "complaint_rate": [0.2, 0.1, 0.0],
            "negatives": [173.5, 65, 6],
            "complaints": [69.4, 26, 0],
        }
    )
    fig = charts.trend_lines(trend)
    assert fig.layout.yaxis2.title.text == "回答数（条）"
    assert fig.layout.yaxis2.tickformat == ",d" and fig.layout.yaxis2.tickmode == "auto"
    negative = next(t for t in fig.data if t.name == "负面占比")
    assert negative.error_y.array[0] > 0 and negative.error_y.arrayminus[0] > 0
    assert list(negative.marker.symbol) == ["circle", "circle", "circle-open"]  # n=12 < 30
    assert "n=12" in negative.customdata[2][1] and "样本不足" in negative.customdata[2][1]


def test_outcome_bars_show_n_an_interval_and_pale_small_groups() -> None:
    df = pd.DataFrame(
        {
            "label": ["无违规", "超频次通话"],
            "calls": [245, 8],
            "promises": [133, 5],
            "ptp_n": [245, 8],
        }
    )
    fig = charts.outcome_bars(df, "label")
    bar = fig.data[0]
    assert list(bar.y) == ["无违规（n=245）", "超频次通话（n=8，样本少）"]
    assert list(bar.marker.opacity) == [1.0, charts.SMALL_OPACITY]
    assert bar.error_x.arrayminus[1] > bar.error_x.arrayminus[0]  # wider for the small base
    assert "95% 区间" in bar.customdata[0][1] and f"样本不足 {MIN_BASE}" in bar.customdata[1][1]
    assert list(fig.data[1].text) == ["54%", "62%"]


def test_the_stage_view_shows_each_stage_and_the_standardised_rate() -> None:
    df = pd.DataFrame(
        {
            "label": ["威胁恐吓", "威胁恐吓", "无违规", "无违规"],
            "stage": ["M1", "M3+", "M1", "M3+"],
            "calls": [90, 10, 10, 90],
            "promises": [54, 2, 6, 18],
            "ptp_n": [90, 10, 10, 90],
            "promise_rate": [0.6, 0.2, 0.6, 0.2],
            "stage_calls": [100, 100, 100, 100],
        }
    )
    fig = charts.outcome_by_stage(df, "label")
    stages = [t for t in fig.data if t.type == "bar"]
    assert sorted(t.name for t in stages) == ["逾期 M1", "逾期 M3+"]
    m3 = next(t for t in stages if t.name == "逾期 M3+")
    assert list(m3.marker.opacity) == [charts.SMALL_OPACITY, 1.0]  # 威胁恐吓 in M3+: n=10
    diamond = next(t for t in fig.data if t.type == "scatter")
    assert list(diamond.x) == pytest.approx([0.4, 0.4])  # same once the mix is the same


def test_cell_css_lets_the_keyed_containers_wrap() -> None:
    css = charts.cell_css({"ov_wide": 26})
    assert "st-key-ov_wide" in css and "flex: 1 1 26rem" in css and "min(26rem, 100%)" in css


def test_rate_text_and_tables_carry_their_base() -> None:
    assert fmt.rate_with_interval(27, 50) == "54.0%（95% 区间 40.4%–67.0%，n=50）"
    assert fmt.rate_with_interval(5, 8).endswith(f"样本不足 {MIN_BASE}，仅供参考")
    assert fmt.rate_with_interval(0, 0) == "无数据"
    card = pd.DataFrame(
        {
            "agent_id": ["A1", "A2"],
            "agent_name": ["甲", "乙"],
            "team": ["T", "T"],
            "calls": [40, 9],
            "violations_per_100": [10.0, 0.0],
            "sentiment_change": [0.1, 0.2],
            "plan_rate": [0.5, 0.5],
            "promise_rate": [0.5, 1.0],
            "promises": [20, 9],
            "ptp_n": [40, 9],
        }
    )
    table = fmt.scorecard_with_base(card)
    assert table["样本"].tolist() == ["", f"不足 {MIN_BASE} 通，仅供参考"]
    assert table["承诺还款率区间"].iloc[0] == "35–65%"
    styles = fmt.grey_small_rows(table, "通话数")._compute().ctx
    assert styles[(1, 0)] and not styles.get((0, 0))  # only the small row is grey
    csat = pd.DataFrame(
        {
            "tactic": ["sms", "sms"],
            "polarity": ["negative", "positive"],
            "csat": [1.9, 3.8],
            "n": [100, 7],
        }
    )
    cells = fmt.csat_with_base(csat)
    assert cells.data.loc["短信/消息"].tolist() == ["1.90（n=100）", "3.80（n=7）"]
    assert cells._compute().ctx[(0, 1)] and not cells._compute().ctx.get((0, 0))


# --------------------------------------------------------------------------- pages
@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("readability") / "bv.duckdb"
    mp.setenv("BV_DB_PATH", str(path))
    mp.setenv("BV_SENTIMENT_MODEL", "lexicon")
    from data.demo_loader import ensure_demo
    from data.store import open_store

    ensure_demo(open_store(path), model="lexicon", n_surveys=300, n_calls=120)
    yield path
    mp.undo()


@pytest.fixture
def app(demo_db, monkeypatch):
    monkeypatch.setenv("BV_DB_PATH", str(demo_db))
    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    monkeypatch.setenv("BV_AUTH", "off")
    st.cache_data.clear()
    st.cache_resource.clear()

    def open_page(page: str = "pages/overview.py") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        if page != "pages/overview.py":
            at.switch_page(page)
            at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return open_page


def test_kpi_labels_are_short_and_rates_explain_their_base(app) -> None:
    at = app()
    labels = [m.label for m in at.metric]
    assert "求理解/灵活还款" in labels and all(len(lab) <= 8 for lab in labels)
    helps = {m.label: m.proto.help for m in at.metric}
    for rate in ("负面占比", "投诉率", "求理解/灵活还款"):
        assert "95% 区间" in helps[rate] and "n=312" in helps[rate], helps[rate]  # 300 + journeys


def test_the_outcome_view_can_be_stratified_by_overdue_stage(app) -> None:
    at = app()
    assert any(c.value == charts.BASE_NOTE for c in at.caption)
    assert not any(c.value == charts.STAGE_NOTE for c in at.caption)
    at.toggle(key="ov_by_stage").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(c.value == charts.STAGE_NOTE for c in at.caption)
    assert any(charts.TITLES["violations_by_stage"] in m.value for m in at.markdown)


def test_the_scorecard_greys_agents_with_few_calls(app) -> None:
    at = app("pages/calls.py")
    card = next(d.value for d in at.dataframe if "承诺还款率区间" in d.value.columns)
    small = card["通话数"] < MIN_BASE
    assert small.any()
    assert (card.loc[small, "样本"] != "").all() and (card.loc[~small, "样本"] == "").all()
