"""Fitting an adaptation: the domain gate, the sentiment layer and the label heads.

Everything here works on arrays (encoder features, base probabilities, 0/1 label columns) so
it can be tested without the encoder; :mod:`nlp.adapt.build` feeds it.

The sentiment layer's settings (regularisation, the n-gram member's share, the mix) are
chosen by 4-fold cross-validation on the customer's training rows, by macro-F1 of what the
product would output; within ``TOLERANCE`` of the best, the smaller mix wins (the least
change for the same gain). The label heads (logistic regressions on the base heads' character
n-gram rows plus the rule hit) are refitted on a sample of the shipped heads' own borrower
texts plus the customer's rows (weighted to count as much), and each threshold is chosen on
the borrower tuning texts plus the customer rows' out-of-fold probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from nlp.adapt.model import SentimentLayer
from nlp.heads import Heads
from nlp.labels import SENTIMENTS

CS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.3)
SHARES = (1.0, 0.8, 0.6, 0.4)
MIXES = tuple(round(m, 1) for m in np.arange(0.0, 1.01, 0.1))
TOLERANCE = 0.005
FOLDS = 4
GATE_C = 0.1
SEED = 13
KEEP_MARGIN = 0.02  # a refitted label head may lose this much F1 on the borrower tuning texts

Step = Callable[[str], None]


def macro_f1(gold: np.ndarray, probs: np.ndarray) -> float:
    """Macro-F1 over the classes present in ``gold`` (class indices) of ``argmax(probs)``."""
    pred = probs.argmax(axis=1)
    scores = []
    for k in range(probs.shape[1]):
        tp = int(((gold == k) & (pred == k)).sum())
        fp = int(((gold != k) & (pred == k)).sum())
        fn = int(((gold == k) & (pred != k)).sum())
        if tp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def _logistic(c: float, balanced: bool = True):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)


def fit_gate(anchor_x: np.ndarray, customer_x: np.ndarray) -> tuple[np.ndarray, float]:
    """A logistic regression telling the customer's texts (1) from the borrower texts (0),
    on standardised features: ``(weights, bias)``."""
    model = _logistic(GATE_C).fit(
        np.vstack([anchor_x, customer_x]),
        np.r_[np.zeros(len(anchor_x)), np.ones(len(customer_x))],
    )
    return model.coef_[0], float(model.intercept_[0])


def _ngram(texts: list[str], y: np.ndarray):
    """A character 1-3-gram TF-IDF + logistic regression on the customer's own texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nlp.tfidf import TfidfModel

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x = vec.fit_transform(texts)
    clf = _logistic(4.0).fit(x, y)
    return TfidfModel.from_vectorizer(vec, clf.coef_, clf.intercept_)


def _head(design: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    model = _logistic(c).fit(design, y)
    return model.coef_, model.intercept_


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def fit_sentiment_layer(
    texts: list[str],
    probs: np.ndarray,
    features: np.ndarray,
    labels: list[str],
    gate: tuple[np.ndarray, float],
    standard: tuple[np.ndarray, np.ndarray],
    *,
    ngram: bool = True,
    step: Step | None = None,
) -> tuple[SentimentLayer, dict]:
    """Fit the sentiment layer on the customer's training rows.

    Args:
        texts: the rows' normalised texts (for the n-gram member).
        probs: ``(rows, 3)`` the base model's probabilities.
        features: ``(rows, dim)`` encoder features.
        labels: the rows' gold sentiment.
        gate: the domain gate (:func:`fit_gate`).
        standard: the feature ``(mean, scale)``.
        ngram: also learn the character n-gram member.

    Returns:
        The layer and a report (chosen settings, cross-validated macro-F1 before/after).
    """
    from sklearn.model_selection import StratifiedKFold

    mean, scale = standard
    y = np.asarray([SENTIMENTS.index(v) for v in labels])
    x = (features - mean) / scale
    design = np.hstack([x, np.log(np.clip(probs, 1e-4, 1.0))])
    g = 1.0 / (1.0 + np.exp(-np.clip(x @ gate[0] + gate[1], -30, 30)))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    head_oof = {c: np.zeros((len(y), 3)) for c in CS}
    ngram_oof = np.zeros((len(y), 3))
    for k, (a, b) in enumerate(folds.split(design, y)):
        if step:
            step(f"交叉验证 {k + 1}/{FOLDS}")
        for c in CS:
            w, bias = _head(design[a], y[a], c)
            head_oof[c][b] = _softmax(design[b] @ w.T + bias)
        if ngram:
            ngram_oof[b] = _ngram([texts[i] for i in a], y[a]).predict_proba([texts[i] for i in b])
    before = macro_f1(y, probs)
    tried = [(before, 0.0, CS[0], 1.0)]  # (score, mix, c, share): mix 0 = the base unchanged
    for c in CS:
        for share in SHARES if ngram else (1.0,):
            learnt = share * head_oof[c] + (1 - share) * ngram_oof
            for mix in MIXES[1:]:
                gm = (mix * g)[:, None]
                tried.append((macro_f1(y, (1 - gm) * probs + gm * learnt), mix, c, share))
    top = max(t[0] for t in tried)
    best = min((t for t in tried if t[0] >= top - TOLERANCE), key=lambda t: (t[1], -t[0]))
    score, mix, c, share = best
    if step:
        step("拟合情感层")
    w, bias = _head(design, y, c)
    layer = SentimentLayer(
        mean=mean,
        scale=scale,
        gate_weights=np.asarray(gate[0]),
        gate_bias=float(gate[1]),
        head_weights=w,
        head_bias=bias,
        mix=float(mix),
        head_share=float(share),
        ngram=_ngram(texts, y) if ngram and share < 1.0 and mix > 0 else None,
    )
    report = {
        "mix": mix,
        "c": c,
        "head_share": share,
        "cv_macro_f1_before": round(before, 4),
        "cv_macro_f1_after": round(score, 4),
        "mean_gate_on_fit_rows": round(float(g.mean()), 3),
        "fit_rows": len(y),
    }
    return layer, report


def best_threshold(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The cut-off in 0.10..0.99 with the highest F1 of ``p >= t`` against ``y``, and the F1."""
    best = (0.5, -1.0)
    for t in np.arange(0.10, 0.991, 0.01):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        fp = float((pred & (y == 0)).sum())
        fn = float((~pred & (y == 1)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best[1]:
            best = (round(float(t), 2), f1)
    return best


def _fit_binary(x, y: np.ndarray, w: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """A balanced L2 logistic regression on sparse rows (liblinear: 5-15x faster than lbfgs
    on 100,000 n-gram columns, same objective up to the intercept's penalty)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", solver="liblinear")
    model.fit(x, y, sample_weight=w)
    return model.coef_[0], float(model.intercept_[0])


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp = float((pred & (y == 1)).sum())
    wrong = float((pred & (y == 0)).sum() + (~pred & (y == 1)).sum())
    return 2 * tp / (2 * tp + wrong) if tp else 0.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _anchor_sample(labels: np.ndarray, limit: int, rng) -> np.ndarray:
    """Rows with a known label: all of them, or (over ``limit``) every positive up to half
    the limit and negatives for the rest."""
    known = np.flatnonzero(~np.isnan(labels))
    if len(known) <= limit:
        return known
    pos, neg = known[labels[known] == 1], known[labels[known] == 0]
    pos = rng.choice(pos, min(len(pos), limit // 2), replace=False)
    neg = rng.choice(neg, min(len(neg), limit - len(pos)), replace=False)
    return np.sort(np.concatenate([pos, neg]))


def fit_label_heads(
    base: Heads,
    names: list[str],
    anchor: tuple,
    anchor_tune: tuple,
    customer: tuple,
    *,
    anchor_limit: int = 8000,
    step: Step | None = None,
) -> tuple[Heads, dict]:
    """Refit the heads ``names`` on borrower texts plus the customer's rows.

    Each triple is ``(n-gram rows, rule hits, labels)``: the texts' TF-IDF rows in the base
    heads' vocabulary (``nlp.ngrams.tfidf_rows``, sparse), and a column per name in ``names``
    of rule hits and of labels (NaN where unknown). The customer's rows together weigh as much
    as the borrower rows. A refitted head replaces the base's only when it is at least as good
    on the customer's rows (out of fold) and loses at most ``KEEP_MARGIN`` F1 on the borrower
    tuning texts; the other heads of ``base`` are kept as they are, and a name the base lacks
    is added. The vocabulary stays the base's, so the kept heads read the same rows.

    Returns:
        The new heads and a report per head.
    """
    from scipy.sparse import csr_matrix, hstack, vstack

    rng = np.random.default_rng(SEED)
    c = float(base.card.get("regularisation_c", 10.0))
    index = {n: i for i, n in enumerate(base.names)}
    weights, bias, thresholds = list(base.weights), list(base.bias), list(base.thresholds)
    out_names = list(base.names)
    report = {}
    for j, name in enumerate(names):
        if step:
            step(f"标签头 {j + 1}/{len(names)}：{name}")

        def rows(part: tuple, idx: np.ndarray, j: int = j):
            return hstack([part[0][idx], csr_matrix(part[1][idx, j : j + 1])]).tocsr()

        a_idx = _anchor_sample(anchor[2][:, j], anchor_limit, rng)
        c_idx = np.flatnonzero(~np.isnan(customer[2][:, j]))
        t_idx = np.flatnonzero(~np.isnan(anchor_tune[2][:, j]))
        xa, ya = rows(anchor, a_idx), anchor[2][a_idx, j]
        xc, yc = rows(customer, c_idx), customer[2][c_idx, j]
        share = max(1.0, len(a_idx) / max(1, len(c_idx)))
        # out-of-fold probabilities on the customer rows (two folds) for the threshold
        fold = rng.permutation(len(c_idx)) % 2
        oof = np.zeros(len(c_idx))
        for k in (0, 1):
            train, held = fold != k, fold == k
            w_, b_ = _fit_binary(
                vstack([xa, xc[train]]),
                np.r_[ya, yc[train]],
                np.r_[np.ones(len(ya)), np.full(int(train.sum()), share)],
                c,
            )
            oof[held] = _sigmoid(xc[held] @ w_ + b_)
        w_, b_ = _fit_binary(
            vstack([xa, xc]), np.r_[ya, yc], np.r_[np.ones(len(ya)), np.full(len(yc), share)], c
        )
        xt, yt = rows(anchor_tune, t_idx), anchor_tune[2][t_idx, j]
        p_tune = np.maximum(_sigmoid(xt @ w_ + b_), anchor_tune[1][t_idx, j])
        p_cust = np.maximum(oof, customer[1][c_idx, j])  # a rule hit stands
        threshold, _ = best_threshold(np.r_[p_tune, p_cust], np.r_[yt, yc])
        figures = {
            "customer_f1": _f1(p_cust >= threshold, yc),
            "borrower_tune_f1": _f1(p_tune >= threshold, yt),
        }
        if name in index:  # the base head on the same rows: the refit must not lose
            i = index[name]

            def base_says(x, hits, idx, i=i, j=j):
                p = _sigmoid(x @ base.weights[i] + base.bias[i])
                return (p >= base.thresholds[i]) | (hits[idx, j] > 0)

            before = {
                "customer_f1": _f1(base_says(xc, customer[1], c_idx), yc),
                "borrower_tune_f1": _f1(base_says(xt, anchor_tune[1], t_idx), yt),
            }
            keep = figures["customer_f1"] >= before["customer_f1"] and (
                figures["borrower_tune_f1"] >= before["borrower_tune_f1"] - KEEP_MARGIN
            )
        else:
            before, keep = {}, True
        report[name] = {
            "customer_rows": len(c_idx),
            "customer_positives": int(yc.sum()),
            "threshold": threshold,
            "refit": {k: round(v, 4) for k, v in figures.items()},
            "base": {k: round(v, 4) for k, v in before.items()},
            "kept": keep,
        }
        if not keep:
            continue
        if name in index:
            i = index[name]
            weights[i], bias[i], thresholds[i] = w_, b_, threshold
        else:
            out_names.append(name)
            weights.append(w_)
            bias.append(b_)
            thresholds.append(threshold)
    heads = replace(
        base,
        names=tuple(out_names),
        weights=np.asarray(weights),
        bias=np.asarray(bias),
        thresholds=np.asarray(thresholds),
    )
    return heads, report
