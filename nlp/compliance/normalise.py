"""Turn normalisation with an offset map back to the displayed text, and name helpers."""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

SPAN_MAX = 40
"""Longest evidence span shown, in characters."""


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


def edit(
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
def external_normalize() -> Callable[[str], str] | None:
    """``nlp.textnorm.normalize`` when that module exists (Traditional -> Simplified, shorthand)."""
    try:
        from nlp.textnorm import normalize
    except Exception:
        return None
    return normalize


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


_SQUASH_RE = re.compile(r"[\W_]+")


def squash(text: str) -> str:
    """Letters, digits and CJK only: phrase matching that ignores punctuation and spaces."""
    return _SQUASH_RE.sub("", text)


_ORG_SUFFIX_RE = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|股份|集团|公司|服务|信息|咨询|管理|网络|科技|技术"
    r"|co\.?,? ?ltd\.?|inc\.?|llc|corp\.?|company|services?)\s*$"
)


def core_name(name: str) -> str:
    """Organisation name without legal-form / generic suffixes (和信金融服务有限公司 -> 和信金融)."""
    core = fold(name)
    while True:
        shorter = _ORG_SUFFIX_RE.sub("", core).strip(" ,.")
        if shorter == core or len(squash(shorter)) < 2:
            return core
        core = shorter


def clip(text: str, limit: int = SPAN_MAX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
