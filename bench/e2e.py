"""Whole-process runs: a fresh ``python -c`` per measurement, imports and model load included."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, OtherLoad, env, last_line

_E2E_HEAD = "import json, resource, sys, time\nT = {'start': time.time()}\n"
_E2E_READ = "texts = json.load(open(sys.argv[1], encoding='utf-8'))['texts']\n"
_E2E_TAIL = (
    "T['score'] = time.time()\n"
    "r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(json.dumps({'marks': T, 'maxrss_kb': r.ru_maxrss, "
    "'cpu_s': r.ru_utime + r.ru_stime, 'n': len(texts), 'positive': int(pos)}))\n"
)
_E2E_MODEL = (
    "import onnxruntime, tokenizers\n"
    "from nlp.sentiment import get_backend, probs_to_labels\n"
    "from nlp.textnorm import normalize_many\n" + _E2E_READ + "T['imports'] = time.time()\n"
    "backend = get_backend('{name}')\nT['load'] = time.time()\n"
    "labels, _ = probs_to_labels(backend.predict_proba(normalize_many(texts)))\n"
    "pos = labels.count('positive')\n"
)
# run -> (label, body); the body sets T['imports'] and T['load'] and leaves ``pos``.
E2E_RUNS: dict[str, tuple[str, str]] = {
    "snownlp": (
        "SnowNLP",
        "from snownlp import SnowNLP\n" + _E2E_READ + "T['imports'] = T['load'] = time.time()\n"
        "pos = sum(SnowNLP(t).sentiments > 0.5 for t in texts)\n",
    ),
    "default": (
        "default model (normalise + ONNX/TF-IDF/lexicon ensemble)",
        _E2E_MODEL.format(name="default"),
    ),
    "default-onnx": (
        "default-onnx (normalise + int8 ONNX alone)",
        _E2E_MODEL.format(name="default-onnx"),
    ),
    "default+rules": (
        "default model, full score_texts (rules too)",
        "import onnxruntime, tokenizers\n"
        "from nlp.pipeline import score_texts\nfrom nlp.sentiment import get_backend\n"
        + _E2E_READ
        + "T['imports'] = time.time()\n"
        "get_backend('default')\nT['load'] = time.time()\n"
        "pos = (score_texts(texts, 'default')['sentiment'] == 'positive').sum()\n",
    ),
    "lexicon+rules": (
        "lexicon, full score_texts (rules too)",
        "from nlp.pipeline import score_texts\nfrom nlp.sentiment import get_backend\n"
        + _E2E_READ
        + "T['imports'] = time.time()\n"
        "get_backend('lexicon')\nT['load'] = time.time()\n"
        "pos = (score_texts(texts, 'lexicon')['sentiment'] == 'positive').sum()\n",
    ),
}


def e2e_code(run: str) -> str:
    """The exact ``python -c`` program of a whole-process run (texts file as argv[1])."""
    return _E2E_HEAD + E2E_RUNS[run][1] + _E2E_TAIL


def run_e2e(run: str, texts_file: Path, timeout: float = 1800) -> dict:
    """Time one whole-process run in a fresh interpreter; phases from its own clock marks."""
    with OtherLoad() as others:
        t_spawn = time.time()
        proc = subprocess.run(
            [sys.executable, "-c", e2e_code(run), str(texts_file)],
            cwd=ROOT,
            env=env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        t_done = time.time()
    if proc.returncode != 0:
        return {"run": run, "error": last_line(proc.stderr)}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    m = out["marks"]
    return {
        "run": run,
        "n": out["n"],
        "positive": out["positive"],
        "wall_s": t_done - t_spawn,
        "startup_s": m["start"] - t_spawn,
        "imports_s": m["imports"] - m["start"],
        "load_s": m["load"] - m["imports"],
        "score_s": m["score"] - m["load"],
        "exit_s": t_done - m["score"],
        "cpu_s": out["cpu_s"],
        "peak_rss_mb": out["maxrss_kb"] / 1024,
        "others": others.share,
    }
