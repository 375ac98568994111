"""Local engine vs Ray engine on one machine: ``python -m bench.ray_bench [--out bench/ray.md]``.

Generated demo survey answers (``data.demo.generate_demo``) are scored three ways, each as the
user runs it, in a fresh process timed from start to exit:

- ``python -m nlp score`` (the local engine);
- ``python -m nlp score --engine ray --workers 1`` and ``--workers 2`` (a local Ray started by the
  command: its start-up is part of the time).

A second table times the Ray job alone on an already running Ray (``run_job`` in one process),
which is what a long-lived cluster pays per job. ``--big N`` adds one Ray run on N rows and the
import of its output into a fresh DuckDB (``python -m data import``).

Bad numbers on a busy machine are possible: the load average is printed with each row.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 2**20:.0f} GiB RAM"
    except (OSError, AttributeError):
        mem = "? RAM"
    import ray

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem}, Python {platform.python_version()}, "
        f"ray {ray.__version__}"
    )


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def write_input(rows: int, path: Path) -> Path:
    from data.demo import generate_demo

    demo = generate_demo(n_surveys=rows, n_calls=1).surveys
    demo.to_csv(path, index=False)
    return path


def run(args: list[str]) -> tuple[float, str]:
    """Wall seconds of one command in a fresh interpreter, and its last stderr line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [PY, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "core_worker.cc" not in ln]
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr[-2000:]}")
    return seconds, (lines[-1] if lines else "")


def cold_rows(src: Path, model: str, tmp: Path) -> list[list[str]]:
    rows = []
    n = sum(1 for _ in src.open(encoding="utf-8")) - 1
    score = ["-m", "nlp", "score", str(src), "--text-column", "text", "--model", model]
    cases = [("local", None, [*score, "--out", str(tmp / f"local-{model}.parquet")])]
    for workers in (1, 2):
        out = tmp / f"ray-{model}-{workers}"
        cases.append(
            (
                "ray",
                workers,
                [*score, "--out", str(out), "--engine", "ray", "--workers", str(workers)],
            )
        )
    base = None
    for engine, workers, args in cases:
        before = load()
        seconds, _ = run(args)
        base = base or seconds
        rows.append(
            [
                engine,
                str(workers or "-"),
                model,
                f"{n:,}",
                f"{seconds:.1f}",
                f"{n / seconds:,.0f}",
                f"{seconds / base:.2f}×",
                before,
            ]
        )
    return rows


def warm_rows(src: Path, models: dict[str, Path], tmp: Path) -> list[list[str]]:
    """Jobs on one already running local Ray (3 logical CPUs: 2 workers + 1 for I/O)."""
    import ray

    from nlp.cli.ray_job import run_job

    ray.init(
        num_cpus=3,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    rows = []
    try:
        for model, path in models.items():
            n = sum(1 for _ in path.open(encoding="utf-8")) - 1
            for workers in (1, 2):
                before = load()
                result = run_job(
                    str(path), str(tmp / f"warm-{model}-{workers}"), "text", model, workers=workers
                )
                rows.append(
                    [
                        str(workers),
                        model,
                        f"{n:,}",
                        f"{result['seconds']:.1f}",
                        f"{n / result['seconds']:,.0f}",
                        str(result["files"]),
                        before,
                    ]
                )
    finally:
        ray.shutdown()
    return rows


def big_run(rows: int, tmp: Path) -> list[str]:
    src = write_input(rows, tmp / f"big-{rows}.csv")
    out = tmp / "big-scored"
    lines = [
        f"- Input: {rows:,} generated survey answers, "
        f"{src.stat().st_size / 2**20:.1f} MiB CSV; load average {load()} before."
    ]
    seconds, summary = run(
        [
            "-m",
            "nlp",
            "score",
            str(src),
            "--text-column",
            "text",
            "--model",
            "lexicon",
            "--out",
            str(out),
            "--engine",
            "ray",
            "--workers",
            "2",
        ]
    )
    lines.append(
        f"- `python -m nlp score big.csv --engine ray --workers 2 --model lexicon`: "
        f"**{seconds:.1f} s** wall ({rows / seconds:,.0f} rows/s), "
        f"{len(list(out.glob('*.parquet')))} part files. Its summary: `{summary}`"
    )
    seconds, summary = run(
        [
            "-m",
            "nlp",
            "score",
            str(src),
            "--text-column",
            "text",
            "--model",
            "lexicon",
            "--out",
            str(tmp / "big-local.parquet"),
        ]
    )
    lines.append(f"- Same file, local engine: {seconds:.1f} s wall ({rows / seconds:,.0f} rows/s).")
    seconds, summary = run(
        ["-m", "data", "import", str(out), "--kind", "survey", "--db", str(tmp / "big.duckdb")]
    )
    lines.append(
        f"- `python -m data import` of that output into a new DuckDB (no rescoring): "
        f"{seconds:.1f} s wall."
    )
    return lines


def table(header: list[str], rows: list[list[str]]) -> str:
    align = [
        "---" if i < 3 and h in ("engine", "workers", "model") else "--:"
        for i, h in enumerate(header)
    ]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ray_bench")
    ap.add_argument("--rows", type=int, default=20_000, help="rows for the lexicon model")
    ap.add_argument("--default-rows", type=int, default=2_000, help="rows for the default model")
    ap.add_argument("--big", type=int, default=0, help="also one Ray run on this many rows")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "ray.md")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bv-ray-bench-"))
    try:
        lex = write_input(args.rows, tmp / "lexicon.csv")
        dflt = write_input(args.default_rows, tmp / "default.csv")
        run(["-m", "nlp", "build-model"])
        started = datetime.now().strftime("%Y-%m-%d %H:%M")
        cold = cold_rows(lex, "lexicon", tmp) + cold_rows(dflt, "default", tmp)
        warm = warm_rows(lex, {"lexicon": lex, "default": dflt}, tmp)
        big = big_run(args.big, tmp) if args.big else []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    command = " ".join(["python -m bench.ray_bench", *(argv if argv is not None else sys.argv[1:])])
    text = "\n".join(
        [
            "# Ray engine benchmark",
            "",
            "Generated by `bench/ray_bench.py`; do not edit by hand, rerun the command below.",
            "",
            f"- Date: {started} (local)",
            f"- Machine: {machine()}",
            f"- Command: `{command}`",
            "- Texts: generated demo survey answers (`data.demo.generate_demo`), median about "
            "46 characters.",
            "",
            "## Whole command, fresh process",
            "",
            "Wall time from start to exit, as a user runs it: interpreter, model load, for Ray also "
            "starting a local Ray, counting the input and writing Parquet part files. "
            "`vs local` = seconds / the local engine's seconds for the same model and rows.",
            "",
            table(
                ["engine", "workers", "model", "rows", "seconds", "rows/s", "vs local", "load avg"],
                cold,
            ),
            "",
            "## Ray job alone, Ray already running",
            "",
            "`nlp.cli.ray_job.run_job` on one local Ray started once (3 logical CPUs): what each job "
            "costs on a long-lived cluster. Includes the workers' model load.",
            "",
            table(
                ["workers", "model", "rows", "seconds", "rows/s", "part files", "load avg"], warm
            ),
            *(["", "## Scale run", "", *big] if big else []),
            "",
        ]
    )
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
