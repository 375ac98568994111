"""Read-side queries about collection calls: the call list, outcomes, agents, turns."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from data.paging import PAGE_SIZE, Page, first_rows, paged
from data.query_base import Filters, call_filters, masked, masked_evidence, where_clause
from data.store import Store


def calls_sql(f: Filters) -> tuple[str, list]:
    where, params = where_clause(call_filters(f), "c", "started_at")
    sql = f"""
        SELECT c.*, a.violations, a.evidence, a.borrower_sentiment_start,
               a.borrower_sentiment_end, a.sentiment_change, a.agent_offered_plan,
               a.promise_to_pay, a.party, a.risk_flags, len(a.violations) AS n_violations
        FROM calls c LEFT JOIN call_analysis a USING (call_id)
        WHERE {where}
    """
    return sql, params


def _calls_filtered_sql(
    f: Filters,
    agent: str | None,
    rule: str | None,
    team: str | None,
    violations_only: bool,
) -> tuple[str, list]:
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
    if violations_only:
        where.append("n_violations > 0")
    return f"SELECT * FROM ({sql}) WHERE {' AND '.join(where)}", params + extra


_CALLS_ORDER = "started_at DESC, call_id"


def _masked_calls(df: pd.DataFrame) -> pd.DataFrame:
    if not df.empty:
        df["evidence"] = df["evidence"].map(masked_evidence)
    return df


def calls_table(
    store: Store,
    f: Filters,
    agent: str | None = None,
    rule: str | None = None,
    team: str | None = None,
    limit: int = 2000,
    *,
    violations_only: bool = False,
) -> pd.DataFrame:
    """The newest ``limit`` calls with their analysis, evidence masked; ``violations_only``
    keeps calls with at least one violation. For a table with a true total, use
    :func:`calls_page`."""
    sql, params = _calls_filtered_sql(f, agent, rule, team, violations_only)
    return _masked_calls(first_rows(store, sql, params, _CALLS_ORDER, limit))


def calls_page(
    store: Store,
    f: Filters,
    *,
    agent: str | None = None,
    rule: str | None = None,
    team: str | None = None,
    violations_only: bool = False,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of calls, newest first, with the true total (the filters of
    :func:`calls_table`, all applied in SQL before the page is cut)."""
    sql, params = _calls_filtered_sql(f, agent, rule, team, violations_only)
    page = paged(store, sql, params, _CALLS_ORDER, offset, limit)
    return replace(page, rows=_masked_calls(page.rows))


def plan_outcomes(store: Store, f: Filters) -> pd.DataFrame:
    """Promise-to-pay rate and mean sentiment change with and without a plan offer.

    ``promises`` of ``ptp_n`` calls with a known outcome give ``promise_rate`` (the counts an
    interval needs)."""
    sql, params = calls_sql(f)
    return store.query(
        f"""SELECT agent_offered_plan, count(*) AS calls,
                   avg(promise_to_pay::INT) AS promise_rate,
                   count_if(promise_to_pay)::BIGINT AS promises, count(promise_to_pay) AS ptp_n,
                   avg(sentiment_change) AS sentiment_change
            FROM ({sql}) WHERE agent_offered_plan IS NOT NULL GROUP BY 1 ORDER BY 1""",
        params,
    )


NO_VIOLATION = "无违规"
"""The ``rule`` of calls without any violation in :func:`violation_outcomes`."""


def violation_outcomes(store: Store, f: Filters, by_stage: bool = False) -> pd.DataFrame:
    """Per violation rule (harsh tactic) and for calls without one (rule ``无违规``): calls,
    promises of ptp_n calls with a known outcome, promise-to-pay rate, sentiment change.

    ``by_stage`` gives one row per rule and ``stage`` (the call's overdue bucket, 未填写 when
    missing) with ``stage_calls``, all calls in that stage (the weights for a stage-standardised
    rate): a rule is then compared with clean calls of the same overdue stage, since a tactic
    used mostly on early-stage borrowers would otherwise look effective.
    """
    sql, params = calls_sql(f)
    stats = """count(*) AS calls, avg(promise_to_pay::INT) AS promise_rate,
               count_if(promise_to_pay)::BIGINT AS promises, count(promise_to_pay) AS ptp_n,
               avg(sentiment_change) AS sentiment_change"""
    if not by_stage:
        return store.query(
            f"""WITH c AS ({sql})
                SELECT v.rule, {stats} FROM c CROSS JOIN UNNEST(violations) AS v(rule) GROUP BY 1
                UNION ALL
                SELECT '{NO_VIOLATION}' AS rule, {stats} FROM c WHERE len(violations) = 0
                ORDER BY calls DESC, rule""",
            params,
        )
    return store.query(
        f"""WITH c AS (SELECT *, coalesce(overdue_bucket, '未填写') AS stage FROM ({sql})),
                 mix AS (SELECT stage, count(*) AS stage_calls FROM c GROUP BY 1),
                 r AS (
                    SELECT v.rule, stage, {stats}
                    FROM c CROSS JOIN UNNEST(violations) AS v(rule) GROUP BY 1, 2
                    UNION ALL
                    SELECT '{NO_VIOLATION}' AS rule, stage, {stats}
                    FROM c WHERE len(violations) = 0 GROUP BY 1, 2)
            SELECT r.*, mix.stage_calls FROM r JOIN mix USING (stage)
            ORDER BY stage, calls DESC, rule""",
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
                   avg(promise_to_pay::INT) AS promise_rate,
                   count_if(promise_to_pay)::BIGINT AS promises, count(promise_to_pay) AS ptp_n
            FROM ({sql}) GROUP BY agent_id ORDER BY violations_per_100 DESC""",
        params,
    )


def call_turns(store: Store, call_id: str) -> pd.DataFrame:
    """A call's turns with their sentiment, text masked."""
    return masked(call_turns_unmasked(store, call_id))


def call_turns_unmasked(store: Store, call_id: str) -> pd.DataFrame:
    """Only for ``data.access.reveal_call_turns`` (it checks the role and writes the audit)."""
    return store.query(
        """SELECT t.turn_index, t.speaker, t.text, t.start_s, t.end_s, s.sentiment,
                  s.sentiment_score
           FROM turns t LEFT JOIN scores s
             ON s.target_kind = 'turn' AND s.target_id = t.call_id || '#' || t.turn_index
           WHERE t.call_id = ? ORDER BY t.turn_index""",
        [call_id],
    )
