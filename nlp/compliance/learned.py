"""Learned call heads on the shared encoder's features: who is on the line, what the agent did,
and the callee's mood read with its context.

Every turn text is encoded once (the same features the survey heads read, see
``nlp.heads``); a turn's input is its own features beside the features of the turn before it,
so a short 「嗯」 after 「我们可以给您办分期」 reads differently from one after a threat, and
「他欠了我们八千」 reads differently said to the borrower and to his mother.

- **party**: per callee turn, one of :data:`PARTIES` (relative, colleague … collapse to
  ``third_party``); a call's party state changes when a turn says so with confidence.
- **agent labels**: threat, insult, impersonation, misleading, third_party_disclosure and
  new_debt per agent turn, from [the turn's character n-grams (``nlp.ngrams``: what is said
  matters here, not the mood), the party so far, the rule engine's answer]. A label is set
  when the rule fires (the rules give the evidence span) or the head's probability reaches its
  threshold (chosen on out-of-fold scores and labelled whole calls); a learned disclosure only
  counts while someone other than the borrower is on the line.
- **mood**: the callee's mood (negative / neutral / positive) per turn, read with the agent
  turn before it; the call's opening and closing mood combine a few of these turns
  (:meth:`CallHeads.call_moods`).

Trained by ``python -m nlp train-call-heads`` (``training.call_heads``) into
``nlp/model/call_heads.npz``; without that file the rules stand alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from nlp.labels import SENTIMENTS

AGENT_LABELS: tuple[str, ...] = (
    "threat",
    "insult",
    "impersonation",
    "misleading",
    "third_party_disclosure",
    "new_debt",
)
PARTIES: tuple[str, ...] = ("borrower", "third_party", "wrong_number", "unknown")
"""The party a call is with, as stored (``call_analysis.party``)."""
FINE_PARTIES: dict[str, str] = {
    "borrower": "borrower",
    "relative": "third_party",
    "colleague": "third_party",
    "employer": "third_party",
    "friend": "third_party",
    "stranger": "third_party",
    "wrong_number": "wrong_number",
    "unknown": "unknown",
}
"""The labelled parties (who picked up) -> :data:`PARTIES`."""
PARTY_CONFIDENCE = 0.6
"""A callee turn changes the call's party state only when its party is this likely."""
CALL_HEADS_PATH = Path(__file__).resolve().parents[1] / "model" / "call_heads.npz"


def pair_features(own: np.ndarray, before: np.ndarray | None) -> np.ndarray:
    """One turn's input: its features beside those of the turn before (zeros when none)."""
    return np.concatenate([own, before if before is not None else np.zeros_like(own)])


POSITIONS: tuple[str, ...] = ("start", "middle", "end")


def position_onehot(position: str) -> np.ndarray:
    out = np.zeros(len(POSITIONS))
    out[POSITIONS.index(position if position in POSITIONS else "middle")] = 1.0
    return out


def party_onehot(party: str) -> np.ndarray:
    out = np.zeros(len(PARTIES))
    out[PARTIES.index(party if party in PARTIES else "unknown")] = 1.0
    return out


@dataclass(frozen=True)
class CallHeads:
    """Trained call heads (arrays as saved by ``training.call_heads``)."""

    mean: np.ndarray  # (2 * dim,) standardisation of pair features
    scale: np.ndarray
    agent_vocab: dict  # char n-gram -> column
    agent_idf: np.ndarray
    agent_weights: np.ndarray  # (labels, n-grams + parties + 1 rule hit)
    agent_bias: np.ndarray
    agent_thresholds: np.ndarray
    party_weights: np.ndarray  # (fine parties, 2 * dim)
    party_bias: np.ndarray
    party_names: tuple[str, ...]
    mood_weights: np.ndarray  # (3, 2 * dim + positions)
    mood_bias: np.ndarray
    card: dict

    def _x(self, pairs: np.ndarray) -> np.ndarray:
        return (np.asarray(pairs, dtype=np.float64) - self.mean) / self.scale

    def agent_proba(self, texts: list[str], parties: list[str], hits: np.ndarray) -> np.ndarray:
        """``(turns, labels)`` probabilities for agent turns (normalised texts); ``hits`` is
        ``(turns, labels)`` 0/1, the rule engine's answer per label."""
        from nlp.ngrams import tfidf_rows

        v = len(self.agent_idf)
        w_grams, w_party = self.agent_weights[:, :v], self.agent_weights[:, v:-1]
        onehot = np.asarray([party_onehot(p) for p in parties])
        z = np.asarray(tfidf_rows(texts, self.agent_vocab, self.agent_idf) @ w_grams.T)
        z += onehot @ w_party.T + hits * self.agent_weights[:, -1] + self.agent_bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def party_proba(self, pairs: np.ndarray) -> np.ndarray:
        """``(turns, PARTIES)`` probabilities for callee turns (fine classes summed)."""
        fine = _softmax(self._x(pairs) @ self.party_weights.T + self.party_bias)
        out = np.zeros((len(fine), len(PARTIES)))
        for j, name in enumerate(self.party_names):
            out[:, PARTIES.index(FINE_PARTIES[name])] += fine[:, j]
        return out

    def mood_proba(self, pairs: np.ndarray, positions: list[str]) -> np.ndarray:
        """``(turns, SENTIMENTS)`` mood probabilities for callee turns at ``positions``
        (``start`` / ``middle`` / ``end`` of the call: openings are mostly matter-of-fact,
        closings carry the outcome)."""
        x = np.hstack([self._x(pairs), np.asarray([position_onehot(p) for p in positions])])
        return _softmax(x @ self.mood_weights.T + self.mood_bias)

    def mood(self, pairs: np.ndarray, positions: list[str]) -> tuple[list[str], np.ndarray]:
        """Mood labels and scores in [-1, 1] (P(positive) - P(negative)) per callee turn."""
        p = self.mood_proba(pairs, positions)
        return [SENTIMENTS[i] for i in p.argmax(axis=1)], p[:, 2] - p[:, 0]

    def call_moods(
        self, pairs: np.ndarray, callee: list[int], substantive: list[int] | None = None
    ) -> tuple[str, str]:
        """The callee's mood at the opening and at the close of one call.

        A phase is the first (last) few callee turns, or few substantive ones (``substantive``:
        the callee turns that say more than 「是我」「嗯」「好的」): 「是我。」 then a sob is a
        negative opening, and 「好，再见」 after a quarrel does not end it well. The window,
        whether it skips the non-substantive turns, and how its turns combine
        (:func:`window_mood`) are chosen on labelled calls by ``training.call_heads`` and kept
        in the card.
        """
        rule = self.card.get("mood_aggregation") or {}
        out = []
        for phase in ("start", "end"):
            how = rule.get(phase) or {"window": 1, "threshold": None}
            turns = (substantive or callee) if how.get("substantive") else callee
            k = max(1, min(int(how["window"]), len(turns)))
            rows = turns[:k] if phase == "start" else turns[-k:]
            out.append(window_mood(self.mood_proba(pairs[rows], [phase] * k), how["threshold"]))
        return out[0], out[1]

    def save(self, path: Path) -> None:
        from nlp.modelfiles import save_with_card
        from nlp.ngrams import vocab_arrays

        arrays = {
            k: np.asarray(getattr(self, k), dtype=np.float32)
            for k in (
                "mean",
                "scale",
                "agent_idf",
                "agent_weights",
                "agent_bias",
                "agent_thresholds",
                "party_weights",
                "party_bias",
                "mood_weights",
                "mood_bias",
            )
        }
        card = {**self.card, "party_names": list(self.party_names)}
        save_with_card(path, {"agent_grams": vocab_arrays(self.agent_vocab), **arrays}, card)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def load_call_heads(path: Path | None = None) -> CallHeads | None:
    """The committed call heads (``None`` when absent or when ``BV_HEADS`` is ``off``)."""
    from nlp.config import nlp_config

    if path is None:
        if nlp_config().heads_off:
            return None
        path = CALL_HEADS_PATH
    return _load(Path(path))


@lru_cache(maxsize=2)
def _load(path: Path) -> CallHeads | None:
    from nlp.modelfiles import read_with_card

    found = read_with_card(path)
    if found is None:
        return None
    d, card = found
    arrays = {k: v.astype(np.float64) for k, v in d.items() if k != "agent_grams"}
    vocab = {g: i for i, g in enumerate(d["agent_grams"].tolist())}
    return CallHeads(party_names=tuple(card["party_names"]), card=card, agent_vocab=vocab, **arrays)


# ----------------------------------------------------------------------------- applying them
def refine_calls(
    heads: CallHeads,
    analyses: list,
    grouped: dict[str, list[tuple[int, str, str]]],
    features: dict[str, np.ndarray],
    engine,
) -> list:
    """The rule engine's analyses with the learned heads' findings added.

    Args:
        heads: the call heads.
        analyses: :class:`CallAnalysis` per call, from the rules.
        grouped: ``(turn_index, speaker, text)`` per call id, in turn order.
        features: encoder features per turn text.
        engine: the rule engine (its per-turn answer is a feature of the agent heads).
    """
    read = [
        _read_call(heads, a, grouped.get(str(a.call_id), []), features, engine) for a in analyses
    ]
    agent_rows = [(n, i) for n, r in enumerate(read) if r for i in r["agent"]]
    proba = np.zeros((0, len(AGENT_LABELS)))
    if agent_rows:  # one n-gram pass for the whole batch's agent turns
        from nlp.textnorm import normalize_many

        proba = heads.agent_proba(
            normalize_many([read[n]["texts"][i] for n, i in agent_rows]),
            [read[n]["states"][i] for n, i in agent_rows],
            np.concatenate([read[n]["hits"] for n in dict.fromkeys(n for n, _ in agent_rows)]),
        )
    rows_of: dict[int, list[int]] = {}
    for row, (n, _) in enumerate(agent_rows):
        rows_of.setdefault(n, []).append(row)
    return [
        _refined(heads, a, r, proba[rows_of.get(n, [])], engine) if r else a
        for n, (a, r) in enumerate(zip(analyses, read, strict=True))
    ]


def _read_call(heads: CallHeads, analysis, turns, features, engine) -> dict | None:
    """One call's turn pairs, party states and the rules' answer per agent turn."""
    if not turns:
        return None
    texts = [t[2] for t in turns]
    feats = [features[t] for t in texts]
    pairs = np.asarray([pair_features(f, feats[i - 1] if i else None) for i, f in enumerate(feats)])
    callee = [i for i, t in enumerate(turns) if t[1] != "agent"]
    agent = [i for i, t in enumerate(turns) if t[1] == "agent"]
    ruled_third, third = {}, False  # the rule engine's own reading of who is on the line
    for i, (_, speaker, text) in enumerate(turns):
        third = engine.callee_update(speaker, engine.normalise(text).text, third)
        ruled_third[i] = third
    state, states, votes = "unknown", {}, []
    party_p = heads.party_proba(pairs[callee]) if callee else np.zeros((0, len(PARTIES)))
    p_row = dict(zip(callee, party_p, strict=True))
    for i in range(len(turns)):
        if i in p_row:
            best = int(np.argmax(p_row[i]))
            if p_row[i][best] >= PARTY_CONFIDENCE and PARTIES[best] != "unknown":
                state = PARTIES[best]
                votes.append(state)
        states[i] = state
    # the rules' answer per agent turn: what check_call found, unless the learned party
    # reading differs from the rules' own there (then that turn is scanned again)
    by_turn: dict = {}
    for e in analysis.evidence:
        by_turn.setdefault(e.get("turn"), set()).add(e["rule"])
    ruled = [
        by_turn.get(turns[i][0], set())
        if (states[i] in ("third_party", "wrong_number")) == ruled_third[i]
        else {
            e.rule
            for e in engine.scan_agent_turn(
                texts[i], third_party_callee=states[i] in ("third_party", "wrong_number")
            )
        }
        for i in agent
    ]
    return {
        "turns": turns,
        "texts": texts,
        "pairs": pairs,
        "callee": callee,
        "substantive": [i for i in callee if engine.is_substantive(texts[i])],
        "agent": agent,
        "ruled_third": ruled_third,
        "states": states,
        # the call's party: what most confident callee turns say (the earliest wins a tie)
        "party": max(votes, key=lambda p: (votes.count(p), -votes.index(p)), default="unknown"),
        "hits": np.asarray([[float(r in found) for r in AGENT_LABELS] for found in ruled]).reshape(
            len(agent), len(AGENT_LABELS)
        ),
    }


def _refined(heads: CallHeads, analysis, read: dict, proba: np.ndarray, engine):
    """``analysis`` with the agent heads' findings (``proba``: per agent turn), the party and
    the opening and closing moods."""
    from nlp.compliance.normalise import SPAN_MAX

    turns, texts, states = read["turns"], read["texts"], read["states"]
    evidence = list(analysis.evidence)
    have = {(e["rule"], e.get("turn")) for e in evidence}
    for row, i in enumerate(read["agent"]):
        for j, rule in enumerate(AGENT_LABELS):
            if proba[row, j] < heads.agent_thresholds[j] or (rule, turns[i][0]) in have:
                continue
            if rule == "third_party_disclosure" and not (
                read["ruled_third"][i] and states[i] in ("third_party", "wrong_number")
            ):
                continue  # disclosure needs a non-borrower on the line, by both readings
            evidence.append(
                {
                    "rule": rule,
                    "turn": turns[i][0],
                    "span": texts[i][:SPAN_MAX],
                    "explanation": engine.rules[rule].explanation,
                    "learned": True,
                }
            )
            have.add((rule, turns[i][0]))
    evidence.sort(key=lambda e: (e.get("turn") is None, e.get("turn") or -1))
    moods = _start_end_moods(heads, read["pairs"], read["callee"], read["substantive"])
    return replace(
        analysis,
        violations=sorted({e["rule"] for e in evidence}),
        evidence=evidence,
        party=read["party"],
        **moods,
    )


def window_mood(proba: np.ndarray, threshold: float | None) -> str:
    """One mood for a few consecutive callee turns (``proba``: ``(turns, SENTIMENTS)``).

    With ``threshold`` ``None`` the turns' probabilities are averaged. Otherwise the phase
    takes the most polar turn's side when that turn is at least ``threshold`` sure of it
    (negative first: one sharp turn colours an opening more than a polite one), else the
    averaged answer.
    """
    if threshold is not None:
        neg, pos = SENTIMENTS.index("negative"), SENTIMENTS.index("positive")
        if proba[:, neg].max() >= threshold:
            return "negative"
        if proba[:, pos].max() >= threshold:
            return "positive"
    return SENTIMENTS[int(np.argmax(proba.mean(axis=0)))]


def _start_end_moods(heads, pairs, callee, substantive) -> dict:
    if not callee:
        return {}
    start, end = heads.call_moods(pairs, callee, substantive)
    return {"borrower_sentiment_start": start, "borrower_sentiment_end": end}
