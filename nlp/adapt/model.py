"""Loading an adapted model version: the shipped encoder, a sentiment layer, its own heads.

A version directory (written by :func:`nlp.adapt.build.build_version`) holds:

* ``adapted.json``: the manifest (version id, base, data sha256, row counts, metrics, who);
* ``heads.npz`` / ``heads.json``: a full set of label heads (:class:`nlp.heads.Heads`);
* ``sentiment.npz`` (+ ``ngram-<i>.npz``): the sentiment layers, applied in order.

A sentiment layer mixes the base probabilities with what it learnt from the customer's rows,
only as far as a text looks like those rows::

    g = mix * sigmoid(domain gate on the features)
    p = (1 - g) * p_base + g * (share * head([features, log p_base]) + (1 - share) * n-gram)

The domain gate was trained to tell the customer's texts from the borrower texts the
shipped model learnt on, so texts unlike the customer's keep the shipped model's answer.

Example:
    >>> is_adapted("/nonexistent")
    False
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from nlp.heads import Heads, load_heads
from nlp.tfidf import TfidfModel

MANIFEST = "adapted.json"
HEADS_FILE = "heads.npz"
SENTIMENT_FILE = "sentiment.npz"
ENCODER = "default"  # the registry name of the encoder + ensemble every version sits on


def is_adapted(path: str | Path) -> bool:
    """Whether ``path`` is an adapted model version (it holds ``adapted.json``)."""
    try:
        return (Path(path) / MANIFEST).is_file()
    except (OSError, ValueError):
        return False


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class SentimentLayer:
    """One adaptation of the sentiment probabilities (see the module docstring).

    Attributes:
        mean / scale: feature standardisation (the base heads').
        gate_weights / gate_bias: the domain gate, a logistic regression on the features.
        head_weights / head_bias: ``(3, dim + 3)`` / ``(3,)``, a softmax regression on the
            standardised features and the log base probabilities.
        mix: the most the layer can move a text (at a gate of 1).
        head_share: the head's share against the character n-gram member.
        ngram: the customer's character n-gram model (``None`` when ``head_share`` is 1).
    """

    mean: np.ndarray
    scale: np.ndarray
    gate_weights: np.ndarray
    gate_bias: float
    head_weights: np.ndarray
    head_bias: np.ndarray
    mix: float
    head_share: float = 1.0
    ngram: TfidfModel | None = None

    def gate(self, features: np.ndarray) -> np.ndarray:
        """``(texts,)`` how much each text looks like the customer's (0..1)."""
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-np.clip(x @ self.gate_weights + self.gate_bias, -30, 30)))

    def learnt(self, texts: list[str], probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """``(texts, 3)`` the layer's own probabilities (head and n-gram member)."""
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        design = np.hstack([x, np.log(np.clip(probs, 1e-4, 1.0))])
        head = _softmax(design @ self.head_weights.T + self.head_bias)
        if self.ngram is None or self.head_share >= 1.0:
            return head
        return self.head_share * head + (1 - self.head_share) * self.ngram.predict_proba(texts)

    def apply(self, texts: list[str], probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The adapted ``(texts, 3)`` probabilities for normalised ``texts``."""
        if not len(texts) or self.mix <= 0:
            return probs
        g = (self.mix * self.gate(features))[:, None]
        return (1 - g) * probs + g * self.learnt(texts, probs, features)


def save_layers(directory: Path, layers: list[SentimentLayer]) -> None:
    """Write ``sentiment.npz`` and each layer's n-gram member into ``directory``."""
    arrays: dict[str, np.ndarray] = {"count": np.int64(len(layers))}
    for i, layer in enumerate(layers):
        arrays |= {
            f"{i}_mean": layer.mean.astype(np.float32),
            f"{i}_scale": layer.scale.astype(np.float32),
            f"{i}_gate_weights": layer.gate_weights.astype(np.float32),
            f"{i}_gate_bias": np.float64(layer.gate_bias),
            f"{i}_head_weights": layer.head_weights.astype(np.float32),
            f"{i}_head_bias": layer.head_bias.astype(np.float32),
            f"{i}_mix": np.float64(layer.mix),
            f"{i}_head_share": np.float64(layer.head_share),
        }
        if layer.ngram is not None:
            layer.ngram.save(directory / f"ngram-{i}.npz")
    np.savez_compressed(directory / SENTIMENT_FILE, **arrays)


def load_layers(directory: Path) -> list[SentimentLayer]:
    """The sentiment layers of a version directory (none when it has no ``sentiment.npz``)."""
    path = directory / SENTIMENT_FILE
    if not path.exists():
        return []
    layers = []
    with np.load(path) as data:
        for i in range(int(data["count"])):
            ngram_path = directory / f"ngram-{i}.npz"
            layers.append(
                SentimentLayer(
                    mean=data[f"{i}_mean"].astype(np.float64),
                    scale=data[f"{i}_scale"].astype(np.float64),
                    gate_weights=data[f"{i}_gate_weights"].astype(np.float64),
                    gate_bias=float(data[f"{i}_gate_bias"]),
                    head_weights=data[f"{i}_head_weights"].astype(np.float64),
                    head_bias=data[f"{i}_head_bias"].astype(np.float64),
                    mix=float(data[f"{i}_mix"]),
                    head_share=float(data[f"{i}_head_share"]),
                    ngram=TfidfModel.load(ngram_path) if ngram_path.exists() else None,
                )
            )
    return layers


@dataclass(frozen=True)
class AdaptedModel:
    """An adapted version as loaded: manifest, sentiment layers and label heads."""

    path: Path
    manifest: dict
    layers: tuple[SentimentLayer, ...]
    heads: Heads | None

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", self.path.name))

    def adapt(self, texts: list[str], probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The base probabilities through every layer in order."""
        for layer in self.layers:
            probs = layer.apply(texts, probs, features)
        return probs


@lru_cache(maxsize=8)
def load_adapted(path: Path) -> AdaptedModel:
    """Read a version directory (cached per path: a version never changes once written).

    Raises:
        ValueError: ``path`` is not an adapted version.
    """
    path = Path(path)
    if not is_adapted(path):
        raise ValueError(f"{path} 不是训练得到的模型版本（缺少 {MANIFEST}）")
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    heads = load_heads(path / HEADS_FILE)
    return AdaptedModel(path, manifest, tuple(load_layers(path)), heads)


def base_sentiment_head() -> str:
    """The version of the sentiment head mixed into the base model now ("" when none is): a
    version's sentiment layers were fitted on the base's mixed probabilities, so they belong
    to that head as much as to the encoder."""
    heads = load_heads()
    if heads is None or heads.sentiment_weights is None or not heads.sentiment_mix:
        return ""
    return str(heads.card.get("version", ""))


class AdaptedBackend:
    """A sentiment backend: the shipped ensemble with the version's layers applied.

    It carries the version's label heads (``heads``), which the batch scorer uses instead of
    the committed ones. Scores record ``<encoder id>+<version>+heads:<heads version>``; the
    heads version is the adapted version's own when it refitted label heads.

    Raises:
        ValueError: the version's sentiment layers were fitted on another encoder's features
            (the default model was rebuilt from other weights since).
    """

    def __init__(self, model: AdaptedModel, base) -> None:
        built_on = model.manifest.get("encoder_id")
        if model.layers and built_on and built_on != base.model_id:
            raise ValueError(
                f"模型版本 {model.version} 基于编码器 {built_on} 训练，当前编码器是 "
                f"{base.model_id}：请用当前模型重新训练（python -m nlp adapt）"
            )
        head_then = model.manifest.get("sentiment_head")  # absent in versions before 2026-12-02
        head_now = base_sentiment_head()
        if model.layers and head_then is not None and head_then != head_now:
            raise ValueError(
                f"模型版本 {model.version} 基于情感头 {head_then or '（无）'} 训练，当前情感头是 "
                f"{head_now or '（无）'}：请用当前模型重新训练（python -m nlp adapt）"
            )
        self.model = model
        self.base = base
        self.model_id = f"{base.model_id}+{model.version}"
        self.heads = model.heads
        if hasattr(base, "clause_backend"):
            self.clause_backend = base.clause_backend

    def encode(self, texts, progress=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Adapted probabilities and the encoder features, for normalised texts."""
        probs, features = self.base.encode(texts, progress)
        if features is None:
            return probs, features
        return self.model.adapt(list(texts), probs, features), features

    def predict_proba(self, texts, progress=None) -> np.ndarray:
        return self.encode(texts, progress)[0]
