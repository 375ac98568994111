"""Widget groups shared by the pages: small functions that draw widgets and return plain values.

Widget keys: ``flt_*`` (sidebar filters, kept across pages); the
others take a ``key`` from the calling page, so they carry that page's prefix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import TypeVar

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from data import access
from data.queries import Filters
from pages import _cache as cache
from pages._format import problems_table
from pages._session import session_actor

T = TypeVar("T")


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


def sidebar_filters() -> Filters:
    """Sidebar filters, kept across pages in session state (keys prefixed ``flt_``)."""
    opts = cache.filter_options()
    lo, hi = opts["date_range"]
    hi_d = pd.Timestamp(hi).date() if pd.notna(hi) else date.today()
    lo_d = pd.Timestamp(lo).date() if pd.notna(lo) else hi_d - timedelta(days=365)
    for key in FILTER_KEYS:  # keep the choices when the user moves to another page
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    with st.sidebar:
        st.markdown("#### 筛选")
        if "flt_dates" not in st.session_state:
            st.session_state["flt_dates"] = (lo_d, hi_d)
        dates = st.date_input(
            "日期范围",
            key="flt_dates",
            min_value=lo_d - timedelta(days=366),
            max_value=hi_d + timedelta(days=366),
        )
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
    return Filters(
        date_from=d_from,
        date_to=d_to,
        products=tuple(products),
        regions=tuple(regions),
        channels=tuple(channels),
        buckets=tuple(buckets),
        batches=tuple(b.split("|", 1)[0] for b in batches),
        use_reviews=use_reviews,
    )


def demo_banner() -> None:
    """A visible 示例数据 marker while demo batches are stored."""
    from data.demo_loader import has_demo

    if has_demo(cache.store()):
        st.info(
            "当前显示的是 **示例数据**（程序生成，仅供体验）。上传真实数据后，可在「数据上传」页一键移除。",
            icon="🧪",
        )


# --------------------------------------------------------------------------- inputs and tables
def optional_select(
    where: DeltaGenerator, label: str, names: Mapping[T, str], key: str
) -> T | None:
    """A selectbox of ``names`` (id -> shown name) with 全部 first; None means all."""
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


# --------------------------------------------------------------------------- exports
def _log_export(name: str, fmt: str, rows: int) -> None:
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
        end = pd.Timestamp(f.date_to or pd.Timestamp.today())
        months = list(pd.period_range(end=end, periods=12, freq="M")[::-1])
        month = st.selectbox(
            "月份", months, key=f"{key}_month", format_func=lambda m: f"{m:%Y年%m月}"
        )
        st.download_button(
            "下载月度摘要 (HTML)",
            monthly_summary_html(cache.store(), month.to_timestamp().date(), f),
            f"借款人之声-{month}-月度摘要.html",
            "text/html",
            key=f"{key}_report",
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
