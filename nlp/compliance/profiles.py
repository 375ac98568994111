"""Jurisdiction profiles: contact windows, frequency caps and disclosure duties.

The profiles live in ``resources/profiles.toml`` (``china`` default, ``us_reg_f``).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time as dtime
from pathlib import Path
from typing import Any

from nlp.compliance.catalog import PROFILES_PATH


class ProfileError(ValueError):
    """An unknown profile name or a bad override (window, company, cap)."""


# ---------------------------------------------------------------------------------------------
# profiles


@dataclass(frozen=True)
class Profile:
    """A jurisdiction's contact and disclosure rules (see ``resources/profiles.toml``).

    Attributes:
        name: profile key (``"china"``, ``"us_reg_f"``).
        label: display name.
        window_start / window_end: allowed local start times, ``[start, end)``; may wrap midnight.
        max_calls_per_day: cap per borrower per local day (0 = none).
        max_calls_rolling / rolling_days: cap per borrower in any rolling window (0 = none).
        count_only_connected: only connected calls count towards the caps.
        max_attempts_per_day: cap on all calls per borrower per local day (0 = none).
        placed_calls_cap / placed_calls_days: Regulation F 1006.14(b)(2)(i): more than
            ``placed_calls_cap`` placed calls (answered or not) to one borrower about one debt
            within ``placed_calls_days`` consecutive local days fire ``reg_f_call_frequency``
            (0 = off).
        conversation_quiet_days: Regulation F 1006.14(b)(2)(ii): a call placed within this many
            days after a telephone conversation with the borrower about the debt (the
            conversation's date is day 1) fires ``reg_f_after_conversation`` (0 = off).
        organisation_names: names that count as stating the organisation (empty = any
            organisation-like phrase).
        require_identity_disclosure: check ``no_identity_disclosure``.
        identity_turns: how many opening agent turns may carry the disclosure.
        mini_miranda_phrases: non-empty turns the ``mini_miranda`` rule on.
        mini_miranda_turns: opening agent turns searched for it (0 = the whole call).
    """

    name: str
    label: str
    window_start: dtime
    window_end: dtime
    max_calls_per_day: int = 0
    max_calls_rolling: int = 0
    rolling_days: int = 7
    count_only_connected: bool = True
    max_attempts_per_day: int = 0
    placed_calls_cap: int = 0
    placed_calls_days: int = 7
    conversation_quiet_days: int = 0
    organisation_names: tuple[str, ...] = ()
    require_identity_disclosure: bool = True
    identity_turns: int = 2
    mini_miranda_phrases: tuple[str, ...] = ()
    mini_miranda_turns: int = 3

    @property
    def window(self) -> str:
        """The window as ``"HH:MM-HH:MM"``."""
        return f"{self.window_start:%H:%M}-{self.window_end:%H:%M}"

    def in_window(self, moment: dtime) -> bool:
        """Whether a local wall-clock time lies inside the allowed window."""
        start, end = self.window_start, self.window_end
        if start <= end:
            return start <= moment < end
        return moment >= start or moment < end


_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[dtime, dtime]:
    """Parse ``"HH:MM-HH:MM"`` (``24:00`` allowed as an end) into two times.

    Raises:
        ProfileError: on a malformed window.
    """
    match = _WINDOW_RE.match(unicodedata.normalize("NFKC", str(text)))
    if not match:
        raise ProfileError(
            f"时间窗口格式应为 HH:MM-HH:MM：{text!r} / window must look like HH:MM-HH:MM: {text!r}"
        )
    h0, m0, h1, m1 = (int(g) for g in match.groups())
    if (h1, m1) == (24, 0):
        h1, m1 = 23, 59
    if h0 > 23 or h1 > 23 or m0 > 59 or m1 > 59:
        raise ProfileError(f"时间窗口超出范围：{text!r} / window out of range: {text!r}")
    if (h0, m0) == (h1, m1):
        raise ProfileError(f"时间窗口为空：{text!r} / empty window: {text!r}")
    return dtime(h0, m0), dtime(h1, m1)


def _non_negative_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProfileError(
            f"{what} 应为非负整数：{value!r} / {what} must be a non-negative integer"
        )
    return value


def available_profiles(path: Path = PROFILES_PATH) -> list[str]:
    """Names of the profiles defined in the profiles file."""
    with path.open("rb") as handle:
        return list(tomllib.load(handle))


def load_profile(
    name: str = "china",
    company: str | Sequence[str] | None = None,
    window: str | None = None,
    max_calls_per_day: int | None = None,
    *,
    path: Path = PROFILES_PATH,
) -> Profile:
    """Load a profile from ``profiles.toml`` and apply overrides (the CLI flags).

    Args:
        name: ``"china"`` (default) or ``"us_reg_f"`` (or any profile in the file).
        company: organisation name(s) the agent must state; replaces the profile's list.
        window: allowed local start times ``"HH:MM-HH:MM"``.
        max_calls_per_day: cap on (connected) calls per borrower per local day.
        path: the profiles file.

    Returns:
        A frozen :class:`Profile`.

    Raises:
        ProfileError: unknown profile or invalid override.

    Example:
        >>> load_profile("china", window="08:00-21:00").window
        '08:00-21:00'
    """
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"无法读取配置文件 {path}：{exc} / cannot read profiles") from None
    if name not in data:
        raise ProfileError(
            f"未知的合规配置 {name!r}（可选：{', '.join(data)}）/ unknown profile {name!r}"
        )
    raw: dict[str, Any] = dict(data[name])
    start, end = parse_window(window if window is not None else raw.get("window", "08:00-22:00"))
    names = raw.get("organisation_names", [])
    if company is not None:
        names = [company] if isinstance(company, str) else list(company)
        names = [n for n in (str(n).strip() for n in names) if n]
        if not names:
            raise ProfileError("机构名称不能为空 / --company must not be empty")
    per_day = raw.get("max_calls_per_day", 0)
    if max_calls_per_day is not None:
        per_day = max_calls_per_day
        if isinstance(per_day, int) and per_day < 1:
            raise ProfileError(
                f"每日通话上限应为正整数：{per_day!r} / --max-calls-per-day must be >= 1"
            )
    phrases = raw.get("mini_miranda_phrases", [])
    return Profile(
        name=name,
        label=str(raw.get("label", name)),
        window_start=start,
        window_end=end,
        max_calls_per_day=_non_negative_int(per_day, "max_calls_per_day"),
        max_calls_rolling=_non_negative_int(raw.get("max_calls_rolling", 0), "max_calls_rolling"),
        rolling_days=_non_negative_int(raw.get("rolling_days", 7), "rolling_days") or 7,
        count_only_connected=bool(raw.get("count_only_connected", True)),
        max_attempts_per_day=_non_negative_int(
            raw.get("max_attempts_per_day", 0), "max_attempts_per_day"
        ),
        placed_calls_cap=_non_negative_int(raw.get("placed_calls_cap", 0), "placed_calls_cap"),
        placed_calls_days=_non_negative_int(raw.get("placed_calls_days", 7), "placed_calls_days")
        or 7,
        conversation_quiet_days=_non_negative_int(
            raw.get("conversation_quiet_days", 0), "conversation_quiet_days"
        ),
        organisation_names=tuple(str(n) for n in names),
        require_identity_disclosure=bool(raw.get("require_identity_disclosure", True)),
        identity_turns=_non_negative_int(raw.get("identity_turns", 2), "identity_turns") or 2,
        mini_miranda_phrases=tuple(str(p) for p in phrases),
        mini_miranda_turns=_non_negative_int(
            raw.get("mini_miranda_turns", 3), "mini_miranda_turns"
        ),
    )
