"""A customer's labelled table, checked and read into one canonical frame.

Every problem is an :class:`AdaptInputError` whose message is one Chinese line naming the
row (the line in the file, header = 1) or the column: a missing or empty column, an unknown
label value, or fewer than ``min_rows`` rows for a class the adapter is asked to learn.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"text": ["好"] * 20 + ["差"] * 20 + ["嗯"] * 20,
    ...                    "s": ["正面"] * 20 + ["negative"] * 20 + ["中性"] * 20})
    >>> frame, notes = read_labelled(df, LabelColumns(text="text", sentiment="s"))
    >>> int((frame["sentiment"] == "positive").sum())
    20
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields

import pandas as pd

from nlp.labels import (
    EMOTION_NAMES_ZH,
    EMOTIONS,
    SENTIMENT_NAMES_ZH,
    SENTIMENTS,
    TACTIC_NAMES_ZH,
    TACTICS,
)

MIN_ROWS = 20
"""The fewest rows a class needs before the adapter learns it."""

SENTIMENT_ALIASES: dict[str, str] = {
    **{s: s for s in SENTIMENTS},
    **{zh: s for s, zh in SENTIMENT_NAMES_ZH.items()},
    "neg": "negative",
    "neu": "neutral",
    "pos": "positive",
    "消极": "negative",
    "积极": "positive",
}  # no numeric codes: 0/1/2 and -1/0/1 both occur, and a wrong guess would be silent
EMOTION_ALIASES: dict[str, str] = {
    **{e: e for e in EMOTIONS},
    **{zh: e for e, zh in EMOTION_NAMES_ZH.items()},
}
TACTIC_ALIASES: dict[str, str] = {
    **{t: t for t in TACTICS},
    **{zh: t for t, zh in TACTIC_NAMES_ZH.items()},
}
TRUE = {"true", "1", "yes", "y", "t", "是", "投诉", "真"}
FALSE = {"false", "0", "no", "n", "f", "否", "非投诉", "不是", "假"}
EMPTY_SET = {"[]", "{}", "无", "none", "没有"}
_SPLIT = re.compile(r"[,，、;；|/\s]+")


class AdaptInputError(ValueError):
    """The labelled table cannot be learnt from; the message names the row or column."""


@dataclass(frozen=True)
class LabelColumns:
    """Which column of the table holds what (``None``: not given)."""

    text: str
    sentiment: str | None = None
    emotions: str | None = None
    complaint: str | None = None
    aspects: str | None = None

    def given(self) -> dict[str, str]:
        """Label kind -> column, for the label columns given."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "text" and getattr(self, f.name)
        }


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and pd.isna(value):
        return True
    return isinstance(value, str) and not value.strip()


def _items(value) -> list | dict:
    """A list/dict cell as given (JSON text, a Python value or a separated string)."""
    if isinstance(value, (list, dict, tuple)):
        return value if isinstance(value, dict) else list(value)
    if hasattr(value, "tolist"):  # numpy arrays from Parquet
        return list(value.tolist())
    text = str(value).strip()
    if text.lower() in EMPTY_SET:
        return []
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"不是有效的 JSON（{exc.msg}）") from None
    return [t for t in _SPLIT.split(text) if t]


def _one(value, aliases: dict[str, str], what: str) -> str:
    key = str(value).strip()
    found = aliases.get(key) or aliases.get(key.lower())
    if found is None:
        raise ValueError(f"未知的{what}「{key}」")
    return found


def _sentiment(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _one(value, SENTIMENT_ALIASES, "情感标签")  # a number is named as unknown


def _complaint(value) -> bool:
    if isinstance(value, bool):
        return value
    key = str(value).strip().lower()
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    raise ValueError(f"未知的投诉标签「{value}」")


def _emotions(value) -> list[str]:
    items = _items(value)
    if isinstance(items, dict):
        raise ValueError('应为情绪列表，例如 ["anger"] 或 愤怒、焦虑')
    return sorted({_one(v, EMOTION_ALIASES, "情绪") for v in items})


def _aspects(value) -> dict[str, str | None]:
    """Tactic -> polarity (``None`` when the cell names tactics without polarity)."""
    items = _items(value)
    if isinstance(items, dict):
        return {
            _one(k, TACTIC_ALIASES, "催收方式"): (None if _blank(v) else _sentiment(v))
            for k, v in items.items()
        }
    return {_one(v, TACTIC_ALIASES, "催收方式"): None for v in items}


_PARSERS = {
    "sentiment": (_sentiment, "negative/neutral/positive 或 负面/中性/正面"),
    "complaint": (_complaint, "true/false 或 是/否"),
    "emotions": (_emotions, "、".join(EMOTIONS) + "（或中文名）"),
    "aspects": (_aspects, "、".join(TACTICS) + "（或中文名）"),
}


def _line_numbers(df: pd.DataFrame) -> list[int]:
    source = df.attrs.get("source_lines")
    if source is not None and len(source) == len(df):
        return [int(x) for x in source]
    return list(range(2, len(df) + 2))


def label_counts(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Rows per label value for each label kind the canonical frame holds."""
    out: dict[str, dict[str, int]] = {}
    if "sentiment" in frame:
        known = frame["sentiment"].dropna()
        out["sentiment"] = {s: int((known == s).sum()) for s in SENTIMENTS}
    if "complaint" in frame:
        known = frame["complaint"].dropna()
        out["complaint"] = {
            "true": int(known.astype(bool).sum()),
            "false": int((~known.astype(bool)).sum()),
        }
    for kind, names in (("emotions", EMOTIONS), ("aspects", TACTICS)):
        if kind in frame:
            known = [v for v in frame[kind] if v is not None]
            out[kind] = {n: sum(n in v for v in known) for n in names}
            out[kind]["_rows"] = len(known)
    return out


def read_labelled(
    df: pd.DataFrame,
    columns: LabelColumns,
    *,
    min_rows: int = MIN_ROWS,
    strict: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """The canonical labelled frame: ``text`` plus one column per label kind given
    (``sentiment`` str, ``complaint`` bool, ``emotions`` list, ``aspects`` dict; ``None`` where
    a row has no label of that kind), and notes for the user.

    Rows with an empty text are skipped (noted). With ``strict`` a class with fewer than
    ``min_rows`` rows is an error; without it (the app's reviewed records) that class is left to
    the base model and noted, and so is a label kind with too few rows.

    Raises:
        AdaptInputError: a missing or empty column, an unknown label, too few rows.
    """
    given = columns.given()
    if not given:
        raise AdaptInputError(
            "没有标注列：请至少给出 --sentiment-column、--emotions-column、"
            "--complaint-column 或 --aspects-column 之一"
        )
    for col in (columns.text, *given.values()):
        if col not in df.columns:
            raise AdaptInputError(f"找不到列「{col}」（可用列：{', '.join(map(str, df.columns))}）")
    lines = _line_numbers(df)
    texts = df[columns.text].tolist()
    keep = [i for i, t in enumerate(texts) if not _blank(t)]
    notes = []
    if len(keep) < len(texts):
        notes.append(f"跳过 {len(texts) - len(keep)} 行空文本")
    if not keep:
        raise AdaptInputError(f"列「{columns.text}」没有任何文本")
    out = pd.DataFrame({"text": [str(texts[i]).strip() for i in keep]})
    for kind, col in given.items():
        parse, allowed = _PARSERS[kind]
        values = []
        for i in keep:
            cell = df[col].iat[i]
            if _blank(cell) and not isinstance(cell, (list, dict)):
                values.append(None)
                continue
            try:
                values.append(parse(cell))
            except ValueError as exc:
                raise AdaptInputError(
                    f"第 {lines[i]} 行，列「{col}」：{exc}（可用：{allowed}）"
                ) from None
        if all(v is None for v in values):
            raise AdaptInputError(f"列「{col}」没有任何标注")
        out[kind] = pd.Series(values, index=out.index, dtype=object)
    notes += _check_counts(out, columns, min_rows, strict)
    return out, notes


def drop_short(frame: pd.DataFrame, min_rows: int = MIN_ROWS) -> list[str]:
    """Leniently check a canonical frame built elsewhere (the app's reviewed records): a short
    sentiment or complaint column is emptied in place; returns the notes."""
    columns = LabelColumns("text", **{k: k for k in _PARSERS if k in frame})
    return _check_counts(frame, columns, min_rows, strict=False)


def _check_counts(
    frame: pd.DataFrame, columns: LabelColumns, min_rows: int, strict: bool
) -> list[str]:
    """Refuse (strict) or note (lenient) classes with fewer than ``min_rows`` rows.

    Sentiment needs every class and complaint both answers; for emotions and aspects each
    label that occurs is a class asked for (a label that never occurs is left to the base).
    Leniently, a short sentiment or complaint column is dropped and a short label skipped.
    """
    notes = []
    for kind, per in label_counts(frame).items():
        col = getattr(columns, kind)
        few = {
            k: n
            for k, n in per.items()
            if not k.startswith("_") and n < min_rows and (n or kind in SINGLE_LABEL)
        }
        if not few:
            continue
        label, n = next(iter(few.items()))
        if strict:
            raise AdaptInputError(
                f"列「{col}」中「{label}」只有 {n} 行，至少需要 {min_rows} 行"
                "（请补充标注，或删去该标签/该列）"
            )
        if kind in SINGLE_LABEL:
            frame[kind] = None
            notes.append(f"列「{col}」中「{label}」只有 {n} 行（至少 {min_rows} 行）：沿用原模型")
        else:
            notes.append(f"列「{col}」中 {'、'.join(few)} 不足 {min_rows} 行：这些标签沿用原模型")
    return notes


SINGLE_LABEL = ("sentiment", "complaint")
