"""The aspect-polarity head: the writer's polarity toward one tactic, from the encoder features.

One multinomial logistic regression over ``[standardised features, one-hot tactic]``, trained
on every (text, tactic) pair of the hand-labelled borrower texts. It always gives the polarity
of a tactic that only a head found; it replaces the cue rules' clause polarity for the tactics
the cues found only when it is more accurate on the tuning texts' pairs by at least a point.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from nlp.labels import SENTIMENTS, TACTICS

MARGIN = 0.01


def pairs(frame: pd.DataFrame) -> list[tuple[int, str, str]]:
    """``(row position, tactic, polarity)`` for every labelled tactic of every text."""
    out = []
    for i, aspects in enumerate(frame["aspects"].tolist()):
        for tactic, polarity in (aspects or {}).items():
            if tactic in TACTICS and polarity in SENTIMENTS:
                out.append((i, tactic, polarity))
    return out


def design(x: np.ndarray, items: list[tuple[int, str, str]]) -> np.ndarray:
    """Rows of ``[features of the text, one-hot tactic]``, one per pair."""
    onehot = np.zeros((len(items), len(TACTICS)))
    for k, (_, tactic, _) in enumerate(items):
        onehot[k, TACTICS.index(tactic)] = 1.0
    return np.hstack([x[[i for i, _, _ in items]], onehot])


def train_polarity(
    encode: Callable[[list[str]], tuple[np.ndarray, np.ndarray, list]],
    fit: pd.DataFrame,
    tune: pd.DataFrame,
    standard: tuple[np.ndarray, np.ndarray],
    c: float,
) -> dict:
    """Fit the head, decide whether it also reads the cue-found tactics, and measure it."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = standard
    _, feats, _ = encode(fit["text"].tolist())
    fit_pairs = pairs(fit)
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(design((feats - mean) / scale, fit_pairs), [p for _, _, p in fit_pairs])
    order = [list(model.classes_).index(s) for s in SENTIMENTS]
    weights, bias = model.coef_[order], model.intercept_[order]
    _, tune_feats, analyses = encode(tune["text"].tolist())
    tune_pairs = pairs(tune)
    z = design((tune_feats - mean) / scale, tune_pairs) @ weights.T + bias
    head = [SENTIMENTS[k] for k in z.argmax(axis=1)]
    gold = [p for _, _, p in tune_pairs]
    ruled = [
        (k, analyses[i].aspects[t])
        for k, (i, t, _) in enumerate(tune_pairs)
        if t in analyses[i].aspects
    ]
    head_acc = float(np.mean([h == g for h, g in zip(head, gold, strict=True)])) if gold else 0.0
    rules_acc = float(np.mean([p == gold[k] for k, p in ruled])) if ruled else 0.0
    head_on_ruled = float(np.mean([head[k] == gold[k] for k, _ in ruled])) if ruled else 0.0
    return {
        "weights": weights,
        "bias": bias,
        "for_rules": head_on_ruled >= rules_acc + MARGIN,
        "report": {
            "fit_pairs": len(fit_pairs),
            "tune_pairs": len(tune_pairs),
            "tune_accuracy_head": round(head_acc, 4),
            "tune_cue_found_pairs": len(ruled),
            "tune_accuracy_rules_on_cue_found": round(rules_acc, 4),
            "tune_accuracy_head_on_cue_found": round(head_on_ruled, 4),
        },
    }
