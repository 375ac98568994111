"""Keywords of a segment of texts, and terms rising versus an earlier period (jieba-based)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from nlp.segment import tokenize
from nlp.textnorm import normalize

_STOP = set(
    [
        "的",
        "了",
        "是",
        "我",
        "你",
        "他",
        "她",
        "们",
        "我们",
        "你们",
        "他们",
        "就",
        "都",
        "也",
        "还",
        "在",
        "有",
        "和",
        "跟",
        "与",
        "这",
        "那",
        "这个",
        "那个",
        "一个",
        "没有",
        "不是",
        "什么",
        "怎么",
        "因为",
        "所以",
        "但是",
        "不过",
        "就是",
        "而且",
        "然后",
        "已经",
        "还是",
        "可以",
        "自己",
        "一下",
        "一直",
        "非常",
        "真的",
        "现在",
        "时候",
        "这样",
        "那样",
        "如果",
        "虽然",
        "知道",
        "觉得",
        "感觉",
        "说",
        "要",
        "会",
        "能",
        "让",
        "给",
        "被",
        "把",
        "对",
        "很",
        "太",
        "吧",
        "啊",
        "呢",
        "吗",
        "嗯",
        "哦",
        "呀",
        "嘛",
        "每次",
        "还有",
        "其实",
        "这么",
        "那么",
        "可能",
        "需要",
        "希望",
        "问题",
        "事情",
        "东西",
        "一些",
        "一点",
        "比较",
    ]
)
_WORD = re.compile(r"^[\u4e00-\u9fffA-Za-z]{2,}$")


def _terms(text: str) -> list[str]:
    return [w for w in tokenize(normalize(text)) if _WORD.match(w) and w not in _STOP]


def top_keywords(texts: Iterable[str], k: int = 15) -> list[tuple[str, int]]:
    """The ``k`` most frequent content words (counted once per text)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(_terms(text)))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]  # ties by term


def rising_terms(
    current: Iterable[str], previous: Iterable[str], k: int = 10, min_count: int = 5
) -> list[tuple[str, int, float]]:
    """Terms whose document share grew most: (term, current count, growth ratio)."""
    cur_docs = [set(_terms(t)) for t in current]
    prev_docs = [set(_terms(t)) for t in previous]
    cur, prev = Counter(), Counter()
    for d in cur_docs:
        cur.update(d)
    for d in prev_docs:
        prev.update(d)
    n_cur, n_prev = max(1, len(cur_docs)), max(1, len(prev_docs))
    scored = []
    for term, c in cur.items():
        if c < min_count:
            continue
        ratio = ((c + 1) / n_cur) / ((prev.get(term, 0) + 1) / n_prev)
        if ratio > 1.2:
            scored.append((term, c, ratio, c * math.log(ratio)))
    scored.sort(key=lambda x: (-x[3], x[0]))  # ties by term: the same order on every run
    return [(t, c, round(r, 2)) for t, c, r, _ in scored[:k]]
