"""Tests for nlp.rules.analyze on hand-written borrower feedback."""

from __future__ import annotations

import dataclasses

import pytest

from nlp.labels import COMPLAINT_REASONS, EMOTIONS, REQUESTS, SENTIMENTS, TACTICS
from nlp.rules import Analysis, analyze, analyze_many


def test_analysis_shape_and_vocabulary() -> None:
    result = analyze("催收员態度很差，半夜打电话骂我，还说要爆通讯录，我要投诉！")
    assert isinstance(result, Analysis)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.complaint = False  # type: ignore[misc]
    assert list(result.aspects) == [t for t in TACTICS if t in result.aspects]
    assert set(result.aspects.values()) <= set(SENTIMENTS)
    assert set(result.emotions) <= set(EMOTIONS)
    assert set(result.complaint_reasons) <= set(COMPLAINT_REASONS)
    assert list(result.complaint_reasons) == [
        r for r in COMPLAINT_REASONS if r in result.complaint_reasons
    ]
    assert set(result.requests) <= set(REQUESTS)
    assert len(result.clauses) == len(result.clause_scores)
    assert result.clauses[0] == "催收员态度很差"  # normalised (Traditional input)
    assert all(-1.0 <= s <= 1.0 for s in result.clause_scores)


def test_empty_text() -> None:
    result = analyze("")
    assert result.aspects == {} and result.clauses == () and not result.complaint


@pytest.mark.parametrize(
    ("text", "aspects"),
    [
        (
            "催收员态度很好，没有联系我家人，谢谢",
            {"third_party_contact": "positive", "agent_attitude": "positive"},
        ),
        (
            "他们没有威胁我，也没爆通讯录",
            {"threat_intimidation": "positive", "third_party_contact": "positive"},
        ),
        ("今天收到短信提醒还款", {"sms": "neutral"}),
        (
            "态度挺好，就是电话太频繁了",
            {
                "phone_call": "negative",
                "contact_frequency": "negative",
                "agent_attitude": "positive",
            },
        ),
        ("利息太高了，还有莫名其妙的服务费", {"fees_transparency": "negative"}),
        ("客服帮我申请了停催，非常感谢", {"repayment_plan": "positive"}),
        ("能不能分期还款？", {"repayment_plan": "neutral"}),  # a request: neutral mention
        ("建议少打点电话", {"phone_call": "neutral", "contact_frequency": "neutral"}),
        ("上门来我家门口大吵大闹", {"home_visit": "negative"}),
        # sarcasm: the praise is negative
        (
            "服务真好，一天打二十个电话",
            {
                "phone_call": "negative",
                "contact_frequency": "negative",
                "agent_attitude": "negative",
            },
        ),
        # a threatened visit is a threat, not a visit
        ("扬言不还就上门", {"threat_intimidation": "negative"}),
        ("我想问一下还款日是哪天", {}),
    ],
)
def test_aspects(text: str, aspects: dict[str, str]) -> None:
    assert analyze(text).aspects == aspects


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("他们爆了我的通讯录，还给我领导打电话", ("third_party_disclosure",)),
        ("说再不还就爆通讯录", ("threat",)),
        ("说要告诉我单位领导，让我丢工作", ("threat",)),
        ("短信里写我涉嫌诈骗，要移交公安", ("threat",)),
        ("威胁我说不还就让我坐牢", ("threat",)),
        ("骂我是老赖", ("insult",)),
        ("自称是法院的，说要冻结我的账户", ("impersonation",)),
        ("凌晨两点打电话催款", ("off_hours",)),
        ("晚上十一点还在发短信", ("off_hours",)),
        ("一天打二十多个电话", ("excessive_frequency",)),
        ("电话都被打爆了", ("excessive_frequency",)),
        ("天天上门骚扰，邻居都知道了", ("third_party_disclosure", "in_person_harassment")),
        ("再这样我就去12378投诉", ("complaint_intent",)),
        ("已经在黑猫上举报了", ("complaint_intent",)),
        ("如果再爆通讯录我就报警", ("complaint_intent",)),  # hypothetical act, real intent
        # not complaints
        ("提醒我逾期会影响征信，态度还可以", ()),  # lawful mention of 征信
        ("告知我可能会被起诉", ()),  # neutral notice of lawful consequences
        ("他说不还就起诉，我觉得这是正常流程", ()),
        ("利息太高了", ()),
        ("态度很差，很凶", ()),  # rude but not abusive
        ("每天打一个电话", ()),  # ordinary frequency
        ("他们没有威胁我", ()),
        ("没爆通讯录，也从来没骂过我", ()),
        ("我不会投诉的", ()),
        ("他们说会联系紧急联系人", ()),  # a notice, not a report
        ("别骚扰我家人", ()),  # a request, not a report
    ],
)
def test_complaints(text: str, reasons: tuple[str, ...]) -> None:
    result = analyze(text)
    assert result.complaint_reasons == reasons
    assert result.complaint is bool(reasons)


@pytest.mark.parametrize(
    ("text", "emotions"),
    [
        ("天天打电话，烦死了", ("anger",)),
        ("我很害怕，不敢接电话", ("fear",)),
        ("我不害怕，就是觉得麻烦你们了", ()),  # negated fear; 麻烦 is not anger
        ("压力太大了，晚上睡不着", ("anxiety",)),
        ("邻居都知道了，我真的很丢人", ("shame",)),
        ("我也没办法，实在还不上", ("helplessness",)),
        ("谢谢你们的理解", ("gratitude",)),
        ("终于还清了，松了一口气", ()),  # relief alone is no emotion
        ("催收员很不耐烦", ()),  # the agent's impatience is not the borrower's anger
        ("服务真好，一天打二十个电话，谢谢", ()),  # sarcastic thanks
        ("太气人了，我要投诉，真的很无奈", ("anger", "helplessness")),
    ],
)
def test_emotions(text: str, emotions: tuple[str, ...]) -> None:
    assert analyze(text).emotions == emotions


@pytest.mark.parametrize(
    ("text", "requests"),
    [
        ("希望你们能理解，给我点时间", ("understanding",)),
        ("能不能分期还款？", ("flexible_plan",)),
        ("可以申请延期吗", ("flexible_plan",)),
        ("别再打了，一天十几个谁受得了", ("fewer_contacts",)),
        ("希望少打点电话", ("fewer_contacts",)),
        ("别联系我家人，他们是无辜的", ("privacy",)),
        ("不要告诉我单位", ("privacy",)),
        ("请把费用明细说清楚", ("fee_clarity",)),
        ("客服说可以申请延期，挺好的", ()),  # a report, not a request
        ("客服帮我申请了分期", ()),
    ],
)
def test_requests(text: str, requests: tuple[str, ...]) -> None:
    assert analyze(text).requests == requests


def test_custom_clause_polarity_drives_aspects() -> None:
    def always_positive(clause: str) -> float:
        return 0.9

    def always_negative(clause: str) -> float:
        return -0.9

    text = "催收员打电话来了"
    assert analyze(text, always_positive).aspects == {"phone_call": "positive"}
    assert analyze(text, always_negative).aspects == {"phone_call": "negative"}
    # a misconduct report stays negative whatever the polarity model says
    assert analyze("骂我是老赖", always_positive).aspects == {"agent_attitude": "negative"}


def test_analyze_many_matches_analyze_and_scores_each_clause_once() -> None:
    calls: list[str] = []

    def counting(clause: str) -> float:
        calls.append(clause)
        return 0.0

    texts = ["谢谢，态度很好", "谢谢，态度很好", "谢谢"]
    results = analyze_many(texts, counting)
    assert len(results) == 3
    assert sorted(calls) == ["态度很好", "谢谢"]
    assert analyze_many(texts) == [analyze(t) for t in texts]
