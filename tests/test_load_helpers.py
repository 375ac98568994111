"""The load benchmark's pure helpers (percentiles, the result table, the report text).

The benchmark itself (``python -m bench.load``: a 100,000-answer store, the app and ten
browser sessions) takes minutes and never runs in the test suite.
"""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from bench import load


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert load.percentile([1, 2, 3, 4], 50) == 2.5
    assert load.percentile([4, 1, 3, 2], 0) == 1
    assert load.percentile([4, 1, 3, 2], 100) == 4
    assert load.percentile(list(range(1, 21)), 95) == pytest.approx(19.05)
    assert load.percentile([7.0], 95) == 7.0
    assert math.isnan(load.percentile([], 50))
    with pytest.raises(ValueError):
        load.percentile([1], 101)


def test_summarize_and_seconds() -> None:
    s = load.summarize([3.0, 1.0, 2.0])
    assert s == {"n": 3, "p50": 2.0, "p95": pytest.approx(2.9), "max": 3.0}
    empty = load.summarize([])
    assert empty["n"] == 0 and math.isnan(empty["p50"]) and math.isnan(empty["max"])
    assert load.seconds(1.234) == "1.23"
    assert load.seconds(math.nan) == "—"


def _result(errors: list[str] | None = None) -> load.Result:
    return load.Result(
        rows=100_000,
        sessions=10,
        rounds=3,
        timings={"first_ready": [1.0, 2.0, 3.0, 4.0], "filter_ready": [0.5]},
        errors=errors or [],
        summaries=[load.SummaryTiming("busiest month as stored", "2026-05", 9_424, [0.1, 0.3])],
        wall_s=42.0,
    )


def test_result_table_has_every_step_and_the_error_count() -> None:
    table = load.result_table(_result())
    lines = table.splitlines()
    assert lines[0] == "| step | n | p50 s | p95 s | max s |"
    assert lines[1] == "|---|--:|--:|--:|--:|"
    assert "| first load → ready (KPIs + first chart) | 4 | 2.50 | 3.85 | 4.00 |" in lines
    assert "| first load → script done (whole page) | 0 | — | — | — |" in lines
    assert "| filter change → ready (KPIs + first chart) | 1 | 0.50 | 0.50 | 0.50 |" in lines
    assert any("2026-05 (9,424 answers in the month" in line for line in lines)
    assert table.endswith("Errors: **0** (Streamlit exception boxes, timeouts).")


def test_report_names_date_machine_command_and_errors() -> None:
    machine = {"cores": 2, "cpu": "AMD EPYC", "mem_gb": 24.0, "python": "3.11.7"}
    text = load.report(
        _result(["session 1 round 2 filter: timeout: x"]),
        "python -m bench.load",
        when=datetime(2026, 12, 2, 9, 30),
        machine=machine,
    )
    assert text.startswith("# Load benchmark")
    assert "- Date: 2026-12-02 09:30 (local)" in text
    assert "- Machine: 2 cores, AMD EPYC, 24 GiB RAM, Python 3.11.7" in text
    assert "- Command: `python -m bench.load` at commit " in text
    assert "(< 5 s for 100,000 rows): met (slowest run 0.30 s" in text
    assert "Errors: **1**" in text
    assert "- session 1 round 2 filter: timeout: x" in text
