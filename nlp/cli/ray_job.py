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
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from nlp.cli.common import UsageError, deserialise_labels, one_line, serialise_labels
from nlp.cli.ray_io import count_rows, prepare_output, read_dataset, resolve_source
from nlp.compliance import TextScorer
from nlp.pipeline import LABEL_COLUMNS, Progress

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BATCH_ROWS = 1000
ROWS_PER_FILE_BATCHES = 10  # part files of at least 10 batches (10,000 rows by default)
RETRIES = 3  # a batch whose worker dies is retried on a restarted worker this many times

# The label columns as written (see nlp.cli.serialise_labels), in a fixed Arrow schema.
LABEL_FIELDS = [
    pa.field("sentiment", pa.string()),
    pa.field("sentiment_score", pa.float64()),
    pa.field("aspects", pa.string()),
    pa.field("emotions", pa.string()),
    pa.field("complaint", pa.string()),
    pa.field("complaint_reasons", pa.string()),
    pa.field("requests", pa.string()),
    pa.field("risk_flags", pa.string()),
    pa.field("risk_evidence", pa.string()),
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
        raise UsageError(f"无法连接 Ray 集群 {address or 'local'}：{one_line(exc)}") from None
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
        return _summary(out_fs, out_path, out_target, n_in, workers, time.perf_counter() - t0)
    finally:
        if started:
            ray.shutdown()


def _summary(
    out_fs: Any, out_path: str, out_target: str, n_in: int, workers: int, seconds: float
) -> dict[str, Any]:
    """Count what was written (it must equal the input rows) and summarise the labels."""
    import pyarrow.dataset as pads

    n_out = count_rows(out_fs, out_path)
    if n_out != n_in:
        raise UsageError(
            f"输出 {n_out:,} 行，输入 {n_in:,} 行：行数不一致，请检查 {out_target} 后重跑"
        )
    out_ds = pads.dataset(out_path, filesystem=out_fs, format="parquet")
    labels = out_ds.to_table(columns=["sentiment", "model"]).to_pandas()
    return {
        "rows": n_out,
        "files": len(out_ds.files),
        "workers": workers,
        "seconds": seconds,
        "model": str(labels["model"].iloc[0]),
        "counts": labels["sentiment"].value_counts().to_dict(),
        "out": out_target,
    }


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
) -> pd.DataFrame:
    """The label columns and ``confidence`` for ``texts`` (one row per text), scored on Ray
    with ``score_frame``.

    Duplicate texts are scored once. This is the text scorer that ``python -m nlp calls
    --engine ray`` hands to :func:`nlp.compliance.score_calls`: the compliance rules then run
    on the driver, where every call of a borrower is at hand (the frequency rules span calls).

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
    labels = deserialise_labels(scored.set_index("text")[[*LABEL_COLUMNS, "confidence"]])
    return labels.loc[["" if t is None else str(t) for t in texts]].reset_index(drop=True)


def ray_text_scorer(
    model: str | None = None, *, workers: int | None = None, address: str | None = None
) -> TextScorer:
    """A text scorer for :func:`nlp.compliance.score_calls` that scores on Ray.

    Failures become one-line ``ValueError`` s, which ``python -m nlp calls`` prints with
    exit code 2.
    """

    def scorer(texts: list[str], _progress: Progress | None = None) -> pd.DataFrame:
        try:
            return score_texts_with_ray(texts, model, workers=workers, address=address)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        except Exception as exc:  # a Ray job failure
            cause = root_cause(exc)
            raise ValueError(f"Ray 作业失败：{type(cause).__name__}: {one_line(cause)}") from None

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
        message = f"Ray 作业失败：{type(cause).__name__}: {one_line(cause)}"
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
