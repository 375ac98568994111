"""``python -m nlp``: score, eval, calls, train, adapt, build-model, bench (the entry points).

This package sits above the NLP core: the core never imports it.

Bad input exits with code 2 and one line naming the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nlp.cli.common import (
    JSON_COLUMNS,
    UsageError,
    progress_bar,
    read_input,
    serialise_labels,
    write_output,
)
from nlp.modelfiles import ModelNotBuiltError

__all__ = [
    "JSON_COLUMNS",
    "UsageError",
    "build_parser",
    "main",
    "read_input",
    "serialise_labels",
    "write_output",
]

_progress_bar = progress_bar


def cmd_score(args: argparse.Namespace) -> int:
    from nlp.pipeline import score_frame

    if args.engine == "ray":  # reads and writes on the cluster: INPUT/OUT may be URIs
        from nlp.cli.ray_job import score_with_ray

        return score_with_ray(args)
    out = Path(args.out)
    df = read_input(Path(args.input))
    if args.text_column not in df.columns:
        raise UsageError(f"找不到文本列 {args.text_column!r}（可用列：{', '.join(df.columns)}）")
    if out.suffix.lower() not in (".csv", ".jsonl", ".parquet"):
        raise UsageError(f"不支持的输出格式 {out.suffix}：请用 .csv、.jsonl 或 .parquet")
    bar, update = _progress_bar(len(df))
    try:
        scored = score_frame(df, args.text_column, args.model, update)
    finally:
        bar.close()
    scored = scored.drop(columns=["confidence"])
    write_output(scored, out)
    counts = scored["sentiment"].value_counts().to_dict()
    print(
        f"已评分 {len(scored):,} 条 → {out}  {counts}  模型 {scored['model'].iloc[0]}",
        file=sys.stderr,
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from nlp.evaluate import evaluate_frame, format_report
    from nlp.pipeline import score_frame

    df = read_input(args.labelled)
    columns = {
        "sentiment": args.sentiment_column,
        "aspects": args.aspects_column,
        "complaint": args.complaint_column,
        "emotions": args.emotions_column,
        "requests": args.requests_column,
        "complaint_reasons": args.complaint_reasons_column,
        "risk_flags": args.risk_flags_column,
    }
    for col in [args.text_column, *[c for c in columns.values() if c]]:
        if col not in df.columns:
            raise UsageError(f"找不到列 {col!r}（可用列：{', '.join(df.columns)}）")
    if not any(columns.values()):
        guess = {
            k: k
            for k in ("sentiment", "aspects", "complaint", "emotions", "requests", "risk_flags")
            if k in df.columns
        }
        if not guess:
            raise UsageError("没有可评估的标注列：请给出 --sentiment-column 等参数")
        columns = guess
    bar, update = _progress_bar(len(df))
    try:
        scored = score_frame(df[[args.text_column]].copy(), args.text_column, args.model, update)
    finally:
        bar.close()
    report = evaluate_frame(df, scored, columns)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m nlp", description="借款人之声 NLP 命令行")
    sub = ap.add_subparsers(dest="command", required=True)

    sc = sub.add_parser("score", help="给文件中的文本打标签")
    sc.add_argument("input", help="文件；--engine ray 时也可以是目录或 s3:// 等 URI")
    sc.add_argument("--text-column", required=True)
    sc.add_argument(
        "--out", required=True, help="输出 .csv/.jsonl/.parquet；--engine ray 时为 Parquet 分片目录"
    )
    sc.add_argument("--model", default=None, help="lexicon | default | 模型目录")
    sc.add_argument(
        "--batch-size", type=int, default=None, help="--engine ray：每批行数（默认 1000）"
    )
    sc.add_argument("--engine", choices=("local", "ray"), default="local")
    sc.add_argument(
        "--address",
        default=None,
        help="--engine ray：auto 或 ray://HOST:PORT；不给则在本机启动 Ray",
    )
    sc.add_argument(
        "--workers", type=int, default=None, help="--engine ray：评分进程数（默认每个 CPU 一个）"
    )
    sc.set_defaults(func=cmd_score)

    ev = sub.add_parser("eval", help="在标注文件上评估模型")
    ev.add_argument("labelled", type=Path)
    ev.add_argument("--text-column", required=True)
    ev.add_argument("--sentiment-column")
    ev.add_argument("--aspects-column")
    ev.add_argument("--complaint-column")
    ev.add_argument("--emotions-column")
    ev.add_argument("--requests-column")
    ev.add_argument("--complaint-reasons-column")
    ev.add_argument("--risk-flags-column", help="风险预警标注列（JSON 数组）")
    ev.add_argument("--model", default=None)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_eval)

    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "calls":
        from nlp.cli.calls import main_calls

        return main_calls(argv[1:])
    if argv and argv[0] == "eval-calls":
        from nlp.cli.calls import main_eval_calls

        return main_eval_calls(argv[1:])
    if argv and argv[0] == "build-model":
        from training.modelbuild import main_build_model

        return main_build_model(argv[1:])
    if argv and argv[0] == "train":
        from training.finetune import main_train

        return main_train(argv[1:])
    if argv and argv[0] == "train-heads":
        from training.heads import main_train_heads

        return main_train_heads(argv[1:])
    if argv and argv[0] == "train-call-heads":
        from training.call_heads import main_train_call_heads

        return main_train_call_heads(argv[1:])
    if argv and argv[0] == "train-risk":
        from training.risk import main_train_risk

        return main_train_risk(argv[1:])
    if argv and argv[0] == "adapt":
        from training.adapt import main_adapt

        return main_adapt(argv[1:])
    if argv and argv[0] == "train-tfidf":
        from training.tfidf import main_train_tfidf

        return main_train_tfidf(argv[1:])
    if argv and argv[0] == "bench":
        from bench.models import main_bench

        return main_bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except (KeyError, ValueError, OSError, ModelNotBuiltError) as exc:
        print(f"错误：{' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 2
