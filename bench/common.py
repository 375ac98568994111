"""What every benchmark part shares: the sample, metrics, table cells, machine and load.

Example:
    >>> format_table(["a", "b"], [["x", "1"]]).splitlines()[1]
    '|---|--:|'
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp.modelfiles import MANIFEST_PATH

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = ROOT.parent / "shared" / "corpora"
DEV_BORROWER = ROOT / "tests" / "data" / "dev_borrower.jsonl"
DEV_CALLS = ROOT / "tests" / "data" / "dev_calls.jsonl"
MANIFEST = MANIFEST_PATH
MODEL_DIR = ROOT / "models" / "default"
SHOP_FILE = "online_shopping_10_cats.csv"
SAMPLE_CATEGORY = "水果"
SEED = 20240601
FULL_N = 4000
QUICK_N = 300
NAIVE_N = 400  # the one-text-at-a-time pipeline is timed on a subset of this size
SNOWNLP_TARGET = 1.5  # whole-process time of the default model, as a multiple of SnowNLP's

# name -> (table label, scores normalised text, has 3 classes)
BACKENDS: dict[str, tuple[str, bool, bool]] = {
    "lexicon": ("lexicon (rules, no torch)", True, True),
    "default": (
        "default: int8 ONNX + TF-IDF + lexicon ensemble + sentiment head (product)",
        True,
        True,
    ),
    "default-onnx": ("default-onnx: int8 ONNX Runtime alone", True, True),
    "default-torch": ("default-torch: fp32 torch", True, True),
    "default-torch-int8": ("default-torch-int8: torch dynamic int8", True, True),
    "hf-pipeline": ("naive transformers.pipeline, 1 text/call", False, False),
    "snownlp": ("SnowNLP(t).sentiments > 0.5", False, False),
}
ALL_BACKENDS = tuple(BACKENDS)


@dataclass(frozen=True)
class Sample:
    """The benchmark texts with their gold labels (negative / neutral / positive)."""

    texts: list[str]
    labels: list[str]
    source: str


def sample_reviews(
    n: int,
    seed: int = SEED,
    corpora: Path = DEFAULT_SHARED,
    fallback: Path = DEV_BORROWER,
    category: str = SAMPLE_CATEGORY,
) -> Sample:
    """``n`` short reviews drawn with a fixed seed: same arguments, same texts.

    Args:
        n: how many texts.
        seed: the sampling seed.
        corpora: the folder holding ``online_shopping_10_cats.csv``.
        fallback: a JSONL file (``text``, ``sentiment``) repeated to ``n`` rows when the
            corpora are absent.
        category: the online_shopping category to draw from.

    Returns:
        A :class:`Sample`; ``source`` says where the texts came from.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    shop = corpora / SHOP_FILE
    if shop.exists():
        import pandas as pd

        d = pd.read_csv(shop, encoding="utf-8-sig")
        d = d[(d["cat"] == category) & d["review"].notna()]
        d = d[d["review"].astype(str).str.strip().str.len() > 0]
        if d.empty:
            raise ValueError(f"{shop} 中没有类别 {category!r} 的评论")
        order = rng.permutation(len(d))
        idx = [order[i % len(order)] for i in range(n)]
        texts = d["review"].astype(str).str.strip().to_numpy()[idx].tolist()
        labels = np.where(d["label"].to_numpy()[idx] == 1, "positive", "negative").tolist()
        return Sample(texts, labels, f"{SHOP_FILE}, category {category} ({len(d):,} rows)")
    rows = [
        json.loads(line)
        for line in fallback.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    order = rng.permutation(len(rows))
    picked = [rows[order[i % len(order)]] for i in range(n)]
    return Sample(
        [r["text"] for r in picked],
        [r["sentiment"] for r in picked],
        f"{fallback.name} repeated to {n:,} rows ({corpora / SHOP_FILE} not found)",
    )


def binary_predictions(p_neg: Sequence[float], p_pos: Sequence[float]) -> list[str]:
    """``positive`` where P(positive) >= P(negative), else ``negative`` (neutral ignored)."""
    return ["positive" if p >= n else "negative" for n, p in zip(p_neg, p_pos, strict=True)]


def binary_accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Accuracy over the rows whose gold label is positive or negative (NaN when none)."""
    pairs = [(g, p) for g, p in zip(gold, pred, strict=True) if g in ("positive", "negative")]
    return sum(g == p for g, p in pairs) / len(pairs) if pairs else float("nan")


def agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of rows where two prediction lists agree."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else float("nan")


def call_turns(
    path: Path = DEV_CALLS, speakers: tuple[str, ...] = ("borrower", "agent")
) -> list[str]:
    """The texts of the borrower and agent turns of a calls JSONL file, in file order."""
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            for turn in json.loads(line)["turns"]:
                if turn.get("speaker") in speakers and str(turn.get("text", "")).strip():
                    turns.append(str(turn["text"]))
    return turns


def fmt(value: float | int | None, digits: int = 1) -> str:
    """A table cell: thousands separators for counts, fixed decimals, ``—`` for missing."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: Sequence[int] = (0,)
) -> str:
    """A GitHub markdown table: ``text_columns`` (indexes, negative from the end) left-aligned,
    the others (numbers) right-aligned. An empty ``rows`` gives a one-line note instead."""
    if not rows:
        return "(not run)"
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, expected {len(headers)}")
    left = {i % len(headers) for i in text_columns}
    align = ["---" if i in left else "--:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_info(
    cpuinfo: Path = Path("/proc/cpuinfo"), meminfo: Path = Path("/proc/meminfo")
) -> dict:
    """Cores usable by this process, the CPU model and total memory (Linux ``/proc``)."""
    model, mem_gb = platform.processor() or platform.machine(), None
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 2**20
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "cpu": model, "mem_gb": mem_gb, "python": platform.python_version()}


def versions() -> dict[str, str]:
    """Installed versions of the packages that decide the timings."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("onnxruntime", "torch", "transformers", "tokenizers", "snownlp"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def git_commit() -> str:
    """The checked-out commit (read-only ``git rev-parse``), or ``unknown``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def trained_on(domain: str, manifest: Path = MANIFEST) -> bool | None:
    """Whether the shipped weights' training data includes ``domain`` (None: unknown)."""
    try:
        domains = json.loads(manifest.read_text(encoding="utf-8"))["training_data"]["domains"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return domain in domains


def busy_cpu_seconds(stat: Path = Path("/proc/stat")) -> float | None:
    """CPU seconds every process on the machine has spent busy since boot (None off Linux)."""
    try:
        fields = [int(x) for x in stat.read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def other_share(busy_s: float, ours_s: float, wall_s: float, cores: int) -> float:
    """Share of the machine (0..1) used by processes other than ours during ``wall_s``."""
    if wall_s <= 0 or cores <= 0:
        return float("nan")
    return min(1.0, max(0.0, (busy_s - ours_s) / (wall_s * cores)))


def _our_cpu() -> float:
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


class OtherLoad:
    """Context manager: ``share`` = how much of the machine others used meanwhile.

    Our own CPU (this process and the children it waited for) is subtracted from the
    machine's busy time, so the number is the noise other users added to a measurement.
    """

    share: float | None = None

    def __enter__(self) -> OtherLoad:
        self._busy, self._ours, self._t = busy_cpu_seconds(), _our_cpu(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = busy_cpu_seconds()
        if busy is None or self._busy is None:
            return
        cores = machine_info()["cores"] or 1
        self.share = other_share(
            busy - self._busy, _our_cpu() - self._ours, time.monotonic() - self._t, cores
        )


def wait_quiet(max_wait: float, threshold: float = 0.15, window: float = 2.0) -> float | None:
    """Wait (at most ``max_wait`` s) until others use under ``threshold`` of the machine."""
    deadline, logged = time.monotonic() + max_wait, False
    while True:
        with OtherLoad() as probe:
            time.sleep(window)
        if probe.share is None or probe.share <= threshold or time.monotonic() >= deadline:
            return probe.share
        if not logged:
            log(
                f"others use {100 * probe.share:.0f}% of the machine: waiting up to {max_wait:.0f}s"
            )
            logged = True
        time.sleep(3)


def log(msg: str) -> None:
    """One timestamped progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def env() -> dict[str, str]:
    """The environment of a child process: the repository importable, transformers quiet."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), out.get("PYTHONPATH")) if p)
    out.setdefault("TRANSFORMERS_VERBOSITY", "error")
    return out


def best_of(attempts: Sequence[dict], key: str = "wall_s") -> dict:
    """The fastest successful try (least disturbed by other load); ``tries`` keeps every time."""
    ok = [a for a in attempts if "error" not in a]
    if not ok:
        return attempts[-1]
    best = min(ok, key=lambda a: a[key])
    return {**best, "tries": [a[key] for a in ok]}


def last_line(text: str) -> str:
    """The last non-blank line of a child's stderr (at most 200 characters)."""
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:200] if lines else "no output"
