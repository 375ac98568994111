"""Risk flags: which borrowers need a person now.

Five flags (:data:`nlp.labels.RISK_FLAGS`): ``self_harm``, ``hardship``, ``health``,
``escalation`` and ``evasion``. Two layers, combined by :func:`assess_risks`:

* the cue rules in ``nlp/resources/risk_cues.yaml``: precise, and they give the evidence span
  (the clause around the cue);
* a learned model (:class:`RiskModel`, ``nlp/model/risk_model.npz``): per flag a logistic
  regression over character 1–3-gram TF-IDF features plus the cue's own answer, trained by
  ``python -m nlp train-risk`` on the hand-labelled risk texts. It reads the many indirect
  phrasings no cue lists (下辈子再还, 我在楼顶听你讲). The cue is one of its features, so it
  can also overrule a cue inside a denial or an idiom. A flag is set when the probability
  reaches the threshold chosen on a tuning split; its evidence is the cue's clause, or (no
  cue) the clause the model rates highest.

Character n-grams beat the sentiment encoder's pooled features here (risk is about what is
said, not how the writer feels): on the risk dev set self_harm F1 0.82 vs 0.64 at the same
cut-off. ``self_harm`` is recall-first (its threshold maximises F-beta with beta 3) and
always the most severe.

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

import numpy as np
import yaml

from nlp.labels import RISK_FLAGS

RISK_CUES_PATH = Path(__file__).resolve().parent / "resources" / "risk_cues.yaml"
RISK_MODEL_PATH = Path(__file__).resolve().parent / "model" / "risk_model.npz"
MAX_EVIDENCE = 60
IDIOMS = re.compile(
    r"(?:[笑累困饿烦气吓热冷忙穷贵丑渴懒急愁闷疼痛痒馋美帅酸丢羞臭吵挤闲蠢傻难]|要)死(?:了|我了|人了|啦)?"
    r"|死(?:贵|沉|活|心眼|磕)"
    r"|(?:你|你们)(?:怎么)?(?:不|还不)?(?:去)?(?:死|跳楼|跳河)|去死吧?你"
    r"|想死的心都有|(?:简直|真是|就是)?自杀式|死不了人|死不了的|要死不活|作死|找死|该死的?"
)
"""死 as an intensifier (笑死, 累死了, 死贵) or in abuse aimed at someone else (你怎么不去死):
hidden from the learned model, whose character n-grams would otherwise read 死 as intent."""


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
        hits = (
            next(
                (
                    m
                    for m in pattern.finditer(text)
                    if not _blocked(flag, text, m.start(), m.end())
                    and not rules.negation.search(text, 0, m.start())
                ),
                None,
            )
            for pattern in flag.cues
        )
        first = min((m for m in hits if m is not None), key=lambda m: m.start(), default=None)
        if first is not None:  # the earliest cue in the text gives the evidence
            found[name] = clause_around(text, first.start(), first.end())
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


# ----------------------------------------------------------------------------- learned layer
FILLERS = re.compile(r"(?:(?<=\s)|^)(?:呃+|嗯+|啊+|额+|哦+|那个|就是|然后)(?=\s|$)|(\S)(?=\s\1)")
"""ASR fillers standing alone (呃, 嗯, 那个 …) and stutters (我 我): they carry no risk, but
spoken training positives have more of them than the written negatives."""


def model_text(text: str) -> str:
    """What the learned model reads: the normalised text with :data:`IDIOMS` and the
    self_harm cues' ``block`` matches masked (someone else's despair, advice, news, a
    retraction: the words of intent without the intent) and :data:`FILLERS` dropped."""
    text = IDIOMS.sub("〇", text)
    for pattern in _rules().flags["self_harm"].block:
        text = pattern.sub("〇", text)
    text = FILLERS.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class RiskModel:
    """Per-flag logistic regressions over char n-gram TF-IDF (sublinear tf, L2-normalised)
    plus the cue's answer.

    Attributes:
        vocab: n-gram -> column.
        idf: ``(columns,)``.
        weights: ``(flags, columns + 1)``; the last column weighs the cue's answer.
        bias / thresholds: ``(flags,)``.
        card: what it was trained on and how it measured.
    """

    vocab: dict[str, int]
    idf: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    thresholds: np.ndarray
    card: dict

    def linear(self, texts: list[str]) -> np.ndarray:
        """``(texts, flags)`` TF-IDF part of the logits (one sparse product for the batch)."""
        from nlp.ngrams import tfidf_rows

        x = tfidf_rows([model_text(t) for t in texts], self.vocab, self.idf)
        return np.asarray(x @ self.weights[:, :-1].T)

    def proba(self, texts: list[str], cue_hits: np.ndarray) -> np.ndarray:
        """``(texts, flags)`` probabilities; ``cue_hits`` is ``(texts, flags)`` 0/1."""
        z = self.linear(texts) + cue_hits * self.weights[:, -1] + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def save(self, path: Path) -> None:
        from nlp.modelfiles import save_with_card
        from nlp.ngrams import vocab_arrays

        arrays = {k: getattr(self, k).astype(np.float32) for k in _RISK_ARRAYS}
        save_with_card(path, {"grams": vocab_arrays(self.vocab), **arrays}, self.card)


def load_risk_model(path: Path | None = None) -> RiskModel | None:
    """The committed risk model (``None`` when absent or when ``BV_HEADS`` is ``off``)."""
    from nlp.config import nlp_config

    if path is None:
        if nlp_config().heads_off:
            return None
        path = RISK_MODEL_PATH
    return _load_model(Path(path))


_RISK_ARRAYS = ("idf", "weights", "bias", "thresholds")


@lru_cache(maxsize=2)
def _load_model(path: Path) -> RiskModel | None:
    from nlp.modelfiles import read_with_card

    found = read_with_card(path)
    if found is None:
        return None
    d, card = found
    arrays = {k: d[k].astype(np.float64) for k in _RISK_ARRAYS}
    vocab = {g: i for i, g in enumerate(d["grams"].tolist())}
    return RiskModel(vocab=vocab, card=card, **arrays)


def cue_matrix(found: list[dict[str, str]]) -> np.ndarray:
    """``(texts, flags)`` 0/1 from :func:`find_risks_many` output."""
    return np.asarray([[float(f in one) for f in RISK_FLAGS] for one in found]).reshape(
        len(found), len(RISK_FLAGS)
    )


def assess_risks(texts: list[str], model: RiskModel | None = None) -> list[dict[str, str]]:
    """Risk flags of normalised texts, cues and the learned model combined.

    Returns:
        Per text ``{flag: evidence}`` in :data:`RISK_FLAGS` order (empty when none).
    """
    found = find_risks_many(texts)
    model = model or load_risk_model()
    if model is None or not texts:
        return found
    decided = model.proba(texts, cue_matrix(found)) >= model.thresholds
    found = [
        {f: e for f, e in one.items() if row[RISK_FLAGS.index(f)]}
        for one, row in zip(found, decided, strict=True)
    ]
    wanted = [
        (i, flag)
        for i, row in enumerate(decided)
        for j, flag in enumerate(RISK_FLAGS)
        if row[j] and flag not in found[i]
    ]
    spans = {i: clause_spans(texts[i]) for i, _ in wanted}
    clause_proba = {}
    if spans:
        clauses = sorted({c for cs in spans.values() for c in cs})
        clause_proba = dict(
            zip(
                clauses,
                model.proba(clauses, np.zeros((len(clauses), len(RISK_FLAGS)))),
                strict=True,
            )
        )
    out = [dict(one) for one in found]
    for i, flag in wanted:
        j = RISK_FLAGS.index(flag)
        out[i][flag] = max(spans[i], key=lambda c: clause_proba[c][j])
    return [{f: one[f] for f in RISK_FLAGS if f in one} for one in out]
