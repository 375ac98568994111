"""Read collection-call transcripts (bytes or files) into a calls frame and a turns frame.

Supported inputs (``read_transcripts`` picks the parser from the file suffix; a directory is
read file by file and concatenated):

* ``.jsonl``: one call per line::

      {"call_id": "c1", "borrower_id": "b1", "agent_id": "a1",
       "started_at": "2025-03-01T09:30:00+08:00",
       "turns": [{"speaker": "agent", "text": "...", "start_s": 0.0, "end_s": 3.2}, ...],
       "team": "t1", "duration_s": 95, "outcome": "connected"}

  ``team``, ``duration_s``, ``outcome`` and the turn times are optional; other keys (for example
  ``labels``) are ignored.
* ``.json``: the same call objects as a JSON array (errors name ``item N``), or JSONL.
* ``.csv`` / ``.xlsx``: one turn per row with ``call_id``, ``turn_index`` (optional, row order
  otherwise), ``speaker``, ``text``, optional ``start_s``/``end_s``, plus the call-level columns
  repeated on every row, or (xlsx) in a second sheet that has ``call_id`` and no ``speaker``.
  Encodings UTF-8 (BOM or not), UTF-16, GBK/GB18030 and Big5 are detected (``data.reader.encoding``).
* ``.txt``: one call per file, one turn per line, ``坐席：……`` / ``客户: ……`` (full- or half-width
  colon; speaker prefixes are case- and width-insensitive), optionally preceded by a time range
  ``[00:01.5-00:04]``. A line without a speaker prefix continues the previous turn. Call-level
  fields come from ``# key: value`` header lines, from the ``meta`` side CSV (``call_id`` = the
  file stem), or else from a file name ``CALLID_BORROWERID_AGENTID_YYYYMMDDTHHMMSS[+HHMM][_TEAM]``
  ``.txt`` (then ``call_id`` is CALLID), in that order of precedence.

The ``meta`` side CSV (any format) fills call-level fields that the transcript leaves empty.

Problems raise :class:`TranscriptError` with a one-line Chinese + English message naming the
file, line or row and column. A ``started_at`` without a UTC offset is taken as Asia/Shanghai
time; each such assumption is recorded in ``calls.attrs["notes"]``.

Output frames:

* calls: ``call_id, borrower_id, agent_id, team, started_at, duration_s, outcome,
  utc_offset_min``. ``started_at`` is tz-aware: in the calls' own fixed offset when all calls
  share one, otherwise in UTC; ``utc_offset_min`` always holds each call's own offset, so
  ``local_start_times`` can recover local wall-clock time.
* turns: ``call_id, turn_index, speaker ("agent" | "borrower"), text, start_s, end_s``, sorted
  by call then turn.

Example:
    >>> calls, turns = read_transcript_bytes(Path("calls.jsonl").read_bytes(), "calls.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from data.reader.encoding import decode_bytes as _decode
from data.reader.errors import InputError
from data.reader.transcripts.fields import (
    CALL_COLUMNS,
    DEFAULT_TZ,
    SUPPORTED_SUFFIXES,
    TURN_COLUMNS,
    TranscriptError,
    _build_frames,
    _Call,
    _check_unique,
    _fill_from,
    _Where,
    normalize_speaker,
    parse_timestamp,
)
from data.reader.transcripts.formats import (
    _json_array_calls,
    _jsonl_calls,
    _metadata_rows,
    _read_csv_frame,
    _rows_or_error,
    _text_call,
    _turn_table_calls,
    _xlsx_calls,
    filename_metadata,
    parse_csv_text,
    parse_jsonl_lines,
    parse_text_transcript,
)

__all__ = [
    "CALL_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "TURN_COLUMNS",
    "TranscriptError",
    "decode_bytes",
    "filename_metadata",
    "normalize_speaker",
    "parse_csv_text",
    "parse_jsonl_lines",
    "parse_text_transcript",
    "parse_timestamp",
    "read_metadata_bytes",
    "read_metadata_csv",
    "read_transcript_bytes",
    "read_transcripts",
]

Meta = Mapping[str, Mapping[str, Any]]


def decode_bytes(data: bytes, source: str = "<input>") -> str:
    """Decode transcript bytes with the reader's one set of encoding rules.

    Raises:
        TranscriptError: binary data, mixed encodings, or no encoding fits.
    """
    try:
        return _decode(data)[0]
    except InputError as exc:
        line = exc.problems[0].row if exc.problems else None
        raise TranscriptError(source, line, None, str(exc), "cannot decode the file") from None


def read_metadata_bytes(raw: bytes, name: str) -> dict[str, dict[str, Any]]:
    """A side CSV (or XLSX) of call-level fields keyed by ``call_id``.

    Raises:
        TranscriptError: when the file is unreadable or lacks ``call_id``.
    """
    if Path(name).suffix.lower() == ".xlsx":
        import io

        try:
            frame = pd.read_excel(io.BytesIO(raw), dtype=str, na_filter=False)
        except Exception as exc:
            raise TranscriptError(
                name, None, None, "无法读取 Excel 文件", f"cannot read the Excel file ({exc})"
            ) from None
    else:
        frame = _read_csv_frame(decode_bytes(raw, name), name)
    rows = _rows_or_error(frame, name)
    return {k: v for k, (v, _) in _metadata_rows(rows, source=name).items()}


def read_metadata_csv(path: Path) -> dict[str, dict[str, Any]]:
    """:func:`read_metadata_bytes` of a file on disk."""
    path = Path(path)
    if not path.is_file():
        raise TranscriptError(path.name, None, None, "元数据文件不存在", "metadata file not found")
    return read_metadata_bytes(path.read_bytes(), path.name)


def _unsupported(source: str, suffix: str) -> TranscriptError:
    return TranscriptError(
        source,
        None,
        None,
        f"不支持的文件类型 {suffix or '(无扩展名)'}（支持 {' '.join(SUPPORTED_SUFFIXES)}）",
        f"unsupported file type {suffix or '(none)'} (use {' '.join(SUPPORTED_SUFFIXES)})",
    )


def _text_file_calls(raw: bytes, source: str, meta: Meta | None) -> tuple[list[_Call], list[str]]:
    stem = Path(source).stem
    call_meta = meta.get(stem) if meta else None
    from_name = {} if call_meta else filename_metadata(stem)
    call, notes = _text_call(
        decode_bytes(raw, source),
        call_id=str(from_name.get("call_id", stem)),
        source=source,
        meta=call_meta,
        fallback=from_name,
    )
    if call.call_id != stem and meta and call.call_id in meta:
        notes += _fill_from(call, meta[call.call_id], _Where("meta", None))
    return [call], notes


def _bytes_calls(raw: bytes, source: str, meta: Meta | None) -> tuple[list[_Call], list[str]]:
    """The calls of one file's bytes; the format comes from the file name's suffix."""
    suffix = Path(source).suffix.lower()
    notes: list[str] = []
    if suffix == ".jsonl":
        return _jsonl_calls(decode_bytes(raw, source).splitlines(), source=source, meta=meta)
    if suffix == ".json":
        return _json_array_calls(decode_bytes(raw, source), source=source, meta=meta)
    if suffix == ".txt":
        return _text_file_calls(raw, source, meta)
    if suffix == ".csv":
        text = decode_bytes(raw, source)
        calls = _turn_table_calls(
            _rows_or_error(_read_csv_frame(text, source), source), source=source
        )
    elif suffix == ".xlsx":
        calls, notes = _xlsx_calls(raw, source)
    else:
        raise _unsupported(source, suffix)
    if meta:
        for call in calls:
            if call.call_id in meta:
                notes += _fill_from(call, meta[call.call_id], _Where("meta", None))
    return calls, notes


def read_transcript_bytes(
    raw: bytes,
    name: str,
    meta: Meta | None = None,
    *,
    default_tz: str = DEFAULT_TZ,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read one uploaded transcript file into ``(calls, turns)`` frames.

    Args:
        raw: the file's bytes.
        name: its file name (the suffix picks the format; a ``.txt`` stem may carry metadata).
        meta: call-level fields per call_id (:func:`read_metadata_bytes`) that fill gaps.
        default_tz: zone assumed for ``started_at`` values without an offset.

    Raises:
        TranscriptError: one line naming file, line/row and column.
    """
    source = Path(name).name
    calls, notes = _bytes_calls(raw, source, meta)
    if not calls:
        raise TranscriptError(source, None, None, "没有任何通话", "no calls found")
    _check_unique(calls)
    return _build_frames(calls, default_tz=default_tz, notes=notes)


def read_transcripts(
    path: Path,
    meta: Path | None = None,
    *,
    default_tz: str = DEFAULT_TZ,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read transcripts from a file or a directory of files into ``(calls, turns)`` frames.

    Args:
        path: a ``.jsonl``, ``.json``, ``.csv``, ``.xlsx`` or ``.txt`` file, or a directory.
        meta: optional side CSV/XLSX of call-level fields keyed by ``call_id`` (for ``.txt``
            files: the file stem); it fills fields the transcripts leave empty.
        default_tz: zone assumed for ``started_at`` values without an offset (noted in
            ``calls.attrs["notes"]``).

    Raises:
        TranscriptError: with a one-line Chinese + English message naming file, line/row and
            column.
    """
    path = Path(path)
    meta_rows = read_metadata_csv(Path(meta)) if meta is not None else None
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
        )
        if not files:
            raise TranscriptError(
                path.name,
                None,
                None,
                "目录中没有可读取的转写文件",
                f"no transcript files ({' '.join(SUPPORTED_SUFFIXES)}) in the directory",
            )
    elif path.is_file():
        files = [path]
    else:
        raise TranscriptError(path.name, None, None, "文件不存在", "file not found")
    calls: list[_Call] = []
    notes: list[str] = []
    for file in files:
        file_calls, file_notes = _bytes_calls(file.read_bytes(), file.name, meta_rows)
        calls += file_calls
        notes += file_notes
    if not calls:
        raise TranscriptError(path.name, None, None, "没有任何通话", "no calls found")
    _check_unique(calls)
    return _build_frames(calls, default_tz=default_tz, notes=notes)
