"""The metrics alert rules are written over: a registry of name -> label, unit, parameters,
what the threshold means, and the function that computes the readings.

Every reading is one subject's value (a product, an agent or a batch) with a condition key
(``product:信用贷``) that the cool-down is kept per, a Chinese description and a link path to
the records behind it. A rule fires when a reading is **above** its threshold.

Periods are local days in ``BV_DISPLAY_TZ`` ending on the evaluation day: a survey answer
counts on its date (its upload day when it has none), a call on its start time (else its
upload time). Survey labels include reviewers' corrections, as on the dashboard.
A new metric = a compute function + an entry in :data:`METRICS` + a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pandas as pd

from data.queries import responses_sql
from data.query_base import Filters
from data.store import Store


@dataclass(frozen=True)
class Param:
    """A rule parameter: ``product`` / ``agent`` (optional: None = each separately) or a
    whole number in ``lo``..``hi``."""

    name: str
    label: str
    kind: str  # product | agent | int
    default: int | None = None
    lo: int = 1
    hi: int = 366


@dataclass(frozen=True)
class Window:
    """When a rule is evaluated, and the batch just stored (None for a manual evaluation)."""

    now: datetime
    batch_id: str | None
    tz: str

    def day(self, days_back: int) -> pd.Timestamp:
        """Local midnight ``days_back`` days before today (naive, like survey dates)."""
        today = pd.Timestamp(self.now).tz_convert(self.tz).normalize().tz_localize(None)
        return today - pd.Timedelta(days=days_back)

    def instant(self, days_back: int) -> pd.Timestamp:
        """:meth:`day` as an instant in the display time zone."""
        return self.day(days_back).tz_localize(self.tz)


@dataclass(frozen=True)
class Reading:
    """A metric's value for one subject (a product, an agent or a batch)."""

    key: str  # the condition key, e.g. "product:信用贷"
    subject: str  # shown: 「产品「信用贷」」
    value: float
    detail: str
    link: str  # a path in the app that shows the records behind the value


@dataclass(frozen=True)
class Metric:
    """One entry of the registry: what it measures and what its threshold means."""

    name: str
    label: str
    unit: str
    threshold_help: str
    params: tuple[Param, ...]
    compute: Callable[[Store, Window, dict], list[Reading]]
    default_threshold: float
    max_threshold: float | None = None
    integer_threshold: bool = False


def _days(default: int) -> Param:
    return Param("period_days", "统计周期（天）", "int", default)


def _min_n(default: int, label: str = "最少样本数") -> Param:
    return Param("min_n", label, "int", default, 1, 1_000_000)


def _link(page: str, **params: str | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"/{page}" + (f"?{query}" if query else "")


def _product_label(product: str) -> str:
    return f"产品「{product}」" if product else "未填写产品的回答"


def _survey_rows(w: Window) -> tuple[str, list]:
    """Scored answers (reviews applied) with ``seen_at``: the answer's date, else its upload day."""
    sql, params = responses_sql(Filters())
    rows = f"""SELECT x.product, x.sentiment, x.complaint,
                      coalesce(x.submitted_at, timezone(?, b.uploaded_at)) AS seen_at
               FROM ({sql}) x JOIN batches b USING (batch_id)"""
    return rows, [w.tz, *params]


def _negative_share_rise(store: Store, w: Window, p: dict) -> list[Reading]:
    days, product = p["period_days"], p.get("product")
    cur, prev, end = w.day(days - 1), w.day(2 * days - 1), w.day(-1)
    rows, params = _survey_rows(w)
    frame = store.query(
        f"""SELECT coalesce(product, '') AS product,
                   count(*) FILTER (WHERE seen_at >= ?) AS n_cur,
                   avg((sentiment = 'negative')::INT) FILTER (WHERE seen_at >= ?) AS cur,
                   count(*) FILTER (WHERE seen_at < ?) AS n_prev,
                   avg((sentiment = 'negative')::INT) FILTER (WHERE seen_at < ?) AS prev
            FROM ({rows}) WHERE seen_at >= ? AND seen_at < ? AND (?::VARCHAR IS NULL OR product = ?)
            GROUP BY 1 ORDER BY 1""",
        [cur, cur, cur, cur, *params, prev, end, product, product],
    )
    out = []
    for r in frame.itertuples():
        if r.n_cur < p["min_n"] or r.n_prev < p["min_n"]:
            continue
        out.append(
            Reading(
                f"product:{r.product}",
                _product_label(r.product),
                (r.cur - r.prev) * 100,
                f"近 {days} 天负面占比 {r.cur:.1%}（{r.n_cur} 条），前 {days} 天 {r.prev:.1%}"
                f"（{r.n_prev} 条）",
                _link("overview", product=r.product, **{"from": f"{prev.date()}"}),
            )
        )
    return out


def _complaint_rate(store: Store, w: Window, p: dict) -> list[Reading]:
    days, product = p["period_days"], p.get("product")
    rows, params = _survey_rows(w)
    frame = store.query(
        f"""SELECT coalesce(product, '') AS product, count(*) AS n,
                   count_if(complaint) AS complaints
            FROM ({rows}) WHERE seen_at >= ? AND seen_at < ? AND (?::VARCHAR IS NULL OR product = ?)
            GROUP BY 1 ORDER BY 1""",
        [*params, w.day(days - 1), w.day(-1), product, product],
    )
    return [
        Reading(
            f"product:{r.product}",
            _product_label(r.product),
            r.complaints / r.n * 100,
            f"近 {days} 天 {r.n} 条回答中 {r.complaints} 条投诉",
            _link("complaints", product=r.product, **{"from": f"{w.day(days - 1).date()}"}),
        )
        for r in frame.itertuples()
        if r.n >= p["min_n"]
    ]


def _agent_violations(store: Store, w: Window, p: dict) -> list[Reading]:
    days, agent = p["period_days"], p.get("agent")
    frame = store.query(
        """SELECT c.agent_id AS agent, count(*) AS n,
                  sum(coalesce(len(a.violations), 0))::BIGINT AS v
           FROM calls c JOIN batches b USING (batch_id) LEFT JOIN call_analysis a USING (call_id)
           WHERE c.agent_id IS NOT NULL
             AND coalesce(c.started_at, b.uploaded_at) >= ?
             AND coalesce(c.started_at, b.uploaded_at) < ?
             AND (?::VARCHAR IS NULL OR c.agent_id = ?)
           GROUP BY 1 ORDER BY 1""",
        [w.instant(days - 1), w.instant(-1), agent, agent],
    )
    return [
        Reading(
            f"agent:{r.agent}",
            f"坐席「{r.agent}」",
            r.v / r.n * 100,
            f"近 {days} 天 {r.n} 通电话中违规 {r.v} 次",
            _link("calls", agent=r.agent, **{"from": f"{w.day(days - 1).date()}"}),
        )
        for r in frame.itertuples()
        if r.n >= p["min_n"]
    ]


def _self_harm(store: Store, w: Window, p: dict) -> list[Reading]:
    where, params = "b.uploaded_at >= ?", [w.now - timedelta(days=p["period_days"])]
    if w.batch_id:  # after an upload: that batch only
        where, params = "b.batch_id = ?", [w.batch_id]
    frame = store.query(
        f"""SELECT b.batch_id, any_value(b.kind) AS kind, any_value(b.file_name) AS file_name,
                   count(DISTINCT CASE WHEN s.target_kind = 'turn'
                         THEN 'c:' || regexp_replace(s.target_id, '#[0-9]+$', '')
                         ELSE 'r:' || s.target_id END) AS n
            FROM scores s JOIN batches b USING (batch_id)
            WHERE list_contains(s.risk_flags, 'self_harm') AND {where}
            GROUP BY 1 ORDER BY 1""",
        params,
    )
    return [
        Reading(
            f"batch:{r.batch_id}",
            f"批次「{r.file_name}」",
            float(r.n),
            f"{r.n} {'通电话' if r.kind == 'calls' else '条回答'}带有自伤风险提示",
            _link("calls" if r.kind == "calls" else "complaints", batch=r.batch_id),
        )
        for r in frame.itertuples()
    ]


_PRODUCT = Param("product", "产品（留空 = 每个产品分别计算）", "product")
_AGENT = Param("agent", "坐席（留空 = 每个坐席分别计算）", "agent")

#: metric name -> its definition. A new metric = a compute function + an entry here.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "negative_share_rise",
            "负面占比环比上升",
            "个百分点",
            "本期负面占比比上一期高出超过这么多个百分点时告警（0–100）",
            (_PRODUCT, _days(7), _min_n(20, "每期最少回答数")),
            _negative_share_rise,
            10,
            max_threshold=100,
        ),
        Metric(
            "agent_violations_per_100",
            "坐席每百通违规次数",
            "次/百通",
            "坐席每 100 通电话的违规次数超过这个值时告警",
            (_AGENT, _days(30), _min_n(10, "最少通话数")),
            _agent_violations,
            20,
        ),
        Metric(
            "self_harm",
            "自伤风险提示",
            "条",
            "一个批次中带自伤风险提示的回答或通话多于这个数时告警（0 = 出现任何一条）",
            (_days(1),),
            _self_harm,
            0,
            integer_threshold=True,
        ),
        Metric(
            "complaint_rate",
            "投诉率",
            "%",
            "统计周期内回答的投诉率超过这个百分比时告警（0–100）",
            (_PRODUCT, _days(30), _min_n(20, "最少回答数")),
            _complaint_rate,
            15,
            max_threshold=100,
        ),
    )
}
