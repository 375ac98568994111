"""Rule layer: tactics (aspects), emotions, complaints and requests in one feedback text.

All trigger terms live in data files under ``resources/`` (tactics.tsv, emotions.tsv,
complaints.tsv, requests.tsv, with shared fragments in macros.tsv); this module only applies
them clause by clause with the checks they share:

* negation (没有威胁我, 没爆通讯录, 不害怕) cancels an emotion, a complaint or a request, and
  turns a tactic mention into "absence of the tactic";
* a threat frame (说要 / 扬言 / 不还就 + 上门 / 爆通讯录) makes the act a threat, not a report;
* a hypothetical (如果 / 要是 ...) cancels a misconduct report but not an intent to complain;
* a suggestion (希望 / 建议 / 能不能 ...) keeps the tactic it mentions neutral;
* a request cue right after a report of something done (帮我申请, 搞明白了) is no request.

Aspect polarity is the polarity of the clause(s) mentioning the tactic, from the
``clause_polarity`` callable (the lexicon model by default; the pipeline may pass a
transformer-based one), adjusted as follows: a clause that reports misconduct is negative,
a negated mention is positive when the text praises something (没有联系我家人，谢谢) and
neutral otherwise, and praise in a sarcastic text (一天打二十个电话 without 但是) is negative.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nlp.labels import COMPLAINT_REASONS, EMOTIONS, REQUESTS, SENTIMENTS, TACTICS
from nlp.lexicon import LexiconModel, compile_pattern, is_sarcastic_text, read_tsv
from nlp.segment import split_clauses
from nlp.textnorm import RESOURCES, normalize

ClausePolarity = Callable[[str], float]

NEGATIVE, NEUTRAL, POSITIVE = SENTIMENTS
POLARITY_THRESHOLD = 0.2
"""|score| above this makes a clause / aspect positive or negative."""
_ABSENCE_SCORE = 0.6  # polarity of "the bad tactic did not happen" in a text with praise
_MISCONDUCT_SCORE = -0.6  # a clause that reports misconduct is at least this negative
_NEG_WINDOW = 4  # max characters between a negator and the cue it negates
_FRAME_WINDOW = 6  # max characters between a threat frame and the threatened act
_DONE_WINDOW = 6  # characters before a request cue searched for {REQUEST_DONE} (帮我申请)
_AGAIN = ("再", "老", "总", "一直", "又", "天天")  # 别再 / 别老是 ...: it already happened


@dataclass(frozen=True)
class Analysis:
    """Rule-based reading of one feedback text (all labels from `nlp.labels`).

    Attributes:
        aspects: tactic -> negative | neutral | positive, only for tactics the text talks
            about, in `TACTICS` order.
        emotions: emotions the borrower expresses, in `EMOTIONS` order.
        complaint: True when the text reports misconduct or an intent to complain.
        complaint_reasons: the reasons, in `COMPLAINT_REASONS` order.
        requests: what the borrower asks for, in `REQUESTS` order.
        clauses: the normalised clauses the rules ran on.
        clause_scores: polarity of each clause in [-1, 1] (after the sarcasm adjustment).
    """

    aspects: dict[str, str]
    emotions: tuple[str, ...]
    complaint: bool
    complaint_reasons: tuple[str, ...]
    requests: tuple[str, ...]
    clauses: tuple[str, ...]
    clause_scores: tuple[float, ...]


@dataclass(frozen=True)
class _Cue:
    label: str
    pattern: re.Pattern[str]
    flags: frozenset[str]


@dataclass(frozen=True)
class _Cues:
    tactics: tuple[_Cue, ...]
    emotions: tuple[_Cue, ...]
    complaints: tuple[_Cue, ...]
    requests: tuple[_Cue, ...]
    negator: re.Pattern[str]
    not_negation: re.Pattern[str]
    imperative: re.Pattern[str]
    threat_frame: re.Pattern[str]
    threat_strong: re.Pattern[str]
    conditional: re.Pattern[str]
    suggestion: re.Pattern[str]
    request_done: re.Pattern[str]


_lock = threading.Lock()
_cues: _Cues | None = None
_default_model: LexiconModel | None = None


def _read_cues(name: str, labels: tuple[str, ...]) -> tuple[_Cue, ...]:
    cues = []
    for row in read_tsv(RESOURCES / name):
        label = row[0]
        if label not in labels:
            raise ValueError(f"{name}: unknown label {label!r} (expected one of {labels})")
        flags = row[2].split(",") if len(row) > 2 else []
        cues.append(_Cue(label, compile_pattern(row[1]), frozenset(f.strip() for f in flags)))
    return tuple(cues)


def load_cues() -> _Cues:
    """Compiled cue tables (read once per process)."""
    global _cues
    if _cues is None:
        with _lock:
            if _cues is None:
                _cues = _Cues(
                    tactics=_read_cues("tactics.tsv", TACTICS),
                    emotions=_read_cues("emotions.tsv", EMOTIONS),
                    complaints=_read_cues("complaints.tsv", COMPLAINT_REASONS),
                    requests=_read_cues("requests.tsv", REQUESTS),
                    negator=compile_pattern("{IMPERATIVE}|{NEGATOR}"),
                    not_negation=compile_pattern("{NOT_NEGATION}"),
                    imperative=compile_pattern("{IMPERATIVE}"),
                    threat_frame=compile_pattern(
                        rf"{{THREAT_FRAME}}[^，。！？]{{0,{_FRAME_WINDOW}}}$"
                    ),
                    threat_strong=compile_pattern(
                        rf"{{THREAT_STRONG}}[^，。！？]{{0,{_FRAME_WINDOW}}}$"
                    ),
                    conditional=compile_pattern("{CONDITIONAL}"),
                    suggestion=compile_pattern("{SUGGESTION}"),
                    request_done=compile_pattern("{REQUEST_DONE}"),
                )
    return _cues


def _default_polarity() -> ClausePolarity:
    global _default_model
    if _default_model is None:
        _default_model = LexiconModel()
    return _default_model.clause_polarity


# --------------------------------------------------------------------------- checks
def _negated(
    cues: _Cues, clause: str, start: int, imperative: bool, again_is_report: bool = False
) -> bool:
    """Is the cue starting at `start` negated by a nearby negator before it?

    Args:
        imperative: whether 别 / 不要 count as negation (yes for emotions and complaints,
            no for tactic mentions: 别骚扰我家人 still talks about the family).
        again_is_report: 别再 / 不要再 / 别老是 means it already happened, so it is not a
            negation.
    """
    window_start = max(0, start - _NEG_WINDOW - 4)
    for match in cues.negator.finditer(clause, window_start, start):
        if start - match.end() > _NEG_WINDOW:
            continue
        if cues.not_negation.match(clause, match.start()):
            continue
        if cues.imperative.fullmatch(match.group(0)):
            if not imperative:
                continue
            if again_is_report and clause.startswith(_AGAIN, match.end()):
                continue
        return True
    return False


def _threatened(cues: _Cues, clause: str, start: int, strong: bool = False) -> bool:
    """Is the act at `start` introduced by a threat frame (说要 / 扬言 / 不还就 ...)?"""
    frame = cues.threat_strong if strong else cues.threat_frame
    return bool(frame.search(clause[max(0, start - 12) : start]))


def _first_match(
    cue: _Cue, cues: _Cues, clause: str, imperative: bool
) -> tuple[re.Match[str] | None, bool]:
    """First non-negated match of a cue, else (None, whether a negated one was seen)."""
    negated_seen = False
    for match in cue.pattern.finditer(clause):
        if _negated(cues, clause, match.start(), imperative):
            negated_seen = True
            continue
        return match, negated_seen
    return None, negated_seen


# --------------------------------------------------------------------------- per clause
@dataclass
class _ClauseFacts:
    tactics: dict[str, bool]  # tactic -> True if only mentioned as absent (negated)
    emotions: set[str]
    complaints: set[str]
    requests: set[str]
    suggestion: bool


def _clause_facts(cues: _Cues, clause: str) -> _ClauseFacts:
    tactics: dict[str, bool] = {}
    for cue in cues.tactics:
        for match in cue.pattern.finditer(clause):
            label = cue.label
            if "threatened" in cue.flags and _threatened(cues, clause, match.start(), True):
                label = "threat_intimidation"
            absent = _negated(cues, clause, match.start(), imperative=False)
            tactics[label] = tactics.get(label, True) and absent

    emotions = set()
    for cue in cues.emotions:
        match, _ = _first_match(cue, cues, clause, imperative=True)
        if match is not None:
            emotions.add(cue.label)

    complaints = set()
    for cue in cues.complaints:
        for match in cue.pattern.finditer(clause):
            start = match.start()
            if "intent" in cue.flags:
                if not _negated(cues, clause, start, imperative=False):
                    complaints.add(cue.label)
                    break
                continue
            if "threatened" in cue.flags and _threatened(cues, clause, start):
                if _threatened(cues, clause, start, strong=True):
                    complaints.add("threat")
                    break
                continue  # a future act announced as a notice, not a report
            if _negated(cues, clause, start, imperative=True, again_is_report=True):
                continue
            if cue.label != "threat" and cues.conditional.search(clause, 0, start):
                continue
            complaints.add(cue.label)
            break

    requests = set()
    for cue in cues.requests:
        if cue.label in requests:
            continue
        for match in cue.pattern.finditer(clause):
            start = match.start()
            if _negated(cues, clause, start, imperative=False):
                continue
            if cues.request_done.search(clause[max(0, start - _DONE_WINDOW) : start]):
                continue  # 帮我申请减免, 搞明白了罚息怎么算: done, not asked for
            requests.add(cue.label)
            break

    return _ClauseFacts(
        tactics=tactics,
        emotions=emotions,
        complaints=complaints,
        requests=requests,
        suggestion=bool(cues.suggestion.search(clause)),
    )


def _label(score: float) -> str:
    if score > POLARITY_THRESHOLD:
        return POSITIVE
    if score < -POLARITY_THRESHOLD:
        return NEGATIVE
    return NEUTRAL


# --------------------------------------------------------------------------- public API
def _analyze_clauses(
    clauses: list[str], scores: list[float], facts: list[_ClauseFacts]
) -> Analysis:
    sarcastic = is_sarcastic_text(clauses)
    if sarcastic:
        scores = [-s if s > 0 else s for s in scores]
    emotions: set[str] = set()
    complaints: set[str] = set()
    requests: set[str] = set()
    for fact, score in zip(facts, scores, strict=True):
        emotions |= fact.emotions
        if "gratitude" in fact.emotions and score < -POLARITY_THRESHOLD:
            emotions.discard("gratitude")  # 谢谢你们全家 in an angry or sarcastic clause
        complaints |= fact.complaints
        requests |= fact.requests
    if sarcastic:
        emotions.discard("gratitude")
    praised = "gratitude" in emotions or any(s > POLARITY_THRESHOLD for s in scores)

    values: dict[str, list[float]] = {}
    for fact, score in zip(facts, scores, strict=True):
        misconduct = bool(fact.complaints - {"complaint_intent"})
        for tactic, absent in fact.tactics.items():
            if misconduct:
                value = min(score, _MISCONDUCT_SCORE)
            elif absent:
                value = _ABSENCE_SCORE if praised else 0.0
            elif fact.suggestion:
                value = 0.0
            else:
                value = score
            values.setdefault(tactic, []).append(value)
    aspects = {t: _label(sum(values[t]) / len(values[t])) for t in TACTICS if t in values}
    reasons = tuple(r for r in COMPLAINT_REASONS if r in complaints)
    return Analysis(
        aspects=aspects,
        emotions=tuple(e for e in EMOTIONS if e in emotions),
        complaint=bool(reasons),
        complaint_reasons=reasons,
        requests=tuple(r for r in REQUESTS if r in requests),
        clauses=tuple(clauses),
        clause_scores=tuple(float(s) for s in scores),
    )


def analyze(text: str, clause_polarity: ClausePolarity | None = None) -> Analysis:
    """Tactics, emotions, complaint and requests in one feedback text.

    Args:
        text: raw feedback text (normalised here).
        clause_polarity: scores one normalised clause in [-1, 1]; defaults to
            `LexiconModel().clause_polarity`.

    Returns:
        An `Analysis`.

    Example:
        >>> a = analyze("催收员态度很好，没有联系我家人，谢谢")
        >>> a.aspects
        {'third_party_contact': 'positive', 'agent_attitude': 'positive'}
        >>> a.emotions, a.complaint
        (('gratitude',), False)
    """
    return analyze_many([text], clause_polarity)[0]


def split_texts(normalised: Iterable[str]) -> list[list[str]]:
    """The clauses of each already-normalised text (``nlp.textnorm.normalize``)."""
    return [split_clauses(text or "") for text in normalised]


def analyze_clause_lists(
    clause_lists: Iterable[list[str]],
    clause_polarity: ClausePolarity | None = None,
    *,
    batch_polarity: Callable[[list[str]], list[float]] | None = None,
    polarity_for_gratitude_only: bool = False,
) -> list[Analysis]:
    """`analyze` for texts already split by :func:`split_texts`; each distinct clause is
    scored once.

    Args:
        clause_polarity: scores one clause (default: the lexicon model).
        batch_polarity: scores many clauses in one call; used instead when given.
        polarity_for_gratitude_only: score only the clauses that thank (the others count as
            0): for a caller whose learned heads give every tactic's polarity, a clause's
            polarity still decides one thing, whether 谢谢 is meant (谢谢你们全家 in an angry
            clause is not).
    """
    cues = load_cues()
    clause_lists = [list(c) for c in clause_lists]
    facts = {c: _clause_facts(cues, c) for cs in clause_lists for c in cs}
    wanted = [
        c for c in facts if not polarity_for_gratitude_only or "gratitude" in facts[c].emotions
    ]
    if batch_polarity is not None:
        raw = batch_polarity(wanted) if wanted else []
    else:
        polarity = clause_polarity or _default_polarity()
        raw = [polarity(c) for c in wanted]
    scores = dict.fromkeys(facts, 0.0) | {
        c: max(-1.0, min(1.0, float(v))) for c, v in zip(wanted, raw, strict=True)
    }
    return [
        _analyze_clauses(clauses, [scores[c] for c in clauses], [facts[c] for c in clauses])
        for clauses in clause_lists
    ]


def analyze_many(
    texts: Iterable[str], clause_polarity: ClausePolarity | None = None
) -> list[Analysis]:
    """`analyze` for a batch of raw texts; each distinct clause is scored once."""
    return analyze_clause_lists(
        (split_clauses(normalize(text or "")) for text in texts), clause_polarity
    )
