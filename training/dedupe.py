"""``python -m training.dedupe``: keep the dev sets apart from the training texts.

Drops from ``nlp/train_data/labelled/*.jsonl`` every text whose character-trigram Jaccard
similarity with a dev text (``tests/data/dev_borrower*.jsonl``) reaches 0.7: short common
phrases (谢谢理解, 已还，请查收) get written by a training writer and a dev writer alike.
``tests/nlp/test_data_separation.py`` fails when one slips through.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = sorted((ROOT / "tests" / "data").glob("dev_borrower*.jsonl"))
LABELLED = ROOT / "nlp" / "train_data" / "labelled"
_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


def grams(text: str, n: int = 3) -> set[str]:
    """Character n-grams of the text without spaces and punctuation, lower-cased."""
    s = _STRIP.sub("", text.lower())
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


def near_duplicates(dev: list[str], train: list[str], threshold: float = 0.7) -> list[tuple]:
    """Pairs (dev, train, jaccard) whose char-trigram Jaccard similarity >= threshold."""
    index: dict[str, set[int]] = {}
    train_grams = [grams(t) for t in train]
    for j, gs in enumerate(train_grams):
        for g in gs:
            index.setdefault(g, set()).add(j)
    hits = []
    for text in dev:
        gs = grams(text)
        counts: dict[int, int] = {}
        for g in gs:
            for j in index.get(g, ()):
                counts[j] = counts.get(j, 0) + 1
        for j, shared in counts.items():
            jac = shared / len(gs | train_grams[j])
            if jac >= threshold:
                hits.append((text, train[j], round(jac, 2)))
    return hits


def texts(path: Path) -> list[str]:
    """The ``text`` of every record of a JSONL file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def main(argv: list[str] | None = None) -> int:
    dev = [t for path in DEV_SETS for t in texts(path)]
    dropped = 0
    for path in sorted(LABELLED.glob("*.jsonl")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        records = [json.loads(line)["text"] for line in lines]
        clash = {train for _, train, _ in near_duplicates(dev, records)}
        kept = [line for line, text in zip(lines, records, strict=True) if text not in clash]
        if len(kept) != len(lines):
            path.write_text("\n".join(kept) + "\n", encoding="utf-8")
            dropped += len(lines) - len(kept)
            print(f"{path.name}: dropped {len(lines) - len(kept)}", file=sys.stderr)
    print(f"dropped {dropped} training texts that near-duplicate a dev text", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
