"""The Ray job's input and output: resolve a file, directory or URI, read it, prepare OUT.

Formats Ray reads natively (UTF-8 CSV, JSONL, Parquet) stream from the source; anything else
(XLSX, TSV, other encodings) is read on the driver with the one reader (``data.reader``).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa

from nlp.cli.common import UsageError, one_line, read_input

RAY_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
DRIVER_FORMATS = {".xlsx", ".xlsm", ".xls", ".tsv", ".txt", ".json"}  # read with read_input
_PEEK_BYTES = 1 << 16


# --------------------------------------------------------------------------- input and output
def split_uri(target: str):
    """``(pyarrow filesystem, path)`` for a local path or a URI (``s3://bucket/key``)."""
    from pyarrow import fs

    if "://" in target:
        try:
            return fs.FileSystem.from_uri(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            raise UsageError(f"无法识别的路径 {target}：{one_line(exc)}") from None
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
