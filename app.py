"""借款人之声 Borrower Voice: the Streamlit entry point (page config, login, role-based navigation).

``st.navigation`` registers only the pages the session's role may use, so a page that is not
listed cannot be opened by URL either. The data layer checks the role again (``data.access``).
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="借款人之声", page_icon="🗣️", layout="wide")

from pages import _session as session  # noqa: E402  (set_page_config must run first)

# section, page file, title, icon, the permission that shows it (data.auth.PERMISSIONS)
PAGES = [
    ("管理看板", "pages/overview.py", "总览", "📊", "view_dashboard"),
    ("质检", "pages/complaints.py", "投诉复核", "🧾", "review"),
    ("质检", "pages/calls.py", "通话质检", "📞", "view_calls"),
    ("研究", "pages/upload.py", "数据上传", "📤", "upload"),
    ("研究", "pages/model.py", "模型评估", "🧪", "evaluate_model"),
    ("管理员", "pages/admin.py", "用户与设置", "🛡️", "manage_users"),
    ("管理员", "pages/audit.py", "审计日志", "📜", "view_audit"),
]

actor = session.session_actor()
if actor is None:
    session.ensure_admin_account()
    st.navigation([st.Page("pages/login.py", title="登录", icon="🔐")], position="hidden").run()
else:
    session.ensure_data()
    sections: dict[str, list] = {}
    for section, path, title, icon, permission in PAGES:
        if actor.can(permission):
            sections.setdefault(section, []).append(
                st.Page(path, title=title, icon=icon, default=not sections)
            )
    session.account_sidebar(actor)
    st.navigation(sections).run()
