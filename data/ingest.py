"""Reading, validating, scoring and storing uploaded files, all-or-nothing.

A file is read into text columns (encoding detected), mapped to our fields, validated
row by row, scored with the NLP pipeline and written as one batch in one transaction.
Any problem rejects the whole file with messages that name the row and the column;
the store is left exactly as it was. Re-ingesting an identical file stores nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data.store import Store, new_id, now

SURVEY_FIELDS: dict[str, str] = {
    "text": "回答文本",
    "respondent_id": "受访者ID",
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


class IngestError(ValueError):
    """The file cannot be stored. ``problems`` lists every issue found (row, column, why)."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class Problem:
    """One finding of validation. ``row`` is the line in the file (header = 1)."""

    row: int | None
    column: str | None
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.column:
            where.append(f"列「{self.column}」")
        return ("，".join(where) + "：" if where else "") + self.message


@dataclass
class IngestResult:
    """What an ingest did."""

    batch_id: str | None
    kind: str
    rows: int
    duplicate: bool = False
    warnings: list[Problem] = field(default_factory=list)
    model_id: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        if self.duplicate:
            return f"该文件已导入过（批次 {self.batch_id}），未重复存储。"
        return f"已导入 {self.rows:,} 条{'问卷回答' if self.kind == 'survey' else '通话'}，批次 {self.batch_id}。"


# --------------------------------------------------------------------------- reading
ENCODINGS = ("utf-8-sig", "gb18030", "big5")
# Characters that Big5 bytes turn into when read as GB18030 (kana, Greek, Cyrillic, bopomofo,
# box drawing, private use); real Chinese text has almost none.
_IMPLAUSIBLE = re.compile("[\u0370-\u04ff\u2500-\u257f\u3040-\u312f\ue000-\uf8ff\ufffd]")


def decode_bytes(raw: bytes) -> tuple[str, str]:
    """Decode text bytes: UTF-8 (with or without BOM), GBK/GB18030, Big5; else detect."""
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        nul_share = raw[:4096].count(b"\x00") / max(1, min(len(raw), 4096))
        if nul_share > 0.05:
            raise IngestError("文件不是文本表格（含大量二进制数据），请检查文件类型")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        _reject_mixed_utf8(raw)
    decoded = []
    for enc in ENCODINGS[1:]:
        try:
            decoded.append((raw.decode(enc), enc))
        except UnicodeDecodeError:
            continue
    if decoded:  # Big5 bytes are mostly valid GB18030 too: keep the plausible reading
        return min(decoded, key=lambda d: len(_IMPLAUSIBLE.findall(d[0])))
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise IngestError("无法识别文件编码（试过 UTF-8、GBK/GB18030、Big5），请另存为 UTF-8 CSV")
    return str(best), best.encoding


def _reject_mixed_utf8(raw: bytes) -> None:
    """Reject a file whose lines are mostly UTF-8 Chinese but not all (pasted from elsewhere).

    Decoding it whole as GB18030 would silently store mojibake for every line.
    """
    good = bad = 0
    first_bad = None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError:
            bad += 1
            first_bad = first_bad or number
            continue
        good += bool(re.search("[\u4e00-\u9fff]", text))
    if good and good >= bad:
        problem = Problem(first_bad, None, "不是 UTF-8 编码（文件其余部分是 UTF-8）")
        raise IngestError(f"文件编码混杂：{problem}，请统一另存为 UTF-8 后再上传", [problem])


def file_kind(name: str) -> str:
    """csv | xlsx | jsonl | parquet | txt, from the file name."""
    suffix = Path(name).suffix.lower()
    kinds = {
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "txt",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
        ".xls": "xlsx",
        ".jsonl": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
    }
    if suffix not in kinds:
        raise IngestError(
            f"不支持的文件类型 {suffix or '（无扩展名）'}：请上传 CSV、XLSX、JSONL 或 Parquet"
        )
    return kinds[suffix]


def read_table(raw: bytes, name: str, sheet: str | int | None = None) -> pd.DataFrame:
    """Read an uploaded table into a DataFrame of strings (empty cells as None).

    Raises:
        IngestError: unreadable file, empty file, no data rows, ragged rows.
    """
    if not raw or not raw.strip():
        raise IngestError("文件是空的")
    kind = file_kind(name)
    try:
        if kind in ("csv", "txt"):
            text, _ = decode_bytes(raw)
            text = text.replace("\x00", "")
            df = _read_csv_text(text)
        elif kind == "xlsx":
            df = _read_excel(raw, sheet)
        elif kind == "jsonl":
            df = _read_jsonl(raw)
        else:
            df = pd.read_parquet(io.BytesIO(raw))
    except IngestError:
        raise
    except Exception as exc:  # every parser error becomes one clear line
        raise IngestError(f"无法读取文件：{_one_line(exc)}") from exc
    df = df.astype(object)
    df = df.where(df.notna(), None)  # JSONL/Parquet gaps are NaN: None, never the text "nan"
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if len(df.columns) != len(set(df.columns)):
        dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
        raise IngestError(f"表头有重复列名：{', '.join(dup)}")
    if df.empty:
        raise IngestError("文件只有表头，没有数据行")
    return df


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header into columns and the first rows the same way.

    Counting delimiter characters instead would pick "，" for comma files whose answers use
    full-width commas. Ties go to the earlier candidate; one-column files get ",".
    """
    import csv
    import itertools

    best, best_rows = ",", 0
    for delim in (",", "\t", ";", "|", "，"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        rows = []
        try:
            for r in itertools.islice(reader, 50):
                if any(cell.strip() for cell in r):
                    rows.append(r)
        except csv.Error:
            pass
        if not rows or len(rows[0]) < 2:
            continue
        same = sum(len(r) == len(rows[0]) for r in rows)
        if same > best_rows:
            best, best_rows = delim, same
    return best


def _read_csv_text(text: str) -> pd.DataFrame:
    import csv

    delim = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []  # the file line each record starts on (header = 1)
    while True:
        start = reader.line_num + 1
        try:
            r = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problem = Problem(start, None, f"引号未闭合或位置不对（{exc}）")
            raise IngestError(f"无法读取文件：{problem}", [problem]) from exc
        if any(cell.strip() for cell in r):
            rows.append(r)
            lines.append(start)
    if not rows:
        raise IngestError("文件是空的")
    header, body = rows[0], rows[1:]
    problems = [
        Problem(line, None, f"该行有 {len(r)} 列，表头有 {len(header)} 列（分隔符或引号错误？）")
        for line, r in zip(lines[1:], body, strict=True)
        if len(r) != len(header)
    ]
    if problems:
        raise IngestError(f"{len(problems)} 行列数与表头不一致：{problems[0]}", problems)
    df = pd.DataFrame(body, columns=header, dtype=object).replace({"": None})
    df.attrs["source_lines"] = lines[1:]
    return df


def _read_excel(raw: bytes, sheet: str | int | None) -> pd.DataFrame:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    names = wb.sheetnames
    if sheet is None:
        ws = wb[names[0]]
    elif isinstance(sheet, int):
        ws = wb[names[sheet]]
    elif sheet in names:
        ws = wb[sheet]
    else:
        raise IngestError(f"找不到工作表「{sheet}」（可选：{', '.join(names)}）")
    numbered = [(n, list(r)) for n, r in enumerate(ws.iter_rows(values_only=True), start=1)]
    numbered = [(n, r) for n, r in numbered if any(v not in (None, "") for v in r)]
    if not numbered:
        raise IngestError("工作表是空的")
    lines, rows = [n for n, _ in numbered], [r for _, r in numbered]
    header = [str(h) if h is not None else f"列{i + 1}" for i, h in enumerate(rows[0])]
    body = [
        [_cell_str(v) for v in r[: len(header)]] + [None] * (len(header) - len(r)) for r in rows[1:]
    ]
    df = pd.DataFrame(body, columns=header, dtype=object)
    df.attrs["source_lines"] = lines[1:]
    return df


def excel_sheets(raw: bytes) -> list[str]:
    """Sheet names of an XLSX file (for the upload page's sheet picker)."""
    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(raw), read_only=True).sheetnames


def _cell_str(v) -> str | None:
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _json_object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object with lone surrogates ("\\ud800" escapes, which no UTF-8 store or
    pandas string column accepts) in keys and string values replaced by "?"."""

    def clean(v):
        return v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v

    return {clean(k): clean(v) for k, v in pairs}


def _read_jsonl(raw: bytes) -> pd.DataFrame:
    text, _ = decode_bytes(raw)
    stripped = text.strip()
    if stripped.startswith("["):
        return pd.DataFrame(json.loads(stripped, object_pairs_hook=_json_object), dtype=object)
    records, lines = [], []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            raise IngestError(
                f"第 {i} 行不是有效的 JSON：{exc.msg}", [Problem(i, None, exc.msg)]
            ) from exc
        if not isinstance(rec, dict):
            raise IngestError(f"第 {i} 行应为 JSON 对象", [Problem(i, None, "应为 JSON 对象")])
        records.append(rec)
        lines.append(i)
    df = pd.DataFrame(records, dtype=object)
    df.attrs["source_lines"] = lines
    return df


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
    df: pd.DataFrame, mapping: dict[str, str], max_text_chars: int = 200_000
) -> tuple[pd.DataFrame, list[Problem]]:
    """Map and validate survey rows. Returns the clean frame and all problems found.

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
    too_long = text.str.len() > max_text_chars
    for i in df.index[too_long.fillna(False)]:
        problems.append(
            Problem(int(line[i]), mapping["text"], f"文本超过 {max_text_chars:,} 字，请拆分后上传")
        )
    out["text"] = text
    for fld in ("respondent_id", "product", "region", "channel"):
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


# --------------------------------------------------------------------------- storing
def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def find_batch(store: Store, sha: str, kind: str) -> str | None:
    """The batch id already holding this exact file, if any."""
    return store.scalar("SELECT batch_id FROM batches WHERE sha256 = ? AND kind = ?", [sha, kind])


def write_scores(cur, kind: str, ids: list[str], batch_id: str, scored: pd.DataFrame) -> None:
    """Insert model outputs (and the exploded aspects table) for scored texts."""
    frame = pd.DataFrame(
        {
            "target_kind": kind,
            "target_id": ids,
            "batch_id": batch_id,
            "model_id": scored["model"].to_numpy(),
            "sentiment": scored["sentiment"].to_numpy(),
            "sentiment_score": scored["sentiment_score"].astype(float).to_numpy(),
            "confidence": scored["confidence"].astype(float).to_numpy(),
            "aspects": [json.dumps(a, ensure_ascii=False) for a in scored["aspects"]],
            "emotions": scored["emotions"].to_numpy(),
            "complaint": scored["complaint"].astype(bool).to_numpy(),
            "complaint_reasons": scored["complaint_reasons"].to_numpy(),
            "requests": scored["requests"].to_numpy(),
        }
    )
    cur.register("new_scores", frame)
    cur.execute(
        "INSERT INTO scores SELECT target_kind, target_id, batch_id, model_id, sentiment, "
        "sentiment_score, confidence, aspects::JSON, emotions::VARCHAR[], complaint, "
        "complaint_reasons::VARCHAR[], requests::VARCHAR[] FROM new_scores"
    )
    cur.unregister("new_scores")
    rows = [
        (kind, tid, batch_id, tactic, pol)
        for tid, asp in zip(ids, scored["aspects"], strict=True)
        for tactic, pol in asp.items()
    ]
    if rows:
        aspects = pd.DataFrame(
            rows, columns=["target_kind", "target_id", "batch_id", "tactic", "polarity"]
        )
        cur.register("new_aspects", aspects)
        cur.execute("INSERT INTO aspects SELECT * FROM new_aspects")
        cur.unregister("new_aspects")


def _insert_frame(cur, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    cur.register("incoming", frame[columns])
    cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM incoming")
    cur.unregister("incoming")


RESPONSE_COLUMNS = [
    "response_id",
    "batch_id",
    "respondent_id",
    "submitted_at",
    "product",
    "region",
    "overdue_bucket",
    "channel",
    "csat",
    "nps",
    "text",
]


def store_survey_batch(
    store: Store,
    responses: pd.DataFrame,
    scored: pd.DataFrame,
    *,
    file_name: str,
    sha: str,
    uploaded_by: str,
    is_demo: bool = False,
) -> str:
    """Write responses + scores + the batch row + an audit entry in ONE transaction."""
    batch_id = new_id("demo" if is_demo else "b")
    frame = responses.copy()
    if "response_id" not in frame:
        frame["response_id"] = [f"{batch_id}-{i:06d}" for i in range(len(frame))]
    frame["batch_id"] = batch_id
    for col in RESPONSE_COLUMNS:
        if col not in frame:
            frame[col] = None
    model_id = str(scored["model"].iloc[0]) if len(scored) else None
    with store.transaction() as cur:
        if find_batch_cur(cur, sha, "survey"):
            raise IngestError("该文件已导入过")
        cur.execute(
            "INSERT INTO batches VALUES (?, ?, ?, 'survey', ?, ?, ?, 'stored', ?, ?)",
            [batch_id, file_name, sha, len(frame), uploaded_by, now(), is_demo, model_id],
        )
        _insert_frame(cur, "responses", frame, RESPONSE_COLUMNS)
        write_scores(cur, "response", frame["response_id"].tolist(), batch_id, scored)
        store.audit(
            uploaded_by,
            "upload",
            batch_id,
            {"file": file_name, "rows": len(frame), "kind": "survey"},
            cur=cur,
        )
    return batch_id


def find_batch_cur(cur, sha: str, kind: str) -> bool:
    row = cur.execute("SELECT 1 FROM batches WHERE sha256 = ? AND kind = ?", [sha, kind]).fetchone()
    return row is not None


def delete_batch(store: Store, batch_id: str, actor: str) -> int:
    """Remove a batch and everything derived from it, atomically. Returns rows removed."""
    with store.transaction() as cur:
        row = cur.execute("SELECT row_count FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
        if row is None:
            raise IngestError(f"批次 {batch_id} 不存在")
        cur.execute(
            "DELETE FROM reviews WHERE target_id IN (SELECT target_id FROM scores "
            "WHERE batch_id = ?)",
            [batch_id],
        )
        cur.execute(
            "DELETE FROM turns WHERE call_id IN (SELECT call_id FROM calls WHERE batch_id = ?)",
            [batch_id],
        )
        for table in ("scores", "aspects", "responses", "calls", "call_analysis", "batches"):
            cur.execute(f"DELETE FROM {table} WHERE batch_id = ?", [batch_id])
        store.audit(actor, "delete_batch", batch_id, {"rows": int(row[0])}, cur=cur)
    return int(row[0])


Progress = Callable[[int, int], None]


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
) -> IngestResult:
    """Read, validate, score and store a survey file. Raises IngestError on any error."""
    import time

    from nlp.pipeline import score_frame

    t0 = time.time()
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
    clean, problems = validate_survey(df, mapping)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise IngestError(f"文件未导入：发现 {len(errors)} 处错误，例如 {errors[0]}", problems)
    if clean.empty:
        raise IngestError("没有可导入的非空回答", problems)
    scored = score_frame(clean.reset_index(drop=True), "text", model, progress)
    batch_id = store_survey_batch(
        store,
        clean.reset_index(drop=True),
        scored,
        file_name=file_name,
        sha=sha,
        uploaded_by=uploaded_by,
    )
    warnings = [p for p in problems if p.severity == "warning"]
    return IngestResult(
        batch_id,
        "survey",
        len(clean),
        warnings=warnings,
        model_id=str(scored["model"].iloc[0]),
        seconds=time.time() - t0,
    )


_FORMULA = re.compile(r"^[=+\-@\t\r]")


def neutralise_formula(value):
    """Prefix cells that a spreadsheet would run as a formula (= + - @) with a quote."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


# --------------------------------------------------------------------------- calls
CALL_COLUMNS = [
    "call_id",
    "batch_id",
    "borrower_id",
    "agent_id",
    "agent_name",
    "team",
    "started_at",
    "duration_s",
    "outcome",
    "product",
    "overdue_bucket",
]
TURN_COLUMNS = ["call_id", "turn_index", "speaker", "text", "start_s", "end_s"]


def analyse_calls(
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    model: str | None = None,
    progress: Progress | None = None,
    profile: str | None = None,
) -> tuple[pd.DataFrame, list]:
    """Score every turn once (full labels) and run the compliance engine on the calls.

    Returns (turn scores aligned with ``turns``, list of CallAnalysis).
    """
    from data.settings import settings
    from nlp.calls import analyze_calls, load_profile
    from nlp.pipeline import score_frame

    scored = score_frame(turns[["text"]].reset_index(drop=True), "text", model, progress)
    lookup = dict(
        zip(
            turns["text"],
            zip(scored["sentiment"], scored["sentiment_score"], strict=True),
            strict=True,
        )
    )

    def turn_sentiment(texts: list[str]) -> list[tuple[str, float]]:
        return [lookup.get(t, ("neutral", 0.0)) for t in texts]

    prof = load_profile(profile or settings().call_profile)
    analyses = analyze_calls(calls, turns, prof, turn_sentiment)
    return scored, analyses


def store_calls_batch(
    store: Store,
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    turn_scores: pd.DataFrame,
    analyses: list,
    *,
    file_name: str,
    sha: str,
    uploaded_by: str,
    is_demo: bool = False,
) -> str:
    """Write calls, turns, turn scores and call analyses + batch + audit in ONE transaction."""
    batch_id = new_id("demo" if is_demo else "b")
    calls = calls.copy()
    calls["batch_id"] = batch_id
    for col in CALL_COLUMNS:
        if col not in calls:
            calls[col] = None
    turns = turns.reset_index(drop=True).copy()
    for col in TURN_COLUMNS:
        if col not in turns:
            turns[col] = None
    ids = [f"{c}#{int(i)}" for c, i in zip(turns["call_id"], turns["turn_index"], strict=True)]
    rows = []
    for a in analyses:
        d = a.to_dict() if hasattr(a, "to_dict") else dict(a)
        traj = d.get("trajectory") or []
        change = None
        if len(traj) >= 2:
            change = float(traj[-1][1]) - float(traj[0][1])
        rows.append(
            {
                "call_id": d["call_id"],
                "batch_id": batch_id,
                "violations": list(d.get("violations", [])),
                "evidence": json.dumps(d.get("evidence", []), ensure_ascii=False),
                "borrower_sentiment_start": d.get("borrower_sentiment_start"),
                "borrower_sentiment_end": d.get("borrower_sentiment_end"),
                "sentiment_change": change,
                "agent_offered_plan": bool(d.get("agent_offered_plan")),
                "promise_to_pay": bool(d.get("promise_to_pay")),
                "trajectory": json.dumps(traj),
            }
        )
    analysis = pd.DataFrame(rows)
    with store.transaction() as cur:
        if find_batch_cur(cur, sha, "calls"):
            raise IngestError("该文件已导入过")
        clash = cur.execute(
            "SELECT count(*) FROM calls WHERE call_id IN (SELECT UNNEST(?::VARCHAR[]))",
            [calls["call_id"].astype(str).tolist()],
        ).fetchone()[0]
        if clash:
            raise IngestError(f"{clash} 个通话编号(call_id)已存在于其他批次中，文件未导入")
        cur.execute(
            "INSERT INTO batches VALUES (?, ?, ?, 'calls', ?, ?, ?, 'stored', ?, ?)",
            [
                batch_id,
                file_name,
                sha,
                len(calls),
                uploaded_by,
                now(),
                is_demo,
                str(turn_scores["model"].iloc[0]) if len(turn_scores) else None,
            ],
        )
        _insert_frame(cur, "calls", calls, CALL_COLUMNS)
        _insert_frame(cur, "turns", turns, TURN_COLUMNS)
        write_scores(cur, "turn", ids, batch_id, turn_scores)
        if len(analysis):
            cur.register("new_analysis", analysis)
            cur.execute(
                "INSERT INTO call_analysis SELECT call_id, batch_id, violations::VARCHAR[], "
                "evidence::JSON, borrower_sentiment_start, borrower_sentiment_end, "
                "sentiment_change, agent_offered_plan, promise_to_pay, trajectory::JSON "
                "FROM new_analysis"
            )
            cur.unregister("new_analysis")
        store.audit(
            uploaded_by,
            "upload",
            batch_id,
            {"file": file_name, "calls": len(calls), "kind": "calls"},
            cur=cur,
        )
    return batch_id


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
    import tempfile
    import time

    from nlp.transcripts import TranscriptError, read_transcripts

    t0 = time.time()
    if not raw or not raw.strip():
        raise IngestError("文件是空的")
    sha = sha256_bytes(raw)
    existing = find_batch(store, sha, "calls")
    if existing:
        return IngestResult(existing, "calls", 0, duplicate=True)
    suffix = Path(file_name).suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".xlsx", ".txt"):
        raise IngestError(f"不支持的转写文件类型 {suffix}：请上传 JSONL、CSV、XLSX 或 TXT")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(file_name).name
        path.write_bytes(raw)
        try:
            calls, turns = read_transcripts(path, meta)
        except TranscriptError as exc:
            raise IngestError(str(exc), [Problem(exc.line, exc.column, str(exc))]) from exc
        except Exception as exc:
            raise IngestError(f"无法读取转写文件：{_one_line(exc)}") from exc
    if calls.empty:
        raise IngestError("文件中没有通话")
    scored, analyses = analyse_calls(calls, turns, model, progress)
    batch_id = store_calls_batch(
        store, calls, turns, scored, analyses, file_name=file_name, sha=sha, uploaded_by=uploaded_by
    )
    notes = [Problem(None, None, n, "warning") for n in calls.attrs.get("notes", [])]
    return IngestResult(
        batch_id,
        "calls",
        len(calls),
        warnings=notes,
        model_id=str(scored["model"].iloc[0]),
        seconds=time.time() - t0,
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
