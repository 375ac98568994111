"""Call compliance rules, call signals, borrower mood and the ``calls`` CLI.

Every test call here is written fresh for these tests (not taken from the dev set). Turn
sentiment comes from ``keyword_mood``, a small deterministic stand-in defined below, never from
the product model: these tests check the call logic, not the sentiment model.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import nlp.cli.calls as calls_module
from data.reader.transcripts import parse_jsonl_lines
from nlp.cli.calls import (
    ANALYSIS_KEYS,
    CALL_KEYS,
    evaluate_calls_file,
    main_calls,
    pairs_scorer,
    resolve_text_scorer,
)
from nlp.compliance import (
    OUTPUT_KEYS,
    RULE_IDS,
    CallAnalysis,
    ProfileError,
    analyze_calls,
    default_engine,
    load_profile,
    metadata_violations,
    stand_in_sentiment,
)
from nlp.labels import VIOLATION_RULES

ROOT = Path(__file__).resolve().parents[2]
DEV_CALLS = ROOT / "tests" / "data" / "dev_calls.jsonl"

OPENING = "您好，我是和信金融的客服小周，工号3051"
CHINA = load_profile("china")
US = load_profile("us_reg_f")


def keyword_mood(texts: list[str]) -> list[tuple[str, float]]:
    """Deterministic stand-in for the product's batch scorer (test-only)."""
    out = []
    for text in texts:
        if any(w in text for w in ("滚", "烦", "投诉", "凭什么", "别再打")):
            out.append(("negative", -0.8))
        elif any(w in text for w in ("谢谢", "好的", "可以", "行")):
            out.append(("positive", 0.6))
        else:
            out.append(("neutral", 0.0))
    return out


def _record(
    turns: list[tuple[str, str]],
    call_id: str = "t1",
    borrower_id: str = "b1",
    started_at: str = "2025-03-03T10:00:00+08:00",
    outcome: str | None = "connected",
) -> dict:
    record = {
        "call_id": call_id,
        "borrower_id": borrower_id,
        "agent_id": "a1",
        "started_at": started_at,
        "turns": [{"speaker": s, "text": t} for s, t in turns],
    }
    if outcome is not None:
        record["outcome"] = outcome
    return record


def _frames(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return parse_jsonl_lines([json.dumps(r, ensure_ascii=False) for r in records])


def analyse(turns: list[tuple[str, str]], profile=CHINA, **kw) -> CallAnalysis:
    calls, frame = _frames([_record(turns, **kw)])
    return analyze_calls(calls, frame, profile, keyword_mood)[0]


def agent_says(text: str, profile=CHINA) -> CallAnalysis:
    """A compliant opening, then the utterance under test as the agent's second turn."""
    return analyse([("agent", OPENING), ("borrower", "嗯，什么事"), ("agent", text)], profile)


def _rules_at(result: CallAnalysis, turn: int) -> set[str]:
    return {e["rule"] for e in result.evidence if e["turn"] == turn}


# --- profiles -------------------------------------------------------------------------------


def test_profiles_and_overrides() -> None:
    assert CHINA.window == "08:00-22:00" and CHINA.max_calls_per_day == 3
    assert CHINA.require_identity_disclosure and not CHINA.mini_miranda_phrases
    assert US.window == "08:00-21:00" and not US.max_calls_rolling and not US.max_calls_per_day
    assert (US.placed_calls_cap, US.placed_calls_days, US.conversation_quiet_days) == (7, 7, 7)
    assert not CHINA.placed_calls_cap and not CHINA.conversation_quiet_days
    assert any("attempt to collect a debt" in p for p in US.mini_miranda_phrases)
    custom = load_profile("china", company="和信金融", window="09:00-20:00", max_calls_per_day=2)
    assert custom.organisation_names == ("和信金融",)
    assert custom.window == "09:00-20:00" and custom.max_calls_per_day == 2
    assert load_profile(company=["甲", "乙公司"]).organisation_names == ("甲", "乙公司")
    with pytest.raises(AttributeError):
        CHINA.window_start = None  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "mars"},
        {"window": "8-22"},
        {"window": "25:00-26:00"},
        {"window": "10:00-10:00"},
        {"max_calls_per_day": 0},
        {"company": []},
    ],
)
def test_bad_profile_overrides(kwargs: dict) -> None:
    with pytest.raises(ProfileError):
        load_profile(**kwargs)


def test_rule_ids_cover_the_shared_vocabulary() -> None:
    assert set(VIOLATION_RULES) < set(RULE_IDS) and "mini_miranda" in RULE_IDS


# --- transcript rules: positives and negatives ----------------------------------------------

POSITIVE = {
    "threat": [
        "你再不还钱，我们就派人去你家找你",
        "今天下午五点前不把钱还上，后果自负",
        "信不信我找人打断你的腿",
        "你等着，我们会让你在单位混不下去",
        "不还的话我们就把你欠钱的事发到你们公司群里",
        "你再拖着不还我们就起诉你",
        "明天我们就去你单位找你",
        "你出门的时候小心点",
        "不还钱的话我们会让你全家都知道",
        "你欠的钱今天必须还，不然我每天给你打一百个电话",
    ],
    "misleading": [
        "欠钱不还是犯法的，警察会来找你",
        "你这样下去征信就黑一辈子了",
        "这个会影响你孩子考公务员的",
        "明天就强制执行，冻结你所有银行卡",
        "你再拖下去，你全家人的征信都会受影响",
        "你要是再不还，我们就报警说你诈骗",
        "你的孩子以后考公务员、上大学都会受影响",
        "你的逾期记录会跟着你一辈子",
        "我们已经把你的案子移交公安了",
        "我是法院的",
    ],
    "insult": [
        "你就是个老赖",
        "你还要不要脸",
        "没钱还借什么钱",
        "你脑子有病吧",
        "你这种人就是垃圾",
    ],
    "impersonation": [
        "我是城东区法院执行庭的，通知你一下",
        "这里是市公安局经侦支队",
        "我是张律师，代表律师事务所正式通知您",
        "本院现在正式通知你",
        "法院这边通知你明天来一趟",
    ],
    "new_debt": [
        "你可以先用信用卡套现还上",
        "找亲戚朋友借一下，先把钱还了",
        "去别的平台借点钱周转一下嘛",
        "您可以开通花呗先把这期垫上",
        "以贷养贷也得先还我们",
        "你随便找个口子借一下不就行了",
        "找你老婆借也得先把我们的还上",
        "问问家里人能不能先帮你垫上",
        "你去申请个网贷先还上",
    ],
}

NEGATIVE = [
    "逾期可能会影响您的征信记录",
    "如果一直未还款，我们可能会依法提起诉讼",
    "我们不会上门，也不会联系您的家人",
    "按照合同约定，逾期会产生罚息",
    "您放心，我们不会去您单位",
    "欠款不还不会坐牢，但会影响信用",
    "我们没有说您是老赖，您只是暂时有困难",
    "最近冒充我们的骗子很多，请注意",
    "您的账单会滚动计息",
    "我们不是法院的，是和信金融的客服",
    "如果有异议，您可以向法院咨询或者找律师",
    "我们不建议您以贷养贷",
    "千万不要去借网贷还款",
    "您可以先还一部分，剩下的我们帮您申请分期",
    "您的借款已经逾期二十天了，今天能处理吗",
    "请问您是担心会坐牢吗？不会的",
    "我们这边会安排同事上门拜访核实情况",
    "后续可能会有外访人员上门核实",
    "您可以问问家人能不能帮您一起想想办法",
    "请不要相信任何要求您转账到私人账户的电话，谨防诈骗",
    "您的紧急联系人信息需要更新一下吗",
    "您的家人也不希望看到您逾期吧",
    "如果您一直不还款，我们会安排外访人员上门核实",
    "逾期记录会在征信保留五年",
]


@pytest.mark.parametrize(
    ("rule", "text"), [(rule, text) for rule, texts in POSITIVE.items() for text in texts]
)
def test_rule_positive(rule: str, text: str) -> None:
    result = agent_says(text)
    assert rule in _rules_at(result, 2), (text, result.evidence)
    assert rule in result.violations
    item = next(e for e in result.evidence if e["rule"] == rule)
    assert item["span"] and item["span"] in text
    assert item["explanation"] and any("\u4e00" <= ch <= "\u9fff" for ch in item["explanation"])


@pytest.mark.parametrize("text", NEGATIVE)
def test_rule_negative(text: str) -> None:
    result = agent_says(text)
    assert result.violations == [], (text, result.evidence)


def test_impersonation_is_also_misleading() -> None:
    result = agent_says("这里是市公安局经侦支队")
    assert result.violations == ["impersonation", "misleading"]


def test_jail_threat_is_threat_and_misleading() -> None:
    result = agent_says("不还就让你坐牢")
    assert result.violations == ["misleading", "threat"]
    assert {e["turn"] for e in result.evidence} == {2}


def test_only_agent_turns_violate() -> None:
    result = analyse(
        [
            ("agent", OPENING),
            ("borrower", "你们这帮骗子，滚！再打我就投诉，不还就让你们坐牢"),
            ("agent", "理解您的心情，我们可以帮您申请延期还款"),
            ("borrower", "凭什么天天打电话，烦死了"),
            ("agent", "好的，您方便的时候再联系我们，谢谢"),
        ]
    )
    assert result.violations == []
    assert result.borrower_sentiment_start == "negative"
    assert result.agent_offered_plan


# --- ASR noise ------------------------------------------------------------------------------


def test_asr_noise_unpunctuated_fillers_homophones() -> None:
    engine = default_engine()
    assert engine.normalise("嗯那个你预期了啊").text == "你逾期了"
    noisy = agent_says("嗯那个你这个钱啊预期三个月了那个不还的话就让你坐牢啊")
    assert {"threat", "misleading"} <= set(noisy.violations)
    lawful = agent_says("嗯预期的话呢可能会影响您的真信啊")
    assert lawful.violations == []
    spaced = agent_says("你 再 不 还 我们 就 派人 去 你家")
    assert "threat" in spaced.violations
    full_width = agent_says("ＳＢ，你还要不要脸")
    assert "insult" in full_width.violations


def test_span_maps_back_to_original_text() -> None:
    text = "嗯那个您的预期款项啊，你这个老赖，赶紧还"
    evidence = default_engine().scan_agent_turn(text, 5)
    assert [(e.rule, e.turn) for e in evidence] == [("insult", 5)]
    assert evidence[0].span in text and "老赖" in evidence[0].span


# --- identity disclosure, mini-Miranda ------------------------------------------------------


@pytest.mark.parametrize(
    "opening",
    [
        "您好，我是和信金融的客服小周",
        "您好，这里是和信银行信用卡中心，工号0371",
        "喂您好，和信金融贷后部，我姓周",
        "您好，我是和信金融的周经理",
        "你好，我是和信普惠的王小明",
        "您好，这里是和信银行，我是王磊",
        "喂，李娜是吧，我这边是和信金融贷后部的张强",
        "您好，和信金融催收部，工号A-2231",
    ],
)
def test_identity_disclosed(opening: str) -> None:
    result = analyse([("agent", opening), ("borrower", "嗯"), ("agent", "您的账单逾期了")])
    assert "no_identity_disclosure" not in result.violations


@pytest.mark.parametrize(
    "turns",
    [
        [("agent", "喂，张三是吧，你的钱什么时候还"), ("borrower", "谁啊")],
        [("agent", "您好，这里是和信金融"), ("borrower", "嗯"), ("agent", "您的账单逾期了")],
        [("agent", "您好，我是小周"), ("borrower", "哪个小周"), ("agent", "您的账单逾期了")],
        [
            ("agent", "喂"),
            ("borrower", "喂"),
            ("agent", "您那笔钱怎么还没还"),
            ("borrower", "你谁啊"),
            ("agent", "我是和信金融的小周"),  # third agent turn: too late
        ],
    ],
)
def test_identity_missing(turns: list[tuple[str, str]]) -> None:
    result = analyse(turns)
    assert "no_identity_disclosure" in result.violations
    item = next(e for e in result.evidence if e["rule"] == "no_identity_disclosure")
    assert item["turn"] == 0


@pytest.mark.parametrize(
    ("turns", "missing"),
    [
        (
            [("agent", "您好，我是安信消费金融的"), ("borrower", "嗯")],
            "姓名或工号（已报机构：安信消费金融）",
        ),
        (
            [("agent", "您好，这边是和信金融贷后部"), ("borrower", "嗯")],
            "姓名或工号（已报机构：和信金融）",
        ),
        ([("agent", "您好，我是小周"), ("borrower", "哪个小周")], "机构名称（已报姓名或工号）"),
        ([("agent", "喂，张三是吧，你的钱什么时候还")], "机构名称，也未报姓名或工号"),
    ],
)
def test_identity_evidence_says_what_was_missing(turns, missing: str) -> None:
    item = next(e for e in analyse(turns).evidence if e["rule"] == "no_identity_disclosure")
    assert item["explanation"] == f"未自报家门：开场未报{missing}"
    if "已报机构" in missing:  # the company was said: never claim it was missing
        assert "未报机构" not in item["explanation"]


def test_identity_evidence_names_the_expected_company() -> None:
    turns = [("agent", "喂您好，和信金融"), ("borrower", "嗯"), ("agent", "我是催收专员小周")]
    result = analyse(turns, load_profile(company=["远达资产"]))
    (item,) = [e for e in result.evidence if e["rule"] == "no_identity_disclosure"]
    assert item["explanation"] == (
        "未自报家门：开场未报本机构名称（应报：远达资产；听到：和信金融），已报姓名或工号"
    )
    engine = default_engine()
    assert engine.identity_check("您好，我是和信金融的小周").disclosed
    assert engine.identity_check("您好，我是和信金融的小周").missing() == ""


def test_identity_across_first_two_turns_and_configured_company() -> None:
    turns = [("agent", "喂您好，和信金融"), ("borrower", "嗯"), ("agent", "我是催收专员小周")]
    assert "no_identity_disclosure" not in analyse(turns).violations
    configured = load_profile(company=["和信金融服务有限公司"])
    assert "no_identity_disclosure" not in analyse(turns, configured).violations
    other = load_profile(company=["远达资产"])
    assert "no_identity_disclosure" in analyse(turns, other).violations


def test_mini_miranda_only_in_us_profile() -> None:
    english = [
        ("agent", "Hi, this is Dana from Harbor Credit Services."),
        ("borrower", "Yes?"),
        ("agent", "This is an attempt to collect a debt. You owe 300 dollars."),
    ]
    assert analyse(english, US).violations == []
    missing = [("agent", "Hi, this is Dana from Harbor Credit Services."), ("borrower", "Yes?")]
    result = analyse(missing, US)
    assert result.violations == ["mini_miranda"]
    chinese = [("agent", OPENING + "。这是一次债务催收。"), ("borrower", "嗯")]
    assert analyse(chinese, US).violations == []
    assert "mini_miranda" not in analyse(missing, CHINA).violations


# --- third-party disclosure -----------------------------------------------------------------


def test_third_party_disclosure_after_callee_says_not_borrower() -> None:
    turns = [
        ("agent", OPENING + "，请问是王磊本人吗"),
        ("borrower", "不是，我是他同事"),
        ("agent", "那你转告他，他在我们这欠了五千块，逾期三个月了"),
    ]
    result = analyse(turns)
    assert result.violations == ["third_party_disclosure"]
    assert result.evidence[0]["turn"] == 2


def test_third_party_callee_with_discreet_agent_is_compliant() -> None:
    turns = [
        ("agent", OPENING + "，请问是王磊本人吗"),
        ("borrower", "他不在，我是他老婆，你找他什么事"),
        ("agent", "没关系，麻烦您让他方便的时候回个电话，谢谢"),
        ("borrower", "好的"),
    ]
    assert analyse(turns).violations == []


@pytest.mark.parametrize(
    "text",
    [
        "我们已经通知了你的同事你欠钱不还的事",
        "你老公在我们平台借的钱一直不还",
        "你的同事现在都知道你欠钱了",
        "我们已经跟你公司领导说了你欠钱的事",
    ],
)
def test_third_party_disclosure_statements(text: str) -> None:
    assert "third_party_disclosure" in agent_says(text).violations


def test_borrower_saying_not_deliberate_is_not_a_third_party() -> None:
    turns = [
        ("agent", OPENING + "，请问是王磊吗"),
        ("borrower", "是我，我不是故意的，最近手头紧"),
        ("agent", "理解，您的借款已经逾期十天了"),
    ]
    assert analyse(turns).violations == []


def test_callee_is_borrower_after_all() -> None:
    turns = [
        ("agent", OPENING + "，请问是王磊吗"),
        ("borrower", "他不在"),
        ("borrower", "算了，我就是本人"),
        ("agent", "好的王先生，您的借款已经逾期了"),
    ]
    assert analyse(turns).violations == []


# --- metadata rules -------------------------------------------------------------------------

_BASIC = [("agent", OPENING), ("borrower", "好的，我知道了")]


@pytest.mark.parametrize(
    ("started_at", "profile", "flagged"),
    [
        ("2025-03-03T22:30:00+08:00", CHINA, True),
        ("2025-03-03T07:59:00+08:00", CHINA, True),
        ("2025-03-03T08:00:00+08:00", CHINA, False),
        ("2025-03-03T21:59:00+08:00", CHINA, False),
        ("2025-03-03T21:30:00+08:00", US, True),
        ("2025-03-03T21:30:00+08:00", load_profile(window="08:00-21:00"), True),
        ("2025-03-03T23:30:00+08:00", load_profile(window="20:00-02:00"), False),
        ("2025-03-03T14:30:00Z", CHINA, False),  # 22:30 UTC? no: 14:30Z is 14:30 local (UTC)
    ],
)
def test_off_hours(started_at: str, profile, flagged: bool) -> None:
    result = analyse(_BASIC, profile, started_at=started_at)
    assert ("off_hours" in result.violations) is flagged
    if flagged:
        item = next(e for e in result.evidence if e["rule"] == "off_hours")
        assert item["turn"] is None and started_at[11:16] in item["span"]
        # the explanation states the local start time and the profile's window
        assert f"当地时间 {started_at[11:16]} 开始" in item["explanation"]
        assert f"不在允许时段 {profile.window} 内" in item["explanation"]
        assert f"UTC{started_at[19:]}" in item["explanation"]


def _day_of_calls(
    times: list[str], borrower: str = "b1", outcomes=None, prefix: str = "f"
) -> list[dict]:
    outcomes = outcomes or ["connected"] * len(times)
    return [
        _record(_BASIC, call_id=f"{prefix}{i}", borrower_id=borrower, started_at=t, outcome=o)
        for i, (t, o) in enumerate(zip(times, outcomes, strict=True))
    ]


def _flagged(records: list[dict], profile) -> list[str]:
    calls, turns = _frames(records)
    results = analyze_calls(calls, turns, profile, keyword_mood)
    return [r.call_id for r in results if "over_frequency" in r.violations]


def test_over_frequency_per_local_day() -> None:
    times = [f"2025-03-03T{h}:00:00+08:00" for h in ("09", "11", "13", "15", "17")]
    assert _flagged(_day_of_calls(times), CHINA) == ["f3", "f4"]
    assert _flagged(_day_of_calls(times[:3]), CHINA) == []
    other_borrowers = [
        *_day_of_calls(times[:3]),
        *_day_of_calls(times[:3], borrower="b2", prefix="g"),
    ]
    assert _flagged(other_borrowers, CHINA) == []
    strict = load_profile(max_calls_per_day=1)
    assert _flagged(_day_of_calls(times[:2]), strict) == ["f1"]


def test_over_frequency_counts_connected_calls_and_local_days() -> None:
    times = [f"2025-03-03T{h}:00:00+08:00" for h in ("09", "10", "11", "12")]
    missed = ["connected", "未接通", "connected", "connected"]
    assert _flagged(_day_of_calls(times, outcomes=missed), CHINA) == []
    # 23:30 local on the 3rd and 00:30 local on the 4th are different local days
    split = [
        "2025-03-03T20:00:00+08:00",
        "2025-03-03T21:00:00+08:00",
        "2025-03-03T21:30:00+08:00",
        "2025-03-04T00:30:00+08:00",
    ]
    assert _flagged(_day_of_calls(split), CHINA) == []
    voicemail = _record([("agent", OPENING)], call_id="v", started_at="2025-03-03T12:00:00+08:00")
    calls, turns = _frames([*_day_of_calls(times[:3]), voicemail])
    assert "v" not in metadata_violations(calls, turns, CHINA)


def test_over_frequency_rolling_window() -> None:
    rolling = replace(CHINA, max_calls_per_day=0, max_attempts_per_day=0, max_calls_rolling=7)
    in_week = [f"2025-03-{d:02d}T12:00:00-05:00" for d in range(3, 10)] + [
        "2025-03-09T15:00:00-05:00"
    ]
    assert _flagged(_day_of_calls(in_week), rolling) == ["f7"]
    spread = [f"2025-03-{d:02d}T12:00:00-05:00" for d in range(1, 21, 2)]
    assert _flagged(_day_of_calls(spread), rolling) == []
    # us_reg_f counts placed calls per debt with its own rule (tests/nlp/test_reg_f.py)
    assert _flagged(_day_of_calls(in_week), US) == []


# --- signals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我们可以帮您申请分期还款", True),
        ("实在困难的话可以申请延期", True),
        ("结清的话可以给您减免一部分罚息", True),
        ("您先还一部分，我这边申请停催", True),
        ("我们可以协商一个个性化分期方案", True),
        ("分期是不可能的，必须全额还款", False),
        ("我们不能给您减免", False),
        ("没有任何分期的政策", False),
        ("您之前申请的分期已经逾期了", False),
        ("请今天把全部欠款还清", False),
        ("分期的话要收手续费", False),
        ("您的分期账单已经出了", False),
        ("您有什么还款计划", False),
        ("如果有困难，我们可以协商", True),
        ("延期的话也是可以的", True),
    ],
)
def test_agent_offered_plan(text: str, expected: bool) -> None:
    assert agent_says(text).agent_offered_plan is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我明天还", True),
        ("好的我马上转", True),
        ("周五前还上", True),
        ("行，发了工资就还", True),
        ("我今天下午先还五百", True),
        ("我下周一一定还清", True),
        ("明天上午十点前还清", True),
        ("月底发了工资就转给你们", True),
        ("我会尽快还的", False),
        ("我不还", False),
        ("我现在还不上", False),
        ("我还没发工资呢", False),
        ("要是你们不减免我就不还", False),
        ("你们给我减免我才还", False),
        ("我已经还了", False),
        ("我尽量看看吧", False),
        ("我还在上班，晚点说", False),
        ("你们凭什么这样", False),
    ],
)
def test_promise_to_pay(text: str, expected: bool) -> None:
    result = analyse([("agent", OPENING), ("borrower", text)])
    assert result.promise_to_pay is expected
    assert not agent_says(text).promise_to_pay  # agent words never count as a promise


# --- borrower mood and result shape ---------------------------------------------------------


def test_sentiment_start_end_skip_fillers_and_trajectory() -> None:
    turns = [
        ("agent", OPENING),
        ("borrower", "喂？"),
        ("borrower", "烦死了，别再打了"),
        ("agent", "理解，我们可以帮您申请分期"),
        ("borrower", "真的可以分期吗"),
        ("borrower", "好的谢谢"),
        ("borrower", "嗯嗯"),
    ]
    result = analyse(turns)
    assert result.borrower_sentiment_start == "negative"
    assert result.borrower_sentiment_end == "positive"
    # "好的谢谢" has only two meaningful characters (好/的 are fillers): not substantive
    assert result.turn_sentiments == [
        "neutral",
        "neutral",
        "negative",
        "positive",
        "positive",
        "positive",
        "neutral",
    ]
    assert [i for i, _ in result.trajectory] == [1, 2, 4, 5, 6]
    assert result.trajectory[1] == (2, -0.8)
    assert len(result.turn_scores) == len(turns)


def test_call_without_borrower_turns() -> None:
    result = analyse([("agent", OPENING + "，请回电")])
    assert result.borrower_sentiment_start is None and result.trajectory == []


def test_to_dict_and_cli_keys() -> None:
    result = agent_says("不还就让你坐牢")
    row = result.to_dict()
    assert set(OUTPUT_KEYS) <= set(row) and "turn_scores" in row
    json.dumps(row, ensure_ascii=False)
    assert all(set(e) == {"rule", "turn", "span", "explanation"} for e in row["evidence"])
    assert row["violations"] == sorted(set(row["violations"]))


def test_analyze_calls_validates_inputs() -> None:
    calls, turns = _frames([_record(_BASIC)])
    with pytest.raises(ValueError, match="returned 1 results for 2 texts"):
        analyze_calls(calls, turns, CHINA, lambda texts: [("neutral", 0.0)])
    with pytest.raises(ValueError, match="lacks columns"):
        analyze_calls(calls, turns.drop(columns=["speaker"]), CHINA, keyword_mood)
    results = analyze_calls(calls, turns, CHINA, lambda texts: [("positive", 7.0)] * len(texts))
    assert results[0].turn_scores == [1.0, 1.0]  # clipped into [-1, 1]


def test_stand_in_sentiment_is_deterministic() -> None:
    texts = ["谢谢你", "别再打了，烦死了", "今天周三"]
    assert stand_in_sentiment(texts) == stand_in_sentiment(texts)
    assert [label for label, _ in stand_in_sentiment(texts)] == ["positive", "negative", "neutral"]


# --- CLI ------------------------------------------------------------------------------------


def _cli_input(tmp_path: Path) -> Path:
    path = tmp_path / "calls.jsonl"
    records = [
        _record([("agent", OPENING), ("borrower", "好的，我明天还")], call_id="ok"),
        _record([("agent", "喂，你再不还就让你坐牢"), ("borrower", "滚")], call_id="bad"),
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), "utf-8")
    return path


def test_cli_writes_one_object_per_call(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(
        calls_module,
        "resolve_text_scorer",
        lambda model=None: (pairs_scorer(keyword_mood), "test"),
    )
    out = tmp_path / "out" / "result.jsonl"
    code = main_calls([str(_cli_input(tmp_path)), "--out", str(out), "--company", "和信金融"])
    assert code == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["call_id"] for r in rows] == ["ok", "bad"]
    assert all(list(r) == [*ANALYSIS_KEYS, *CALL_KEYS, "model", "turns"] for r in rows)
    assert ANALYSIS_KEYS[: len(OUTPUT_KEYS)] == OUTPUT_KEYS
    # the call itself, so `python -m data import --kind calls` can store the line as it is
    assert rows[1]["borrower_id"] == "b1" and rows[1]["started_at"] == "2025-03-03T10:00:00+08:00"
    assert [(t["turn_index"], t["speaker"], t["text"]) for t in rows[1]["turns"]] == [
        (0, "agent", "喂，你再不还就让你坐牢"),
        (1, "borrower", "滚"),
    ]
    assert [t["sentiment"] for t in rows[1]["turns"]] == rows[1]["turn_sentiments"]
    assert rows[0]["violations"] == [] and rows[0]["promise_to_pay"] is True
    assert rows[1]["violations"] == ["misleading", "no_identity_disclosure", "threat"]
    assert rows[1]["trajectory"] == [[1, -0.8]]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.jsonl"], "not found"),
        (["{input}", "--profile", "mars"], "unknown profile"),
        (["{input}", "--window", "late"], "HH:MM-HH:MM"),
        (["{bad}"], "line 1"),
        (["{input}", "--out-of-range"], "usage"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    args: list[str], needle: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(
        calls_module,
        "resolve_text_scorer",
        lambda model=None: (pairs_scorer(keyword_mood), "test"),
    )
    good = _cli_input(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"call_id": "x", "turns": []}\n', encoding="utf-8")
    argv = [a.format(input=good, bad=bad) for a in args]
    argv = [str(tmp_path / a) if a == "missing.jsonl" else a for a in argv]
    code = main_calls([*argv, "--out", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and "Traceback" not in err
    if needle != "usage":
        assert len(err.strip().splitlines()) == 1


def test_resolve_text_scorer_falls_back(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "nlp.pipeline", None)
    monkeypatch.setitem(sys.modules, "nlp.lexicon", None)
    scorer, name = resolve_text_scorer()
    assert name == "pipeline:default"
    frame = scorer(["谢谢"])
    assert list(frame["sentiment"]) == ["positive"] and list(frame["sentiment_score"]) == [0.5]
    assert "stand-in" in capsys.readouterr().err


# --- throughput and the labelled dev set ----------------------------------------------------


def test_throughput_with_stand_in_sentiment() -> None:
    records = []
    for i in range(200):
        records.append(
            _record(
                [
                    ("agent", OPENING),
                    ("borrower", "嗯，什么事"),
                    ("agent", "您的借款已经逾期二十天了，逾期可能会影响您的征信，今天能处理吗"),
                    ("borrower", "我现在手头紧，下周五发了工资就还"),
                    ("agent", "那我帮您申请一下延期，您看可以吗"),
                    ("borrower", "好的谢谢"),
                ],
                call_id=f"p{i}",
                borrower_id=f"b{i % 50}",
            )
        )
    calls, turns = _frames(records)
    default_engine()  # compiled once; not part of the timing
    started = time.perf_counter()
    results = analyze_calls(calls, turns, CHINA, stand_in_sentiment)
    rate = len(results) / (time.perf_counter() - started)
    assert all(r.promise_to_pay and r.agent_offered_plan for r in results)
    assert rate > 50, f"{rate:.0f} calls/s"


# Floors sit a little below what was measured on the dev set (140 calls, 15-23 per transcript
# rule; written apart from the training turns). The call heads were trained and their
# thresholds chosen without it, but its errors were read: a few rule patterns (reported
# disclosure, an agent quoting or correcting what the callee heard) and the kinds of training
# turns asked for later (pushy but lawful agents) answer what it showed, so its figures are
# somewhat optimistic. The floors catch regressions, they are not a quality claim. Rules with
# support 0 are not checked.
DEV_FLOORS: dict[str, tuple[float, float]] = {
    # rule: (precision floor, recall floor), the rules with the model and the call heads;
    # a little under the figures `python -m nlp eval-calls tests/data/dev_calls.jsonl` prints
    "threat": (0.65, 0.85),
    "insult": (0.85, 0.75),
    "third_party_disclosure": (0.85, 0.9),
    "impersonation": (0.9, 0.75),
    "misleading": (0.7, 0.85),
    "new_debt": (0.6, 0.9),
    "no_identity_disclosure": (0.7, 0.8),
    "off_hours": (0.9, 0.9),
    "over_frequency": (0.9, 0.9),
}
RULE_FLOORS: dict[str, tuple[float, float]] = {
    # the rules alone (no model): precise, blind to most implicit phrasings
    "threat": (0.5, 0.35),
    "insult": (0.8, 0.5),
    "third_party_disclosure": (0.8, 0.7),
    "impersonation": (0.9, 0.6),
    "misleading": (0.6, 0.55),
    "new_debt": (0.7, 0.3),
    "no_identity_disclosure": (0.7, 0.8),
    "off_hours": (0.9, 0.9),
    "over_frequency": (0.9, 0.9),
}
SIGNAL_FLOORS: dict[str, tuple[float, float]] = {
    "agent_offered_plan": (0.7, 0.75),
    "promise_to_pay": (0.8, 0.55),
}


@pytest.mark.skipif(not DEV_CALLS.exists(), reason="dev call set missing")
@pytest.mark.parametrize(("model", "floors"), [(None, RULE_FLOORS), ("default", DEV_FLOORS)])
def test_dev_calls_quality(model, floors) -> None:
    report = evaluate_calls_file(DEV_CALLS, model=model)
    assert report["n_calls"] > 0
    failures = []
    for rule, stats in report["rules"].items():
        if not stats["support"]:
            continue
        p_floor, r_floor = floors.get(rule, (0.5, 0.5))
        precision = stats["precision"] or 0.0
        recall = stats["recall"] or 0.0
        if precision < p_floor or recall < r_floor:
            failures.append(f"{rule}: P={precision} (>= {p_floor}) R={recall} (>= {r_floor})")
    for signal, (p_floor, r_floor) in SIGNAL_FLOORS.items():
        stats = report[signal]
        if (stats["precision"] or 0.0) < p_floor or (stats["recall"] or 0.0) < r_floor:
            failures.append(f"{signal}: P={stats['precision']} R={stats['recall']}")
    assert (report["turn_match_rate"] or 0.0) >= 0.7, report["turn_match_rate"]
    if model:  # the mood heads read with context (measured 0.729 / 0.714)
        for key in ("borrower_sentiment_start_accuracy", "borrower_sentiment_end_accuracy"):
            if (report[key] or 0.0) < 0.65:
                failures.append(f"{key}: {report[key]}")
    assert not failures, failures


def test_window_mood_averages_or_takes_the_sharpest_turn() -> None:
    import numpy as np

    from nlp.compliance.learned import window_mood

    calm_then_sob = np.asarray([[0.1, 0.8, 0.1], [0.75, 0.2, 0.05]])
    assert window_mood(calm_then_sob, None) == "neutral"  # averaged: 0.425 / 0.5 / 0.075
    assert window_mood(calm_then_sob, 0.7) == "negative"  # the sob is sure enough
    assert window_mood(calm_then_sob, 0.8) == "neutral"  # no turn sure enough: the average
    assert window_mood(calm_then_sob[1:], None) == "negative"
    assert window_mood(np.asarray([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]), 0.7) == "positive"


def test_call_moods_read_the_substantive_turns_when_the_card_says_so() -> None:
    import numpy as np

    from nlp.compliance.learned import load_call_heads

    heads = load_call_heads()
    if heads is None:
        pytest.skip("no call heads installed")
    card = {**heads.card}
    card["mood_aggregation"] = {
        "start": {"window": 1, "threshold": None, "substantive": True},
        "end": {"window": 1, "threshold": None, "substantive": False},
    }
    from dataclasses import replace

    probe = replace(heads, card=card)
    seen = []
    probe_cls = type(probe)
    original = probe_cls.mood_proba

    def spy(self, pairs, positions):
        seen.append((pairs[:, 0].tolist(), positions))
        return original(self, pairs, positions)

    pairs = np.zeros((4, len(heads.mean)))
    pairs[:, 0] = [10, 11, 12, 13]  # turn ids in the first feature
    try:
        probe_cls.mood_proba = spy
        probe.call_moods(pairs, callee=[1, 3], substantive=[3])
    finally:
        probe_cls.mood_proba = original
    assert seen == [([13.0], ["start"]), ([13.0], ["end"])]
