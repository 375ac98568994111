"""投诉复核：质检人员处理投诉队列，查看原文与模型标签，确认、纠正或指派。"""

import streamlit as st

from data import access, reviews
from nlp.labels import (
    COMPLAINT_REASON_NAMES_ZH,
    EMOTION_NAMES_ZH,
    SENTIMENT_NAMES_ZH,
    SENTIMENTS,
    TACTIC_NAMES_ZH,
)
from pages import _ui as ui

ui.require("review")
st.title("投诉复核")
ui.demo_banner()
f = ui.sidebar_filters()

c = st.columns([2, 2, 2, 2, 3])
tactic = c[0].selectbox(
    "催收方式",
    [None, *TACTIC_NAMES_ZH],
    key="cp_tactic",
    format_func=lambda v: "全部" if v is None else TACTIC_NAMES_ZH[v],
)
emotion = c[1].selectbox(
    "情绪",
    [None, *EMOTION_NAMES_ZH],
    key="cp_emotion",
    format_func=lambda v: "全部" if v is None else EMOTION_NAMES_ZH[v],
)
reason = c[2].selectbox(
    "投诉原因",
    [None, *COMPLAINT_REASON_NAMES_ZH],
    key="cp_reason",
    format_func=lambda v: "全部" if v is None else COMPLAINT_REASON_NAMES_ZH[v],
)
status = c[3].selectbox(
    "复核状态",
    [None, "unreviewed", *reviews.ACTIONS],
    key="cp_status",
    format_func=lambda v: {None: "全部", "unreviewed": "未复核"}.get(v, reviews.ACTIONS.get(v, v)),
)
search = c[4].text_input("全文搜索", key="cp_search", placeholder="如：通讯录 爆")

queue = ui.q(
    "complaint_queue",
    f,
    tactic=tactic,
    emotion=emotion,
    reason=reason,
    status=status,
    search=search or None,
)
st.caption(f"共 {len(queue):,} 条投诉（按严重程度、时间排序）。选中一行查看详情。")
table = ui.records_for_display(queue)
if not table.empty:
    table.insert(2, "严重度", queue["severity"].to_numpy())
    table.insert(
        3,
        "复核",
        queue["review_status"].map(
            lambda v: reviews.ACTIONS.get(v, "未复核") if isinstance(v, str) else "未复核"
        ),
    )
# the key carries the filters, so a selection never silently moves to another record
table_key = "cp_table_" + str(abs(hash((tactic, emotion, reason, status, search, str(f)))))
sel = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key=table_key,
)
ui.download_buttons(table, "投诉队列", "cp_dl")

rows = sel.selection.rows if sel else []
if rows:
    rec = queue.iloc[rows[0]]
    st.divider()
    st.subheader(f"详情 · {ui.escape(rec['response_id'])}")
    text = ui.revealed_response_text(rec["response_id"], rec["text"], key="cp_reveal")
    st.markdown(ui.highlighted_text(text), unsafe_allow_html=True)
    m = st.columns(4)
    m[0].metric(
        "情感",
        SENTIMENT_NAMES_ZH.get(rec["sentiment"], rec["sentiment"]),
        help=f"模型置信度 {rec['confidence']:.0%}",
    )
    m[1].metric("情感分", f"{rec['sentiment_score']:+.2f}")
    m[2].markdown(
        "**投诉原因**<br>"
        + ui.escape(ui.zh_list(rec["complaint_reasons"], COMPLAINT_REASON_NAMES_ZH)),
        unsafe_allow_html=True,
    )
    m[3].markdown(
        "**催收方式**<br>" + ui.escape(ui.zh_aspects(rec["aspects"])), unsafe_allow_html=True
    )
    with st.form("cp_review"):
        st.markdown("**复核**")
        action = st.radio(
            "动作",
            list(reviews.ACTIONS),
            horizontal=True,
            format_func=reviews.ACTIONS.get,
            key="cp_action",
        )
        fix = st.selectbox(
            "修正情感（可选）",
            [None, *SENTIMENTS],
            key="cp_fix",
            format_func=lambda v: "不修改" if v is None else SENTIMENT_NAMES_ZH[v],
        )
        note = st.text_input("备注", key="cp_note")
        assignee = st.text_input("指派给", key="cp_assignee")
        if st.form_submit_button("提交复核", type="primary"):
            access.add_review(
                ui.store(),
                ui.actor(),
                "response",
                rec["response_id"],
                action,
                sentiment=fix,
                note=note or None,
                assignee=assignee or None,
            )
            ui.data_changed()
            st.toast("已记录复核，图表已按复核结果更新。", icon="✅")
            st.session_state["cp_last_review"] = rec["response_id"]
            st.rerun()
    if st.session_state.get("cp_last_review") == rec["response_id"]:
        st.success("已记录复核，图表已按复核结果更新。")
    hist = reviews.history(ui.store(), rec["response_id"])
    if not hist.empty:
        st.dataframe(reviews.history_for_display(hist), hide_index=True, width="stretch")
