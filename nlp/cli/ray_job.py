"""Ray Data batch scoring: ``python -m nlp score INPUT --out OUT --engine ray``.

The job reads CSV, JSONL or Parquet with ``ray.data`` (a file, a directory of part files, or
any URI pyarrow understands: ``s3://``, ``gs://``, ``hdfs://``), scores it with a pool of
actors that each load the model once and call the same :func:`nlp.pipeline.score_frame` the
app uses, and writes a directory of Parquet part files. XLSX, TSV and non-UTF-8 CSV files are
read on the driver with :func:`nlp.cli.read_input` and handed to Ray as pandas.

The label columns are written in the local engine's file form (JSON strings, ``complaint`` as
"true"/"false") plus ``confidence``; input columns are passed through. After writing, the
output rows are counted and compared with the input rows: any difference exits with code 2.

Example:
    >>> args = build_parser().parse_args(  # doctest: +SKIP
    ...     ["score", "in.csv", "--text-column", "text", "--out", "scored", "--engine", "ray"])
    >>> score_with_ray(args)  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa

from nlp.cli import UsageError, read_input, serialise_labels
from nlp.pipeline import LABEL_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BATCH_ROWS = 1000
ROWS_PER_FILE_BATCHES = 10  # part files of at least 10 batches (10,000 rows by default)
RETRIES = 3  # a batch whose worker dies is retried on a restarted worker this many times
RAY_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
DRIVER_FORMATS = {".xlsx", ".xlsm", ".xls", ".tsv", ".txt", ".json"}  # read with read_input
_PEEK_BYTES = 1 << 16

# The label columns as written (see nlp.cli.serialise_labels), in a fixed Arrow schema.
LABEL_FIELDS = [
    pa.field("sentiment", pa.string()),
    pa.field("sentiment_score", pa.float64()),
    pa.field("aspects", pa.string()),
    pa.field("emotions", pa.string()),
    pa.field("complaint", pa.string()),
    pa.field("complaint_reasons", pa.string()),
    pa.field("requests", pa.string()),
    pa.field("model", pa.string()),
    pa.field("confidence", pa.float64()),
]
assert [f.name for f in LABEL_FIELDS] == [*LABEL_COLUMNS, "confidence"]


# --------------------------------------------------------------------------- workers
class ScoreBatch:
    """Ray Data callable class: one instance per worker process.

    ``__init__`` loads the model once (``get_backend`` is cached per process); ``__call__``
    scores one pandas batch with ``score_frame`` and returns an Arrow table in ``schema``, so
    every part file has the same column types.
    """

    def __init__(self, text_column: str, model: str, schema: pa.Schema, threads: int = 1):
        os.environ["BV_ONNX_THREADS"] = str(threads)  # this worker's share of the cores
        from nlp.sentiment import get_backend

        self.text_column = text_column
        self.model = model
        self.schema = schema
        get_backend(model)

    def __call__(self, batch: pd.DataFrame) -> pa.Table:
        from nlp.pipeline import score_frame

        scored = serialise_labels(score_frame(batch, self.text_column, self.model))
        return conform(pa.Table.from_pandas(scored, preserve_index=False), self.schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` cast to ``schema`` (missing columns become nulls).

    Raises:
        ValueError: a column whose values cannot take the schema's type (for example a JSONL
            field that is a number in one part of the input and text in another).
    """
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(len(table), field.type))
            continue
        column = table[field.name]
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(
                    f"列 {field.name!r} 的类型前后不一致（{column.type} / {field.type}）：{exc}"
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The input columns (null typed as string, large strings as strings), then the labels."""
    labels = {f.name for f in LABEL_FIELDS}
    fields = []
    for field in input_schema:
        if field.name in labels:
            continue
        kind = field.type
        if pa.types.is_null(kind) or pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(pa.field(field.name, kind))
    return pa.schema([*fields, *LABEL_FIELDS])


# --------------------------------------------------------------------------- input and output
def split_uri(target: str):
    """``(pyarrow filesystem, path)`` for a local path or a URI (``s3://bucket/key``)."""
    from pyarrow import fs

    if "://" in target:
        try:
            return fs.FileSystem.from_uri(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise UsageError(f"无法识别的路径 {target}：{_one_line(exc)}") from None
    return fs.LocalFileSystem(), str(Path(target).resolve())


@dataclass(frozen=True)
class Source:
    """The files of an input and how to read them (``csv``, ``jsonl``, ``parquet``, ``driver``)."""

    filesystem: Any
    root: str  # the file or directory given
    files: list[str]
    fmt: str
    local: bool
    header: list[str] | None = None  # CSV column names


def resolve_source(target: str, text_column: str) -> Source:
    """List the input files, pick the reader, check encodings and headers cheaply.

    Raises:
        UsageError: missing input, no readable files, mixed formats, a remote file that only
            the driver can read.
    """
    from pyarrow import fs

    filesystem, path = split_uri(target)
    local = isinstance(filesystem, fs.LocalFileSystem)
    info = filesystem.get_file_info(path)
    if info.type == fs.FileType.NotFound:
        raise UsageError(f"找不到输入 {target}")
    if info.type == fs.FileType.Directory:
        infos = filesystem.get_file_info(fs.FileSelector(path, recursive=True))
        files = sorted(
            i.path
            for i in infos
            if i.type == fs.FileType.File
            and _suffix(i.path) in (*RAY_FORMATS, *DRIVER_FORMATS)
            and not any(part.startswith((".", "_")) for part in PurePosixPath(i.path).parts)
        )
        if not files:
            raise UsageError(f"目录 {target} 中没有 CSV、JSONL、Parquet 或 XLSX 文件")
    else:
        files = [path]
        if _suffix(path) not in (*RAY_FORMATS, *DRIVER_FORMATS):
            raise UsageError(
                f"不支持的文件类型 {_suffix(path) or '（无扩展名）'}："
                "请用 CSV、JSONL、Parquet 或 XLSX"
            )
    kinds = {RAY_FORMATS.get(_suffix(f), "driver") for f in files}
    if len(kinds) > 1:
        raise UsageError(f"目录 {target} 中混有多种格式（{', '.join(sorted(kinds))}），请分开评分")
    fmt = kinds.pop()
    header = None
    if fmt == "csv":
        header = _csv_header(filesystem, files, text_column)
        if header is None:
            fmt = "driver"
    if fmt == "driver" and not local:
        raise UsageError(f"{target}：远程输入须为 UTF-8 逗号分隔的 CSV、JSONL 或 Parquet")
    return Source(filesystem, path, files, fmt, local, header)


def _suffix(path: str) -> str:
    return PurePosixPath(path).suffix.lower()


def _csv_header(filesystem, files: list[str], text_column: str) -> list[str] | None:
    """The shared header of UTF-8 comma-separated files; ``None`` when the driver must read
    them (another encoding or delimiter, which ``read_input`` detects)."""
    header = None
    for path in files[:64]:
        with filesystem.open_input_stream(path) as stream:
            head = stream.read(_PEEK_BYTES)
        if not head.strip():
            raise UsageError(f"{PurePosixPath(path).name}：文件是空的")
        try:
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(
                head, final=len(head) < _PEEK_BYTES
            )
        except UnicodeDecodeError:
            return None
        row = next(csv.reader(io.StringIO(text.lstrip("\r\n"))), [])
        names = [name.strip() for name in row]
        if text_column not in names:
            return None
        if header is not None and names != header:
            raise UsageError(f"{PurePosixPath(path).name} 的表头与其他文件不同，请分开评分")
        header = names
    return header


def read_dataset(source: Source, text_column: str, blocks: int):
    """``(dataset, input rows)`` for a resolved source."""
    import ray.data
    from pyarrow import csv as pacsv

    if source.fmt == "driver":
        frames = [read_input(Path(f)) for f in source.files]
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if text_column not in df.columns:
            raise UsageError(f"找不到文本列 {text_column!r}（可用列：{', '.join(df.columns)}）")
        step = -(-len(df) // max(1, blocks))  # from_pandas(override_num_blocks=) fails on pandas 3
        parts = [df.iloc[i : i + step] for i in range(0, len(df), step)] or [df]
        return ray.data.from_pandas(parts), len(df)
    common = {"filesystem": source.filesystem, "file_extensions": None}
    if source.fmt == "csv":
        assert source.header is not None
        ds = ray.data.read_csv(
            source.files,
            **common,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in source.header},
                strings_can_be_null=True,
            ),
        )
    elif source.fmt == "jsonl":
        ds = ray.data.read_json(source.files, **common)  # pyarrow reads JSON Lines
    else:
        ds = ray.data.read_parquet(source.files, **common)
    return ds, ds.count()


def prepare_output(target: str, source: Source):
    """``(filesystem, directory)`` for OUT, cleared of an earlier run's part files.

    Raises:
        UsageError: OUT is a file, holds or lies inside the input, or is a directory holding
            anything but Parquet part files.
    """
    from pyarrow import fs

    filesystem, path = split_uri(target)
    inside = path.rstrip("/") + "/"
    if type(filesystem) is type(source.filesystem) and any(
        f == path or f.startswith(inside) or path.startswith(f.rstrip("/") + "/")
        for f in (source.root, *source.files)
    ):
        raise UsageError(f"输出 {target} 与输入重叠：请换一个输出目录")
    info = filesystem.get_file_info(path)
    if info.type == fs.FileType.File:
        raise UsageError(f"输出 {target} 已是一个文件：Ray 引擎输出 Parquet 分片目录")
    if info.type == fs.FileType.Directory:
        found = filesystem.get_file_info(fs.FileSelector(path, recursive=True))
        others = [
            i.path for i in found if i.type == fs.FileType.File and _suffix(i.path) != ".parquet"
        ]
        if others:
            raise UsageError(
                f"输出目录 {target} 中有其他文件（{PurePosixPath(others[0]).name}），请换一个目录"
            )
        filesystem.delete_dir_contents(path)  # an earlier run's part files
    return filesystem, path


def count_rows(filesystem, path: str) -> int:
    """Rows in a directory of Parquet files (from the footers; nothing is decoded)."""
    import pyarrow.dataset as pads

    return pads.dataset(path, filesystem=filesystem, format="parquet").count_rows()


# --------------------------------------------------------------------------- the job
def start_ray(address: str | None, workers: int | None) -> bool:
    """Join ``address`` or start a local Ray. Returns True when this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path}}
    try:
        if address:
            ray.init(
                address=address,
                runtime_env=runtime_env,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        else:
            # One logical CPU more than scoring workers: the actors hold theirs for the whole
            # job, and the read, repartition and write tasks need one to run at all.
            ray.init(
                address="local",
                num_cpus=(workers or os.cpu_count() or 1) + 1,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env=runtime_env,
                logging_level=logging.ERROR,
            )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UsageError(f"无法连接 Ray 集群 {address or 'local'}：{_one_line(exc)}") from None
    return True


def _quiet_ray_data() -> None:
    """Keep Ray Data's progress lines and tracebacks off the terminal.

    The CLI prints one summary line, or one error line; Ray Data's own log file (under
    ``/tmp/ray/session_latest/logs/ray-data``) still gets everything.
    """
    import ray.data

    for handler in logging.getLogger("ray.data").handlers:
        if getattr(handler, "stream", None) in (sys.stderr, sys.stdout):
            handler.setLevel(logging.CRITICAL)
    ctx = ray.data.DataContext.get_current()
    ctx.max_errored_blocks = 0  # a block that fails after its retries fails the job
    ctx.execution_options.preserve_order = True


def plan_workers(workers: int | None, started_here: bool) -> tuple[int, int]:
    """``(scoring workers, ONNX threads per worker)`` for the running Ray.

    Raises:
        UsageError: as many workers as CPUs: the actors would hold every CPU and the read
            tasks would wait forever.
    """
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))
    workers = workers or max(1, cpus - 1)
    if workers >= cpus:
        raise UsageError(
            f"--workers {workers} 须小于 Ray 集群的 CPU 数 {cpus}（读写任务需要留一个 CPU）"
        )
    threads = max(1, (os.cpu_count() or 1) // workers) if started_here else 1
    return workers, threads


def score_dataset(
    ds,
    text_column: str,
    model: str,
    schema: pa.Schema,
    *,
    workers: int,
    threads: int,
    batch_rows: int,
):
    """``ds`` scored by a pool of ``workers`` :class:`ScoreBatch` actors (lazy)."""
    from ray.data import ActorPoolStrategy

    # Ray 2.60 has no named parameter for actor retries yet (passing them is deprecated for
    # 2.64; callers silence that warning): keep them bounded rather than Ray Data's default
    # of retrying forever, so a batch that keeps killing its worker fails the job.
    return ds.map_batches(
        ScoreBatch,
        fn_constructor_kwargs={
            "text_column": text_column,
            "model": model,
            "schema": schema,
            "threads": threads,
        },
        batch_format="pandas",
        batch_size=batch_rows,
        compute=ActorPoolStrategy(size=workers),
        num_cpus=1,
        max_restarts=RETRIES,
        max_task_retries=RETRIES,
    )


def run_job(
    input_target: str,
    out_target: str,
    text_column: str,
    model: str | None = None,
    *,
    workers: int | None = None,
    batch_rows: int | None = None,
    address: str | None = None,
) -> dict[str, Any]:
    """Score ``input_target`` into Parquet part files under ``out_target`` with Ray Data.

    Args:
        input_target: a file, a directory or a URI (CSV, JSONL, Parquet; XLSX/TSV/GBK CSV
            when local).
        out_target: the output directory (``scored.parquet`` is a directory name too).
        text_column: the column to score.
        model: ``lexicon``, ``default`` or a model path present on every worker.
        workers: scoring actors, one CPU each (default: the cluster's CPUs less one, which
            the read and write tasks need; a local Ray gets one CPU per core plus one).
        batch_rows: rows per batch (default 1000).
        address: ``auto`` or ``ray://HOST:PORT``; ``None`` starts a local Ray.

    Returns:
        ``{"rows", "files", "workers", "seconds", "model", "counts", "out"}``.

    Raises:
        UsageError: bad input or output, or output rows that differ from input rows.
    """
    import ray

    from nlp.pipeline import resolve_model

    t0 = time.perf_counter()
    name = resolve_model(model)
    batch_rows = batch_rows or DEFAULT_BATCH_ROWS
    if batch_rows < 1 or (workers is not None and workers < 1):
        raise UsageError("--batch-size 与 --workers 须为正整数")
    source = resolve_source(input_target, text_column)
    started = start_ray(address, workers)
    try:
        _quiet_ray_data()
        workers, threads = plan_workers(workers, started)
        ds, n_in = read_dataset(source, text_column, workers)
        if n_in == 0:
            raise UsageError(f"{input_target}：没有数据行")
        schema = ds.schema()
        names = list(schema.names) if schema is not None else []
        if text_column not in names:
            raise UsageError(f"找不到文本列 {text_column!r}（可用列：{', '.join(names)}）")
        out_schema = output_schema(_arrow_schema(schema))
        out_fs, out_path = prepare_output(out_target, source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see score_dataset
            scored = score_dataset(
                ds.repartition(target_num_rows_per_block=batch_rows),
                text_column,
                name,
                out_schema,
                workers=workers,
                threads=threads,
                batch_rows=batch_rows,
            )
            scored.write_parquet(
                out_path,
                filesystem=out_fs,
                min_rows_per_file=batch_rows * ROWS_PER_FILE_BATCHES,
                ray_remote_args={"max_retries": RETRIES},
            )
        n_out = count_rows(out_fs, out_path)
        if n_out != n_in:
            raise UsageError(
                f"输出 {n_out:,} 行，输入 {n_in:,} 行：行数不一致，请检查 {out_target} 后重跑"
            )
        import pyarrow.dataset as pads

        out_ds = pads.dataset(out_path, filesystem=out_fs, format="parquet")
        labels = out_ds.to_table(columns=["sentiment", "model"]).to_pandas()
        return {
            "rows": n_out,
            "files": len(out_ds.files),
            "workers": workers,
            "seconds": time.perf_counter() - t0,
            "model": str(labels["model"].iloc[0]),
            "counts": labels["sentiment"].value_counts().to_dict(),
            "out": out_target,
        }
    finally:
        if started:
            ray.shutdown()


def _arrow_schema(schema) -> pa.Schema:
    base = getattr(schema, "base_schema", schema)
    if isinstance(base, pa.Schema):
        return base
    return pa.schema([pa.field(n, pa.string()) for n in schema.names])  # pandas-typed blocks


def score_texts_with_ray(
    texts: list[str],
    model: str | None = None,
    *,
    workers: int | None = None,
    address: str | None = None,
    batch_rows: int | None = None,
) -> list[tuple[str, float]]:
    """``(label, score)`` per text, scored on Ray with :func:`nlp.pipeline.score_frame`.

    Duplicate texts are scored once. This is the turn scorer of ``python -m nlp calls
    --engine ray``: the compliance rules then run on the driver, where every call of a
    borrower is at hand (the frequency rules span calls).

    Raises:
        UsageError: bad arguments, or fewer results than texts.
    """
    import ray
    import ray.data

    from nlp.pipeline import resolve_model

    name = resolve_model(model)
    batch_rows = batch_rows or DEFAULT_BATCH_ROWS
    unique = list(dict.fromkeys("" if t is None else str(t) for t in texts))
    frame = pd.DataFrame({"text": unique})
    started = start_ray(address, workers)
    try:
        _quiet_ray_data()
        workers, threads = plan_workers(workers, started)
        step = max(1, min(batch_rows, -(-len(frame) // workers)))
        parts = [frame.iloc[i : i + step] for i in range(0, len(frame), step)] or [frame]
        schema = output_schema(pa.schema([pa.field("text", pa.string())]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see score_dataset
            scored = score_dataset(
                ray.data.from_pandas(parts),
                "text",
                name,
                schema,
                workers=workers,
                threads=threads,
                batch_rows=batch_rows,
            ).to_pandas()
    finally:
        if started:
            ray.shutdown()
    if len(scored) != len(unique):
        raise UsageError(f"Ray 返回 {len(scored):,} 条结果，应为 {len(unique):,} 条")
    lookup = dict(
        zip(
            scored["text"],
            zip(
                scored["sentiment"].astype(str),
                scored["sentiment_score"].astype(float),
                strict=True,
            ),
            strict=True,
        )
    )
    return [lookup["" if t is None else str(t)] for t in texts]


def ray_turn_sentiment(
    model: str | None = None, *, workers: int | None = None, address: str | None = None
):
    """A ``TurnSentiment`` for :func:`nlp.calls.analyze_calls` that scores on Ray.

    Failures become one-line ``ValueError`` s, which ``python -m nlp calls`` prints with
    exit code 2.
    """

    def scorer(texts: list[str]) -> list[tuple[str, float]]:
        try:
            return score_texts_with_ray(texts, model, workers=workers, address=address)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        except Exception as exc:  # a Ray job failure
            cause = root_cause(exc)
            raise ValueError(f"Ray 作业失败：{type(cause).__name__}: {_one_line(cause)}") from None

    return scorer


def score_with_ray(args: argparse.Namespace) -> int:
    """``python -m nlp score ... --engine ray``: run the job, print one summary line.

    Returns 0 on success; raises :class:`nlp.cli.UsageError` (exit code 2, one line) on bad
    input and on a row-count mismatch; a job that fails for another reason prints one line and
    returns 1.
    """
    try:
        result = run_job(
            args.input,
            args.out,
            args.text_column,
            args.model,
            workers=args.workers,
            batch_rows=args.batch_size,
            address=args.address,
        )
    except UsageError:
        raise
    except Exception as exc:  # a Ray job failure: one line, never a traceback
        cause = root_cause(exc)
        message = f"Ray 作业失败：{type(cause).__name__}: {_one_line(cause)}"
        if isinstance(cause, (KeyError, ValueError, UnicodeDecodeError, pa.ArrowInvalid)):
            raise UsageError(message) from None
        print(f"错误：{message}", file=sys.stderr)
        return 1
    print(
        f"已评分 {result['rows']:,} 条 → {result['out']}（{result['files']} 个 Parquet 分片，"
        f"{result['workers']} 个 Ray 进程，{result['seconds']:.1f} 秒）  {result['counts']}  "
        f"模型 {result['model']}",
        file=sys.stderr,
    )
    return 0


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception behind Ray's wrappers (``cause`` / ``__cause__`` chains)."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
