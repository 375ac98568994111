"""The sentiment head: a 3-class logistic regression on the encoder features, mixed with the
ensemble's probabilities to give the product a real neutral class.

The fine-tuned encoder learnt three classes mostly from binary review corpora, so it calls
matter-of-fact finance talk (repayment dates, fees, procedures) emotional. The head learns
neutral from the hand-labelled borrower texts and the FinFE finance-forum posts
(``../shared/corpora/finfe_stock_forum_train.csv``: 70% train, 10% tuning, 20% held out for
our own check). The mixing weight is chosen on the tuning texts by macro-F1, never on a dev set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from nlp.labels import SENTIMENTS

FINFE_FILE = "finfe_stock_forum_train.csv"
MIXES = tuple(round(x, 2) for x in np.arange(0.0, 1.01, 0.1))
TOLERANCE = 0.005  # tuning gains this small are noise: take the smallest mix within it


def finfe_splits(shared, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(train, tune, held out)`` FinFE posts with ``text`` and ``sentiment``."""
    path = shared / FINFE_FILE
    if not path.exists():
        empty = pd.DataFrame(columns=["text", "sentiment"])
        return empty, empty, empty
    raw = pd.read_csv(path).dropna(subset=["text"])
    frame = pd.DataFrame({"text": raw["text"].astype(str), "sentiment": raw["label"]})
    held = frame.sample(frac=0.2, random_state=seed)
    rest = frame.drop(held.index)
    tune = rest.sample(frac=0.125, random_state=seed)
    return rest.drop(tune.index), tune, held


SMP_FILE = "smp2020_ewect_virus_train.csv"
SMP_SENTIMENT = {
    "happy": "positive",
    "angry": "negative",
    "sad": "negative",
    "fear": "negative",
    "neutral": "neutral",
}  # surprise has no sentiment and is left out


def smp_split(shared, seed: int, holdout: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, held out)`` SMP2020-EWECT Weibo posts with ``text`` and the six-way ``label``:
    the one split the label heads and the sentiment head's check share."""
    path = shared / SMP_FILE
    if not path.exists():
        empty = pd.DataFrame(columns=["text", "label"])
        return empty, empty
    raw = pd.read_csv(path).dropna(subset=["text"])
    raw = raw.assign(text=raw["text"].astype(str))[["text", "label"]]
    held = raw.sample(frac=holdout, random_state=seed)
    return raw.drop(held.index), held


def smp_sentiment(posts: pd.DataFrame) -> pd.DataFrame:
    """Weibo posts with a 3-class ``sentiment`` (``SMP_SENTIMENT``; 'surprise' left out): real
    posts with a real neutral class that no sentiment weight is fitted on."""
    kept = posts[posts["label"].isin(SMP_SENTIMENT)]
    return pd.DataFrame({"text": kept["text"], "sentiment": kept["label"].map(SMP_SENTIMENT)})


def macro_f1(gold: list[str], pred: list[str]) -> float:
    """Macro-F1 over the three sentiment classes present in ``gold``."""
    scores = []
    for label in SENTIMENTS:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=True))
        if tp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit(x: np.ndarray, y: list[str], c: float) -> tuple[np.ndarray, np.ndarray]:
    """``(weights (3, dim), bias (3,))`` of a balanced multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    model.fit(x, [SENTIMENTS.index(v) for v in y])
    return model.coef_, model.intercept_


def choose_mix(
    groups: list[tuple[np.ndarray, np.ndarray, list[str]]],
) -> tuple[float, dict[float, float]]:
    """The head's weight in the mix with the best mean tuning macro-F1 over the groups
    (borrower texts, finance forum, product reviews: no one domain decides). Within
    ``TOLERANCE`` of the best, the smallest weight wins: the least change for the same gain. Each group is ``(ensemble probs, head probs, gold)``."""
    scores = {}
    for mix in MIXES:
        per_group = []
        for ensemble, head, gold in groups:
            probs = (1 - mix) * ensemble + mix * head
            per_group.append(macro_f1(gold, [SENTIMENTS[i] for i in probs.argmax(axis=1)]))
        scores[mix] = round(float(np.mean(per_group)), 4)
    best = max(scores.values())
    return min(m for m, v in scores.items() if v >= best - TOLERANCE), scores


def review_splits(shared, seed: int, n: int = 1500) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, tune)`` product reviews (binary: negative / positive) from the review corpus,
    so the head does not forget what the ensemble knows about reviews."""
    path = shared / "online_shopping_10_cats.csv"
    if not path.exists():
        empty = pd.DataFrame(columns=["text", "sentiment"])
        return empty, empty
    raw = pd.read_csv(path).dropna(subset=["review"]).sample(n=n, random_state=seed)
    frame = pd.DataFrame(
        {
            "text": raw["review"].astype(str),
            "sentiment": raw["label"].map({0: "negative", 1: "positive"}),
        }
    )
    tune = frame.sample(frac=1 / 3, random_state=seed)
    return frame.drop(tune.index), tune


def evaluate(
    probs_of: Callable[[float], np.ndarray], gold: list[str], mix: float
) -> dict[str, float]:
    """Macro-F1 without the head (mix 0) and with the chosen mix."""

    def f1(m: float) -> float:
        return round(macro_f1(gold, [SENTIMENTS[i] for i in probs_of(m).argmax(axis=1)]), 4)

    return {"without_head": f1(0.0), "with_head": f1(mix)}
