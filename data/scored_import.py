"""Load already-scored Parquet output into the store, without scoring again.

``python -m nlp score ... --engine ray`` writes a directory of Parquet part files: the input
columns plus the label columns in their file form (JSON strings, ``complaint`` as
"true"/"false", ``confidence``). :func:`import_scored_survey` reads them with DuckDB, validates
the survey columns exactly as an upload is validated, parses the labels back and stores
everything in ONE transaction through :func:`data.batches.store_survey_batch`. The batch is
keyed by the SHA-256 of the part files, so importing the same output again stores nothing.

Example:
    >>> from data.store import open_store
    >>> import_scored_survey(open_store(":memory:"), Path("scored.parquet"))  # doctest: +SKIP
    IngestResult(batch_id='b-…', kind='survey', rows=100000, ...)
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from data.batches import find_batch, store_survey_batch
from data.ingest import (
    SURVEY_FIELDS,
    IngestError,
    IngestResult,
    Problem,
    checked_survey,
    guess_mapping,
)
from data.store import Store
from nlp.labels import SENTIMENTS
from nlp.pipeline import LABEL_COLUMNS

LIST_COLUMNS = ("emotions", "complaint_reasons", "requests", "risk_flags")
OPTIONAL_COLUMNS = ("risk_flags", "risk_evidence")
"""Label columns an older scorer did not write: read as empty when absent."""
_MAX_PROBLEMS = 50


def scored_files(path: Path) -> list[Path]:
    """The Parquet files of a scored output: the file itself, or every ``*.parquet`` under a
    directory (hidden and ``_``-prefixed entries skipped), in name order.

    Raises:
        IngestError: nothing there, or no Parquet file in it.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() != ".parquet":
            raise IngestError(f"{path.name} 不是 Parquet 文件：请给出评分输出目录或 .parquet 文件")
        return [path]
    if not path.is_dir():
        raise IngestError(f"找不到 {path}")
    files = sorted(
        p
        for p in path.rglob("*.parquet")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not files:
        raise IngestError(f"目录 {path} 中没有 Parquet 文件")
    return files


def files_sha256(files: list[Path]) -> str:
    """SHA-256 over the files' bytes in order: the same output always gives the same key."""
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def read_scored(store: Store, files: list[Path]) -> pd.DataFrame:
    """All part files as one frame (columns matched by name), in file order."""
    cur = store.cursor()
    try:
        return cur.execute(
            "SELECT * FROM read_parquet(?, union_by_name = true)", [[str(f) for f in files]]
        ).df()
    except Exception as exc:  # duckdb.Error and friends: a corrupt or foreign file
        raise IngestError(f"无法读取 Parquet：{' '.join(str(exc).split())[:200]}") from exc
    finally:
        cur.close()


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays, dicts
        return False


def _json_value(value, kind: type, row: int, column: str, problems: list[Problem]):
    if _missing(value):
        return kind()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            problems.append(Problem(row, column, f"不是有效的 JSON：{value[:40]!r}"))
            return kind()
    if not isinstance(value, kind):
        problems.append(Problem(row, column, f"应为 JSON {'对象' if kind is dict else '数组'}"))
        return kind()
    return value


_TRUE = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_labels(df: pd.DataFrame) -> pd.DataFrame:
    """The label columns back in the pipeline's in-memory form (dicts, lists, bools).

    Raises:
        IngestError: a missing label column, or values no scorer writes (each named by row,
            counting the first data row as 1, and column).
    """
    missing = [c for c in LABEL_COLUMNS if c not in df.columns and c not in OPTIONAL_COLUMNS]
    if missing:
        raise IngestError(f"缺少标签列 {', '.join(missing)}：这不是 python -m nlp score 的输出")
    df = df.assign(**{c: None for c in OPTIONAL_COLUMNS if c not in df.columns})
    problems: list[Problem] = []
    values = {
        c: df[c].tolist()
        for c in ("aspects", "risk_evidence", *LIST_COLUMNS, "complaint", "sentiment_score")
    }
    aspects: list[dict] = []
    evidence: list[dict] = []
    lists: dict[str, list[list[str]]] = {c: [] for c in LIST_COLUMNS}
    complaint: list[bool] = []
    scores: list[float] = []
    for i in range(len(df)):
        row = i + 1
        aspects.append(_json_value(values["aspects"][i], dict, row, "aspects", problems))
        evidence.append(
            _json_value(values["risk_evidence"][i], dict, row, "risk_evidence", problems)
        )
        for col in LIST_COLUMNS:
            items = _json_value(values[col][i], list, row, col, problems)
            lists[col].append([str(v) for v in items])
        flag = values["complaint"][i]
        if isinstance(flag, bool | np.bool_):
            complaint.append(bool(flag))
        elif str(flag).strip().lower() in _TRUE:
            complaint.append(_TRUE[str(flag).strip().lower()])
        else:
            problems.append(Problem(row, "complaint", f"应为 true/false，实际为「{flag}」"))
            complaint.append(False)
        score = pd.to_numeric(values["sentiment_score"][i], errors="coerce")
        if _missing(score) or not -1.0 <= float(score) <= 1.0:
            problems.append(Problem(row, "sentiment_score", "应为 -1 到 1 之间的数"))
            score = 0.0
        scores.append(float(score))
        if len(problems) >= _MAX_PROBLEMS:
            break
    bad_sentiment = ~df["sentiment"].isin(SENTIMENTS)
    for i in np.flatnonzero(bad_sentiment.to_numpy())[:_MAX_PROBLEMS]:
        problems.append(
            Problem(int(i) + 1, "sentiment", f"未知的情感标签「{df['sentiment'].iat[i]}」")
        )
    if problems:
        raise IngestError(f"评分结果有 {len(problems)} 处错误，例如 {problems[0]}", problems)
    confidence = (
        pd.to_numeric(df["confidence"], errors="coerce").astype(float)
        if "confidence" in df.columns
        else pd.Series(math.nan, index=df.index)
    )
    return pd.DataFrame(
        {
            "sentiment": df["sentiment"].astype(str).to_numpy(),
            "sentiment_score": scores,
            "aspects": aspects,
            "emotions": lists["emotions"],
            "complaint": complaint,
            "complaint_reasons": lists["complaint_reasons"],
            "requests": lists["requests"],
            "risk_flags": lists["risk_flags"],
            "risk_evidence": evidence,
            "model": df["model"].astype(str).to_numpy(),
            "confidence": confidence.to_numpy(),
        },
        index=df.index,
    )


def survey_mapping(columns: list[str], text_column: str | None = None) -> dict[str, str]:
    """Field -> column for scored output: columns named like the store's fields
    (``respondent_id``, ``submitted_at``, ``csat`` …) first, then the upload page's header
    guesses (回答内容, 满意度 …) for the rest. Label columns are never survey fields.

    Raises:
        IngestError: the text column is missing.
    """
    columns = [c for c in columns if c not in (*LABEL_COLUMNS, "confidence")]
    text = text_column or ("text" if "text" in columns else guess_mapping(columns).get("text"))
    if not text or text not in columns:
        raise IngestError(
            f"找不到文本列「{text_column or 'text'}」（可用列：{', '.join(columns)}）",
            [Problem(None, text_column or "text", "列不存在")],
        )
    mapping = {"text": text}
    for field in SURVEY_FIELDS:
        if field != "text" and field in columns and field != text:
            mapping[field] = field
    used = set(mapping.values())
    for field, column in guess_mapping([c for c in columns if c not in used]).items():
        if field not in mapping:
            mapping[field] = column
    return mapping


def import_scored_survey(
    store: Store,
    path: Path,
    *,
    text_column: str | None = None,
    file_name: str | None = None,
    uploaded_by: str = "cli",
) -> IngestResult:
    """Store scored survey rows (Parquet output of ``python -m nlp score``) as one batch.

    Args:
        store: the dashboard store.
        path: the output directory of ``--engine ray`` (or one ``.parquet`` file).
        text_column: the scored text column (default ``text``, else the header guess).
        file_name: the name the batch is listed under (default: the directory's name).
        uploaded_by: recorded in the batch row and the audit log.

    Returns:
        The stored batch, or ``duplicate=True`` when this output was imported before.

    Raises:
        IngestError: unreadable files, missing columns, invalid survey fields or labels;
            nothing is stored then.
    """
    t0 = time.time()
    files = scored_files(path)
    sha = files_sha256(files)
    existing = find_batch(store, sha, "survey")
    if existing:
        return IngestResult(existing, "survey", 0, duplicate=True)
    df = read_scored(store, files).reset_index(drop=True)
    if df.empty:
        raise IngestError("评分输出中没有数据行")
    mapping = survey_mapping([str(c) for c in df.columns], text_column)
    labels = parse_labels(df)
    raw = df[list(dict.fromkeys(mapping.values()))].astype(object)
    raw = raw.where(raw.notna(), None)
    raw.attrs["source_lines"] = list(range(1, len(raw) + 1))  # "row N" = the N-th record
    clean, warnings = checked_survey(raw, mapping)
    scored = labels.loc[clean.index].reset_index(drop=True)
    name = file_name or Path(path).name
    batch_id = store_survey_batch(
        store,
        clean.reset_index(drop=True),
        scored,
        file_name=name,
        sha=sha,
        uploaded_by=uploaded_by,
    )
    if "confidence" not in df.columns:
        warnings.append(Problem(None, "confidence", "输出中没有置信度，已留空", "warning"))
    return IngestResult(
        batch_id,
        "survey",
        len(clean),
        warnings=warnings,
        model_id=str(scored["model"].iloc[0]),
        seconds=time.time() - t0,
    )
