"""借款人之声 Borrower Voice: the Streamlit entry point (page config + navigation)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="借款人之声", page_icon="🗣️", layout="wide")

from pages._ui import ensure_data  # noqa: E402  (set_page_config must run first)

ensure_data()

pages = {
    "管理看板": [st.Page("pages/overview.py", title="总览", icon="📊", default=True)],
    "质检": [
        st.Page("pages/complaints.py", title="投诉复核", icon="🧾"),
        st.Page("pages/calls.py", title="通话质检", icon="📞"),
    ],
    "研究": [
        st.Page("pages/upload.py", title="数据上传", icon="📤"),
        st.Page("pages/model.py", title="模型评估", icon="🧪"),
    ],
}
st.navigation(pages).run()
