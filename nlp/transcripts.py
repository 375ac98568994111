"""Parse collection-call transcripts into a calls frame and a turns frame.

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
  CSV encodings UTF-8, UTF-8 with BOM and GBK/GB18030 are detected.
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
    >>> calls, turns = read_transcripts(Path("calls.jsonl"))  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = [
    "CALL_COLUMNS",
    "SUPPORTED_SUFFIXES",
    "TURN_COLUMNS",
    "TranscriptError",
    "decode_bytes",
    "filename_metadata",
    "local_start_times",
    "normalize_speaker",
    "parse_csv_text",
    "parse_jsonl_lines",
    "parse_text_transcript",
    "parse_timestamp",
    "read_metadata_csv",
    "read_transcripts",
]

CALL_COLUMNS: tuple[str, ...] = (
    "call_id",
    "borrower_id",
    "agent_id",
    "team",
    "started_at",
    "duration_s",
    "outcome",
    "utc_offset_min",
)
TURN_COLUMNS: tuple[str, ...] = ("call_id", "turn_index", "speaker", "text", "start_s", "end_s")
SUPPORTED_SUFFIXES: tuple[str, ...] = (".jsonl", ".json", ".csv", ".xlsx", ".txt")

DEFAULT_TZ = "Asia/Shanghai"
_REQUIRED_CALL_FIELDS: tuple[str, ...] = ("borrower_id", "agent_id", "started_at")
_CALL_FIELDS: tuple[str, ...] = (
    "borrower_id",
    "agent_id",
    "team",
    "started_at",
    "duration_s",
    "outcome",
)

_SPEAKERS: dict[str, str] = {
    # agent side
    "坐席": "agent",
    "座席": "agent",
    "催收员": "agent",
    "催收": "agent",
    "催收人员": "agent",
    "客服": "agent",
    "a": "agent",
    "agent": "agent",
    "collector": "agent",
    # borrower side
    "客户": "borrower",
    "借款人": "borrower",
    "债务人": "borrower",
    "用户": "borrower",
    "b": "borrower",
    "borrower": "borrower",
    "customer": "borrower",
    "debtor": "borrower",
}

_COLUMN_ALIASES: dict[str, str] = {
    "callid": "call_id",
    "通话id": "call_id",
    "通话编号": "call_id",
    "borrowerid": "borrower_id",
    "借款人id": "borrower_id",
    "借款人编号": "borrower_id",
    "客户id": "borrower_id",
    "agentid": "agent_id",
    "坐席id": "agent_id",
    "坐席工号": "agent_id",
    "催收员id": "agent_id",
    "团队": "team",
    "组别": "team",
    "startedat": "started_at",
    "start_time": "started_at",
    "开始时间": "started_at",
    "通话时间": "started_at",
    "duration": "duration_s",
    "时长": "duration_s",
    "通话时长": "duration_s",
    "结果": "outcome",
    "通话结果": "outcome",
    "turn": "turn_index",
    "turnindex": "turn_index",
    "轮次": "turn_index",
    "序号": "turn_index",
    "role": "speaker",
    "说话人": "speaker",
    "角色": "speaker",
    "content": "text",
    "内容": "text",
    "文本": "text",
    "start": "start_s",
    "开始秒": "start_s",
    "end": "end_s",
    "结束秒": "end_s",
}


class TranscriptError(ValueError):
    """A transcript or metadata file cannot be parsed.

    The message is one line, Chinese then English, and names the file, the line (text/JSONL) or
    row (CSV/XLSX) and the column or field where the problem is.

    Attributes:
        source: file name (or ``"<input>"``) the problem is in.
        line: 1-based line or row number, if known.
        column: column or field name, if known.
    """

    def __init__(
        self,
        source: str,
        line: int | None,
        column: str | None,
        zh: str,
        en: str,
        *,
        unit: str = "line",
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        unit_zh = {"line": "行", "row": "行", "item": "条"}.get(unit, unit)
        where_zh = source
        where_en = source
        if line is not None:
            where_zh += f" 第{line}{unit_zh}"
            where_en += f" {unit} {line}"
        if column:
            where_zh += f" 字段 {column}"
            where_en += f", column {column}"
        message = f"{where_zh}：{zh} / {where_en}: {en}"
        super().__init__(" ".join(message.split()))


@dataclass
class _Where:
    """Location of a record, for error messages."""

    source: str
    line: int | None = None
    unit: str = "line"

    def error(self, column: str | None, zh: str, en: str) -> TranscriptError:
        return TranscriptError(self.source, self.line, column, zh, en, unit=self.unit)


@dataclass
class _Call:
    """A call being assembled from one of the input formats."""

    call_id: str
    where: _Where
    fields: dict[str, Any] = field(default_factory=dict)
    field_where: dict[str, _Where] = field(default_factory=dict)
    turns: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# small helpers


def _fold(text: str) -> str:
    """NFKC + casefold + strip: full-width and case-insensitive comparison key."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def normalize_speaker(raw: object) -> str | None:
    """Map a speaker label to ``"agent"`` / ``"borrower"``; ``None`` when unknown.

    Args:
        raw: the label as written (``"坐席"``, ``"Ａ"``, ``"Borrower"``, ``"客户"`` ...).

    Returns:
        ``"agent"``, ``"borrower"`` or ``None``.

    Example:
        >>> normalize_speaker("Ａgent"), normalize_speaker("借款人"), normalize_speaker("王")
        ('agent', 'borrower', None)
    """
    if not isinstance(raw, str):
        return None
    key = _fold(raw)
    key = re.sub(r"[\s_\-]+", "", key)
    return _SPEAKERS.get(key)


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _as_id(value: object, where: _Where, column: str) -> str:
    if isinstance(value, (bool, dict, list)):
        raise where.error(column, "应为字符串或数字", "expected a string or number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise where.error(column, "缺少必填字段", "required field is missing")
    return text


def _as_float(value: object, where: _Where, column: str) -> float:
    if _is_blank(value):
        return math.nan
    if isinstance(value, bool):
        raise where.error(column, f"不是数字 {value!r}", f"not a number {value!r}")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise where.error(column, f"不是数字 {value!r}", f"not a number {value!r}") from None
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise where.error(
            column, f"应为非负数 {value!r}", f"expected a non-negative number {value!r}"
        )
    return number


_TS_COMPACT = re.compile(
    r"^(\d{4})(\d{2})(\d{2})[T\-_ ]?(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)


def parse_timestamp(
    value: object, *, default_tz: str = DEFAULT_TZ
) -> tuple[pd.Timestamp, bool] | None:
    """Parse an ISO 8601 timestamp (or a pandas-readable one) into a tz-aware Timestamp.

    Args:
        value: a string (``"2025-03-01T09:30:00+08:00"``, ``"2025-03-01 09:30"``,
            ``"20250301T093000+0800"``), a ``datetime`` or a ``pd.Timestamp``.
        default_tz: zone assumed when the value has no offset.

    Returns:
        ``(timestamp, assumed)`` where ``assumed`` says the zone was assumed, or ``None`` when
        the value cannot be parsed.

    Example:
        >>> parse_timestamp("2025-03-01 09:30")[1]
        True
    """
    stamp: pd.Timestamp | None = None
    if isinstance(value, (datetime, pd.Timestamp)):
        stamp = pd.Timestamp(value)
    elif isinstance(value, str) and value.strip():
        text = unicodedata.normalize("NFKC", value).strip()
        compact = _TS_COMPACT.match(text)
        if compact:
            y, mo, d, h, mi, s, off = compact.groups()
            off = off or ""
            if off and off.upper() != "Z" and ":" not in off:
                off = off[:3] + ":" + off[3:]
            text = f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}{off}"
        try:
            stamp = pd.Timestamp(datetime.fromisoformat(text))
        except ValueError:
            try:
                stamp = pd.Timestamp(text)
            except (ValueError, TypeError, OverflowError):
                return None
    if stamp is None or pd.isna(stamp):
        return None
    if stamp.tzinfo is None:
        return stamp.tz_localize(ZoneInfo(default_tz)), True
    return stamp, False


def local_start_times(calls: pd.DataFrame) -> pd.Series:
    """Local wall-clock start time (tz-naive) of each call, using its own ``utc_offset_min``.

    Args:
        calls: a calls frame from :func:`read_transcripts`.

    Returns:
        A ``datetime64`` Series aligned with ``calls``.
    """
    utc = pd.to_datetime(calls["started_at"], utc=True).dt.tz_localize(None)
    offsets = pd.to_timedelta(calls["utc_offset_min"].astype("int64"), unit="min")
    return utc + offsets


def decode_bytes(data: bytes, source: str = "<input>") -> str:
    """Decode CSV/text bytes: UTF-8 (with or without BOM), then GB18030 (a GBK superset).

    Falls back to charset-normalizer's best guess when neither decodes.

    Raises:
        TranscriptError: when no encoding fits.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset-normalizer is a dependency
        best = None
    else:
        best = from_bytes(data).best()
    if best is None:
        raise TranscriptError(
            source, None, None, "无法识别文件编码（支持 UTF-8/GBK）", "cannot detect the encoding"
        )
    return str(best)


def _normalize_column(name: object) -> str:
    key = _fold(str(name))
    key = re.sub(r"\s+", "_", key)
    return _COLUMN_ALIASES.get(key, _COLUMN_ALIASES.get(key.replace("_", ""), key))


# ---------------------------------------------------------------------------------------------
# assembling calls


def _set_field(call: _Call, name: str, value: object, where: _Where) -> None:
    """Record a call-level field; inconsistent repeated values are an error."""
    if _is_blank(value):
        return
    if name in ("borrower_id", "agent_id", "team", "outcome"):
        value = _as_id(value, where, name)
    elif isinstance(value, str):
        value = value.strip()
    if name in call.fields:
        if str(call.fields[name]) != str(value):
            raise where.error(
                name,
                f"同一通话 {call.call_id} 的取值不一致（{call.fields[name]!r} 与 {value!r}）",
                f"inconsistent values within call {call.call_id} "
                f"({call.fields[name]!r} vs {value!r})",
            )
        return
    call.fields[name] = value
    call.field_where[name] = where


def _fill_from(call: _Call, values: Mapping[str, Any], where: _Where) -> list[str]:
    """Fill fields missing in ``call`` from ``values``; return notes about ignored conflicts."""
    notes: list[str] = []
    for name in _CALL_FIELDS:
        value = values.get(name)
        if _is_blank(value):
            continue
        if name not in call.fields:
            _set_field(call, name, value, where)
        elif str(call.fields[name]).strip() != str(value).strip():
            notes.append(
                f"{call.call_id}: {name} 以转写文件为准（元数据为 {value!r}）/ "
                f"transcript value kept over metadata {value!r}"
            )
    return notes


def _build_frames(
    calls: list[_Call], *, default_tz: str, notes: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate assembled calls and build the two output frames."""
    call_rows: list[dict[str, Any]] = []
    turn_rows: list[dict[str, Any]] = []
    for call in calls:
        for name in _REQUIRED_CALL_FIELDS:
            if _is_blank(call.fields.get(name)):
                hint_zh = hint_en = ""
                if call.where.source.lower().endswith(".txt"):
                    hint_zh = "（请用元数据 CSV 提供，或在文件头写 # " + name + ": …）"
                    hint_en = f" (give a metadata CSV, or a '# {name}: ...' header line)"
                raise call.where.error(
                    name,
                    f"通话 {call.call_id} 缺少必填字段{hint_zh}",
                    f"call {call.call_id} is missing a required field{hint_en}",
                )
        if not call.turns:
            raise call.where.error(
                "turns",
                f"通话 {call.call_id} 没有任何对话轮次",
                f"call {call.call_id} has no turns",
            )
        ts_where = call.field_where.get("started_at", call.where)
        parsed = parse_timestamp(call.fields["started_at"], default_tz=default_tz)
        if parsed is None:
            raw = call.fields["started_at"]
            raise ts_where.error(
                "started_at", f"时间无法解析 {raw!r}", f"unparseable timestamp {raw!r}"
            )
        started, assumed = parsed
        if assumed:
            notes.append(
                f"{call.call_id}: started_at 无时区，按 {default_tz} 处理 / "
                f"no UTC offset, assumed {default_tz}"
            )
        offset = started.utcoffset() or timedelta(0)
        duration = _as_float(call.fields.get("duration_s"), ts_where, "duration_s")
        ends = [t["end_s"] for t in call.turns if not math.isnan(t["end_s"])]
        if math.isnan(duration) and ends:
            duration = max(ends)
        call_rows.append(
            {
                "call_id": call.call_id,
                "borrower_id": call.fields["borrower_id"],
                "agent_id": call.fields["agent_id"],
                "team": call.fields.get("team"),
                "started_at": started,
                "duration_s": duration,
                "outcome": call.fields.get("outcome"),
                "utc_offset_min": int(offset.total_seconds() // 60),
            }
        )
        for turn in sorted(call.turns, key=lambda t: t["turn_index"]):
            turn_rows.append({"call_id": call.call_id, **turn})

    calls_df = pd.DataFrame(call_rows, columns=list(CALL_COLUMNS))
    if call_rows:
        utc = pd.to_datetime([r["started_at"] for r in call_rows], utc=True)
        offsets = {r["utc_offset_min"] for r in call_rows}
        if len(offsets) == 1:
            tz = timezone(timedelta(minutes=offsets.pop()))
            calls_df["started_at"] = pd.Series(utc.tz_convert(tz), index=calls_df.index)
        else:
            calls_df["started_at"] = pd.Series(utc, index=calls_df.index)
    else:
        calls_df["started_at"] = pd.Series([], dtype="datetime64[ns, UTC]")
    for column in ("call_id", "borrower_id", "agent_id", "team", "outcome"):
        calls_df[column] = pd.Series(calls_df[column].tolist(), index=calls_df.index, dtype="str")
    calls_df["duration_s"] = calls_df["duration_s"].astype("float64")
    calls_df["utc_offset_min"] = calls_df["utc_offset_min"].astype("int64")

    turns_df = pd.DataFrame(turn_rows, columns=list(TURN_COLUMNS))
    turns_df["turn_index"] = turns_df["turn_index"].astype("int64")
    turns_df["start_s"] = turns_df["start_s"].astype("float64")
    turns_df["end_s"] = turns_df["end_s"].astype("float64")
    calls_df.attrs["notes"] = list(notes)
    return calls_df, turns_df


def _make_turn(
    where: _Where,
    turn_index: int,
    speaker_raw: object,
    text: object,
    start: object = None,
    end: object = None,
    *,
    field_prefix: str = "",
) -> dict[str, Any]:
    speaker = normalize_speaker(speaker_raw)
    if _is_blank(speaker_raw):
        raise where.error(f"{field_prefix}speaker", "缺少说话人", "speaker is missing")
    if speaker is None:
        raise where.error(
            f"{field_prefix}speaker",
            f"未知说话人 {speaker_raw!r}（应为坐席/催收员/客服/A/agent 或 客户/借款人/B/borrower）",
            f"unknown speaker {speaker_raw!r} (expected agent or borrower)",
        )
    if text is None or isinstance(text, (dict, list, bool)):
        raise where.error(f"{field_prefix}text", "缺少文本", "text is missing")
    if isinstance(text, float) and math.isnan(text):
        raise where.error(f"{field_prefix}text", "缺少文本", "text is missing")
    start_s = _as_float(start, where, f"{field_prefix}start_s")
    end_s = _as_float(end, where, f"{field_prefix}end_s")
    if not math.isnan(start_s) and not math.isnan(end_s) and end_s < start_s:
        raise where.error(
            f"{field_prefix}end_s",
            f"结束时间早于开始时间（{start_s} > {end_s}）",
            f"end_s before start_s ({start_s} > {end_s})",
        )
    return {
        "turn_index": turn_index,
        "speaker": speaker,
        "text": str(text).strip(),
        "start_s": start_s,
        "end_s": end_s,
    }


def _check_unique(calls: Iterable[_Call]) -> None:
    seen: dict[str, _Where] = {}
    for call in calls:
        if call.call_id in seen:
            first = seen[call.call_id]
            raise call.where.error(
                "call_id",
                f"通话编号 {call.call_id} 重复（首次出现于 {first.source} {first.line}）",
                f"duplicate call_id {call.call_id} (first at {first.source} {first.line})",
            )
        seen[call.call_id] = call.where


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


def _xlsx_calls(path: Path) -> tuple[list[_Call], list[str]]:
    source = path.name
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, na_filter=False)
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


# ---------------------------------------------------------------------------------------------
# files


def read_metadata_csv(path: Path) -> dict[str, dict[str, Any]]:
    """Read a side CSV (or XLSX) of call-level fields keyed by ``call_id``.

    Raises:
        TranscriptError: when the file is unreadable or lacks ``call_id``.
    """
    source = path.name
    if not path.is_file():
        raise TranscriptError(source, None, None, "元数据文件不存在", "metadata file not found")
    if path.suffix.lower() == ".xlsx":
        try:
            frame = pd.read_excel(path, dtype=str, na_filter=False)
        except Exception as exc:
            raise TranscriptError(
                source, None, None, "无法读取 Excel 文件", f"cannot read the Excel file ({exc})"
            ) from None
    else:
        frame = _read_csv_frame(decode_bytes(path.read_bytes(), source), source)
    rows = _rows_or_error(frame, source)
    return {k: v for k, (v, _) in _metadata_rows(rows, source=source).items()}


def _file_calls(
    path: Path, meta: Mapping[str, Mapping[str, Any]] | None
) -> tuple[list[_Call], list[str]]:
    suffix = path.suffix.lower()
    source = path.name
    notes: list[str] = []
    if suffix == ".jsonl":
        text = decode_bytes(path.read_bytes(), source)
        return _jsonl_calls(text.splitlines(), source=source, meta=meta)
    if suffix == ".json":
        return _json_array_calls(decode_bytes(path.read_bytes(), source), source=source, meta=meta)
    if suffix == ".csv":
        text = decode_bytes(path.read_bytes(), source)
        rows = _rows_or_error(_read_csv_frame(text, source), source)
        calls = _turn_table_calls(rows, source=source)
    elif suffix == ".xlsx":
        calls, notes = _xlsx_calls(path)
    elif suffix == ".txt":
        text = decode_bytes(path.read_bytes(), source)
        call_meta = meta.get(path.stem) if meta else None
        from_name = {} if call_meta else filename_metadata(path.stem)
        call, notes = _text_call(
            text,
            call_id=str(from_name.get("call_id", path.stem)),
            source=source,
            meta=call_meta,
            fallback=from_name,
        )
        if call.call_id != path.stem and meta and call.call_id in meta:
            notes += _fill_from(call, meta[call.call_id], _Where("meta", None))
        return [call], notes
    else:
        raise TranscriptError(
            source,
            None,
            None,
            f"不支持的文件类型 {suffix or '(无扩展名)'}（支持 {' '.join(SUPPORTED_SUFFIXES)}）",
            f"unsupported file type {suffix or '(none)'} (use {' '.join(SUPPORTED_SUFFIXES)})",
        )
    if meta:
        for call in calls:
            if call.call_id in meta:
                notes += _fill_from(call, meta[call.call_id], _Where("meta", None))
    return calls, notes


def read_transcripts(
    path: Path,
    meta: Path | None = None,
    *,
    default_tz: str = DEFAULT_TZ,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read transcripts from a file or a directory into ``(calls, turns)`` frames.

    Args:
        path: a ``.jsonl``, ``.csv``, ``.xlsx`` or ``.txt`` file, or a directory of them.
        meta: optional side CSV/XLSX of call-level fields keyed by ``call_id`` (for ``.txt``
            files: the file stem); it fills fields the transcripts leave empty.
        default_tz: zone assumed for ``started_at`` values without an offset (noted in
            ``calls.attrs["notes"]``).

    Returns:
        ``(calls, turns)``; see the module docstring for the columns.

    Raises:
        TranscriptError: with a one-line Chinese + English message naming file, line/row and
            column.

    Example:
        >>> calls, turns = read_transcripts(Path("calls.jsonl"))  # doctest: +SKIP
        >>> turns.groupby("call_id").size()  # doctest: +SKIP
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
        file_calls, file_notes = _file_calls(file, meta_rows)
        calls += file_calls
        notes += file_notes
    if not calls:
        raise TranscriptError(path.name, None, None, "没有任何通话", "no calls found")
    _check_unique(calls)
    return _build_frames(calls, default_tz=default_tz, notes=notes)
