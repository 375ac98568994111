"""Text normalisation for borrower feedback.

`normalize` turns raw user text into the canonical form every other module works on:

1. Traditional -> Simplified Chinese (OpenCC ``t2s``), only for texts that contain a character
   OpenCC would change; the pure-Python converter is slow and most input is already simplified.
2. Width: full-width ASCII letters, digits and symbols become half-width. The Chinese clause
   punctuation ``！？，；：（）～`` stays full-width (it is the canonical form and carries clause
   boundaries); ASCII ``! ? ;`` become ``！？；`` and ASCII ``,`` becomes ``，`` except inside
   numbers (``1,000``). ASCII ``:`` and ``.`` are kept (times such as ``8:00``, decimals).
3. Whitespace: zero-width characters are dropped, runs of spaces become one space, a run that
   contains a line break becomes one ``\\n`` (line breaks are clause boundaries); spaces next to
   Chinese punctuation are dropped.
4. Repeated punctuation is squashed: ``！！！`` -> ``！``, ``？？？`` -> ``？``,
   ``？！？！`` -> ``？！``, ``。。。`` / ``……`` / ``...`` -> ``…``. Emoji are kept.
5. Domain shorthand and homophones from ``resources/shorthand.tsv`` (``cs`` -> 催收, 利西 -> 利息,
   预期 -> 逾期 only in a debt context, ...).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESOURCES = Path(__file__).resolve().parent / "resources"
SHORTHAND_PATH = RESOURCES / "shorthand.tsv"

_CONTEXT_WINDOW = 8
_KEEP_FULL_WIDTH = "！？，；：（）～"

_lock = threading.Lock()
_converter: Any = None
_trad_chars: frozenset[str] | None = None
_shorthand: _ShorthandMap | None = None


def _width_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xFF01, 0xFF5F):
        char = chr(code)
        if char not in _KEEP_FULL_WIDTH:
            table[code] = chr(code - 0xFEE0)
    table.update({ord("!"): "！", ord("?"): "？", ord(";"): "；"})
    for zero_width in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"):
        table[ord(zero_width)] = ""
    table[0x3000] = " "  # ideographic space
    table[0x00A0] = " "
    return table


_WIDTH_TABLE = _width_table()
_ASCII_COMMA_RE = re.compile(r"(?<!\d),|,(?!\d)")
_NEWLINE_RUN_RE = re.compile(r"\s*[\r\n]\s*")
_SPACE_RUN_RE = re.compile(r"[ \t\f\v]+")
_ELLIPSIS_RE = re.compile(r"(?:…|\.{2,}|。{2,}|[…。.]*…[…。.]*)+")
_BANG_QUESTION_RE = re.compile(r"[！？]{2,}")
_REPEAT_RE = re.compile(r"([，；：、～])\1+")
_SPACE_AROUND_PUNCT_RE = re.compile(r" ?([，。！？；：、…（）“”「」『』【】《》]) ?")


def _squash_bang_question(match: re.Match[str]) -> str:
    run = match.group(0)
    has_bang, has_question = "！" in run, "？" in run
    if has_bang and has_question:
        return "？！"
    return "！" if has_bang else "？"


def _load_trad_chars() -> frozenset[str]:
    """Characters that OpenCC ``t2s`` would change (from its own dictionary files)."""
    import opencc

    dict_dir = Path(opencc.__file__).resolve().parent / "dictionary"
    chars: set[str] = set()
    for name in ("TSCharacters.txt", "TSPhrases.txt"):
        for line in (dict_dir / name).read_text(encoding="utf-8").splitlines():
            if "\t" not in line:
                continue
            source, targets = line.split("\t", 1)
            target = targets.split(" ")[0]
            if source == target:
                continue
            if len(source) == len(target):
                chars.update(s for s, t in zip(source, target, strict=True) if s != t)
            else:
                chars.update(source)
    return frozenset(chars)


def _get_converter() -> tuple[Any, frozenset[str]]:
    global _converter, _trad_chars
    if _converter is None or _trad_chars is None:
        with _lock:
            if _converter is None or _trad_chars is None:
                import opencc

                _trad_chars = _load_trad_chars()
                _converter = opencc.OpenCC("t2s")
    return _converter, _trad_chars


def to_simplified(text: str) -> str:
    """Traditional -> Simplified; a text without Traditional characters is returned as is."""
    converter, trad_chars = _get_converter()
    if trad_chars.isdisjoint(text):
        return text
    return str(converter.convert(text))


@dataclass(frozen=True)
class _Rule:
    target: str
    context: re.Pattern[str] | None
    unless: re.Pattern[str] | None


class _ShorthandMap:
    """Compiled shorthand replacements: one alternation regex plus per-source context rules."""

    def __init__(self, path: Path) -> None:
        rules: dict[str, _Rule] = {}
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            cols = raw.split("\t")
            if len(cols) < 2 or not cols[0] or not cols[1]:
                raise ValueError(f"{path.name}: expected 'source<TAB>target', got {raw!r}")
            context = re.compile(cols[2]) if len(cols) > 2 and cols[2] else None
            unless = re.compile(cols[3]) if len(cols) > 3 and cols[3] else None
            rules[cols[0].lower() if cols[0].isascii() else cols[0]] = _Rule(
                cols[1], context, unless
            )
        self.rules = rules
        alternatives = []
        for source in sorted(rules, key=len, reverse=True):
            escaped = re.escape(source)
            if source.isascii():
                escaped = rf"(?<![A-Za-z]){escaped}(?![A-Za-z])"
            alternatives.append(escaped)
        self.pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def apply(self, text: str) -> str:
        if self.pattern is None:
            return text

        def replace(match: re.Match[str]) -> str:
            source = match.group(0)
            rule = self.rules[source.lower() if source.isascii() else source]
            if rule.context is not None or rule.unless is not None:
                start, end = match.span()
                before = text[max(0, start - _CONTEXT_WINDOW) : start].replace("@", " ")
                after = text[end : end + _CONTEXT_WINDOW].replace("@", " ")
                window = f"{before}@{after}"
                if rule.context is not None and not rule.context.search(window):
                    return source
                if rule.unless is not None and rule.unless.search(window):
                    return source
            return rule.target

        return self.pattern.sub(replace, text)


def _get_shorthand() -> _ShorthandMap:
    global _shorthand
    if _shorthand is None:
        with _lock:
            if _shorthand is None:
                _shorthand = _ShorthandMap(SHORTHAND_PATH)
    return _shorthand


def normalize(text: str) -> str:
    """Normalise one feedback text (see the module docstring for the exact steps).

    Args:
        text: raw user text, Simplified or Traditional, any width.

    Returns:
        The normalised text.

    Example:
        >>> normalize("催收員態度很差！！！cs一天打爆我電話")
        '催收员态度很差！催收一天打爆我电话'
    """
    if not text:
        return ""
    if text in _RECENT_OUTPUTS:  # already normal (the steps are idempotent)
        return text
    out = _normalize(text)
    if len(_RECENT_OUTPUTS) >= _RECENT_LIMIT:
        _RECENT_OUTPUTS.clear()
    _RECENT_OUTPUTS[out] = None
    return out


# Recent outputs of `normalize`: the pipeline normalises a batch once and its ensemble members
# and rule layers normalise their inputs again; this makes the second pass free.
_RECENT_OUTPUTS: dict[str, None] = {}
_RECENT_LIMIT = 200_000


def _normalize(text: str) -> str:
    text = to_simplified(text)
    text = text.translate(_WIDTH_TABLE)
    if "," in text:
        text = _ASCII_COMMA_RE.sub("，", text)
    text = _NEWLINE_RUN_RE.sub("\n", text)
    text = _SPACE_RUN_RE.sub(" ", text).strip()
    if " " in text:  # first, so that 。 。 and ， ， are runs the next steps see
        text = _SPACE_AROUND_PUNCT_RE.sub(r"\1", text)
    if "." in text or "。" in text or "…" in text:
        text = _ELLIPSIS_RE.sub("…", text)
        if "…" in text:  # 。... became 。…, one ellipsis
            text = _ELLIPSIS_RE.sub("…", text)
    text = _BANG_QUESTION_RE.sub(_squash_bang_question, text)
    text = _REPEAT_RE.sub(r"\1", text)
    if " " in text:  # and again: ... ... became … …
        text = _SPACE_AROUND_PUNCT_RE.sub(r"\1", text)
        if "…" in text:
            text = _ELLIPSIS_RE.sub("…", text)
    return _get_shorthand().apply(text)


def normalize_many(texts: Iterable[str]) -> list[str]:
    """Normalise a batch of texts; ``None`` entries become empty strings."""
    return [normalize(text) if text else "" for text in texts]
