"""Rates with their base: Wilson score intervals and stage-standardised rates (pure functions).

A rate on the dashboard is never shown without how many records it rests on. ``MIN_BASE`` is
the base below which a rate is shown greyed out as too small to compare.

>>> lo, hi = wilson_interval(27, 50)
>>> round(lo, 3), round(hi, 3)
(0.404, 0.67)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

MIN_BASE = 30
"""Rates resting on fewer records than this are greyed out (「样本不足 30」)."""

Z_95 = 1.959963984540054
"""The normal quantile for a two-sided 95% interval."""


def wilson_interval(successes: float, n: float, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n``.

    Args:
        successes: how many records have the property (0 <= successes <= n).
        n: the base, how many records there are.
        z: the normal quantile (1.96 for 95%).

    Returns:
        (low, high), both within [0, 1]; (nan, nan) when ``n`` is 0 or missing.

    Unlike the normal approximation p ± z·√(p(1-p)/n), it stays inside [0, 1] and does not
    collapse to a zero-width interval at p = 0 or p = 1.

    >>> wilson_interval(0, 10)[0], round(wilson_interval(0, 10)[1], 3)
    (0.0, 0.278)
    """
    if n is None or pd.isna(n) or n <= 0:
        return (math.nan, math.nan)
    if successes < 0 or successes > n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, no 2e-19
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def with_interval(
    df: pd.DataFrame, successes: str, n: str, prefix: str = "", min_base: int = MIN_BASE
) -> pd.DataFrame:
    """``df`` plus ``{prefix}rate``, ``{prefix}low``, ``{prefix}high`` (Wilson 95%) and
    ``{prefix}small`` (n < ``min_base``), from the count columns ``successes`` and ``n``.

    >>> with_interval(pd.DataFrame({"k": [27], "n": [50]}), "k", "n")["small"].tolist()
    [False]
    """
    out = df.copy()
    # a group with no records may carry NULL counts (pd.NA): count them as 0
    out[successes] = pd.to_numeric(out[successes], errors="coerce").fillna(0)
    out[n] = pd.to_numeric(out[n], errors="coerce").fillna(0)
    bounds = [
        wilson_interval(float(k), float(m)) for k, m in zip(out[successes], out[n], strict=True)
    ]
    base = out[n].astype(float)
    out[f"{prefix}rate"] = (out[successes].astype(float) / base.where(base > 0)).astype(float)
    out[f"{prefix}low"] = [b[0] for b in bounds]
    out[f"{prefix}high"] = [b[1] for b in bounds]
    out[f"{prefix}small"] = base < min_base
    return out


def standardised_rate(rates: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """A rate standardised to a reference mix of strata (direct standardisation).

    Args:
        rates: stratum -> the group's rate in that stratum (e.g. promise-to-pay rate in M1).
        weights: stratum -> the reference share of that stratum (e.g. the share of all calls
            in M1); need not sum to 1.

    Returns:
        Σ weight·rate / Σ weight over the strata where the group has a rate, so two groups are
        compared as if both had the reference mix; None when no stratum has both.

    >>> standardised_rate({"M1": 0.6, "M3+": 0.2}, {"M1": 0.5, "M3+": 0.5})
    0.4
    """
    common = [s for s in rates if s in weights and rates[s] is not None and not pd.isna(rates[s])]
    total = sum(weights[s] for s in common)
    if not common or total <= 0:
        return None
    return round(sum(weights[s] * rates[s] for s in common) / total, 12)
