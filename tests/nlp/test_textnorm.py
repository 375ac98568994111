"""Tests for nlp.textnorm and nlp.segment (normalisation, tokenizer isolation, clauses)."""

from __future__ import annotations

import json
from pathlib import Path

import jieba
import pytest

from nlp.segment import get_tokenizer, split_clauses, tokenize
from nlp.textnorm import _normalize, normalize, normalize_many, to_simplified

DATA = Path(__file__).resolve().parents[1] / "data"  # the dev sets: many writers' punctuation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Traditional -> Simplified
        ("催收員態度很差，還說要打給我媽", "催收员态度很差，还说要打给我妈"),
        # full-width letters/digits -> half-width, Chinese punctuation kept
        ("ＡＰＰ裡顯示逾期１２天，利息１,０００元", "APP里显示逾期12天，利息1,000元"),
        # ASCII punctuation -> Chinese clause punctuation, but not inside numbers or times
        ("打了3,000次!真的?8:00前就打", "打了3,000次！真的？8:00前就打"),
        ("好的,谢谢", "好的，谢谢"),
        # squashed punctuation
        ("太过分了！！！！", "太过分了！"),
        ("凭什么？？？", "凭什么？"),
        ("你们有完没完？！？！", "你们有完没完？！"),
        ("唉。。。。算了……", "唉…算了…"),
        ("好吧......", "好吧…"),
        # whitespace: runs collapsed, spaces next to Chinese punctuation dropped
        ("  态度   很好 ， 谢谢\u3000\u3000 ", "态度 很好，谢谢"),
        ("第一行\r\n\r\n  第二行", "第一行\n第二行"),
        # emoji survive
        ("气死了😡😡", "气死了😡😡"),
        ("", ""),
    ],
)
def test_normalize_form(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("被cs打爆了", "被催收打爆了"),
        ("CS说要上我ZX", "催收说要上我征信"),
        ("网上的docs写得很清楚", "网上的docs写得很清楚"),  # cs inside an English word
        ("dk逾期hk困难，yq三天", "贷款逾期还款困难，逾期三天"),
        ("利西太高了", "利息太高了"),
        ("他们要爆通迅录", "他们要爆通讯录"),
        ("电话被打暴了", "电话被打爆了"),
        ("今天是换款日", "今天是还款日"),
        ("我的真信花了", "我的征信花了"),
        ("上真信了吗", "上征信了吗"),
        ("我真信了他的话", "我真信了他的话"),  # "really believed": no debt context
    ],
)
def test_shorthand_map(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("网贷预期三个月了", "网贷逾期三个月了"),
        ("预期了两天就打电话", "逾期了两天就打电话"),
        ("已经预期，征信会不会花", "已经逾期，征信会不会花"),
        ("结果比预期的好", "结果比预期的好"),
        ("效果超出预期", "效果超出预期"),
        ("预期收益很高", "预期收益很高"),
    ],
)
def test_contextual_homophone(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalize_is_idempotent() -> None:
    """`normalize` returns a text it produced before without redoing the steps, so the steps
    themselves (`_normalize`) must be idempotent, also on spaced and mixed punctuation."""
    samples = [
        "催收員態度很差！！！cs一天打爆我電話",
        "利西太高了。。。",
        "网贷预期了三天",
        "明亮… …以及",
        "充电线。 。一样的",
        "玻璃。 ...”这",
        "80. ... 好",
        "好， ，  行 ！ ！",
    ]
    for path in DATA.glob("*.jsonl"):
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        samples += [r["text"] for r in rows if isinstance(r.get("text"), str)]
    for text in samples:
        once = _normalize(text)
        assert _normalize(once) == once, text
        assert normalize(text) == once and normalize(once) == once


def test_normalize_many_and_none() -> None:
    assert normalize_many(["謝謝", "", "ok!!"]) == ["谢谢", "", "ok！"]


def test_simplified_text_skips_converter() -> None:
    text = "这是一段已经是简体的文字，包含著名的说法"
    assert to_simplified(text) == text


def test_tokenizer_is_isolated_from_global_jieba() -> None:
    tokens = tokenize("他们爆通讯录了，还说要停催")
    assert "爆通讯录" in tokens
    assert "爆通讯录" in get_tokenizer().FREQ
    assert get_tokenizer() is not jieba.dt
    # the process-wide default tokenizer never learns the domain words
    jieba.dt.initialize()
    assert jieba.dt.FREQ  # loaded, so the checks below are not vacuous
    assert "爆通讯录" not in jieba.dt.FREQ
    assert "个性化分期" not in jieba.dt.FREQ
    assert "爆通讯录" not in jieba.lcut("他们爆通讯录了")


def test_domain_words_stay_whole() -> None:
    assert "个性化分期" in tokenize("申请了个性化分期")
    assert "减免罚息" in tokenize("能不能减免罚息")
    assert tokenize("马上征信就有记录")[:2] == ["马上", "征信"]
    assert tokenize("") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "态度挺好就是打得太频繁了！能不能少打点？",
            ["态度挺好", "就是打得太频繁了！", "能不能少打点？"],
        ),
        ("服务不错但是利息太高", ["服务不错", "但是利息太高"]),
        ("虽然利息高，可是客服很耐心。", ["虽然利息高", "可是客服很耐心。"]),
        ("态度好 不过打得多\n第二行", ["态度好", "不过打得多", "第二行"]),
        ("谢谢；再见,拜拜!", ["谢谢", "再见", "拜拜"]),
        # markers that do not open a clause
        ("这就是催收吗？", ["这就是催收吗？"]),
        ("我只是想分期", ["我只是想分期"]),
        ("他们不但骂人还威胁", ["他们不但骂人还威胁"]),
        ("这不过分吗", ["这不过分吗"]),
        ("", []),
    ],
)
def test_split_clauses(text: str, expected: list[str]) -> None:
    assert split_clauses(text) == expected
