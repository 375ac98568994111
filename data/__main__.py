"""``python -m data``: ingest files, import scored output, load the demo, list/delete batches.

Bad input exits with code 2 and a message naming the row and column; nothing is stored.
While the app runs it holds the database (DuckDB allows one writing process): ``ingest`` and
``import`` then hand the file to the app's inbox (``data.inbox``) and print the app's result;
the other commands say so in one line (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class _LazyBar:
    """A tqdm bar that appears on the first progress report, so a rejected file prints only
    its error message."""

    def __init__(self) -> None:
        self.bar = None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="段", file=sys.stderr, desc="评分")
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress():
    bar = _LazyBar()
    return bar, bar.update


def _report(record: dict) -> int:
    """Print an import's result record (direct or from the app's inbox); the exit code."""
    if not record.get("ok"):
        print(f"错误：{record.get('error')}", file=sys.stderr)
        problems = record.get("problems") or []
        if len(problems) == 1 and problems[0].rpartition("：")[2] in str(record.get("error")):
            problems = []  # the one problem is the error line itself
        for problem in problems[:20]:
            print(f"  - {problem}", file=sys.stderr)
        if len(problems) > 20:
            print(f"  …… 另有 {len(problems) - 20} 处", file=sys.stderr)
        return 2
    for warning in (record.get("warnings") or [])[:10]:
        print(f"  提示：{warning}", file=sys.stderr)
    seconds = record.get("seconds")
    print(record["summary"] + (f" 用时 {seconds:.1f} 秒。" if seconds else ""))
    return 0


def _busy_line(busy, way_out: str) -> int:
    print(f"错误：{busy.message(way_out)}", file=sys.stderr)
    return 2


def _via_inbox(args, busy, source: Path, options: dict, meta: Path | None = None) -> int:
    """The database is held (by the running app): hand the file to the app's inbox, wait for
    its result and print it as a direct import would."""
    from data import inbox
    from data.settings import settings

    cfg = settings()
    db = Path(args.db or cfg.db_path)
    box = cfg.inbox_for(db)
    if box is None:
        return _busy_line(busy, "收件箱已关闭（BV_INBOX=off），请先停止应用再运行此命令")
    if meta is not None and not meta.exists():
        print(f"错误：找不到文件 {meta}", file=sys.stderr)
        return 2
    pid = inbox.worker_pid(box, db)
    if pid is None:
        return _busy_line(
            busy, "占用它的不是正在运行的应用（收件箱无人处理），请等该进程结束后重试"
        )
    job = inbox.submit(box, source, {**options, "db": str(db.resolve())}, meta)
    if args.no_wait:
        print(
            f"数据库正被运行中的应用（PID {pid}）占用：已交给应用导入，结果将写入 {job.result_file}"
        )
        return 0
    print(
        f"数据库正被运行中的应用（PID {pid}）占用：已把 {source.name} 交给应用导入，"
        f"最多等待 {args.timeout:g} 秒……",
        file=sys.stderr,
    )
    record = inbox.wait(job, args.timeout)
    if record is None:
        print(
            f"错误：{args.timeout:g} 秒内应用未完成导入；文件仍在收件箱中，应用会继续导入，"
            f"结果将写入 {job.result_file}",
            file=sys.stderr,
        )
        return 2
    return _report(record)


def cmd_ingest(args) -> int:
    from data.inbox import error_record, result_record
    from data.ingest import IngestError, ingest_calls_bytes, ingest_survey_bytes
    from data.settings import settings
    from data.store import StoreBusy, open_store

    path: Path = args.file
    if not path.exists():
        print(f"错误：找不到文件 {path}", file=sys.stderr)
        return 2
    cfg = settings()
    if path.stat().st_size > cfg.max_upload_mb * 2**20:
        print(f"错误：文件超过 {cfg.max_upload_mb} MB 上限（BV_MAX_UPLOAD_MB）", file=sys.stderr)
        return 2
    try:
        store = open_store(args.db)
    except StoreBusy as busy:
        options = {
            "kind": args.kind,
            "file_name": path.name,
            "text_column": args.text_column,
            "user": args.user,
            "model": args.model,
            "keep_duplicates": args.keep_duplicates,
        }
        return _via_inbox(args, busy, path, options, args.meta)
    bar, update = _progress()
    try:
        if args.kind == "survey":
            result = ingest_survey_bytes(
                store,
                path.read_bytes(),
                path.name,
                text_column=args.text_column,
                uploaded_by=args.user,
                model=args.model,
                progress=update,
                max_rows=cfg.max_rows,
                keep_duplicates=args.keep_duplicates,
            )
        else:
            result = ingest_calls_bytes(
                store,
                path.read_bytes(),
                path.name,
                meta=args.meta,
                uploaded_by=args.user,
                model=args.model,
                progress=update,
            )
    except IngestError as exc:
        bar.close()
        return _report(error_record(exc))
    bar.close()
    return _report(result_record(result))


def cmd_import(args) -> int:
    """Store already-scored output as a batch, without scoring again: survey Parquet
    (``python -m nlp score --engine ray``) or analysed calls (``python -m nlp calls``, local
    or ``--engine ray``, a JSONL file)."""
    from data.inbox import error_record, result_record
    from data.ingest import IngestError
    from data.scored_calls_import import import_scored_calls
    from data.scored_import import import_scored_survey
    from data.store import StoreBusy, open_store

    try:
        store = open_store(args.db)
    except StoreBusy as busy:
        if not args.path.exists():
            print(f"错误：找不到 {args.path}", file=sys.stderr)
            return 2
        options = {
            "kind": "scored_survey" if args.kind == "survey" else "scored_calls",
            "file_name": args.file_name or args.path.name,
            "text_column": args.text_column,
            "user": args.user,
        }
        return _via_inbox(args, busy, args.path, options)
    try:
        if args.kind == "calls":
            result = import_scored_calls(
                store, args.path, file_name=args.file_name, uploaded_by=args.user
            )
        else:
            result = import_scored_survey(
                store,
                args.path,
                text_column=args.text_column,
                file_name=args.file_name,
                uploaded_by=args.user,
            )
    except IngestError as exc:
        return _report(error_record(exc))
    return _report(result_record(result))


def cmd_init_demo(args) -> int:
    from data.demo_loader import ensure_demo
    from data.settings import settings
    from data.store import open_store

    if not settings().demo and not args.force:
        return 0
    store = open_store(args.db)
    bar, update = _progress()
    try:
        loaded = ensure_demo(
            store, model=args.model, progress=update, log=lambda m: print(m, file=sys.stderr)
        )
    finally:
        bar.close()
    if loaded:
        print("示例数据已载入。", file=sys.stderr)
    return 0


def cmd_batches(args) -> int:
    from data.queries import list_batches
    from data.store import open_store

    print(list_batches(open_store(args.db)).to_string(index=False))
    return 0


def cmd_delete(args) -> int:
    from data.ingest import IngestError, delete_batch
    from data.store import open_store

    try:
        n = delete_batch(open_store(args.db), args.batch_id, args.user)
    except IngestError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(f"已删除批次 {args.batch_id}（{n:,} 行）")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m data", description="借款人之声 数据命令行")
    sub = ap.add_subparsers(dest="command", required=True)
    ing = sub.add_parser("ingest", help="校验、评分并原子地存储一个文件")
    ing.add_argument("file", type=Path)
    ing.add_argument("--kind", choices=("survey", "calls"), required=True)
    ing.add_argument("--text-column", default=None)
    ing.add_argument("--meta", type=Path, default=None, help="通话元数据 CSV（纯文本转写时）")
    ing.add_argument("--db", default=None)
    ing.add_argument("--model", default=None)
    ing.add_argument("--user", default="cli")
    ing.add_argument(
        "--keep-duplicates",
        action="store_true",
        help="问卷：与已存回答重复的行也导入（默认跳过，并在摘要中说明）",
    )
    ing.set_defaults(func=cmd_ingest)
    imp = sub.add_parser("import", help="导入已评分的输出（不重新评分）")
    imp.add_argument(
        "path",
        type=Path,
        help="问卷：python -m nlp score --engine ray 的输出目录；"
        "通话：python -m nlp calls（含 --engine ray）写出的 .jsonl",
    )
    imp.add_argument("--kind", choices=("survey", "calls"), required=True)
    imp.add_argument("--text-column", default=None, help="文本列（默认 text）")
    imp.add_argument("--db", default=None)
    imp.add_argument("--file-name", default=None, help="批次列表中显示的名称（默认目录名）")
    imp.add_argument("--user", default="cli")
    imp.set_defaults(func=cmd_import)
    demo = sub.add_parser("init-demo", help="数据库为空时载入示例数据")
    demo.add_argument("--db", default=None)
    demo.add_argument("--model", default=None)
    demo.add_argument("--force", action="store_true")
    demo.set_defaults(func=cmd_init_demo)
    bl = sub.add_parser("batches", help="列出已导入批次")
    bl.add_argument("--db", default=None)
    bl.set_defaults(func=cmd_batches)
    de = sub.add_parser("delete", help="删除一个批次")
    de.add_argument("batch_id")
    de.add_argument("--db", default=None)
    de.add_argument("--user", default="cli")
    de.set_defaults(func=cmd_delete)
    for command in (ing, imp):
        command.add_argument(
            "--timeout",
            type=float,
            default=120.0,
            help="应用正在运行时：等待应用经收件箱导入的秒数（默认 120）",
        )
        command.add_argument(
            "--no-wait", action="store_true", help="应用正在运行时：交给应用导入后立即返回"
        )
    args = ap.parse_args(argv)
    from data.store import StoreBusy

    try:
        return args.func(args)
    except StoreBusy as busy:  # delete, init-demo, batches: they need the file itself
        return _busy_line(busy, "请先停止应用（或等占用它的命令结束）再运行此命令")


if __name__ == "__main__":
    sys.exit(main())
