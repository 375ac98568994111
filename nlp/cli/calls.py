"""``python -m nlp calls INPUT --out OUT.jsonl``: compliance and borrower mood, one line per call.

Reads transcripts with the one reader (``data.reader``), scores them with the one batch
function for calls (:func:`nlp.compliance.score_calls`), locally or on Ray.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from nlp.cli.common import one_line
from nlp.compliance import (
    OUTPUT_KEYS,
    Profile,
    ProfileError,
    RulesError,
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
    return evaluate_calls(calls, turns, gold, profile=profile, turn_sentiment=turn_sentiment)


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


def _write_jsonl(results: list[Any], out: Path) -> None:
    """One line per call, written to a temporary file and moved into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for result in results:
            row = result.to_dict()
            handle.write(json.dumps({k: row[k] for k in OUTPUT_KEYS}, ensure_ascii=False))
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
        results = score_calls(calls, turns, profile, text_scorer=scorer).analyses
        _write_jsonl(results, args.out)
    except (TranscriptError, ProfileError, RulesError, ValueError, OSError, KeyError) as exc:
        print(f"错误：{one_line(exc, 400)}", file=sys.stderr)
        return 2
    flagged = sum(1 for r in results if r.violations)
    print(
        f"已分析 {len(results)} 通通话，{flagged} 通有违规 → {args.out}（配置 {profile.name}）",
        file=sys.stderr,
    )
    return 0
