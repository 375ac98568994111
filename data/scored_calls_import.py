"""Load already-analysed calls (``python -m nlp calls ... --out OUT.jsonl``, local or
``--engine ray``) into the store, without scoring again.

Each line of that output is one call: its analysis (violations, evidence, moods, plan and
promise, trajectory, ``turn_scores``, ``risk_flags``, ``party``), then the call as a
transcript record (``borrower_id`` ... ``outcome``, ``model``, and ``turns`` carrying each
turn's labels). :func:`import_scored_calls` reads the calls and turns with the one reader
(``data.reader``), parses the analyses and turn labels back (every bad value named by line and
field), and stores calls, turns, turn scores and call analyses in ONE transaction through
:func:`data.batches.store_calls_batch`. The batch is keyed by the SHA-256 of the file, so
importing the same output again stores nothing.

Example:
    >>> from data.store import open_store
    >>> import_scored_calls(open_store(":memory:"), Path("calls_out.jsonl"))  # doctest: +SKIP
    IngestResult(batch_id='b-…', kind='calls', rows=360, ...)
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from data.batches import find_batch, sha256_bytes, store_scored_calls
from data.ingest import IngestError, IngestResult, Problem
from data.store import Store
from nlp.labels import RULE_CATALOG, SENTIMENTS

SUFFIXES = (".jsonl", ".json")
ANALYSIS_FIELDS = (
    "violations",
    "evidence",
    "borrower_sentiment_start",
    "borrower_sentiment_end",
    "agent_offered_plan",
    "promise_to_pay",
    "trajectory",
)
"""What every line must carry besides the call itself (``python -m nlp calls`` writes them)."""
_MAX_PROBLEMS = 50


@dataclass(frozen=True)
class _Line:
    """One output line: its number in the file and its JSON object."""

    number: int
    record: dict[str, Any]


def _read_lines(raw: bytes, name: str) -> list[_Line]:
    """The file's JSON objects with their line numbers (blank lines skipped).

    Raises:
        IngestError: not UTF-8, or a line that is not a JSON object.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name} 不是 UTF-8 编码的 JSONL（第 {exc.start} 字节）") from None
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = Problem(number, None, f"不是有效的 JSON（第 {exc.colno} 列）")
            raise IngestError(f"{name}：{problem}", [problem]) from None
        if not isinstance(record, dict):
            problem = Problem(number, None, "每行应为一个 JSON 对象")
            raise IngestError(f"{name}：{problem}", [problem])
        lines.append(_Line(number, record))
    if not lines:
        raise IngestError(f"{name} 中没有通话")
    return lines


def _check_shape(lines: list[_Line], name: str) -> None:
    """Every line is an analysed call with its turns (not plain transcripts, not an older
    output that held the analysis alone)."""
    for line in lines:
        missing = [k for k in ANALYSIS_FIELDS if k not in line.record]
        if missing:
            problem = Problem(line.number, missing[0], "缺少分析结果字段")
            raise IngestError(
                f"{name}：{problem}：这不是 python -m nlp calls 的输出"
                "（原始转写请用 python -m data ingest --kind calls 导入）",
                [problem],
            )
        if "turns" not in line.record:
            problem = Problem(line.number, "turns", "缺少通话轮次")
            raise IngestError(
                f"{name}：{problem}：这是旧版 python -m nlp calls 的输出（只有分析结果），"
                "请用当前版本重新运行 python -m nlp calls，或用 python -m data ingest 导入原始转写",
                [problem],
            )


# --------------------------------------------------------------------------- values
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _Checker:
    """Collects problems (line, field, why) while values are parsed."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, line: int, field: str, message: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(Problem(line, field, message))

    def label(self, value: Any, line: int, field: str, *, optional: bool = False) -> str | None:
        if optional and _missing(value):
            return None
        if value not in SENTIMENTS:
            self.add(line, field, f"未知的情感标签「{value}」（应为 {'/'.join(SENTIMENTS)}）")
            return None
        return str(value)

    def score(self, value: Any, line: int, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or _missing(value):
            self.add(line, field, f"应为 -1 到 1 之间的数，实际为「{value}」")
            return 0.0
        if not -1.0 <= float(value) <= 1.0:
            self.add(line, field, f"应在 -1 到 1 之间，实际为 {value}")
            return 0.0
        return float(value)

    def flag(self, value: Any, line: int, field: str) -> bool:
        if not isinstance(value, bool):
            self.add(line, field, f"应为 true/false，实际为「{value}」")
            return False
        return value

    def strings(self, value: Any, line: int, field: str) -> list[str]:
        if _missing(value):
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(line, field, "应为字符串数组")
            return []
        return list(value)

    def mapping(self, value: Any, line: int, field: str) -> dict:
        if _missing(value):
            return {}
        if not isinstance(value, dict):
            self.add(line, field, "应为 JSON 对象")
            return {}
        return value


def _evidence(check: _Checker, value: Any, line: int, turns: set[int]) -> list[dict]:
    if not isinstance(value, list):
        check.add(line, "evidence", "应为数组")
        return []
    items = []
    for i, item in enumerate(value):
        where = f"evidence[{i}]"
        if not isinstance(item, dict):
            check.add(line, where, "应为 JSON 对象")
            continue
        if item.get("rule") not in RULE_CATALOG:
            check.add(line, f"{where}.rule", f"未知的规则「{item.get('rule')}」")
        turn = item.get("turn")
        if turn is not None and (isinstance(turn, bool) or turn not in turns):
            check.add(line, f"{where}.turn", f"轮次 {turn!r} 不在本通通话中")
        for key in ("span", "explanation"):
            if not isinstance(item.get(key, ""), str):
                check.add(line, f"{where}.{key}", "应为文本")
        items.append(dict(item))
    return items


def _trajectory(check: _Checker, value: Any, line: int, turns: set[int]) -> list[tuple]:
    if not isinstance(value, list):
        check.add(line, "trajectory", "应为 [轮次, 分数] 数组")
        return []
    points = []
    for i, point in enumerate(value):
        where = f"trajectory[{i}]"
        if not (isinstance(point, list) and len(point) == 2 and point[0] in turns):
            check.add(line, where, f"应为本通通话的 [轮次, 分数]，实际为 {point!r}")
            continue
        points.append((int(point[0]), check.score(point[1], line, where)))
    return points


# --------------------------------------------------------------------------- lines
def parse_analysed_calls(
    lines: list[_Line], calls: pd.DataFrame, turns: pd.DataFrame, name: str
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """The output's turn indexes, turn labels and call analyses, aligned with the reader's
    ``calls`` and ``turns`` frames.

    Returns:
        ``(turns, turn_labels, analyses)``: ``turns`` with the output's own ``turn_index``
        (the one the evidence and trajectory name), one label row per turn, one analysis
        dict per call.

    Raises:
        IngestError: a bad value, named by line and field (``turns[2].sentiment``).
    """
    check = _Checker()
    by_id = {str(line.record.get("call_id")): line for line in lines}
    indexes: list[int] = []
    labels: list[dict[str, Any]] = []
    seen: dict[str, set[int]] = {}
    for call_id, position in zip(
        turns["call_id"].astype(str), turns["turn_index"].astype(int), strict=True
    ):
        line = by_id[call_id]
        raw = line.record["turns"][position]  # the reader numbers a JSONL call's turns 0, 1, ...
        where = f"turns[{position}]"
        index = raw.get("turn_index", position)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            check.add(line.number, f"{where}.turn_index", f"应为非负整数，实际为「{index}」")
            index = position
        if index in seen.setdefault(call_id, set()):
            check.add(line.number, f"{where}.turn_index", f"轮次 {index} 重复")
        seen[call_id].add(index)
        indexes.append(index)
        labels.append(_turn_labels(check, raw, line, where))
    analyses = [
        _analysis(check, by_id[cid], seen.get(cid, set())) for cid in calls["call_id"].astype(str)
    ]
    if check.problems:
        raise IngestError(
            f"{name}：分析结果有 {len(check.problems)} 处错误，例如 {check.problems[0]}",
            check.problems,
        )
    ordered = turns.reset_index(drop=True).assign(turn_index=indexes)
    frame = pd.DataFrame(labels)
    frame["model"] = [
        str(by_id[str(c)].record.get("model") or "calls-output") for c in ordered["call_id"]
    ]
    return ordered, frame, analyses


def _turn_labels(check: _Checker, raw: dict, line: _Line, where: str) -> dict[str, Any]:
    n = line.number
    confidence = raw.get("confidence")
    if _missing(confidence) or isinstance(confidence, bool):
        confidence = math.nan
    elif not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0:
        check.add(n, f"{where}.confidence", f"应为 0 到 1 之间的数，实际为「{confidence}」")
        confidence = math.nan
    complaint = raw.get("complaint", False)
    return {
        "sentiment": check.label(raw.get("sentiment"), n, f"{where}.sentiment"),
        "sentiment_score": check.score(raw.get("sentiment_score"), n, f"{where}.sentiment_score"),
        "confidence": float(confidence),
        "aspects": check.mapping(raw.get("aspects"), n, f"{where}.aspects"),
        "emotions": check.strings(raw.get("emotions"), n, f"{where}.emotions"),
        "complaint": check.flag(complaint, n, f"{where}.complaint"),
        "complaint_reasons": check.strings(
            raw.get("complaint_reasons"), n, f"{where}.complaint_reasons"
        ),
        "requests": check.strings(raw.get("requests"), n, f"{where}.requests"),
        "risk_flags": check.strings(raw.get("risk_flags"), n, f"{where}.risk_flags"),
        "risk_evidence": check.mapping(raw.get("risk_evidence"), n, f"{where}.risk_evidence"),
    }


def _analysis(check: _Checker, line: _Line, turns: set[int]) -> dict[str, Any]:
    r, n = line.record, line.number
    violations = check.strings(r.get("violations"), n, "violations")
    unknown = [v for v in violations if v not in RULE_CATALOG]
    if unknown:
        check.add(n, "violations", f"未知的规则「{unknown[0]}」")
    evidence = _evidence(check, r.get("evidence"), n, turns)
    if sorted({e.get("rule") for e in evidence}) != sorted(set(violations)):
        check.add(n, "violations", "与 evidence 中的规则不一致")
    party = r.get("party")
    if party is not None and not isinstance(party, str):
        check.add(n, "party", "应为文本")
        party = None
    return {
        "call_id": str(r["call_id"]),
        "violations": sorted(set(violations)),
        "evidence": evidence,
        "borrower_sentiment_start": check.label(
            r.get("borrower_sentiment_start"), n, "borrower_sentiment_start", optional=True
        ),
        "borrower_sentiment_end": check.label(
            r.get("borrower_sentiment_end"), n, "borrower_sentiment_end", optional=True
        ),
        "agent_offered_plan": check.flag(r.get("agent_offered_plan"), n, "agent_offered_plan"),
        "promise_to_pay": check.flag(r.get("promise_to_pay"), n, "promise_to_pay"),
        "trajectory": _trajectory(check, r.get("trajectory"), n, turns),
        "risk_flags": check.strings(r.get("risk_flags"), n, "risk_flags"),
        "party": party,
    }


# --------------------------------------------------------------------------- the import
def import_scored_calls(
    store: Store,
    path: Path,
    *,
    file_name: str | None = None,
    uploaded_by: str = "cli",
) -> IngestResult:
    """Store analysed calls (the JSONL output of ``python -m nlp calls``) as one batch.

    Args:
        store: the dashboard store.
        path: the ``--out`` file of ``python -m nlp calls`` (local or ``--engine ray``).
        file_name: the name the batch is listed under (default: the file's name).
        uploaded_by: recorded in the batch row and the audit log.

    Returns:
        The stored batch, or ``duplicate=True`` when this output was imported before.

    Raises:
        IngestError: a missing or unreadable file, a line that is not an analysed call, a
            transcript problem (named by line and field, as the reader names it) or a bad
            label; nothing is stored then.
    """
    from data.reader import TranscriptError, read_transcript_bytes

    t0 = time.time()
    path = Path(path)
    if path.is_dir():
        raise IngestError(f"{path} 是目录：请给出 python -m nlp calls 写出的 .jsonl 文件")
    if not path.exists():
        raise IngestError(f"找不到 {path}")
    if path.suffix.lower() not in SUFFIXES:
        raise IngestError(f"{path.name} 不是 JSONL 文件：请给出 python -m nlp calls 的 --out 文件")
    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError(f"{path.name} 是空文件")
    sha = sha256_bytes(raw)
    existing = find_batch(store, sha, "calls")
    if existing:
        return IngestResult(existing, "calls", 0, duplicate=True)
    lines = _read_lines(raw, path.name)
    _check_shape(lines, path.name)
    try:
        calls, turns = read_transcript_bytes(raw, path.with_suffix(".jsonl").name)
    except TranscriptError as exc:
        raise IngestError(str(exc), [Problem(exc.line, exc.column, str(exc))]) from exc
    turns, turn_labels, analyses = parse_analysed_calls(lines, calls, turns, path.name)
    return store_scored_calls(
        store,
        calls,
        turns,
        turn_labels,
        analyses,
        file_name=file_name or path.name,
        sha=sha,
        uploaded_by=uploaded_by,
        started=t0,
    )
