"""The borrower dev set must stay apart from every training text (no near-duplicates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.dedupe import near_duplicates

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "dev_borrower.jsonl"
DEV_SETS = sorted((ROOT / "tests" / "data").glob("dev_borrower*.jsonl"))
TRAIN = sorted((ROOT / "nlp" / "train_data").rglob("*.jsonl"))  # labelled/ included


def _texts(path: Path) -> list[str]:
    return [
        json.loads(line)["text"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_near_duplicate_detector_can_fail():
    assert near_duplicates(["催收员态度很好，谢谢"], ["催收员态度很好,谢谢!"])
    assert not near_duplicates(["催收员态度很好，谢谢"], ["天天打电话烦死了"])


@pytest.mark.skipif(not DEV.exists() or not TRAIN, reason="dev or training set missing")
def test_dev_set_has_no_near_duplicate_in_training_data():
    train = [t for path in TRAIN for t in _texts(path)]
    hits = near_duplicates([t for path in DEV_SETS for t in _texts(path)], train)
    assert not hits, f"{len(hits)} dev texts near-duplicate training texts, e.g. {hits[:3]}"
