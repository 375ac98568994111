"""Risk flags: which borrowers need a person now (the cue layer).

Five flags (:data:`nlp.labels.RISK_FLAGS`): ``self_harm``, ``hardship``, ``health``,
``escalation`` and ``evasion``. The cue rules in ``nlp/resources/risk_cues.yaml`` are precise
and give the evidence span (the clause around the cue); the learned heads (``risk:<flag>`` in
:mod:`nlp.heads`) add what the cues miss. ``self_harm`` is recall-first and always the most
severe.

Example:
    >>> sorted(find_risks("公司倒闭了三个月没发工资，真的活不下去了"))
    ['hardship', 'self_harm']
    >>> find_risks("笑死，累死我了，我还不至于想不开")
    {}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from nlp.labels import RISK_FLAGS

RISK_CUES_PATH = Path(__file__).resolve().parent / "resources" / "risk_cues.yaml"
MAX_EVIDENCE = 60


@dataclass(frozen=True)
class _Flag:
    severity: int
    cues: tuple[re.Pattern[str], ...]
    block: tuple[re.Pattern[str], ...]
    over: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class _Rules:
    clause: re.Pattern[str]
    negation: re.Pattern[str]
    flags: dict[str, _Flag]


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    spec = yaml.safe_load(RISK_CUES_PATH.read_text(encoding="utf-8"))
    flags = {}
    for flag in RISK_FLAGS:
        entry = spec["flags"][flag]
        flags[flag] = _Flag(
            severity=int(entry["severity"]),
            cues=tuple(re.compile(p) for p in entry["cues"]),
            block=tuple(re.compile(p) for p in entry.get("block", ())),
            over=tuple(re.compile(p) for p in entry.get("over", ())),
        )
    return _Rules(re.compile(spec["clause"]), re.compile(spec["negation"]), flags)


def risk_severity() -> dict[str, int]:
    """Flag -> severity (higher is more urgent; ``self_harm`` is the highest)."""
    return {flag: rule.severity for flag, rule in _rules().flags.items()}


def clause_around(text: str, start: int, end: int) -> str:
    """The clause of ``text`` holding ``text[start:end]``, at most :data:`MAX_EVIDENCE` long."""
    bounds = _rules().clause
    left = max((m.end() for m in bounds.finditer(text, 0, start)), default=0)
    right_match = bounds.search(text, end)
    right = right_match.start() if right_match else len(text)
    if right - left > MAX_EVIDENCE:
        left = max(left, start - (MAX_EVIDENCE - (end - start)) // 2)
        right = min(right, left + MAX_EVIDENCE)
    return text[left:right].strip()


def _blocked(flag: _Flag, text: str, start: int, end: int) -> bool:
    for pattern in flag.block:
        for m in pattern.finditer(text):
            if m.start() <= end and m.end() >= start:
                return True
    return False


def find_risks(text: str) -> dict[str, str]:
    """Flags the cue rules find in one normalised text, each with its evidence span.

    Args:
        text: a text normalised by :func:`nlp.textnorm.normalize`.

    Returns:
        ``{flag: evidence}`` in :data:`RISK_FLAGS` order; empty when nothing fires.
    """
    rules = _rules()
    found: dict[str, str] = {}
    for name, flag in rules.flags.items():
        if any(p.search(text) for p in flag.over):
            continue
        for pattern in flag.cues:
            hit = next(
                (
                    m
                    for m in pattern.finditer(text)
                    if not _blocked(flag, text, m.start(), m.end())
                    and not rules.negation.search(text, 0, m.start())
                ),
                None,
            )
            if hit is not None:
                found[name] = clause_around(text, hit.start(), hit.end())
                break
    return found


def clause_spans(text: str) -> list[str]:
    """The non-empty clauses of ``text`` (the candidate evidence spans), each at most
    :data:`MAX_EVIDENCE` long."""
    parts = [p.strip() for p in _rules().clause.split(text)]
    spans = [p[:MAX_EVIDENCE] for p in parts if p]
    return spans or [text[:MAX_EVIDENCE]]


def find_risks_many(texts: list[str]) -> list[dict[str, str]]:
    """:func:`find_risks` for a batch of normalised texts."""
    return [find_risks(t) if t else {} for t in texts]


def ordered_flags(flags: list[str] | tuple[str, ...]) -> list[str]:
    """``flags`` most severe first."""
    severity = risk_severity()
    return sorted(flags, key=lambda f: -severity.get(f, 0))
