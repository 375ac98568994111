"""Reading, validating, scoring and storing uploaded files, all-or-nothing.

A file is read into text columns (encoding detected), mapped to our fields, validated
row by row, scored with the NLP pipeline and written as one batch in one transaction.
Any problem rejects the whole file with messages that name the row and the column;
the store is left exactly as it was. Re-ingesting an identical file stores nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from data.batches import (
    IngestResult,
    delete_batch,
    find_batch,
    sha256_bytes,
    store_calls_batch,
    store_scored_calls,
    store_survey_batch,
)
from data.models import scoring_model  # the promoted model version, else the configured one
from data.reader import (
    InputError,
    Problem,
    decode_bytes,
    excel_sheets,
    file_kind,
    one_line,
    read_table,
)
from data.settings import placeholder_key, placeholder_keys, settings
from data.store import Store, now

__all__ = [
    "SURVEY_FIELDS",
    "IngestError",
    "IngestResult",
    "Problem",
    "checked_survey",
    "decode_bytes",
    "delete_batch",
    "excel_sheets",
    "file_kind",
    "guess_mapping",
    "ingest_calls_bytes",
    "ingest_survey_bytes",
    "read_table",
    "sha256_bytes",
    "store_calls_batch",
    "store_checked_survey",
    "store_survey_batch",
    "stored_duplicates",
    "validate_survey",
]

SURVEY_FIELDS: dict[str, str] = {
    "text": "回答文本",
    "respondent_id": "受访者ID",
    "borrower_id": "借款人ID",
    "submitted_at": "提交日期",
    "product": "产品",
    "region": "地区",
    "overdue_bucket": "逾期阶段",
    "channel": "催收渠道",
    "csat": "满意度(1-5)",
    "nps": "推荐度(0-10)",
}
REQUIRED_SURVEY = ("text",)

# Header words that suggest a field (checked in order; first match wins).
_GUESSES: list[tuple[str, tuple[str, ...]]] = [
    ("borrower_id", ("借款人", "borrower", "借据号", "客户号", "loan_id")),
    ("respondent_id", ("受访者", "用户id", "客户id", "respondent", "user_id", "编号", "id")),
    ("csat", ("满意度", "csat", "评分", "打分", "score")),
    ("nps", ("nps", "推荐")),
    ("submitted_at", ("日期", "时间", "date", "time", "提交")),
    ("product", ("产品", "product", "业务")),
    ("region", ("地区", "区域", "省", "城市", "region", "city")),
    ("overdue_bucket", ("逾期", "账龄", "bucket", "dpd")),
    ("channel", ("渠道", "方式", "channel")),
    (
        "text",
        (
            "文本",
            "内容",
            "评价",
            "意见",
            "回答",
            "反馈",
            "建议",
            "留言",
            "text",
            "comment",
            "feedback",
            "review",
            "answer",
        ),
    ),
]


IngestError = InputError
"""Raised when a file cannot be stored; the reader's error, so one ``except`` catches both."""


# --------------------------------------------------------------------------- mapping
def layout_key(columns: list[str]) -> str:
    """A key identifying a file layout (its header), for saved column mappings."""
    return hashlib.sha256("\x1f".join(columns).encode()).hexdigest()[:16]


def guess_mapping(columns: list[str]) -> dict[str, str]:
    """Best guesses field -> column from header words (文本/内容/评价 → text, …)."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for fld, words in _GUESSES:
        for col in columns:
            low = col.lower()
            if col in used:
                continue
            if any(w in low for w in words) and fld not in mapping:
                if fld == "respondent_id" and not (
                    low.endswith("id") or "编号" in low or "受访者" in low
                ):
                    continue
                mapping[fld] = col
                used.add(col)
    if "text" not in mapping:  # no header word matched: offer the first unmapped column
        rest = [col for col in columns if col not in used]
        if rest:
            mapping["text"] = rest[0]
    return mapping


# --------------------------------------------------------------------------- validation
_BUCKETS = {
    "m1": "M1",
    "m2": "M2",
    "m3": "M3+",
    "m3+": "M3+",
    "m4": "M3+",
    "m5": "M3+",
    "m6": "M3+",
    "m6+": "M3+",
}


def _parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse mixed date formats (ISO, 2026/5/1, 2026年5月1日, Excel serials, with offsets).

    Returns (naive Asia/Shanghai timestamps, mask of unparseable non-empty cells).
    """
    s = values.astype("string").str.strip()
    s = s.str.replace(r"(\d{4})年(\d{1,2})月(\d{1,2})日?", r"\1-\2-\3", regex=True)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    serial = s.str.fullmatch(r"\d{5}(\.\d+)?").fillna(False)
    if serial.any():
        days = pd.to_numeric(s[serial])
        out[serial] = pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D")
    rest = ~serial & s.notna()
    for i in s[rest].index:
        try:
            ts = pd.Timestamp(str(s[i]))
        except (ValueError, TypeError):
            try:
                ts = pd.to_datetime(str(s[i]), format="mixed", dayfirst=False)
            except (ValueError, TypeError):
                continue
        try:
            if ts.tzinfo is not None:
                ts = ts.tz_convert("Asia/Shanghai").tz_localize(None)
            out[i] = ts
        except (OverflowError, pd.errors.OutOfBoundsDatetime):  # e.g. 9999-12-31
            continue
    bad = s.notna() & out.isna()
    return out, bad


def _parse_int(values: pd.Series, lo: int, hi: int) -> tuple[pd.Series, pd.Series]:
    s = values.astype("string").str.strip().str.replace(",", "", regex=False)
    num = pd.to_numeric(s, errors="coerce")
    ok = num.isna() | ((num == num.round()) & (num >= lo) & (num <= hi))
    bad = (s.notna() & num.isna()) | ~ok
    return num.where(~bad).astype("Int64"), bad


def clean_text(value) -> str:
    """Text as stored: no NUL bytes, trimmed."""
    return str(value).replace("\x00", "").strip()


def validate_survey(
    df: pd.DataFrame,
    mapping: dict[str, str],
    max_text_chars: int = 200_000,
    empty_answers: Iterable[str] | None = None,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Map and validate survey rows. Returns the clean frame and all problems found.

    Answers that are only a survey tool's placeholder (「(空)」「N/A」「-」…: ``empty_answers``,
    default ``BV_EMPTY_ANSWERS``) count as empty: skipped, and named in one warning.

    Errors reject the file; warnings (e.g. empty answers skipped) do not.
    """
    problems: list[Problem] = []
    for fld in REQUIRED_SURVEY:
        if fld not in mapping or mapping[fld] not in df.columns:
            problems.append(Problem(None, SURVEY_FIELDS[fld], "未指定必填列（回答文本）"))
    unknown = [c for c in mapping.values() if c not in df.columns]
    for col in unknown:
        problems.append(Problem(None, col, "映射的列在文件中不存在"))
    if any(p.severity == "error" for p in problems):
        return pd.DataFrame(), problems
    source = df.attrs.get("source_lines")
    numbers = source if source is not None and len(source) == len(df) else np.arange(len(df)) + 2
    line = pd.Series(numbers, index=df.index)
    out = pd.DataFrame(index=df.index)
    text = df[mapping["text"]].map(lambda v: None if v is None else clean_text(v))
    has_nul = df[mapping["text"]].map(lambda v: isinstance(v, str) and "\x00" in v)
    for i in df.index[has_nul]:
        problems.append(
            Problem(int(line[i]), mapping["text"], "文本含空字符(NUL)，已移除", "warning")
        )
    empty = text.isna() | (text.str.len() == 0)
    for i in df.index[empty]:
        problems.append(Problem(int(line[i]), mapping["text"], "回答为空，已跳过", "warning"))
    placeholder, note = _placeholders(text, line, mapping["text"], empty_answers)
    problems += [note] if note else []
    empty = empty | placeholder
    too_long = text.str.len() > max_text_chars
    for i in df.index[too_long.fillna(False)]:
        problems.append(
            Problem(int(line[i]), mapping["text"], f"文本超过 {max_text_chars:,} 字，请拆分后上传")
        )
    out["text"] = text
    for fld in ("respondent_id", "borrower_id", "product", "region", "channel"):
        col = mapping.get(fld)
        out[fld] = df[col].map(lambda v: None if v is None else clean_text(v)) if col else None
    col = mapping.get("overdue_bucket")
    if col:
        raw = df[col].map(lambda v: None if v is None else clean_text(v).lower())
        out["overdue_bucket"] = raw.map(  # pandas may turn the None cells into NaN here
            lambda v: _BUCKETS.get(v, v.upper()) if isinstance(v, str) and v else None
        )
    else:
        out["overdue_bucket"] = None
    col = mapping.get("submitted_at")
    if col:
        dates, bad = _parse_dates(df[col])
        for i in df.index[bad]:
            problems.append(Problem(int(line[i]), col, f"无法识别的日期「{df[col][i]}」"))
        out["submitted_at"] = dates
    else:
        out["submitted_at"] = pd.Timestamp.now().normalize()
    for fld, lo, hi in (("csat", 1, 5), ("nps", 0, 10)):
        col = mapping.get(fld)
        if col:
            vals, bad = _parse_int(df[col], lo, hi)
            for i in df.index[bad]:
                problems.append(
                    Problem(int(line[i]), col, f"应为 {lo}-{hi} 的整数，实际为「{df[col][i]}」")
                )
            out[fld] = vals
        else:
            out[fld] = pd.array([pd.NA] * len(df), dtype="Int64")
    out = out[~empty]
    return out, problems


# --------------------------------------------------------------------------- duplicates
_META_KEY = ("product", "region", "channel")


def _dedup_text(value) -> str:
    """Text as compared for duplicates: NFKC (full/half width alike), no whitespace, casefolded."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()


def _present(values: pd.Series) -> pd.Series:
    """Cells with a non-empty value, as stripped strings (others: "")."""
    return values.map(lambda v: "" if v is None or pd.isna(v) else str(v).strip())


def _seen_before(new_keys: pd.Series, stored_keys: pd.Series) -> pd.Series:
    """True for each new key that a stored row already holds, one stored row per new row:
    two stored copies mark the first two new copies, a third new copy is new."""
    stored = stored_keys.value_counts()
    rank = new_keys.groupby(new_keys).cumcount()
    return rank < new_keys.map(stored).fillna(0)


def stored_duplicates(store: Store, clean: pd.DataFrame) -> pd.Series:
    """Which validated survey rows are already stored (a bool per row of ``clean``).

    A row repeats a stored response when its respondent id matches one (rows that carry an
    id), else when its text (NFKC, whitespace and case ignored), submitted date, product,
    region and channel match one. Each stored row matches one new row, and the rows of
    ``clean`` are not compared with each other: a file's own repeated rows are stored as
    before.
    """
    dup = pd.Series(False, index=clean.index)
    if clean.empty:
        return dup
    ids = _present(clean.get("respondent_id", pd.Series(None, index=clean.index, dtype=object)))
    by_id = ids != ""
    if by_id.any():
        stored_ids = store.query(
            "SELECT trim(respondent_id) AS id FROM responses "
            "WHERE trim(respondent_id) IN (SELECT UNNEST(?::VARCHAR[]))",
            [sorted(set(ids[by_id]))],
        )["id"]
        dup[by_id] = _seen_before(ids[by_id], stored_ids)
    rest = clean[~by_id]
    if rest.empty:
        return dup
    days = _days(rest["submitted_at"])
    stored = store.query(
        "SELECT text, strftime(submitted_at, '%Y-%m-%d') AS day, product, region, channel "
        "FROM responses WHERE strftime(submitted_at, '%Y-%m-%d') IN "
        "(SELECT UNNEST(?::VARCHAR[])) OR (submitted_at IS NULL AND ?)",
        [sorted(set(days) - {""}), bool((days == "").any())],
    )
    if not stored.empty:
        stored["day"] = stored["day"].fillna("")
        dup[rest.index] = _seen_before(_row_keys(rest, days), _row_keys(stored, stored["day"]))
    return dup


def _days(values: pd.Series) -> pd.Series:
    """Dates as YYYY-MM-DD ("" when missing)."""
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d").fillna("")


def _row_keys(frame: pd.DataFrame, days: pd.Series) -> pd.Series:
    """Text + date + product/region/channel of each row, as one comparable string."""
    parts = [frame["text"].map(_dedup_text), days, *(_present(frame[c]) for c in _META_KEY)]
    return pd.Series(["\x1f".join(row) for row in zip(*parts, strict=True)], index=frame.index)


def _placeholders(text, line, column, empty_answers) -> tuple[pd.Series, Problem | None]:
    """Answers that are only a placeholder (``BV_EMPTY_ANSWERS``), and one warning naming them."""
    keys = placeholder_keys(settings().empty_answers if empty_answers is None else empty_answers)
    hit = text.map(lambda v: isinstance(v, str) and placeholder_key(v) in keys).astype(bool)
    names: dict[str, str] = {}  # the first spelling of each placeholder found
    for v in text[hit]:
        names.setdefault(placeholder_key(v), v.strip())
    rows = [str(int(line[i])) for i in text.index[hit]]
    more = f" 等 {len(rows):,} 行" if len(rows) > 20 else " 行"
    why = f"{len(rows):,} 行为占位符（{'、'.join(names.values())}），按空回答跳过"
    note = Problem(None, column, f"{why}：第 {'、'.join(rows[:20])}{more}", "warning")
    return hit, note if rows else None


Progress = Callable[[int, int], None]


def checked_survey(df: pd.DataFrame, mapping: dict[str, str]) -> tuple[pd.DataFrame, list[Problem]]:
    """:func:`validate_survey`, raising :class:`IngestError` on any error or on no rows left.

    Returns:
        The clean rows and the warnings.
    """
    clean, problems = validate_survey(df, mapping)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise IngestError(f"文件未导入：发现 {len(errors)} 处错误，例如 {errors[0]}", problems)
    if clean.empty:
        raise IngestError("没有可导入的非空回答", problems)
    return clean, [p for p in problems if p.severity == "warning"]


def ingest_survey_bytes(
    store: Store,
    raw: bytes,
    file_name: str,
    *,
    mapping: dict[str, str] | None = None,
    text_column: str | None = None,
    sheet: str | int | None = None,
    uploaded_by: str = "cli",
    model: str | None = None,
    progress: Progress | None = None,
    max_rows: int | None = None,
    keep_duplicates: bool = False,
) -> IngestResult:
    """Read, validate, score and store a survey file. Raises IngestError on any error.

    Rows already stored (:func:`stored_duplicates`) are skipped and counted in the result,
    unless ``keep_duplicates``.
    """
    sha = sha256_bytes(raw)
    existing = find_batch(store, sha, "survey")
    if existing:
        return IngestResult(existing, "survey", 0, duplicate=True)
    df = read_table(raw, file_name, sheet)
    if max_rows and len(df) > max_rows:
        raise IngestError(f"文件有 {len(df):,} 行，超过上限 {max_rows:,} 行（BV_MAX_ROWS）")
    mapping = dict(mapping or guess_mapping(list(df.columns)))
    if text_column:
        if text_column not in df.columns:
            raise IngestError(
                f"找不到文本列「{text_column}」（可用列：{', '.join(df.columns)}）",
                [Problem(None, text_column, "列不存在")],
            )
        mapping = {k: v for k, v in mapping.items() if v != text_column} | {"text": text_column}
    clean, warnings = checked_survey(df, mapping)
    return store_checked_survey(
        store,
        clean,
        warnings,
        sha=sha,
        file_name=file_name,
        uploaded_by=uploaded_by,
        model=model,
        progress=progress,
        keep_duplicates=keep_duplicates,
    )


def store_checked_survey(
    store: Store,
    clean: pd.DataFrame,
    warnings: list[Problem],
    *,
    sha: str,
    file_name: str,
    uploaded_by: str = "cli",
    model: str | None = None,
    progress: Progress | None = None,
    keep_duplicates: bool = False,
) -> IngestResult:
    """Score and store rows that :func:`validate_survey` already passed (the upload page reads
    and validates a file once for its preview, then hands the clean rows here).

    Args:
        clean: the validated rows; any error in them must have been reported already.
        warnings: the validation warnings, passed through to the result.
        sha: sha256 of the file's bytes (an identical file is not stored twice).
        keep_duplicates: store rows that repeat a stored response too
            (:func:`stored_duplicates`); by default they are skipped and counted.

    Returns:
        The result; ``batch_id`` is None when every row was a skipped duplicate.
    """
    from nlp.pipeline import score_frame

    t0 = time.time()
    existing = find_batch(store, sha, "survey")
    if existing:
        return IngestResult(existing, "survey", 0, duplicate=True)
    if clean.empty:
        raise IngestError("没有可导入的非空回答")
    repeats = stored_duplicates(store, clean)
    n_repeats = int(repeats.sum())
    if not keep_duplicates and n_repeats:
        clean = clean[~repeats]
        if clean.empty:
            return IngestResult(
                None, "survey", 0, warnings=list(warnings), skipped_duplicates=n_repeats
            )
    rows = clean.reset_index(drop=True)
    scored = score_frame(rows, "text", model or scoring_model(store), progress)
    batch_id = store_survey_batch(
        store, rows, scored, file_name=file_name, sha=sha, uploaded_by=uploaded_by
    )
    return IngestResult(
        batch_id,
        "survey",
        len(rows),
        warnings=list(warnings),
        model_id=str(scored["model"].iloc[0]),
        seconds=time.time() - t0,
        skipped_duplicates=0 if keep_duplicates else n_repeats,
        kept_duplicates=n_repeats if keep_duplicates else 0,
    )


_FORMULA = re.compile(r"^[=+\-@\t\r]")


def neutralise_formula(value):
    """Prefix cells that a spreadsheet would run as a formula (= + - @) with a quote."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


# --------------------------------------------------------------------------- calls
def ingest_calls_bytes(
    store: Store,
    raw: bytes,
    file_name: str,
    *,
    meta: Path | None = None,
    uploaded_by: str = "cli",
    model: str | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Read transcripts (JSONL, CSV/XLSX turn table, or TXT), analyse, store atomically."""
    from data.reader import TranscriptError, read_metadata_csv, read_transcript_bytes
    from nlp.compliance import score_calls

    t0 = time.time()
    if not raw or not raw.strip():
        raise IngestError("文件是空的")
    sha = sha256_bytes(raw)
    existing = find_batch(store, sha, "calls")
    if existing:
        return IngestResult(existing, "calls", 0, duplicate=True)
    try:
        meta_rows = read_metadata_csv(meta) if meta is not None else None
        calls, turns = read_transcript_bytes(raw, file_name, meta_rows)
    except TranscriptError as exc:
        raise IngestError(str(exc), [Problem(exc.line, exc.column, str(exc))]) from exc
    except Exception as exc:
        raise IngestError(f"无法读取转写文件：{one_line(exc)}") from exc
    if calls.empty:
        raise IngestError("文件中没有通话")
    scored = score_calls(calls, turns, model=model or scoring_model(store), progress=progress)
    return store_scored_calls(
        store,
        calls,
        turns,
        scored.turn_labels,
        scored.analyses,
        file_name=file_name,
        sha=sha,
        uploaded_by=uploaded_by,
        started=t0,
    )


def saved_mapping(store: Store, columns: list[str]) -> dict[str, str] | None:
    """The column mapping last used for this file layout, if any."""
    raw = store.scalar(
        "SELECT mapping FROM column_mappings WHERE layout_key = ?", [layout_key(columns)]
    )
    return json.loads(raw) if raw else None


def save_mapping(store: Store, columns: list[str], mapping: dict[str, str]) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT OR REPLACE INTO column_mappings VALUES (?, ?, ?)",
            [layout_key(columns), json.dumps(mapping, ensure_ascii=False), now()],
        )
