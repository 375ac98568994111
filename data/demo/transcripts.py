"""Demo collection-call transcripts: stages that follow the agent's behaviour and the outcome."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from data.demo.common import ORGANISATION, REGIONS, SlotFiller, load_table

_LINES: dict[str, Any] = load_table("calls")
_SPEAKERS = ("agent", "borrower") * 2

#: (speaker, text) pairs, speaker ``agent`` or ``borrower``.
Turns = list[tuple[str, str]]


def compose_call(
    rng: random.Random,
    agent: tuple[str, str, str],
    product: str,
    outcome: str,
    plan: bool,
    violations: Sequence[str],
    hour: int,
    nth_today: int,
) -> Turns:
    """One transcript as (speaker, text) pairs; stages follow the agent's behaviour."""
    slots = _call_slots(rng, product)
    harsh = bool(violations)
    opening = _greeting(rng, agent, violations, slots["b"])
    middle: list[Turns] = []
    if outcome == "wrong_party":
        opening += _wrong_party_opening(rng, violations)
        pads = _wrong_party_pads(rng)
        ending = [("agent", rng.choice(_LINES["harsh_closings" if harsh else "closings"]))]
    else:
        opening += _borrower_opening(rng, outcome, violations, hour, nth_today)
        middle = _middle_blocks(rng, plan, violations)
        exchanges = _LINES["pads"] + (_LINES["harsh_pads"] if harsh else ())
        pads = [list(zip(_SPEAKERS, pad, strict=False)) for pad in exchanges]
        ending = _call_ending(rng, outcome, harsh)
    if rng.random() < 0.7:
        ending.append(("borrower", rng.choice(_LINES["byes"])))
    rng.shuffle(pads)
    turns = _pad_to_length(rng, opening, middle, ending, pads)
    return [(speaker, text.format_map(slots)) for speaker, text in turns]


def _call_slots(rng: random.Random, product: str) -> SlotFiller:
    """The per-call slots: borrower names, amounts, days overdue, a relation."""
    surname = rng.choice(_LINES["surnames"])
    full = surname + rng.choice(_LINES["given_names"])
    b = surname + rng.choice(("先生", "女士"))
    per = rng.choice((400, 500, 650, 800, 1000, 1200, 1500))
    slots = SlotFiller(rng)
    slots.update(
        product=product,
        per=str(per),
        tail=f"{rng.randrange(10_000):04d}",
        amt=str(per * rng.choice((3, 6, 9, 12))),
        days=str(rng.choice((3, 7, 12, 18, 25, 33, 46, 61, 95))),
        rel=rng.choice(_LINES["relations"]),
        b=b,
        full=full,
    )
    return slots


def _greeting(
    rng: random.Random, agent: tuple[str, str, str], violations: Sequence[str], b: str
) -> Turns:
    """The agent's first line: identity disclosed, withheld, or a fake court or lawyer."""
    turns: Turns = []
    if rng.random() < 0.12:
        turns.append(("borrower", rng.choice(_LINES["callee_hello"])))
    if "impersonation" in violations:
        region = rng.choice(REGIONS)
        line = rng.choice(_LINES["impersonation_lines"]).format(region=region)
    elif "no_identity_disclosure" in violations:
        line = rng.choice(_LINES["anonymous_lines"])
    else:
        agent_id, name, _ = agent
        line = rng.choice(_LINES["identity_lines"]).format(
            org=ORGANISATION, name=name, surname=name[0], staff_no=f"3{int(agent_id[1:]):03d}", b=b
        )
    turns.append(("agent", line))
    return turns


def _wrong_party_opening(rng: random.Random, violations: Sequence[str]) -> Turns:
    """Someone else answers; the agent discloses the debt only as a violation."""
    lines = _LINES["wrong_party"]
    turns: Turns = [
        ("borrower", rng.choice(lines["denials"])),
        ("agent", "请问您认识{full}吗"),
        ("borrower", rng.choice(lines["knows"])),
    ]
    if "third_party_disclosure" in violations:
        turns += [
            ("agent", "那你告诉他，他在我们这欠了{amt}不还，再不还我们就起诉他"),
            ("borrower", rng.choice(lines["after_disclosure"])),
        ]
    else:
        turns += [
            ("agent", "这个涉及他本人的事情，不方便透露，麻烦您让他方便时回个电话，谢谢"),
            ("borrower", rng.choice(lines["after_discretion"])),
        ]
    return turns


def _wrong_party_pads(rng: random.Random) -> list[Turns]:
    """Filler exchanges of a wrong-party call."""
    return [
        [
            ("agent", "他最近换号码了吗"),
            ("borrower", rng.choice(_LINES["wrong_party"]["whereabouts"])),
        ],
        [("agent", "您方便留个他其他的联系方式吗"), ("borrower", "这个我不方便说")],
        [("agent", "您最近见过他吗"), ("borrower", "好久没见了")],
    ]


def _borrower_opening(
    rng: random.Random, outcome: str, violations: Sequence[str], hour: int, nth_today: int
) -> Turns:
    """The borrower picks up (and complains of repeat calls); the debt; the borrower's reason."""
    harsh = bool(violations)
    turns: Turns = []
    if "off_hours" in violations and rng.random() < 0.7:
        turns.append(
            ("borrower", "现在都几点了你还打电话" if hour >= 21 else "这才几点啊，我还在睡觉")
        )
    else:
        turns.append(("borrower", rng.choice(_LINES["confirm"])))
    if nth_today >= 2:
        count = "零一两三四五六七八九"[min(nth_today, 9)]
        turns += [
            ("borrower", rng.choice(_LINES["repeat_call_complaints"]).format(count=count)),
            ("agent", "你不还钱我们就一直打" if harsh else "不好意思，这是今天最后一次"),
        ]
    if harsh and rng.random() < 0.6:
        statement = rng.choice(_LINES["harsh_statements"])
    else:
        statement = rng.choice(_LINES["statements"])
    turns += [
        ("agent", statement),
        ("borrower", rng.choice(_LINES["forgot" if outcome == "paid" else "reasons"])),
    ]
    return turns


def _middle_blocks(rng: random.Random, plan: bool, violations: Sequence[str]) -> list[Turns]:
    """A lawful reminder, one exchange per violation, a plan offered or refused; shuffled."""
    middle: list[Turns] = []
    if not violations or rng.random() < 0.4:
        middle.append(
            [("agent", rng.choice(_LINES["lawful"])), ("borrower", rng.choice(_LINES["acks"]))]
        )
    for rule in violations:
        if rule in _LINES["violation_lines"]:
            middle.append(_violation_exchange(rng, rule))
    if plan:
        offer = rng.choice(_LINES["plan_offers"])
        middle.append([
            ("agent", offer["offer"]), ("borrower", rng.choice(offer["questions"])),
            ("agent", rng.choice(offer["answers"])),
            ("borrower", rng.choice(_LINES["plan_reactions"])),
        ])  # fmt: skip
    elif rng.random() < 0.35:
        no_plan = _LINES["no_plan"]
        middle.append([
            ("agent", rng.choice(no_plan["asks"])), ("borrower", rng.choice(no_plan["pleas"])),
            ("agent", rng.choice(no_plan["refusals"])),
            ("borrower", rng.choice(no_plan["resignations"])),
        ])  # fmt: skip
    rng.shuffle(middle)
    return middle


def _violation_exchange(rng: random.Random, rule: str) -> Turns:
    """The violating line, the borrower's reaction, the agent's retort, a follow-up."""
    reaction = "你们真是法院的？那你把案号发我" if rule == "impersonation" else None
    return [
        ("agent", rng.choice(_LINES["violation_lines"][rule])),
        ("borrower", reaction or rng.choice(_LINES["violation_reactions"])),
        ("agent", rng.choice(_LINES["retorts"])),
        ("borrower", rng.choice(_LINES["follow_ups"])),
    ]


def _call_ending(rng: random.Random, outcome: str, harsh: bool) -> Turns:
    """Agent prompt, the borrower's answer per outcome, the agent's reply and goodbye."""
    answers = _LINES["answers"]
    closing = rng.choice(_LINES["harsh_closings" if harsh else "closings"])
    prompt = ("agent", rng.choice(_LINES["harsh_prompts" if harsh else "prompts"]))
    if outcome == "promise_to_pay":
        when = rng.choice(answers["promise_when"])
        part = rng.choice(answers["promise_part"])
        confirm = f"好的，我记录一下，{when}前{part.replace('先', '')}，到时候我再跟您确认"
        return [
            prompt,
            ("borrower", f"行，那我{when}之前{part}"),
            ("agent", "行，记住你说的" if harsh else confirm),
            ("borrower", rng.choice(answers["promise_confirm"])),
            ("agent", closing),
        ]
    if outcome == "paid":
        return [
            prompt,
            ("borrower", rng.choice(answers["pay_now"])),
            ("agent", "好的，您操作一下，我在线上等您"),
            ("borrower", "好了，你看一下"),
            ("agent", f"我这边看到已经到账了，{closing}"),
        ]
    if outcome == "refused":
        line = rng.choice(answers["refused"])
        reply = "你想清楚后果" if harsh else "那您再考虑一下，有困难随时联系我们"
    else:
        line = rng.choice(answers["no_commitment"])
        reply = "那你抓紧" if harsh else "好的，那我过两天再联系您"
    return [prompt, ("borrower", line), ("agent", f"{reply}，{closing}")]


def _pad_to_length(
    rng: random.Random, opening: Turns, middle: list[Turns], ending: Turns, pads: list[Turns]
) -> Turns:
    """Insert filler exchanges into ``middle`` until a drawn 8-30 turns (``pads`` is consumed)."""
    target = rng.randint(8, 30)

    def assemble() -> Turns:
        return _merge_speakers(opening + [turn for block in middle for turn in block] + ending)

    turns = assemble()
    while len(turns) < target and pads:
        at = rng.randint(0, len(middle))
        middle.insert(at, pads.pop())
        candidate = assemble()
        if len(candidate) > 30:
            break
        turns = candidate
    return turns


def _merge_speakers(turns: Sequence[tuple[str, str]]) -> Turns:
    """Join consecutive turns of one speaker, as diarisation would."""
    merged: Turns = []
    for speaker, text in turns:
        if merged and merged[-1][0] == speaker:
            merged[-1] = (speaker, f"{merged[-1][1]}，{text}")
        else:
            merged.append((speaker, text))
    return merged


def asr(rng: random.Random, text: str) -> str:
    """ASR flavour: no punctuation, fillers between clauses, the odd stutter."""
    clauses = [c for c in re.split(r"[，。？！、,.?!“”：；…]+", text) if c]
    out = ""
    for clause in clauses:
        sep = rng.choice(("", " ", " ", " ", " ", " ", " 嗯 ", " 那个 ", " 就是 "))
        out = f"{out}{sep}{clause}" if out else clause
    if rng.random() < 0.4:
        out = rng.choice(("嗯 ", "啊 ", "那个 ", "呃 ", "嗯嗯 ")) + out
    if rng.random() < 0.12 and len(out) > 3 and not out[0].isspace():
        out = out[0] + " " + out
    return re.sub(r"\s+", " ", out).strip() or "嗯"
