"""Word segmentation and clause splitting.

Uses a private ``jieba.Tokenizer`` loaded once (thread-safe, lazily) with the domain user
dictionary ``resources/userdict.txt``. The process-wide ``jieba`` default tokenizer is never
touched: ``jieba.add_word`` on it would leak our vocabulary into every Streamlit session.
"""

from __future__ import annotations

import logging
import re
import threading

import jieba

from nlp.textnorm import RESOURCES

USERDICT_PATH = RESOURCES / "userdict.txt"

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None

CONTRAST_MARKERS: tuple[str, ...] = ("但是", "可是", "不过", "然而", "就是", "只是", "但")
"""Markers that start a new clause; the marker stays at the start of the clause it opens."""

# A marker does not open a clause after these characters: 这就是 / 我只是 / 这可是 / 不但 / 不过分.
_NO_SPLIT_BEFORE = "这那也不都还正算要可就我你他她它们只再"
_BOUNDARY_CHARS = "。！？；，,!?;…\n"
_KEEP_AT_END = "。！？…"
_CJK = r"\u3400-\u9fff"

_BOUNDARY_RE = re.compile(
    rf"([{re.escape(_BOUNDARY_CHARS)}]+)"  # punctuation and line breaks
    rf"|(?<=[{_CJK}]) (?=[{_CJK}])"  # a space between two Chinese characters
)
_MARKER_RE = re.compile(
    rf"(?<=[^{_NO_SPLIT_BEFORE}\s，。！？；…])"
    r"(?=(?:但是|可是|然而|就是|只是|不过(?!分)|但(?!是|凡|愿)))"
)


def _silence_jieba() -> None:
    jieba.setLogLevel(logging.WARNING)


def get_tokenizer() -> jieba.Tokenizer:
    """The shared private tokenizer (built on first use, ~1 s, then cached)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                _silence_jieba()
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                tokenizer.load_userdict(str(USERDICT_PATH))
                _tokenizer = tokenizer
    return _tokenizer


def tokenize(text: str) -> list[str]:
    """Segment text into words (precise mode, HMM on); whitespace tokens are dropped.

    Example:
        >>> tokenize("他们爆通讯录了")
        ['他们', '爆通讯录', '了']
    """
    if not text:
        return []
    return [tok for tok in get_tokenizer().cut(text) if tok.strip()]


def split_clauses(text: str) -> list[str]:
    """Split normalised text into clauses.

    Boundaries: ``。！？；，,!?;…``, line breaks, a space between two Chinese characters, and
    the contrast markers in `CONTRAST_MARKERS`, which start a new clause and stay in it.
    Sentence-final marks ``。！？…`` stay attached to the clause they end (they carry tone:
    questions, exclamations); commas, semicolons and line breaks are dropped.

    Example:
        >>> split_clauses("态度挺好就是打得太频繁了！能不能少打点？")
        ['态度挺好', '就是打得太频繁了！', '能不能少打点？']
    """
    clauses: list[str] = []
    current = ""
    for piece in _BOUNDARY_RE.split(text):
        if not piece:
            continue
        if piece[0] in _BOUNDARY_CHARS or piece == " ":
            tail = "".join(ch for ch in piece if ch in _KEEP_AT_END)
            current = current.strip()
            if current:
                clauses.append(current + tail)
            elif tail and clauses:
                clauses[-1] += tail
            current = ""
        else:
            current += piece
    current = current.strip()
    if current:
        clauses.append(current)
    out: list[str] = []
    for clause in clauses:
        out.extend(part for part in _MARKER_RE.split(clause) if part.strip())
    return out
