"""The borrower dev set must stay apart from every training text (no near-duplicates)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "dev_borrower.jsonl"
TRAIN = sorted((ROOT / "nlp" / "train_data").glob("*.jsonl"))
_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


def _grams(text: str, n: int = 3) -> set[str]:
    s = _STRIP.sub("", text.lower())
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


def _texts(path: Path) -> list[str]:
    return [
        json.loads(line)["text"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def near_duplicates(dev: list[str], train: list[str], threshold: float = 0.7) -> list[tuple]:
    """Pairs (dev, train, jaccard) whose char-trigram Jaccard similarity >= threshold."""
    index: dict[str, set[int]] = {}
    train_grams = [_grams(t) for t in train]
    for j, grams in enumerate(train_grams):
        for g in grams:
            index.setdefault(g, set()).add(j)
    hits = []
    for text in dev:
        grams = _grams(text)
        counts: dict[int, int] = {}
        for g in grams:
            for j in index.get(g, ()):
                counts[j] = counts.get(j, 0) + 1
        for j, shared in counts.items():
            jac = shared / len(grams | train_grams[j])
            if jac >= threshold:
                hits.append((text, train[j], round(jac, 2)))
    return hits


def test_near_duplicate_detector_can_fail():
    assert near_duplicates(["催收员态度很好，谢谢"], ["催收员态度很好,谢谢!"])
    assert not near_duplicates(["催收员态度很好，谢谢"], ["天天打电话烦死了"])


@pytest.mark.skipif(not DEV.exists() or not TRAIN, reason="dev or training set missing")
def test_dev_set_has_no_near_duplicate_in_training_data():
    train = [t for path in TRAIN for t in _texts(path)]
    hits = near_duplicates(_texts(DEV), train)
    assert not hits, f"{len(hits)} dev texts near-duplicate training texts, e.g. {hits[:3]}"
