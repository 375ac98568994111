"""Where a text mentions each collection tactic (for highlighting in the detail views)."""

from __future__ import annotations

from nlp.feedback import load_cues


def tactic_spans(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, tactic) spans of tactic cue words in ``text``."""
    spans = []
    for cue in load_cues().tactics:
        for m in cue.pattern.finditer(text):
            if m.end() > m.start():
                spans.append((m.start(), m.end(), cue.label))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int, str]] = []
    for s in spans:
        if not out or s[0] >= out[-1][1]:
            out.append(s)
    return out
