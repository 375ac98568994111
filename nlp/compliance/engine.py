"""The rule engine: the compiled rule set of ``resources/call_rules.yaml``, applied to turns.

Only AGENT turns can violate transcript rules; signals (plan offered, promise to pay) and the
call-level checks (identity disclosure, mini-Miranda) run on whole calls.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlp.compliance.catalog import RULES_PATH, TRANSCRIPT_RULES, RulesError, catalog_explanations
from nlp.compliance.compiled import (
    ClauseScore,
    Cue,
    Hit,
    ScoredRule,
    TurnView,
    build_cues,
    build_scored,
    compile_pattern,
)
from nlp.compliance.normalise import (
    SPAN_MAX,
    NormText,
    clip,
    core_name,
    edit,
    external_normalize,
    fold,
    squash,
)
from nlp.compliance.profiles import Profile
from nlp.compliance.results import Evidence


@dataclass(frozen=True)
class IdentityCheck:
    """What an opening says about the caller (see :meth:`RuleEngine.identity_check`).

    Attributes:
        organisation: the organisation as said (display text; the configured name when the
            profile names one), ``None`` when no (accepted) organisation was stated.
        person: the agent stated their own name or staff number (工号).
        expected: the profile's organisation names (empty = any organisation counts).
        heard: an organisation-like phrase that was said but is not one of ``expected``.
    """

    organisation: str | None
    person: bool
    expected: tuple[str, ...] = ()
    heard: str | None = None

    @property
    def disclosed(self) -> bool:
        """Organisation and the agent's own name or staff number were both stated."""
        return self.organisation is not None and self.person

    def missing(self) -> str:
        """What was missing, in Chinese, naming what was said (「开场未报姓名或工号（已报机构：
        安信消费金融）」); empty when nothing was."""
        if self.disclosed:
            return ""
        person = "姓名或工号"
        if self.organisation is not None:
            return f"开场未报{person}（已报机构：{self.organisation}）"
        if self.expected:
            what = f"应报：{'、'.join(self.expected)}" + (
                f"；听到：{self.heard}" if self.heard else ""
            )
            org = f"开场未报本机构名称（{what}）"
            return org + (f"，已报{person}" if self.person else f"，也未报{person}")
        return "开场未报机构名称" + (f"（已报{person}）" if self.person else f"，也未报{person}")


# an organisation match's lead-in that is not part of the name (我是 / 这里是 / 您好 / from ...)
_ORG_LEAD = re.compile(
    r"^(?:.*?(?:我这边是|我这里是|这里是|这边是|我们是|我是))|^(?:喂|嗨|好)+"
    r"|^(?:calling from|on behalf of|from|with|at)\s+",
    re.IGNORECASE,
)


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
        self._load_normalise(data["normalise"])
        self._cues: dict[str, Cue] = build_cues(data["cues"])
        self.rules: dict[str, ScoredRule] = {
            rid: build_scored(rid, spec, f"rules.{rid}", self._cues)
            for rid, spec in data["rules"].items()
        }
        for rid in self.rules:
            if rid not in TRANSCRIPT_RULES:
                raise RulesError(
                    f"rules.{rid}: not a transcript rule in the catalog ({TRANSCRIPT_RULES})"
                )
        self.signals: dict[str, ScoredRule] = {
            sid: build_scored(sid, spec, f"signals.{sid}", self._cues)
            for sid, spec in data["signals"].items()
        }
        for needed in ("agent_offered_plan", "promise_to_pay"):
            if needed not in self.signals:
                raise RulesError(f"signals.{needed} is missing")
        self._load_callee(data["callee"], data["identity"])
        self._load_substantive(data.get("substantive", {}))
        self.non_connected_outcomes = frozenset(
            fold(str(o)) for o in data.get("non_connected_outcomes", [])
        )
        self.wrong_party_outcomes = frozenset(
            fold(str(o)) for o in data.get("wrong_party_outcomes", [])
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
            **catalog_explanations(),
        }

    def _load_normalise(self, norm: dict[str, Any]) -> None:
        homophones = {str(k): str(v) for k, v in norm.get("homophones", {}).items() if k != v}
        keys = sorted(homophones, key=len, reverse=True)
        self._homophones = homophones
        self._homophone_re = (
            re.compile("|".join(re.escape(k) for k in keys)) if keys else re.compile(r"(?!)")
        )
        fillers = [str(p) for p in norm.get("fillers", [])]
        self._filler_re = compile_pattern("|".join(fillers) or "(?!)", "normalise.fillers")
        self._split_re = compile_pattern(norm["clause_split"], "normalise.clause_split")
        self._space_re = re.compile(r"[ \t\r\f\v]+")
        self._cjk_space_re = re.compile(
            r"(?<=[\u2e80-\u9fff\uf900-\ufaff])[ ]+|[ ]+(?=[\u2e80-\u9fff\uf900-\ufaff])"
        )

    def _load_callee(self, callee: dict[str, Any], identity: dict[str, Any]) -> None:
        def patterns(items: list[Any], where: str) -> list[re.Pattern[str]]:
            return [compile_pattern(p, where) for p in items]

        self._third_party_re = patterns(callee["third_party_callee"], "callee")
        self._agent_third_party_re = patterns(callee.get("agent_third_party_address", []), "callee")
        self._callee_is_borrower_re = patterns(callee.get("callee_is_borrower", []), "callee")
        self._org_re = patterns(identity["organisation"], "identity.organisation")
        self._name_re = patterns(identity["agent_name"], "identity.agent_name")
        self._staff_re = patterns(identity["staff_number"], "identity.staff_number")

    def _load_substantive(self, sub: dict[str, Any]) -> None:
        self._min_chars = int(sub.get("min_chars", 3))
        self._filler_chars = frozenset(str(sub.get("filler_chars", "")))
        self._filler_words = frozenset(str(w).lower() for w in sub.get("filler_words", []))

    # -- normalisation ------------------------------------------------------------------------

    def normalise(self, text: str) -> NormText:
        """Normalise one utterance for matching and keep a map back to the display text.

        Steps: ``nlp.textnorm.normalize`` when available (Traditional -> Simplified, shorthand),
        NFKC + lower case, whitespace collapsed and dropped next to Chinese characters, fillers
        (嗯 啊 呃 那个 ...) removed, ASR homophones (预期 -> 逾期, 真信 -> 征信 ...) replaced.
        """
        display = str(text or "")
        external = external_normalize()
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
        chars, index = edit(chars, index, self._space_re, lambda _m: " ")
        chars, index = edit(chars, index, self._cjk_space_re, lambda _m: "")
        for _ in range(2):  # a filler can expose another (嗯那个 -> 那个 at a clause start)
            chars, index = edit(chars, index, self._filler_re, lambda _m: "")
        chars, index = edit(chars, index, self._homophone_re, lambda m: self._homophones[m.group()])
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
        self, rule: ScoredRule, view: TurnView, *, context: frozenset[str] = frozenset()
    ) -> ClauseScore | None:
        """Best clause of ``rule`` in a turn, or ``None`` when no clause reaches the threshold."""
        text = view.norm.text
        if not text or (rule.prefilter is not None and rule.prefilter.search(text) is None):
            return None
        negation = self._cues[rule.negation_cue]
        by_clause: dict[int, list[Hit]] = defaultdict(list)
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
                hit = Hit(trigger, match.start(), match.end(), anchor)
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
        """Display text of the clause around the triggering match, at most ``SPAN_MAX`` chars."""
        clause = norm.clauses[norm.clause_of(result.start)]
        lo, hi = clause[0], max(clause[1], result.end)
        if hi - lo > SPAN_MAX:
            centre = (result.start + result.end) // 2
            lo = max(lo, min(centre - SPAN_MAX // 2, hi - SPAN_MAX))
            hi = min(hi, lo + SPAN_MAX)
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
        view = TurnView(self.normalise(text))
        return self._scan_view(view, turn, third_party_callee=third_party_callee)

    def _scan_view(
        self, view: TurnView, turn: int | None, *, third_party_callee: bool
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
        return self._score(self.signals[name], TurnView(self.normalise(text))) is not None

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
        return self.identity_check(text, organisation_names).disclosed

    def identity_check(self, text: str, organisation_names: Sequence[str] = ()) -> IdentityCheck:
        """Which parts of the caller's identity an opening states.

        Args:
            text: the opening agent turns (joined).
            organisation_names: the profile's organisation names; empty = any
                organisation-like phrase (XX公司 / XX金融 / XX银行 / "calling from X") counts.

        Example:
            >>> default_engine().identity_check("您好，我是安信消费金融的").missing()
            '开场未报姓名或工号（已报机构：安信消费金融）'
        """
        norm = self.normalise(text)
        said = self._organisation_said(norm)
        expected = tuple(str(n) for n in organisation_names)
        organisation, heard = said, None
        if expected:
            squashed = squash(norm.text)
            named = [n for n in expected if any(k in squashed for k in self._name_keys((n,)))]
            organisation = named[0] if named else None
            heard = said if organisation is None else None
        person = any(r.search(norm.text) for r in self._name_re) or any(
            r.search(norm.text) for r in self._staff_re
        )
        return IdentityCheck(organisation, person, expected, heard)

    def _organisation_said(self, norm: NormText) -> str | None:
        """The first organisation-like phrase of a normalised opening, as displayed."""
        for pattern in self._org_re:
            match = pattern.search(norm.text)
            if match is None:
                continue
            shown = norm.original(match.start(), match.end()).strip()
            shown = _ORG_LEAD.sub("", shown, count=1).strip()
            shown = re.split(r"的", shown, maxsplit=1)[0].strip(" ，,。.：:")
            return shown or norm.original(match.start(), match.end()).strip()
        return None

    @functools.lru_cache(maxsize=64)  # noqa: B019 - the engine is immutable and long-lived
    def _name_keys(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Squashed, normalised organisation names and their cores (和信金融服务有限公司 -> 和信金融)."""
        keys = {squash(self.normalise(n).text) for n in names}
        keys |= {squash(self.normalise(core_name(n)).text) for n in names}
        return tuple(k for k in keys if k)

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def _phrase_keys(self, phrases: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(k for k in (squash(self.normalise(p).text) for p in phrases) if k)

    def third_party_callee(self, speakers: Sequence[str], texts: Sequence[str]) -> bool:
        """Whether the callee of a whole call ends up identified as someone other than the
        borrower (他不在 / 我是他同事 / 你打错了 ..., unless they later say they are)."""
        state = False
        for speaker, text in zip(speakers, texts, strict=True):
            state = self.callee_update(speaker, self.normalise(text).text, state)
        return state

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
            view = TurnView(self.normalise(text))
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
            evidence += self._opening_checks(texts, turn_indexes, agent_positions, profile)
        return evidence, plan, promise

    def _opening_checks(
        self,
        texts: Sequence[str],
        turn_indexes: Sequence[int],
        agent_positions: list[int],
        profile: Profile,
    ) -> list[Evidence]:
        """Identity disclosure and (where the profile asks) the mini-Miranda notice."""
        found: list[Evidence] = []
        first = agent_positions[0]
        first_turn = turn_indexes[first]
        opening = [texts[p] for p in agent_positions[: profile.identity_turns]]
        identity = (
            self.identity_check("。".join(opening), profile.organisation_names)
            if profile.require_identity_disclosure
            else None
        )
        if identity is not None and not identity.disclosed:
            head = self.explanations.get("no_identity_disclosure", "").partition("：")[0]
            found.append(
                Evidence(
                    "no_identity_disclosure",
                    first_turn,
                    clip(texts[first]),
                    f"{head or '未自报家门'}：{identity.missing()}",
                )
            )
        if profile.mini_miranda_phrases:
            limit = profile.mini_miranda_turns or len(agent_positions)
            searched = squash(
                self.normalise("。".join(texts[p] for p in agent_positions[:limit])).text
            )
            if not any(p in searched for p in self._phrase_keys(profile.mini_miranda_phrases)):
                found.append(
                    Evidence(
                        "mini_miranda",
                        first_turn,
                        clip(texts[first]),
                        self.explanations.get("mini_miranda", ""),
                    )
                )
        return found


def default_engine() -> RuleEngine:
    """The engine built from ``resources/call_rules.yaml`` (loaded once; immutable, shareable)."""
    return RuleEngine(RULES_PATH)
