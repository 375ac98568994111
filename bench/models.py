"""``python -m nlp bench``: speed, memory and accuracy of every sentiment backend.

Every backend scores the SAME sample of short reviews (category 水果 of
online_shopping_10_cats from ``../shared/corpora`` when present, else the borrower dev set
repeated), each in its own subprocess so that peak RSS numbers are clean. The product
target is checked separately: whole-process scoring of the sample (interpreter start,
imports and model load included) with the default model versus SnowNLP, each in a fresh
``python -c`` process.

Parts: ``bench.common`` (sample, metrics, machine load), ``bench.worker`` (one backend per
process), ``bench.e2e`` (whole-process runs), ``bench.report`` (the markdown).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from bench.common import (
    ALL_BACKENDS,
    BACKENDS,
    DEFAULT_SHARED,
    DEV_BORROWER,
    FULL_N,
    MANIFEST,
    NAIVE_N,
    QUICK_N,
    ROOT,
    SAMPLE_CATEGORY,
    SHOP_FILE,
    Sample,
    best_of,
    call_turns,
    log,
    machine_info,
    sample_reviews,
    trained_on,
    wait_quiet,
)
from bench.e2e import run_e2e
from bench.report import render_report
from bench.worker import spawn_worker

# whole-process run -> the backend it needs in --backends
E2E_NEEDS = (
    ("snownlp", "snownlp"),
    ("default", "default"),
    ("default-onnx", "default-onnx"),
    ("default+rules", "default"),
    ("lexicon+rules", "lexicon"),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m nlp bench`` options."""
    ap = argparse.ArgumentParser(prog="python -m nlp bench", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--n", type=int, default=None, help=f"texts (default {FULL_N}, --quick {QUICK_N})"
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_N} texts and no naive pipeline (for tests and smoke runs)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "README.md")
    ap.add_argument(
        "--backends",
        default=",".join(ALL_BACKENDS),
        help=f"comma list from: {', '.join(ALL_BACKENDS)}",
    )
    ap.add_argument(
        "--naive-n",
        type=int,
        default=NAIVE_N,
        help="texts for the one-text-at-a-time pipeline (≥300 for a fair rate)",
    )
    ap.add_argument("--corpora", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--no-e2e", action="store_true", help="skip the whole-process runs")
    ap.add_argument(
        "--repeat", type=int, default=1, help="fresh-process tries per measurement; fastest kept"
    )
    ap.add_argument(
        "--max-wait",
        type=float,
        default=None,
        help="seconds to wait before each measurement for other load to fall under 15%% of "
        "the machine (default 60, 0 with --quick)",
    )
    return ap


def main_bench(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the markdown report and write it to ``--out``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in names if b not in BACKENDS]
    if unknown:
        print(
            f"错误：未知后端 {', '.join(unknown)}（可用：{', '.join(ALL_BACKENDS)}）",
            file=sys.stderr,
        )
        return 2
    n = args.n or (QUICK_N if args.quick else FULL_N)
    notes = []
    if args.quick and "hf-pipeline" in names:
        names.remove("hf-pipeline")
        notes.append("--quick: naive transformers.pipeline skipped")
    started, load_before = dt.datetime.now(), os.getloadavg()[0]
    sample = sample_reviews(n, corpora=args.corpora)
    notes += _sample_notes(sample, args.corpora)
    repeat = max(1, args.repeat)
    max_wait = args.max_wait if args.max_wait is not None else (0 if args.quick else 60)
    with tempfile.TemporaryDirectory(prefix="bv-bench-") as tmp_name:
        tmp = Path(tmp_name)
        texts_file, calls_file = _write_inputs(sample, tmp)
        results = {
            name: _measure_backend(
                name,
                _worker_spec(name, n, args.naive_n, texts_file, calls_file),
                tmp,
                repeat,
                max_wait,
            )
            for name in names
        }
        e2e = [] if args.no_e2e else _measure_e2e(names, texts_file, repeat, max_wait)
    command = "python -m nlp bench" + "".join(f" {shlex.quote(a)}" for a in argv)
    report = render_report(
        command=command,
        machine=machine_info(),
        sample=sample,
        results=results,
        e2e=e2e,
        started=started,
        load_avg=(load_before, os.getloadavg()[0]),
        notes=notes,
    )
    print(report, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    log(f"written {args.out}")
    return 0


def _sample_notes(sample: Sample, corpora: Path) -> list[str]:
    """Report notes on where the texts came from and whether training saw their domain."""
    if not (corpora / SHOP_FILE).exists():
        log(f"{corpora / SHOP_FILE} not found: using {DEV_BORROWER.name} repeated")
    if not sample.source.startswith(SHOP_FILE):
        return []
    seen = trained_on(SAMPLE_CATEGORY)
    manifest = MANIFEST.relative_to(ROOT)
    if seen:
        return [
            f"`{manifest}` lists {SAMPLE_CATEGORY} among the shipped weights' training "
            "domains: review accuracy here measures fit, not generalisation (the held-out "
            "figures are in the manifest)."
        ]
    if seen is None:
        return [f"`{manifest}` not readable: unknown whether {SAMPLE_CATEGORY} was seen."]
    return []


def _write_inputs(sample: Sample, tmp: Path) -> tuple[Path, Path]:
    """The sample and the call turns as JSON files the child processes read."""
    texts_file = tmp / "texts.json"
    texts_file.write_text(
        json.dumps({"texts": sample.texts, "labels": sample.labels}, ensure_ascii=False),
        encoding="utf-8",
    )
    calls_file = tmp / "calls.json"
    calls_file.write_text(json.dumps(call_turns(), ensure_ascii=False), encoding="utf-8")
    return texts_file, calls_file


def _worker_spec(name: str, n: int, naive_n: int, texts_file: Path, calls_file: Path) -> dict:
    """What one backend's worker measures: how many texts, and the dev / call-turn runs."""
    return {
        "texts": str(texts_file),
        "limit": min(n, max(naive_n, 1)) if name == "hf-pipeline" else n,
        "dev": str(DEV_BORROWER) if BACKENDS[name][2] else None,
        "calls": str(calls_file) if name == "default" else None,
    }


def _measure_backend(name: str, spec: dict, tmp: Path, repeat: int, max_wait: float) -> dict:
    """``repeat`` fresh-process tries of one backend; the fastest successful one."""
    tries = []
    for rep in range(repeat):
        wait_quiet(max_wait)
        log(f"{name}: {spec['limit']:,} texts in a fresh process (try {rep + 1}/{repeat})")
        tries.append(spawn_worker(name, spec, tmp))
        r = tries[-1]
        log(
            f"{name}: "
            + (
                f"failed: {r['error']}"
                if "error" in r
                else f"{r['n'] / r['score_s']:.1f} texts/s, peak {r['peak_rss_mb']:.0f} MB"
            )
        )
    return best_of(tries, "score_s")


def _measure_e2e(names: list[str], texts_file: Path, repeat: int, max_wait: float) -> list[dict]:
    """The whole-process runs whose backend was asked for, interleaved, fastest try each."""
    runs = [run for run, need in E2E_NEEDS if need in names]
    attempts: dict[str, list[dict]] = {run: [] for run in runs}
    for rep in range(repeat):  # interleaved, so drift hits every run alike
        for run in runs:
            wait_quiet(max_wait)
            log(f"whole process: {run} (try {rep + 1}/{repeat})")
            attempts[run].append(run_e2e(run, texts_file))
            r = attempts[run][-1]
            log(
                f"{run}: "
                + (f"failed: {r['error']}" if "error" in r else f"{r['wall_s']:.1f}s wall")
            )
    return [best_of(a) for a in attempts.values()]


if __name__ == "__main__":
    raise SystemExit(main_bench())
