"""Character n-gram TF-IDF + logistic regression: a fast, different-minded ensemble member.

Trained on the same data as the transformer (public reviews + borrower texts, three
classes). It is ~100x faster than the transformer and, on review domains it never saw,
about as accurate; its errors differ from the transformer's, so mixing the two helps.

The committed model (``nlp/model/tfidf.npz``, a few MB) holds the vocabulary, idf and
the classifier weights; ``python -m nlp train-tfidf`` (``training.tfidf``) rebuilds it from
the corpora. This module only loads, applies and saves it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp.modelfiles import TFIDF_PATH

MODEL_PATH = TFIDF_PATH
NGRAMS = (1, 3)
MAX_FEATURES = 300_000


def make_vectorizer(vocabulary=None):
    """The char n-gram vectorizer (fitted by training, or given a loaded vocabulary)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char",
        ngram_range=NGRAMS,
        min_df=2,
        sublinear_tf=True,
        max_features=MAX_FEATURES,
        vocabulary=vocabulary,
        dtype=np.float32,
    )


_WHITE_SPACES = re.compile(r"\s\s+")


def _analyzer_input(text: str) -> str:
    """What scikit-learn's char analyzer reads: lowercased, runs of whitespace made one."""
    return _WHITE_SPACES.sub(" ", text.lower())


class TfidfModel:
    """``predict_proba(texts) -> [n, 3]`` (negative, neutral, positive).

    At run time the rows are built by :func:`nlp.ngrams.tfidf_rows` (the same sublinear,
    L2-normalised char 1–3-gram rows as the training vectorizer), so scoring needs no
    scikit-learn: its import alone was 0.8 s of every whole-process run.
    """

    model_id = "tfidf"

    def __init__(
        self, vocab: dict[str, int], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray
    ) -> None:
        self._vocab = vocab
        self._idf = np.asarray(idf, dtype=np.float64)
        self._coef = coef.astype(np.float32)
        self._intercept = intercept.astype(np.float32)

    @classmethod
    def from_vectorizer(cls, vectorizer, coef: np.ndarray, intercept: np.ndarray) -> TfidfModel:
        """The model of a fitted ``make_vectorizer()`` (or same-analyzer) vectorizer."""
        return cls(dict(vectorizer.vocabulary_), vectorizer.idf_, coef, intercept)

    def predict_proba(self, texts: Sequence[str], progress=None) -> np.ndarray:
        """Softmax of the linear classifier over the texts' TF-IDF vectors, ``[n, 3]``."""
        from nlp.ngrams import tfidf_rows

        x = tfidf_rows([_analyzer_input(t) for t in texts], self._vocab, self._idf)
        logits = np.asarray(x @ self._coef.T) + self._intercept
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: Path = MODEL_PATH) -> None:
        """Write the compact .npz that :meth:`load` reads (vocabulary, idf, fp16 weights)."""
        vocab = sorted(self._vocab, key=self._vocab.get)
        np.savez_compressed(
            path,
            vocab=np.frombuffer("\x00".join(vocab).encode("utf-8"), dtype=np.uint8),
            idf=self._idf.astype(np.float32),
            coef=self._coef.astype(np.float16),
            intercept=self._intercept,
            meta=np.frombuffer(json.dumps({"ngrams": NGRAMS}).encode(), dtype=np.uint8),
        )

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> TfidfModel:
        """Read a model written by :meth:`save` (the committed one by default)."""
        data = np.load(path)
        vocab = bytes(data["vocab"]).decode("utf-8").split("\x00")
        return cls(
            {term: i for i, term in enumerate(vocab)},
            data["idf"].astype(np.float64),
            data["coef"].astype(np.float32),
            data["intercept"],
        )
