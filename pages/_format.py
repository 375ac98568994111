"""Numbers and labels for display, and query frames reshaped into the tables the pages show.

Pure functions (no streamlit): a frame or a value in, Chinese text or a display frame out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd

from data import auth, reviews
from data.settings import Settings, format_display_time, to_display_time
from data.stats import MIN_BASE, wilson_interval, with_interval
from nlp.labels import (
    COMPLAINT_REASON_NAMES_ZH,
    EMOTION_NAMES_ZH,
    REQUEST_NAMES_ZH,
    RULE_CATALOG,
    SENTIMENT_NAMES_ZH,
    TACTIC_NAMES_ZH,
    VIOLATION_NAMES_ZH,
)

YES = {True: "是", False: ""}


# --------------------------------------------------------------------------- values
def integer(n: float | None) -> str:
    """A count with thousands separators; — when missing."""
    return "—" if n is None or pd.isna(n) else f"{int(n):,}"


def percent(x: float | None, digits: int = 1) -> str:
    """A share (0.123) as a percentage (12.3%); — when missing."""
    return "—" if x is None or pd.isna(x) else f"{x * 100:.{digits}f}%"


def decimal(x: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals; — when missing."""
    return "—" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def delta(cur: Mapping, prev: Mapping, key: str, pct: bool = True) -> str | None:
    """The change of a KPI against the previous period (None when either side is missing)."""
    if prev.get(key) is None or cur.get(key) is None:
        return None
    d = cur[key] - prev[key]
    return f"{d * 100:+.1f} 个百分点" if pct else f"{d:+,.0f}"


def zh_list(values, names: Mapping[str, str]) -> str:
    """A list of label ids as Chinese names joined by 、 ("" for a missing list)."""
    if values is None or isinstance(values, float | str):
        return ""
    return "、".join(names.get(v, v) for v in list(values))


def zh_aspects(aspects) -> str:
    """Aspects ({tactic: polarity}, or its JSON) as 方式:情感；…"""
    if isinstance(aspects, str):
        aspects = json.loads(aspects or "{}")
    if not aspects:
        return ""
    return "；".join(
        f"{TACTIC_NAMES_ZH.get(k, k)}:{SENTIMENT_NAMES_ZH.get(v, v)}" for k, v in aspects.items()
    )


def evidence_list(evidence) -> list[dict]:
    """A call's violation evidence (stored as JSON) as a list ([] when missing), each
    violation once: a second item for the same rule and turn is dropped."""
    if isinstance(evidence, str):
        items = json.loads(evidence) if evidence.strip() else []
    else:
        items = evidence if isinstance(evidence, list) else []
    seen: set[tuple] = set()
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        key = (item.get("rule"), item.get("turn"))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


LEARNED = "模型判断"
"""Shown next to the label of a finding the learned call heads made (evidence ``learned``)."""


def _label_heads(rule: str) -> set[str]:
    """What an explanation of ``rule`` may start with as its own label: the rule's Chinese
    name and the head of its catalogue explanation (「非规定时间联系」, 「缺少债务催收声明
    （mini-Miranda）」)."""
    spec = RULE_CATALOG.get(rule, {})
    heads = {VIOLATION_NAMES_ZH.get(rule, rule)}
    head, sep, _ = str(spec.get("explanation") or "").partition("：")
    if sep:
        heads.add(head)
    return heads


def _without_label(rule: str, text: str) -> str:
    """``text`` without a leading label (「威胁恐吓：」, 「误导：」) that repeats the rule's name.

    A head is a label when it is a known one for the rule, or short, without clause
    punctuation and with its brackets closed (so 「开场未报姓名或工号（已报机构：X）」 keeps
    its text)."""
    if text in _label_heads(rule):
        return ""
    head, sep, rest = text.partition("：")
    if not sep or not rest.strip():
        return text
    closed = head.count("（") == head.count("）") and head.count("(") == head.count(")")
    short = len(head) <= 24 and not re.search(r"[，。；、,]", head)
    return rest.strip() if head in _label_heads(rule) or (short and closed) else text


def violation_note(rule: str, explanation: str | None, learned: bool = False) -> str:
    """A violation as 「名称：说明」, the rule's Chinese name once.

    Catalogue explanations often start with their own label (「威胁恐吓：以暴力……」,
    「非规定时间联系：通话开始……」); that label is dropped so the name is not repeated.
    A learned finding (the call heads) says so next to the name: 「威胁恐吓（模型判断）：…」.
    """
    name = VIOLATION_NAMES_ZH.get(rule, rule) + (f"（{LEARNED}）" if learned else "")
    text = _without_label(rule, (explanation or "").strip())
    return f"{name}：{text}" if text else name


def evidence_note(item: Mapping[str, Any]) -> str:
    """One evidence item (``rule``, ``explanation``, optional ``learned``) as a note."""
    return violation_note(str(item.get("rule")), item.get("explanation"), bool(item.get("learned")))


# off_hours evidence stored before the explanation named the time: the span holds it
_OFF_HOURS_SPAN = re.compile(
    r"开始时间\s*(?P<day>\d{4}-\d{2}-\d{2})\s+(?P<time>\d{1,2}:\d{2})\s*（允许\s*(?P<window>[^）]+)）"
)


def call_level_note(item: Mapping[str, Any]) -> str:
    """A call-level finding (start time, frequency, Regulation F) for the banner above the
    conversation: the note, then the evidence span where the explanation does not already
    hold it. An off-hours finding states the call's local start time and the allowed window
    (「非规定时段通话：通话于当地时间 22:30 开始（2025-03-03），不在允许时段 08:00-22:00 内」),
    also for evidence stored before the explanation said so."""
    rule = str(item.get("rule"))
    span = str(item.get("span") or "").strip()
    explanation = str(item.get("explanation") or "").strip()
    generic = explanation in ("", str(RULE_CATALOG.get(rule, {}).get("explanation") or ""))
    match = _OFF_HOURS_SPAN.search(span) if rule == "off_hours" else None
    if generic and match:
        explanation = (
            f"通话于当地时间 {match['time']} 开始（{match['day']}），"
            f"不在允许时段 {match['window'].strip()} 内"
        )
        span = ""
    note = violation_note(rule, explanation, bool(item.get("learned")))
    if span and span not in note and generic:
        note += f"（{span}）"
    return note


# UI messages: the readers' exceptions carry a bilingual form ("中文 / English", for the CLI)
# and sometimes a library's English detail; a Chinese message is shown without them.
_CJK = re.compile(r"[\u4e00-\u9fff]")
_BILINGUAL_TAIL = re.compile(r"\s+/\s+[^\u4e00-\u9fff]*$")
_ENGLISH_IN_BRACKETS = re.compile(
    r"（[^（）\u4e00-\u9fff]*[A-Za-z]+ [A-Za-z]+ [A-Za-z]+[^（）\u4e00-\u9fff]*）"
)
_ENGLISH_TAIL = re.compile(r"(不是有效的 JSON)[：:]\s*[^\u4e00-\u9fff]*$")
#: leads the lower layers put on their messages, dropped where the page says the same
_LEADS = ("无法读取文件：", "无法读取转写文件：", "文件未导入：", "文件未导入，")
_TAILS = ("，文件未导入", "。文件未导入")


def error_message(exc: BaseException | str, lead: str = "") -> str:
    """An error for the UI: ``lead`` + the message, the lead not repeated
    (「无法读取文件：无法读取文件：…」), English left out of a Chinese message."""
    msg = " ".join(str(exc).split())
    if _CJK.search(msg):
        msg = _BILINGUAL_TAIL.sub("", msg)
        msg = _ENGLISH_IN_BRACKETS.sub("", msg)
        msg = _ENGLISH_TAIL.sub(r"\1", msg)
    if lead:
        for prefix in _LEADS:
            if msg.startswith(prefix) and lead[:4] == prefix[:4]:
                msg = msg[len(prefix) :]
        for tail in _TAILS:
            if msg.endswith(tail) and lead.startswith(tail[1:]):
                msg = msg[: -len(tail)]
    return lead + msg.strip()


def drill_caption(drill: Mapping[str, Any], total: int) -> str:
    """What a chart selection filters the records by, in Chinese, and how many there are:
    「已按所选图表元素筛选：催收方式「威胁恐吓」· 情感「负面」，共 1,234 条记录。」"""
    from data.queries import BREAKDOWN_DIMENSIONS

    parts = []
    if drill.get("tactic"):
        parts.append(f"催收方式「{TACTIC_NAMES_ZH.get(drill['tactic'], drill['tactic'])}」")
    if drill.get("polarity"):
        parts.append(f"情感「{SENTIMENT_NAMES_ZH.get(drill['polarity'], drill['polarity'])}」")
    if drill.get("period") is not None:
        start = pd.Timestamp(drill["period"])
        week = drill.get("freq") == "week"
        parts.append(f"{start:%Y-%m-%d} 起的一周" if week else f"{start:%Y年%m月}")
    if drill.get("dim"):
        dim = BREAKDOWN_DIMENSIONS.get(drill["dim"], drill["dim"])
        parts.append(f"{dim}「{drill.get('value')}」")
    if drill.get("sentiment"):
        parts.append(f"情感「{SENTIMENT_NAMES_ZH.get(drill['sentiment'], drill['sentiment'])}」")
    return f"已按所选图表元素筛选：{' · '.join(parts)}，共 {integer(total)} 条记录。"


# --------------------------------------------------------------------------- survey answers
def records_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """Chinese column names and labels for a records table."""
    if df.empty:
        return df
    return pd.DataFrame(
        {
            "日期": to_display_time(df["submitted_at"]).dt.date,
            "回答": df["text"],
            "情感": df["sentiment"].map(SENTIMENT_NAMES_ZH),
            "情感分": df["sentiment_score"].round(2),
            "催收方式": df["aspects"].map(zh_aspects),
            "情绪": df["emotions"].map(lambda v: zh_list(v, EMOTION_NAMES_ZH)),
            "投诉": df["complaint"].map(YES),
            "投诉原因": df["complaint_reasons"].map(
                lambda v: zh_list(v, COMPLAINT_REASON_NAMES_ZH)
            ),
            "诉求": df["requests"].map(lambda v: zh_list(v, REQUEST_NAMES_ZH)),
            "产品": df["product"],
            "地区": df["region"],
            "逾期": df["overdue_bucket"],
            "满意度": df["csat"],
            "编号": df["response_id"],
        }
    )


def queue_for_display(queue: pd.DataFrame) -> pd.DataFrame:
    """The complaint queue as a records table with 严重度 and 复核 columns."""
    table = records_for_display(queue)
    if not table.empty:
        table.insert(2, "严重度", queue["severity"].to_numpy())
        table.insert(
            3,
            "复核",
            queue["review_status"].map(
                lambda v: reviews.ACTIONS.get(v, "未复核") if isinstance(v, str) else "未复核"
            ),
        )
    return table


def csat_table(csat: pd.DataFrame) -> pd.DataFrame:
    """Mean CSAT as a tactic × polarity table with Chinese names."""
    tbl = csat.pivot_table(index="tactic", columns="polarity", values="csat").round(2)
    tbl.index = [TACTIC_NAMES_ZH.get(t, t) for t in tbl.index]
    tbl.columns = [SENTIMENT_NAMES_ZH.get(c, c) for c in tbl.columns]
    return tbl


# --------------------------------------------------------------------------- calls
def with_plan_label(plans: pd.DataFrame) -> pd.DataFrame:
    """Plan outcomes with a ``label`` column (提供了还款方案 / 未提供方案)."""
    return plans.assign(
        label=plans["agent_offered_plan"].map({True: "提供了还款方案", False: "未提供方案"})
    )


def with_rule_label(viol: pd.DataFrame) -> pd.DataFrame:
    """Violation outcomes with a ``label`` column (the rule's Chinese name)."""
    return viol.assign(label=viol["rule"].map(lambda r: VIOLATION_NAMES_ZH.get(r, r)))


def scorecard_for_display(card: pd.DataFrame) -> pd.DataFrame:
    """The agent scorecard with Chinese column names; rates in whole percent."""
    return pd.DataFrame(
        {
            "坐席": card["agent_id"],
            "姓名": card["agent_name"],
            "团队": card["team"],
            "通话数": card["calls"],
            "每百通违规": card["violations_per_100"].round(1),
            "情绪变化": card["sentiment_change"].round(2),
            "方案提供率": (card["plan_rate"] * 100).round(0),
            "承诺还款率": (card["promise_rate"] * 100).round(0),
        }
    )


def calls_for_display(calls: pd.DataFrame) -> pd.DataFrame:
    """The calls table with Chinese column names and labels."""
    moods = zip(calls["borrower_sentiment_start"], calls["borrower_sentiment_end"], strict=True)
    return pd.DataFrame(
        {
            "开始时间": format_display_time(calls["started_at"]),
            "通话": calls["call_id"],
            "坐席": calls["agent_id"],
            "团队": calls["team"],
            "违规": calls["violations"].map(lambda v: zh_list(v, VIOLATION_NAMES_ZH)),
            "情绪(开始→结束)": [
                f"{SENTIMENT_NAMES_ZH.get(a, '—')} → {SENTIMENT_NAMES_ZH.get(b, '—')}"
                for a, b in moods
            ],
            "提供方案": calls["agent_offered_plan"].map(YES),
            "承诺还款": calls["promise_to_pay"].map(YES),
        }
    )


def borrower_trajectory(turns: pd.DataFrame) -> list[tuple[int, float]]:
    """(turn number from 1, sentiment score) of the borrower's turns, for the mood chart."""
    borrower = turns[turns["speaker"] == "borrower"]
    return [
        (int(t) + 1, float(s))
        for t, s in zip(borrower["turn_index"], borrower["sentiment_score"], strict=True)
    ]


# --------------------------------------------------------------------------- upload, model, admin
def problems_table(problems: Iterable[Any]) -> pd.DataFrame:
    """Validation problems (row, column, message, severity) as a Chinese table."""
    return pd.DataFrame(
        [
            {
                "行": p.row,
                "列": p.column,
                "问题": p.message,
                "级别": "错误" if p.severity == "error" else "提示",
            }
            for p in problems
        ]
    )


BATCH_COLUMNS = {
    "batch_id": "批次",
    "file_name": "文件",
    "kind": "类型",
    "row_count": "行数",
    "uploaded_by": "上传人",
    "uploaded_at": "上传时间",
    "status": "状态",
    "is_demo": "示例数据",
    "model_id": "模型",
}


def batches_for_display(batches: pd.DataFrame) -> pd.DataFrame:
    """Stored batches with Chinese column names; upload times in the display time zone."""
    out = batches.assign(uploaded_at=format_display_time(batches["uploaded_at"]))
    return out.rename(columns=BATCH_COLUMNS)


def users_table(users: list[dict]) -> pd.DataFrame:
    """Users, their role and whether the one-time password is still unchanged."""
    return pd.DataFrame(
        {
            "用户名": [u["username"] for u in users],
            "角色": [auth.ROLES[u["role"]] for u in users],
            "一次性密码未修改": ["是" if u["must_change"] else "" for u in users],
        }
    )


def permissions_table() -> pd.DataFrame:
    """Roles × permissions, ✓ where the role has it."""
    return pd.DataFrame(
        {
            auth.ROLES[r]: ["✓" if p in perms else "" for p in auth.PERMISSION_NAMES]
            for r, perms in auth.PERMISSIONS.items()
        },
        index=list(auth.PERMISSION_NAMES.values()),
    )


def settings_table(cfg: Settings) -> pd.DataFrame:
    """The settings as BV_* variables and values (the admin password left out)."""
    shown = {k: str(v) for k, v in asdict(cfg).items() if k != "admin_password"}
    return pd.DataFrame(
        {"设置": [f"BV_{k.upper()}" for k in shown], "当前值": list(shown.values())}
    )


def label_name(key: str) -> str:
    """Chinese name of a label or head (``emotion:anger``, ``aspect:sms``, ``complaint``...)."""
    kind, _, name = key.rpartition(":")
    names = {
        "emotion": EMOTION_NAMES_ZH,
        "aspect": TACTIC_NAMES_ZH,
        "request": REQUEST_NAMES_ZH,
        "reason": COMPLAINT_REASON_NAMES_ZH,
    }.get(kind, {**EMOTION_NAMES_ZH, **TACTIC_NAMES_ZH, **REQUEST_NAMES_ZH})
    return names.get(name, {"complaint": "投诉"}.get(key, key))


def per_label_table(per_label: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Precision / recall / F1 / support per label, as ``nlp.evaluate`` reports them."""
    return pd.DataFrame(
        {
            "标签": [label_name(k) for k in per_label],
            "精确率": [round(v["precision"], 3) for v in per_label.values()],
            "召回率": [round(v["recall"], 3) for v in per_label.values()],
            "F1": [round(v["f1"], 3) for v in per_label.values()],
            "样本数": [int(v["support"]) for v in per_label.values()],
        }
    )


def heads_card_table(card: Mapping[str, Any]) -> pd.DataFrame:
    """The label heads' card: F1 of rules alone vs rules + head on the tuning texts."""
    report = card.get("report", {})
    return pd.DataFrame(
        {
            "标签": [label_name(k) for k in report],
            "规则 F1": [round(r["tune_rules"]["f1"], 3) for r in report.values()],
            "规则+学习头 F1": [round(r["tune_heads"]["f1"], 3) for r in report.values()],
            "阈值": [r["threshold"] for r in report.values()],
            "训练正例": [r["positives"] for r in report.values()],
        }
    )


def heads_card_caption(card: Mapping[str, Any]) -> str:
    """Where the heads' figures come from, in one line."""
    data = card.get("data", {})
    sent = card.get("sentiment_head", {})
    held = sent.get("finfe_heldout", {})
    if folds := data.get("folds"):  # thresholds on out-of-fold probabilities (2026-12-02)
        line = (
            f"版本 {card.get('version', '?')}（{card.get('date', '')}）：训练 "
            f"{integer(data.get('labelled_texts', 0))} 条借款人标注文本与 "
            f"{integer(data.get('weibo_train', 0))} 条微博（愤怒、恐惧）；下表为 {folds} 折交叉"
            f"的折外 F1（{integer(data.get('tuning_texts', 0))} 条，含规则调参集），不含开发集。"
        )
    else:
        line = (
            f"版本 {card.get('version', '?')}（{card.get('date', '')}）：训练 "
            f"{integer(data.get('labelled_texts', 0) - data.get('tuning_texts', 0))} 条借款人"
            f"标注文本与 {integer(data.get('weibo_train', 0))} 条微博（愤怒、恐惧）；下表为调参集 "
            f"{integer(data.get('tuning_texts', 0))} 条上的 F1，不含开发集。"
        )
    if not held:
        return line
    used = sent.get("mix_used", sent.get("mix"))  # mix_used: a weight given at training
    chosen = "折外概率选出" if data.get("folds") else "调参集选出"
    if not used:
        return line + f" 情感头未混入情感判断（{chosen}的权重为 {sent.get('mix')}）。"
    line += (
        f" 情感头混合权重 {used}（{chosen} {sent.get('mix')}）：金融论坛留出集三分类 "
        f"Macro-F1 {_f1(held.get('without_head'))} → {_f1(held.get('with_head'))}"
    )
    if weibo := sent.get("weibo_heldout_3class"):
        line += (
            f"，微博留出集三分类 {_f1(weibo.get('without_head'))} → {_f1(weibo.get('with_head'))}"
        )
    return line + "。"


def _f1(value) -> str:
    """An F1 for people: three decimals, — when missing."""
    return f"{value:.3f}" if isinstance(value, int | float) else "—"


# --------------------------------------------------------------------------- rates with their base
GREY = "color: #9aa0a6"
"""The style of a table cell or row whose rate rests on fewer than ``MIN_BASE`` records."""


def rate_with_interval(successes: float | None, n: float | None) -> str:
    """A rate with its base and Wilson 95% interval: 「50.3%（95% 区间 48.6%–52.0%，n=3,200）」,
    with 「样本不足 30，仅供参考」 when the base is small; 「无数据」 without a base."""
    if not n or pd.isna(n) or successes is None or pd.isna(successes):
        return "无数据"
    low, high = wilson_interval(successes, n)
    text = f"{percent(successes / n)}（95% 区间 {percent(low)}–{percent(high)}，n={integer(n)}）"
    return text + (f"，样本不足 {MIN_BASE}，仅供参考" if n < MIN_BASE else "")


def scorecard_with_base(card: pd.DataFrame) -> pd.DataFrame:
    """The agent scorecard (:func:`scorecard_for_display`) plus the promise-to-pay rate's 95%
    interval and a 样本 note for agents with fewer than ``MIN_BASE`` calls."""
    table = scorecard_for_display(card)
    if card.empty:
        return table.assign(承诺还款率区间=[], 样本=[])
    rates = with_interval(card, "promises", "ptp_n")
    table["承诺还款率区间"] = [
        "—" if pd.isna(lo) else f"{lo * 100:.0f}–{hi * 100:.0f}%"
        for lo, hi in zip(rates["low"], rates["high"], strict=True)
    ]
    table["样本"] = [f"不足 {MIN_BASE} 通，仅供参考" if s else "" for s in rates["small"]]
    return table


def grey_small_rows(table: pd.DataFrame, base: str, formats: Mapping[str, str] | None = None):
    """``table`` as a pandas Styler with the rows whose ``base`` column is below ``MIN_BASE``
    greyed out; ``formats`` maps columns to format strings (「{:.0f}%」)."""

    def row_style(row: pd.Series) -> list[str]:
        small = pd.notna(row[base]) and row[base] < MIN_BASE
        return [GREY if small else ""] * len(row)

    styler = table.style.apply(row_style, axis=1)
    return styler.format(dict(formats or {}), na_rep="—")


def csat_with_base(csat: pd.DataFrame):
    """Mean CSAT as a tactic × polarity table, each cell 「3.64（n=212）」, cells resting on
    fewer than ``MIN_BASE`` scores greyed out (a pandas Styler)."""
    mean = csat.pivot_table(index="tactic", columns="polarity", values="csat")
    n = csat.pivot_table(index="tactic", columns="polarity", values="n", aggfunc="sum")
    cols = [p for p in SENTIMENT_NAMES_ZH if p in mean.columns]
    rows = [t for t in TACTIC_NAMES_ZH if t in mean.index]
    mean, n = mean.reindex(index=rows, columns=cols), n.reindex(index=rows, columns=cols)
    cells = pd.DataFrame(
        [
            ["—" if pd.isna(m) else f"{m:.2f}（n={int(k):,}）" for m, k in zip(mr, nr, strict=True)]
            for mr, nr in zip(mean.to_numpy(), n.fillna(0).to_numpy(), strict=True)
        ],
        index=[TACTIC_NAMES_ZH[t] for t in rows],
        columns=[SENTIMENT_NAMES_ZH[c] for c in cols],
    )
    small = (n.fillna(0) < MIN_BASE).to_numpy()
    styles = pd.DataFrame(
        [[GREY if s else "" for s in row] for row in small],
        index=cells.index,
        columns=cells.columns,
    )
    return cells.style.apply(lambda _: styles, axis=None)


PARTY_NAMES = {
    "borrower": "借款人本人",
    "third_party": "第三方（家人、同事、朋友等）",
    "wrong_number": "打错电话",
    "unknown": "未能确认",
}


def call_facts(call: Mapping[str, Any]) -> str:
    """One line under a call's title: who was on the line, the callee's risk flags."""
    from nlp.labels import RISK_FLAG_NAMES_ZH

    party = call.get("party")
    parts = [f"接听方：{PARTY_NAMES.get(party, '未判断')}" if isinstance(party, str) else ""]
    flags = call.get("risk_flags")
    if flags is not None and len(flags):
        parts.append("借款人风险：" + zh_list(list(flags), RISK_FLAG_NAMES_ZH))
    return " · ".join(p for p in parts if p) or "接听方：未判断"
