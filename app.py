"""借款人之声 Borrower Voice: the Streamlit entry point (page config, login, role-based navigation).

``st.navigation`` registers only the pages the session's role may use, so a page that is not
listed cannot be opened by URL either. The data layer checks the role again (``data.access``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

st.set_page_config(page_title="借款人之声", page_icon="🗣️", layout="wide")

from data.access import may_open  # noqa: E402
from pages import _alert_widgets as alerts_nav  # noqa: E402
from pages import _session as session  # noqa: E402  (set_page_config must run first)

# section, page file, title, icon, the permission that shows it (data.auth.PERMISSIONS; a
# researcher also gets 通话质检 for the calls they uploaded: data.access.OWN_UPLOADS_ONLY)
PAGES = [
    ("管理看板", "pages/overview.py", "总览", "📊", "view_dashboard"),
    ("质检", "pages/warnings.py", "预警", "🚨", "handle_warnings"),
    ("质检", "pages/complaints.py", "投诉复核", "🧾", "review"),
    ("质检", "pages/calls.py", "通话质检", "📞", "view_calls"),
    ("研究", "pages/upload.py", "数据上传", "📤", "upload"),
    ("研究", "pages/model.py", "模型评估", "🧪", "evaluate_model"),
    ("系统管理", "pages/admin.py", "用户与设置", "🛡️", "manage_users"),
    ("系统管理", "pages/audit.py", "审计日志", "📜", "view_audit"),
]

session.ensure_store()
actor = session.session_actor()  # after a reload: from the HttpOnly login cookie
session.sync_cookie()  # set it after a login, clear it after logout
if actor is None:
    session.ensure_admin_account()
    # The login form answers at every page's address: after logging in, the rerun lands on the
    # page the visitor asked for (a deep link such as /calls), not on the default page.
    from pages.login import show as login_form

    login_pages = [st.Page(login_form, title="登录", icon="🔐", default=True)] + [
        st.Page(login_form, title="登录", icon="🔐", url_path=Path(path).stem)
        for _, path, *_ in PAGES
    ]
    st.navigation(login_pages, position="hidden").run()
elif session.must_change_password(actor):
    # A one-time password is changed before any page opens: the form answers at every address
    change = session.forced_password_change
    change_pages = [st.Page(change, title="修改密码", icon="🔑", default=True)] + [
        st.Page(change, title="修改密码", icon="🔑", url_path=Path(path).stem)
        for _, path, *_ in PAGES
    ]
    st.navigation(change_pages, position="hidden").run()
else:
    session.ensure_data()
    sections: dict[str, list] = {}
    for section, path, title, icon, permission in PAGES:
        if may_open(actor, permission):
            sections.setdefault(section, []).append(
                st.Page(path, title=title, icon=icon, default=not sections)
            )
    if (alerts_page := alerts_nav.nav_page(actor)) is not None:  # 告警 (3): the unread count
        sections.setdefault("质检", []).append(alerts_page)
    session.account_sidebar(actor)
    st.navigation(sections).run()
