"""The one batch function for calls: every turn scored once, then the compliance rules.

:func:`score_calls` serves the ingest path, ``python -m nlp calls`` and the Ray job alike; only
the text scorer differs (local pipeline, or the Ray job's distributed scorer).

Example:
    >>> result = score_calls(calls, turns, "china", model="lexicon")  # doctest: +SKIP
    >>> result.analyses[0].violations  # doctest: +SKIP
    ['no_identity_disclosure', 'threat']
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import pandas as pd

from nlp.compliance.engine import RuleEngine, default_engine
from nlp.compliance.metadata import metadata_violations
from nlp.compliance.profiles import Profile, load_profile
from nlp.compliance.results import CallAnalysis, Evidence

Progress = Callable[[int, int], None]
TurnSentiment = Callable[[list[str]], list[tuple[str, float]]]
"""Maps texts to ``(label, score)`` pairs, label in ``SENTIMENTS``, score in [-1, 1]."""
TextScorer = Callable[[list[str], Progress | None], pd.DataFrame]
"""Maps texts to a frame of label columns (``nlp.pipeline.LABEL_COLUMNS``), one row per text."""


@dataclass(frozen=True)
class ScoredCalls:
    """What :func:`score_calls` returns.

    Attributes:
        turn_labels: the label columns, one row per row of ``turns`` (same order, fresh index).
        analyses: one :class:`CallAnalysis` per row of ``calls``, in the same order.
    """

    turn_labels: pd.DataFrame
    analyses: list[CallAnalysis]


def _turn_text(text: object) -> str:
    return "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)


def score_calls(
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    profile: Profile | str | None = None,
    *,
    model: str | None = None,
    progress: Progress | None = None,
    text_scorer: TextScorer | None = None,
    engine: RuleEngine | None = None,
) -> ScoredCalls:
    """Score every distinct turn text once (full labels), then check every call.

    Args:
        calls: calls frame from the transcript reader.
        turns: turns frame (``call_id, turn_index, speaker, text``).
        profile: a :class:`Profile`, a profile name, or ``None`` for ``BV_CALL_PROFILE``.
        model: sentiment model for the default text scorer (``None`` = the configured one).
        progress: called with (done, total) while texts are scored.
        text_scorer: texts -> label frame; default :func:`nlp.pipeline.score_texts`.
        engine: the rule engine (default: :func:`default_engine`).
    """
    if not isinstance(profile, Profile):
        from nlp.config import nlp_config

        profile = load_profile(profile or nlp_config().call_profile)
    texts = [_turn_text(t) for t in turns["text"].tolist()]
    unique = list(dict.fromkeys(texts))
    features = None
    if text_scorer is None:
        from nlp.pipeline import score_texts_with_features

        labels, features = score_texts_with_features(unique, model, progress)
    else:
        labels = text_scorer(unique, progress)
    labels = labels.reset_index(drop=True)
    if len(labels) != len(unique):
        raise ValueError(f"评分结果 {len(labels)} 条，应为 {len(unique)} 条")
    position = {text: i for i, text in enumerate(unique)}
    turn_labels = _without_agent_risks(
        labels.iloc[[position[t] for t in texts]].reset_index(drop=True), turns
    )
    pairs = dict(
        zip(
            unique,
            zip(
                labels["sentiment"].astype(str).tolist(),
                labels["sentiment_score"].astype(float).tolist(),
                strict=True,
            ),
            strict=True,
        )
    )
    analyses = analyze_calls(
        calls, turns, profile, lambda batch: [pairs[t] for t in batch], engine=engine
    )
    analyses = _with_learned_heads(analyses, calls, turns, unique, features, labels, engine)
    return ScoredCalls(turn_labels, _with_call_risks(analyses, turns, turn_labels))


def _with_learned_heads(analyses, calls, turns, unique, features, labels, engine):
    """The rules' analyses refined by the call heads (``nlp.compliance.learned``) when they
    are installed and the scorer is a transformer (the lexicon backend stays rules-only)."""
    from nlp.compliance.learned import load_call_heads, refine_calls
    from nlp.pipeline import RULE_ONLY_BACKENDS, text_features

    heads = load_call_heads()
    model_id = str(labels["model"].iloc[0]) if len(labels) and "model" in labels else ""
    if heads is None or not unique or model_id.split(":")[0] in RULE_ONLY_BACKENDS:
        return analyses
    if features is None or features.shape[1] * 2 != heads.mean.shape[0]:
        features = text_features(unique)  # a Ray scorer or a customer's model gave none
    if features is None:
        return analyses
    grouped = _group_turns(turns, [str(c) for c in calls["call_id"]])
    by_text = dict(zip(unique, features, strict=True))
    return refine_calls(heads, analyses, grouped, by_text, engine or default_engine())


def _without_agent_risks(turn_labels: pd.DataFrame, turns: pd.DataFrame) -> pd.DataFrame:
    """Risk flags are the borrower's: an agent's threat is a violation, never a flag."""
    if "risk_flags" not in turn_labels.columns:
        return turn_labels
    agent = (turns["speaker"].astype(str) == "agent").to_numpy()
    turn_labels["risk_flags"] = [
        [] if is_agent else flags
        for is_agent, flags in zip(agent, turn_labels["risk_flags"], strict=True)
    ]
    turn_labels["risk_evidence"] = [
        {} if is_agent else ev
        for is_agent, ev in zip(agent, turn_labels["risk_evidence"], strict=True)
    ]
    return turn_labels


def _with_call_risks(
    analyses: list[CallAnalysis], turns: pd.DataFrame, turn_labels: pd.DataFrame
) -> list[CallAnalysis]:
    """Each call's risk flags: the union over its callee turns, most severe first."""
    if "risk_flags" not in turn_labels.columns:
        return analyses
    from nlp.risk import ordered_flags

    found: dict[str, set[str]] = defaultdict(set)
    for cid, flags in zip(turns["call_id"].astype(str), turn_labels["risk_flags"], strict=True):
        found[cid].update(flags)
    return [
        replace(a, risk_flags=ordered_flags(sorted(found.get(str(a.call_id), ()))))
        for a in analyses
    ]


def _check_columns(frame: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} 缺少列 {missing} / {what} frame lacks columns {missing}")


def _clean_sentiment(value: tuple[str, float], position: int) -> tuple[str, float]:
    try:
        label, score = value
        score = float(score)
    except (TypeError, ValueError):
        raise ValueError(f"turn_sentiment 返回值无效（第{position}项）：{value!r}") from None
    if math.isnan(score):
        score = 0.0
    return str(label), max(-1.0, min(1.0, score))


def _group_turns(turns: pd.DataFrame, call_ids: list[str]) -> dict[str, list[tuple[int, str, str]]]:
    """``(turn_index, speaker, text)`` per call, in turn order, for the wanted calls."""
    ordered = turns.assign(_cid=turns["call_id"].astype(str))
    ordered = ordered[ordered["_cid"].isin(set(call_ids))].sort_values(
        ["_cid", "turn_index"], kind="stable"
    )
    grouped: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for cid, index, speaker, text in zip(
        ordered["_cid"].tolist(),
        ordered["turn_index"].tolist(),
        ordered["speaker"].tolist(),
        ordered["text"].tolist(),
        strict=True,
    ):
        grouped[cid].append((int(index), str(speaker), _turn_text(text)))
    return grouped


def analyze_calls(
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    profile: Profile,
    turn_sentiment: TurnSentiment,
    *,
    engine: RuleEngine | None = None,
) -> list[CallAnalysis]:
    """Check every call for violations and trace the borrower's mood.

    Args:
        calls: calls frame (``call_id, borrower_id, started_at, outcome`` ...).
        turns: turns frame (``call_id, turn_index, speaker, text``).
        profile: the compliance profile (:func:`load_profile`).
        turn_sentiment: batch scorer, texts -> ``(label, score in [-1, 1])``; called once with
            every turn of every call.
        engine: the rule engine (default: :func:`default_engine`).

    Returns:
        One :class:`CallAnalysis` per row of ``calls``, in the same order.

    Raises:
        ValueError: missing columns, or a scorer that returns the wrong number of results.
    """
    _check_columns(calls, ("call_id", "borrower_id", "started_at"), "calls")
    _check_columns(turns, ("call_id", "turn_index", "speaker", "text"), "turns")
    engine = engine or default_engine()
    call_ids = [str(c) for c in calls["call_id"]]
    grouped = _group_turns(turns, call_ids)
    all_texts = [t for cid in call_ids for (_, _, t) in grouped.get(cid, [])]
    scored = list(turn_sentiment(all_texts)) if all_texts else []
    if len(scored) != len(all_texts):
        raise ValueError(
            f"turn_sentiment 返回 {len(scored)} 个结果，应为 {len(all_texts)} / "
            f"turn_sentiment returned {len(scored)} results for {len(all_texts)} texts"
        )
    sentiments = [_clean_sentiment(v, i) for i, v in enumerate(scored)]
    meta = metadata_violations(calls, turns, profile, engine=engine)
    results: list[CallAnalysis] = []
    cursor = 0
    for cid in call_ids:
        call_turns = grouped.get(cid, [])
        moods = sentiments[cursor : cursor + len(call_turns)]
        cursor += len(call_turns)
        results.append(_analyse_one(cid, call_turns, moods, meta.get(cid, []), profile, engine))
    return results


def _analyse_one(
    cid: str,
    call_turns: list[tuple[int, str, str]],
    moods: list[tuple[str, float]],
    meta: list[Evidence],
    profile: Profile,
    engine: RuleEngine,
) -> CallAnalysis:
    indexes = [t[0] for t in call_turns]
    speakers = [t[1] for t in call_turns]
    texts = [t[2] for t in call_turns]
    evidence, plan, promise = engine.check_call(speakers, texts, indexes, profile)
    evidence += meta
    evidence.sort(key=lambda e: (e.turn is None, -1 if e.turn is None else e.turn))
    borrower = [
        (i, text, label, score)
        for i, speaker, text, (label, score) in zip(indexes, speakers, texts, moods, strict=True)
        if speaker == "borrower"
    ]
    substantive = [b for b in borrower if engine.is_substantive(b[1])] or borrower
    return CallAnalysis(
        call_id=cid,
        violations=sorted({e.rule for e in evidence}),
        evidence=[e.to_dict() for e in evidence],
        borrower_sentiment_start=substantive[0][2] if substantive else None,
        borrower_sentiment_end=substantive[-1][2] if substantive else None,
        agent_offered_plan=plan,
        promise_to_pay=promise,
        turn_sentiments=[label for label, _ in moods],
        turn_scores=[round(score, 4) for _, score in moods],
        trajectory=[(i, round(score, 4)) for i, _, _, score in borrower],
    )


# ---------------------------------------------------------------------------------------------
# a keyword stand-in for tests and for evaluation without a model

_STAND_IN_NEG = (
    "烦",
    "滚",
    "骗",
    "气死",
    "投诉",
    "举报",
    "报警",
    "别打",
    "不要再打",
    "骚扰",
    "凭什么",
    "恶心",
    "垃圾",
    "威胁",
    "太过分",
    "受不了",
    "没钱",
    "还不起",
    "还不上",
    "崩溃",
    "怎么办",
    "害怕",
    "难受",
    "不还",
    "生气",
    "有病",
    "态度差",
    "太差",
    "过分",
)
_STAND_IN_POS = (
    "谢谢",
    "感谢",
    "好的",
    "可以",
    "没问题",
    "理解",
    "明白",
    "放心",
    "太好了",
    "行",
    "帮忙",
    "耐心",
    "客气",
    "愿意",
    "一定还",
    "马上还",
    "马上转",
)


def stand_in_sentiment(texts: list[str]) -> list[tuple[str, float]]:
    """A tiny deterministic keyword scorer used when no sentiment model is installed.

    It is a stand-in for tests and for a first run, not a model: it counts a handful of
    negative and positive cue words.

    Example:
        >>> stand_in_sentiment(["谢谢你", "别再打了，烦死了"])
        [('positive', 0.5), ('negative', -0.5)]
    """
    out: list[tuple[str, float]] = []
    for text in texts:
        folded = unicodedata.normalize("NFKC", str(text or ""))
        neg = sum(folded.count(w) for w in _STAND_IN_NEG)
        pos = sum(folded.count(w) for w in _STAND_IN_POS)
        score = max(-1.0, min(1.0, 0.5 * (pos - neg)))
        label = "negative" if score < 0 else "positive" if score > 0 else "neutral"
        out.append((label, score))
    return out
