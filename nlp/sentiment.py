"""Document-level sentiment backends behind one interface.

Every backend maps texts to an ``[n, 3]`` probability array ordered
negative, neutral, positive. ``get_backend`` picks one by name from a registry
(``available_backends()`` lists it, with a Chinese description for the UI):

- ``"lexicon"``: the always-available lexicon/rule model (fast, no torch);
- ``"default"``: the shipped fine-tuned e5-small, int8 ONNX Runtime fast path, in an
  ensemble with the TF-IDF member and the lexicon;
- a model version directory written by ``python -m nlp adapt`` (it holds ``adapted.json``):
  the default ensemble with the version's sentiment layer and label heads;
- any other name: a local Hugging Face sequence-classification directory (or a hub id where
  a hub is reachable), run with torch; labels mapped by name or by ``BV_LABEL_MAP``.

Backends that need the built default model raise :class:`ModelNotBuiltError` when it is
missing or stale; the core never builds it (``python -m nlp build-model`` does).

Example:
    >>> backend = get_backend("lexicon")
    >>> backend.predict_proba(["催收员态度很好"]).shape
    (1, 3)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from nlp.adapt.model import ENCODER, AdaptedBackend, is_adapted, load_adapted
from nlp.labels import SENTIMENTS
from nlp.modelfiles import ONNX_NAME, require_built
from nlp.modelfiles import ModelNotBuiltError as ModelNotBuiltError  # re-exported for callers

CHUNK_TOKENS = 128  # the length the default model was fine-tuned at
CHUNK_STRIDE = 96  # windows overlap by 32 tokens; long texts are never truncated


class SentimentBackend(Protocol):
    """What the batch scorer needs from a sentiment model."""

    model_id: str

    def predict_proba(
        self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """Probabilities [n, 3] (negative, neutral, positive) for already-normalised texts."""
        ...


def probs_to_labels(probs: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Labels and scores in [-1, 1] from class probabilities.

    The score is P(positive) - P(negative); for a neutral label it is halved so
    neutral texts sit near zero. Its sign always agrees with a non-neutral label.
    """
    idx = probs.argmax(axis=1)
    score = probs[:, 2] - probs[:, 0]
    score = np.where(idx == 1, score * 0.5, score)
    return [SENTIMENTS[i] for i in idx], np.clip(score, -1.0, 1.0)


class LexiconBackend:
    """Adapter over :class:`nlp.lexicon.LexiconModel`."""

    model_id = "lexicon"

    def __init__(self) -> None:
        from nlp.lexicon import LexiconModel

        self._model = LexiconModel()

    def predict_proba(self, texts, progress=None) -> np.ndarray:
        out = self._model.predict_proba(list(texts))
        if progress:
            progress(len(texts), len(texts))
        return out


class _ChunkingBackend:
    """Shared tokenisation, length sorting, batching and long-text chunking."""

    model_id = "transformer"

    def __init__(self, tokenizer_file: Path | None, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._tok = None
        if tokenizer_file is not None:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_file(str(tokenizer_file))
            self._tok.no_truncation()
            self._tok.no_padding()

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids without the special tokens (added back per chunk)."""
        assert self._tok is not None
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encs]

    def _chunks(self, ids: list[list[int]]) -> tuple[list[list[int]], list[int], list[int]]:
        body = CHUNK_TOKENS - 2
        chunks, owner, weight = [], [], []
        for i, seq in enumerate(ids):
            starts = range(0, max(1, len(seq) - (body - CHUNK_STRIDE)), CHUNK_STRIDE)
            starts = starts if len(seq) > body else [0]
            for s in starts:
                piece = seq[s : s + body]
                chunks.append([self.bos, *piece, self.eos])
                owner.append(i)
                weight.append(max(1, len(piece)))
        return chunks, owner, weight

    bos, eos, pad = 0, 2, 1

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, texts, progress=None) -> np.ndarray:
        texts = [t if t.strip() else "。" for t in texts]
        chunks, owner, weight = self._chunks(self._ids(texts))
        order = np.argsort([len(c) for c in chunks], kind="stable")
        chunk_probs = np.zeros((len(chunks), 3), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(chunks[i]) for i in idx)
            ids = np.full((len(idx), width), self.pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, : len(chunks[i])] = chunks[i]
                mask[r, : len(chunks[i])] = 1
            chunk_probs[idx] = self._run(ids, mask)
            if progress:
                progress(min(start + self.batch_size, len(order)), len(order))
        out = np.zeros((len(texts), 3), dtype=np.float64)
        totals = np.zeros(len(texts))
        for c, (i, w) in enumerate(zip(owner, weight, strict=True)):
            out[i] += w * chunk_probs[c]
            totals[i] += w
        return out / totals[:, None]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _pool_chunks(
    values: np.ndarray | None, owner: list[int], weight: list[int], n_texts: int
) -> np.ndarray | None:
    """Per-text rows from per-chunk rows: a text's chunks averaged, weighted by length.

    Most texts are one chunk; only the rows of the long ones are summed (a dense
    texts x chunks pooling matrix cost 880 MB and seconds on a 10,000-row upload).
    """
    if values is None:
        return None
    owners = np.asarray(owner)
    if len(owners) == n_texts:  # one chunk each, in text order
        return values.copy()
    w = np.asarray(weight, dtype=np.float64)
    out = np.zeros((n_texts, values.shape[1]), dtype=np.float64)
    np.add.at(out, owners, values * w[:, None])
    return out / np.bincount(owners, weights=w, minlength=n_texts)[:, None]


class OnnxBackend(_ChunkingBackend):
    """The default model: int8 ONNX Runtime, one chunk per run, one run per core at a time.

    Dynamic int8 quantization picks its activation scale per input tensor, so in a padded
    batch a text's probabilities depend on its batch-mates (measured: up to 0.40 apart,
    about 1% of labels flipped). Running every chunk on its own makes a text's result
    depend on the text alone, at the same throughput: 1,500 short reviews ran at 299
    texts/s with two single-threaded runs in parallel versus 321 texts/s in batches of
    32 on 2 cores.
    """

    def __init__(self, model_dir: Path, batch_size: int = 32, threads: int | None = None) -> None:
        import onnxruntime as ort

        super().__init__(model_dir / "tokenizer.json", batch_size)
        if not threads:  # each Ray worker sets BV_ONNX_THREADS to its share of the cores
            from nlp.config import nlp_config

            threads = nlp_config().onnx_threads
        self.threads = threads or os.cpu_count() or 1
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_dir / ONNX_NAME), opts, providers=["CPUExecutionProvider"]
        )
        stamp = model_dir / "build.json"
        sha = json.loads(stamp.read_text()).get("weights_sha256", "")[:8] if stamp.exists() else ""
        self.model_id = f"e5-borrower-int8:{sha}" if sha else f"onnx:{model_dir.name}"

    @property
    def has_features(self) -> bool:
        """Whether the model also outputs encoder features (built with export version 2)."""
        return len(self._session.get_outputs()) > 1

    def _one(self, chunk: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        ids = np.asarray([chunk], dtype=np.int64)
        outputs = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        probs = _softmax(outputs[0].astype(np.float64))[0]
        return probs, (outputs[1][0].astype(np.float64) if len(outputs) > 1 else None)

    def encode(self, texts, progress=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Sentiment probabilities and encoder features (``None`` for an old build), from one
        run of the model per chunk; a long text's chunks are averaged by length."""
        from concurrent.futures import ThreadPoolExecutor

        texts = [t if t.strip() else "。" for t in texts]
        chunks, owner, weight = self._chunks(self._ids(texts))
        chunk_probs = np.zeros((len(chunks), 3), dtype=np.float64)
        chunk_feats: np.ndarray | None = None
        step = max(1, len(chunks) // 100)
        with ThreadPoolExecutor(self.threads) as pool:
            for i, (probs, feats) in enumerate(pool.map(self._one, chunks)):
                chunk_probs[i] = probs
                if feats is not None:
                    if chunk_feats is None:
                        chunk_feats = np.zeros((len(chunks), feats.shape[0]))
                    chunk_feats[i] = feats
                if progress and (i % step == 0 or i == len(chunks) - 1):
                    progress(i + 1, len(chunks))
        feats_out = _pool_chunks(chunk_feats, owner, weight, len(texts))
        return _pool_chunks(chunk_probs, owner, weight, len(texts)), feats_out

    def predict_proba(self, texts, progress=None) -> np.ndarray:
        return self.encode(texts, progress)[0]


class EnsembleBackend:
    """Weighted mix of several backends' probabilities.

    The default mixes the fine-tuned transformer (0.5), the char n-gram TF-IDF model (0.2)
    and the lexicon (0.3). The three err differently: the TF-IDF model is strongest on
    review domains the transformer never saw, the lexicon on domain cue words and
    negation. The weights were picked from a coarse grid (14 points) looking at the
    borrower dev set and two held-out review domains; see nlp/model/manifest.json.
    """

    def __init__(
        self,
        members: list[tuple[SentimentBackend, float]],
        clause_backend: SentimentBackend | None = None,
    ) -> None:
        self.members = members
        self.model_id = members[0][0].model_id + "+ens"
        if clause_backend is not None:
            self.clause_backend = clause_backend

    def encode(self, texts, progress=None) -> tuple[np.ndarray, np.ndarray | None]:
        """The mixed probabilities, and the first member's encoder features (``None`` when it
        gives none: only the first member is asked for features).

        The other members (TF-IDF, lexicon: Python, one core) run in a thread while the first
        one (the encoder, which releases the GIL) runs, so a core the encoder leaves idle
        between runs is used; each member's output is the same as run alone.
        """
        from concurrent.futures import ThreadPoolExecutor

        (first, first_weight), rest = self.members[0], self.members[1:]
        with ThreadPoolExecutor(1) as pool:
            others = pool.submit(lambda: [b.predict_proba(texts, None) for b, _ in rest])
            if hasattr(first, "encode"):
                total, features = first.encode(texts, progress)
            else:
                total, features = first.predict_proba(texts, progress), None
            total = first_weight * total
            for (_, weight), p in zip(rest, others.result(), strict=True):
                total = total + weight * p
        return total / sum(w for _, w in self.members), features

    def predict_proba(self, texts, progress=None) -> np.ndarray:
        return self.encode(texts, progress)[0]


class TfidfBackend:
    """Adapter over :class:`nlp.tfidf.TfidfModel` (committed in nlp/model/tfidf.npz)."""

    model_id = "tfidf"

    def __init__(self) -> None:
        from nlp.tfidf import TfidfModel

        self._model = TfidfModel.load()

    def predict_proba(self, texts, progress=None) -> np.ndarray:
        return self._model.predict_proba(texts)


ENSEMBLE_WEIGHTS = {"transformer": 0.5, "tfidf": 0.2, "lexicon": 0.3}


def parse_label_map(spec: str | None) -> dict[str, str]:
    """``"LABEL_0=negative,LABEL_1=positive"`` -> mapping; empty when unset."""
    if not spec:
        return {}
    pairs = [item.split("=", 1) for item in spec.split(",") if "=" in item]
    return {k.strip(): v.strip() for k, v in pairs}


_NAME_GUESS = {
    "negative": "negative",
    "neg": "negative",
    "负面": "negative",
    "消极": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "中性": "neutral",
    "positive": "positive",
    "pos": "positive",
    "正面": "positive",
    "积极": "positive",
}


def resolve_label_columns(id2label: dict[int, str], label_map: dict[str, str]) -> list[str]:
    """Our label for each output column of a foreign model, or raise with advice."""
    out = []
    for i in range(len(id2label)):
        name = str(id2label[i])
        mapped = label_map.get(name) or label_map.get(str(i)) or _NAME_GUESS.get(name.lower())
        if mapped not in SENTIMENTS:
            raise ValueError(
                f"模型标签 {name!r} 无法对应 negative/neutral/positive；"
                f"请设置 BV_LABEL_MAP，例如 'LABEL_0=negative,LABEL_1=positive'"
            )
        out.append(mapped)
    return out


class HFBackend(_ChunkingBackend):
    """Any Hugging Face sequence-classification model, run with torch on CPU."""

    def __init__(
        self,
        name_or_path: str,
        label_map: dict[str, str] | None = None,
        batch_size: int = 32,
        quantize: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        super().__init__(None, batch_size)
        self._hf_tok = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModelForSequenceClassification.from_pretrained(name_or_path).eval()
        if quantize:
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, torch.qint8)
        self._model = model
        cols = resolve_label_columns(model.config.id2label, label_map or {})
        self._cols = [SENTIMENTS.index(c) for c in cols]
        self.bos = self._hf_tok.cls_token_id if self._hf_tok.cls_token_id is not None else 0
        self.eos = self._hf_tok.sep_token_id if self._hf_tok.sep_token_id is not None else 2
        self.pad = self._hf_tok.pad_token_id if self._hf_tok.pad_token_id is not None else 0
        self.model_id = f"hf:{Path(name_or_path).name}" + (":int8" if quantize else "")

    def _ids(self, texts):
        return [self._hf_tok(t, add_special_tokens=False)["input_ids"] for t in texts]

    def _run(self, ids, mask):
        import torch

        with torch.inference_mode():
            logits = self._model(
                input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
            ).logits.numpy()
        raw = _softmax(logits.astype(np.float64))
        probs = np.zeros((len(raw), 3))
        for col, target in enumerate(self._cols):
            probs[:, target] += raw[:, col]
        if 1 not in self._cols:  # binary model: uncertain predictions become neutral
            margin = np.abs(probs[:, 2] - probs[:, 0])
            probs[:, 1] = np.clip(1 - margin * 2.5, 0, 1)
            probs /= probs.sum(axis=1, keepdims=True)
        return probs


def default_model_dir() -> Path:
    """Where the install step builds the default model (``BV_MODEL_DIR``)."""
    from nlp.config import nlp_config

    return nlp_config().model_dir / "default"


def _default_ensemble(model_dir: Path) -> SentimentBackend:
    """The product default: transformer 0.5 + TF-IDF 0.2 + lexicon 0.3 (clauses: last two)."""
    tfidf, lexicon = TfidfBackend(), LexiconBackend()
    return EnsembleBackend(
        [
            (OnnxBackend(model_dir), ENSEMBLE_WEIGHTS["transformer"]),
            (tfidf, ENSEMBLE_WEIGHTS["tfidf"]),
            (lexicon, ENSEMBLE_WEIGHTS["lexicon"]),
        ],
        clause_backend=EnsembleBackend([(tfidf, 0.4), (lexicon, 0.6)]),
    )


class HeadMixedBackend:
    """The default ensemble with the 3-class sentiment head mixed in (``nlp.heads``).

    The ensemble learnt three classes mostly from binary reviews and calls almost no real text
    neutral; the head, on the same run's encoder features, knows matter-of-fact finance talk.
    It is part of the base model: an adapted version's layers sit on top of it. The heads are
    looked up on every call, so ``BV_HEADS`` (off, or another file) applies at once.
    """

    def __init__(self, ensemble: EnsembleBackend) -> None:
        self.ensemble = ensemble
        self.model_id = ensemble.model_id
        self.clause_backend = ensemble.clause_backend

    def encode(self, texts, progress=None) -> tuple[np.ndarray, np.ndarray | None]:
        """The mixed probabilities and the encoder features."""
        from nlp.heads import load_heads

        probs, features = self.ensemble.encode(texts, progress)
        heads = load_heads() if features is not None else None
        return (heads.sentiment(probs, features) if heads is not None else probs), features

    def predict_proba(self, texts, progress=None) -> np.ndarray:
        return self.encode(texts, progress)[0]

    @property
    def members(self) -> list[tuple[SentimentBackend, float]]:
        """The ensemble's members and weights (for reports)."""
        return self.ensemble.members


def _default_with_head(model_dir: Path) -> SentimentBackend:
    """The product default: the ensemble, then the sentiment head."""
    return HeadMixedBackend(_default_ensemble(model_dir))


def _default_torch(name: str, quantize: bool) -> Callable[[Path], SentimentBackend]:
    """A factory: the default model's torch weights, reported under ``name``."""

    def build(model_dir: Path) -> SentimentBackend:
        backend = HFBackend(str(model_dir), quantize=quantize)
        backend.model_id = name
        return backend

    return build


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend, as the CLI and the UI show it."""

    name: str
    description: str  # Simplified Chinese, one line
    needs_model: bool  # needs the built default model (``python -m nlp build-model``)


@dataclass(frozen=True)
class _Entry:
    description: str
    # needs_model: called with the built default model directory; else with no argument
    factory: Callable[..., SentimentBackend]
    needs_model: bool = False


# name -> entry; the first is the product default. A new backend is one entry here.
_REGISTRY: dict[str, _Entry] = {
    "default": _Entry(
        "默认：微调 e5 Transformer（int8 ONNX）+ TF-IDF + 词典加权集成，再混入情感头",
        _default_with_head,
        needs_model=True,
    ),
    "default-ensemble": _Entry(
        "同一集成，不混入情感头（训练情感头与对照用）",
        _default_ensemble,
        needs_model=True,
    ),
    "lexicon": _Entry("词典规则：最快，无需模型文件", LexiconBackend),
    "tfidf": _Entry("字符 n-gram TF-IDF + 逻辑回归（单独使用）", TfidfBackend),
    "default-onnx": _Entry(
        "微调 e5 Transformer 单独使用（int8 ONNX Runtime）", OnnxBackend, needs_model=True
    ),
    "default-torch": _Entry(
        "同一微调权重，torch fp32（较慢，用于对照）",
        _default_torch("default-torch", quantize=False),
        needs_model=True,
    ),
    "default-torch-int8": _Entry(
        "同一微调权重，torch 动态 int8（用于对照）",
        _default_torch("default-torch-int8", quantize=True),
        needs_model=True,
    ),
}


def available_backends() -> list[BackendInfo]:
    """Every registered backend name, product default first (any HF directory also works)."""
    return [BackendInfo(name, e.description, e.needs_model) for name, e in _REGISTRY.items()]


@lru_cache(maxsize=4)
def get_backend(name: str = "default") -> SentimentBackend:
    """The backend for a registered name (``available_backends()``) or a model path / hub id.

    ``default`` = int8 ONNX e5 fine-tune mixed with TF-IDF and lexicon (``EnsembleBackend``);
    ``tfidf`` = the char n-gram model alone;
    ``default-onnx`` = the transformer alone; ``default-torch`` / ``default-torch-int8`` =
    the same weights in torch (fp32 / dynamic int8); ``lexicon`` = rules only.

    Loaded once per process (per Ray worker) and cached.

    Raises:
        ModelNotBuiltError: the backend needs the default model and it is not built (or was
            built from other weights): run ``python -m nlp build-model``.
    """
    entry = _REGISTRY.get(name)
    if entry is None and is_adapted(name):  # a version built by ``python -m nlp adapt``
        return AdaptedBackend(load_adapted(Path(name)), get_backend(ENCODER))
    if entry is None:
        label_map = parse_label_map(os.environ.get("BV_LABEL_MAP"))
        return HFBackend(name, label_map)
    if entry.needs_model:
        return entry.factory(require_built(default_model_dir()))
    return entry.factory()
