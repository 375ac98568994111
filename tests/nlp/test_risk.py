"""Risk flags: the cue rules' decided edge cases, evidence spans, and quality on the risk dev set
(written apart from the training texts) with the committed heads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.labels import RISK_FLAGS
from nlp.risk import clause_spans, find_risks, ordered_flags, risk_severity
from nlp.textnorm import normalize

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "dev_risk_flags.jsonl"


def flags(text: str) -> set[str]:
    return set(find_risks(normalize(text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("公司倒闭了三个月没发工资，真的活不下去了", {"hardship", "self_harm"}),
        ("我妈住院了，手术费还差两万", {"health"}),
        ("你们再打我就去12378投诉", {"escalation"}),  # a conditional complaint counts
        ("我明天就换号，你们别想找到我", {"evasion"}),
        ("孩子以后就拜托你了", {"self_harm"}),
    ],
)
def test_cues_find_the_plain_cases(text, expected):
    assert flags(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "笑死，累死我了，烦死了",  # idioms built on 死
        "我还不至于想不开，放心",  # an explicit denial
        "你怎么不去死",  # the collector's abuse is not the writer's intent
        "12378是干嘛的？",  # asking what a hotline is
        "他们说要起诉我",  # the lender threatening to sue
        "我换了新号码是13800000000",  # telling the lender a new number
        "手头紧，下个月还",  # can't pay, no stated cause
        "去年住过院，现在已经好了",  # an illness that is over
        "请问还款日是几号",
    ],
)
def test_cues_stay_quiet_on_the_decided_negatives(text):
    assert flags(text) == set()


def test_a_police_case_against_ones_employer_is_hardship_not_escalation():
    assert flags("老板跑路了，工资3个月没发，我报警了") == {"hardship"}


def test_evidence_is_the_clause_around_the_cue():
    found = find_risks(normalize("今天又接到电话。公司倒闭了，我失业了。请别再打了"))
    assert found["hardship"] == "公司倒闭了"
    assert clause_spans("你好，我想问一下；还款日？") == ["你好", "我想问一下", "还款日"]


def test_self_harm_is_the_most_severe():
    severity = risk_severity()
    assert max(severity, key=severity.get) == "self_harm"
    assert ordered_flags(["evasion", "self_harm", "hardship"])[0] == "self_harm"
    assert set(severity) == set(RISK_FLAGS)


def _prf(gold: list[set], pred: list[set], flag: str | None = None) -> tuple[float, float, float]:
    pairs = [
        (g, p) if flag is None else (g & {flag}, p & {flag})
        for g, p in zip(gold, pred, strict=True)
    ]
    tp = sum(len(g & p) for g, p in pairs)
    fp = sum(len(p - g) for g, p in pairs)
    fn = sum(len(g - p) for g, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if tp else 0.0


@pytest.mark.skipif(not DEV.exists(), reason="risk dev set missing")
def test_risk_flag_quality_on_the_dev_set_with_the_model():
    """Floors a little under the measured figures (README: micro-F1 0.893, self_harm P 0.93
    R 0.98); the dev set is never used for training or for choosing thresholds."""
    from nlp.pipeline import score_texts
    from nlp.risk import load_risk_model

    if load_risk_model() is None:
        pytest.skip("no risk model installed")
    records = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    scored = score_texts([r["text"] for r in records], "default")
    gold = [set(r["risk_flags"]) for r in records]
    pred = [set(p) for p in scored["risk_flags"]]
    _, _, micro = _prf(gold, pred)
    assert micro >= 0.85, micro
    precision, recall, _ = _prf(gold, pred, "self_harm")
    assert recall >= 0.93 and precision >= 0.85, (precision, recall)


def test_the_model_reads_what_no_cue_lists_and_keeps_quiet_on_idioms():
    from nlp.risk import assess_risks, load_risk_model

    if load_risk_model() is None:
        pytest.skip("no risk model installed")
    texts = ["钱我下辈子再还你们吧，孩子就交给我妈了", "笑死我了，这客服太逗了", "困死了明天再说"]
    found = assess_risks([normalize(t) for t in texts])
    assert "self_harm" in found[0] and found[0]["self_harm"]  # with an evidence clause
    assert found[1] == {} and found[2] == {}


def test_without_the_model_the_cues_stand_alone(monkeypatch):
    from nlp.risk import assess_risks

    monkeypatch.setenv("BV_HEADS", "off")
    assert assess_risks([normalize("钱我下辈子再还你们吧")]) == [
        find_risks(normalize("钱我下辈子再还你们吧"))
    ]
