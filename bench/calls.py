"""``python -m bench.calls``: how fast a file of calls is analysed, with and without the model.

Times :func:`nlp.compliance.score_calls` (the one batch function for calls: every distinct turn
scored once by the model, its heads, the risk model and the call heads, then the rules) and the
rule engine alone (:func:`analyze_calls` with the keyword stand-in), on demo calls, and writes
``bench/calls.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path

OUT = Path(__file__).resolve().parent / "calls.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.calls")
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    from data.demo import generate_demo
    from nlp.compliance import analyze_calls, load_profile, score_calls, stand_in_sentiment
    from nlp.sentiment import get_backend

    demo = generate_demo(n_surveys=1, n_calls=args.calls)
    profile = load_profile("china")
    get_backend(args.model)  # load the model outside the timing, as the app does once
    analyze_calls(demo.calls.head(5), demo.turns, profile, stand_in_sentiment)
    t0 = time.perf_counter()
    analyze_calls(demo.calls, demo.turns, profile, stand_in_sentiment)
    rules_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_calls(demo.calls, demo.turns, profile, model=args.model)
    model_s = time.perf_counter() - t0
    turns, distinct = len(demo.turns), demo.turns["text"].nunique()
    lines = [
        "# Calls benchmark",
        "",
        f"Measured {date.today().isoformat()} on {os.cpu_count()} cores with "
        f"`PYTHONPATH=. .venv/bin/python -m bench.calls --calls {args.calls}`: "
        f"{args.calls:,} demo calls, {turns:,} turns ({distinct:,} distinct texts).",
        "",
        "| what | seconds | calls/s |",
        "|---|---|---|",
        f"| rule engine alone (keyword stand-in for mood) | {rules_s:.1f} | "
        f"{args.calls / rules_s:,.0f} |",
        f"| `score_calls` with `{args.model}` (model, heads, risk model, call heads, rules) | "
        f"{model_s:.1f} | {args.calls / model_s:,.0f} |",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
