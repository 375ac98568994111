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
from pages import _cache as cache
from pages import _detail as detail
from pages import _format as fmt
from pages import _html as html
from pages import _session as session
from pages import _widgets as widgets

session.require("review")
st.title("投诉复核")
widgets.demo_banner()
f = widgets.sidebar_filters()

c = st.columns([2, 2, 2, 2, 3])
tactic = widgets.optional_select(c[0], "催收方式", TACTIC_NAMES_ZH, "cp_tactic")
emotion = widgets.optional_select(c[1], "情绪", EMOTION_NAMES_ZH, "cp_emotion")
reason = widgets.optional_select(c[2], "投诉原因", COMPLAINT_REASON_NAMES_ZH, "cp_reason")
statuses = {"unreviewed": "未复核", **reviews.ACTIONS}
status = widgets.optional_select(c[3], "复核状态", statuses, "cp_status")
search = c[4].text_input("全文搜索", key="cp_search", placeholder="如：通讯录 爆")

criteria = {"tactic": tactic, "emotion": emotion, "reason": reason, "status": status}
page = widgets.pager(
    lambda offset, limit: cache.complaint_page(
        f, **criteria, search=search or None, offset=offset, limit=limit
    ),
    "cp_pg",
    reset_on=(criteria, search, f),
    noun="投诉",
    note="按严重程度、时间排序；选中一行查看详情。",
)
queue = page.rows
table = fmt.queue_for_display(queue)
# the key carries the filters and the page, so a selection never silently moves to another record
table_key = "cp_table_" + str(abs(hash((*criteria.values(), search, str(f), page.offset))))
picked = widgets.pick_row(table, table_key)
widgets.download_buttons(table, "投诉队列", "cp_dl")

if picked is not None:
    rec = queue.iloc[picked]
    rid = rec["response_id"]
    st.divider()
    st.subheader(f"详情 · {html.escape(rid)}")
    text = detail.revealed_response_text(rid, rec["text"], key="cp_reveal")
    st.markdown(html.highlighted_text(text), unsafe_allow_html=True)
    m = st.columns(4)
    m[0].metric(
        "情感",
        SENTIMENT_NAMES_ZH.get(rec["sentiment"], rec["sentiment"]),
        help=f"模型置信度 {rec['confidence']:.0%}",
    )
    m[1].metric("情感分", f"{rec['sentiment_score']:+.2f}")
    reasons = fmt.zh_list(rec["complaint_reasons"], COMPLAINT_REASON_NAMES_ZH)
    m[2].markdown("**投诉原因**<br>" + html.escape(reasons), unsafe_allow_html=True)
    aspects = fmt.zh_aspects(rec["aspects"])
    m[3].markdown("**催收方式**<br>" + html.escape(aspects), unsafe_allow_html=True)
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
                cache.store(),
                session.actor(),
                "response",
                rid,
                action,
                sentiment=fix,
                note=note or None,
                assignee=assignee or None,
            )
            cache.data_changed()
            st.toast("已记录复核，图表已按复核结果更新。", icon="✅")
            st.session_state["cp_last_review"] = rid
            st.rerun()
    if st.session_state.get("cp_last_review") == rid:
        st.success("已记录复核，图表已按复核结果更新。")
    if not (hist := reviews.history(cache.store(), rid)).empty:
        st.dataframe(reviews.history_for_display(hist), hide_index=True, width="stretch")
