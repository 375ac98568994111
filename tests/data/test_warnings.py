"""Early warning on a real DuckDB file: cases from flagged contacts, their life cycle, the
borrower timeline, the mood-falling test, and the planted demo journeys."""

from __future__ import annotations

import random

import pytest

from data import borrowers, warnings
from data.auth import AccessDenied, Actor
from data.ingest import ingest_calls_bytes, ingest_survey_bytes

QA = Actor("qa-1", "qa")
HEADER = "借款人ID,回答内容,提交日期"


def survey(rows: list[tuple[str, str, str]]) -> bytes:
    return ("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- mood falling
def test_a_steady_fall_is_falling():
    trend = borrowers.mood_falling([0.8, 0.3, -0.2, -0.7])
    assert trend.falling and trend.contacts == 4 and trend.p_value < borrowers.P_VALUE
    assert "持续走低" in trend.describe()


@pytest.mark.parametrize(
    "moods",
    [
        [0.5, -0.5],  # too few contacts to speak of a trend
        [0.2, 0.2, 0.2, 0.2],  # flat
        [-0.6, -0.1, 0.4, 0.8],  # rising
        [0.1, 0.05, 0.0, -0.05, -0.1],  # steady but tiny: not a fall anyone would act on
        [0.6, -0.6, 0.6, -0.6, 0.6, -0.6],  # noise
    ],
)
def test_no_fall_is_claimed_without_one(moods):
    assert not borrowers.mood_falling(moods).falling


def test_noise_rarely_passes_as_a_fall():
    rng = random.Random(7)
    false_alarms = sum(
        borrowers.mood_falling([rng.uniform(-1, 1) for _ in range(6)]).falling for _ in range(400)
    )
    assert false_alarms / 400 < 0.12  # one-sided test at 0.10 plus the minimum drop


def test_only_recent_contacts_count():
    old_fall_then_recovery = [0.9, 0.5, 0.0, -0.5, -0.9, -0.5, 0.0, 0.5, 0.8, 0.9]
    assert not borrowers.mood_falling(old_fall_then_recovery).falling


# --------------------------------------------------------------------------- cases
def test_flagged_answers_open_one_case_per_borrower_and_flag(tmp_store):
    ingest_survey_bytes(
        tmp_store,
        survey(
            [
                ("B1", "公司倒闭了，三个月没发工资", "2026-05-01"),
                ("B1", "还是没找到工作，工资一直没发", "2026-05-09"),
                ("B2", "真的活不下去了，孩子以后就拜托你们了", "2026-05-03"),
                ("B3", "请问还款日是几号", "2026-05-04"),
                ("", "公司倒闭了，我也失业了", "2026-05-04"),  # no borrower id: no case
            ]
        ),
        "s.csv",
    )
    queue = warnings.case_queue(tmp_store)
    assert list(zip(queue["borrower_id"], queue["flag"], strict=True)) == [
        ("B2", "self_harm"),  # the most severe first
        ("B1", "hardship"),
    ]
    b1 = queue[queue["borrower_id"] == "B1"].iloc[0]
    assert b1["evidence"] and b1["last_contact_at"].day == 9  # updated by the later answer
    assert warnings.sync_cases(tmp_store) == 0  # idempotent
    counts = warnings.case_counts(tmp_store)
    assert counts["self_harm"] == 1 and counts["hardship"] == 1 and counts["total"] == 2


def test_agent_threats_in_calls_never_open_a_case(tmp_store):
    call = {
        "call_id": "c1",
        "borrower_id": "B7",
        "agent_id": "A1",
        "started_at": "2026-05-06T10:00:00+08:00",
        "turns": [
            {"speaker": "agent", "text": "再不还钱我们就起诉你，你怎么不去死"},
            {"speaker": "borrower", "text": "你们再这样我就去12378投诉"},
        ],
    }
    import json

    ingest_calls_bytes(tmp_store, json.dumps(call, ensure_ascii=False).encode(), "c.jsonl")
    queue = warnings.case_queue(tmp_store)
    assert list(zip(queue["borrower_id"], queue["flag"], strict=True)) == [("B7", "escalation")]
    assert queue["source_kind"].tolist() == ["call"]


def test_case_life_cycle_is_recorded_and_a_closed_case_reopens_only_for_new_contacts(tmp_store):
    ingest_survey_bytes(
        tmp_store, survey([("B1", "我把你们号码都拉黑了，别打了", "2026-05-01")]), "a.csv"
    )
    case_id = warnings.case_queue(tmp_store)["case_id"].iat[0]
    with pytest.raises(AccessDenied):
        warnings.update_case(tmp_store, Actor("r", "researcher"), case_id, status="closed")
    with pytest.raises(warnings.CaseError, match="没有要保存的变更"):
        warnings.update_case(tmp_store, QA, case_id)
    with pytest.raises(warnings.CaseError, match="未知的状态"):
        warnings.update_case(tmp_store, QA, case_id, status="done")
    warnings.update_case(tmp_store, QA, case_id, status="in_progress", owner="qa-1", note="已致电")
    warnings.update_case(tmp_store, QA, case_id, status="closed", note="已确认新的联系方式")
    notes = warnings.case_notes(tmp_store, case_id)
    assert notes["status"].tolist() == ["in_progress", "closed"]
    assert notes["note"].tolist() == ["已致电", "已确认新的联系方式"]
    audit = tmp_store.query("SELECT action, target FROM audit_log WHERE action = 'warning_case'")
    assert audit["target"].tolist() == [case_id, case_id]
    assert warnings.case_queue(tmp_store).empty  # closed cases leave the queue
    assert warnings.sync_cases(tmp_store) == 0  # the same contact does not reopen it
    ingest_survey_bytes(
        tmp_store, survey([("B1", "我下个月就搬走了，号码也换了", "2026-06-01")]), "b.csv"
    )
    reopened = warnings.case_queue(tmp_store)
    assert reopened["case_id"].iat[0] != case_id and reopened["status"].iat[0] == "new"


def test_evidence_is_masked_for_roles_without_reveal(tmp_store):
    ingest_survey_bytes(
        tmp_store, survey([("B1", "我张伟电话13812345678厂子倒闭了没钱还", "2026-05-01")]), "a.csv"
    )
    assert "13812345678" not in warnings.case_queue(tmp_store)["evidence"].iat[0]
    assert "13812345678" in warnings.case_queue(tmp_store, reveal=True)["evidence"].iat[0]


# --------------------------------------------------------------------------- borrower view
def test_timeline_joins_surveys_and_calls_in_time_order(tmp_store):
    import json

    ingest_survey_bytes(
        tmp_store,
        survey(
            [("B9", "客服很耐心，谢谢", "2026-05-01"), ("B9", "电话太多了，很烦", "2026-05-20")]
        ),
        "a.csv",
    )
    call = {
        "call_id": "c9",
        "borrower_id": "B9",
        "agent_id": "A1",
        "started_at": "2026-05-10T10:00:00+08:00",
        "turns": [
            {"speaker": "agent", "text": "您好，我是安信消费金融的小王，工号1001"},
            {"speaker": "borrower", "text": "我在医院住院，过两天再说"},
        ],
    }
    ingest_calls_bytes(tmp_store, json.dumps(call, ensure_ascii=False).encode(), "c.jsonl")
    line = borrowers.timeline(tmp_store, "B9")
    assert line["kind"].tolist() == ["survey", "call", "survey"]
    assert line["risk_flags"].tolist() == [[], ["health"], []]
    assert line["mood"].notna().all()
    assert borrowers.timeline(tmp_store, "nobody").empty


def test_planted_demo_journeys_show_what_they_promise(tmp_store):
    from data.demo.journeys import expected
    from data.demo_loader import ensure_demo

    ensure_demo(tmp_store, model="default", n_surveys=30, n_calls=10)
    open_flags = warnings.case_queue(tmp_store)
    for bid, want in expected().items():
        line = borrowers.timeline(tmp_store, bid)
        assert borrowers.mood_falling(line["mood"].tolist()).falling == want["falling"], bid
        found = set(open_flags.loc[open_flags["borrower_id"] == bid, "flag"])
        assert found == set(want["flags"]), (bid, found)
        if "promise_kept" in want:
            kept = [k for k in line["promise_kept"] if k is not None]
            assert kept == [want["promise_kept"]], bid
