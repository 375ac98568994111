"""Demo collection calls: who calls whom and when, rule violations, outcomes and turn timings."""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from datetime import date, datetime
from itertools import accumulate
from typing import Any, NamedTuple

import pandas as pd

from data.demo.common import (
    AGENTS,
    CALL_COLUMNS,
    OUTCOMES,
    OVERDUE_BUCKETS,
    PRODUCTS,
    TIMEZONE,
    TURN_COLUMNS,
    VIOLATING_AGENTS,
    day_sampler,
    load_table,
    weighted,
)
from data.demo.transcripts import Turns, asr, compose_call
from nlp.labels import VIOLATION_RULES

_TABLE: dict[str, Any] = load_table("calls")
# How often an agent's call breaks a rule, and which rules (weights).
_AGENT_PROFILES: dict[str, tuple[float, dict[str, int]]] = {
    agent_id: (profile["rate"], profile["rules"])
    for agent_id, profile in _TABLE["violation_profiles"].items()
}
_DEFAULT_PROFILE = (_TABLE["default_profile"]["rate"], _TABLE["default_profile"]["rules"])
_OVER_FREQUENCY_AGENTS: tuple[str, ...] = _TABLE["over_frequency_agents"]
_AGENT_BY_ID = {a[0]: a for a in AGENTS}


class _CallPlan(NamedTuple):
    agent_id: str
    day: date
    hour: int
    borrower_id: str
    product: str
    overdue_bucket: str
    nth_today: int  # position in an over-frequency cluster; 1 for ordinary calls
    cluster: bool


class _Draft(NamedTuple):
    started: datetime
    plan: _CallPlan
    outcome: str
    truth: tuple[bool, tuple[str, ...], bool, bool]  # plan_offered, violations, asr, campaign
    turns: Turns


def generate_calls(
    rng: random.Random, n: int, today: date, campaign: pd.Period
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``n`` calls over the 365 days before ``today``: calls, turns and ground truth."""
    drafts = [_draft_call(rng, plan, campaign) for plan in _plan_calls(rng, n, today, campaign)]
    drafts.sort(key=lambda d: (d.started, d.plan.agent_id))
    call_rows, turn_rows, truth_rows = [], [], []
    for i, draft in enumerate(drafts):
        call_id = f"demo-c-{i + 1:04d}"
        timed, clock = _timed_turns(rng, call_id, draft.turns)
        turn_rows += timed
        plan = draft.plan
        _, agent_name, team = _AGENT_BY_ID[plan.agent_id]
        call_rows.append(
            (call_id, plan.borrower_id, plan.agent_id, agent_name, team, draft.started,
             math.ceil(clock + rng.uniform(1, 4)), draft.outcome, plan.product,
             plan.overdue_bucket)
        )  # fmt: skip
        truth_rows.append((call_id, *draft.truth))
    return _call_frames(call_rows, turn_rows, truth_rows)


def _plan_calls(rng: random.Random, n: int, today: date, campaign: pd.Period) -> list[_CallPlan]:
    """Who calls whom, when: over-frequency clusters first, then ordinary calls."""
    days, weights = day_sampler(today, campaign, 2.4)
    cumulative = list(accumulate(weights))

    def draw_day() -> date:
        return days[bisect_left(cumulative, rng.random() * cumulative[-1])]

    plans: list[_CallPlan] = []
    for c in range(min(4, n // 60)):  # one violating agent calls one borrower 4-6 times a day
        agent_id = _OVER_FREQUENCY_AGENTS[c % len(_OVER_FREQUENCY_AGENTS)]
        day, borrower = draw_day(), f"B{rng.randrange(100_000, 1_000_000)}"
        product = rng.choices(PRODUCTS, weights=(55, 33, 12))[0]
        bucket = rng.choices(OVERDUE_BUCKETS, weights=(30, 35, 35))[0]
        hours = sorted(rng.sample(range(9, 21), rng.randint(4, 6)))
        plans += [
            _CallPlan(agent_id, day, hour, borrower, product, bucket, nth, True)
            for nth, hour in enumerate(hours, start=1)
        ]
    agent_weights = [1.2 if a[0] in VIOLATING_AGENTS else 1.0 for a in AGENTS]
    while len(plans) < n:
        plans.append(
            _CallPlan(
                agent_id=rng.choices(AGENTS, weights=agent_weights)[0][0],
                day=draw_day(),
                hour=rng.choices(range(9, 21), weights=(5, 8, 8, 4, 4, 7, 8, 8, 7, 5, 3, 2))[0],
                borrower_id=f"B{rng.randrange(100_000, 1_000_000)}",
                product=rng.choices(PRODUCTS, weights=(55, 33, 12))[0],
                overdue_bucket=rng.choices(OVERDUE_BUCKETS, weights=(45, 30, 25))[0],
                nth_today=1,
                cluster=False,
            )
        )
    return plans[:n]


def _draft_call(rng: random.Random, plan: _CallPlan, campaign: pd.Period) -> _Draft:
    """Violations, start time, outcome and transcript of one planned call."""
    in_campaign = pd.Period(plan.day, freq="M") == campaign
    violations = _violations(rng, plan, in_campaign)
    hour = rng.choice((22, 22, 23, 6, 7, 7)) if "off_hours" in violations else plan.hour
    minute = rng.randrange(5, 60) if hour == 22 else rng.randrange(60)
    if rng.random() < 0.06 and not plan.cluster:
        outcome, offered = "wrong_party", False
        violations = [v for v in violations if v not in {"new_debt", "misleading", "threat"}]
    else:
        offered = rng.random() < (0.22 if violations else 0.5)
        outcome_weights = (55, 10, 18, 12) if offered else (20, 32, 40, 6)
        outcome = rng.choices(OUTCOMES[:4], weights=outcome_weights)[0]
    if "impersonation" in violations and "no_identity_disclosure" not in violations:
        violations.append("no_identity_disclosure")  # a fake court never names the lender
    order = [v for v in VIOLATION_RULES if v in violations]
    rng.shuffle(order)
    turns = compose_call(
        rng, _AGENT_BY_ID[plan.agent_id], plan.product, outcome, offered, order, hour,
        plan.nth_today,
    )  # fmt: skip
    is_asr = rng.random() < 0.3
    if is_asr:
        turns = [(speaker, asr(rng, text)) for speaker, text in turns]
    started = datetime(plan.day.year, plan.day.month, plan.day.day, hour, minute,
                       rng.randrange(60))  # fmt: skip
    truth = (offered, tuple(sorted(violations)), is_asr, in_campaign)
    return _Draft(started, plan, outcome, truth, turns)


def _violations(rng: random.Random, plan: _CallPlan, in_campaign: bool) -> list[str]:
    """The rule ids this call breaks, drawn from the agent's profile."""
    rate, rule_weights = _AGENT_PROFILES.get(plan.agent_id, _DEFAULT_PROFILE)
    if in_campaign and plan.agent_id in _AGENT_PROFILES:
        rate = min(0.95, rate + 0.1)
    violations = ["over_frequency"] if plan.cluster else []
    if rng.random() < rate:
        pool = dict(rule_weights)
        for _ in range(rng.choices((1, 2, 3), weights=(55, 35, 10))[0]):
            if pool:
                violations.append(weighted(rng, pool))
                pool.pop(violations[-1])
    return violations


def _timed_turns(
    rng: random.Random, call_id: str, turns: Turns
) -> tuple[list[tuple[str, int, str, str, float, float]], float]:
    """Turn rows (``TURN_COLUMNS``) with start/end seconds, and the clock after the last."""
    rows = []
    clock = round(rng.uniform(0.5, 3.0), 2)
    for index, (speaker, text) in enumerate(turns):
        length = max(0.8, len(text) * rng.uniform(0.2, 0.27) + rng.uniform(0.2, 0.8))
        start, end = clock, round(clock + length, 2)
        rows.append((call_id, index, speaker, text, start, end))
        clock = round(end + rng.uniform(0.15, 1.2), 2)
    return rows, clock


def _call_frames(
    call_rows: list[tuple[Any, ...]],
    turn_rows: list[tuple[Any, ...]],
    truth_rows: list[tuple[Any, ...]],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The calls, turns and call-truth frames with their dtypes."""
    calls = pd.DataFrame(call_rows, columns=list(CALL_COLUMNS))
    calls["started_at"] = (
        pd.to_datetime(calls["started_at"]).astype("datetime64[ns]").dt.tz_localize(TIMEZONE)
    )
    calls["duration_s"] = calls["duration_s"].astype("int64")
    turns = pd.DataFrame(turn_rows, columns=list(TURN_COLUMNS))
    turns["turn_index"] = turns["turn_index"].astype("int64")
    turns[["start_s", "end_s"]] = turns[["start_s", "end_s"]].astype("float64")
    call_truth = pd.DataFrame(
        truth_rows, columns=["call_id", "plan_offered", "violations", "asr", "campaign"]
    )
    return calls, turns, call_truth
