"""Build an adapted model version from a canonical labelled frame (``nlp.adapt.labels``).

One call encodes every text once (cached on disk by normalised text), holds back a stratified
part of the labelled rows, fits the sentiment layer and the label heads that have labels,
writes the version to a temporary directory, measures base vs adapted on the held-back rows
with the real batch scorer, and only then renames the directory into place: a failed or
interrupted build leaves every existing version untouched.

Example:
    >>> manifest = build_version(frame, Path("models/acme-v1"))  # doctest: +SKIP
    >>> manifest["metrics"]["heldback"]["after"]["sentiment_macro_f1"]  # doctest: +SKIP
    0.71
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nlp.adapt import fit
from nlp.adapt.labels import MIN_ROWS, label_counts
from nlp.adapt.model import (
    ENCODER,
    HEADS_FILE,
    MANIFEST,
    base_sentiment_head,
    is_adapted,
    load_adapted,
    save_layers,
)
from nlp.labels import EMOTIONS, TACTICS

ANCHORS = Path(__file__).resolve().parents[1] / "train_data" / "labelled"
"""The shipped heads' hand-labelled borrower texts: the gate's other side, the heads' base."""
HOLDBACK = 0.25
GATE_ANCHORS = 3000  # borrower texts the domain gate sees (a sample: the fit stays quick)
SEED = 13

Progress = Callable[[float, str], None]
"""``(fraction done 0..1, what is happening)``."""


class BuildError(RuntimeError):
    """The version cannot be built (output exists, no base heads, ...); one-line message."""


def _quiet(_: float, __: str) -> None:
    return None


def default_cache() -> Path:
    """Where encoder outputs are cached between builds (``BV_MODEL_DIR/cache``)."""
    from nlp.config import nlp_config

    return nlp_config().model_dir / "cache" / "adapt_features.npz"


def encode_cached(
    texts: list[str], cache: Path | None, progress: Progress = _quiet
) -> tuple[np.ndarray, np.ndarray]:
    """``(probs, features)`` of the shipped ensemble for normalised ``texts``; texts already
    in ``cache`` (same encoder build) are not encoded again."""
    from nlp.modelfiles import BUILD_STAMP
    from nlp.sentiment import default_model_dir, get_backend

    backend = get_backend(ENCODER)
    stamp = default_model_dir() / BUILD_STAMP
    key = f"{backend.model_id} {stamp.read_text(encoding='utf-8') if stamp.exists() else ''}"
    key += f" {base_sentiment_head()}"  # the base probabilities include the sentiment head
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["key"]) == key:
                known = dict(zip(data["texts"].tolist(), data["rows"], strict=True))
    todo = list(dict.fromkeys(t for t in texts if t not in known))
    if todo:
        probs, features = backend.encode(
            todo, lambda done, total: progress(done / max(total, 1), f"编码 {done:,}/{total:,}")
        )
        known |= dict(zip(todo, np.hstack([probs, features]).astype(np.float32), strict=True))
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp.npz")
            np.savez(
                partial,
                key=np.asarray(key),
                texts=np.asarray(list(known)),
                rows=np.asarray(list(known.values())),
            )
            os.replace(partial, cache)
    rows = np.asarray([known[t] for t in texts], dtype=np.float64).reshape(len(texts), -1)
    return rows[:, :3], rows[:, 3:]


def anchor_frame(limit: int | None = None) -> pd.DataFrame:
    """The shipped heads' labelled borrower texts in the canonical form (``limit``: a seeded
    sample, for quick runs)."""
    rows = []
    for path in sorted(ANCHORS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                rows.append(
                    {
                        "text": rec["text"],
                        "sentiment": rec.get("sentiment"),
                        "emotions": rec.get("emotions"),
                        "complaint": rec.get("complaint"),
                        "aspects": rec.get("aspects"),
                    }
                )
    frame = pd.DataFrame(rows)
    if limit is not None and limit < len(frame):
        frame = frame.sample(n=limit, random_state=SEED).reset_index(drop=True)
    return frame


def head_names(frame: pd.DataFrame, min_rows: int = MIN_ROWS) -> list[str]:
    """The label heads the canonical frame has enough labels for."""
    counts = label_counts(frame)
    names = []
    if "complaint" in frame and frame["complaint"].notna().any():
        names.append("complaint")
    for kind, prefix, labels in (("emotions", "emotion", EMOTIONS), ("aspects", "aspect", TACTICS)):
        if kind in counts:
            names += [f"{prefix}:{x}" for x in labels if counts[kind][x] >= min_rows]
    return names


def label_matrix(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """``(rows, names)`` 1/0 per head, NaN where the row has no label of that kind."""
    out = np.full((len(frame), len(names)), np.nan)
    for i, rec in enumerate(frame.to_dict("records")):
        for j, name in enumerate(names):
            kind, _, label = name.partition(":")
            value = rec.get({"emotion": "emotions", "aspect": "aspects"}.get(kind, kind))
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            out[i, j] = float(bool(value)) if kind == "complaint" else float(label in value)
    return out


def split_holdback(frame: pd.DataFrame, share: float = HOLDBACK) -> np.ndarray:
    """Boolean mask of the held-back rows: ``share`` of each sentiment (else complaint)
    class, seeded."""
    rng = np.random.default_rng(SEED)
    strata = pd.Series("all", index=frame.index)
    for kind in ("sentiment", "complaint"):
        if kind in frame and frame[kind].notna().any():
            strata = frame[kind].astype(str)
            break
    held = np.zeros(len(frame), dtype=bool)
    for _, idx in strata.groupby(strata).groups.items():
        idx = rng.permutation(np.asarray(frame.index.get_indexer(idx)))
        held[idx[: round(len(idx) * share)]] = True
    return held


def headline(report: dict) -> dict[str, float]:
    """The headline figures of an ``nlp.evaluate.evaluate_frame`` report."""
    out = {}
    if "sentiment" in report:
        out["sentiment_macro_f1"] = round(report["sentiment"]["macro_f1"], 4)
        out["sentiment_accuracy"] = round(report["sentiment"]["accuracy"], 4)
    if "complaint" in report:
        out["complaint_f1"] = round(report["complaint"]["f1"], 4)
    if "emotions" in report:
        out["emotions_f1"] = round(report["emotions"]["f1"], 4)
    if "aspect_detection" in report:
        out["aspects_f1"] = round(report["aspect_detection"]["f1"], 4)
    return out


def evaluate(model: str, frame: pd.DataFrame, progress=None) -> dict[str, float]:
    """Headline figures of ``model`` (a backend name or version path) on a canonical frame,
    each label kind over the rows that have it, scored by the product's batch scorer."""
    from nlp.evaluate import evaluate_frame
    from nlp.pipeline import score_texts

    if frame.empty:
        return {}
    pred = score_texts(frame["text"].tolist(), model, progress)
    out: dict[str, float] = {"rows": len(frame)}
    for kind in ("sentiment", "complaint", "emotions", "aspects"):
        if kind not in frame:
            continue
        known = frame[kind].notna().to_numpy()
        if not known.any():
            continue
        gold = frame.loc[known, ["text", kind]].reset_index(drop=True)
        if kind == "aspects":  # polarity may be unknown: detection only
            gold[kind] = [dict.fromkeys(a, "neutral") for a in gold[kind]]
        rep = evaluate_frame(gold, pred.loc[known].reset_index(drop=True), {kind: kind})
        out |= {k: v for k, v in headline(rep).items() if k.startswith(kind[:6])}
    return out


def _base(base: str) -> tuple[list, object]:
    """``(sentiment layers, label heads)`` of the base: ``default`` or a version directory."""
    from nlp.heads import load_heads
    from nlp.modelfiles import HEADS_PATH

    if base == ENCODER:
        return [], load_heads(HEADS_PATH)
    if not is_adapted(base):
        raise BuildError(f"基础模型 {base} 不是 default，也不是训练得到的模型版本")
    model = load_adapted(Path(base))
    return list(model.layers), model.heads


def build_version(
    frame: pd.DataFrame,
    out: Path,
    *,
    base: str = ENCODER,
    source: dict | None = None,
    notes: list[str] | None = None,
    by: str | None = None,
    ngram: bool = True,
    anchors: int | None = None,
    cache: Path | bool | None = True,
    min_rows: int = MIN_ROWS,
    version: str | None = None,
    compare: dict[str, str] | None = None,
    strict: bool = True,
    progress: Progress = _quiet,
) -> dict:
    """Build a model version from ``frame`` into ``out`` and return its manifest.

    Args:
        frame: canonical labelled rows (:func:`nlp.adapt.labels.read_labelled`).
        out: the version directory to create (must not exist).
        base: ``default`` or an adapted version directory to start from.
        source: what the rows came from (``{"file": ..., "sha256": ...}``) for the manifest.
        notes: the reader's notes (skipped rows, labels left to the base).
        by: who builds it (default ``$USER``).
        ngram: also learn a character n-gram member for the sentiment layer.
        anchors: use a seeded sample of this many shipped borrower texts (quick runs).
        cache: encoder cache file; ``True`` = :func:`default_cache`, ``None``/``False`` = none.
        min_rows: the fewest positives a label head is learnt from.
        version: the version id (default ``adapt-<UTC time>-<data sha>``).
        compare: more models to measure on the held-back rows, ``{name in the manifest:
            model name or path}`` (the app compares the current version there).
        strict: refuse label kinds the base cannot learn (no label heads); else note them.
        progress: ``(fraction, message)`` callback.

    Raises:
        BuildError: ``out`` exists, or the base has no label heads to adapt.
    """
    from nlp.feedback import analyze_clause_lists, split_texts
    from nlp.heads import rule_hits
    from nlp.textnorm import normalize_many

    started = time.perf_counter()
    out = Path(out)
    if out.exists():
        raise BuildError(f"输出目录 {out} 已存在：模型版本一旦写成不再改动，请换一个目录")
    cache_path = default_cache() if cache is True else (cache or None)
    base_layers, base_heads = _base(base)
    names = head_names(frame, min_rows)
    learn_sentiment = "sentiment" in frame and frame["sentiment"].notna().any()
    notes = list(notes or [])
    if names and base_heads is None:
        if strict:
            raise BuildError(
                "基础模型没有标签头（nlp/model/heads.npz），无法学习情绪/投诉/催收方式"
            )
        notes.append("基础模型没有标签头：情绪、投诉与催收方式沿用规则，只学习情感")
        names = []
    if not learn_sentiment and not names:
        raise BuildError(f"没有足够的标注可学习（每个类别至少需要 {min_rows} 行）")
    frame = frame.reset_index(drop=True)
    held = split_holdback(frame)
    fit_rows, held_rows = frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)
    anchor = anchor_frame(anchors)
    anchor_tune = anchor.sample(frac=0.2, random_state=SEED)
    anchor_fit = anchor.drop(anchor_tune.index).reset_index(drop=True)
    anchor_tune = anchor_tune.reset_index(drop=True)

    progress(0.0, "编码文本")
    norm_fit, norm_af, norm_at = (
        normalize_many(f["text"].tolist()) for f in (fit_rows, anchor_fit, anchor_tune)
    )
    everything = [*norm_fit, *norm_af, *norm_at]
    probs, feats = encode_cached(everything, cache_path, lambda f, m: progress(0.55 * f, m))
    cut = np.cumsum([len(norm_fit), len(norm_af)])
    for layer in base_layers:
        probs = layer.apply(everything, probs, feats)
    if base_heads is not None:
        standard = (base_heads.mean, base_heads.scale)
    else:
        standard = (feats[cut[0] :].mean(axis=0), feats[cut[0] :].std(axis=0) + 1e-6)
    report: dict = {}
    layers = list(base_layers)
    if learn_sentiment:
        progress(0.6, "训练情感层")
        known = fit_rows["sentiment"].notna().to_numpy()
        mean, scale = standard
        sample = np.random.default_rng(SEED).permutation(np.arange(cut[0], cut[1]))[:GATE_ANCHORS]
        gate = fit.fit_gate((feats[sample] - mean) / scale, (feats[: cut[0]][known] - mean) / scale)
        layer, report["sentiment"] = fit.fit_sentiment_layer(
            [t for t, k in zip(norm_fit, known, strict=True) if k],
            probs[: cut[0]][known],
            feats[: cut[0]][known],
            fit_rows.loc[known, "sentiment"].tolist(),
            gate,
            standard,
            ngram=ngram,
            step=lambda m: progress(0.65, m),
        )
        if layer.mix > 0:
            layers.append(layer)
    heads = base_heads
    if names:
        from nlp.ngrams import tfidf_rows

        progress(0.75, "训练标签头")
        analyses = analyze_clause_lists(split_texts(everything))
        hits = rule_hits(analyses, names)
        grams = tfidf_rows(everything, base_heads.vocab, base_heads.idf)
        parts = [slice(0, cut[0]), slice(cut[0], cut[1]), slice(cut[1], len(everything))]
        frames = (fit_rows, anchor_fit, anchor_tune)
        cust, anch, tune = (
            (grams[p], hits[p], label_matrix(f, names)) for p, f in zip(parts, frames, strict=True)
        )
        heads, report["heads"] = fit.fit_label_heads(
            base_heads, names, anch, tune, cust, step=lambda m: progress(0.8, m)
        )
    by = by or os.environ.get("USER") or getpass.getuser()
    built_at = datetime.now(UTC)
    digest = (source or {}).get("sha256") or _frame_sha(frame)
    version = version or f"adapt-{built_at:%Y%m%d-%H%M%S}-{digest[:6]}"
    manifest = {
        "version": version,
        "base": base if base == ENCODER else load_adapted(Path(base)).version,
        "base_path": base,
        "encoder": ENCODER,
        "encoder_id": _encoder_id(),
        "sentiment_head": base_sentiment_head(),
        "data": {
            **(source or {}),
            "sha256": digest,
            "rows": len(frame),
            "fit_rows": len(fit_rows),
            "heldback_rows": len(held_rows),
            "counts": label_counts(frame),
            "notes": notes,
        },
        "learnt": {
            "sentiment": report.get("sentiment"),
            "sentiment_layers": len(layers),
            "heads": sorted(n for n, r in report.get("heads", {}).items() if r["kept"]),
            "heads_report": report.get("heads", {}),
            "ngram": ngram,
        },
        "built_at": built_at.isoformat(timespec="seconds"),
        "built_by": by,
    }
    partial = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    partial.mkdir(parents=True)
    try:
        if heads is not None:
            if manifest["learnt"]["heads"]:  # label heads refitted: they are this version's
                heads = replace(heads, card={**heads.card, "version": version, "adapted": base})
            heads.save(partial / HEADS_FILE)
        save_layers(partial, layers)
        (partial / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        progress(0.85, "在保留样本上评估")
        manifest["metrics"] = {
            "heldback": {
                "before": evaluate(base, held_rows),
                "after": evaluate(str(partial), held_rows),
                **{name: evaluate(model, held_rows) for name, model in (compare or {}).items()},
            }
        }
        manifest["seconds"] = round(time.perf_counter() - started, 1)
        (partial / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        if out.exists():
            raise BuildError(f"输出目录 {out} 已存在")
        os.rename(partial, out)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    progress(1.0, "完成")
    return manifest


def _encoder_id() -> str:
    """The shipped ensemble's model id (its weights' sha): a version's layers read its features."""
    from nlp.sentiment import get_backend

    return get_backend(ENCODER).model_id


def _frame_sha(frame: pd.DataFrame) -> str:
    """sha256 of the canonical rows (when there is no file to hash)."""
    text = frame.to_json(orient="records", force_ascii=False, date_format="iso")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
