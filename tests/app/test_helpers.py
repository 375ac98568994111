"""The UI helper modules without a page: cached queries (one cache per query, keyed by the
arguments, cleared by ``data_changed``), safe HTML, display formatting.

The store is a real DuckDB file with a small demo dataset scored by the lexicon backend.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from data.queries import Filters


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("helpers") / "bv.duckdb"
    mp.setenv("BV_SENTIMENT_MODEL", "lexicon")
    from data.demo_loader import ensure_demo
    from data.store import open_store

    ensure_demo(open_store(path), model="lexicon", n_surveys=200, n_calls=10)
    mp.undo()
    return path


@pytest.fixture
def cache(demo_db, monkeypatch):
    monkeypatch.setenv("BV_DB_PATH", str(demo_db))
    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    st.cache_data.clear()
    st.cache_resource.clear()
    from pages import _cache

    yield _cache
    st.cache_data.clear()


# --------------------------------------------------------------------------- cached queries
def test_a_cached_query_has_the_query_signature_without_the_store(cache):
    params = inspect.signature(cache.records).parameters
    assert next(iter(params)) == "f" and "complaint_only" in params
    assert "store" not in inspect.signature(cache.kpis).parameters


def test_results_are_cached_per_query_and_per_argument(cache):
    f = Filters()
    first = cache.kpis(f)
    assert first["current"]["n"] == 200 + 12  # the generated answers + the planted journeys
    assert cache.kpis(f) == first
    assert isinstance(cache.sentiment_by_tactic(f), pd.DataFrame)  # not kpis' cache entry
    few = cache.records(f, limit=3)
    assert len(few) == 3 and len(cache.records(f, limit=5)) == 5
    only_complaints = cache.records(f, complaint_only=True)
    assert only_complaints["complaint"].all()
    no_reviews = cache.kpis(replace(f, use_reviews=False))
    assert no_reviews["current"]["n"] == 200 + 12


def test_data_changed_recomputes_the_cached_queries(cache):
    from data import reviews

    f = Filters()
    before = cache.kpis(f)["current"]["complaint_rate"]
    flagged = cache.records(f, complaint_only=True, limit=50)
    assert len(flagged)
    for rid in flagged["response_id"]:
        reviews.add_review(cache.store(), "response", rid, "qa-1", "false_positive")
    assert cache.kpis(f)["current"]["complaint_rate"] == before  # still the cached value
    cache.data_changed()
    assert cache.kpis(f)["current"]["complaint_rate"] < before


# --------------------------------------------------------------------------- html and format
def test_escape_makes_markup_inert():
    from pages._html import escape

    out = escape("<b>x</b> [a](javascript:1)\n**y**")
    assert "<" not in out.replace("<br>", "") and "[" not in out and "*" not in out
    assert out.count("<br>") == 1


def test_clause_tints_use_the_feedback_polarity_threshold(monkeypatch):
    from nlp.feedback import POLARITY_THRESHOLD
    from pages import _html

    assert _html._polarity(POLARITY_THRESHOLD) == "neutral"
    assert _html._polarity(-POLARITY_THRESHOLD) == "neutral"
    assert _html._polarity(POLARITY_THRESHOLD + 0.01) == "positive"
    assert _html._polarity(-POLARITY_THRESHOLD - 0.01) == "negative"
    markup = _html.highlighted_text("<script>催收天天打电话骚扰我</script>")
    assert "<script" not in markup and "负面" in markup


def test_formatting_shows_a_dash_for_missing_values():
    from pages import _format as fmt

    assert (fmt.integer(None), fmt.percent(float("nan")), fmt.decimal(None)) == ("—",) * 3
    assert (fmt.integer(1234.0), fmt.percent(0.1234), fmt.decimal(3.14159)) == (
        "1,234",
        "12.3%",
        "3.14",
    )
    assert fmt.delta({"x": 0.3}, {"x": 0.25}, "x") == "+5.0 个百分点"
    assert fmt.delta({"n": 10.0}, {}, "n", pct=False) is None
    assert fmt.zh_aspects('{"home_visit": "negative"}').endswith(":负面")


def test_call_facts_name_the_party_and_the_callees_risk_flags():
    from pages._format import call_facts

    assert call_facts({"party": "wrong_number", "risk_flags": []}) == "接听方：打错电话"
    line = call_facts({"party": "borrower", "risk_flags": ["self_harm", "hardship"]})
    assert line == "接听方：借款人本人 · 借款人风险：自伤/轻生、经济困难"
    assert call_facts({"party": None, "risk_flags": None}) == "接听方：未判断"


def test_heads_caption_says_which_sentiment_weight_is_used():
    from pages._format import heads_card_caption

    card = {
        "version": "v1",
        "data": {"labelled_texts": 100, "tuning_texts": 20, "weibo_train": 50},
        "sentiment_head": {"mix": 0.6, "finfe_heldout": {"without_head": 0.43, "with_head": 0.59}},
    }
    assert "情感头混合权重 0.6" in heads_card_caption(card)
    card["sentiment_head"]["weibo_heldout_3class"] = {"without_head": 0.52, "with_head": 0.58}
    assert "微博留出集三分类 0.520 → 0.580" in heads_card_caption(card)
    assert "Macro-F1 0.430 → 0.590" in heads_card_caption(card)
    card["sentiment_head"]["mix_used"] = 0.0
    caption = heads_card_caption(card)
    assert "未混入" in caption and "混合权重" not in caption
    card["data"] |= {"folds": 5, "labelled_texts": 8000, "tuning_texts": 8200}
    assert "训练 8,000 条借款人标注文本" in heads_card_caption(card)
    assert "5 折交叉的折外 F1（8,200 条" in heads_card_caption(card)
    assert "（折外概率选出的权重为 0.6）" in heads_card_caption(card)  # mix_used is 0 here
