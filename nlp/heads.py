"""Learned label heads on the encoder features: emotions, complaint, tactics and requests.

Each label head is a logistic regression over the text's character 1–3-gram TF-IDF
(:mod:`nlp.ngrams`) plus the rule layer's own answer for that label (complaint reasons have
heads too; a reason is only kept on a text that is a complaint). On the tuning split the
n-grams beat the sentiment encoder's pooled features for every label tried (complaint F1 0.812
vs 0.758, contact frequency 0.780 vs 0.594, helplessness 0.684 vs 0.542): which tactic a text
talks about and whether it complains is carried by its words more than by its mood. The
sentiment and aspect-polarity heads read the encoder features of the default model's one run
per text (:meth:`nlp.sentiment.OnnxBackend.encode`). A label is set
when its rule cue fires (the cues are precise) or when the head's probability reaches a
threshold chosen, for that combination, on a tuning split (the heads add what the cues miss).
The heads are trained by ``python -m nlp train-heads`` (``training.heads``) and committed
as ``nlp/model/heads.npz``; without that file the rule layer's labels stand alone.

Example:
    >>> heads = load_heads()  # doctest: +SKIP
    >>> heads.names[:2]  # doctest: +SKIP
    ('emotion:anxiety', 'emotion:anger')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from nlp.labels import COMPLAINT_REASONS, EMOTIONS, REQUESTS, SENTIMENTS, TACTICS

HEAD_NAMES: tuple[str, ...] = (
    *(f"emotion:{e}" for e in EMOTIONS),
    "complaint",
    *(f"aspect:{t}" for t in TACTICS),
    *(f"request:{r}" for r in REQUESTS),
    *(f"reason:{r}" for r in COMPLAINT_REASONS),
)
"""Every head the trainer may produce, in a fixed order."""


@dataclass(frozen=True)
class Heads:
    """A set of trained heads (a row of ``weights`` per head).

    Attributes:
        names: head names from :data:`HEAD_NAMES` (a trained set may hold fewer).
        vocab / idf: the character n-grams and their idf (``nlp.ngrams.tfidf_rows``).
        mean / scale: encoder-feature standardisation (the sentiment and polarity heads).
        weights: ``(heads, n-grams + 1)``; the last column weighs the rule layer's answer.
        bias: ``(heads,)``.
        thresholds: ``(heads,)`` probability cut-offs chosen on the tuning split.
        card: what the heads were trained on and how they measured (``heads.json``).
    """

    names: tuple[str, ...]
    vocab: dict
    idf: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    thresholds: np.ndarray
    card: dict
    sentiment_weights: np.ndarray | None = None
    sentiment_bias: np.ndarray | None = None
    sentiment_mix: float = 0.0
    polarity_weights: np.ndarray | None = None  # (3, dim + len(TACTICS))
    polarity_bias: np.ndarray | None = None
    polarity_for_rules: bool = False  # also re-read the polarity of tactics the cues found

    def aspect_polarity(self, features: np.ndarray, tactic: str) -> str | None:
        """The writer's polarity toward one tactic from the polarity head (``None``: no head)."""
        if self.polarity_weights is None:
            return None
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        onehot = np.zeros(len(TACTICS))
        onehot[TACTICS.index(tactic)] = 1.0
        z = np.concatenate([x, onehot]) @ self.polarity_weights.T + self.polarity_bias
        return SENTIMENTS[int(np.argmax(z))]

    def sentiment(self, probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The ensemble's sentiment probabilities mixed with the sentiment head's (which knows
        matter-of-fact finance talk is neutral); unchanged without a sentiment head."""
        if self.sentiment_weights is None or not self.sentiment_mix:
            return probs
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        if self.sentiment_weights.shape[1] == x.shape[1] + len(SENTIMENTS):
            x = sentiment_design(x, probs)  # a head stacked on the ensemble (since 2026-12-02)
        # einsum's own loop, not BLAS: a row's result must not depend on how many rows share
        # the call (a matrix product's blocking does, in the last bits)
        z = np.einsum("nd,kd->nk", x, self.sentiment_weights, optimize=False)
        z = z + self.sentiment_bias
        e = np.exp(z - z.max(axis=1, keepdims=True))
        head = e / e.sum(axis=1, keepdims=True)
        return (1 - self.sentiment_mix) * probs + self.sentiment_mix * head

    def proba(self, texts: Sequence[str], rule_hits: np.ndarray) -> np.ndarray:
        """``(texts, heads)`` probabilities.

        Args:
            texts: normalised texts (``nlp.textnorm.normalize``).
            rule_hits: ``(texts, heads)`` 0/1, the rule layer's answer for each head.
        """
        from nlp.ngrams import tfidf_rows

        w, w_rule = self.weights[:, :-1], self.weights[:, -1]
        z = np.asarray(tfidf_rows(texts, self.vocab, self.idf) @ w.T)
        z = z + rule_hits * w_rule + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def decide(self, texts: Sequence[str], rule_hits: np.ndarray) -> np.ndarray:
        """``(texts, heads)`` booleans: a rule cue fired, or the head's probability reaches its
        threshold (the rules are precise and keep their hits; the heads add what they miss)."""
        return (rule_hits > 0) | (self.proba(texts, rule_hits) >= self.thresholds)

    def save(self, path: Path) -> None:
        """Write ``path`` (npz) and its card beside it (``.json``)."""
        from nlp.modelfiles import save_with_card
        from nlp.ngrams import vocab_arrays

        arrays = dict(
            grams=vocab_arrays(self.vocab),
            idf=self.idf.astype(np.float32),
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            thresholds=self.thresholds.astype(np.float32),
            **(
                {
                    "sentiment_weights": self.sentiment_weights.astype(np.float32),
                    "sentiment_bias": self.sentiment_bias.astype(np.float32),
                    "sentiment_mix": np.float32(self.sentiment_mix),
                }
                if self.sentiment_weights is not None
                else {}
            ),
            **(
                {
                    "polarity_weights": self.polarity_weights.astype(np.float32),
                    "polarity_bias": self.polarity_bias.astype(np.float32),
                    "polarity_for_rules": np.bool_(self.polarity_for_rules),
                }
                if self.polarity_weights is not None
                else {}
            ),
        )
        save_with_card(path, arrays, {**self.card, "names": list(self.names)})


def sentiment_design(standardised: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The sentiment head's inputs: the standardised encoder features and the log of the
    ensemble's probabilities, so the head learns where to trust the ensemble (stacking: tuning
    macro-F1 0.801 -> 0.806 against the features alone)."""
    return np.hstack([standardised, np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-4, 1))])


def rule_hits(analyses: Sequence, names: Sequence[str]) -> np.ndarray:
    """``(texts, heads)`` 0/1 matrix of what the rule layer (``nlp.feedback``) found."""
    out = np.zeros((len(analyses), len(names)))
    for i, a in enumerate(analyses):
        found = {
            *(f"emotion:{e}" for e in a.emotions),
            *(f"aspect:{t}" for t in a.aspects),
            *(f"request:{r}" for r in a.requests),
            *(f"reason:{r}" for r in a.complaint_reasons),
            *(("complaint",) if a.complaint else ()),
        }
        for j, name in enumerate(names):
            out[i, j] = name in found
    return out


def load_heads(path: Path | None = None) -> Heads | None:
    """The heads ``BV_HEADS`` names (default: the committed ``nlp/model/heads.npz``), or
    ``None`` when it says ``off`` or there are none."""
    from nlp.config import nlp_config
    from nlp.modelfiles import HEADS_PATH

    if path is None:
        config = nlp_config()
        if config.heads_off:
            return None
        path = HEADS_PATH if config.heads == "default" else Path(config.heads)
        if config.heads != "default" and not path.exists():  # a typo must not silently
            raise FileNotFoundError(  # fall back to the rules
                f"BV_HEADS={config.heads!r}：找不到标签头文件（可用 default、off 或 .npz 路径）"
            )
    return _load(Path(path))


@lru_cache(maxsize=4)
def _load(path: Path) -> Heads | None:
    from nlp.modelfiles import read_with_card

    found = read_with_card(path)
    if found is None or "grams" not in found[0]:  # no heads, or heads before n-gram heads
        return None
    data, card = found

    def floats(key: str) -> np.ndarray | None:
        return data[key].astype(np.float64) if key in data else None

    return Heads(
        names=tuple(card["names"]),
        vocab={g: i for i, g in enumerate(data["grams"].tolist())},
        idf=floats("idf"),
        mean=floats("mean"),
        scale=floats("scale"),
        weights=floats("weights"),
        bias=floats("bias"),
        thresholds=floats("thresholds"),
        card=card,
        sentiment_weights=floats("sentiment_weights"),
        sentiment_bias=floats("sentiment_bias"),
        sentiment_mix=float(data["sentiment_mix"]) if "sentiment_mix" in data else 0.0,
        polarity_weights=floats("polarity_weights"),
        polarity_bias=floats("polarity_bias"),
        polarity_for_rules=bool(data["polarity_for_rules"])
        if "polarity_for_rules" in data
        else False,
    )


def merged_labels(
    analysis,
    decided: dict[str, bool],
    doc_label: str,
    polarity: Callable[[str, bool], str | None] | None = None,
) -> dict:
    """One text's labels: a head's decision where a head exists, the rule layer's elsewhere.

    Args:
        analysis: the rule layer's :class:`nlp.feedback.Analysis` for the text.
        decided: head name -> decision (only the heads that exist).
        doc_label: the text's sentiment, the polarity of a tactic only a head found when
            there is no polarity head.
        polarity: ``(tactic, found_by_rules) -> label or None``: the polarity head's reading.
    """

    def pick(name: str, ruled: bool) -> bool:
        return decided.get(name, ruled)

    emotions = [e for e in EMOTIONS if pick(f"emotion:{e}", e in analysis.emotions)]

    def tactic_polarity(t: str) -> str:
        head = polarity(t, t in analysis.aspects) if polarity else None
        return head or analysis.aspects.get(t, doc_label)

    aspects = {t: tactic_polarity(t) for t in TACTICS if pick(f"aspect:{t}", t in analysis.aspects)}
    complaint = pick("complaint", bool(analysis.complaint))
    requests = [r for r in REQUESTS if pick(f"request:{r}", r in analysis.requests)]
    reasons = [r for r in COMPLAINT_REASONS if pick(f"reason:{r}", r in analysis.complaint_reasons)]
    return {
        "aspects": aspects,
        "emotions": emotions,
        "complaint": complaint,
        "complaint_reasons": reasons if complaint else [],
        "requests": requests,
    }
