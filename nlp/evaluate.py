"""Quality metrics for the labels the pipeline produces (no sklearn needed at run time)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import pandas as pd

from nlp.labels import SENTIMENTS


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Rows = gold label, columns = predicted label."""
    index = {name: i for i, name in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        if g in index and p in index:
            matrix[index[g]][index[p]] += 1
    return matrix


def classification_report(gold: Sequence, pred: Sequence, labels: Sequence) -> dict:
    """Accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix."""
    labels = list(labels)
    matrix = confusion([str(g) for g in gold], [str(p) for p in pred], [str(x) for x in labels])
    total = sum(map(sum, matrix))
    correct = sum(matrix[i][i] for i in range(len(labels)))
    per = {}
    for i, name in enumerate(labels):
        tp = matrix[i][i]
        fp = sum(matrix[r][i] for r in range(len(labels))) - tp
        fn = sum(matrix[i]) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        per[str(name)] = {
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "support": tp + fn,
        }
    present = [v["f1"] for v in per.values() if v["support"]]
    return {
        "n": total,
        "accuracy": correct / total if total else 0.0,
        "macro_f1": sum(present) / len(present) if present else 0.0,
        "per_label": per,
        "labels": [str(x) for x in labels],
        "confusion": matrix,
    }


def multilabel_report(gold: Iterable[Iterable[str]], pred: Iterable[Iterable[str]]) -> dict:
    """Micro precision/recall/F1 over label sets, plus per-label F1."""
    tp = fp = fn = 0
    per: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        g, p = set(g), set(p)
        tp += len(g & p)
        fp += len(p - g)
        fn += len(g - p)
        for name in g | p:
            c = per.setdefault(name, [0, 0, 0])
            c[0] += name in g and name in p
            c[1] += name in p and name not in g
            c[2] += name in g and name not in p
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0

    def f1(c: list[int]) -> float:
        return 2 * c[0] / (2 * c[0] + c[1] + c[2]) if c[0] else 0.0

    def one(c: list[int]) -> dict[str, float]:
        return {
            "precision": c[0] / (c[0] + c[1]) if c[0] + c[1] else 0.0,
            "recall": c[0] / (c[0] + c[2]) if c[0] + c[2] else 0.0,
            "f1": f1(c),
            "support": c[0] + c[2],
        }

    return {
        "precision": prec,
        "recall": rec,
        "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        "per_label_f1": {k: f1(v) for k, v in sorted(per.items())},
        "per_label": {k: one(v) for k, v in sorted(per.items())},
    }


MULTI_LABEL_TITLES: dict[str, str] = {
    "aspect_detection": "催收方式识别",
    "emotions": "情绪识别",
    "requests": "诉求识别",
    "complaint_reasons": "投诉原因",
    "risk_flags": "风险预警",
}
"""The multi-label parts of an :func:`evaluate_frame` report, with their Chinese titles."""


def evaluate_columns() -> tuple[str, ...]:
    """The gold columns :func:`evaluate_frame` understands (by that name in a labelled file)."""
    return (
        "sentiment",
        "aspects",
        "complaint",
        "emotions",
        "requests",
        "complaint_reasons",
        "risk_flags",
    )


def _as_obj(value, empty):
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return empty
    if isinstance(value, str):
        value = value.strip()
        return json.loads(value) if value else empty
    return value


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "是")
    return bool(value)


def evaluate_frame(gold: pd.DataFrame, pred: pd.DataFrame, columns: dict[str, str | None]) -> dict:
    """Compare gold label columns with the pipeline's predictions.

    Args:
        gold: the labelled file.
        pred: ``score_frame`` output with the same row order.
        columns: which gold columns hold sentiment / aspects / complaint / emotions / requests.
    """
    out: dict = {"rows": len(gold), "model": str(pred["model"].iloc[0]) if len(pred) else ""}
    if columns.get("sentiment"):
        out["sentiment"] = classification_report(
            gold[columns["sentiment"]].astype(str).str.strip().tolist(),
            pred["sentiment"].tolist(),
            SENTIMENTS,
        )
    if columns.get("aspects"):
        g = [_as_obj(v, {}) for v in gold[columns["aspects"]]]
        p = list(pred["aspects"])
        out["aspect_detection"] = multilabel_report([a.keys() for a in g], [a.keys() for a in p])
        both = [(ga[t], pa[t]) for ga, pa in zip(g, p, strict=True) for t in ga if t in pa]
        out["aspect_polarity"] = classification_report(
            [b[0] for b in both], [b[1] for b in both], SENTIMENTS
        )
    if columns.get("complaint"):
        out["complaint"] = classification_report(
            [str(_as_bool(v)) for v in gold[columns["complaint"]]],
            [str(bool(v)) for v in pred["complaint"]],
            ["True", "False"],
        )
        out["complaint"]["f1"] = out["complaint"]["per_label"]["True"]["f1"]
    for key in ("emotions", "requests", "complaint_reasons", "risk_flags"):
        if columns.get(key):
            out[key] = multilabel_report(
                [_as_obj(v, []) for v in gold[columns[key]]], list(pred[key])
            )
    return out


def format_report(report: dict) -> str:
    """A readable text table of an ``evaluate_frame`` report."""
    lines = [f"model: {report.get('model', '')}   rows: {report.get('rows', 0)}"]
    for key in ("sentiment", "aspect_polarity", "complaint"):
        if key in report:
            r = report[key]
            lines.append(
                f"\n[{key}] accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}"
                + (f"  F1(complaint) {r['f1']:.3f}" if "f1" in r else "")
            )
            width = max(len(x) for x in r["labels"]) + 2
            lines.append(" " * width + "".join(f"{x[:8]:>10}" for x in r["labels"]) + "   ← 预测")
            for name, row in zip(r["labels"], r["confusion"], strict=True):
                lines.append(f"{name:<{width}}" + "".join(f"{v:>10}" for v in row))
    for key in ("aspect_detection", "emotions", "requests", "complaint_reasons", "risk_flags"):
        if key in report:
            r = report[key]
            lines.append(
                f"\n[{key}] precision {r['precision']:.3f}  recall {r['recall']:.3f}  "
                f"F1 {r['f1']:.3f}"
            )
            lines += _per_label_table(r["per_label"])
    return "\n".join(lines)


def _per_label_table(per_label: dict[str, dict[str, float]]) -> list[str]:
    """One line per label: precision, recall, F1 and support (gold count)."""
    if not per_label:
        return []
    width = max(len(k) for k in per_label) + 2
    lines = [f"  {'label':<{width}}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}"]
    for name, m in per_label.items():
        lines.append(
            f"  {name:<{width}}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
            f"{int(m['support']):>6}"
        )
    return lines
