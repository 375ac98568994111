"""Active learning: the unreviewed records whose labels the model is least sure of, first.

A reviewer's correction teaches a new model version most where the model was unsure, so
投诉复核 can order unreviewed survey answers by :data:`UNCERTAINTY`, from what every stored
score holds: how far the sentiment's top probability is from certain (``1 - confidence``:
near a three-way tie it approaches 0.67), plus a penalty where the labels contradict each
other (a complaint the model calls not negative; a positive text with negative emotions).
Unlike the complaint queue it includes records the model did not flag: a complaint it missed
is exactly what a reviewer should see.
"""

from __future__ import annotations

from dataclasses import replace

from data.paging import PAGE_SIZE, Page, paged
from data.queries import SEVERITY, queue_filters, responses_sql
from data.query_base import Filters, masked
from data.store import Store

NEGATIVE_EMOTIONS = ("anxiety", "anger", "fear", "shame", "helplessness")
UNCERTAINTY = f"""(1 - coalesce(r.confidence, 0))
    + 0.5 * (r.model_complaint AND r.model_sentiment <> 'negative')::INT
    + 0.25 * (r.model_sentiment = 'positive'
              AND list_has_any(r.emotions, {list(NEGATIVE_EMOTIONS)!r}))::INT"""
ORDER = "uncertainty DESC, submitted_at DESC, response_id"


def uncertain_sql(
    f: Filters,
    *,
    tactic: str | None = None,
    emotion: str | None = None,
    reason: str | None = None,
    search: str | None = None,
) -> tuple[str, list]:
    """Unreviewed answers with their ``uncertainty`` (and the queue's ``severity``)."""
    sql, params = responses_sql(replace(f, use_reviews=False))
    where, extra = queue_filters(tactic, emotion, reason, search)
    sql = f"""SELECT r.*, round({UNCERTAINTY}, 3) AS uncertainty, {SEVERITY} AS severity
              FROM ({sql}) r WHERE {" AND ".join(["r.review_status IS NULL", *where])}"""
    return sql, params + extra


def uncertain_page(
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
    """One page of unreviewed answers, least certain first, and how many there are.

    ``status`` is accepted for the complaint queue's signature; only unreviewed records are
    listed (a reviewed record has its answer already).
    """
    del status
    sql, params = uncertain_sql(f, tactic=tactic, emotion=emotion, reason=reason, search=search)
    page = paged(store, sql, params, ORDER, offset, limit)
    return replace(page, rows=masked(page.rows))
