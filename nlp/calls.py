"""Compliance checks and borrower-mood analysis of collection calls.

The rule patterns live in ``nlp/resources/call_rules.yaml`` and the jurisdiction profiles in
``nlp/resources/profiles.toml``; this module only normalises text, scores clauses and applies
the metadata rules. Only AGENT turns can violate transcript rules.

Public API:

* :func:`load_profile` -> :class:`Profile` (``china`` default, ``us_reg_f``)
* :func:`analyze_calls` -> list of :class:`CallAnalysis` (one per row of the calls frame)
* :class:`RuleEngine` / :func:`default_engine`: the compiled rule set; ``scan_agent_turn`` checks
  one utterance, ``normalise`` shows what the patterns see
* :func:`evaluate_calls`: per-rule precision / recall on a labelled JSONL set
* :func:`main_calls`: the body of ``python -m nlp calls``

Example:
    >>> from pathlib import Path
    >>> from nlp.transcripts import read_transcripts
    >>> calls, turns = read_transcripts(Path("calls.jsonl"))  # doctest: +SKIP
    >>> results = analyze_calls(calls, turns, load_profile(), stand_in_sentiment)  # doctest: +SKIP
    >>> results[0].violations  # doctest: +SKIP
    ['no_identity_disclosure', 'threat']
"""

from __future__ import annotations

import argparse
import bisect
import functools
import json
import math
import re
import sys
import time
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nlp.labels import SENTIMENTS, VIOLATION_RULES
from nlp.transcripts import TranscriptError, local_start_times, read_transcripts

__all__ = [
    "METADATA_RULES",
    "OUTPUT_KEYS",
    "PROFILES_PATH",
    "RULES_PATH",
    "RULE_IDS",
    "TRANSCRIPT_RULES",
    "CallAnalysis",
    "ClauseScore",
    "Evidence",
    "NormText",
    "Profile",
    "ProfileError",
    "RuleEngine",
    "RulesError",
    "TurnSentiment",
    "analyze_calls",
    "available_profiles",
    "default_engine",
    "evaluate_calls",
    "load_profile",
    "main_calls",
    "metadata_violations",
    "parse_window",
    "resolve_turn_sentiment",
    "stand_in_sentiment",
]

RESOURCES = Path(__file__).resolve().parent / "resources"
RULES_PATH = RESOURCES / "call_rules.yaml"
PROFILES_PATH = RESOURCES / "profiles.toml"

TRANSCRIPT_RULES: tuple[str, ...] = (
    "threat",
    "insult",
    "third_party_disclosure",
    "impersonation",
    "misleading",
    "new_debt",
)
METADATA_RULES: tuple[str, ...] = ("off_hours", "over_frequency")
RULE_IDS: tuple[str, ...] = (*VIOLATION_RULES, "mini_miranda")
OUTPUT_KEYS: tuple[str, ...] = (
    "call_id",
    "violations",
    "evidence",
    "borrower_sentiment_start",
    "borrower_sentiment_end",
    "agent_offered_plan",
    "promise_to_pay",
    "turn_sentiments",
    "trajectory",
)

TurnSentiment = Callable[[list[str]], list[tuple[str, float]]]
"""Maps texts to ``(label, score)`` pairs, label in ``SENTIMENTS``, score in [-1, 1]."""

_SPAN_MAX = 40


class ProfileError(ValueError):
    """An unknown profile name or a bad override (window, company, cap)."""


class RulesError(ValueError):
    """The rules data file is missing a key or holds an invalid pattern."""


# ---------------------------------------------------------------------------------------------
# profiles


@dataclass(frozen=True)
class Profile:
    """A jurisdiction's contact and disclosure rules (see ``resources/profiles.toml``).

    Attributes:
        name: profile key (``"china"``, ``"us_reg_f"``).
        label: display name.
        window_start / window_end: allowed local start times, ``[start, end)``; may wrap midnight.
        max_calls_per_day: cap per borrower per local day (0 = none).
        max_calls_rolling / rolling_days: cap per borrower in any rolling window (0 = none).
        count_only_connected: only connected calls count towards the caps.
        max_attempts_per_day: cap on all calls per borrower per local day (0 = none).
        organisation_names: names that count as stating the organisation (empty = any
            organisation-like phrase).
        require_identity_disclosure: check ``no_identity_disclosure``.
        identity_turns: how many opening agent turns may carry the disclosure.
        mini_miranda_phrases: non-empty turns the ``mini_miranda`` rule on.
        mini_miranda_turns: opening agent turns searched for it (0 = the whole call).
    """

    name: str
    label: str
    window_start: dtime
    window_end: dtime
    max_calls_per_day: int = 0
    max_calls_rolling: int = 0
    rolling_days: int = 7
    count_only_connected: bool = True
    max_attempts_per_day: int = 0
    organisation_names: tuple[str, ...] = ()
    require_identity_disclosure: bool = True
    identity_turns: int = 2
    mini_miranda_phrases: tuple[str, ...] = ()
    mini_miranda_turns: int = 3

    @property
    def window(self) -> str:
        """The window as ``"HH:MM-HH:MM"``."""
        return f"{self.window_start:%H:%M}-{self.window_end:%H:%M}"

    def in_window(self, moment: dtime) -> bool:
        """Whether a local wall-clock time lies inside the allowed window."""
        start, end = self.window_start, self.window_end
        if start <= end:
            return start <= moment < end
        return moment >= start or moment < end


_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[dtime, dtime]:
    """Parse ``"HH:MM-HH:MM"`` (``24:00`` allowed as an end) into two times.

    Raises:
        ProfileError: on a malformed window.
    """
    match = _WINDOW_RE.match(unicodedata.normalize("NFKC", str(text)))
    if not match:
        raise ProfileError(
            f"时间窗口格式应为 HH:MM-HH:MM：{text!r} / window must look like HH:MM-HH:MM: {text!r}"
        )
    h0, m0, h1, m1 = (int(g) for g in match.groups())
    if (h1, m1) == (24, 0):
        h1, m1 = 23, 59
    if h0 > 23 or h1 > 23 or m0 > 59 or m1 > 59:
        raise ProfileError(f"时间窗口超出范围：{text!r} / window out of range: {text!r}")
    if (h0, m0) == (h1, m1):
        raise ProfileError(f"时间窗口为空：{text!r} / empty window: {text!r}")
    return dtime(h0, m0), dtime(h1, m1)


def _non_negative_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProfileError(
            f"{what} 应为非负整数：{value!r} / {what} must be a non-negative integer"
        )
    return value


def available_profiles(path: Path = PROFILES_PATH) -> list[str]:
    """Names of the profiles defined in the profiles file."""
    with path.open("rb") as handle:
        return list(tomllib.load(handle))


def load_profile(
    name: str = "china",
    company: str | Sequence[str] | None = None,
    window: str | None = None,
    max_calls_per_day: int | None = None,
    *,
    path: Path = PROFILES_PATH,
) -> Profile:
    """Load a profile from ``profiles.toml`` and apply overrides (the CLI flags).

    Args:
        name: ``"china"`` (default) or ``"us_reg_f"`` (or any profile in the file).
        company: organisation name(s) the agent must state; replaces the profile's list.
        window: allowed local start times ``"HH:MM-HH:MM"``.
        max_calls_per_day: cap on (connected) calls per borrower per local day.
        path: the profiles file.

    Returns:
        A frozen :class:`Profile`.

    Raises:
        ProfileError: unknown profile or invalid override.

    Example:
        >>> load_profile("china", window="08:00-21:00").window
        '08:00-21:00'
    """
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"无法读取配置文件 {path}：{exc} / cannot read profiles") from None
    if name not in data:
        raise ProfileError(
            f"未知的合规配置 {name!r}（可选：{', '.join(data)}）/ unknown profile {name!r}"
        )
    raw: dict[str, Any] = dict(data[name])
    start, end = parse_window(window if window is not None else raw.get("window", "08:00-22:00"))
    names = raw.get("organisation_names", [])
    if company is not None:
        names = [company] if isinstance(company, str) else list(company)
        names = [n for n in (str(n).strip() for n in names) if n]
        if not names:
            raise ProfileError("机构名称不能为空 / --company must not be empty")
    per_day = raw.get("max_calls_per_day", 0)
    if max_calls_per_day is not None:
        per_day = max_calls_per_day
        if isinstance(per_day, int) and per_day < 1:
            raise ProfileError(
                f"每日通话上限应为正整数：{per_day!r} / --max-calls-per-day must be >= 1"
            )
    phrases = raw.get("mini_miranda_phrases", [])
    return Profile(
        name=name,
        label=str(raw.get("label", name)),
        window_start=start,
        window_end=end,
        max_calls_per_day=_non_negative_int(per_day, "max_calls_per_day"),
        max_calls_rolling=_non_negative_int(raw.get("max_calls_rolling", 0), "max_calls_rolling"),
        rolling_days=_non_negative_int(raw.get("rolling_days", 7), "rolling_days") or 7,
        count_only_connected=bool(raw.get("count_only_connected", True)),
        max_attempts_per_day=_non_negative_int(
            raw.get("max_attempts_per_day", 0), "max_attempts_per_day"
        ),
        organisation_names=tuple(str(n) for n in names),
        require_identity_disclosure=bool(raw.get("require_identity_disclosure", True)),
        identity_turns=_non_negative_int(raw.get("identity_turns", 2), "identity_turns") or 2,
        mini_miranda_phrases=tuple(str(p) for p in phrases),
        mini_miranda_turns=_non_negative_int(
            raw.get("mini_miranda_turns", 3), "mini_miranda_turns"
        ),
    )


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Evidence:
    """Why a rule fired: rule id, turn index (``None`` for metadata rules), span, explanation."""

    rule: str
    turn: int | None
    span: str
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """``{"rule", "turn", "span", "explanation"}``."""
        return asdict(self)


@dataclass(frozen=True)
class CallAnalysis:
    """Per-call result of :func:`analyze_calls`.

    Attributes:
        call_id: the call.
        violations: sorted unique rule ids; empty when compliant.
        evidence: ``{"rule", "turn", "span", "explanation"}`` dicts, in turn order.
        borrower_sentiment_start / borrower_sentiment_end: label of the borrower's first / last
            substantive turn (fillers such as 嗯/喂/好的 skipped); ``None`` without borrower turns.
        agent_offered_plan: the agent offered 延期/分期/减免/停催/协商 or similar.
        promise_to_pay: the borrower committed to pay (not negated, not conditional).
        turn_sentiments: one label per turn, in turn order.
        turn_scores: one score in [-1, 1] per turn.
        trajectory: ``(turn_index, score)`` for the borrower's turns.
    """

    call_id: str
    violations: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    borrower_sentiment_start: str | None = None
    borrower_sentiment_end: str | None = None
    agent_offered_plan: bool = False
    promise_to_pay: bool = False
    turn_sentiments: list[str] = field(default_factory=list)
    turn_scores: list[float] = field(default_factory=list)
    trajectory: list[tuple[int, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready values (tuples become lists)."""
        return {
            "call_id": self.call_id,
            "violations": list(self.violations),
            "evidence": [dict(e) for e in self.evidence],
            "borrower_sentiment_start": self.borrower_sentiment_start,
            "borrower_sentiment_end": self.borrower_sentiment_end,
            "agent_offered_plan": self.agent_offered_plan,
            "promise_to_pay": self.promise_to_pay,
            "turn_sentiments": list(self.turn_sentiments),
            "turn_scores": list(self.turn_scores),
            "trajectory": [[int(i), float(s)] for i, s in self.trajectory],
        }


# ---------------------------------------------------------------------------------------------
# text normalisation with an offset map


@dataclass(frozen=True)
class NormText:
    """A normalised turn: ``text`` is what the patterns see, ``index[i]`` is the position in
    ``display`` (the lightly cleaned original) that character ``i`` came from."""

    display: str
    text: str
    index: tuple[int, ...]
    clauses: tuple[tuple[int, int], ...]

    def clause_of(self, pos: int) -> int:
        """Index of the clause containing normalised position ``pos`` (nearest if between)."""
        starts = [c[0] for c in self.clauses]
        return max(0, bisect.bisect_right(starts, pos) - 1)

    def original(self, start: int, end: int) -> str:
        """The ``display`` text behind normalised positions ``[start, end)``."""
        if not self.index or start >= end:
            return ""
        lo = self.index[min(start, len(self.index) - 1)]
        hi = self.index[min(end, len(self.index)) - 1] + 1
        return self.display[lo:hi]


def _edit(
    text: str, index: list[int], pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]
) -> tuple[str, list[int]]:
    """Apply ``pattern.sub(repl)`` while keeping the offset map aligned."""
    parts: list[str] = []
    out_index: list[int] = []
    pos = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        parts.append(text[pos:start])
        out_index.extend(index[pos:start])
        replacement = repl(match)
        if replacement:
            source = index[start:end]
            parts.append(replacement)
            out_index.extend(source[min(i, len(source) - 1)] for i in range(len(replacement)))
        pos = end
    parts.append(text[pos:])
    out_index.extend(index[pos:])
    return "".join(parts), out_index


@functools.cache
def _external_normalize() -> Callable[[str], str] | None:
    """``nlp.textnorm.normalize`` when that module exists (Traditional -> Simplified, shorthand)."""
    try:
        from nlp.textnorm import normalize
    except Exception:
        return None
    return normalize


# ---------------------------------------------------------------------------------------------
# compiled rules


@dataclass(frozen=True)
class _Cue:
    name: str
    regex: re.Pattern[str]
    before: int | None = None
    after: int | None = None
    overlap: bool = False
    scope: str = "near"  # near | previous | clause


@dataclass(frozen=True)
class _Trigger:
    id: str
    regex: re.Pattern[str]
    weight: float
    hedge: bool = True
    question: bool = True
    negation: bool = True
    context: str | None = None


@dataclass(frozen=True)
class _ScoredRule:
    id: str
    explanation: str
    threshold: float
    triggers: tuple[_Trigger, ...]
    boost: tuple[tuple[str, float], ...]
    soften: tuple[tuple[str, float], ...]
    negation_cue: str = "negation"
    speaker: str = "agent"
    prefilter: re.Pattern[str] | None = None


@dataclass(frozen=True)
class _Hit:
    trigger: _Trigger
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


class _TurnView:
    """A normalised turn with cached cue matches."""

    __slots__ = ("_cache", "norm")

    def __init__(self, norm: NormText) -> None:
        self.norm = norm
        self._cache: dict[str, list[tuple[int, int]]] = {}

    def spans(self, cue: _Cue) -> list[tuple[int, int]]:
        found = self._cache.get(cue.name)
        if found is None:
            found = [m.span() for m in cue.regex.finditer(self.norm.text) if m.end() > m.start()]
            self._cache[cue.name] = found
        return found

    def cue_hit(self, cue: _Cue, hit: _Hit, clause: int) -> bool:
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


def _compile(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise RulesError(f"{where}: pattern must be a non-empty string")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RulesError(f"{where}: invalid pattern ({exc})") from None


class RuleEngine:
    """The compiled rule set of ``call_rules.yaml``; immutable after construction.

    Args:
        path: the rules data file (YAML).

    Example:
        >>> engine = default_engine()
        >>> [e.rule for e in engine.scan_agent_turn("你再不还就让你坐牢")]
        ['threat', 'misleading']
    """

    def __init__(self, path: Path = RULES_PATH) -> None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RulesError(f"cannot read rules file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise RulesError(f"{path}: expected a mapping at the top level")
        try:
            self._load(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise RulesError(f"{path}: missing or malformed key {exc}") from None

    def _load(self, data: dict[str, Any]) -> None:
        norm = data["normalise"]
        homophones = {str(k): str(v) for k, v in norm.get("homophones", {}).items() if k != v}
        keys = sorted(homophones, key=len, reverse=True)
        self._homophones = homophones
        self._homophone_re = (
            re.compile("|".join(re.escape(k) for k in keys)) if keys else re.compile(r"(?!)")
        )
        fillers = [str(p) for p in norm.get("fillers", [])]
        self._filler_re = _compile("|".join(fillers) or "(?!)", "normalise.fillers")
        self._split_re = _compile(norm["clause_split"], "normalise.clause_split")
        self._space_re = re.compile(r"[ \t\r\f\v]+")
        self._cjk_space_re = re.compile(
            r"(?<=[\u2e80-\u9fff\uf900-\ufaff])[ ]+|[ ]+(?=[\u2e80-\u9fff\uf900-\ufaff])"
        )

        self._cues: dict[str, _Cue] = {}
        for name, spec in data["cues"].items():
            self._cues[name] = _Cue(
                name=name,
                regex=_compile(spec["pattern"], f"cues.{name}"),
                before=spec.get("before"),
                after=spec.get("after"),
                overlap=bool(spec.get("overlap", False)),
                scope=str(spec.get("scope", "near")),
            )

        def scored(rule_id: str, spec: dict[str, Any], where: str) -> _ScoredRule:
            triggers = []
            for t in spec["triggers"]:
                triggers.append(
                    _Trigger(
                        id=str(t["id"]),
                        regex=_compile(t["pattern"], f"{where}.{t['id']}"),
                        weight=float(t["weight"]),
                        hedge=bool(t.get("hedge", True)),
                        question=bool(t.get("question", True)),
                        negation=bool(t.get("negation", True)),
                        context=t.get("context"),
                    )
                )
            boost = tuple((str(k), float(v)) for k, v in (spec.get("boost") or {}).items())
            soften = tuple((str(k), float(v)) for k, v in (spec.get("soften") or {}).items())
            negation_cue = str(spec.get("negation_cue", "negation"))
            for cue, _ in (*boost, *soften, (negation_cue, 0.0)):
                if cue not in self._cues:
                    raise RulesError(f"{where}: unknown cue {cue!r}")
            union = "|".join(f"(?:{_NAMED_GROUP_RE.sub('(?:', t.regex.pattern)})" for t in triggers)
            return _ScoredRule(
                prefilter=_compile(union, f"{where} (all triggers)"),
                id=rule_id,
                explanation=str(spec.get("explanation", "")),
                threshold=float(spec["threshold"]),
                triggers=tuple(triggers),
                boost=boost,
                soften=soften,
                negation_cue=negation_cue,
                speaker=str(spec.get("speaker", "agent")),
            )

        self.rules: dict[str, _ScoredRule] = {
            rid: scored(rid, spec, f"rules.{rid}") for rid, spec in data["rules"].items()
        }
        for rid in self.rules:
            if rid not in TRANSCRIPT_RULES:
                raise RulesError(f"rules.{rid}: not a transcript rule id ({TRANSCRIPT_RULES})")
        self.signals: dict[str, _ScoredRule] = {
            sid: scored(sid, spec, f"signals.{sid}") for sid, spec in data["signals"].items()
        }
        for needed in ("agent_offered_plan", "promise_to_pay"):
            if needed not in self.signals:
                raise RulesError(f"signals.{needed} is missing")

        callee = data["callee"]
        self._third_party_re = [_compile(p, "callee") for p in callee["third_party_callee"]]
        self._agent_third_party_re = [
            _compile(p, "callee") for p in callee.get("agent_third_party_address", [])
        ]
        self._callee_is_borrower_re = [
            _compile(p, "callee") for p in callee.get("callee_is_borrower", [])
        ]

        identity = data["identity"]
        self._org_re = [_compile(p, "identity.organisation") for p in identity["organisation"]]
        self._name_re = [_compile(p, "identity.agent_name") for p in identity["agent_name"]]
        self._staff_re = [_compile(p, "identity.staff_number") for p in identity["staff_number"]]

        sub = data.get("substantive", {})
        self._min_chars = int(sub.get("min_chars", 3))
        self._filler_chars = frozenset(str(sub.get("filler_chars", "")))
        self._filler_words = frozenset(str(w).lower() for w in sub.get("filler_words", []))
        self.non_connected_outcomes = frozenset(
            _fold(str(o)) for o in data.get("non_connected_outcomes", [])
        )
        self.implies: dict[str, tuple[str, ...]] = {
            str(k): tuple(str(r) for r in v) for k, v in (data.get("implies") or {}).items()
        }
        for source, targets in self.implies.items():
            for target in (source, *targets):
                if target not in self.rules:
                    raise RulesError(f"implies.{source}: unknown rule {target!r}")
        self.explanations: dict[str, str] = {
            **{rid: r.explanation for rid, r in self.rules.items()},
            **{str(k): str(v) for k, v in data.get("explanations", {}).items()},
        }

    # -- normalisation ------------------------------------------------------------------------

    def normalise(self, text: str) -> NormText:
        """Normalise one utterance for matching and keep a map back to the display text.

        Steps: ``nlp.textnorm.normalize`` when available (Traditional -> Simplified, shorthand),
        NFKC + lower case, whitespace collapsed and dropped next to Chinese characters, fillers
        (嗯 啊 呃 那个 ...) removed, ASR homophones (预期 -> 逾期, 真信 -> 征信 ...) replaced.
        """
        display = str(text or "")
        external = _external_normalize()
        if external is not None:
            try:
                display = external(display)
            except Exception:
                display = str(text or "")
        folded = unicodedata.normalize("NFKC", display).lower()
        if len(folded) == len(display):
            chars, index = folded, list(range(len(display)))
        else:
            pieces: list[str] = []
            index = []
            for i, char in enumerate(display):
                piece = unicodedata.normalize("NFKC", char).lower()
                pieces.append(piece)
                index.extend([i] * len(piece))
            chars = "".join(pieces)
        chars, index = _edit(chars, index, self._space_re, lambda _m: " ")
        chars, index = _edit(chars, index, self._cjk_space_re, lambda _m: "")
        for _ in range(2):  # a filler can expose another (嗯那个 -> 那个 at a clause start)
            chars, index = _edit(chars, index, self._filler_re, lambda _m: "")
        chars, index = _edit(
            chars, index, self._homophone_re, lambda m: self._homophones[m.group()]
        )
        clauses: list[tuple[int, int]] = []
        pos = 0
        for match in self._split_re.finditer(chars):
            if match.start() > pos:
                clauses.append((pos, match.start()))
            pos = match.end()
        if pos < len(chars) or not clauses:
            clauses.append((pos, len(chars)))
        return NormText(display, chars, tuple(index), tuple(clauses))

    # -- scoring ------------------------------------------------------------------------------

    def _score(
        self, rule: _ScoredRule, view: _TurnView, *, context: frozenset[str] = frozenset()
    ) -> ClauseScore | None:
        """Best clause of ``rule`` in a turn, or ``None`` when no clause reaches the threshold."""
        text = view.norm.text
        if not text or (rule.prefilter is not None and rule.prefilter.search(text) is None):
            return None
        negation = self._cues[rule.negation_cue]
        by_clause: dict[int, list[_Hit]] = defaultdict(list)
        for trigger in rule.triggers:
            if trigger.context is not None and trigger.context not in context:
                continue
            for match in trigger.regex.finditer(text):
                if match.end() == match.start():
                    continue
                anchor = match.start()
                for group, value in match.groupdict().items():
                    if group.startswith("core") and value is not None:
                        anchor = match.start(group)
                        break
                hit = _Hit(trigger, match.start(), match.end(), anchor)
                clause = view.norm.clause_of(anchor)
                if trigger.negation and view.cue_hit(negation, hit, clause):
                    continue
                by_clause[clause].append(hit)
        best: ClauseScore | None = None
        for clause, hits in by_clause.items():
            weights: dict[str, float] = {}
            for hit in hits:
                weights[hit.trigger.id] = max(weights.get(hit.trigger.id, 0.0), hit.trigger.weight)
            score = sum(weights.values())
            for cue_name, value in rule.boost:
                cue = self._cues[cue_name]
                if any(view.cue_hit(cue, hit, clause) for hit in hits):
                    score += value
            for cue_name, value in rule.soften:
                if cue_name == "hedge" and not all(h.trigger.hedge for h in hits):
                    continue
                if cue_name == "question" and not all(h.trigger.question for h in hits):
                    continue
                cue = self._cues[cue_name]
                if any(view.cue_hit(cue, hit, clause) for hit in hits):
                    score -= value
            if score + 1e-9 >= rule.threshold and (best is None or score > best.score):
                lead = max(hits, key=lambda h: h.trigger.weight)
                best = ClauseScore(
                    rule.id,
                    round(score, 3),
                    lead.start,
                    lead.end,
                    tuple(sorted(weights)),
                )
        return best

    def _span(self, norm: NormText, result: ClauseScore) -> str:
        """Display text of the clause around the triggering match, at most ``_SPAN_MAX`` chars."""
        clause = norm.clauses[norm.clause_of(result.start)]
        lo, hi = clause[0], max(clause[1], result.end)
        if hi - lo > _SPAN_MAX:
            centre = (result.start + result.end) // 2
            lo = max(lo, min(centre - _SPAN_MAX // 2, hi - _SPAN_MAX))
            hi = min(hi, lo + _SPAN_MAX)
        return norm.original(lo, hi).strip() or norm.original(result.start, result.end)

    def scan_agent_turn(
        self,
        text: str,
        turn: int | None = None,
        *,
        third_party_callee: bool = False,
    ) -> list[Evidence]:
        """Transcript rules that one agent utterance violates (in rule-file order).

        Args:
            text: the utterance.
            turn: turn index to put in the evidence.
            third_party_callee: the callee is known not to be the borrower.
        """
        view = _TurnView(self.normalise(text))
        return self._scan_view(view, turn, third_party_callee=third_party_callee)

    def _scan_view(
        self, view: _TurnView, turn: int | None, *, third_party_callee: bool
    ) -> list[Evidence]:
        context = frozenset({"third_party_callee"}) if third_party_callee else frozenset()
        found: dict[str, Evidence] = {}
        for rule in self.rules.values():
            result = self._score(rule, view, context=context)
            if result is not None:
                found[rule.id] = Evidence(
                    rule.id, turn, self._span(view.norm, result), rule.explanation
                )
        for source, targets in self.implies.items():
            if source in found:
                for target in targets:
                    if target not in found:
                        found[target] = Evidence(
                            target,
                            turn,
                            found[source].span,
                            f"{self.rules[target].explanation}（{self.rules[source].explanation}）",
                        )
        return [found[rid] for rid in self.rules if rid in found]

    def signal(self, name: str, text: str) -> bool:
        """Whether a signal (``agent_offered_plan`` / ``promise_to_pay``) fires on one utterance."""
        return self._score(self.signals[name], _TurnView(self.normalise(text))) is not None

    # -- call-level checks --------------------------------------------------------------------

    def is_substantive(self, text: str) -> bool:
        """At least ``min_chars`` meaningful characters (fillers like 嗯/喂/好的/对 excluded)."""
        folded = unicodedata.normalize("NFKC", str(text or "")).lower()
        words = re.findall(r"[a-z']+", folded)
        meaningful_words = [w for w in words if w not in self._filler_words]
        cjk = [
            c
            for c in re.sub(r"[a-z']+", "", folded)
            if (c.isalnum()) and c not in self._filler_chars
        ]
        return len(cjk) + 3 * len(meaningful_words) >= self._min_chars

    def identity_disclosed(self, text: str, organisation_names: Sequence[str] = ()) -> bool:
        """The opening text states an organisation and the agent's own name or staff number."""
        norm = self.normalise(text).text
        if organisation_names:
            squashed = _squash(norm)
            org = any(key in squashed for key in self._name_keys(tuple(organisation_names)))
        else:
            org = any(r.search(norm) for r in self._org_re)
        person = any(r.search(norm) for r in self._name_re) or any(
            r.search(norm) for r in self._staff_re
        )
        return org and person

    @functools.lru_cache(maxsize=64)  # noqa: B019 - the engine is immutable and long-lived
    def _name_keys(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Squashed, normalised organisation names and their cores (和信金融服务有限公司 -> 和信金融)."""
        keys = {_squash(self.normalise(n).text) for n in names}
        keys |= {_squash(self.normalise(_core_name(n)).text) for n in names}
        return tuple(k for k in keys if k)

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def _phrase_keys(self, phrases: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(k for k in (_squash(self.normalise(p).text) for p in phrases) if k)

    def callee_update(self, speaker: str, norm_text: str, current: bool) -> bool:
        """New third-party-callee state after one turn."""
        if speaker == "borrower":
            if any(r.search(norm_text) for r in self._callee_is_borrower_re):
                return False
            if any(r.search(norm_text) for r in self._third_party_re):
                return True
        elif any(r.search(norm_text) for r in self._agent_third_party_re):
            return True
        return current

    def check_call(
        self,
        speakers: Sequence[str],
        texts: Sequence[str],
        turn_indexes: Sequence[int],
        profile: Profile,
    ) -> tuple[list[Evidence], bool, bool]:
        """Transcript checks of one call.

        Returns:
            ``(evidence, agent_offered_plan, promise_to_pay)``.
        """
        evidence: list[Evidence] = []
        third_party = False
        found: set[str] = set()
        agent_positions: list[int] = []
        for pos, (speaker, text, turn) in enumerate(
            zip(speakers, texts, turn_indexes, strict=True)
        ):
            view = _TurnView(self.normalise(text))
            third_party = self.callee_update(speaker, view.norm.text, third_party)
            if speaker == "agent":  # only the agent's words can break the transcript rules
                agent_positions.append(pos)
                evidence += self._scan_view(view, turn, third_party_callee=third_party)
            for name, signal in self.signals.items():
                if (
                    name not in found
                    and signal.speaker == speaker
                    and self._score(signal, view) is not None
                ):
                    found.add(name)
        plan = "agent_offered_plan" in found
        promise = "promise_to_pay" in found
        if agent_positions:
            first = agent_positions[0]
            first_turn = turn_indexes[first]
            opening = [texts[p] for p in agent_positions[: profile.identity_turns]]
            if profile.require_identity_disclosure and not self.identity_disclosed(
                "。".join(opening), profile.organisation_names
            ):
                evidence.append(
                    Evidence(
                        "no_identity_disclosure",
                        first_turn,
                        _clip(texts[first]),
                        self.explanations.get("no_identity_disclosure", ""),
                    )
                )
            if profile.mini_miranda_phrases:
                limit = profile.mini_miranda_turns or len(agent_positions)
                searched = _squash(
                    self.normalise("。".join(texts[p] for p in agent_positions[:limit])).text
                )
                phrases = self._phrase_keys(profile.mini_miranda_phrases)
                if not any(p in searched for p in phrases):
                    evidence.append(
                        Evidence(
                            "mini_miranda",
                            first_turn,
                            _clip(texts[first]),
                            self.explanations.get("mini_miranda", ""),
                        )
                    )
        return evidence, plan, promise


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


_SQUASH_RE = re.compile(r"[\W_]+")


def _squash(text: str) -> str:
    """Letters, digits and CJK only: phrase matching that ignores punctuation and spaces."""
    return _SQUASH_RE.sub("", text)


_ORG_SUFFIX_RE = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|股份|集团|公司|服务|信息|咨询|管理|网络|科技|技术"
    r"|co\.?,? ?ltd\.?|inc\.?|llc|corp\.?|company|services?)\s*$"
)


def _core_name(name: str) -> str:
    """Organisation name without legal-form / generic suffixes (和信金融服务有限公司 -> 和信金融)."""
    core = _fold(name)
    while True:
        shorter = _ORG_SUFFIX_RE.sub("", core).strip(" ,.")
        if shorter == core or len(_squash(shorter)) < 2:
            return core
        core = shorter


def _clip(text: str, limit: int = _SPAN_MAX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.cache
def default_engine() -> RuleEngine:
    """The engine built from ``resources/call_rules.yaml`` (loaded once; immutable, shareable)."""
    return RuleEngine(RULES_PATH)


# ---------------------------------------------------------------------------------------------
# metadata rules


def metadata_violations(
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    profile: Profile,
    *,
    engine: RuleEngine | None = None,
) -> dict[str, list[Evidence]]:
    """``off_hours`` and ``over_frequency`` evidence per call_id, from the call log.

    A call is *connected* when its ``outcome`` is not a non-connected outcome (未接通, no_answer,
    voicemail ...) and the borrower side speaks at least once. Calls beyond a cap are flagged
    (the first ``cap`` calls of a day or rolling window are not).
    """
    engine = engine or default_engine()
    out: dict[str, list[Evidence]] = defaultdict(list)
    if calls.empty:
        return out
    frame = pd.DataFrame(
        {
            "call_id": calls["call_id"].astype(str).to_numpy(),
            "borrower_id": calls["borrower_id"].astype(str).to_numpy(),
            "utc": pd.to_datetime(calls["started_at"], utc=True).to_numpy(),
            "local": local_start_times(calls).to_numpy()
            if "utc_offset_min" in calls
            else _local_without_offsets(calls["started_at"]),
        }
    )
    outcomes = calls["outcome"] if "outcome" in calls else pd.Series([None] * len(calls))
    spoke = set(turns.loc[turns["speaker"] == "borrower", "call_id"].astype(str))
    frame["connected"] = [
        (
            o is None
            or (isinstance(o, float) and math.isnan(o))
            or _fold(str(o)) not in engine.non_connected_outcomes
        )
        and cid in spoke
        for o, cid in zip(outcomes.tolist(), frame["call_id"], strict=True)
    ]
    window_text = profile.window
    for row in frame.itertuples(index=False):
        local = pd.Timestamp(row.local)
        if not profile.in_window(local.time()):
            out[row.call_id].append(
                Evidence(
                    "off_hours",
                    None,
                    f"开始时间 {local:%Y-%m-%d %H:%M}（允许 {window_text}）",
                    engine.explanations.get("off_hours", ""),
                )
            )
    explanation = engine.explanations.get("over_frequency", "")
    frame["day"] = pd.to_datetime(frame["local"]).dt.date
    frame = frame.sort_values(["borrower_id", "utc", "call_id"], kind="stable")
    flagged: set[str] = set()

    def flag(call_id: str, span: str) -> None:
        if call_id not in flagged:
            flagged.add(call_id)
            out[call_id].append(Evidence("over_frequency", None, span, explanation))

    counted = frame[frame["connected"]] if profile.count_only_connected else frame
    kind = "已接通" if profile.count_only_connected else ""
    if profile.max_calls_per_day:
        for (borrower, day), group in counted.groupby(["borrower_id", "day"], sort=False):
            for n, call_id in enumerate(group["call_id"], start=1):
                if n > profile.max_calls_per_day:
                    flag(
                        call_id,
                        f"借款人 {borrower} 在 {day} 的第 {n} 通{kind}电话"
                        f"（每日上限 {profile.max_calls_per_day}）",
                    )
    if profile.max_calls_rolling:
        span = pd.Timedelta(days=profile.rolling_days)
        for borrower, group in counted.groupby("borrower_id", sort=False):
            times = list(pd.to_datetime(group["utc"], utc=True))
            ids = list(group["call_id"])
            lo = 0
            for i, moment in enumerate(times):
                while times[lo] <= moment - span:
                    lo += 1
                n = i - lo + 1
                if n > profile.max_calls_rolling:
                    flag(
                        ids[i],
                        f"借款人 {borrower} {profile.rolling_days} 天内第 {n} 通{kind}电话"
                        f"（上限 {profile.max_calls_rolling}）",
                    )
    if profile.max_attempts_per_day:
        for (borrower, day), group in frame.groupby(["borrower_id", "day"], sort=False):
            for n, call_id in enumerate(group["call_id"], start=1):
                if n > profile.max_attempts_per_day:
                    flag(
                        call_id,
                        f"借款人 {borrower} 在 {day} 的第 {n} 次拨打"
                        f"（每日拨打上限 {profile.max_attempts_per_day}）",
                    )
    return out


def _local_without_offsets(started: pd.Series) -> Any:
    stamps = pd.to_datetime(started)
    if stamps.dt.tz is not None:
        return stamps.dt.tz_localize(None).to_numpy()
    return stamps.to_numpy()


# ---------------------------------------------------------------------------------------------
# analysis


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
        calls: calls frame (``call_id, borrower_id, started_at, outcome`` ...) from
            :func:`nlp.transcripts.read_transcripts`.
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
    wanted = set(call_ids)
    ordered = turns.assign(_cid=turns["call_id"].astype(str))
    ordered = ordered[ordered["_cid"].isin(wanted)].sort_values(
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
        safe = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
        grouped[cid].append((int(index), str(speaker), safe))

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
        n = len(call_turns)
        labels_scores = sentiments[cursor : cursor + n]
        cursor += n
        indexes = [t[0] for t in call_turns]
        speakers = [t[1] for t in call_turns]
        texts = [t[2] for t in call_turns]
        evidence, plan, promise = engine.check_call(speakers, texts, indexes, profile)
        evidence += meta.get(cid, [])
        evidence.sort(key=lambda e: (e.turn is None, -1 if e.turn is None else e.turn))
        borrower = [
            (i, text, label, score)
            for i, speaker, text, (label, score) in zip(
                indexes, speakers, texts, labels_scores, strict=True
            )
            if speaker == "borrower"
        ]
        substantive = [b for b in borrower if engine.is_substantive(b[1])] or borrower
        results.append(
            CallAnalysis(
                call_id=cid,
                violations=sorted({e.rule for e in evidence}),
                evidence=[e.to_dict() for e in evidence],
                borrower_sentiment_start=substantive[0][2] if substantive else None,
                borrower_sentiment_end=substantive[-1][2] if substantive else None,
                agent_offered_plan=plan,
                promise_to_pay=promise,
                turn_sentiments=[label for label, _ in labels_scores],
                turn_scores=[round(score, 4) for _, score in labels_scores],
                trajectory=[(i, round(score, 4)) for i, _, _, score in borrower],
            )
        )
    return results


# ---------------------------------------------------------------------------------------------
# sentiment scorers


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


def resolve_turn_sentiment(
    model: str | None = None, *, warn: Callable[[str], None] | None = None
) -> tuple[TurnSentiment, str]:
    """The best available batch scorer for turn sentiment, and its name.

    Order: ``nlp.pipeline.score_texts`` (the product scorer), then ``nlp.lexicon.LexiconModel``,
    then :func:`stand_in_sentiment` (with a warning). A scorer that fails when first called also
    falls back to the next one, with a warning.

    Args:
        model: model name for ``score_texts`` (``None`` = the configured default).
        warn: where warnings go (default: stderr).
    """
    say = warn or (lambda message: print(message, file=sys.stderr))
    candidates: list[tuple[str, TurnSentiment]] = []
    try:
        from nlp.pipeline import score_texts
    except Exception as exc:
        say(f"警告：无法加载 nlp.pipeline（{type(exc).__name__}）/ warning: pipeline unavailable")
    else:

        def pipeline_scorer(texts: list[str]) -> list[tuple[str, float]]:
            frame = score_texts(texts) if model is None else score_texts(texts, model)
            return list(
                zip(
                    frame["sentiment"].astype(str).tolist(),
                    frame["sentiment_score"].astype(float).tolist(),
                    strict=True,
                )
            )

        candidates.append((f"pipeline:{model or 'default'}", pipeline_scorer))
    try:
        from nlp.lexicon import LexiconModel
    except Exception as exc:
        say(f"警告：无法加载 nlp.lexicon（{type(exc).__name__}）/ warning: lexicon unavailable")
    else:

        def lexicon_scorer(texts: list[str]) -> list[tuple[str, float]]:
            probs = LexiconModel().predict_proba(texts)
            return [(SENTIMENTS[int(row.argmax())], float(row[2] - row[0])) for row in probs]

        candidates.append(("lexicon", lexicon_scorer))
    candidates.append(("stand-in", stand_in_sentiment))
    if len(candidates) == 1:
        say("警告：未找到情感模型，使用关键词替代评分 / warning: using the keyword stand-in scorer")

    chosen: dict[str, str] = {"name": candidates[0][0]}

    def scorer(texts: list[str]) -> list[tuple[str, float]]:
        for position, (name, candidate) in enumerate(candidates):
            try:
                result = candidate(texts)
            except Exception as exc:
                if position == len(candidates) - 1:
                    raise
                nxt = candidates[position + 1][0]
                say(
                    f"警告：情感评分 {name} 失败（{type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:120]}），改用 {nxt} / warning: falling back"
                )
                continue
            chosen["name"] = name
            return result
        raise RuntimeError("unreachable")  # pragma: no cover

    return scorer, candidates[0][0]


# ---------------------------------------------------------------------------------------------
# evaluation


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def evaluate_calls(
    path: Path,
    *,
    profile: Profile | None = None,
    turn_sentiment: TurnSentiment | None = None,
    meta: Path | None = None,
) -> dict[str, Any]:
    """Per-rule precision / recall of the engine on a labelled JSONL set.

    Each line is a call in the transcript JSONL format plus ``"labels": {"violations":
    [{"rule", "turn"}], "borrower_sentiment_start", "borrower_sentiment_end",
    "agent_offered_plan", "promise_to_pay"}``.

    Args:
        path: the labelled JSONL file.
        profile: compliance profile (default ``china``).
        turn_sentiment: scorer (default :func:`stand_in_sentiment`, whose sentiment accuracy is
            not meaningful).
        meta: optional side metadata file.

    Returns:
        ``{"n_calls", "seconds", "calls_per_second", "rules": {rule: {"tp", "fp", "fn",
        "support", "precision", "recall", "f1", "turn_match_rate"}}, "micro": {...},
        "turn_match_rate", "agent_offered_plan": {...}, "promise_to_pay": {...},
        "borrower_sentiment_start_accuracy", "borrower_sentiment_end_accuracy"}``. Precision /
        recall are call-level and turn-insensitive; ``turn_match_rate`` is the share of gold
        (rule, turn) pairs in correctly flagged calls whose turn was also flagged. ``None``
        marks an undefined ratio.
    """
    path = Path(path)
    profile = profile or load_profile()
    scorer = turn_sentiment or stand_in_sentiment
    labels: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.strip():
            record = json.loads(line)
            labels[str(record["call_id"])] = record.get("labels") or {}
    calls, turns = read_transcripts(path, meta)
    default_engine().normalise("预热")  # compile rules / load collaborators outside the timing
    started = time.perf_counter()
    results = analyze_calls(calls, turns, profile, scorer)
    seconds = time.perf_counter() - started

    rules = list(RULE_IDS)
    counts = {r: {"tp": 0, "fp": 0, "fn": 0, "turn_total": 0, "turn_hit": 0} for r in rules}
    flags: dict[str, dict[str, int]] = {
        k: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for k in ("agent_offered_plan", "promise_to_pay")
    }
    sentiment_hits = {"borrower_sentiment_start": [0, 0], "borrower_sentiment_end": [0, 0]}
    for result in results:
        gold = labels.get(result.call_id, {})
        gold_turns: dict[str, set[int | None]] = defaultdict(set)
        for item in gold.get("violations") or []:
            rule = str(item["rule"]) if isinstance(item, dict) else str(item)
            turn = item.get("turn") if isinstance(item, dict) else None
            gold_turns[rule].add(None if turn is None else int(turn))
            if rule not in counts:
                counts[rule] = {"tp": 0, "fp": 0, "fn": 0, "turn_total": 0, "turn_hit": 0}
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
        for key, value in (
            ("agent_offered_plan", result.agent_offered_plan),
            ("promise_to_pay", result.promise_to_pay),
        ):
            if key in gold and gold[key] is not None:
                truth = bool(gold[key])
                cell = ("tp" if value else "fn") if truth else ("fp" if value else "tn")
                flags[key][cell] += 1
        for key in sentiment_hits:
            if gold.get(key) is not None:
                sentiment_hits[key][1] += 1
                sentiment_hits[key][0] += int(getattr(result, key) == gold[key])

    def prf(tp: int, fp: int, fn: int) -> dict[str, float | None]:
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = (
            round(2 * precision * recall / (precision + recall), 4)
            if precision and recall
            else None
        )
        return {"precision": precision, "recall": recall, "f1": f1}

    per_rule: dict[str, dict[str, Any]] = {}
    for rule, c in counts.items():
        per_rule[rule] = {
            "tp": c["tp"],
            "fp": c["fp"],
            "fn": c["fn"],
            "support": c["tp"] + c["fn"],
            **prf(c["tp"], c["fp"], c["fn"]),
            "turn_match_rate": _ratio(c["turn_hit"], c["turn_total"]),
        }
    total = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn")}
    return {
        "n_calls": len(results),
        "seconds": round(seconds, 4),
        "calls_per_second": round(len(results) / seconds, 1) if seconds > 0 else None,
        "rules": per_rule,
        "micro": {**total, **prf(total["tp"], total["fp"], total["fn"])},
        "turn_match_rate": _ratio(
            sum(c["turn_hit"] for c in counts.values()),
            sum(c["turn_total"] for c in counts.values()),
        ),
        **{
            key: {
                **cell,
                **prf(cell["tp"], cell["fp"], cell["fn"]),
                "accuracy": _ratio(cell["tp"] + cell["tn"], sum(cell.values())),
            }
            for key, cell in flags.items()
        },
        **{f"{key}_accuracy": _ratio(hit, n) for key, (hit, n) in sentiment_hits.items()},
    }


# ---------------------------------------------------------------------------------------------
# CLI


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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400] or type(exc).__name__


def main_calls(argv: list[str] | None = None) -> int:
    """``python -m nlp calls INPUT --out OUT.jsonl [options]``: analyse calls, write JSONL.

    Args:
        argv: arguments after ``calls`` (default ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on bad input (one line on stderr, no traceback).
    """
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
        for note in calls.attrs.get("notes", [])[:5]:
            print(f"注意：{note}", file=sys.stderr)
        extra = len(calls.attrs.get("notes", [])) - 5
        if extra > 0:
            print(f"注意：另有 {extra} 条类似提示 / {extra} more notes", file=sys.stderr)
        scorer, _name = resolve_turn_sentiment(args.sentiment_model)
        if args.engine == "ray":
            from nlp.distributed import ray_turn_sentiment

            scorer = ray_turn_sentiment(
                args.sentiment_model, workers=args.workers, address=args.address
            )
        results = analyze_calls(calls, turns, profile, scorer)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for result in results:
                row = result.to_dict()
                handle.write(json.dumps({k: row[k] for k in OUTPUT_KEYS}, ensure_ascii=False))
                handle.write("\n")
        tmp.replace(args.out)
    except (TranscriptError, ProfileError, RulesError) as exc:
        print(f"错误：{_one_line(exc)}", file=sys.stderr)
        return 2
    except (ValueError, OSError, KeyError) as exc:
        print(f"错误：{_one_line(exc)}", file=sys.stderr)
        return 2
    flagged = sum(1 for r in results if r.violations)
    print(
        f"已分析 {len(results)} 通通话，{flagged} 通有违规 → {args.out}（配置 {profile.name}）",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_calls())
