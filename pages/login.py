"""登录：用户名与密码（bcrypt 校验）；成功与失败都记入审计日志。

``show`` is registered by app.py under every page's address, so a deep link such as /calls
shows this form and, after the login, the page that was asked for.
"""

import streamlit as st

from data.auth import LOCKOUT_FAILURES, LOCKOUT_WINDOW
from pages import _session as session


def show() -> None:
    """The login form; on success the app reruns on the address the visitor asked for."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("借款人之声 · 登录")
        if st.session_state.pop("bv_session_ended", False):
            st.info("登录已失效（已退出、密码已修改或长时间未操作），请重新登录。")
        with st.form("login_form", clear_on_submit=True):
            username = st.text_input("用户名", key="login_user", autocomplete="username")
            password = st.text_input(
                "密码", type="password", key="login_password", autocomplete="current-password"
            )
            submitted = st.form_submit_button("登录", type="primary")
        if submitted:
            if session.login(username, password):
                st.rerun()
            st.error(
                f"用户名或密码不正确。连续失败 {LOCKOUT_FAILURES} 次后，该用户名将锁定 "
                f"{int(LOCKOUT_WINDOW.total_seconds() // 60)} 分钟。"
            )
        st.caption(
            "首次启动时，程序会创建系统管理员账号 admin，并把一次性密码打印在启动本程序的控制台中"
            "（或由环境变量 BV_ADMIN_PASSWORD 设定）。其他账号由系统管理员在「用户与设置」页添加。"
        )


if __name__ == "__main__":  # run as a page file (a fresh server before app.py's navigation)
    show()
