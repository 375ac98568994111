"""Lexicon- and rule-based sentiment: the always-available, fast sentiment layer.

Vocabulary: the published HowNet and NTUSD Chinese sentiment lexicons (read from the data
files that ship with ``cntext``; the package itself is never imported), HowNet's negators and
degree adverbs, and the project's own resources (``resources/domain_lexicon.tsv``,
``modifiers.tsv``, ``lexicon_patterns.tsv``, ``macros.tsv``), which override the published
entries.

A clause is segmented with `nlp.segment.tokenize`; runs of up to four tokens are looked up
(longest first) in the project lexicon, so multi-word entries such as 每天打 match without ever
firing inside another word, while published entries match whole tokens only. Scoring handles negation (没有威胁我 -> positive-ish, 不是很差 -> mildly positive,
别骚扰我 -> still negative), degree adverbs, scare quotes (“贴心”), sarcasm (praise next to
一天打二十个电话), rhetorical questions, suggestions and plain questions (damped towards 0).
A text's clauses are combined with contrast weights (the clause after 但是/不过 counts double,
a 虽然 clause half) and mapped to [negative, neutral, positive] probabilities by a soft
function that leaves factual texts mostly neutral.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nlp.labels import SENTIMENTS
from nlp.segment import CONTRAST_MARKERS, get_tokenizer, split_clauses, tokenize
from nlp.textnorm import RESOURCES, normalize

CNTEXT_LEXICONS: tuple[tuple[str, str, str], ...] = (
    # (file, positive category, negative category)
    ("zh_common_HowNet.yaml", "pos", "neg"),
    ("zh_common_NTUSD.yaml", "positive", "negative"),
)
HOWNET_MODIFIERS: dict[str, tuple[str, float]] = {
    "deny": ("negator", 0.0),
    "very": ("degree", 1.6),
    "more": ("degree", 1.3),
    "ish": ("degree", 0.6),
}

_MAX_RUN = 4  # longest token run looked up as one entry
_COMMON_WORD_FREQ = 5000  # published entries more frequent than this in jieba's dict are noise
_PARTICLES = "了啊呀的得吧哦呢哈啦嘛"
_NEGATED_BEFORE_RE = re.compile(r"(?:没有?|未|不|别|不要)[^，。！？]{0,2}$")
_CONCESSION_RE = re.compile(r"^(?:虽然|虽说|尽管|虽)")
_QUOTE_PAIRS = {"“": "”", "「": "」", "『": "』", '"': '"', "‘": "’"}
_SCALE = 1.5  # clause score = tanh(raw / _SCALE)
_K_POLAR, _NEUTRAL_BIAS, _NEUTRAL_DECAY = 2.5, 1.8, 1.2

_MACRO_RE = re.compile(r"\{([A-Z_]+)\}")
_lock = threading.Lock()
_macros: dict[str, str] | None = None
_data: LexiconData | None = None


# --------------------------------------------------------------------------- resources
def read_tsv(path: Path) -> list[list[str]]:
    """Rows of a project TSV file; blank lines and ``#`` comments are skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append([col.strip() for col in line.split("\t")])
    return rows


def load_macros() -> dict[str, str]:
    """Named regex fragments from ``resources/macros.tsv`` (already expanded)."""
    global _macros
    if _macros is None:
        macros: dict[str, str] = {}
        for row in read_tsv(RESOURCES / "macros.tsv"):
            macros[row[0]] = f"(?:{expand_macros(row[1], macros)})"
        _macros = macros
    return _macros


def expand_macros(regex: str, macros: dict[str, str] | None = None) -> str:
    """Replace ``{NAME}`` references with the named fragment from macros.tsv."""
    table = load_macros() if macros is None else macros

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in table:
            raise KeyError(f"unknown macro {{{name}}} in pattern {regex!r}")
        return table[name]

    return _MACRO_RE.sub(sub, regex)


def compile_pattern(regex: str) -> re.Pattern[str]:
    """Compile a resource regex after macro expansion."""
    return re.compile(expand_macros(regex))


def cntext_data_dir() -> Path | None:
    """Directory of cntext's bundled lexicon YAML files, found without importing cntext."""
    spec = importlib.util.find_spec("cntext")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "io" / "data"
    return path if path.is_dir() else None


def _load_yaml_dictionary(path: Path) -> dict[str, list[str]]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=loader)  # a SafeLoader variant
    return {str(k): [str(w) for w in (v or [])] for k, v in data["Dictionary"].items()}


@dataclass(frozen=True)
class LexiconData:
    """Everything the scorer looks up; built once per process by `load_lexicon`."""

    words: dict[str, float]
    domain: frozenset[str]  # project entries: the only ones matched across token boundaries
    lukewarm: frozenset[str]
    negators: dict[str, str]  # word -> negator | imperative | softneg
    degrees: dict[str, float]
    absurd: tuple[tuple[re.Pattern[str], float], ...]
    sarcasm: tuple[re.Pattern[str], ...]
    rhetorical: tuple[tuple[re.Pattern[str], float], ...]
    scores: tuple[tuple[re.Pattern[str], float], ...]
    damp: tuple[tuple[re.Pattern[str], float], ...]
    question: tuple[tuple[re.Pattern[str], float], ...]
    sources: tuple[str, ...]


def _build_lexicon() -> LexiconData:
    positive: set[str] = set()
    negative: set[str] = set()
    negators: dict[str, str] = {}
    degrees: dict[str, float] = {}
    sources: list[str] = []
    data_dir = cntext_data_dir()
    if data_dir is None:
        warnings.warn(
            "cntext lexicon files not found; sentiment uses the project lexicon only",
            RuntimeWarning,
            stacklevel=3,
        )
    else:
        for name, pos_key, neg_key in CNTEXT_LEXICONS:
            path = data_dir / name
            if not path.exists():
                continue
            dictionary = _load_yaml_dictionary(path)
            positive.update(dictionary.get(pos_key, []))
            negative.update(dictionary.get(neg_key, []))
            sources.append(path.stem)
            if name == "zh_common_HowNet.yaml":
                for category, (kind, value) in HOWNET_MODIFIERS.items():
                    for word in dictionary.get(category, []):
                        if kind == "negator":
                            negators[word] = "negator"
                        else:
                            degrees.setdefault(word, value)
    ambiguous = positive & negative
    freq = get_tokenizer().FREQ
    words: dict[str, float] = {}
    for polarity, group in ((1.0, positive), (-1.0, negative)):
        for word in group - ambiguous:
            # Single characters (上, 会, 对) and very common words (发展, 知道, 通过) in these
            # lists are mostly noise for short feedback; the domain lexicon re-adds the
            # evaluative ones (好, 差, 不好).
            if len(word) > 1 and freq.get(word, 0) <= _COMMON_WORD_FREQ:
                words[word] = polarity

    for row in read_tsv(RESOURCES / "modifiers.tsv"):
        word, kind = row[0], row[1]
        negators.pop(word, None)
        degrees.pop(word, None)
        if kind in ("negator", "imperative", "softneg"):
            negators[word] = kind
        elif kind == "degree":
            degrees[word] = float(row[2])
        elif kind != "drop":
            raise ValueError(f"modifiers.tsv: unknown kind {kind!r} for {word!r}")
    for word in list(negators) + list(degrees):
        words.pop(word, None)  # a modifier is never itself a sentiment word

    lukewarm: set[str] = set()
    domain: dict[str, float] = {}
    for row in read_tsv(RESOURCES / "domain_lexicon.tsv"):
        domain[row[0]] = float(row[1])
        if len(row) > 2 and row[2] == "lukewarm":
            lukewarm.add(row[0])
    words.update(domain)
    modifiers = set(negators) | set(degrees)
    for word in [w for w in words if w not in domain]:
        # Published phrases that are modifier + word (很好, 太好了, 不公平) are scored
        # compositionally instead, so that 很 and 不 keep their effect.
        for size in (1, 2, 3):
            rest = word[size:].rstrip(_PARTICLES)
            if word[:size] in modifiers and rest and rest != word and rest in words:
                del words[word]
                break

    groups: dict[str, list[tuple[re.Pattern[str], float]]] = {
        "absurd": [],
        "sarcasm": [],
        "rhetorical": [],
        "score": [],
        "damp": [],
        "question": [],
    }
    for row in read_tsv(RESOURCES / "lexicon_patterns.tsv"):
        kind, weight, regex = row[0], float(row[1]), row[2]
        if kind not in groups:
            raise ValueError(f"lexicon_patterns.tsv: unknown kind {kind!r}")
        groups[kind].append((compile_pattern(regex), weight))
    return LexiconData(
        words=words,
        domain=frozenset(domain),
        lukewarm=frozenset(lukewarm),
        negators=negators,
        degrees=degrees,
        absurd=tuple(groups["absurd"]),
        sarcasm=tuple(p for p, _ in groups["sarcasm"]),
        rhetorical=tuple(groups["rhetorical"]),
        scores=tuple(groups["score"]),
        damp=tuple(groups["damp"]),
        question=tuple(groups["question"]),
        sources=tuple(sources),
    )


def load_lexicon() -> LexiconData:
    """The process-wide lexicon (read on first use, ~0.3 s, then cached)."""
    global _data
    if _data is None:
        with _lock:
            if _data is None:
                _data = _build_lexicon()
    return _data


# --------------------------------------------------------------------------- clause scoring
@dataclass(frozen=True)
class ClauseEvidence:
    """Raw lexical evidence for one clause, before sarcasm and text-level weighting."""

    praise: float  # sum of positive contributions (>= 0)
    blame: float  # sum of negative contributions (<= 0)
    factor: float  # damping for suggestions / plain questions
    extra: float  # pattern scores (absurd counts, rhetorical questions)
    sarcastic: bool  # an absurd count or a sarcasm marker in this clause

    def raw(self, invert_praise: bool = False) -> float:
        praise = -self.praise if invert_praise or self.sarcastic else self.praise
        return self.factor * (praise + self.blame) + self.extra

    def score(self, invert_praise: bool = False) -> float:
        return math.tanh(self.raw(invert_praise) / _SCALE)


def _quoted_mask(clause: str) -> list[bool]:
    """True for characters inside short quotes (scare quotes, up to 8 chars)."""
    mask = [False] * len(clause)
    i = 0
    while i < len(clause):
        close = _QUOTE_PAIRS.get(clause[i])
        if close is not None:
            j = clause.find(close, i + 1)
            if j == -1:
                j = len(clause)
            if j - i - 1 <= 8:
                for k in range(i + 1, j):
                    mask[k] = True
            i = j + 1
        else:
            i += 1
    return mask


class _Unit(NamedTuple):
    """A scoring unit: kind is sent / neg / deg / other; role is the negator type for neg."""

    kind: str
    text: str
    value: float = 0.0
    role: str = ""
    start: int = 0


def _classify(text: str, start: int = 0, run: bool = False) -> _Unit | None:
    """Look a token (or, with run=True, several joined tokens) up in the lexicon."""
    data = load_lexicon()
    if run and text not in data.domain and text not in data.negators and text not in data.degrees:
        return None  # published words match whole tokens only (说+不 is not 说不)
    if text in data.negators:
        return _Unit("neg", text, 0.0, data.negators[text], start)
    if text in data.degrees:
        return _Unit("deg", text, data.degrees[text], "", start)
    if text in data.words:
        return _Unit("sent", text, data.words[text], "", start)
    return None


def _split_modifiers(rest: str, offset: int, token: str) -> tuple[_Unit, ...] | None:
    """Modifiers followed by one sentiment word or modifier, with backtracking (太过分)."""
    data = load_lexicon()
    stripped = rest.rstrip(_PARTICLES) or rest
    if stripped in data.words and stripped != token:
        return (_Unit("sent", stripped, data.words[stripped], "", offset),)
    if rest in data.degrees and rest != token:
        return (_Unit("deg", rest, data.degrees[rest], "", offset),)
    for size in (4, 3, 2, 1):
        if size >= len(rest):
            continue
        head = _classify(rest[:size], offset)
        if head is None or head.kind == "sent":
            continue
        tail = _split_modifiers(rest[size:], offset + size, token)
        if tail is not None:
            return (head, *tail)
    return None


@functools.lru_cache(maxsize=65536)
def _decompose(token: str) -> tuple[_Unit, ...]:
    """Split an unknown token into modifiers + one sentiment word (很差 -> 很|差), or ()."""
    data = load_lexicon()
    parts = _split_modifiers(token, 0, token)
    if parts is not None:
        return parts
    if len(token) >= 3:
        for cut in range(1, len(token) - 1):  # longest sentiment suffix: 态度恶劣 -> 恶劣
            tail = token[cut:].rstrip(_PARTICLES)
            if len(tail) >= 2 and tail in data.words:
                return (_Unit("other", token[:cut]), _Unit("sent", tail, data.words[tail], "", cut))
        for cut in range(len(token) - 1, 1, -1):  # longest sentiment prefix: 宽限期 -> 宽限
            head = token[:cut]
            if head in data.words:
                return (
                    _Unit("sent", head, data.words[head]),
                    _Unit("other", token[cut:], 0.0, "", cut),
                )
    return ()


def _units(clause: str) -> list[_Unit]:
    """Scoring units of a clause: longest known run of up to 4 tokens, else decomposition."""
    tokens = tokenize(clause)
    starts = []
    pos = 0
    for tok in tokens:
        found = clause.find(tok, pos)
        pos = found if found >= 0 else pos
        starts.append(pos)
        pos += len(tok)
    units: list[_Unit] = []
    i, n = 0, len(tokens)
    while i < n:
        for j in range(min(n, i + _MAX_RUN), i, -1):
            unit = _classify("".join(tokens[i:j]), starts[i], run=j > i + 1)
            if unit is not None:
                units.append(unit)
                break
        else:
            j = i + 1
            parts = _decompose(tokens[i])
            if parts:
                units.extend(part._replace(start=starts[i] + part.start) for part in parts)
            else:
                units.append(_Unit("other", tokens[i], 0.0, "", starts[i]))
        i = j
    return units


@functools.lru_cache(maxsize=65536)
def clause_evidence(clause: str) -> ClauseEvidence:
    """Lexical evidence for one (normalised) clause."""
    data = load_lexicon()
    units = _units(clause)
    quoted = _quoted_mask(clause)
    praise = blame = 0.0
    negs: list[str] = []
    mult, degree_after_neg, gap = 1.0, False, 0
    for index, unit in enumerate(units):
        kind, value = unit.kind, unit.value
        if kind == "neg":
            negs.append(unit.role)
            gap = 0
        elif kind == "deg":
            next_kind = units[index + 1].kind if index + 1 < len(units) else ""
            if unit.text in data.words and next_kind not in ("sent", "deg", "neg"):
                kind, value = "sent", data.words[unit.text]  # 好 alone is praise, 好烦 is degree
            else:
                mult *= value
                degree_after_neg = degree_after_neg or bool(negs)
                gap = 0
        if kind == "sent":
            weight = value * mult
            if len(negs) % 2 == 1:
                if "softneg" in negs or degree_after_neg:
                    weight = -weight * 0.3
                elif negs[-1] == "imperative" and value < 0:
                    weight = weight * 0.5
                elif value < 0:
                    weight = -weight * 0.6
                else:
                    weight = -weight * 0.9
            if weight > 0 and quoted[min(unit.start, len(quoted) - 1)]:
                weight = -weight
            if weight > 0:
                praise += weight
            else:
                blame += weight
            negs, mult, degree_after_neg, gap = [], 1.0, False, 0
        elif kind == "other":
            gap += 1
            mult = 1.0
            if gap > 2:
                negs, degree_after_neg = [], False

    extra = 0.0
    for pattern, weight in data.absurd:
        if pattern.search(clause):
            extra += weight
            break
    for pattern, weight in data.scores:
        for match in pattern.finditer(clause):
            if not _NEGATED_BEFORE_RE.search(clause, max(0, match.start() - 3), match.start()):
                extra += weight
                break
    sarcastic = has_sarcasm_cue(clause)
    rhetorical = False
    for pattern, weight in data.rhetorical:
        if pattern.search(clause):
            extra += weight
            rhetorical = True
            break
    factor = 1.0
    for pattern, weight in data.damp:
        if pattern.search(clause):
            factor = weight
            break
    else:
        if not rhetorical:
            for pattern, weight in data.question:
                if pattern.search(clause):
                    factor = weight
                    break
    return ClauseEvidence(praise, blame, factor, extra, sarcastic)


def has_sarcasm_cue(clause: str) -> bool:
    """True when a clause holds an absurd contact count or a sarcasm marker (呵呵, 真行啊)."""
    data = load_lexicon()
    return any(p.search(clause) for p, _ in data.absurd) or any(
        p.search(clause) for p in data.sarcasm
    )


def is_sarcastic_text(clauses: Sequence[str]) -> bool:
    """Text-level sarcasm: a sarcasm cue somewhere and no contrast marker (但是, 不过...).

    With a contrast marker the praise is usually sincere ("态度挺好，但是一天打二十个电话").
    """
    return not any(clause_weight(c) > 1.0 for c in clauses) and any(
        has_sarcasm_cue(c) for c in clauses
    )


def clause_weight(clause: str) -> float:
    """Contrast weighting: 但是/不过... clauses count double, 虽然 clauses half."""
    if clause.startswith(CONTRAST_MARKERS):
        return 2.0
    if _CONCESSION_RE.match(clause):
        return 0.5
    return 1.0


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class ScoredClause:
    """One clause of a text with its contrast weight and polarity in [-1, 1]."""

    text: str
    weight: float
    score: float


def _probabilities(total: float, evidence: float) -> np.ndarray:
    logits = np.array(
        [-_K_POLAR * total, _NEUTRAL_BIAS - _NEUTRAL_DECAY * evidence, _K_POLAR * total]
    )
    logits -= logits.max()
    probs = np.exp(logits)
    return probs / probs.sum()


class LexiconModel:
    """Fast lexicon sentiment model with the label order of `nlp.labels.SENTIMENTS`.

    Example:
        >>> model = LexiconModel()
        >>> model.predict(["催收员很有耐心，谢谢", "今天接到了还款提醒"])
        ['positive', 'neutral']
    """

    labels: tuple[str, ...] = SENTIMENTS

    def __init__(self) -> None:
        load_lexicon()

    def clause_polarity(self, clause: str) -> float:
        """Polarity of one clause in [-1, 1] (0 = neutral / factual)."""
        return clause_evidence(normalize(clause)).score()

    def score_clauses(self, text: str) -> list[ScoredClause]:
        """Normalise and split a text; score each clause with text-level sarcasm applied."""
        clauses = split_clauses(normalize(text))
        evidence = [clause_evidence(clause) for clause in clauses]
        weights = [clause_weight(clause) for clause in clauses]
        sarcastic_text = is_sarcastic_text(clauses)
        return [
            ScoredClause(clause, weight, ev.score(invert_praise=sarcastic_text))
            for clause, weight, ev in zip(clauses, weights, evidence, strict=True)
        ]

    def text_proba(self, text: str) -> np.ndarray:
        """[negative, neutral, positive] probabilities for one text."""
        scored = self.score_clauses(text)
        if not scored:
            return _probabilities(0.0, 0.0)
        # Only opinionated clauses dilute: a factual clause next to 烦死了 keeps it negative.
        norm = math.sqrt(max(1.0, sum(c.weight for c in scored if abs(c.score) > 0.05)))
        total = sum(c.weight * c.score for c in scored) / norm
        evidence = sum(c.weight * abs(c.score) for c in scored) / norm
        return _probabilities(total, evidence)

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Class probabilities in the order negative, neutral, positive.

        Args:
            texts: one text or a sequence of texts.

        Returns:
            Shape ``[n, 3]`` for a sequence (rows sum to 1), shape ``[3]`` for a single string.
        """
        if isinstance(texts, str):
            return self.text_proba(texts)
        if len(texts) == 0:
            return np.zeros((0, len(SENTIMENTS)))
        return np.vstack([self.text_proba(text or "") for text in texts])

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Most probable sentiment label per text."""
        probs = self.predict_proba(list(texts))
        return [SENTIMENTS[i] for i in probs.argmax(axis=1)]
