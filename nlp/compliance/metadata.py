"""Metadata rules: what the call log alone shows (start time outside the window, frequency)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pandas as pd

from nlp.compliance.engine import RuleEngine, default_engine
from nlp.compliance.normalise import fold
from nlp.compliance.profiles import Profile
from nlp.compliance.results import Evidence

Flag = Callable[[str, str], None]


def local_start_times(calls: pd.DataFrame) -> pd.Series:
    """Local wall-clock start time (tz-naive) of each call, using its own ``utc_offset_min``.

    Args:
        calls: a calls frame from the transcript reader.

    Returns:
        A ``datetime64`` Series aligned with ``calls``.
    """
    utc = pd.to_datetime(calls["started_at"], utc=True).dt.tz_localize(None)
    offsets = pd.to_timedelta(calls["utc_offset_min"].astype("int64"), unit="min")
    return utc + offsets


def metadata_violations(
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    profile: Profile,
    *,
    engine: RuleEngine | None = None,
) -> dict[str, list[Evidence]]:
    """``off_hours`` and ``over_frequency`` evidence per call_id, from the call log.

    A call is *connected* when its ``outcome`` is not a non-connected outcome (未接通, no_answer,
    voicemail ...) and the borrower side speaks at least once. Calls beyond a cap are flagged
    (the first ``cap`` calls of a day or rolling window are not).
    """
    engine = engine or default_engine()
    out: dict[str, list[Evidence]] = defaultdict(list)
    if calls.empty:
        return out
    frame = _call_log(calls, turns, engine)
    _off_hours(frame, profile, engine.explanations.get("off_hours", ""), out)
    frame["day"] = pd.to_datetime(frame["local"]).dt.date
    frame = frame.sort_values(["borrower_id", "utc", "call_id"], kind="stable")
    explanation = engine.explanations.get("over_frequency", "")
    flagged: set[str] = set()

    def flag(call_id: str, span: str) -> None:
        if call_id not in flagged:
            flagged.add(call_id)
            out[call_id].append(Evidence("over_frequency", None, span, explanation))

    _over_frequency(frame, profile, flag)
    return out


def _call_log(calls: pd.DataFrame, turns: pd.DataFrame, engine: RuleEngine) -> pd.DataFrame:
    """One row per call: ids, UTC and local start, and whether it connected."""
    frame = pd.DataFrame(
        {
            "call_id": calls["call_id"].astype(str).to_numpy(),
            "borrower_id": calls["borrower_id"].astype(str).to_numpy(),
            "utc": pd.to_datetime(calls["started_at"], utc=True).to_numpy(),
            "local": local_start_times(calls).to_numpy()
            if "utc_offset_min" in calls
            else _local_without_offsets(calls["started_at"]),
        }
    )
    outcomes = calls["outcome"] if "outcome" in calls else pd.Series([None] * len(calls))
    spoke = set(turns.loc[turns["speaker"] == "borrower", "call_id"].astype(str))
    frame["connected"] = [
        (
            o is None
            or (isinstance(o, float) and math.isnan(o))
            or fold(str(o)) not in engine.non_connected_outcomes
        )
        and cid in spoke
        for o, cid in zip(outcomes.tolist(), frame["call_id"], strict=True)
    ]
    return frame


def _off_hours(
    frame: pd.DataFrame, profile: Profile, explanation: str, out: dict[str, list[Evidence]]
) -> None:
    for row in frame.itertuples(index=False):
        local = pd.Timestamp(row.local)
        if not profile.in_window(local.time()):
            out[row.call_id].append(
                Evidence(
                    "off_hours",
                    None,
                    f"开始时间 {local:%Y-%m-%d %H:%M}（允许 {profile.window}）",
                    explanation,
                )
            )


def _over_frequency(frame: pd.DataFrame, profile: Profile, flag: Flag) -> None:
    counted = frame[frame["connected"]] if profile.count_only_connected else frame
    kind = "已接通" if profile.count_only_connected else ""
    cap = profile.max_calls_per_day
    if cap:
        _per_day(
            counted,
            cap,
            flag,
            lambda b, d, n: f"借款人 {b} 在 {d} 的第 {n} 通{kind}电话（每日上限 {cap}）",
        )
    if profile.max_calls_rolling:
        _rolling(counted, profile, kind, flag)
    attempts = profile.max_attempts_per_day
    if attempts:
        _per_day(
            frame,
            attempts,
            flag,
            lambda b, d, n: f"借款人 {b} 在 {d} 的第 {n} 次拨打（每日拨打上限 {attempts}）",
        )


def _per_day(
    frame: pd.DataFrame, cap: int, flag: Flag, span: Callable[[str, Any, int], str]
) -> None:
    """Flag every call beyond ``cap`` per borrower and local day."""
    for (borrower, day), group in frame.groupby(["borrower_id", "day"], sort=False):
        for n, call_id in enumerate(group["call_id"], start=1):
            if n > cap:
                flag(call_id, span(borrower, day, n))


def _rolling(counted: pd.DataFrame, profile: Profile, kind: str, flag: Flag) -> None:
    span = pd.Timedelta(days=profile.rolling_days)
    for borrower, group in counted.groupby("borrower_id", sort=False):
        times = list(pd.to_datetime(group["utc"], utc=True))
        ids = list(group["call_id"])
        lo = 0
        for i, moment in enumerate(times):
            while times[lo] <= moment - span:
                lo += 1
            n = i - lo + 1
            if n > profile.max_calls_rolling:
                flag(
                    ids[i],
                    f"借款人 {borrower} {profile.rolling_days} 天内第 {n} 通{kind}电话"
                    f"（上限 {profile.max_calls_rolling}）",
                )


def _local_without_offsets(started: pd.Series) -> Any:
    stamps = pd.to_datetime(started)
    if stamps.dt.tz is not None:
        return stamps.dt.tz_localize(None).to_numpy()
    return stamps.to_numpy()
