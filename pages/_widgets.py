"""Widget groups shared by the pages: small functions that draw widgets and return plain values.

Widget keys: ``flt_*`` (sidebar filters, kept across pages); the
others take a ``key`` from the calling page, so they carry that page's prefix.

The URL: the filters (``FILTER_PARAMS``) and each page's own choices (``PAGE_PARAMS``) are
mirrored in ``st.query_params`` under short names, only where they differ from the default, so
a reload or a shared link opens the same view. A value in the URL seeds a widget's session
state the first time the widget is drawn in a session; a value that is not a valid choice is
ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import NamedTuple, TypeVar

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from data import access
from data.queries import BREAKDOWN_DIMENSIONS, PAGE_SIZE, Filters, Page
from data.settings import display_today
from nlp.labels import REQUEST_NAMES_ZH, SENTIMENT_NAMES_ZH, TACTIC_NAMES_ZH
from pages import _cache as cache
from pages import _charts as charts
from pages import _format as display
from pages._format import problems_table
from pages._session import session_actor

T = TypeVar("T")


# --------------------------------------------------------------------------- the URL
FILTER_PARAMS = ("from", "to", "product", "region", "channel", "bucket", "batch", "reviews")
# every page's own parameters: a page writes its own and drops the others
PAGE_PARAMS = (
    *("tactic", "polarity", "period", "value", "sentiment", "freq", "dim", "by_stage"),  # 总览
    *("emotion", "reason", "status", "q"),  # 投诉复核 (also tactic)
    *("agent", "rule", "bad"),  # 通话质检
)
MAX_PARAM_LEN = 200

UrlValue = str | list[str] | tuple[str, ...] | None


def url_values(name: str, allowed: Collection[str] | None = None) -> list[str]:
    """The values of ``?name=`` in the URL (repeated for a list), keeping only ``allowed``."""
    values = [v for v in st.query_params.get_all(name) if v and len(v) <= MAX_PARAM_LEN]
    return [v for v in values if allowed is None or v in allowed]


def url_value(name: str, allowed: Collection[str] | None = None) -> str | None:
    """``?name=`` when it is one of ``allowed`` (any short text when None), else None."""
    values = url_values(name, allowed)
    return values[0] if values else None


def url_date(name: str, lo: date, hi: date) -> date | None:
    """``?name=2026-03-01`` as a date between ``lo`` and ``hi``; None when absent or invalid."""
    try:
        day = date.fromisoformat(url_value(name) or "")
    except ValueError:
        return None
    return day if lo <= day <= hi else None


def seed_from_url(state_key: str, value: object) -> None:
    """Seed a widget's session state from the URL the first time it is drawn in a session."""
    if value is not None and value != [] and state_key not in st.session_state:
        st.session_state[state_key] = value


def write_url(params: Mapping[str, UrlValue]) -> None:
    """Set these URL parameters; None, "" or [] removes one (a default value)."""
    for name, value in params.items():
        values = [value] if isinstance(value, str) else list(value or ())
        values = [v for v in values if v]
        if st.query_params.get_all(name) == values:
            continue
        if not values:
            del st.query_params[name]
        else:
            st.query_params[name] = values if len(values) > 1 else values[0]


def page_url(params: Mapping[str, UrlValue]) -> None:
    """Mirror this page's own choices in the URL; other pages' parameters are dropped."""
    write_url({**dict.fromkeys(PAGE_PARAMS), **params})


def flag(on: bool) -> str | None:
    """A toggle that is off by default, as a URL value: "1" when on."""
    return "1" if on else None


DRILL_PARAMS = ("tactic", "polarity", "period", "value", "sentiment")


def drill_params(drill: Mapping) -> dict[str, str | None]:
    """A drill-down as URL parameters (``DRILL_PARAMS``; its ``freq`` and ``dim`` are the
    overview's own ``freq`` and ``dim`` parameters)."""
    params: dict[str, str | None] = dict.fromkeys(DRILL_PARAMS)
    for name in DRILL_PARAMS:
        if drill.get(name) is not None:
            params[name] = str(drill[name])
    return params


def drill_from_params(params: Mapping[str, str | None], *, freq: str, dim: str) -> dict:
    """The drill-down a URL asks for (see ``drill_params``); {} when absent or invalid."""
    tactic, polarity = params.get("tactic"), params.get("polarity")
    if tactic in TACTIC_NAMES_ZH and polarity in SENTIMENT_NAMES_ZH:
        return {"tactic": tactic, "polarity": polarity}
    if period := params.get("period"):
        try:
            return {"period": date.fromisoformat(period), "freq": freq}
        except ValueError:
            return {}
    value, sentiment = params.get("value"), params.get("sentiment")
    if value and sentiment in SENTIMENT_NAMES_ZH:
        return {"dim": dim, "value": value, "sentiment": sentiment}
    return {}


def drill_still_shown(drill: Mapping, *, freq: str, dim: str) -> dict:
    """The drill-down, or {} once its chart no longer shows it (the trend switched between
    months and weeks, or the breakdown to another dimension)."""
    if drill.get("freq", freq) != freq or drill.get("dim", dim) != dim:
        return {}
    return dict(drill)


DIM0 = next(iter(BREAKDOWN_DIMENSIONS))  # the overview's breakdown at first


def overview_from_url() -> None:
    """Seed the overview's own choices (``ov_freq``, ``ov_dim``, ``ov_by_stage``) and its
    drill-down (``ov_drill``) from the URL, the first time in a session."""
    seed_from_url("ov_freq", url_value("freq", ["week"]))
    seed_from_url("ov_dim", url_value("dim", BREAKDOWN_DIMENSIONS))
    seed_from_url("ov_by_stage", url_value("by_stage", ["1"]) and True)
    if "ov_drill" not in st.session_state:
        st.session_state["ov_drill"] = drill_from_params(
            {p: url_value(p) for p in DRILL_PARAMS},
            freq=st.session_state.get("ov_freq") or "month",
            dim=st.session_state.get("ov_dim") or DIM0,
        )


def overview_to_url(*, freq: str, dim: str, by_stage: bool, drill: Mapping) -> None:
    """The overview's own choices and drill-down in the URL (the defaults left out)."""
    view = {"freq": freq if freq != "month" else None, "dim": dim if dim != DIM0 else None}
    page_url({**view, "by_stage": flag(by_stage), **drill_params(drill)})


def drill_changed() -> None:
    """The overview charts' ``on_select``: a selection changed (a rerun alone keeps the
    drill-down), so ``ov_drill`` follows the charts' selections."""
    s = st.session_state
    s["ov_drill"] = charts.drill_down(
        *(s.get(k) for k in ("ov_tactic", "ov_trend", "ov_breakdown")),
        freq=s.get("ov_freq") or "month",
        dim=s.get("ov_dim") or DIM0,
    )


# --------------------------------------------------------------------------- sidebar
FILTER_KEYS = (
    "flt_dates",
    "flt_products",
    "flt_regions",
    "flt_channels",
    "flt_buckets",
    "flt_batches",
    "flt_reviews",
)


def _all_of(label: str, options: list[str], key: str, **kwargs) -> list[str]:
    return st.multiselect(label, options, key=key, placeholder="全部", **kwargs)


_LIST_FILTERS = (  # URL name, session key, filter_options column
    ("product", "flt_products", "product"),
    ("region", "flt_regions", "region"),
    ("channel", "flt_channels", "channel"),
    ("bucket", "flt_buckets", "overdue_bucket"),
)


def _filters_from_url(opts: Mapping, lo: date, hi: date, first: date, last: date) -> None:
    """Seed the filters from the URL (first draw in a session); invalid values are ignored."""
    d_from, d_to = url_date("from", lo, hi) or first, url_date("to", lo, hi) or last
    if d_from <= d_to:
        seed_from_url("flt_dates", (d_from, d_to))
    for name, key, column in _LIST_FILTERS:
        seed_from_url(key, url_values(name, opts[column]))
    batch_ids = {b.split("|", 1)[0]: b for b in opts["batches"]}
    seed_from_url("flt_batches", [batch_ids[b] for b in url_values("batch", batch_ids)])
    if url_value("reviews") == "off":
        seed_from_url("flt_reviews", False)


def _filters_to_url(f: Filters, first: date, last: date) -> None:
    write_url(
        {
            "from": None if f.date_from == first else f"{f.date_from}",
            "to": None if f.date_to == last else f"{f.date_to}",
            "product": f.products,
            "region": f.regions,
            "channel": f.channels,
            "bucket": f.buckets,
            "batch": f.batches,
            "reviews": None if f.use_reviews else "off",
        }
    )


def sidebar_filters() -> Filters:
    """Sidebar filters, kept across pages in session state (keys prefixed ``flt_``) and in
    the URL (``FILTER_PARAMS``, only those not at their default)."""
    opts = cache.filter_options()
    lo, hi = opts["date_range"]
    hi_d = pd.Timestamp(hi).date() if pd.notna(hi) else display_today()
    lo_d = pd.Timestamp(lo).date() if pd.notna(lo) else hi_d - timedelta(days=365)
    d_min, d_max = lo_d - timedelta(days=366), hi_d + timedelta(days=366)
    for key in FILTER_KEYS:  # keep the choices when the user moves to another page
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    _filters_from_url(opts, d_min, d_max, lo_d, hi_d)
    with st.sidebar:
        st.markdown("#### 筛选")
        if "flt_dates" not in st.session_state:
            st.session_state["flt_dates"] = (lo_d, hi_d)
        dates = st.date_input("日期范围", key="flt_dates", min_value=d_min, max_value=d_max)
        products = _all_of("产品", opts["product"], "flt_products")
        regions = _all_of("地区", opts["region"], "flt_regions")
        channels = _all_of("催收渠道", opts["channel"], "flt_channels")
        buckets = _all_of("逾期阶段", opts["overdue_bucket"], "flt_buckets")
        batches = _all_of(
            "上传批次", opts["batches"], "flt_batches", format_func=lambda b: b.split("|", 1)[-1]
        )
        use_reviews = st.toggle(
            "采用人工复核结果", value=True, key="flt_reviews", help="关闭后只看模型原始判断"
        )
    d_from, d_to = dates if isinstance(dates, tuple | list) and len(dates) == 2 else (lo_d, hi_d)
    f = Filters(
        date_from=d_from,
        date_to=d_to,
        products=tuple(products),
        regions=tuple(regions),
        channels=tuple(channels),
        buckets=tuple(buckets),
        batches=tuple(b.split("|", 1)[0] for b in batches),
        use_reviews=use_reviews,
    )
    _filters_to_url(f, lo_d, hi_d)
    return f


def demo_banner() -> None:
    """A visible 示例数据 marker while demo batches are stored."""
    from data.demo_loader import has_demo

    if has_demo(cache.store()):
        st.info(
            "当前显示的是 **示例数据**（程序生成，仅供体验）。上传真实数据后，可在「数据上传」页一键移除。",
            icon="🧪",
        )


# --------------------------------------------------------------------------- KPIs
class Kpi(NamedTuple):
    """One headline number: a short label (details go in ``help``), the value as text."""

    label: str
    value: str
    delta: str | None = None
    help: str | None = None
    delta_color: str = "normal"


def kpi_row(kpis: list[Kpi]) -> None:
    """Headline numbers in a row that wraps: each card as wide as its label and value, so
    neither is cut (「3,…」) on a narrow screen; on a wide one they share a line."""
    with st.container(horizontal=True, gap="small", key="kpi_row"):
        for k in kpis:
            st.metric(
                k.label,
                k.value,
                k.delta,
                delta_color=k.delta_color,  # type: ignore[arg-type]
                help=k.help,
                border=True,
                width="content",
            )


def overview_kpis(kpis: Mapping) -> None:
    """The overview's headline numbers (``queries.kpis``): short labels, each rate's base and
    95% interval in its help text."""
    cur, prev = kpis["current"], kpis["previous"] or {}
    n = cur["n"] or 0

    def base(key: str) -> str:
        return display.rate_with_interval((cur[key] or 0) * n, n)

    wants = f"「{REQUEST_NAMES_ZH['understanding']}」或「{REQUEST_NAMES_ZH['flexible_plan']}」"
    csat = f"基于 {display.integer(cur['csat_n'])} 份评分 (1-5)；平均 NPS {display.decimal(cur['nps'], 1)}"
    kpi_row(
        [
            Kpi(
                "问卷回答",
                display.integer(n),
                display.delta(cur, prev, "n", pct=False),
                "较上一同长周期",
            ),
            Kpi("通话", display.integer(cur["calls"])),
            Kpi(
                "负面占比",
                display.percent(cur["negative_share"]),
                display.delta(cur, prev, "negative_share"),
                f"负面回答的占比：{base('negative_share')}",
                "inverse",
            ),
            Kpi(
                "投诉率",
                display.percent(cur["complaint_rate"]),
                display.delta(cur, prev, "complaint_rate"),
                f"被判为投诉的回答占比：{base('complaint_rate')}",
                "inverse",
            ),
            Kpi("平均满意度", display.decimal(cur["csat"], 2), help=csat),
            Kpi(
                "求理解/灵活还款",
                display.percent(cur["wants_flexibility"]),
                help=f"提出{wants}诉求的回答占比：{base('wants_flexibility')}（行业文章称 >70%）",
            ),
        ]
    )


# --------------------------------------------------------------------------- inputs and tables
def optional_select(
    where: DeltaGenerator, label: str, names: Mapping[T, str], key: str, url: str | None = None
) -> T | None:
    """A selectbox of ``names`` (id -> shown name) with 全部 first; None means all. With
    ``url``, a valid ``?url=id`` chooses the first value of a session (the page writes it)."""
    if url is not None:
        seed_from_url(key, url_value(url, [str(n) for n in names]))
    return where.selectbox(
        label, [None, *names], key=key, format_func=lambda v: "全部" if v is None else names[v]
    )


def pick_row(table: pd.DataFrame, key: str, **options) -> int | None:
    """A table where one row can be selected; the position of the selected row, or None."""
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=key,
        **options,
    )
    rows = event.selection.rows if event else []
    return rows[0] if rows else None


def _step_page(state: str, by: int) -> None:
    st.session_state[state] = max(1, int(st.session_state.get(state, 1)) + by)


def pager(
    fetch: Callable[[int, int], Page],
    key: str,
    *,
    reset_on: object = None,
    unit: str = "条",
    noun: str = "",
    note: str = "",
    page_size: int = PAGE_SIZE,
) -> Page:
    """One page through ``fetch(offset, limit)``, under 「共 1,420 条投诉，第 1–50 条」
    (``unit`` 条, ``noun`` 投诉, then ``note``) and page navigation (widget keys
    ``{key}_page``, ``{key}_prev``, ``{key}_next``).

    The page number goes back to 1 when ``reset_on`` (the filters, say) changes; a page number
    past the end shows the last page (the query clamps the offset).
    """
    state, seen = f"{key}_page", f"{key}_reset_on"
    if st.session_state.get(seen) != repr(reset_on):
        st.session_state[seen] = repr(reset_on)
        st.session_state[state] = 1
    number = max(1, int(st.session_state.get(state, 1)))
    page = fetch((number - 1) * page_size, page_size)
    st.session_state[state] = page.number  # before the widget exists in this run: allowed
    shown = f"第 {page.first:,}–{page.last:,} {unit}" if page.total else "无记录"
    text = f"共 {page.total:,} {unit}{noun}，{shown}。{note}"
    if page.pages <= 1:
        st.caption(text)
        return page
    cap, prev, num, nxt = st.columns([6, 1, 1, 1], vertical_alignment="center")
    cap.caption(text)
    prev.button(
        "上一页",
        key=f"{key}_prev",
        disabled=page.number <= 1,
        on_click=_step_page,
        args=(state, -1),
        width="stretch",
    )
    num.number_input(
        f"页码（共 {page.pages:,} 页）",
        min_value=1,
        max_value=page.pages,
        step=1,
        key=state,
        label_visibility="collapsed",
        help=f"共 {page.pages:,} 页",
    )
    nxt.button(
        "下一页",
        key=f"{key}_next",
        disabled=page.number >= page.pages,
        on_click=_step_page,
        args=(state, 1),
        width="stretch",
    )
    return page


def progress_bar() -> Callable[[int, int], None]:
    """A progress bar with an estimate of the time left; returns its update(done, total)."""
    bar, t0 = st.progress(0.0, text="正在评分……"), time.time()

    def update(done: int, total: int) -> None:
        frac = done / max(total, 1)
        eta = (time.time() - t0) / frac * (1 - frac) if frac > 0 else 0
        bar.progress(min(frac, 1.0), text=f"正在评分 {done:,}/{total:,}，预计还需 {eta:.0f} 秒")

    return update


def column_mapping(
    fields: Mapping[str, str], cols: list[str], guess: Mapping[str, str], key: str
) -> dict[str, str]:
    """One selectbox per field (three to a row), preset to ``guess``; field -> chosen column."""
    grid = st.columns(3)
    mapping = {}
    options = [None, *cols]
    for i, (fld, label) in enumerate(fields.items()):
        choice = grid[i % 3].selectbox(
            label,
            options,
            index=options.index(guess[fld]) if guess.get(fld) in cols else 0,
            key=f"{key}_{fld}",
            format_func=lambda v: "（不导入）" if v is None else v,
        )
        if choice:
            mapping[fld] = choice
    return mapping


def validation_report(problems: list, rows_ok: int) -> bool:
    """What validation found (errors block the import, notes do not); True when any error."""
    errors = [p for p in problems if p.severity == "error"]
    if problems:
        (st.error if errors else st.warning)(
            f"校验发现 {len(errors)} 处错误、{len(problems) - len(errors)} 条提示"
            + ("：修正后才能导入。" if errors else "。")
        )
        st.dataframe(problems_table(problems), hide_index=True, width="stretch")
    else:
        st.success(f"校验通过：{rows_ok:,} 行可导入。")
    return bool(errors)


def duplicate_choice(repeats: int, key: str) -> bool:
    """「297 行已存在，将跳过」 with a checkbox to import those rows anyway; True to keep them."""
    if not repeats:
        return False
    message = st.empty()  # above the checkbox, worded after it
    keep = st.checkbox(f"仍然导入这 {repeats:,} 行（同一回答会计数两次）", key=key)
    why = "（受访者ID相同，或文本、日期、产品、地区、渠道都相同）"
    if keep:
        message.warning(f"{repeats:,} 行已存在{why}，将再次导入。")
    else:
        message.info(f"{repeats:,} 行已存在，将跳过{why}。")
    return keep


# --------------------------------------------------------------------------- exports
def _log_export(name: str, fmt: str, rows: int) -> None:
    """The download buttons' on_click: an ``export`` audit entry (name, format, rows)."""
    who = session_actor()
    if who is not None:
        access.log_export(cache.store(), who, name, fmt, rows)


def download_buttons(df: pd.DataFrame, name: str, key: str) -> None:
    """CSV (UTF-8 BOM) and XLSX downloads of a table: personal data masked, formula cells
    neutralised, each download written to the audit log."""
    from data.exports import to_csv_bytes, to_xlsx_bytes

    c1, c2, _ = st.columns([1, 1, 4])
    for col, fmt, label, data, mime in (
        (c1, "csv", "下载 CSV", to_csv_bytes(df), "text/csv"),
        (
            c2,
            "xlsx",
            "下载 Excel",
            to_xlsx_bytes(df),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ):
        col.download_button(
            label,
            data,
            f"{name}.{fmt}",
            mime,
            key=f"{key}_{fmt}",
            on_click=_log_export,
            args=(name, fmt, len(df)),
        )


def monthly_summary(f: Filters, key: str) -> None:
    """Pick one of the last 12 months and download its forwardable HTML summary."""
    from data.report import monthly_summary_html

    with st.expander("月度摘要（可转发）"):
        end = pd.Timestamp(f.date_to or display_today())
        months = list(pd.period_range(end=end, periods=12, freq="M")[::-1])
        month = st.selectbox(
            "月份", months, key=f"{key}_month", format_func=lambda m: f"{m:%Y年%m月}"
        )
        start, end = month.start_time.date(), month.end_time.date()
        answers = cache.kpis(replace(f, date_from=start, date_to=end))["current"]["n"]
        name = f"借款人之声-{month}-月度摘要"
        st.download_button(
            "下载月度摘要 (HTML)",
            monthly_summary_html(cache.store(), start, f),
            f"{name}.html",
            "text/html",
            key=f"{key}_report",
            on_click=_log_export,
            args=(name, "html", int(answers or 0)),
        )


# --------------------------------------------------------------------------- keywords
def keywords_panel(f: Filters, drill: dict, rows: pd.DataFrame) -> None:
    """Top jieba keywords of the selected segment and terms rising vs the previous period."""
    from nlp.keywords import rising_terms, top_keywords

    with st.expander("关键词：所选记录的高频词与上升词", expanded=False):
        c1, c2 = st.columns(2)
        top = top_keywords(rows["text"].tolist(), 15) if not rows.empty else []
        c1.markdown("**高频词**")
        c1.dataframe(
            pd.DataFrame(top, columns=["词", "出现条数"]), hide_index=True, width="stretch"
        )
        prev = f.previous_period()
        c2.markdown("**较上一周期上升的词**")
        if prev is None:
            c2.caption("选择日期范围后可比较。")
            return
        cur_rows = cache.records(f, limit=5000, **drill)
        not_dated = {k: v for k, v in drill.items() if k not in ("period", "freq")}
        prev_rows = cache.records(prev, limit=5000, **not_dated)
        rising = rising_terms(cur_rows["text"].tolist(), prev_rows["text"].tolist())
        c2.dataframe(
            pd.DataFrame(rising, columns=["词", "本期条数", "增长倍数"]),
            hide_index=True,
            width="stretch",
        )
