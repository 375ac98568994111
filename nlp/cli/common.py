"""What every ``python -m nlp`` command shares: the usage error, reading input, writing output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

JSON_COLUMNS = (
    "aspects",
    "emotions",
    "complaint_reasons",
    "requests",
    "risk_flags",
    "risk_evidence",
)


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one short line (never empty)."""
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


def read_input(path: Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a survey-style table with the one reader (``data.reader.read_table``)."""
    from data.reader import InputError, read_table

    if not path.exists():
        raise UsageError(f"找不到输入文件 {path}")
    try:
        return read_table(path.read_bytes(), path.name, sheet)
    except InputError as exc:
        raise UsageError(f"{path.name}: {exc}") from exc


def serialise_labels(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with the JSON columns as JSON strings and ``complaint`` as "true"/"false".

    The file form of the labels, shared by the local writer and the Ray job so that both
    engines produce the same columns and types.
    """
    out = df.copy()
    for col in JSON_COLUMNS:
        if col in out:
            out[col] = [json.dumps(v, ensure_ascii=False) for v in out[col]]
    if "complaint" in out:
        out["complaint"] = out["complaint"].map(lambda v: "true" if v else "false")
    return out


def deserialise_labels(df: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`serialise_labels`: label values back from their file form."""
    out = df.copy()
    for col in JSON_COLUMNS:
        if col in out:
            out[col] = [json.loads(v) if isinstance(v, str) else v for v in out[col]]
    if "complaint" in out:
        out["complaint"] = out["complaint"].map(lambda v: v is True or v == "true")
    return out


def write_output(df: pd.DataFrame, path: Path) -> None:
    """Write by extension; JSON columns become JSON strings in CSV/JSONL/Parquet."""
    out = serialise_labels(df)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        out.to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".jsonl":
        out.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        out.to_parquet(path, index=False)
    else:
        raise UsageError(f"不支持的输出格式 {suffix}：请用 .csv、.jsonl 或 .parquet")


def progress_bar(total_hint: int):
    """A tqdm bar on stderr (hidden under 200 texts) and a ``(done, total)`` callback for it."""
    from tqdm import tqdm

    bar = tqdm(total=total_hint, unit="段", file=sys.stderr, disable=total_hint < 200, desc="评分")

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update
