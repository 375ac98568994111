"""The transcript formats: JSONL / JSON, CSV / XLSX turn tables, and plain-text transcripts."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from data.reader.transcripts.fields import (
    _CALL_FIELDS,
    DEFAULT_TZ,
    TranscriptError,
    _as_id,
    _build_frames,
    _Call,
    _check_unique,
    _fill_from,
    _is_blank,
    _make_turn,
    _normalize_column,
    _set_field,
    _Where,
    normalize_speaker,
)

# ---------------------------------------------------------------------------------------------
# JSONL


def parse_jsonl_lines(
    lines: Iterable[str],
    *,
    source: str = "<input>",
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    default_tz: str = DEFAULT_TZ,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse JSONL lines (one call per line) into ``(calls, turns)``.

    Args:
        lines: the file's lines; blank lines are skipped.
        source: file name used in error messages.
        meta: optional call-level fields per call_id that fill gaps.
        default_tz: zone assumed for ``started_at`` values without an offset.

    Raises:
        TranscriptError: on invalid JSON, missing fields, unknown speakers, bad timestamps.
    """
    calls, notes = _jsonl_calls(lines, source=source, meta=meta)
    return _build_frames(calls, default_tz=default_tz, notes=notes)


def _jsonl_calls(
    lines: Iterable[str],
    *,
    source: str,
    meta: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[list[_Call], list[str]]:
    records: list[tuple[_Where, object]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = _Where(source, number)
        try:
            records.append((where, json.loads(line.lstrip("\ufeff"))))
        except json.JSONDecodeError as exc:
            raise where.error(
                None, f"JSON 格式错误（第{exc.colno}列）", f"invalid JSON at column {exc.colno}"
            ) from None
    return _record_calls(records, meta=meta)


def _json_array_calls(
    text: str, *, source: str, meta: Mapping[str, Mapping[str, Any]] | None
) -> tuple[list[_Call], list[str]]:
    """A ``.json`` file: an array of call objects (``item N`` in errors), or JSONL."""
    stripped = text.lstrip("\ufeff").lstrip()
    if not stripped.startswith("["):
        return _jsonl_calls(text.splitlines(), source=source, meta=meta)
    try:
        items = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise TranscriptError(
            source,
            exc.lineno,
            None,
            f"JSON 格式错误（第{exc.colno}列）",
            f"invalid JSON at column {exc.colno}",
        ) from None
    records = [(_Where(source, i, "item"), item) for i, item in enumerate(items, start=1)]
    return _record_calls(records, meta=meta)


def _record_calls(
    records: list[tuple[_Where, object]],
    *,
    meta: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[list[_Call], list[str]]:
    calls: list[_Call] = []
    notes: list[str] = []
    for where, record in records:
        if not isinstance(record, dict):
            raise where.error(None, "每行应为一个 JSON 对象", "each line must be a JSON object")
        if _is_blank(record.get("call_id")):
            raise where.error("call_id", "缺少必填字段", "required field is missing")
        call = _Call(_as_id(record["call_id"], where, "call_id"), where)
        for name in _CALL_FIELDS:
            _set_field(call, name, record.get(name), where)
        turns = record.get("turns")
        if turns is None:
            raise where.error("turns", "缺少必填字段", "required field is missing")
        if not isinstance(turns, list):
            raise where.error("turns", "应为列表", "expected a list")
        for index, turn in enumerate(turns):
            prefix = f"turns[{index}]."
            if not isinstance(turn, dict):
                raise where.error(f"turns[{index}]", "应为 JSON 对象", "expected an object")
            call.turns.append(
                _make_turn(
                    where,
                    index,
                    turn.get("speaker"),
                    turn.get("text"),
                    turn.get("start_s"),
                    turn.get("end_s"),
                    field_prefix=prefix,
                )
            )
        if meta and call.call_id in meta:
            notes += _fill_from(call, meta[call.call_id], _Where("meta", None))
        calls.append(call)
    _check_unique(calls)
    return calls, notes


# ---------------------------------------------------------------------------------------------
# CSV / XLSX


def _table_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    frame = frame.rename(columns=_normalize_column)
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(",".join(dupes))
    return [
        {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _read_csv_frame(text: str, source: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else "empty file"
        raise TranscriptError(
            source, None, None, f"CSV 无法解析（{first}）", f"cannot parse CSV ({first})"
        ) from None


def _turn_table_calls(
    rows: list[dict[str, Any]],
    *,
    source: str,
    unit: str = "row",
) -> list[_Call]:
    """Group one-turn-per-row records into calls (rows numbered as in the file, header = 1)."""
    if rows:
        columns = set(rows[0])
        for needed in ("call_id", "speaker", "text"):
            if needed not in columns:
                raise TranscriptError(
                    source, 1, needed, "缺少必需的列", "required column is missing", unit=unit
                )
    by_id: dict[str, _Call] = {}
    explicit_index = bool(rows) and "turn_index" in rows[0]
    seen_index: dict[tuple[str, int], int] = {}
    for offset, row in enumerate(rows):
        where = _Where(source, offset + 2, unit)
        if all(_is_blank(v) for v in row.values()):
            continue
        call_id = _as_id(row.get("call_id"), where, "call_id")
        call = by_id.setdefault(call_id, _Call(call_id, where))
        for name in _CALL_FIELDS:
            if name in row:
                _set_field(call, name, row[name], where)
        if explicit_index and not _is_blank(row.get("turn_index")):
            raw = str(row["turn_index"]).strip()
            try:
                turn_index = int(float(raw))
                if float(raw) != turn_index or turn_index < 0:
                    raise ValueError(raw)
            except ValueError:
                raise where.error(
                    "turn_index",
                    f"应为非负整数 {raw!r}",
                    f"expected a non-negative integer {raw!r}",
                ) from None
        elif explicit_index:
            raise where.error("turn_index", "缺少必填字段", "required field is missing")
        else:
            turn_index = len(call.turns)
        key = (call_id, turn_index)
        if key in seen_index:
            raise where.error(
                "turn_index",
                f"通话 {call_id} 的轮次 {turn_index} 重复（首次在第{seen_index[key]}行）",
                f"duplicate turn {turn_index} in call {call_id} (first at row {seen_index[key]})",
            )
        seen_index[key] = offset + 2
        call.turns.append(
            _make_turn(
                where,
                turn_index,
                row.get("speaker"),
                row.get("text"),
                row.get("start_s"),
                row.get("end_s"),
            )
        )
    return list(by_id.values())


def _metadata_rows(
    rows: list[dict[str, Any]], *, source: str, unit: str = "row"
) -> dict[str, tuple[dict[str, Any], _Where]]:
    if rows and "call_id" not in rows[0]:
        raise TranscriptError(
            source, 1, "call_id", "缺少必需的列", "required column is missing", unit=unit
        )
    out: dict[str, tuple[dict[str, Any], _Where]] = {}
    for offset, row in enumerate(rows):
        where = _Where(source, offset + 2, unit)
        if all(_is_blank(v) for v in row.values()):
            continue
        call_id = _as_id(row.get("call_id"), where, "call_id")
        if call_id in out:
            raise where.error("call_id", f"通话编号 {call_id} 重复", f"duplicate call_id {call_id}")
        out[call_id] = ({k: v for k, v in row.items() if k in _CALL_FIELDS}, where)
    return out


def _rows_or_error(frame: pd.DataFrame, source: str, unit: str = "row") -> list[dict[str, Any]]:
    try:
        return _table_rows(frame)
    except ValueError as exc:
        raise TranscriptError(
            source, 1, str(exc), "列名重复", "duplicate column name", unit=unit
        ) from None


def parse_csv_text(
    text: str,
    *,
    source: str = "<input>",
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    default_tz: str = DEFAULT_TZ,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse one-turn-per-row CSV text into ``(calls, turns)``.

    Args:
        text: decoded CSV text with a header row.
        source: file name used in error messages.
        meta: optional call-level fields per call_id that fill gaps.
        default_tz: zone assumed for ``started_at`` values without an offset.
    """
    rows = _rows_or_error(_read_csv_frame(text, source), source)
    calls = _turn_table_calls(rows, source=source)
    notes: list[str] = []
    if meta:
        for call in calls:
            if call.call_id in meta:
                notes += _fill_from(call, meta[call.call_id], _Where("meta", None))
    return _build_frames(calls, default_tz=default_tz, notes=notes)


def _xlsx_calls(raw: bytes, source: str) -> tuple[list[_Call], list[str]]:
    try:
        sheets = pd.read_excel(io.BytesIO(raw), sheet_name=None, dtype=str, na_filter=False)
    except Exception as exc:
        raise TranscriptError(
            source,
            None,
            None,
            f"无法读取 Excel 文件（{type(exc).__name__}）",
            f"cannot read the Excel file ({type(exc).__name__}: {exc})".splitlines()[0],
        ) from None
    turn_sheet: tuple[str, list[dict[str, Any]]] | None = None
    meta_sheet: tuple[str, list[dict[str, Any]]] | None = None
    for name, frame in sheets.items():
        where = f"{source}[{name}]"
        rows = _rows_or_error(frame, where)
        columns = {_normalize_column(c) for c in frame.columns}
        if turn_sheet is None and {"speaker", "text"} <= columns:
            turn_sheet = (where, rows)
        elif meta_sheet is None and "call_id" in columns and "speaker" not in columns:
            meta_sheet = (where, rows)
    if turn_sheet is None:
        raise TranscriptError(
            source,
            None,
            "speaker",
            "找不到含 speaker 和 text 列的工作表",
            "no sheet has speaker and text columns",
        )
    calls = _turn_table_calls(turn_sheet[1], source=turn_sheet[0])
    notes: list[str] = []
    if meta_sheet is not None:
        sheet_meta = _metadata_rows(meta_sheet[1], source=meta_sheet[0])
        ids = {c.call_id for c in calls}
        for call_id, (_, where) in sheet_meta.items():
            if call_id not in ids:
                raise where.error(
                    "call_id", f"通话 {call_id} 没有任何对话轮次", f"call {call_id} has no turns"
                )
        for call in calls:
            if call.call_id in sheet_meta:
                values, where = sheet_meta[call.call_id]
                notes += _fill_from(call, values, where)
    return calls, notes


# ---------------------------------------------------------------------------------------------
# plain text

_TIME_RANGE = r"\[\s*(?P<t0>[\d:.]+)\s*[-–~,]\s*(?P<t1>[\d:.]+)\s*\]"
_TEXT_LINE = re.compile(
    rf"^\s*(?:{_TIME_RANGE}\s*)?(?P<spk>[^:：\s\[][^:：]{{0,15}}?)\s*[:：]\s*(?P<text>.*)$"
)
_HEADER_LINE = re.compile(r"^\s*#\s*(?P<key>[\w\u4e00-\u9fff]+)\s*[:：=]\s*(?P<value>.*?)\s*$")
_FILENAME = re.compile(
    r"^(?P<call_id>[^_]+)_(?P<borrower_id>[^_]+)_(?P<agent_id>[^_]+)_"
    r"(?P<started_at>\d{8}[T\-]?\d{4,6}(?:Z|[+-]\d{4}|[+-]\d{2}:\d{2})?)(?:_(?P<team>.+))?$",
    re.IGNORECASE,
)
_SENTENCE_PUNCT = re.compile(r"[，。！？!?,.；;、…\s]")


def _clock_seconds(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def filename_metadata(stem: str) -> dict[str, str]:
    """Call-level fields parsed from a file stem ``CALL_BORROWER_AGENT_YYYYMMDDTHHMMSS[+HHMM][_TEAM]``.

    Returns an empty dict when the stem does not follow that pattern.

    Example:
        >>> filename_metadata("c1_b9_a3_20250301T093000+0800")["borrower_id"]
        'b9'
    """
    match = _FILENAME.match(stem)
    if not match:
        return {}
    return {k: v for k, v in match.groupdict().items() if v}


def parse_text_transcript(
    text: str,
    *,
    call_id: str,
    source: str = "<input>",
    meta: Mapping[str, Any] | None = None,
    default_tz: str = DEFAULT_TZ,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse one plain-text call (``坐席：……`` lines) into ``(calls, turns)``.

    Args:
        text: the decoded file content.
        call_id: the call's id (the file stem when read from disk).
        source: file name used in error messages.
        meta: call-level fields that fill what ``# key: value`` header lines leave empty.
        default_tz: zone assumed for ``started_at`` values without an offset.
    """
    call, notes = _text_call(text, call_id=call_id, source=source, meta=meta)
    return _build_frames([call], default_tz=default_tz, notes=notes)


def _text_call(
    text: str,
    *,
    call_id: str,
    source: str,
    meta: Mapping[str, Any] | None,
    fallback: Mapping[str, Any] | None = None,
) -> tuple[_Call, list[str]]:
    call = _Call(call_id, _Where(source, None))
    notes: list[str] = []
    current: dict[str, Any] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        where = _Where(source, number)
        if not line.strip():
            continue
        header = _HEADER_LINE.match(line)
        if header:
            key = _normalize_column(header["key"])
            if key == "call_id":
                if header["value"] and header["value"] != call_id:
                    call.call_id = header["value"]
            elif key in _CALL_FIELDS:
                _set_field(call, key, header["value"], where)
            continue
        match = _TEXT_LINE.match(line)
        speaker = normalize_speaker(match["spk"]) if match else None
        if match and speaker is None:
            label = match["spk"].strip()
            if len(label) <= 8 and not _SENTENCE_PUNCT.search(label):
                raise where.error(
                    "speaker",
                    f"未知说话人 {label!r}（应为坐席/催收员/客服/A/agent 或 客户/借款人/B/borrower）",
                    f"unknown speaker {label!r} (expected agent or borrower)",
                )
            match = None
        if match is None:
            if current is None:
                raise where.error(
                    "speaker", "缺少说话人前缀（如“坐席：”）", "line has no speaker prefix"
                )
            current["text"] = f"{current['text']} {line.strip()}".strip()
            continue
        start = _clock_seconds(match["t0"]) if match["t0"] else None
        end = _clock_seconds(match["t1"]) if match["t1"] else None
        current = _make_turn(where, len(call.turns), match["spk"], match["text"], start, end)
        call.turns.append(current)
    if not call.turns:
        raise call.where.error(
            "turns", f"通话 {call.call_id} 没有任何对话轮次", f"call {call.call_id} has no turns"
        )
    if meta:
        notes += _fill_from(call, meta, _Where("meta", None))
    if fallback:
        notes += _fill_from(call, fallback, _Where(source, None))
    return call, notes
