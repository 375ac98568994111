"""Train the character n-gram TF-IDF + logistic-regression ensemble member.

``python -m nlp train-tfidf`` rebuilds ``nlp/model/tfidf.npz`` from the same corpora as the
transformer (about a minute); the runtime (``nlp.tfidf.TfidfModel``) only loads it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp.tfidf import MODEL_PATH, TfidfModel, make_vectorizer
from training.finetune import DEFAULT_SHARED, LABEL_ID, training_frame


def fit_tfidf(texts: Sequence[str], labels: Sequence[int], c: float = 4.0) -> TfidfModel:
    """Fit on normalised texts with labels 0/1/2 (negative/neutral/positive)."""
    from sklearn.linear_model import LogisticRegression

    vec = make_vectorizer()
    x = vec.fit_transform(texts)
    clf = LogisticRegression(C=c, max_iter=3000).fit(x, np.asarray(labels))
    if len(clf.classes_) != 3:
        raise ValueError("training data must hold all three classes")
    return TfidfModel.from_vectorizer(vec, clf.coef_, clf.intercept_)


def main_train_tfidf(argv: list[str] | None = None) -> int:
    """``python -m nlp train-tfidf``: rebuild nlp/model/tfidf.npz from the corpora (~1 min)."""
    ap = argparse.ArgumentParser(prog="python -m nlp train-tfidf")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    args = ap.parse_args(argv)
    frame = training_frame(shared=args.shared)
    model = fit_tfidf(frame["norm"].tolist(), frame["label"].map(LABEL_ID).tolist())
    model.save(args.out)
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {len(frame):,} rows)")
    return 0
