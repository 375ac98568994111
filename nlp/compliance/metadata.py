"""Metadata rules: what the call log alone shows (start time outside the window, frequency,
and Regulation F's two call-frequency presumptions where the profile turns them on)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

from nlp.compliance.engine import RuleEngine, default_engine
from nlp.compliance.normalise import fold
from nlp.compliance.profiles import Profile
from nlp.compliance.results import Evidence

Flag = Callable[[str, str], None]

DEBT_COLUMNS: tuple[str, ...] = ("debt_id", "loan_id", "account_id", "product")
"""Call-log columns that name the debt a call is about (the first one present is used)."""


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
    """``off_hours``, ``over_frequency`` and the Regulation F rules' evidence per call_id.

    A call is *connected* when its ``outcome`` is not a non-connected outcome (未接通, no_answer,
    voicemail ...) and the borrower side speaks at least once. Calls beyond a cap are flagged
    (the first ``cap`` calls of a day or rolling window are not). The Regulation F rules
    (:func:`reg_f_violations`) run only where the profile sets their caps (``us_reg_f``).
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
    reg_f_violations(frame, calls, turns, profile, engine, out)
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
    frame["offset_min"] = (
        (pd.to_datetime(frame["local"]) - pd.to_datetime(frame["utc"]).dt.tz_localize(None))
        .dt.total_seconds()
        .floordiv(60)
        .astype("int64")
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


def _utc_offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _off_hours(
    frame: pd.DataFrame, profile: Profile, explanation: str, out: dict[str, list[Evidence]]
) -> None:
    """Calls whose local start lies outside the profile's window; the explanation states the
    local start time and the allowed window (「通话于当地时间 22:30 开始……不在允许时段
    08:00-22:00 内」)."""
    head = explanation.partition("：")[0] or "非规定时间联系"
    for row in frame.itertuples(index=False):
        local = pd.Timestamp(row.local)
        if not profile.in_window(local.time()):
            out[row.call_id].append(
                Evidence(
                    "off_hours",
                    None,
                    f"开始时间 {local:%Y-%m-%d %H:%M}（允许 {profile.window}）",
                    f"{head}：通话于当地时间 {local:%H:%M} 开始（{local:%Y-%m-%d}，"
                    f"{_utc_offset(int(row.offset_min))}），不在允许时段 {profile.window} 内",
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


# ---------------------------------------------------------------------------------------------
# Regulation F 12 CFR 1006.14(b)(2)


def reg_f_violations(
    frame: pd.DataFrame,
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    profile: Profile,
    engine: RuleEngine,
    out: dict[str, list[Evidence]],
) -> None:
    """Regulation F's presumptions of harassment (12 CFR 1006.14(b)(2)), per borrower and debt.

    * ``reg_f_call_frequency`` (i): a call that is more than the ``placed_calls_cap``-th placed
      call within ``placed_calls_days`` consecutive local calendar days (the call's own day
      and the days before it).
    * ``reg_f_after_conversation`` (ii): a call placed within ``conversation_quiet_days`` days
      after a telephone conversation with the borrower about the debt; the conversation's
      date is day 1, so with 7 a call 6 days later fires and one 7 days later does not.

    Every call row is a *placed* call, answered or not. A *conversation* is a call that
    connected (outcome not a non-connected one such as no_answer/voicemail/未接通, and the
    callee side spoke at least once), whose outcome is not a wrong-party one (wrong_party,
    非本人 ...) and whose callee the transcript does not identify as someone else (他不在 /
    我是他同事 / 你打错了). The debt is the first of :data:`DEBT_COLUMNS` the call log has;
    without one, all of a borrower's calls are about one debt. Days are local calendar days
    of each call's own UTC offset; order is by the UTC instant.

    Args:
        frame: the call log (:func:`_call_log`, with ``day``).
        calls / turns: the frames given to :func:`metadata_violations`.
        profile: turns the rules on with ``placed_calls_cap`` / ``conversation_quiet_days``.
        engine: outcomes vocabularies and the callee cues.
        out: evidence per call_id, appended to.
    """
    cap, quiet = profile.placed_calls_cap, profile.conversation_quiet_days
    if not cap and not quiet:
        return
    frame = frame.sort_index()  # back in the order of ``calls``
    debt = next((c for c in DEBT_COLUMNS if c in calls.columns), None)
    log = frame.assign(
        debt=["" if _blank(v) else str(v) for v in calls[debt].tolist()] if debt else "",
        connected_to_borrower=_connected_to_borrower(frame, calls, engine) if quiet else False,
    ).sort_values(["borrower_id", "debt", "utc", "call_id"], kind="stable")
    someone_else = _SomeoneElse(turns, engine)
    for _, group in log.groupby(["borrower_id", "debt"], sort=False):
        ids = group["call_id"].tolist()
        days: list[date] = list(group["day"])
        utc = list(pd.to_datetime(group["utc"], utc=True))
        local = list(pd.to_datetime(group["local"]))
        reached = group["connected_to_borrower"].tolist()
        last: int | None = None
        for i, call_id in enumerate(ids):
            if cap:
                window = _days_window(days, utc, i, profile.placed_calls_days)
                if len(window) > cap:
                    first = min(days[j] for j in window)
                    span = (
                        f"{profile.placed_calls_days}天内第{len(window)}次致电"
                        f"（{first:%m-%d} 至 {days[i]:%m-%d}）"
                    )
                    out[call_id].append(
                        Evidence(
                            "reg_f_call_frequency",
                            None,
                            span,
                            f"{span}，超过{cap}次即推定骚扰（Reg F 1006.14(b)(2)(i)）",
                        )
                    )
            if quiet and last is not None:
                gap = (days[i] - days[last]).days
                if gap < quiet:
                    span = f"距上次通话（{local[last]:%m-%d %H:%M}）不足{quiet}天"
                    when = "通话当天" if gap <= 0 else f"通话 {gap} 天后"
                    out[call_id].append(
                        Evidence(
                            "reg_f_after_conversation",
                            None,
                            span,
                            f"{span}（{when}再次致电），推定骚扰（Reg F 1006.14(b)(2)(ii)）",
                        )
                    )
            if quiet and reached[i] and _matters(days, i, quiet) and not someone_else(call_id):
                last = i  # a conversation (the transcript check only where a later call is near)


def _days_window(days: list[date], utc: list[pd.Timestamp], i: int, span_days: int) -> list[int]:
    """Positions of the calls up to ``i`` (in UTC order) whose local day lies in the
    ``span_days`` consecutive days ending on call ``i``'s local day."""
    found = []
    horizon = pd.Timedelta(days=span_days + 2)  # local days differ from UTC by under a day
    for j in range(i, -1, -1):
        if utc[i] - utc[j] > horizon:
            break
        if 0 <= (days[i] - days[j]).days < span_days:
            found.append(j)
    return found


def _connected_to_borrower(
    frame: pd.DataFrame, calls: pd.DataFrame, engine: RuleEngine
) -> list[bool]:
    """Per call of ``frame`` (in the order of ``calls``): connected, and not a wrong-party
    outcome; :class:`_SomeoneElse` then reads the transcript."""
    outcomes = calls["outcome"].tolist() if "outcome" in calls else [None] * len(calls)
    return [
        bool(connected) and (_blank(o) or fold(str(o)) not in engine.wrong_party_outcomes)
        for connected, o in zip(frame["connected"], outcomes, strict=True)
    ]


def _matters(days: list[date], i: int, quiet: int) -> bool:
    """Whether a conversation at position ``i`` could be followed by a call it makes
    presumptuous (the next call of the group falls inside the quiet period)."""
    return i + 1 < len(days) and (days[i + 1] - days[i]).days < quiet


class _SomeoneElse:
    """Whether a call's transcript shows the callee to be someone other than the borrower
    (他不在 / 我是他同事 / 你打错了), read only for the calls asked about."""

    def __init__(self, turns: pd.DataFrame, engine: RuleEngine) -> None:
        self._turns = turns
        self._engine = engine
        self._by_call: dict[str, list[int]] | None = None

    def __call__(self, call_id: str) -> bool:
        if self._by_call is None:
            self._by_call = {}
            for pos, cid in enumerate(self._turns["call_id"].astype(str)):
                self._by_call.setdefault(cid, []).append(pos)
        rows = self._turns.iloc[self._by_call.get(str(call_id), [])]
        rows = rows.sort_values("turn_index", kind="stable")
        return self._engine.third_party_callee(
            rows["speaker"].astype(str).tolist(),
            ["" if _blank(t) else str(t) for t in rows["text"]],
        )


def _blank(value: object) -> bool:
    """None, NaN/NA or an empty string."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) or str(value).strip() == ""
    except (TypeError, ValueError):  # a list or another container
        return False
