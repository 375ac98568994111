"""The transcript model: column names, speaker and field parsing, errors, and frame building."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

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
