"""One backend in its own process: load it, time it, measure quality and peak memory.

``spawn_worker`` (the parent side) starts a fresh interpreter running ``run_worker`` so that
each backend's load time and peak RSS are its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    BACKENDS,
    MODEL_DIR,
    ROOT,
    OtherLoad,
    binary_accuracy,
    binary_predictions,
    env,
    last_line,
)


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _load_pipeline():
    """The naive baseline: ``transformers.pipeline`` on the default model, one call per text."""
    from transformers import pipeline

    pipe = pipeline(
        "text-classification",
        model=str(MODEL_DIR),
        tokenizer=str(MODEL_DIR),
        device=-1,
        top_k=None,
    )

    def run_pipe(texts):
        neg, pos = [], []
        for t in texts:  # deliberately naive: one call per text
            out = pipe(t)
            scores = out[0] if out and isinstance(out[0], list) else out
            by = {s["label"]: s["score"] for s in scores}
            neg.append(by.get("negative", 0.0))
            pos.append(by.get("positive", 0.0))
        return neg, pos, None

    return run_pipe


def _load_snownlp():
    from snownlp import SnowNLP

    def run_snow(texts):
        s = [SnowNLP(t).sentiments for t in texts]
        return [1 - v for v in s], s, None

    return run_snow


def _load(name: str):
    """(scorer: texts -> (p_neg, p_pos, probs or None), tokenise or None) for a backend."""
    if name == "hf-pipeline":
        return _load_pipeline(), None
    if name == "snownlp":
        return _load_snownlp(), None
    from nlp.sentiment import get_backend

    backend = get_backend(name)

    def run_backend(texts):
        probs = backend.predict_proba(texts)
        return probs[:, 0].tolist(), probs[:, 2].tolist(), probs

    run_backend.model = _describe(backend)  # type: ignore[attr-defined]
    # the transformer's tokeniser, also inside an ensemble (its first member)
    members = getattr(backend, "members", None)
    tokenise = getattr(backend, "_ids", None) or (
        getattr(members[0][0], "_ids", None) if members else None
    )
    return run_backend, tokenise


def _describe(backend) -> str:
    """``0.5×e5-borrower-int8:4ab368e2 + 0.2×tfidf`` for an ensemble, else its model_id."""
    members = getattr(backend, "members", None)
    if members:
        mixed = " + ".join(f"{w:g}×{_describe(b)}" for b, w in members)
        return f"({mixed}) + sentiment head" if hasattr(backend, "ensemble") else mixed
    return str(getattr(backend, "model_id", type(backend).__name__))


def run_worker(spec_path: str) -> int:
    """Subprocess body: load one backend, time it, write a JSON result. Not for direct use."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    name, data = spec["backend"], json.loads(Path(spec["texts"]).read_text(encoding="utf-8"))
    _, normalised, three_class = BACKENDS[name]
    texts, labels = data["texts"][: spec["limit"]], data["labels"][: spec["limit"]]
    res: dict = {"backend": name, "n": len(texts)}
    t0 = time.perf_counter()
    scorer, tokenise = _load(name)
    from nlp.textnorm import normalize_many

    res["load_s"] = time.perf_counter() - t0
    res["rss_load_mb"] = _rss_mb()
    res["model"] = getattr(scorer, "model", None)

    t0, c0 = time.perf_counter(), time.process_time()
    inputs = normalize_many(texts) if normalised else texts
    res["norm_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    neg, pos, _ = scorer(inputs)
    res["predict_s"] = time.perf_counter() - t0
    res["score_s"] = res["norm_s"] + res["predict_s"]
    res["score_cpu_s"] = time.process_time() - c0  # all threads; less sensitive to other load
    res["binary_pred"] = binary_predictions(neg, pos)
    res["binary_acc"] = binary_accuracy(labels, res["binary_pred"])
    if tokenise is not None:  # profiling only: tokenisation alone, same texts
        t0 = time.perf_counter()
        ids = tokenise(inputs)
        res["tok_s"] = time.perf_counter() - t0
        res["mean_tokens"] = sum(map(len, ids)) / max(1, len(ids))
    if three_class and spec.get("dev"):
        res["dev"] = _dev_quality(scorer, Path(spec["dev"]))
    if spec.get("calls"):
        res["calls"] = _call_turns_speed(scorer, tokenise, Path(spec["calls"]))
    res["peak_rss_mb"] = _rss_mb()
    Path(spec["out"]).write_text(json.dumps(res, ensure_ascii=False), encoding="utf-8")
    return 0


def _dev_quality(scorer, dev: Path) -> dict:
    """3-class report of a scorer on the borrower dev set (JSONL: text, sentiment)."""
    from nlp.evaluate import classification_report
    from nlp.labels import SENTIMENTS
    from nlp.sentiment import probs_to_labels
    from nlp.textnorm import normalize_many

    rows = [json.loads(x) for x in dev.read_text(encoding="utf-8").splitlines() if x.strip()]
    t0 = time.perf_counter()
    *_, probs = scorer(normalize_many([r["text"] for r in rows]))
    pred, _ = probs_to_labels(probs)
    rep = classification_report([r["sentiment"] for r in rows], pred, SENTIMENTS)
    return {
        "n": rep["n"],
        "accuracy": rep["accuracy"],
        "macro_f1": rep["macro_f1"],
        "f1": {k: v["f1"] for k, v in rep["per_label"].items()},
        "pred": pred,
        "seconds": time.perf_counter() - t0,
    }


def _call_turns_speed(scorer, tokenise, calls: Path) -> dict:
    """Time to normalise and score call-turn-length texts (a JSON list of strings)."""
    from nlp.textnorm import normalize_many

    turns = json.loads(calls.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    norm = normalize_many(turns)
    scorer(norm)
    out = {
        "n": len(turns),
        "seconds": time.perf_counter() - t0,
        "mean_chars": sum(map(len, turns)) / max(1, len(turns)),
    }
    if tokenise is not None:
        out["mean_tokens"] = sum(map(len, tokenise(norm))) / max(1, len(turns))
    return out


def spawn_worker(name: str, spec: dict, tmp: Path, timeout: float = 1800) -> dict:
    """Run :func:`run_worker` for one backend in a fresh interpreter."""
    spec = {**spec, "backend": name, "out": str(tmp / f"{name}.result.json")}
    spec_path = tmp / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    code = "import sys\nfrom bench.worker import run_worker\nsys.exit(run_worker(sys.argv[1]))"
    with OtherLoad() as others:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code, str(spec_path)],
            cwd=ROOT,
            env=env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if proc.returncode != 0:
        return {"backend": name, "error": last_line(proc.stderr)}
    res = json.loads(Path(spec["out"]).read_text(encoding="utf-8"))
    res["process_s"] = time.perf_counter() - t0
    res["others"] = others.share
    return res
