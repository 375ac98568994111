"""Shared pieces of the demo generator: fixed vocabularies, the phrase-table loader, slots."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

#: The demo phrase tables (``<name>.yaml``); see the comments in each file.
RESOURCES = Path(__file__).resolve().parent.parent / "resources" / "demo"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load_table(name: str) -> dict[str, Any]:
    """The phrase table ``data/resources/demo/<name>.yaml``, its lists as tuples; read once."""
    text = (RESOURCES / f"{name}.yaml").read_text(encoding="utf-8")
    return _freeze(yaml.load(text, Loader=_LOADER))


def _freeze(value: Any) -> Any:
    """Lists to tuples, recursively (the generator concatenates and compares tuples)."""
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    if isinstance(value, dict):
        return {key: _freeze(item) for key, item in value.items()}
    return value


DEFAULT_SEED = 20261128
DEFAULT_TODAY = date(2026, 11, 28)
TIMEZONE = "Asia/Shanghai"
ORGANISATION = "安信消费金融"

PRODUCTS: tuple[str, ...] = ("个人消费贷", "信用卡分期", "企业经营贷")
OVERDUE_BUCKETS: tuple[str, ...] = ("M1", "M2", "M3+")
CHANNELS: tuple[str, ...] = ("电话", "短信", "上门", "APP/微信")
OUTCOMES: tuple[str, ...] = ("promise_to_pay", "refused", "no_commitment", "paid", "wrong_party")
REGIONS: tuple[str, ...] = (
    "广东", "浙江", "四川", "河南", "山东", "江苏", "湖北", "北京", "上海", "福建",
)  # fmt: skip

SURVEY_COLUMNS: tuple[str, ...] = (
    "response_id", "respondent_id", "submitted_at", "product", "region", "overdue_bucket",
    "channel", "csat", "nps", "text",
)  # fmt: skip
CALL_COLUMNS: tuple[str, ...] = (
    "call_id", "borrower_id", "agent_id", "agent_name", "team", "started_at", "duration_s",
    "outcome", "product", "overdue_bucket",
)  # fmt: skip
TURN_COLUMNS: tuple[str, ...] = ("call_id", "turn_index", "speaker", "text", "start_s", "end_s")

TEAMS: tuple[str, ...] = ("华南一组", "华南二组", "华东组", "西南组")
#: (agent_id, agent_name, team) for the 24 demo agents, six per team.
AGENTS: tuple[tuple[str, str, str], ...] = tuple(
    (f"A{i + 1:02d}", name, TEAMS[i // 6])
    for i, name in enumerate(load_table("calls")["agent_names"])
)
#: The agents who concentrate violations, each with a "signature" of rule ids.
VIOLATING_AGENTS: tuple[str, ...] = tuple(load_table("calls")["violation_profiles"])

CAMPAIGN_MONTHS_BEFORE = 5  # 2026-06 for the default today 2026-11-28

_SLOTS: dict[str, tuple[str, ...]] = load_table("slots")["slots"]


class SlotFiller(dict):
    """format_map mapping that draws each slot once per text."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self._rng = rng

    def __missing__(self, key: str) -> str:
        value = self._rng.choice(_SLOTS[key])
        self[key] = value
        return value


def weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One key of ``weights``, drawn by weight."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def day_sampler(
    today: date, campaign: pd.Period, campaign_weight: float
) -> tuple[list[date], list[float]]:
    """The 365 days before ``today`` and their weights (campaign days heavier)."""
    days = [today - timedelta(days=offset) for offset in range(365, 0, -1)]
    weights = [
        (campaign_weight if pd.Period(d, freq="M") == campaign else 1.0)
        * (0.75 if d.weekday() >= 5 else 1.0)
        for d in days
    ]
    return days, weights
