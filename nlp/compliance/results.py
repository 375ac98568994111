"""What the compliance analysis returns: evidence per rule and one result per call."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
"""The keys that open each line of ``python -m nlp calls`` output (``nlp.cli.calls`` then adds
``turn_scores``, ``risk_flags``, ``party`` and the call itself with its labelled turns)."""


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
        risk_flags: the risk flags of the callee's turns (never the agent's), most severe first.
        party: who was on the line (``borrower``, ``third_party``, ``wrong_number`` or
            ``unknown``); ``None`` when not determined.
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
    risk_flags: list[str] = field(default_factory=list)
    party: str | None = None

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
            "risk_flags": list(self.risk_flags),
            "party": self.party,
        }
