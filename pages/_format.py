"""Numbers and labels for display, and query frames reshaped into the tables the pages show.

Pure functions (no streamlit): a frame or a value in, Chinese text or a display frame out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd

from data import auth, reviews
from data.settings import Settings
from nlp.labels import (
    COMPLAINT_REASON_NAMES_ZH,
    EMOTION_NAMES_ZH,
    REQUEST_NAMES_ZH,
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
    """A call's violation evidence (stored as JSON) as a list ([] when missing)."""
    return json.loads(evidence) if isinstance(evidence, str) else []


# --------------------------------------------------------------------------- survey answers
def records_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """Chinese column names and labels for a records table."""
    if df.empty:
        return df
    return pd.DataFrame(
        {
            "日期": pd.to_datetime(df["submitted_at"]).dt.date,
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
            "开始时间": pd.to_datetime(calls["started_at"]).dt.strftime("%Y-%m-%d %H:%M"),
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
    """(turn, sentiment score) of the borrower's turns, for the mood chart."""
    borrower = turns[turns["speaker"] == "borrower"]
    return [
        (int(t), float(s))
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
    """Stored batches with Chinese column names."""
    return batches.rename(columns=BATCH_COLUMNS)


def aspect_f1_table(per_label_f1: Mapping[str, float]) -> pd.DataFrame:
    """Per-tactic F1 of an evaluation, tactics by Chinese name."""
    return pd.DataFrame(
        {
            "催收方式": [TACTIC_NAMES_ZH.get(k, k) for k in per_label_f1],
            "F1": [round(v, 3) for v in per_label_f1.values()],
        }
    )


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
