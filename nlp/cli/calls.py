"""``python -m nlp calls INPUT --out OUT.jsonl``: compliance and borrower mood, one line per call.

Reads transcripts with the one reader (``data.reader``), scores them with the one batch
function for calls (:func:`nlp.compliance.score_calls`), locally or on Ray.

Each output line is the call's analysis (:data:`nlp.compliance.OUTPUT_KEYS` first, then
``turn_scores``, ``risk_flags``, ``party``) followed by the call itself as a transcript record
(``borrower_id`` ... ``outcome``, ``model`` and ``turns`` with each turn's labels), so the
file is self-contained: ``python -m data import OUT.jsonl --kind calls`` stores it without
scoring again, and the reader can read it back as transcripts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from nlp.cli.common import one_line
from nlp.compliance import (
    OUTPUT_KEYS,
    Profile,
    ProfileError,
    RulesError,
    ScoredCalls,
    TextScorer,
    TurnSentiment,
    evaluate_calls,
    load_profile,
    score_calls,
    stand_in_sentiment,
)
from nlp.labels import SENTIMENTS


def pairs_scorer(turn_sentiment: TurnSentiment) -> TextScorer:
    """A text scorer (label frame) from a ``(label, score)`` scorer such as the stand-in."""

    def scorer(texts: list[str], _progress: Any = None) -> pd.DataFrame:
        pairs = list(turn_sentiment(texts))
        return pd.DataFrame(
            {"sentiment": [p[0] for p in pairs], "sentiment_score": [p[1] for p in pairs]}
        )

    return scorer


def resolve_text_scorer(
    model: str | None = None, *, warn: Callable[[str], None] | None = None
) -> tuple[TextScorer, str]:
    """The best available text scorer for turns, and its name.

    Order: the product scorer (``nlp.pipeline.score_texts`` with ``model``), then the lexicon
    model, then :func:`nlp.compliance.stand_in_sentiment`. A scorer that fails when called
    (say, the default model is not built) falls back to the next one, with a warning.
    """
    say = warn or (lambda message: print(message, file=sys.stderr))

    def pipeline(texts: list[str], progress: Any = None) -> pd.DataFrame:
        from nlp.pipeline import score_texts

        return score_texts(texts, model, progress)

    def lexicon(texts: list[str], progress: Any = None) -> pd.DataFrame:
        from nlp.lexicon import LexiconModel

        probs = LexiconModel().predict_proba(texts)
        return pd.DataFrame(
            {
                "sentiment": [SENTIMENTS[int(row.argmax())] for row in probs],
                "sentiment_score": [float(row[2] - row[0]) for row in probs],
            }
        )

    candidates: list[tuple[str, TextScorer]] = [
        (f"pipeline:{model or 'default'}", pipeline),
        ("lexicon", lexicon),
        ("stand-in", pairs_scorer(stand_in_sentiment)),
    ]

    def scorer(texts: list[str], progress: Any = None) -> pd.DataFrame:
        for position, (name, candidate) in enumerate(candidates):
            try:
                return candidate(texts, progress)
            except Exception as exc:
                if position == len(candidates) - 1:
                    raise
                say(
                    f"警告：情感评分 {name} 失败（{type(exc).__name__}: {one_line(exc, 120)}），"
                    f"改用 {candidates[position + 1][0]} / warning: falling back"
                )
        raise RuntimeError("unreachable")  # pragma: no cover

    return scorer, candidates[0][0]


def evaluate_calls_file(
    path: Path,
    *,
    profile: Profile | None = None,
    turn_sentiment: TurnSentiment | None = None,
    meta: Path | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """:func:`nlp.compliance.evaluate_calls` on a labelled JSONL file (``"labels"`` per call)."""
    from data.reader import read_transcripts

    path = Path(path)
    gold: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.strip():
            record = json.loads(line)
            gold[str(record["call_id"])] = record.get("labels") or {}
    calls, turns = read_transcripts(path, meta)
    return evaluate_calls(
        calls, turns, gold, profile=profile, turn_sentiment=turn_sentiment, model=model
    )


def main_eval_calls(argv: list[str] | None = None) -> int:
    """``python -m nlp eval-calls LABELLED.jsonl [--model default|rules] [--json]``."""
    from nlp.compliance.evaluate import format_calls_report

    ap = argparse.ArgumentParser(
        prog="python -m nlp eval-calls",
        description="在标注通话上评估合规规则与模型（逐条规则 P/R/F1）",
    )
    ap.add_argument(
        "labelled", type=Path, help="带 labels 的通话 JSONL（如 tests/data/dev_calls.jsonl）"
    )
    ap.add_argument(
        "--model", default="default", help="default（模型 + 通话标签头）或 rules（仅规则）"
    )
    ap.add_argument("--profile", default="china")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not args.labelled.exists():
        print(f"错误：找不到文件 {args.labelled}", file=sys.stderr)
        return 2
    report = evaluate_calls_file(
        args.labelled,
        profile=load_profile(args.profile),
        model=None if args.model == "rules" else args.model,
    )
    print(
        json.dumps(report, ensure_ascii=False, indent=2)
        if args.json
        else format_calls_report(report)
    )
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlp calls",
        description="催收通话合规检查与借款人情绪分析 / collection-call compliance and mood",
    )
    parser.add_argument("input", type=Path, help="转写文件或目录（.jsonl/.csv/.xlsx/.txt）")
    parser.add_argument("--out", type=Path, required=True, help="输出 JSONL，每通通话一行")
    parser.add_argument("--profile", default="china", help="合规配置：china（默认）或 us_reg_f")
    parser.add_argument(
        "--company", nargs="+", action="extend", metavar="NAME", help="坐席须报出的机构名称"
    )
    parser.add_argument("--window", help="允许的联系时段 HH:MM-HH:MM")
    parser.add_argument("--max-calls-per-day", type=int, help="每个借款人每日接通电话上限")
    parser.add_argument("--meta", type=Path, help="通话元数据 CSV（call_id 等）")
    parser.add_argument("--sentiment-model", default=None, help="情感模型名（默认用配置的模型）")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray：在 Ray 上给通话轮次评分，合规规则仍在本机运行",
    )
    parser.add_argument("--address", default=None, help="--engine ray：auto 或 ray://HOST:PORT")
    parser.add_argument("--workers", type=int, default=None, help="--engine ray：评分进程数")
    return parser


def _print_notes(notes: list[str]) -> None:
    for note in notes[:5]:
        print(f"注意：{note}", file=sys.stderr)
    if len(notes) > 5:
        print(
            f"注意：另有 {len(notes) - 5} 条类似提示 / {len(notes) - 5} more notes", file=sys.stderr
        )


ANALYSIS_KEYS: tuple[str, ...] = (*OUTPUT_KEYS, "turn_scores", "risk_flags", "party")
"""The analysis part of an output line, in order."""
CALL_KEYS: tuple[str, ...] = (
    "borrower_id",
    "agent_id",
    "team",
    "started_at",
    "duration_s",
    "outcome",
)
"""The call's own fields (a transcript record's), after the analysis."""
TURN_LABEL_KEYS: tuple[str, ...] = (
    "sentiment",
    "sentiment_score",
    "confidence",
    "aspects",
    "emotions",
    "complaint",
    "complaint_reasons",
    "requests",
    "risk_flags",
    "risk_evidence",
)
"""A turn's labels in an output line (``nlp.pipeline.LABEL_COLUMNS`` less ``model``, which
the line holds once, plus ``confidence``); a scorer that gives fewer leaves the rest out."""


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars and arrays as Python ones, NaN/NaT as ``None``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _plain(value.tolist())
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return None if pd.isna(value) else str(value)


def _started_at(value: Any, offset_min: Any) -> str:
    """ISO 8601 with the call's own UTC offset (the local time the rules read)."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        return stamp.isoformat()
    if offset_min is not None and not pd.isna(offset_min):
        stamp = stamp.tz_convert(timezone(timedelta(minutes=int(offset_min))))
    return stamp.isoformat()


def call_records(calls: pd.DataFrame, turns: pd.DataFrame, scored: ScoredCalls) -> list[dict]:
    """One self-contained output record per call (see the module docstring), in call order.

    Args:
        calls / turns: the reader's frames.
        scored: :func:`nlp.compliance.score_calls` on them (``turn_labels`` aligned to
            ``turns``, ``analyses`` to ``calls``).
    """
    labels = scored.turn_labels.reset_index(drop=True)
    keys = [k for k in TURN_LABEL_KEYS if k in labels.columns]
    rows = turns.reset_index(drop=True)
    by_call: dict[str, list[dict]] = {}
    label_rows = labels[keys].to_dict(orient="records") if keys else [{}] * len(rows)
    for turn, label in zip(rows.to_dict(orient="records"), label_rows, strict=True):
        by_call.setdefault(str(turn["call_id"]), []).append(
            {
                "turn_index": int(turn["turn_index"]),
                "speaker": turn["speaker"],
                "text": turn["text"],
                "start_s": _plain(turn.get("start_s")),
                "end_s": _plain(turn.get("end_s")),
                **{k: _plain(label[k]) for k in keys},
            }
        )
    model = str(labels["model"].iloc[0]) if "model" in labels.columns and len(labels) else None
    records = []
    for call, analysis in zip(calls.to_dict(orient="records"), scored.analyses, strict=True):
        result = analysis.to_dict()
        record = {k: result.get(k) for k in ANALYSIS_KEYS}
        for key in CALL_KEYS:
            record[key] = _plain(call.get(key))
        record["started_at"] = _started_at(call["started_at"], call.get("utc_offset_min"))
        record["model"] = model
        record["turns"] = by_call.get(str(call["call_id"]), [])
        records.append(record)
    return records


def _write_jsonl(records: list[dict], out: Path) -> None:
    """One line per call, written to a temporary file and moved into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")
    tmp.replace(out)


def main_calls(argv: list[str] | None = None) -> int:
    """``python -m nlp calls INPUT --out OUT.jsonl [options]``: analyse calls, write JSONL.

    Returns:
        0 on success, 2 on bad input (one line on stderr, no traceback).
    """
    from data.reader import TranscriptError, read_transcripts

    parser = _build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse already printed the usage line
        return 0 if exc.code in (0, None) else 2
    try:
        profile = load_profile(
            args.profile,
            company=args.company,
            window=args.window,
            max_calls_per_day=args.max_calls_per_day,
        )
        if args.out.suffix.lower() != ".jsonl":
            raise ValueError(f"输出文件应为 .jsonl：{args.out} / --out must be a .jsonl file")
        calls, turns = read_transcripts(args.input, args.meta)
        _print_notes(calls.attrs.get("notes", []))
        if args.engine == "ray":
            from nlp.cli.ray_job import ray_text_scorer

            scorer = ray_text_scorer(
                args.sentiment_model, workers=args.workers, address=args.address
            )
        else:
            scorer, _name = resolve_text_scorer(args.sentiment_model)
        scored = score_calls(calls, turns, profile, text_scorer=scorer)
        results = scored.analyses
        _write_jsonl(call_records(calls, turns, scored), args.out)
    except (TranscriptError, ProfileError, RulesError, ValueError, OSError, KeyError) as exc:
        print(f"错误：{one_line(exc, 400)}", file=sys.stderr)
        return 2
    flagged = sum(1 for r in results if r.violations)
    print(
        f"已分析 {len(results)} 通通话，{flagged} 通有违规 → {args.out}（配置 {profile.name}）",
        file=sys.stderr,
    )
    return 0
