"""Compiled rule structures: cues, triggers, scored rules, and a turn view with cached matches.

Built from the ``cues``, ``rules`` and ``signals`` sections of ``resources/call_rules.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nlp.compliance.catalog import RulesError
from nlp.compliance.normalise import NormText


@dataclass(frozen=True)
class Cue:
    name: str
    regex: re.Pattern[str]
    before: int | None = None
    after: int | None = None
    overlap: bool = False
    scope: str = "near"  # near | previous | clause


@dataclass(frozen=True)
class Trigger:
    id: str
    regex: re.Pattern[str]
    weight: float
    hedge: bool = True
    question: bool = True
    negation: bool = True
    context: str | None = None


@dataclass(frozen=True)
class ScoredRule:
    id: str
    explanation: str
    threshold: float
    triggers: tuple[Trigger, ...]
    boost: tuple[tuple[str, float], ...]
    soften: tuple[tuple[str, float], ...]
    negation_cue: str = "negation"
    speaker: str = "agent"
    prefilter: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Hit:
    trigger: Trigger
    start: int
    end: int
    anchor: int


@dataclass(frozen=True)
class ClauseScore:
    """The best-scoring clause of one rule in one turn."""

    rule: str
    score: float
    start: int
    end: int
    triggers: tuple[str, ...]


class TurnView:
    """A normalised turn with cached cue matches."""

    __slots__ = ("_cache", "norm")

    def __init__(self, norm: NormText) -> None:
        self.norm = norm
        self._cache: dict[str, list[tuple[int, int]]] = {}

    def spans(self, cue: Cue) -> list[tuple[int, int]]:
        found = self._cache.get(cue.name)
        if found is None:
            found = [m.span() for m in cue.regex.finditer(self.norm.text) if m.end() > m.start()]
            self._cache[cue.name] = found
        return found

    def cue_hit(self, cue: Cue, hit: Hit, clause: int) -> bool:
        clauses = self.norm.clauses
        lo, hi = clauses[clause]
        if cue.scope == "clause":
            return cue.regex.search(self.norm.text[lo:hi]) is not None
        if cue.scope == "previous" and clause > 0:
            lo = clauses[clause - 1][0]
        for start, end in self.spans(cue):
            if start < lo or end > hi:
                continue
            if cue.before is not None and end <= hit.anchor and hit.anchor - end <= cue.before:
                return True
            if cue.after is not None and start >= hit.end and start - hit.end <= cue.after:
                return True
            if cue.overlap and start < hit.end and end > hit.start:
                return True
            if cue.before is None and cue.after is None:
                return True
        return False


_NAMED_GROUP_RE = re.compile(r"\(\?P<\w+>")


def compile_pattern(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise RulesError(f"{where}: pattern must be a non-empty string")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RulesError(f"{where}: invalid pattern ({exc})") from None


def build_cues(specs: dict[str, Any]) -> dict[str, Cue]:
    """The ``cues`` section as compiled cues."""
    return {
        name: Cue(
            name=name,
            regex=compile_pattern(spec["pattern"], f"cues.{name}"),
            before=spec.get("before"),
            after=spec.get("after"),
            overlap=bool(spec.get("overlap", False)),
            scope=str(spec.get("scope", "near")),
        )
        for name, spec in specs.items()
    }


def build_scored(
    rule_id: str, spec: dict[str, Any], where: str, cues: dict[str, Cue]
) -> ScoredRule:
    """One entry of ``rules`` or ``signals`` as a compiled rule (its cues must exist)."""
    triggers = [
        Trigger(
            id=str(t["id"]),
            regex=compile_pattern(t["pattern"], f"{where}.{t['id']}"),
            weight=float(t["weight"]),
            hedge=bool(t.get("hedge", True)),
            question=bool(t.get("question", True)),
            negation=bool(t.get("negation", True)),
            context=t.get("context"),
        )
        for t in spec["triggers"]
    ]
    boost = tuple((str(k), float(v)) for k, v in (spec.get("boost") or {}).items())
    soften = tuple((str(k), float(v)) for k, v in (spec.get("soften") or {}).items())
    negation_cue = str(spec.get("negation_cue", "negation"))
    for cue, _ in (*boost, *soften, (negation_cue, 0.0)):
        if cue not in cues:
            raise RulesError(f"{where}: unknown cue {cue!r}")
    union = "|".join(f"(?:{_NAMED_GROUP_RE.sub('(?:', t.regex.pattern)})" for t in triggers)
    return ScoredRule(
        prefilter=compile_pattern(union, f"{where} (all triggers)"),
        id=rule_id,
        explanation=str(spec.get("explanation", "")),
        threshold=float(spec["threshold"]),
        triggers=tuple(triggers),
        boost=boost,
        soften=soften,
        negation_cue=negation_cue,
        speaker=str(spec.get("speaker", "agent")),
    )
