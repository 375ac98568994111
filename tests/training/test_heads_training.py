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
    assert 0.3 < threshold <= 0.7 and figures["f1"] == 1.0


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
