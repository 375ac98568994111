"""Tests for nlp.lexicon.LexiconModel on hand-written borrower feedback."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.labels import SENTIMENTS
from nlp.lexicon import LexiconModel, load_lexicon


@pytest.fixture(scope="module")
def model() -> LexiconModel:
    return LexiconModel()


def test_published_lexicons_are_loaded() -> None:
    data = load_lexicon()
    assert "zh_common_HowNet" in data.sources
    assert "zh_common_NTUSD" in data.sources
    assert len(data.words) > 5000
    assert data.words["耐心"] > 0 and data.words["骚扰"] < 0  # domain entries present
    assert "发展" not in data.words  # very common published entries are filtered out


def test_proba_shape_and_sums(model: LexiconModel) -> None:
    texts = ["态度很好", "", "今天收到还款提醒", "烦死了！！！", "催收員很有耐心"]
    probs = model.predict_proba(texts)
    assert probs.shape == (5, 3)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (probs >= 0).all()
    assert model.predict_proba("态度很好").shape == (3,)
    assert model.predict_proba([]).shape == (0, 3)
    assert model.labels == SENTIMENTS


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # plain praise and complaint
        ("催收员很有耐心，谢谢", "positive"),
        ("客服通情达理，帮我申请了停催", "positive"),
        ("态度恶劣，说话难听", "negative"),
        ("天天打电话，烦死了", "negative"),
        # factual, questions, lukewarm
        ("今天接到了还款提醒", "neutral"),
        ("逾期三天了，今天接到电话", "neutral"),
        ("我想问一下怎么还款？", "neutral"),
        ("能不能分期？", "neutral"),
        ("态度还行", "neutral"),
        ("一般般吧", "neutral"),
        ("凑合", "neutral"),
        ("好的", "neutral"),
        # negation
        ("没有威胁我", "positive"),
        ("他们没爆通讯录", "positive"),
        ("一点也不专业", "negative"),
        ("很不满意", "negative"),
        ("别骚扰我家人", "negative"),  # an imperative keeps a negative word negative
        # contrast and concession
        ("态度挺好，但是一天打二十个电话", "negative"),
        ("虽然利息高，但是服务不错", "positive"),
        # sarcasm
        ("服务真好，一天打二十个电话", "negative"),
        ("真是“贴心”啊", "negative"),
        ("「服务真好」", "negative"),
        ("呵呵，你们可真专业", "negative"),
        # rhetorical question
        ("你们凭什么爆我通讯录？", "negative"),
        # traditional input and shorthand
        ("催收員態度很好，謝謝", "positive"),
        ("cs天天打爆我电话", "negative"),
    ],
)
def test_labels(model: LexiconModel, text: str, label: str) -> None:
    assert model.predict([text]) == [label]


def test_factual_text_is_confidently_neutral(model: LexiconModel) -> None:
    neg, neu, pos = model.predict_proba(["收到短信提示逾期，金额三千元"])[0]
    assert neu > 0.7
    assert abs(neg - pos) < 1e-9


def test_clause_polarity(model: LexiconModel) -> None:
    assert model.clause_polarity("态度很好") > 0.5
    assert model.clause_polarity("态度很差") < -0.5
    assert model.clause_polarity("收到短信") == 0.0
    # degree adverbs scale, negation after a degree softens
    assert model.clause_polarity("非常耐心") > model.clause_polarity("有点耐心") > 0
    assert 0 < model.clause_polarity("不是很差") < 0.5
    assert -0.5 < model.clause_polarity("不太好") < 0
    for clause in ["太过分了", "好烦啊", "没人性", "一天打二十多个电话"]:
        assert -1.0 <= model.clause_polarity(clause) < -0.3


def test_contrast_clause_weighs_more(model: LexiconModel) -> None:
    after = model.predict_proba(["利息有点高，但是客服很耐心"])[0]
    before = model.predict_proba(["客服很耐心，但是利息太高了"])[0]
    assert after[2] > after[0]
    assert before[0] > before[2]


def test_score_clauses_reports_weights(model: LexiconModel) -> None:
    scored = model.score_clauses("虽然利息高，但是服务不错")
    assert [c.text for c in scored] == ["虽然利息高", "但是服务不错"]
    assert [c.weight for c in scored] == [0.5, 2.0]
