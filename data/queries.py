"""Read-side queries for the dashboard. Pure functions of (store, filters) -> DataFrame.

Reviewed labels override model labels (``use_reviews=True``), so a reviewer's
correction changes every chart; ``use_reviews=False`` shows model-only figures.

Every function that returns borrower text returns it masked (``data.pii``: phones, ID and
card numbers, e-mails, names). The original text is only reachable through
``data.access.reveal_*``, which checks the actor's role and writes an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import pandas as pd

from data.pii import mask_pii, mask_series
from data.store import Store


@dataclass(frozen=True)
class Filters:
    """Sidebar filters shared by every page. Empty tuples mean "all"."""

    date_from: date | None = None
    date_to: date | None = None
    products: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    batches: tuple[str, ...] = ()
    use_reviews: bool = True
    extra: tuple[tuple[str, str], ...] = field(default=())

    def previous_period(self) -> Filters | None:
        """The same-length period just before this one (for KPI deltas)."""
        if not (self.date_from and self.date_to):
            return None
        days = (self.date_to - self.date_from).days + 1
        return replace(
            self,
            date_from=self.date_from - timedelta(days=days),
            date_to=self.date_from - timedelta(days=1),
        )


_LATEST_REVIEW = """
    SELECT target_kind, target_id,
           arg_max(sentiment, reviewed_at) FILTER (WHERE sentiment IS NOT NULL) AS sentiment,
           arg_max(complaint, reviewed_at) FILTER (WHERE complaint IS NOT NULL) AS complaint,
           arg_max(action, reviewed_at) AS last_action,
           max(reviewed_at) AS reviewed_at
    FROM reviews GROUP BY target_kind, target_id
"""


def _where(f: Filters, alias: str = "r", date_col: str = "submitted_at") -> tuple[str, list]:
    clauses, params = ["TRUE"], []
    if f.date_from:
        clauses.append(f"{alias}.{date_col} >= ?")
        params.append(pd.Timestamp(f.date_from))
    if f.date_to:
        clauses.append(f"{alias}.{date_col} < ?")
        params.append(pd.Timestamp(f.date_to) + pd.Timedelta(days=1))
    for col, values in (
        ("product", f.products),
        ("region", f.regions),
        ("channel", f.channels),
        ("overdue_bucket", f.buckets),
        ("batch_id", f.batches),
    ):
        if values:
            clauses.append(f"{alias}.{col} IN (SELECT UNNEST(?::VARCHAR[]))")
            params.append(list(values))
    return " AND ".join(clauses), params


def responses_sql(f: Filters) -> tuple[str, list]:
    """SQL for scored responses with the review override applied, and its parameters."""
    where, params = _where(f)
    sentiment = "COALESCE(rv.sentiment, s.sentiment)" if f.use_reviews else "s.sentiment"
    complaint = (
        ("COALESCE(rv.complaint, s.complaint) AND coalesce(rv.last_action, '') <> 'false_positive'")
        if f.use_reviews
        else "s.complaint"
    )
    sql = f"""
        SELECT r.response_id, r.batch_id, r.respondent_id, r.submitted_at, r.product, r.region,
               r.overdue_bucket, r.channel, r.csat, r.nps, r.text,
               {sentiment} AS sentiment, s.sentiment AS model_sentiment, s.sentiment_score,
               s.confidence, ({complaint}) AS complaint, s.complaint AS model_complaint,
               s.aspects, s.emotions, s.complaint_reasons, s.requests, s.model_id,
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
    calls_where, calls_params = _where(_call_filters(f), "c", "started_at")
    current["calls"] = float(
        store.scalar(f"SELECT count(*) FROM calls c WHERE {calls_where}", calls_params) or 0
    )
    return {"current": current, "previous": previous}


def _call_filters(f: Filters) -> Filters:
    return replace(f, regions=(), channels=())


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
    """period, n, negative_share, complaint_rate, positive_share."""
    unit = "week" if freq == "week" else "month"
    sql, params = responses_sql(f)
    return store.query(
        f"""SELECT date_trunc('{unit}', submitted_at)::DATE AS period, count(*) AS n,
                   avg((sentiment = 'negative')::INT) AS negative_share,
                   avg((sentiment = 'positive')::INT) AS positive_share,
                   avg(complaint::INT) AS complaint_rate
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
    """The responses behind a chart element (drill-down), newest first."""
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
    return _masked(
        store.query(
            f"SELECT * FROM ({sql}) r WHERE {' AND '.join(where)} "
            f"ORDER BY submitted_at DESC, response_id LIMIT {int(limit)}",
            params + extra,
        )
    )


def _masked(df: pd.DataFrame, column: str = "text") -> pd.DataFrame:
    """``df`` with personal data in ``column`` masked (the read path for display and export)."""
    if not df.empty and column in df.columns:
        df[column] = mask_series(df[column])
    return df


def _masked_evidence(value):
    """Call evidence JSON with the quoted spans and explanations masked."""
    import json

    if not isinstance(value, str) or not value:
        return value
    items = json.loads(value)
    for e in items if isinstance(items, list) else []:
        for key in ("span", "explanation"):
            if isinstance(e.get(key), str):
                e[key] = mask_pii(e[key])
    return json.dumps(items, ensure_ascii=False)


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
    """Upload batches, newest first."""
    return store.query(
        """SELECT batch_id, file_name, kind, row_count, uploaded_by, uploaded_at, status,
                  is_demo, model_id FROM batches ORDER BY uploaded_at DESC"""
    )


# --------------------------------------------------------------------------- calls
def calls_sql(f: Filters) -> tuple[str, list]:
    where, params = _where(_call_filters(f), "c", "started_at")
    sql = f"""
        SELECT c.*, a.violations, a.evidence, a.borrower_sentiment_start,
               a.borrower_sentiment_end, a.sentiment_change, a.agent_offered_plan,
               a.promise_to_pay, len(a.violations) AS n_violations
        FROM calls c LEFT JOIN call_analysis a USING (call_id)
        WHERE {where}
    """
    return sql, params


def calls_table(
    store: Store,
    f: Filters,
    agent: str | None = None,
    rule: str | None = None,
    team: str | None = None,
    limit: int = 2000,
) -> pd.DataFrame:
    sql, params = calls_sql(f)
    where, extra = ["TRUE"], []
    if agent:
        where.append("agent_id = ?")
        extra.append(agent)
    if team:
        where.append("team = ?")
        extra.append(team)
    if rule:
        where.append("list_contains(violations, ?)")
        extra.append(rule)
    out = store.query(
        f"SELECT * FROM ({sql}) WHERE {' AND '.join(where)} "
        f"ORDER BY started_at DESC LIMIT {int(limit)}",
        params + extra,
    )
    if not out.empty:
        out["evidence"] = out["evidence"].map(_masked_evidence)
    return out


def plan_outcomes(store: Store, f: Filters) -> pd.DataFrame:
    """Promise-to-pay rate and mean sentiment change with and without a plan offer."""
    sql, params = calls_sql(f)
    return store.query(
        f"""SELECT agent_offered_plan, count(*) AS calls,
                   avg(promise_to_pay::INT) AS promise_rate,
                   avg(sentiment_change) AS sentiment_change
            FROM ({sql}) WHERE agent_offered_plan IS NOT NULL GROUP BY 1 ORDER BY 1""",
        params,
    )


def violation_outcomes(store: Store, f: Filters) -> pd.DataFrame:
    """Per violation rule (harsh tactic): calls, promise-to-pay rate, sentiment change."""
    sql, params = calls_sql(f)
    return store.query(
        f"""WITH c AS ({sql})
            SELECT v.rule, count(*) AS calls, avg(promise_to_pay::INT) AS promise_rate,
                   avg(sentiment_change) AS sentiment_change
            FROM c CROSS JOIN UNNEST(violations) AS v(rule) GROUP BY 1
            UNION ALL
            SELECT '无违规' AS rule, count(*), avg(promise_to_pay::INT), avg(sentiment_change)
            FROM c WHERE len(violations) = 0
            ORDER BY calls DESC""",
        params,
    )


def agent_scorecard(store: Store, f: Filters) -> pd.DataFrame:
    """Per agent: conduct beside outcome (violations per 100 calls, mood change, plans, PTP)."""
    sql, params = calls_sql(f)
    return store.query(
        f"""SELECT agent_id, any_value(agent_name) AS agent_name, any_value(team) AS team,
                   count(*) AS calls,
                   100.0 * sum(n_violations) / count(*) AS violations_per_100,
                   avg(sentiment_change) AS sentiment_change,
                   avg(agent_offered_plan::INT) AS plan_rate,
                   avg(promise_to_pay::INT) AS promise_rate
            FROM ({sql}) GROUP BY agent_id ORDER BY violations_per_100 DESC""",
        params,
    )


def call_turns(store: Store, call_id: str) -> pd.DataFrame:
    """A call's turns with their sentiment, text masked."""
    return _masked(_call_turns_unmasked(store, call_id))


def _call_turns_unmasked(store: Store, call_id: str) -> pd.DataFrame:
    """Only for ``data.access.reveal_call_turns`` (it checks the role and writes the audit)."""
    return store.query(
        """SELECT t.turn_index, t.speaker, t.text, t.start_s, t.end_s, s.sentiment,
                  s.sentiment_score
           FROM turns t LEFT JOIN scores s
             ON s.target_kind = 'turn' AND s.target_id = t.call_id || '#' || t.turn_index
           WHERE t.call_id = ? ORDER BY t.turn_index""",
        [call_id],
    )


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
    """Complaint-flagged responses, most severe then newest first.

    ``search`` matches the phrase as a substring, or all of its jieba tokens.
    ``status``: "unreviewed" or a review action id.
    """
    sql, params = responses_sql(replace(f, use_reviews=False))
    where, extra = ["r.model_complaint"], []
    if tactic:
        where.append(
            "r.response_id IN (SELECT target_id FROM aspects WHERE "
            "target_kind = 'response' AND tactic = ?)"
        )
        extra.append(tactic)
    if emotion:
        where.append("list_contains(r.emotions, ?)")
        extra.append(emotion)
    if reason:
        where.append("list_contains(r.complaint_reasons, ?)")
        extra.append(reason)
    if status == "unreviewed":
        where.append("r.review_status IS NULL")
    elif status:
        where.append("r.review_status = ?")
        extra.append(status)
    if search and search.strip():
        from nlp.segment import tokenize

        tokens = [t for t in tokenize(search.strip()) if t.strip()][:6]
        token_sql = " AND ".join(["r.text ILIKE ?"] * len(tokens)) or "FALSE"
        where.append(f"(r.text ILIKE ? OR ({token_sql}))")
        extra += [f"%{search.strip()}%"] + [f"%{t}%" for t in tokens]
    return _masked(
        store.query(
            f"""SELECT r.*, len(r.complaint_reasons)
                   + 2 * list_has_any(r.complaint_reasons, ['threat', 'impersonation'])::INT
                   AS severity
            FROM ({sql}) r WHERE {" AND ".join(where)}
            ORDER BY severity DESC, submitted_at DESC LIMIT {int(limit)}""",
            params + extra,
        )
    )


def response(store: Store, response_id: str) -> pd.Series | None:
    sql, params = responses_sql(Filters())
    df = _masked(
        store.query(f"SELECT * FROM ({sql}) WHERE response_id = ?", [*params, response_id])
    )
    return None if df.empty else df.iloc[0]
