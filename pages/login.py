"""登录：用户名与密码（bcrypt 校验）；成功与失败都记入审计日志。"""

import streamlit as st

from data.auth import LOCKOUT_FAILURES, LOCKOUT_WINDOW
from pages import _session as session

_, middle, _ = st.columns([1, 2, 1])
with middle:
    st.title("借款人之声 · 登录")
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
        "首次启动时，程序会创建管理员账号 admin，并把一次性密码打印在启动本程序的控制台中"
        "（或由环境变量 BV_ADMIN_PASSWORD 设定）。其他账号由管理员在「用户与设置」页添加。"
    )
