"""Demo survey responses: answers composed from fragments, then roughened like real input."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

from data.demo.common import (
    CHANNELS,
    OVERDUE_BUCKETS,
    PRODUCTS,
    REGIONS,
    SURVEY_COLUMNS,
    SlotFiller,
    day_sampler,
    load_table,
    weighted,
)
from nlp.labels import EMOTIONS, REQUESTS

_PHRASES: dict[str, Any] = load_table("surveys")

#: Experience fragments per tactic and polarity (-1 negative, 0 neutral, 1 positive).
EXPERIENCES: dict[str, dict[int, tuple[str, ...]]] = _PHRASES["experiences"]
#: Keyword families per tactic: every fragment of ``EXPERIENCES[tactic]`` contains one.
TACTIC_KEYWORDS: dict[str, tuple[str, ...]] = _PHRASES["tactic_keywords"]
#: Typos and homophones some texts carry: (correct, as typed).
TYPOS: tuple[tuple[str, str], ...] = _PHRASES["typos"]
#: Pinyin shorthand some texts carry: (word, shorthand).
SHORTHAND: tuple[tuple[str, str], ...] = _PHRASES["shorthand"]
#: Simplified -> Traditional table for the characters the fragments use (about 4% of texts).
TRADITIONAL: dict[int, str] = {
    ord(s): t for s, t in " ".join(_PHRASES["traditional"]).split() if s != t
}
#: Characters that only occur in the Traditional-converted texts.
TRADITIONAL_ONLY_CHARS: frozenset[str] = frozenset(TRADITIONAL.values())

_NEG_EMOTIONS = tuple(e for e in EMOTIONS if e != "gratitude")
_CAMPAIGN_HARSHNESS = 0.3
_PUNCT_END = "，。！？：,.!?…"
_HARSH_TACTICS = {"threat_intimidation", "third_party_contact", "contact_frequency"}

#: A text fragment and its polarity (None for feelings, requests, openers, closers).
Part = tuple[str, int | None]


def generate_surveys(
    rng: random.Random, n: int, today: date, campaign: pd.Period
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` responses over the 365 days before ``today``, and their ground truth."""
    days, weights = day_sampler(today, campaign, 1.3)
    submitted = sorted(rng.choices(days, weights=weights, k=n))
    respondents = rng.sample(range(1_000_000, 10_000_000), n)
    rows: list[dict[str, object]] = []
    truth_rows: list[dict[str, object]] = []
    for i, day in enumerate(submitted):
        row, truth = _survey_row(rng, f"demo-s-{i + 1:05d}", respondents[i], day, campaign)
        rows.append(row)
        truth_rows.append(truth)
    surveys = pd.DataFrame(rows, columns=list(SURVEY_COLUMNS))
    surveys["submitted_at"] = pd.to_datetime(surveys["submitted_at"]).astype("datetime64[ns]")
    surveys["csat"] = pd.array(surveys["csat"].tolist(), dtype="Int64")
    surveys["nps"] = pd.array(surveys["nps"].tolist(), dtype="Int64")
    return surveys, pd.DataFrame(truth_rows)


def _survey_row(
    rng: random.Random, response_id: str, respondent: int, day: date, campaign: pd.Period
) -> tuple[dict[str, object], dict[str, object]]:
    """One response row (``SURVEY_COLUMNS``) and its ground-truth row."""
    product = rng.choices(PRODUCTS, weights=(55, 33, 12))[0]
    bucket = rng.choices(OVERDUE_BUCKETS, weights=(50, 28, 22))[0]
    channel = rng.choices(CHANNELS, weights=(50, 20, 10, 20))[0]
    region = rng.choices(REGIONS, weights=(16, 10, 9, 9, 9, 10, 7, 6, 7, 6))[0]
    in_campaign = pd.Period(day, freq="M") == campaign
    composed = _compose_survey(rng, product, bucket, channel, in_campaign)
    s = float(composed["positivity"])  # type: ignore[arg-type]
    csat = min(5, max(1, round(3 + 1.7 * s + rng.gauss(0, 0.75))))
    nps = min(10, max(0, round(5.5 + 4.0 * s + rng.gauss(0, 1.8))))
    row = {
        "response_id": response_id,
        "respondent_id": f"R{respondent}",
        "submitted_at": datetime(day.year, day.month, day.day),
        "product": product,
        "region": region,
        "overdue_bucket": bucket,
        "channel": channel,
        "csat": csat if rng.random() < 0.8 else None,
        "nps": nps if rng.random() < 0.6 else None,
        "text": composed.pop("text"),
    }
    return row, {"response_id": response_id, **composed, "campaign": in_campaign}


def _compose_survey(
    rng: random.Random, product: str, bucket: str, channel: str, campaign: bool
) -> dict[str, object]:
    """One answer text and its ground truth (``text`` first, then the ``truth`` columns)."""
    harshness = _PHRASES["bucket_harshness"][bucket] + (_CAMPAIGN_HARSHNESS if campaign else 0.0)
    if rng.random() < 0.07:
        answer = _short_answer(rng, harshness)
    else:
        answer = _long_answer(rng, product, channel, campaign, harshness)
    text, traditional = _roughen(rng, str(answer.pop("text")), str(answer["sentiment"]))
    return {"text": text, **answer, "traditional": traditional}


def _short_answer(rng: random.Random, harshness: float) -> dict[str, object]:
    """A one-phrase answer such as 还行 or 烦死了."""
    neg = 0.35 + harshness * 0.5
    sentiment = rng.choices(("negative", "neutral", "positive"), weights=(neg, 0.4, 0.6 - neg / 2))[
        0
    ]
    return {
        "text": rng.choice(_PHRASES["short_answers"][sentiment]),
        "sentiment": sentiment,
        "positivity": {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[sentiment],
        "tactics": (),
        "polarities": (),
        "emotions": (),
        "requests": (),
        "complaint": False,
    }


def _long_answer(
    rng: random.Random, product: str, channel: str, campaign: bool, harshness: float
) -> dict[str, object]:
    """Experiences of 1-3 tactics, with feelings, a request, a complaint, opener and closer."""
    slots = SlotFiller(rng)
    k = rng.choices((1, 2, 3), weights=(45, 38, 17))[0]
    tactics = _choose_tactics(rng, k, channel, campaign)
    polarities = [_polarity(rng, t, harshness) for t in tactics]
    score = sum(polarities)
    sentiment = "negative" if score < 0 else "positive" if score > 0 else "neutral"
    body: list[Part] = [
        (rng.choice(EXPERIENCES[t][p]).format_map(slots), p)
        for t, p in zip(tactics, polarities, strict=True)
    ]
    negative_tactics = [t for t, p in zip(tactics, polarities, strict=True) if p < 0]
    extras, emotions, requests, complaint = _extras(rng, sentiment, tactics, negative_tactics)
    rng.shuffle(body)
    rng.shuffle(extras)
    return {
        "text": _arrange(rng, slots, product, sentiment, body, extras),
        "sentiment": sentiment,
        "positivity": score / len(polarities),
        "tactics": tuple(tactics),
        "polarities": tuple(polarities),
        "emotions": tuple(emotions),
        "requests": tuple(requests),
        "complaint": complaint,
    }


def _choose_tactics(rng: random.Random, k: int, channel: str, campaign: bool) -> list[str]:
    """``k`` distinct tactics; often one the channel suggests; campaign months skew harsh."""
    weights = dict(_PHRASES["tactic_weights"])
    if campaign:
        for tactic, boost in _PHRASES["campaign_boost"].items():
            weights[tactic] *= boost
    chosen: list[str] = []
    if rng.random() < 0.45:
        chosen.append(rng.choice(_PHRASES["channel_tactics"][channel]))
    while len(chosen) < k:
        tactic = weighted(rng, {t: w for t, w in weights.items() if t not in chosen})
        chosen.append(tactic)
    return chosen


def _polarity(rng: random.Random, tactic: str, harshness: float) -> int:
    """-1, 0 or 1 from the tactic's mix, shifted towards negative by ``harshness``."""
    neg, neu, pos = _PHRASES["polarity_mix"][tactic]
    shifted = min(0.97, neg + harshness * (1 - neg))
    scale = (1 - shifted) / (neu + pos)
    return rng.choices((-1, 0, 1), weights=(shifted, neu * scale, pos * scale))[0]


def _extras(
    rng: random.Random, sentiment: str, tactics: Sequence[str], negative_tactics: Sequence[str]
) -> tuple[list[Part], list[str], list[str], bool]:
    """Feeling, request and complaint sentences, with their emotion and request ids."""
    emotions: list[str] = []
    extras: list[Part] = []
    if sentiment == "negative" and rng.random() < 0.65:
        pool = _PHRASES["tactic_emotions"][rng.choice(negative_tactics or tactics)]
        emotions.append(rng.choice(pool) if rng.random() < 0.75 else rng.choice(_NEG_EMOTIONS))
    elif sentiment == "positive" and rng.random() < 0.45:
        emotions.append("gratitude")
    elif sentiment == "neutral" and rng.random() < 0.15:
        extras.append((rng.choice(_PHRASES["neutral_feelings"]), None))
    extras += [(rng.choice(_PHRASES["feelings"][e]), None) for e in emotions]
    requests: list[str] = []
    if rng.random() < {"negative": 0.6, "neutral": 0.35, "positive": 0.2}[sentiment]:
        source = rng.choice(negative_tactics or tactics)
        request = _PHRASES["tactic_requests"].get(source, "understanding")
        if rng.random() < 0.3:
            request = rng.choice(REQUESTS)
        requests.append(request)
        extras.append((rng.choice(_PHRASES["requests"][request]), None))
    complaint = False
    if sentiment == "negative":
        complaint = rng.random() < (0.4 if _HARSH_TACTICS & set(negative_tactics) else 0.12)
        if complaint:
            extras.append((rng.choice(_PHRASES["complaints"]), None))
    return extras, emotions, requests, complaint


def _arrange(
    rng: random.Random,
    slots: SlotFiller,
    product: str,
    sentiment: str,
    body: list[Part],
    extras: list[Part],
) -> str:
    """Opener, experiences, extras and closer joined into one text (``extras`` is consumed)."""
    parts: list[Part] = []
    if rng.random() < 0.45:
        pool = _PHRASES["openers"] + _PHRASES["product_openers"][product]
        parts.append((rng.choice(pool).format_map(slots), None))
    if extras and rng.random() < 0.15:
        parts.append(extras.pop())
    parts += body + extras
    if rng.random() < 0.35:
        parts.append((rng.choice(_PHRASES["closers"][sentiment]), None))
    return _join(rng, parts, sentiment)


def _join(rng: random.Random, parts: Sequence[Part], sentiment: str) -> str:
    """Join fragments with varied punctuation; 不过/但是 where the polarity flips."""
    out = ""
    last_pol: int | None = None
    for text, pol in parts:
        if not out:
            out = text
        else:
            if out[-1] not in _PUNCT_END:
                if pol is not None and last_pol is not None and pol * last_pol < 0:
                    out += rng.choice(("，不过", "，但是", "。不过", "，可是", "。但"))
                elif pol is not None and last_pol is not None:
                    out += rng.choice(("，", "。", "，", "。", "，而且", "。后来", "，然后", "；"))
                else:
                    out += rng.choice(("，", "。", "。", "！" if sentiment == "negative" else "，"))
            out += text
        if pol is not None:
            last_pol = pol
    if out and out[-1] not in _PUNCT_END and not out.endswith(("👍", "️")):
        endings = {
            "negative": ("。", "！", "！！", "。。。", "", "!!!"),
            "neutral": ("。", "", "。", "吧。"),
            "positive": ("。", "！", "", "~"),
        }[sentiment]
        out += rng.choice(endings)
    return out


def _roughen(rng: random.Random, text: str, sentiment: str) -> tuple[str, bool]:
    """Typos, shorthand, chat style, emoji, Traditional characters."""
    if rng.random() < 0.22:
        applicable = [pair for pair in TYPOS if pair[0] in text]
        for wrong in rng.sample(applicable, min(len(applicable), rng.choice((1, 1, 2)))):
            text = text.replace(*wrong)
    if rng.random() < 0.3:
        for short in SHORTHAND:
            if short[0] in text and rng.random() < 0.7:
                text = text.replace(*short)
    if rng.random() < 0.17:
        text = re.sub(r"[，。；]+", " ", text).strip()
    if rng.random() < 0.16:
        emoji = rng.choice(_PHRASES["emoji"][sentiment]) * rng.choice((1, 1, 1, 2, 3))
        text = text + emoji if rng.random() < 0.8 else emoji + text
    traditional = rng.random() < 0.04
    if traditional:
        text = text.translate(TRADITIONAL)
    return text, traditional
