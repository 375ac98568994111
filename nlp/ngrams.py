"""Character n-gram TF-IDF rows, the features of the risk model and the agent-turn heads.

What a sentence is about (a threat, a farewell, a complaint to a regulator) is carried by its
words more than by the mood the sentiment encoder's features capture; character 1–3-grams read
those words without a segmenter. The vocabulary and idf come from training (scikit-learn's
``TfidfVectorizer(analyzer="char", sublinear_tf=True)``); this module rebuilds the same
L2-normalised rows at run time without scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

NGRAMS = (1, 2, 3)


def tfidf_rows(texts: Sequence[str], vocab: Mapping[str, int], idf: np.ndarray):
    """A CSR matrix ``(texts, len(idf))``: sublinear tf × idf, each row L2-normalised."""
    from scipy.sparse import csr_matrix

    get = vocab.get
    cols: list[int] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        grams = [text[i : i + n] for n in NGRAMS for i in range(len(text) - n + 1)]
        ids = [col for col in map(get, grams) if col is not None]
        cols += ids
        lengths[row] = len(ids)
    width = len(idf)
    keys = np.repeat(np.arange(len(texts), dtype=np.int64), lengths) * width + np.asarray(
        cols, dtype=np.int64
    )
    keys, counts = np.unique(keys, return_counts=True)  # sorted: row-major, as CSR wants
    vals = (1.0 + np.log(counts)) * np.asarray(idf, dtype=np.float64)[keys % width]
    x = csr_matrix((vals, (keys // width, keys % width)), shape=(len(texts), width))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return csr_matrix(x.multiply(1.0 / np.where(norms > 0, norms, 1.0)[:, None]))


def vocab_arrays(vocab: Mapping[str, int]) -> np.ndarray:
    """The vocabulary as an array ordered by column (for ``np.savez``)."""
    return np.asarray(sorted(vocab, key=vocab.get))
