"""The borrower dev set must stay apart from every training text (no near-duplicates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.dedupe import near_duplicates

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "tests" / "data" / "dev_borrower.jsonl"
DEV_SETS = sorted((ROOT / "tests" / "data").glob("dev_borrower*.jsonl")) + sorted(
    (ROOT / "tests" / "data").glob("dev_forum*.jsonl")
)
TRAIN = sorted((ROOT / "nlp" / "train_data").rglob("*.jsonl"))  # labelled/ included


def _texts(path: Path) -> list[str]:
    """The texts of a JSONL file: each record's ``text``, or a whole call's turns of 12
    characters or more (short turns, 好的，谢谢, are common to every call)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if "turns" in record:
                out += [t["text"] for t in record["turns"] if len(t["text"]) >= 12]
            else:
                out.append(record["text"])
    return out


def test_near_duplicate_detector_can_fail():
    assert near_duplicates(["催收员态度很好，谢谢"], ["催收员态度很好,谢谢!"])
    assert not near_duplicates(["催收员态度很好，谢谢"], ["天天打电话烦死了"])


@pytest.mark.skipif(not DEV.exists() or not TRAIN, reason="dev or training set missing")
def test_dev_set_has_no_near_duplicate_in_training_data():
    train = [t for path in TRAIN for t in _texts(path)]
    hits = near_duplicates([t for path in DEV_SETS for t in _texts(path)], train)
    assert not hits, f"{len(hits)} dev texts near-duplicate training texts, e.g. {hits[:3]}"


RISK_DEV = ROOT / "tests" / "data" / "dev_risk_flags.jsonl"
CALLS_DEV = ROOT / "tests" / "data" / "dev_calls.jsonl"


@pytest.mark.skipif(not RISK_DEV.exists(), reason="risk dev set missing")
def test_risk_dev_set_has_no_near_duplicate_in_training_data():
    train = [t for path in TRAIN for t in _texts(path)]
    hits = near_duplicates(_texts(RISK_DEV), train)
    assert not hits, f"{len(hits)} risk dev texts near-duplicate training texts: {hits[:3]}"


@pytest.mark.skipif(not CALLS_DEV.exists(), reason="dev calls missing")
def test_dev_call_turns_have_no_near_duplicate_in_the_labelled_turns():
    turns = [
        turn["text"]
        for line in CALLS_DEV.read_text(encoding="utf-8").splitlines()
        if line.strip()
        for turn in json.loads(line)["turns"]
        if len(turn["text"]) >= 12  # short turns (好的，谢谢) are common to every call
    ]
    folders = ("agent_turns", "callee_turns", "calls_tune")
    train = [
        t
        for f in folders
        for path in sorted((ROOT / "nlp" / "train_data" / f).glob("*.jsonl"))
        for t in _texts(path)
    ]
    hits = near_duplicates(turns, train)
    assert not hits, f"{len(hits)} dev call turns near-duplicate training turns: {hits[:3]}"
