"""Per-rule precision / recall of the compliance engine against hand labels.

Reading the labelled file is the caller's job (``python -m nlp calls-eval``, the tests): this
module takes the calls and turns frames and the gold labels per call.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pandas as pd

from nlp.compliance.batch import TurnSentiment, analyze_calls, score_calls, stand_in_sentiment
from nlp.compliance.catalog import RULE_IDS
from nlp.compliance.engine import default_engine
from nlp.compliance.profiles import Profile, load_profile
from nlp.compliance.results import CallAnalysis

FLAGS = ("agent_offered_plan", "promise_to_pay")
MOODS = ("borrower_sentiment_start", "borrower_sentiment_end")


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else None
    return {"precision": precision, "recall": recall, "f1": f1}


def _new_count() -> dict[str, int]:
    return {"tp": 0, "fp": 0, "fn": 0, "turn_total": 0, "turn_hit": 0}


def _count_rules(
    result: CallAnalysis, gold: dict[str, Any], counts: dict[str, dict[str, int]]
) -> None:
    gold_turns: dict[str, set[int | None]] = defaultdict(set)
    for item in gold.get("violations") or []:
        rule = str(item["rule"]) if isinstance(item, dict) else str(item)
        turn = item.get("turn") if isinstance(item, dict) else None
        gold_turns[rule].add(None if turn is None else int(turn))
        counts.setdefault(rule, _new_count())
    predicted: dict[str, set[int | None]] = defaultdict(set)
    for item in result.evidence:
        predicted[item["rule"]].add(item["turn"])
    for rule, count in counts.items():
        g, p = rule in gold_turns, rule in predicted
        if g and p:
            count["tp"] += 1
            for turn in gold_turns[rule]:
                count["turn_total"] += 1
                count["turn_hit"] += int(turn in predicted[rule])
        elif p:
            count["fp"] += 1
        elif g:
            count["fn"] += 1


def _count_flags(
    result: CallAnalysis,
    gold: dict[str, Any],
    flags: dict[str, dict[str, int]],
    moods: dict[str, list[int]],
) -> None:
    for key in FLAGS:
        if key in gold and gold[key] is not None:
            truth, value = bool(gold[key]), bool(getattr(result, key))
            cell = ("tp" if value else "fn") if truth else ("fp" if value else "tn")
            flags[key][cell] += 1
    for key in MOODS:
        if gold.get(key) is not None:
            moods[key][1] += 1
            moods[key][0] += int(getattr(result, key) == gold[key])


def evaluate_calls(
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    gold: dict[str, dict[str, Any]],
    *,
    profile: Profile | None = None,
    turn_sentiment: TurnSentiment | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Per-rule precision / recall of the engine on labelled calls.

    Args:
        calls / turns: the frames from the transcript reader.
        gold: per call_id, ``{"violations": [{"rule", "turn"}], "borrower_sentiment_start",
            "borrower_sentiment_end", "agent_offered_plan", "promise_to_pay"}``.
        profile: compliance profile (default ``china``).
        turn_sentiment: scorer (default :func:`stand_in_sentiment`, whose sentiment accuracy is
            not meaningful).
        model: score with the full pipeline (:func:`score_calls`: the model, its heads and
            the call heads) instead of the rules alone; ``turn_sentiment`` is then unused.

    Returns:
        ``{"n_calls", "seconds", "calls_per_second", "rules": {rule: {"tp", "fp", "fn",
        "support", "precision", "recall", "f1", "turn_match_rate"}}, "micro": {...},
        "turn_match_rate", "agent_offered_plan": {...}, "promise_to_pay": {...},
        "borrower_sentiment_start_accuracy", "borrower_sentiment_end_accuracy"}``. Precision /
        recall are call-level and turn-insensitive; ``turn_match_rate`` is the share of gold
        (rule, turn) pairs in correctly flagged calls whose turn was also flagged. ``None``
        marks an undefined ratio.
    """
    profile = profile or load_profile()
    default_engine().normalise("预热")  # compile rules / load collaborators outside the timing
    started = time.perf_counter()
    if model:
        results = score_calls(calls, turns, profile, model=model).analyses
    else:
        results = analyze_calls(calls, turns, profile, turn_sentiment or stand_in_sentiment)
    seconds = time.perf_counter() - started
    counts = {r: _new_count() for r in RULE_IDS}
    flags = {k: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for k in FLAGS}
    moods = {k: [0, 0] for k in MOODS}
    for result in results:
        call_gold = gold.get(result.call_id, {})
        _count_rules(result, call_gold, counts)
        _count_flags(result, call_gold, flags, moods)
    return _report(results, seconds, counts, flags, moods)


def _report(
    results: list[CallAnalysis],
    seconds: float,
    counts: dict[str, dict[str, int]],
    flags: dict[str, dict[str, int]],
    moods: dict[str, list[int]],
) -> dict[str, Any]:
    per_rule = {
        rule: {
            "tp": c["tp"],
            "fp": c["fp"],
            "fn": c["fn"],
            "support": c["tp"] + c["fn"],
            **_prf(c["tp"], c["fp"], c["fn"]),
            "turn_match_rate": _ratio(c["turn_hit"], c["turn_total"]),
        }
        for rule, c in counts.items()
    }
    total = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn")}
    return {
        "n_calls": len(results),
        "seconds": round(seconds, 4),
        "calls_per_second": round(len(results) / seconds, 1) if seconds > 0 else None,
        "rules": per_rule,
        "micro": {**total, **_prf(total["tp"], total["fp"], total["fn"])},
        "turn_match_rate": _ratio(
            sum(c["turn_hit"] for c in counts.values()),
            sum(c["turn_total"] for c in counts.values()),
        ),
        **{
            key: {
                **cell,
                **_prf(cell["tp"], cell["fp"], cell["fn"]),
                "accuracy": _ratio(cell["tp"] + cell["tn"], sum(cell.values())),
            }
            for key, cell in flags.items()
        },
        **{f"{key}_accuracy": _ratio(hit, n) for key, (hit, n) in moods.items()},
    }


def format_calls_report(report: dict[str, Any]) -> str:
    """A readable per-rule precision / recall / F1 table of an :func:`evaluate_calls` report."""
    lines = [f"calls: {report['n_calls']}   {report.get('calls_per_second') or '-'} calls/s"]
    lines.append(f"  {'rule':<26}{'P':>7}{'R':>7}{'F1':>7}{'n':>5}")

    def cell(v) -> str:
        return f"{v:>7.3f}" if isinstance(v, float | int) else f"{'-':>7}"

    for rule, r in report["rules"].items():
        if r["support"] or r["fp"]:
            p, rc, f = r["precision"], r["recall"], r["f1"]
            lines.append(f"  {rule:<26}{cell(p)}{cell(rc)}{cell(f)}{r['support']:>5}")
    m = report["micro"]
    lines.append(f"  {'micro':<26}{cell(m['precision'])}{cell(m['recall'])}{cell(m['f1'])}")
    for key in FLAGS:
        r = report[key]
        lines.append(f"  {key:<26}{cell(r['precision'])}{cell(r['recall'])}{cell(r['f1'])}")
    for key in MOODS:
        lines.append(f"  {key + ' accuracy':<40}{cell(report.get(f'{key}_accuracy'))}")
    lines.append(f"  {'turn match rate':<40}{cell(report.get('turn_match_rate'))}")
    return "\n".join(lines)
