"""``python -m nlp adapt``: a customer's labelled texts -> a new model version, in minutes on CPU.

Reads the labelled file with the one reader, checks it (``nlp.adapt.labels``), and builds a
self-contained version directory (``nlp.adapt.build``): a sentiment layer and the label heads
the file has labels for, on top of the shipped encoder. Load it anywhere with
``--model DIR`` or ``BV_SENTIMENT_MODEL=DIR``.

Bad input exits with code 2 and one Chinese line naming the row or the column.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nlp.adapt.build import BuildError, build_version, file_sha
from nlp.adapt.labels import MIN_ROWS, AdaptInputError, LabelColumns, read_labelled
from nlp.cli.common import UsageError, one_line, read_input
from nlp.modelfiles import ModelNotBuiltError


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m nlp adapt",
        description="用标注数据训练新的模型版本（情感层 + 标签头，CPU 几分钟）",
    )
    ap.add_argument("labelled", type=Path, help="标注文件（CSV/XLSX/JSONL/Parquet）")
    ap.add_argument("--text-column", required=True)
    ap.add_argument("--sentiment-column", help="negative/neutral/positive 或 负面/中性/正面")
    ap.add_argument("--emotions-column", help="情绪列表，JSON 或用顿号/逗号分隔")
    ap.add_argument("--complaint-column", help="true/false 或 是/否")
    ap.add_argument("--aspects-column", help="催收方式：JSON 对象 {方式: 极性} 或列表")
    ap.add_argument("--out", type=Path, required=True, help="新模型版本目录（不能已存在）")
    ap.add_argument("--base", default="default", help="default 或已训练的模型版本目录")
    ap.add_argument("--by", default=None, help="训练人（默认 $USER）")
    ap.add_argument("--no-ngram", action="store_true", help="不训练字符 n-gram 成员")
    ap.add_argument("--min-rows", type=int, default=MIN_ROWS, help="每个类别至少需要的行数")
    ap.add_argument("--sheet", default=None, help="XLSX 的工作表名")
    return ap


def _bar():
    """A tqdm bar over 0..100 % and a ``(fraction, message)`` callback for it."""
    from tqdm import tqdm

    bar = tqdm(total=100, file=sys.stderr, desc="训练", bar_format="{l_bar}{bar}| {elapsed}")

    def update(fraction: float, message: str) -> None:
        bar.n = max(bar.n, round(100 * fraction))
        bar.set_description(message[:24], refresh=False)
        bar.refresh()

    return bar, update


def run(args: argparse.Namespace) -> int:
    columns = LabelColumns(
        text=args.text_column,
        sentiment=args.sentiment_column,
        emotions=args.emotions_column,
        complaint=args.complaint_column,
        aspects=args.aspects_column,
    )
    if args.out.exists():
        raise UsageError(f"输出目录 {args.out} 已存在：模型版本一旦写成不再改动，请换一个目录")
    df = read_input(args.labelled, args.sheet)
    try:
        frame, notes = read_labelled(df, columns, min_rows=args.min_rows)
    except AdaptInputError as exc:
        raise UsageError(f"{args.labelled.name}: {exc}") from None
    for note in notes:
        print(f"注意：{note}", file=sys.stderr)
    started = time.perf_counter()
    bar, update = _bar()
    try:
        manifest = build_version(
            frame,
            args.out,
            base=args.base,
            source={"file": args.labelled.name, "sha256": file_sha(args.labelled)},
            notes=notes,
            by=args.by,
            ngram=not args.no_ngram,
            min_rows=args.min_rows,
            progress=update,
        )
    finally:
        bar.close()
    print(summary(manifest, time.perf_counter() - started), file=sys.stderr)
    return 0


def summary(manifest: dict, seconds: float) -> str:
    """What was built and how it measured on the held-back rows, for the console."""
    held = manifest["metrics"]["heldback"]
    lines = [
        f"已生成模型版本 {manifest['version']}（基于 {manifest['base']}，"
        f"{manifest['data']['rows']:,} 行，保留 {manifest['data']['heldback_rows']:,} 行评估，"
        f"用时 {seconds:.0f} 秒）",
    ]
    for key, after in held["after"].items():
        if key != "rows":
            before = held["before"].get(key)
            lines.append(f"  {key:<20} {before if before is not None else '-':>8} → {after}")
    return "\n".join(lines)


def main_adapt(argv: list[str] | None = None) -> int:
    """``python -m nlp adapt LABELLED --text-column C [...] --out DIR [--base default|DIR]``."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except (BuildError, ModelNotBuiltError, ValueError, OSError) as exc:
        print(f"错误：{one_line(exc)}", file=sys.stderr)
        return 2
