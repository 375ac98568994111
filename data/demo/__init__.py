"""Deterministic demo dataset: survey responses, collection calls and their turns.

The dashboard shows this data on first start, before anyone has imported real records. Texts
are composed from many hand-written Chinese fragments (openers, experiences per tactic and
polarity, feelings, requests, closers; call stages per agent behaviour) with a seeded RNG, then
roughened with typos, homophones, pinyin shorthand, emoji and some Traditional characters.
The fragments live in ``data/resources/demo/*.yaml``; ``surveys``, ``calls`` and
``transcripts`` compose them. Pure Python, pandas and PyYAML: no streamlit, no model calls.

Planted relationships a manager can discover (checked by ``tests/data/test_demo.py``):

1. Responses about third-party contact or threats are far more often negative, with lower CSAT,
   than responses about repayment plans.
2. Calls in which the agent offers a plan (延期/分期/减免罚息/停催/协商) end in
   ``promise_to_pay`` much more often.
3. Four of the 24 agents (``VIOLATING_AGENTS``) account for most rule violations.
4. One month (``harsh_campaign_month(today)``, 2026-06 by default) has more calls and a clearly
   higher share of negative responses (threats, third-party contact, frequency).
5. CSAT follows how positive the experience was; M3+ is more negative than M1.

Example:
    >>> demo = generate_demo()
    >>> len(demo.surveys), demo.calls["agent_id"].nunique()
    (3200, 24)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from data.demo.calls import generate_calls
from data.demo.common import (
    AGENTS,
    CALL_COLUMNS,
    CAMPAIGN_MONTHS_BEFORE,
    CHANNELS,
    DEFAULT_SEED,
    DEFAULT_TODAY,
    ORGANISATION,
    OUTCOMES,
    OVERDUE_BUCKETS,
    PRODUCTS,
    REGIONS,
    SURVEY_COLUMNS,
    TEAMS,
    TURN_COLUMNS,
    VIOLATING_AGENTS,
)
from data.demo.common import TIMEZONE as TIMEZONE  # a module attribute, as before
from data.demo.surveys import (
    EXPERIENCES,
    SHORTHAND,
    TACTIC_KEYWORDS,
    TRADITIONAL,
    TRADITIONAL_ONLY_CHARS,
    TYPOS,
    generate_surveys,
)


@dataclass(frozen=True, eq=False)
class DemoData:
    """The demo frames, plus generation ground truth for tests.

    Attributes:
        surveys: one row per survey response (columns ``SURVEY_COLUMNS``).
        calls: one row per call (columns ``CALL_COLUMNS``).
        turns: one row per call turn (columns ``TURN_COLUMNS``).
        truth: generation ground truth per response, keyed by ``response_id``: ``sentiment``
            (planned), ``positivity`` (-1..1), ``tactics`` and aligned ``polarities`` (-1/0/1),
            ``emotions``, ``requests`` (label ids from ``nlp.labels``), ``complaint``,
            ``traditional``, ``campaign``. For tests and model evaluation only; never show it.
        call_truth: the same per call, keyed by ``call_id``: ``plan_offered``, ``violations``
            (``VIOLATION_RULES`` ids), ``asr`` (ASR-flavoured transcript), ``campaign``.
    """

    surveys: pd.DataFrame
    calls: pd.DataFrame
    turns: pd.DataFrame
    truth: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    call_truth: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


def harsh_campaign_month(today: date | None = None) -> pd.Period:
    """The month of the planted "harsh campaign" (2026-06 for the default ``today``)."""
    today = today or DEFAULT_TODAY
    return pd.Period(today, freq="M") - CAMPAIGN_MONTHS_BEFORE


def generate_demo(
    seed: int = DEFAULT_SEED,
    n_surveys: int = 3200,
    n_calls: int = 360,
    today: date | None = None,
) -> DemoData:
    """Generate the demo dataset; the same arguments always give identical frames.

    Args:
        seed: RNG seed.
        n_surveys: number of survey responses, spread over the 365 days before ``today``.
        n_calls: number of calls (8-30 turns each), over the same period.
        today: the day the data ends (exclusive); defaults to 2026-11-28 so output is fixed.

    Returns:
        DemoData with ``surveys``, ``calls``, ``turns`` and the ground-truth frames.

    Example:
        >>> demo = generate_demo(n_surveys=50, n_calls=20)
        >>> demo.turns.groupby("call_id").size().between(8, 30).all()
        np.True_
    """
    if n_surveys < 1 or n_calls < 1:
        raise ValueError(f"n_surveys and n_calls must be positive, got {n_surveys}, {n_calls}")
    today = today or DEFAULT_TODAY
    campaign = harsh_campaign_month(today)
    surveys, truth = generate_surveys(random.Random(seed), n_surveys, today, campaign)
    calls, turns, call_truth = generate_calls(random.Random(seed + 1), n_calls, today, campaign)
    return DemoData(surveys, calls, turns, truth, call_truth)


__all__ = [
    "AGENTS",
    "CALL_COLUMNS",
    "CHANNELS",
    "DEFAULT_TODAY",
    "EXPERIENCES",
    "ORGANISATION",
    "OUTCOMES",
    "OVERDUE_BUCKETS",
    "PRODUCTS",
    "REGIONS",
    "SHORTHAND",
    "SURVEY_COLUMNS",
    "TACTIC_KEYWORDS",
    "TEAMS",
    "TRADITIONAL",
    "TRADITIONAL_ONLY_CHARS",
    "TURN_COLUMNS",
    "TYPOS",
    "VIOLATING_AGENTS",
    "DemoData",
    "generate_demo",
    "harsh_campaign_month",
]
