"""Who is using the app: login, logout, the page guard, the account box in the sidebar, and
the first-start setup of a session.

Session state written here: ``bv_user`` (the logged-in user), ``bv_data_checked``; widget
keys ``acct_*``.
"""

from __future__ import annotations

import streamlit as st

from data import auth
from data.auth import Actor
from data.settings import settings
from pages._cache import data_changed, store


def auth_enabled() -> bool:
    """False only for a single-user local install (``BV_AUTH=off``)."""
    return settings().auth


def session_actor() -> Actor | None:
    """The logged-in actor (role as the auth file says now), or None before login.

    With ``BV_AUTH=off`` everyone is ``auth.LOCAL_ACTOR`` (an admin).
    """
    if not auth_enabled():
        return auth.LOCAL_ACTOR
    user = st.session_state.get("bv_user")
    found = auth.current_actor(settings().auth_file, user) if user else None
    if user and found is None:  # removed from the auth file meanwhile
        st.session_state.pop("bv_user", None)
    return found


def actor() -> Actor:
    """The current actor; stops the page when nobody is logged in."""
    who = session_actor()
    if who is None:
        st.warning("请先登录。")
        st.stop()
    return who


def require(permission: str) -> Actor:
    """The first call of every page: the actor, or the page stops here.

    ``st.navigation`` already leaves out pages a role may not use; this also covers a page that
    runs without app.py (Streamlit runs ``pages/*.py`` directly until the first
    ``st.navigation`` call of a fresh server process).
    """
    who = session_actor()
    if who is None:
        ensure_admin_account()
        st.warning("请先登录。")
        st.link_button("前往登录", "./")
        st.stop()
    if not who.can(permission):
        st.error(f"角色「{who.role_name}」无权访问此页面。")
        st.stop()
    return who


def ensure_admin_account() -> None:
    """First start with login on: create ``admin`` (one-time password on the console)."""
    cfg = settings()
    try:
        auth.ensure_admin(cfg.auth_file, store(), cfg.admin_password)
    except auth.AuthError as exc:  # BV_ADMIN_PASSWORD too short or too long
        st.error(f"无法创建管理员账号（BV_ADMIN_PASSWORD）：{exc}")
        st.stop()


def login(username: str, password: str) -> bool:
    """Check the password (audited either way); on success the session is logged in."""
    who = auth.authenticate(store(), settings().auth_file, username, password)
    if who is None:
        return False
    st.session_state["bv_user"] = who.user
    return True


def logout() -> None:
    """Audit the logout and forget the session: filters, selections, any revealed text."""
    who = session_actor()
    if who is not None and auth_enabled():
        auth.log_logout(store(), who)
    st.session_state.clear()


def account_sidebar(who: Actor) -> None:
    """Who is logged in, log out, change password; or the BV_AUTH=off notice."""
    with st.sidebar:
        if not auth_enabled():
            st.caption(
                "🔓 **未启用登录**（BV_AUTH=off）：单用户本地模式，以管理员身份运行。"
                "多人使用请启用登录。"
            )
            return
        st.caption(f"👤 {who.user} · {who.role_name}")
        path = settings().auth_file
        if auth.must_change_password(path, who.user):
            st.warning("您正在使用一次性密码，请尽快修改。", icon="🔑")
        with st.expander("账号"):
            with st.form("acct_pw", clear_on_submit=True):
                old = st.text_input("当前密码", type="password", key="acct_old")
                new = st.text_input(
                    f"新密码（至少 {auth.MIN_PASSWORD_LEN} 位）", type="password", key="acct_new"
                )
                again = st.text_input("再次输入新密码", type="password", key="acct_again")
                if st.form_submit_button("修改密码"):
                    try:
                        if new != again:
                            raise auth.AuthError("两次输入的新密码不一致")
                        auth.change_password(store(), path, who, old, new)
                        st.success("密码已修改。")
                    except auth.AuthError as exc:
                        st.error(str(exc))
            st.button("退出登录", key="acct_logout", on_click=logout)


def ensure_data() -> None:
    """On first start with an empty store, load the demo dataset with a progress bar."""
    from data.demo_loader import ensure_demo, has_data

    if st.session_state.get("bv_data_checked"):
        return
    s = store()
    if settings().demo and not has_data(s):
        bar = st.progress(0.0, text="首次启动：正在为示例数据评分……")

        def progress(done: int, total: int) -> None:
            bar.progress(
                min(1.0, done / max(total, 1)),
                text=f"首次启动：正在为示例数据评分 {done:,}/{total:,}",
            )

        ensure_demo(s, progress=progress)
        bar.empty()
        data_changed()
    st.session_state["bv_data_checked"] = True
