"""Read-side queries for the dashboard. Pure functions of (store, filters) -> DataFrame.

Reviewed labels override model labels (``use_reviews=True``), so a reviewer's
correction changes every chart; ``use_reviews=False`` shows model-only figures.

Every function that returns borrower text returns it masked (``data.pii``: phones, ID and
card numbers, e-mails, names). The original text is only reachable through
``data.access.reveal_*``, which checks the actor's role and writes an audit entry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd

from data.call_queries import (
    NO_VIOLATION,
    agent_scorecard,
    call_turns,
    calls_page,
    calls_sql,
    calls_table,
    plan_outcomes,
    violation_outcomes,
)
from data.paging import PAGE_SIZE, Page, first_rows, paged
from data.query_base import Filters, call_filters, masked, where_clause
from data.settings import to_display_time
from data.store import Store

__all__ = [
    "NO_VIOLATION",
    "PAGE_SIZE",
    "Filters",
    "Page",
    "agent_scorecard",
    "call_turns",
    "calls_page",
    "calls_sql",
    "calls_table",
    "paged",
    "plan_outcomes",
    "violation_outcomes",
]


_LATEST_REVIEW = """
    SELECT target_kind, target_id,
           arg_max(sentiment, reviewed_at) FILTER (WHERE sentiment IS NOT NULL) AS sentiment,
           arg_max(complaint, reviewed_at) FILTER (WHERE complaint IS NOT NULL) AS complaint,
           arg_max(action, reviewed_at) AS last_action,
           max(reviewed_at) AS reviewed_at
    FROM reviews GROUP BY target_kind, target_id
"""


def responses_sql(f: Filters) -> tuple[str, list]:
    """SQL for scored responses with the review override applied, and its parameters."""
    where, params = where_clause(f)
    sentiment = "COALESCE(rv.sentiment, s.sentiment)" if f.use_reviews else "s.sentiment"
    complaint = (
        ("COALESCE(rv.complaint, s.complaint) AND coalesce(rv.last_action, '') <> 'false_positive'")
        if f.use_reviews
        else "s.complaint"
    )
    sql = f"""
        SELECT r.response_id, r.batch_id, r.respondent_id, r.borrower_id, r.submitted_at,
               r.product, r.region,
               r.overdue_bucket, r.channel, r.csat, r.nps, r.text,
               {sentiment} AS sentiment, s.sentiment AS model_sentiment, s.sentiment_score,
               s.confidence, ({complaint}) AS complaint, s.complaint AS model_complaint,
               s.aspects, s.emotions, s.complaint_reasons, s.requests, s.risk_flags,
               s.risk_evidence, s.model_id,
               rv.last_action AS review_status
        FROM responses r
        JOIN scores s ON s.target_kind = 'response' AND s.target_id = r.response_id
        LEFT JOIN ({_LATEST_REVIEW}) rv
               ON rv.target_kind = 'response' AND rv.target_id = r.response_id
        WHERE {where}
    """
    return sql, params


def kpis(store: Store, f: Filters) -> dict:
    """Headline numbers for the period and the previous one."""

    def one(flt: Filters) -> dict:
        sql, params = responses_sql(flt)
        row = store.query(
            f"""SELECT count(*) AS n,
                       avg((sentiment = 'negative')::INT) AS negative_share,
                       avg(complaint::INT) AS complaint_rate,
                       avg(csat) AS csat, avg(nps) AS nps,
                       count(csat) AS csat_n,
                       avg((list_has_any(requests, ['understanding', 'flexible_plan']))::INT)
                           AS wants_flexibility
                FROM ({sql})""",
            params,
        ).iloc[0]
        return {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}

    current = one(f)
    prev_f = f.previous_period()
    previous = one(prev_f) if prev_f else None
    if previous is not None and not previous["n"]:
        previous = None  # no data before: no change to show
    calls_where, calls_params = where_clause(call_filters(f), "c", "started_at")
    current["calls"] = float(
        store.scalar(f"SELECT count(*) FROM calls c WHERE {calls_where}", calls_params) or 0
    )
    return {"current": current, "previous": previous}


def sentiment_by_tactic(store: Store, f: Filters) -> pd.DataFrame:
    """tactic, polarity, n: the borrower's polarity toward each tactic they wrote about."""
    sql, params = responses_sql(f)
    return store.query(
        f"""SELECT a.tactic, a.polarity, count(*) AS n
            FROM ({sql}) r JOIN aspects a
              ON a.target_kind = 'response' AND a.target_id = r.response_id
            GROUP BY ALL ORDER BY ALL""",
        params,
    )


def trend(store: Store, f: Filters, freq: str = "month") -> pd.DataFrame:
    """period, n, negative_share, complaint_rate, positive_share, and the counts behind the
    rates: negatives, complaints (both out of n)."""
    unit = "week" if freq == "week" else "month"
    sql, params = responses_sql(f)
    return store.query(
        f"""SELECT date_trunc('{unit}', submitted_at)::DATE AS period, count(*) AS n,
                   avg((sentiment = 'negative')::INT) AS negative_share,
                   avg((sentiment = 'positive')::INT) AS positive_share,
                   avg(complaint::INT) AS complaint_rate,
                   count_if(sentiment = 'negative')::BIGINT AS negatives,
                   count_if(complaint)::BIGINT AS complaints
            FROM ({sql}) GROUP BY 1 ORDER BY 1""",
        params,
    )


BREAKDOWN_DIMENSIONS = {
    "product": "产品",
    "region": "地区",
    "overdue_bucket": "逾期阶段",
    "channel": "催收渠道",
}


def breakdown(store: Store, f: Filters, dim: str) -> pd.DataFrame:
    """value, sentiment, n for one of BREAKDOWN_DIMENSIONS."""
    if dim not in BREAKDOWN_DIMENSIONS:
        raise ValueError(f"unknown dimension {dim}")
    sql, params = responses_sql(f)
    return store.query(
        f"""SELECT coalesce({dim}, '未填写') AS value, sentiment, count(*) AS n
            FROM ({sql}) GROUP BY ALL ORDER BY ALL""",
        params,
    )


def emotions_by_tactic(store: Store, f: Filters) -> pd.DataFrame:
    """tactic, emotion, n."""
    sql, params = responses_sql(f)
    return store.query(
        f"""SELECT a.tactic, e.emotion, count(*) AS n
            FROM ({sql}) r
            JOIN aspects a ON a.target_kind = 'response' AND a.target_id = r.response_id
            CROSS JOIN UNNEST(r.emotions) AS e(emotion)
            GROUP BY ALL ORDER BY ALL""",
        params,
    )


def csat_by_tactic(store: Store, f: Filters) -> pd.DataFrame:
    """tactic, polarity, mean CSAT, n (responses with a CSAT score)."""
    sql, params = responses_sql(f)
    return store.query(
        f"""SELECT a.tactic, a.polarity, avg(r.csat) AS csat, count(r.csat) AS n
            FROM ({sql}) r JOIN aspects a
              ON a.target_kind = 'response' AND a.target_id = r.response_id
            WHERE r.csat IS NOT NULL GROUP BY ALL ORDER BY ALL""",
        params,
    )


def _records_sql(
    f: Filters,
    tactic: str | None,
    polarity: str | None,
    sentiment: str | None,
    period: date | None,
    freq: str,
    dim: str | None,
    value: str | None,
    complaint_only: bool,
    search: str | None,
) -> tuple[str, list]:
    """SQL for the responses behind a chart element, unordered, and its parameters."""
    sql, params = responses_sql(f)
    where, extra = ["TRUE"], []
    if tactic:
        where.append(
            "r.response_id IN (SELECT target_id FROM aspects WHERE target_kind = "
            "'response' AND tactic = ?" + (" AND polarity = ?" if polarity else "") + ")"
        )
        extra += [tactic] + ([polarity] if polarity else [])
    if sentiment:
        where.append("r.sentiment = ?")
        extra.append(sentiment)
    if period is not None:
        unit = "week" if freq == "week" else "month"
        where.append(f"date_trunc('{unit}', r.submitted_at)::DATE = ?")
        extra.append(pd.Timestamp(period).date())
    if dim:
        if dim not in BREAKDOWN_DIMENSIONS:
            raise ValueError(f"unknown dimension {dim}")
        where.append(f"coalesce(r.{dim}, '未填写') = ?")
        extra.append(value)
    if complaint_only:
        where.append("r.complaint")
    if search:
        where.append("r.text ILIKE ?")
        extra.append(f"%{search}%")
    return f"SELECT * FROM ({sql}) r WHERE {' AND '.join(where)}", params + extra


_RECORDS_ORDER = "submitted_at DESC, response_id"


def records(
    store: Store,
    f: Filters,
    *,
    tactic: str | None = None,
    polarity: str | None = None,
    sentiment: str | None = None,
    period: date | None = None,
    freq: str = "month",
    dim: str | None = None,
    value: str | None = None,
    complaint_only: bool = False,
    search: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """The newest ``limit`` responses behind a chart element (drill-down); for a table that
    shows how many there are in all, use :func:`records_page`."""
    sql, params = _records_sql(
        f, tactic, polarity, sentiment, period, freq, dim, value, complaint_only, search
    )
    return masked(first_rows(store, sql, params, _RECORDS_ORDER, limit))


def records_page(
    store: Store,
    f: Filters,
    *,
    tactic: str | None = None,
    polarity: str | None = None,
    sentiment: str | None = None,
    period: date | None = None,
    freq: str = "month",
    dim: str | None = None,
    value: str | None = None,
    complaint_only: bool = False,
    search: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of the responses behind a chart element, newest first, with their true total
    (the arguments of :func:`records`)."""
    sql, params = _records_sql(
        f, tactic, polarity, sentiment, period, freq, dim, value, complaint_only, search
    )
    page = paged(store, sql, params, _RECORDS_ORDER, offset, limit)
    return replace(page, rows=masked(page.rows))


def filter_options(store: Store) -> dict[str, list[str]]:
    """Distinct values for the sidebar filters."""
    out = {}
    for col in ("product", "region", "channel", "overdue_bucket"):
        out[col] = store.query(
            f"SELECT DISTINCT {col} AS v FROM responses WHERE {col} IS NOT NULL ORDER BY 1"
        )["v"].tolist()
    out["batches"] = (
        store.query("SELECT batch_id, file_name FROM batches ORDER BY uploaded_at DESC")
        .apply(lambda r: f"{r.batch_id}|{r.file_name}", axis=1)
        .tolist()
        if has_batches(store)
        else []
    )
    bounds = store.query("SELECT min(submitted_at) AS lo, max(submitted_at) AS hi FROM responses")
    out["date_range"] = [bounds["lo"].iloc[0], bounds["hi"].iloc[0]]
    return out


def has_batches(store: Store) -> bool:
    return bool(store.scalar("SELECT count(*) FROM batches"))


def list_batches(store: Store) -> pd.DataFrame:
    """Upload batches, newest first; ``uploaded_at`` in the display time zone."""
    out = store.query(
        """SELECT batch_id, file_name, kind, row_count, uploaded_by, uploaded_at, status,
                  is_demo, model_id FROM batches ORDER BY uploaded_at DESC"""
    )
    out["uploaded_at"] = to_display_time(out["uploaded_at"])
    return out


SEVERITY = (
    "len(r.complaint_reasons)"
    " + 2 * list_has_any(r.complaint_reasons, ['threat', 'impersonation'])::INT"
)
"""A queued answer's severity: its complaint reasons, threats and impersonation counting 3."""


def queue_filters(
    tactic: str | None, emotion: str | None, reason: str | None, search: str | None
) -> tuple[list[str], list]:
    """WHERE conditions on ``responses_sql`` rows (alias ``r``) shared by the review queues:
    a tactic, an emotion, a complaint reason, and a search that matches the phrase as a
    substring or all of its jieba tokens."""
    where, params = [], []
    if tactic:
        where.append(
            "r.response_id IN (SELECT target_id FROM aspects WHERE "
            "target_kind = 'response' AND tactic = ?)"
        )
        params.append(tactic)
    if emotion:
        where.append("list_contains(r.emotions, ?)")
        params.append(emotion)
    if reason:
        where.append("list_contains(r.complaint_reasons, ?)")
        params.append(reason)
    if search and search.strip():
        from nlp.segment import tokenize

        tokens = [t for t in tokenize(search.strip()) if t.strip()][:6]
        token_sql = " AND ".join(["r.text ILIKE ?"] * len(tokens)) or "FALSE"
        where.append(f"(r.text ILIKE ? OR ({token_sql}))")
        params += [f"%{search.strip()}%"] + [f"%{t}%" for t in tokens]
    return where, params


def _complaints_sql(
    f: Filters,
    tactic: str | None,
    emotion: str | None,
    reason: str | None,
    status: str | None,
    search: str | None,
) -> tuple[str, list]:
    sql, params = responses_sql(replace(f, use_reviews=False))
    where, extra = ["r.model_complaint"], []
    if status == "unreviewed":
        where.append("r.review_status IS NULL")
    elif status:
        where.append("r.review_status = ?")
        extra.append(status)
    more, more_params = queue_filters(tactic, emotion, reason, search)
    sql = f"""SELECT r.*, {SEVERITY} AS severity
              FROM ({sql}) r WHERE {" AND ".join(where + more)}"""
    return sql, params + extra + more_params


_COMPLAINTS_ORDER = "severity DESC, submitted_at DESC, response_id"


def complaint_queue(
    store: Store,
    f: Filters,
    *,
    tactic: str | None = None,
    emotion: str | None = None,
    reason: str | None = None,
    status: str | None = None,
    search: str | None = None,
    limit: int = 300,
) -> pd.DataFrame:
    """The first ``limit`` complaint-flagged responses, most severe then newest first.

    ``search`` matches the phrase as a substring, or all of its jieba tokens.
    ``status``: "unreviewed" or a review action id. For the queue with its true length, use
    :func:`complaint_page`.
    """
    sql, params = _complaints_sql(f, tactic, emotion, reason, status, search)
    return masked(first_rows(store, sql, params, _COMPLAINTS_ORDER, limit))


def complaint_page(
    store: Store,
    f: Filters,
    *,
    tactic: str | None = None,
    emotion: str | None = None,
    reason: str | None = None,
    status: str | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of the complaint queue (the filters of :func:`complaint_queue`) and the
    true number of complaints that match."""
    sql, params = _complaints_sql(f, tactic, emotion, reason, status, search)
    page = paged(store, sql, params, _COMPLAINTS_ORDER, offset, limit)
    return replace(page, rows=masked(page.rows))


def review_effect(store: Store, f: Filters) -> dict[str, float]:
    """How reviews moved the complaint figures under the filters ``f`` (its ``use_reviews``
    is ignored): ``flagged`` (model-flagged complaints, the queue), ``reviewed`` (of those,
    with a review), ``complaints`` / ``negative_share`` with the reviewed labels and
    ``model_complaints`` / ``model_negative_share`` from the model alone."""
    sql, params = responses_sql(replace(f, use_reviews=True))
    row = store.query(
        f"""SELECT count(*) FILTER (WHERE model_complaint) AS flagged,
                   count(*) FILTER (WHERE model_complaint AND review_status IS NOT NULL)
                       AS reviewed,
                   count(*) FILTER (WHERE complaint) AS complaints,
                   count(*) FILTER (WHERE model_complaint) AS model_complaints,
                   avg((sentiment = 'negative')::INT) AS negative_share,
                   avg((model_sentiment = 'negative')::INT) AS model_negative_share
            FROM ({sql})""",
        params,
    ).iloc[0]
    return {k: (0.0 if pd.isna(v) else float(v)) for k, v in row.items()}


def response(store: Store, response_id: str) -> pd.Series | None:
    sql, params = responses_sql(Filters())
    df = masked(store.query(f"SELECT * FROM ({sql}) WHERE response_id = ?", [*params, response_id]))
    return None if df.empty else df.iloc[0]
