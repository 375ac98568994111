"""The label-head trainer's pure parts: thresholds, the sentiment mix, the labelled data."""

from __future__ import annotations

import json

import numpy as np

from training import heads as trainer
from training import sentiment_head as sh


def test_best_threshold_finds_the_cut_that_separates() -> None:
    p = np.array([0.05, 0.2, 0.3, 0.7, 0.8, 0.95])
    y = np.array([0, 0, 0, 1, 1, 1])
    threshold, figures = trainer.best_threshold(p, y)
    assert 0.45 <= threshold <= 0.55 and figures["f1"] == 1.0  # the middle of the flat best


def test_best_threshold_reports_a_miss_honestly() -> None:
    _, figures = trainer.best_threshold(np.array([0.9, 0.9]), np.array([0, 0]))
    assert figures["f1"] == 0.0


def test_the_mix_takes_the_smallest_weight_within_tolerance() -> None:
    gold = ["negative", "neutral", "positive", "neutral"]
    ensemble = np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    head = np.array([[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.1, 0.8, 0.1]])
    mix, scores = sh.choose_mix([(ensemble, head, gold)])
    assert scores[0.0] < scores[mix] and mix < 1.0
    assert all(scores[m] < scores[mix] - sh.TOLERANCE for m in scores if m < mix)


def test_labelled_frame_marks_missing_label_kinds_as_unknown(tmp_path) -> None:
    path = tmp_path / "x.jsonl"
    rows = [
        {
            "text": "a",
            "sentiment": "neutral",
            "emotions": ["anger"],
            "aspects": {"sms": "neutral"},
            "requests": [],
            "complaint": True,
        },
        {"text": "b", "emotions": [], "requests": ["privacy"], "complaint": False},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    frame = trainer.labelled_frame([path])
    assert frame.loc[0, "emotion:anger"] == 1.0 and frame.loc[0, "aspect:sms"] == 1.0
    assert frame.loc[0, "complaint"] == 1.0 and frame.loc[1, "request:privacy"] == 1.0
    assert np.isnan(frame.loc[1, "aspect:sms"])  # the second record has no aspects at all


def test_macro_f1_counts_only_classes_present_in_gold() -> None:
    assert sh.macro_f1(["positive", "negative"], ["positive", "negative"]) == 1.0
    assert sh.macro_f1(["positive", "negative"], ["neutral", "negative"]) == 0.5


def test_a_grouped_threshold_serves_the_smaller_group_too() -> None:
    # raising the cut-off above 0.4 costs the big group two of twenty positives and rids the
    # small group of its only false alarm: pooled F1 keeps the low cut, the groups' mean not
    big_p, big_y = np.array([0.6] * 18 + [0.3] * 2 + [0.1] * 20), np.array([1] * 20 + [0] * 20)
    small_p, small_y = np.array([0.9, 0.9, 0.4]), np.array([1, 1, 0])
    p, y = np.concatenate([big_p, small_p]), np.concatenate([big_y, small_y])
    groups = np.array([0] * 40 + [1] * 3)
    pooled, _ = trainer.best_threshold(p, y)
    grouped, figures = trainer.best_threshold(p, y, groups)
    assert 0.1 < pooled <= 0.3 and 0.4 < grouped <= 0.6
    assert round(figures["f1"], 3) == 0.952  # the figures stay pooled: 20 of 22 found


def test_a_text_keeps_its_fold_when_texts_are_added() -> None:
    texts = [f"第{i}条" for i in range(200)]
    before = trainer.folds(texts)
    after = trainer.folds(["新加的一条", *texts, "又一条"])[1:-1]
    assert (before == after).all() and set(before) == set(range(trainer.FOLDS))
