"""data.stats: Wilson score intervals and stage-standardised rates (pure functions)."""

from __future__ import annotations

import doctest
import math

import pandas as pd
import pytest

from data import stats
from data.stats import MIN_BASE, standardised_rate, wilson_interval, with_interval


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_published_values(k, n, low, high) -> None:
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_agrees_with_scipy() -> None:
    from scipy.stats import binomtest

    for k, n in [(0, 5), (3, 7), (27, 50), (133, 245), (999, 1000)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_wilson_interval_stays_in_range_contains_the_rate_and_narrows_with_n() -> None:
    for k, n in [(0, 1), (1, 1), (5, 8), (8, 8), (0, 1000)]:
        lo, hi = wilson_interval(k, n)
        assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert wilson_interval(0, 10)[1] > 0  # never a zero-width interval at p = 0
    widths = [hi - lo for lo, hi in (wilson_interval(n // 2, n) for n in (10, 40, 160, 640))]
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] < widths[0] / 6


def test_wilson_interval_is_symmetric_in_success_and_failure() -> None:
    lo, hi = wilson_interval(3, 17)
    assert wilson_interval(14, 17) == pytest.approx((1 - hi, 1 - lo))


def test_wilson_interval_without_a_base_and_with_bad_counts() -> None:
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    assert all(math.isnan(x) for x in wilson_interval(0, float("nan")))
    with pytest.raises(ValueError, match="outside"):
        wilson_interval(5, 4)


def test_with_interval_adds_rate_bounds_and_the_small_base_flag() -> None:
    df = pd.DataFrame({"rule": ["a", "b", "c"], "k": [5, 133, 0], "n": [8, 245, 0]})
    out = with_interval(df, "k", "n")
    assert list(out.columns) == ["rule", "k", "n", "rate", "low", "high", "small"]
    assert out["rate"].iloc[:2].tolist() == pytest.approx([5 / 8, 133 / 245])
    assert out["small"].tolist() == [True, False, True]
    assert MIN_BASE == 30
    assert (out["low"].iloc[:2] < out["rate"].iloc[:2]).all()
    assert math.isnan(out["rate"].iloc[2]) and math.isnan(out["low"].iloc[2])
    assert list(df.columns) == ["rule", "k", "n"]  # the input is not changed
    prefixed = with_interval(df, "k", "n", prefix="ptp_", min_base=5)
    assert prefixed["ptp_small"].tolist() == [False, False, True]


def test_a_mix_effect_disappears_when_the_rate_is_standardised_by_stage() -> None:
    # a tactic used mostly in M1 (where borrowers promise more) looks better overall ...
    weights = {"M1": 100, "M3+": 100}
    tactic = {"M1": 0.60, "M3+": 0.20}  # 90 calls in M1, 10 in M3+: crude rate 0.56
    clean = {"M1": 0.60, "M3+": 0.20}  # 10 calls in M1, 90 in M3+: crude rate 0.24
    assert 0.9 * tactic["M1"] + 0.1 * tactic["M3+"] > 0.1 * clean["M1"] + 0.9 * clean["M3+"]
    # ... and the same once both are weighted by the same stage mix
    assert standardised_rate(tactic, weights) == standardised_rate(clean, weights) == 0.4


def test_standardised_rate_uses_only_strata_with_a_rate() -> None:
    assert standardised_rate({"M1": 0.5, "M2": None}, {"M1": 3, "M2": 1}) == 0.5
    assert standardised_rate({"M1": 0.5, "M9": 0.1}, {"M1": 1, "M2": 1}) == 0.5
    assert standardised_rate({"M9": 0.1}, {"M1": 1}) is None
    assert standardised_rate({}, {}) is None


def test_the_module_examples_run() -> None:
    assert doctest.testmod(stats).failed == 0
