"""Survey tables: bytes of CSV (any encoding), XLSX, JSONL / JSON or Parquet -> a frame of strings.

Every problem raises :class:`InputError` naming the row (file line, header = 1) and column.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from data.reader.encoding import decode_bytes
from data.reader.errors import InputError, Problem, one_line


def file_kind(name: str) -> str:
    """csv | xlsx | jsonl | parquet | txt, from the file name."""
    suffix = Path(name).suffix.lower()
    kinds = {
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "txt",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
        ".jsonl": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
    }
    if suffix == ".xls":
        raise InputError("不支持旧版 Excel（.xls）文件：请在 Excel 中另存为 .xlsx 或 CSV 后再上传")
    if suffix not in kinds:
        raise InputError(
            f"不支持的文件类型 {suffix or '（无扩展名）'}：请上传 CSV、XLSX、JSONL 或 Parquet"
        )
    return kinds[suffix]


def read_table(raw: bytes, name: str, sheet: str | int | None = None) -> pd.DataFrame:
    """Read an uploaded table into a DataFrame of strings (empty cells as None).

    Raises:
        InputError: unreadable file, empty file, no data rows, ragged rows.
    """
    if not raw or not raw.strip():
        raise InputError("文件是空的")
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
    except InputError:
        raise
    except Exception as exc:  # every parser error becomes one clear line
        raise InputError(f"无法读取文件：{one_line(exc)}") from exc
    df = df.astype(object)
    df = df.where(df.notna(), None)  # JSONL/Parquet gaps are NaN: None, never the text "nan"
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if len(df.columns) != len(set(df.columns)):
        dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
        raise InputError(f"表头有重复列名：{', '.join(dup)}")
    if df.empty:
        raise InputError("文件只有表头，没有数据行")
    return df


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
            raise InputError(f"无法读取文件：{problem}", [problem]) from exc
        if any(cell.strip() for cell in r):
            rows.append(r)
            lines.append(start)
    if not rows:
        raise InputError("文件是空的")
    header, body = rows[0], rows[1:]
    problems = [
        Problem(line, None, f"该行有 {len(r)} 列，表头有 {len(header)} 列（分隔符或引号错误？）")
        for line, r in zip(lines[1:], body, strict=True)
        if len(r) != len(header)
    ]
    if problems:
        raise InputError(f"{len(problems)} 行列数与表头不一致：{problems[0]}", problems)
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
        raise InputError(f"找不到工作表「{sheet}」（可选：{', '.join(names)}）")
    numbered = [(n, list(r)) for n, r in enumerate(ws.iter_rows(values_only=True), start=1)]
    numbered = [(n, r) for n, r in numbered if any(v not in (None, "") for v in r)]
    if not numbered:
        raise InputError("工作表是空的")
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
            raise InputError(
                f"第 {i} 行不是有效的 JSON：{exc.msg}", [Problem(i, None, exc.msg)]
            ) from exc
        if not isinstance(rec, dict):
            raise InputError(f"第 {i} 行应为 JSON 对象", [Problem(i, None, "应为 JSON 对象")])
        records.append(rec)
        lines.append(i)
    df = pd.DataFrame(records, dtype=object)
    df.attrs["source_lines"] = lines
    return df
