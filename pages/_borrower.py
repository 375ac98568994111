"""Widget groups of the 预警 page: a case's form and one borrower's contacts over time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import borrowers, warnings
from data.auth import Actor
from data.settings import format_display_time
from data.store import Store
from nlp.labels import RISK_FLAG_NAMES_ZH, SENTIMENT_NAMES_ZH, TACTIC_NAMES_ZH, VIOLATION_NAMES_ZH
from pages import _cache as cache
from pages import _charts as charts
from pages import _format as fmt

KIND_NAMES = {"survey": "问卷", "call": "通话"}
KEPT = {True: "已兑现", False: "未兑现", None: ""}


def cases_for_display(queue: pd.DataFrame) -> pd.DataFrame:
    """The case queue with Chinese column names; age in days, times in the display zone."""
    return pd.DataFrame(
        {
            "风险": queue["flag_name"],
            "借款人": queue["borrower_id"],
            "证据": queue["evidence"],
            "最近接触": format_display_time(queue["last_contact_at"]),
            "负责人": queue["owner"].fillna(""),
            "状态": queue["status_name"],
            "已开(天)": queue["age_days"].astype(float).round(1),
            "最新备注": queue["last_note"].fillna(""),
        }
    )


def contacts_for_display(contacts: pd.DataFrame) -> pd.DataFrame:
    """A borrower's timeline with Chinese column names and labels."""
    return pd.DataFrame(
        {
            "时间": format_display_time(contacts["contact_at"]),
            "类型": contacts["kind"].map(KIND_NAMES),
            "情绪": contacts["sentiment"].map(lambda v: SENTIMENT_NAMES_ZH.get(v, "—")),
            "情绪分": contacts["mood"].astype(float).round(2),
            "风险": contacts["risk_flags"].map(lambda v: fmt.zh_list(v, RISK_FLAG_NAMES_ZH)),
            "经历的催收方式": contacts["tactics"].map(lambda v: fmt.zh_list(v, TACTIC_NAMES_ZH)),
            "违规": contacts["violations"].map(lambda v: fmt.zh_list(v, VIOLATION_NAMES_ZH)),
            "提供方案": contacts["plan_offered"].map(lambda v: "是" if v is True else ""),
            "承诺还款": [
                ("是 · " + KEPT[k]).rstrip(" ·") if p is True else ""
                for p, k in zip(contacts["promise_to_pay"], contacts["promise_kept"], strict=True)
            ],
            "内容": contacts["text"].fillna(""),
        }
    )


def show(borrower_id: str, reveal: bool) -> None:
    """Every contact of one borrower: headline facts, the mood trend, the timeline."""
    contacts = cache.borrower_timeline(borrower_id, reveal)
    if contacts.empty:
        st.info(f"没有找到借款人 {borrower_id} 的问卷或通话。上传时请映射「借款人ID」列。")
        return
    trend = borrowers.mood_falling(contacts["mood"].tolist())
    flags = sorted({f for fs in contacts["risk_flags"] for f in fs})
    c = st.columns(4)
    c[0].metric("接触次数", fmt.integer(len(contacts)))
    c[1].metric(
        "问卷 / 通话",
        f"{(contacts['kind'] == 'survey').sum()} / {(contacts['kind'] == 'call').sum()}",
    )
    c[2].metric("风险", fmt.zh_list(flags, RISK_FLAG_NAMES_ZH) or "无")
    c[3].metric("情绪趋势", "持续走低" if trend.falling else "未见下滑")
    (st.warning if trend.falling else st.caption)(trend.describe())
    st.plotly_chart(
        charts.mood_timeline(contacts), config=charts.CONFIG, key=f"wn_mood_{borrower_id}"
    )
    st.dataframe(contacts_for_display(contacts), hide_index=True, width="stretch")


def case_form(store: Store, who: Actor, case: pd.Series) -> None:
    """Evidence, history and the status / owner / note form of one case."""
    st.subheader(f"{case['flag_name']} · 借款人 {case['borrower_id']}")
    if case["evidence"]:
        st.markdown(f"**证据**：「{case['evidence']}」")
    history = warnings.case_notes(store, case["case_id"])
    if not history.empty:
        st.dataframe(
            pd.DataFrame(
                {
                    "时间": format_display_time(history["written_at"]),
                    "处理人": history["author"],
                    "状态": history["status"].map(lambda s: warnings.STATUSES.get(s, "")),
                    "备注": history["note"],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    with st.form(f"wn_case_{case['case_id']}", clear_on_submit=True):
        statuses = list(warnings.STATUSES)
        c = st.columns(2)
        status = c[0].selectbox(
            "状态",
            statuses,
            index=statuses.index(case["status"]),
            format_func=warnings.STATUSES.get,
            key="wn_form_status",
        )
        owner = c[1].text_input("负责人", value=case["owner"] or who.user, key="wn_form_owner")
        note = st.text_area(
            "备注", key="wn_form_note", placeholder="如：已电话联系，安排心理援助热线"
        )
        if st.form_submit_button("保存", type="primary"):
            try:
                warnings.update_case(
                    store,
                    who,
                    case["case_id"],
                    status=status,
                    owner=owner.strip() or None,
                    note=note,
                )
            except warnings.CaseError as exc:
                st.error(str(exc))
            else:
                cache.data_changed()
                st.success("已保存。")
                st.rerun()
    show(case["borrower_id"], who.can("reveal_pii"))
