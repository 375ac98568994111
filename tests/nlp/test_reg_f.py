"""Regulation F 12 CFR 1006.14(b)(2): the 7-in-7 presumption and no call within 7 days after a
telephone conversation, as metadata rules only the ``us_reg_f`` profile turns on.

Every call here is written for these tests; turn sentiment comes from the keyword stand-in.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from data.reader.transcripts import parse_jsonl_lines
from nlp.compliance import analyze_calls, load_profile, metadata_violations, stand_in_sentiment
from nlp.labels import RULE_CATALOG, VIOLATION_RULES

US = load_profile("us_reg_f")
CHINA = load_profile("china")
REG_F = ("reg_f_call_frequency", "reg_f_after_conversation")

OPENING = "Hi, this is Dana from Harbor Credit Services. This is an attempt to collect a debt."
TALK = [("agent", OPENING), ("borrower", "Yes, I know. I can pay on Friday.")]
RING = [("agent", OPENING)]  # no answer: the agent's voicemail greeting only


def _call(
    call_id: str,
    started_at: str,
    turns: list[tuple[str, str]] = RING,
    outcome: str | None = "no_answer",
    borrower: str = "b1",
    **extra: str,
) -> dict:
    record = {
        "call_id": call_id,
        "borrower_id": borrower,
        "agent_id": "a1",
        "started_at": started_at,
        "turns": [{"speaker": s, "text": t} for s, t in turns],
        **extra,
    }
    if outcome is not None:
        record["outcome"] = outcome
    return record


def _run(records: list[dict], profile=US) -> dict[str, list[dict]]:
    """Reg F evidence per call id, through the reader and the whole rule engine."""
    calls, turns = parse_jsonl_lines([json.dumps(r, ensure_ascii=False) for r in records])
    results = analyze_calls(calls, turns, profile, stand_in_sentiment)
    return {r.call_id: [e for e in r.evidence if e["rule"] in REG_F] for r in results}


def _fired(records: list[dict], rule: str, profile=US) -> list[str]:
    return [cid for cid, ev in _run(records, profile).items() if any(e["rule"] == rule for e in ev)]


def _week(times: list[str], **kw) -> list[dict]:
    return [_call(f"c{i + 1}", t, **kw) for i, t in enumerate(times)]


def test_catalog_entries_are_profile_only_metadata_rules() -> None:
    for rule in REG_F:
        assert RULE_CATALOG[rule]["kind"] == "metadata" and RULE_CATALOG[rule]["profile_only"]
        assert rule not in VIOLATION_RULES


# --- (i) more than 7 placed calls within 7 consecutive days ---------------------------------


def test_seven_calls_in_seven_days_pass_and_the_eighth_fires() -> None:
    seven = [f"2025-11-{d:02d}T10:00:00-05:00" for d in range(2, 9)]  # 11-02 .. 11-08
    assert _fired(_week(seven), "reg_f_call_frequency") == []
    eight = [*seven, "2025-11-08T16:30:00-05:00"]
    assert _fired(_week(eight), "reg_f_call_frequency") == ["c8"]
    evidence = _run(_week(eight))["c8"][0]
    assert evidence["turn"] is None
    assert evidence["span"] == "7天内第8次致电（11-02 至 11-08）"
    assert "第8次" in evidence["explanation"] and "1006.14(b)(2)(i)" in evidence["explanation"]


def test_unanswered_calls_count_and_the_window_slides_by_local_day() -> None:
    # eight calls on eight days: every window of 7 consecutive days holds 7
    days = [f"2025-11-{d:02d}T10:00:00-05:00" for d in range(2, 10)]
    assert _fired(_week(days), "reg_f_call_frequency") == []
    # three calls a day: the 8th placed call (day 3, third call) fires, and so does every later
    busy = [f"2025-11-0{d}T{h}:00:00-05:00" for d in (2, 3, 4) for h in (9, 12, 15)]
    assert _fired(_week(busy), "reg_f_call_frequency") == ["c8", "c9"]


def test_calls_count_per_borrower_and_per_debt() -> None:
    seven = [f"2025-11-{d:02d}T10:00:00-05:00" for d in range(2, 9)]
    other_borrower = [*_week(seven), _call("x8", "2025-11-08T17:00:00-05:00", borrower="b2")]
    assert _fired(other_borrower, "reg_f_call_frequency") == []
    calls, turns = parse_jsonl_lines(
        [json.dumps(r) for r in [*_week(seven), _call("x8", "2025-11-08T17:00:00-05:00")]]
    )
    loans = calls.assign(loan_id=["L1"] * 7 + ["L2"])  # the eighth call is about another debt
    assert not any(
        e.rule == "reg_f_call_frequency"
        for ev in metadata_violations(loans, turns, US).values()
        for e in ev
    )
    same = calls.assign(loan_id=["L1"] * 8)
    found = metadata_violations(same, turns, US)
    assert [e.rule for e in found["x8"]] == ["reg_f_call_frequency"]


# --- (ii) within 7 days after a telephone conversation --------------------------------------


@pytest.mark.parametrize(
    ("later", "fires"),
    [
        ("2025-11-03T16:00:00-05:00", True),  # the same day
        ("2025-11-09T09:00:00-05:00", True),  # 6 days after: day 7 of the period
        ("2025-11-10T09:00:00-05:00", False),  # 7 days after: the period is over
        ("2025-11-11T09:00:00-05:00", False),  # 8 days after
    ],
)
def test_call_within_seven_days_after_a_conversation(later: str, fires: bool) -> None:
    records = [
        _call("talk", "2025-11-03T10:12:00-05:00", TALK, "connected"),
        _call("later", later),
    ]
    assert _fired(records, "reg_f_after_conversation") == (["later"] if fires else [])
    if fires:
        evidence = _run(records)["later"][0]
        assert evidence["span"] == "距上次通话（11-03 10:12）不足7天"
        assert "1006.14(b)(2)(ii)" in evidence["explanation"]


@pytest.mark.parametrize(
    ("turns", "outcome"),
    [
        (RING, "voicemail"),  # not connected
        (TALK, "no_answer"),  # a non-connected outcome wins over the turns
        (TALK, "wrong_party"),  # someone else answered
        (RING, "connected"),  # nobody on the callee side spoke
        (
            [("agent", OPENING + " May I speak to Wang Lei?"), ("borrower", "他不在，我是他同事")],
            "connected",
        ),  # the transcript shows a third party
    ],
)
def test_what_is_not_a_conversation(turns, outcome: str) -> None:
    records = [
        _call("first", "2025-11-03T10:12:00-05:00", turns, outcome),
        _call("later", "2025-11-05T09:00:00-05:00"),
    ]
    assert _fired(records, "reg_f_after_conversation") == []


def test_the_latest_conversation_counts_and_a_conversation_can_fire_itself() -> None:
    records = [
        _call("t1", "2025-11-01T10:00:00-05:00", TALK, "connected"),
        _call("t2", "2025-11-06T10:00:00-05:00", TALK, "connected"),  # 5 days after t1
        _call("r1", "2025-11-12T10:00:00-05:00"),  # 6 days after t2, 11 after t1
    ]
    assert _fired(records, "reg_f_after_conversation") == ["t2", "r1"]
    assert _run(records)["r1"][0]["span"] == "距上次通话（11-06 10:00）不足7天"


# --- profiles and time zones -----------------------------------------------------------------


def test_china_profile_never_fires_the_reg_f_rules() -> None:
    many = [f"2025-11-0{d}T{h}:00:00+08:00" for d in (2, 3, 4) for h in (9, 12, 15)]
    records = [
        _call("talk", "2025-11-01T10:00:00+08:00", TALK, "connected"),
        *_week(many),
    ]
    assert all(ev == [] for ev in _run(records, CHINA).values())
    assert all(ev for cid, ev in _run(records, US).items() if cid != "talk")


def test_local_days_follow_each_calls_own_offset() -> None:
    # 11-08 20:00 in New York is 11-09 01:00 UTC: still the 7th local day, so the 8th call fires
    seven = [f"2025-11-{d:02d}T10:00:00-05:00" for d in range(2, 9)]
    late = [*seven, "2025-11-08T20:00:00-05:00"]
    assert _fired(_week(late), "reg_f_call_frequency") == ["c8"]
    # the offset written in started_at is the callee's local time: the same instant written in
    # UTC falls on 11-09, whose 7-day window no longer holds the call of 11-02
    assert _fired(_week([*seven, "2025-11-09T01:00:00Z"]), "reg_f_call_frequency") == []
    # calls written in different offsets keep their instants and order (the reader then holds
    # them in UTC): 7 calls in Shanghai time on 11-02..11-08 and an 8th in UTC on 11-08
    shanghai = [f"2025-11-{d:02d}T10:00:00+08:00" for d in range(2, 9)]
    assert _fired(_week([*shanghai, "2025-11-08T12:00:00Z"]), "reg_f_call_frequency") == ["c8"]
    # a conversation at 23:30 local on 11-03 is 11-04 in UTC: day 1 is the local 11-03
    records = [
        _call("talk", "2025-11-03T23:30:00-05:00", TALK, "connected"),
        _call("day8", "2025-11-10T09:00:00-05:00"),  # 7 local days later: allowed
        _call("day7", "2025-11-09T21:00:00-05:00"),  # 6 local days later (11-10 UTC): fires
    ]
    assert _fired(records, "reg_f_after_conversation") == ["day7"]


def test_evidence_is_in_the_call_analysis_and_explained_in_chinese() -> None:
    calls, turns = parse_jsonl_lines(
        [
            json.dumps(_call("talk", "2025-11-03T10:12:00-05:00", TALK, "connected")),
            json.dumps(_call("next", "2025-11-04T10:00:00-05:00")),
        ]
    )
    result = analyze_calls(calls, turns, US, stand_in_sentiment)[1]
    assert result.violations == ["reg_f_after_conversation"]
    assert isinstance(calls["started_at"].dtype, pd.DatetimeTZDtype)
    (evidence,) = result.evidence
    assert evidence["explanation"].startswith(
        "距上次通话（11-03 10:12）不足7天（通话 1 天后再次致电）"
    )
