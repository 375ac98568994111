"""Tests for nlp.feedback.analyze on hand-written borrower feedback."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from nlp.evaluate import multilabel_report
from nlp.feedback import Analysis, analyze, analyze_many
from nlp.labels import COMPLAINT_REASONS, EMOTIONS, REQUESTS, SENTIMENTS, TACTICS

TUNE_SET = Path(__file__).resolve().parents[1] / "data" / "tune_rules.jsonl"


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
        ("上周有两个人到我单位闹", ("in_person_harassment",)),
        ("他们在我家门口蹲了一下午", ("in_person_harassment",)),
        ("守在我们厂门口等我下班", ("in_person_harassment",)),
        ("家门口被喷了油漆", ("in_person_harassment",)),
        ("他们说要来我家闹", ()),  # announced, not done
        ("把我的照片发到家族群里", ("third_party_disclosure",)),
        ("他们在我们公司群里发了我的欠款信息", ("third_party_disclosure",)),
        ("我表哥收到了催款短信", ("third_party_disclosure",)),
        ("家里人都被打了一遍电话", ("third_party_disclosure",)),
        ("你们别老是打我老婆电话", ("third_party_disclosure",)),  # 别老是: it happened
        ("说我再不还就要派人去我老家", ("threat",)),
        ("我好怕他们会去找我爸妈", ()),  # a fear, not a report
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
        ("无语了，刚还完又打来", ("anger",)),
        ("真的服了，谁受得了", ("anger",)),
        ("我现在很慌，不知道该怎么办", ("anxiety", "helplessness")),
        ("一整天都心神不宁", ("anxiety",)),
        ("把利息降下来吧，真的还不起", ("helplessness",)),
        ("你们上次来堵我，我到现在都不敢开门", ("fear",)),
        ("在亲戚面前一点面子都没有了", ("shame",)),
        ("求求你们别再打给我妈了", ()),  # pleading alone is not helplessness
        ("我没生气", ()),
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
        # indirect phrasing
        ("要是能分期就好了，一次性拿不出来", ("flexible_plan",)),
        ("我只是想要一个缓冲期", ("flexible_plan",)),
        ("宽限一下嘛，就几天", ("flexible_plan",)),
        ("最低还款可以吗", ("flexible_plan",)),
        ("违约金能免吗", ("flexible_plan",)),
        ("可以把还款日改到15号吗", ("flexible_plan",)),
        ("求放过，让我喘口气", ("understanding",)),
        ("说话能不能客气点", ("understanding",)),
        ("别在打了，月底就还", ("fewer_contacts",)),  # 在 for 再, a common typo
        ("请不要再给我发短信了", ("fewer_contacts",)),
        ("不要在我上班时间打电话", ("fewer_contacts",)),
        ("你们别老是打我老婆电话", ("privacy",)),
        ("千万别让我爸妈知道", ("privacy",)),
        ("别把我的事情发到群里", ("privacy",)),
        ("多出来的399是什么", ("fee_clarity",)),
        ("利息咋算的，看不懂", ("fee_clarity",)),
        ("希望你們可以體諒一下", ("understanding",)),  # Traditional
        # negated, reported or done: no request
        ("我没要求分期，是系统自动分的", ()),
        ("我从来没要求减免", ()),
        ("之前申请过延期，已经批了", ()),
        ("谢谢客服帮我申请减免", ()),
        ("感谢解释，终于搞明白了罚息怎么算的", ()),
        ("晚几天还款就被收了罚息", ()),
        ("我想问一下还款日是哪天", ()),
        ("如果你们早点说可以分期，我也不会逾期", ()),  # regret, not a request
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


def test_quality_floor_on_tuning_set() -> None:
    """Recall/precision floors on the hand-labelled tuning set the cue files were tuned on.

    A regression guard only: the held-out estimate comes from tests/data/dev_borrower.jsonl.
    """
    rows = [json.loads(line) for line in TUNE_SET.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 200
    results = analyze_many([row["text"] for row in rows])
    floors = {"requests": 0.9, "emotions": 0.9, "complaint_reasons": 0.85}
    for key, floor in floors.items():
        report = multilabel_report([row[key] for row in rows], [getattr(r, key) for r in results])
        assert report["recall"] >= floor, (key, report)
        assert report["precision"] >= 0.93, (key, report)
