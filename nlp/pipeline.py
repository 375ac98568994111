"""The one batch scorer: a DataFrame of texts in, the same rows with label columns out.

It serves the app, the ingest path, the CLI and the Ray job alike.

Example:
    >>> import pandas as pd
    >>> out = score_frame(pd.DataFrame({"text": ["没有联系我家人，谢谢"]}), model="lexicon")
    >>> sorted(out.columns)[:3]
    ['aspects', 'complaint', 'complaint_reasons']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from nlp.heads import Heads
from nlp.sentiment import SentimentBackend, get_backend, probs_to_labels

LABEL_COLUMNS = (
    "sentiment",
    "sentiment_score",
    "aspects",
    "emotions",
    "complaint",
    "complaint_reasons",
    "requests",
    "risk_flags",
    "risk_evidence",
    "model",
)

Progress = Callable[[int, int], None]


def resolve_model(model: str | None) -> str:
    """The configured model name when none is given."""
    if model:
        return model
    from nlp.config import nlp_config

    return nlp_config().sentiment_model


def _clause_polarities(
    backend: SentimentBackend, norm: list[str], doc_scores: np.ndarray
) -> Callable[[list[str]], list[float]]:
    """Clause-level polarity for the rule layer, one batch per call.

    Clauses are scored by the backend's ``clause_backend`` when it has one (the default
    ensemble uses its TF-IDF + lexicon members there: on the dev set that is both 4x faster and
    more accurate on aspect polarity, 0.776 vs 0.755), else by the backend itself. A clause
    that is a whole text reuses that text's document score.
    """
    from nlp.lexicon import LexiconModel

    if backend.model_id == "lexicon":
        lexicon = LexiconModel()
        return lambda clauses: [lexicon.clause_polarity(c) for c in clauses]
    known: dict[str, float] = dict(zip(norm, doc_scores.tolist(), strict=True))
    scorer = getattr(backend, "clause_backend", backend)

    def batch(clauses: list[str]) -> list[float]:
        todo = sorted({c for c in clauses if c not in known})
        if todo:
            probs = scorer.predict_proba(todo)
            known.update(zip(todo, (probs[:, 2] - probs[:, 0]).tolist(), strict=True))
        return [known[c] for c in clauses]

    return batch


def score_texts(
    texts: Sequence[str],
    model: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Score raw texts; one row per text with the label columns plus ``confidence``.

    Each text is normalised once and split into clauses once; the rule layer runs once; texts
    that normalise alike are scored once (a text's labels depend on the text alone).
    """
    return score_texts_with_features(texts, model, progress)[0]


def score_texts_with_features(
    texts: Sequence[str],
    model: str | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """:func:`score_texts` plus the encoder features of each text (``None`` when the backend
    gives none), for callers that run more heads on them (the call heads)."""
    from nlp.textnorm import normalize_many

    name = resolve_model(model)
    backend = get_backend(name)
    raw = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]
    norm = normalize_many(raw)
    if not raw:
        return pd.DataFrame(columns=[*LABEL_COLUMNS, "confidence"]), None
    unique = list(dict.fromkeys(norm))
    if len(unique) == len(norm):
        return _score_normalised(norm, backend, progress)
    scored, features = _score_normalised(unique, backend, progress)
    position = {text: i for i, text in enumerate(unique)}  # once: per text it was O(n²)
    rows = [position[t] for t in norm]
    return (
        scored.iloc[rows].reset_index(drop=True),
        features[rows] if features is not None else None,
    )


def _score_normalised(
    norm: list[str], backend: SentimentBackend, progress: Progress | None
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """:func:`score_texts` for distinct, already normalised texts."""
    from nlp.feedback import analyze_clause_lists, split_texts
    from nlp.heads import load_heads
    from nlp.risk import assess_risks

    encode = getattr(backend, "encode", None)
    probs, features = (
        encode(norm, progress) if encode else (backend.predict_proba(norm, progress), None)
    )
    heads = (
        (getattr(backend, "heads", None) or load_heads())  # an adapted version brings its own
        if backend.model_id not in RULE_ONLY_BACKENDS
        else None
    )
    if heads is not None and features is None:  # a customer's own sentiment model
        features = _default_features(norm)
        heads = heads if features is not None else None
    labels, scores = probs_to_labels(probs)
    clause_lists = split_texts(norm)
    # with a polarity head every tactic's polarity is learned: clause polarity then only
    # decides whether a thank-you is meant, so only thanking clauses are scored
    heads_polarity = bool(
        heads is not None
        and features is not None
        and heads.polarity_weights is not None
        and heads.polarity_for_rules
    )
    analyses = analyze_clause_lists(
        clause_lists,
        batch_polarity=_clause_polarities(backend, norm, scores),
        polarity_for_gratitude_only=heads_polarity,
    )
    rows, model_id = _label_rows(analyses, heads, features, labels, backend.model_id, norm)
    risks = assess_risks(norm)
    frame = pd.DataFrame(
        {
            "sentiment": labels,
            "sentiment_score": np.round(scores, 4),
            "aspects": [r["aspects"] for r in rows],
            "emotions": [r["emotions"] for r in rows],
            "complaint": [r["complaint"] for r in rows],
            "complaint_reasons": [r["complaint_reasons"] for r in rows],
            "requests": [r["requests"] for r in rows],
            "risk_flags": [list(r) for r in risks],
            "risk_evidence": risks,
            "model": model_id,
            "confidence": np.round(probs.max(axis=1), 4),
        }
    )
    return frame, features


RULE_ONLY_BACKENDS = ("lexicon", "tfidf")
"""Backends chosen for speed or transparency: their labels come from the cue rules alone."""


def _default_features(norm: list[str]) -> np.ndarray | None:
    """Encoder features from the default model, for the label heads when another model gives
    the sentiment (``None`` when the default model is not built)."""
    from nlp.modelfiles import ModelNotBuiltError

    try:
        return get_backend("default-onnx").encode(norm)[1]
    except ModelNotBuiltError:
        return None


def text_features(texts: Sequence[str]) -> np.ndarray | None:
    """The default model's encoder features of raw texts (``None`` when it is not built)."""
    from nlp.textnorm import normalize_many

    return _default_features(normalize_many([str(t or "") for t in texts]))


def _label_rows(
    analyses: list,
    heads: Heads | None,
    features: np.ndarray | None,
    labels: list[str],
    model_id: str,
    norm: list[str],
) -> tuple[list[dict], str]:
    """The label columns per text: the learned heads combined with the rules when the backend
    gave encoder features and heads are installed, else the rule layer alone."""
    from nlp.heads import merged_labels, rule_hits

    if heads is None or features is None:
        rows = [
            {
                "aspects": dict(a.aspects),
                "emotions": list(a.emotions),
                "complaint": bool(a.complaint),
                "complaint_reasons": list(a.complaint_reasons),
                "requests": list(a.requests),
            }
            for a in analyses
        ]
        return rows, model_id
    decided = heads.decide(norm, rule_hits(analyses, heads.names))
    rows = []
    for a, d, label, feats in zip(analyses, decided, labels, features, strict=True):

        def polarity(tactic: str, by_rules: bool, feats=feats) -> str | None:
            if by_rules and not heads.polarity_for_rules:
                return None
            return heads.aspect_polarity(feats, tactic)

        names = dict(zip(heads.names, d.tolist(), strict=True))
        rows.append(merged_labels(a, names, label, polarity))
    return rows, f"{model_id}+heads:{heads.card.get('version', '?')}"


def score_frame(
    df: pd.DataFrame,
    text_column: str = "text",
    model: str | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Return ``df`` with the label columns added (existing label columns are replaced).

    Args:
        df: any frame holding a text column.
        text_column: the column to score.
        model: ``default``, ``lexicon`` or a model path; ``None`` uses ``BV_SENTIMENT_MODEL``.
        progress: called with (done, total) as batches finish.
    """
    if text_column not in df.columns:
        raise KeyError(f"找不到文本列 {text_column!r}（可用列：{', '.join(map(str, df.columns))}）")
    labels = score_texts(df[text_column].tolist(), model, progress)
    labels.index = df.index
    keep = df.drop(columns=[c for c in (*LABEL_COLUMNS, "confidence") if c in df.columns])
    return pd.concat([keep, labels], axis=1)
