"""投诉复核：质检人员处理投诉队列，查看原文与模型标签，确认、纠正或指派。"""

import streamlit as st

from data import access, queries, reviews
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
from pages import _label_fix as label_fix
from pages import _session as session
from pages import _widgets as widgets

#: the review form's widgets, reset after each submit
REVIEW_KEYS = ("cp_action", "cp_fix", "cp_note", "cp_assignee")

session.require("review")
st.title("投诉复核")
widgets.demo_banner()
f = widgets.sidebar_filters()

c = st.columns([2, 2, 2, 2, 3])
tactic = widgets.optional_select(c[0], "催收方式", TACTIC_NAMES_ZH, "cp_tactic", url="tactic")
emotion = widgets.optional_select(c[1], "情绪", EMOTION_NAMES_ZH, "cp_emotion", url="emotion")
reasons = COMPLAINT_REASON_NAMES_ZH
reason = widgets.optional_select(c[2], "投诉原因", reasons, "cp_reason", url="reason")
statuses = {"unreviewed": "未复核", **reviews.ACTIONS}
status = widgets.optional_select(c[3], "复核状态", statuses, "cp_status", url="status")
widgets.seed_from_url("cp_search", widgets.url_value("q"))
search = c[4].text_input("全文搜索", key="cp_search", placeholder="如：通讯录 爆")
order = label_fix.order_select()
fetch = cache.uncertain_page if order == "uncertain" else cache.complaint_page

criteria = {"tactic": tactic, "emotion": emotion, "reason": reason, "status": status}
widgets.page_url({**criteria, "q": search})
page = widgets.pager(
    lambda offset, limit: fetch(f, **criteria, search=search or None, offset=offset, limit=limit),
    "cp_pg",
    reset_on=(criteria, search, f, order),
    noun="投诉" if order == "severity" else "记录",
    note=label_fix.NOTES[order],
)
queue = page.rows
effect = queries.review_effect(cache.store(), f)
share = effect["reviewed"] / effect["flagged"] if effect["flagged"] else 0.0
st.caption(
    f"已复核 {effect['reviewed']:,.0f} 条（占 {share:.0%}）。"
    f"采用复核结果：投诉 {effect['complaints']:,.0f} 条，负面占比 "
    f"{effect['negative_share']:.1%}；仅模型判断：投诉 {effect['model_complaints']:,.0f} 条，"
    f"负面占比 {effect['model_negative_share']:.1%}。"
)
table = label_fix.queue_table(queue, order)
# the key carries the filters and the page, so a selection never silently moves to another record
table_key = "cp_table_" + str(abs(hash((*criteria.values(), search, str(f), page.offset, order))))
if (handover := st.session_state.pop("cp_select_next", None)) is not None:
    # after a submitted review: the form starts from its defaults, the next record is selected
    for key in REVIEW_KEYS:
        st.session_state.pop(key, None)
    if handover[0] == table_key and handover[2]:
        st.session_state[table_key] = {"selection": {"rows": [handover[1]], "columns": []}}
    else:
        st.session_state.pop(table_key, None)
picked = widgets.pick_row(table, table_key)
widgets.download_buttons(table, "投诉队列", "cp_dl")

if (last := st.session_state.pop("cp_last_review", None)) is not None:
    moved_on = "已选中下一条" if picked is not None else "本页已无下一条"
    st.success(f"已记录复核（{last}），图表已按复核结果更新；{moved_on}。")

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
    # widgets reset after a submit (clear_on_submit), so a review never carries the last one's
    with st.form("cp_review", clear_on_submit=True):
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
        emotions, pairs = label_fix.label_fields(rec, rid)
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
                **label_fix.corrections(rec, emotions, pairs),
            )
            cache.data_changed()
            st.toast("已记录复核，图表已按复核结果更新。", icon="✅")
            st.session_state["cp_last_review"] = rid
            # the next record of this page is selected at the rerun (under 未复核 the reviewed
            # one leaves the queue, so the next one moves up into its row); a widget's state
            # can only be set before the widget is created, hence the hand-over key
            leaves = status == "unreviewed" or order == "uncertain"
            following = picked if leaves else picked + 1
            last_row = len(queue) - 1 - leaves
            st.session_state["cp_select_next"] = (table_key, following, following <= last_row)
            st.rerun()
    if not (hist := reviews.history(cache.store(), rid)).empty:
        st.dataframe(reviews.history_for_display(hist), hide_index=True, width="stretch")
