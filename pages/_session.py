"""Who is using the app: login, logout, the page guard, the account box in the sidebar, and
the first-start setup of a session.

Session state written here: ``bv_user`` (the logged-in user), ``bv_session`` (the token of
its server-side session, ``data.sessions``: checked on every run, so logout, a password change
and the idle timeout ``BV_SESSION_IDLE_MIN`` end it), ``bv_data_checked``; widget keys
``acct_*``.

A reload starts a new Streamlit session: it logs in from the HttpOnly ``bv_session`` cookie
(``st.context.cookies``, resolved against the same session table). The cookie is set and
cleared by ``server.py``'s HTTP route; :func:`sync_cookie` asks the browser to call it (after a
login: ``bv_cookie_ticket``; after logout or a lapsed session: ``bv_cookie_clear``). A cookie
that did not resolve is not tried again in that Streamlit session (``bv_cookie_spent``).
"""

from __future__ import annotations

import json
from datetime import timedelta

import streamlit as st

from data import access, auth, sessions
from data.auth import Actor
from data.settings import settings
from data.store import StoreBusy
from pages._cache import data_changed, store


def ensure_store() -> None:
    """Open the store, or stop the page with one line when another process holds the file
    (a command-line import or ``python -m data`` maintenance): reload once it has finished."""
    try:
        store()
    except StoreBusy as busy:
        st.error(busy.message("多半是命令行正在导入或维护数据；它结束后刷新本页即可。"), icon="⏳")
        st.stop()


def auth_enabled() -> bool:
    """False only for a single-user local install (``BV_AUTH=off``)."""
    return settings().auth


def session_actor() -> Actor | None:
    """The logged-in actor (role as the auth file says now), or None before login.

    With ``BV_AUTH=off`` everyone is ``auth.LOCAL_ACTOR`` (an admin).
    """
    if not auth_enabled():
        return auth.LOCAL_ACTOR
    user = st.session_state.get("bv_user") or _login_from_cookie()
    if not user:
        return None
    cfg = settings()
    idle = timedelta(minutes=cfg.session_idle_min)
    live = sessions.resolve(store(), st.session_state.get("bv_session"), idle) == user
    found = auth.current_actor(cfg.auth_file, user) if live else None
    if found is None:  # logged out elsewhere, password changed, idle too long, or removed
        st.session_state.pop("bv_user", None)
        st.session_state.pop("bv_session", None)
        st.session_state["bv_session_ended"] = True
        st.session_state["bv_cookie_spent"] = True
        st.session_state["bv_cookie_clear"] = True
    return found


def _cookie_key() -> str:
    """The key that signs the login cookie; stops the page when BV_SESSION_SECRET is unusable."""
    cfg = settings()
    try:
        return sessions.secret_key(cfg.session_secret, cfg.session_secret_file)
    except sessions.SessionKeyError as exc:
        st.error(str(exc))
        st.stop()


def browser_cookie() -> str | None:
    """The ``bv_session`` cookie the browser sent when this Streamlit session started."""
    return st.context.cookies.get(sessions.COOKIE_NAME)


def _login_from_cookie() -> str | None:
    """After a reload: the user of the browser's ``bv_session`` cookie, when it is validly
    signed, younger than ``BV_SESSION_MAX_HOURS`` and its server-side session is live."""
    raw = browser_cookie()
    if not raw or st.session_state.get("bv_cookie_spent"):
        return None
    cfg = settings()
    max_age = timedelta(hours=cfg.session_max_hours)
    token = sessions.token_from_cookie(raw, _cookie_key(), max_age)
    idle = timedelta(minutes=cfg.session_idle_min)
    user = sessions.resolve(store(), token, idle) if token else None
    if user is None:  # forged, too old, logged out, password changed or idle too long
        st.session_state["bv_cookie_spent"] = True
        st.session_state["bv_cookie_clear"] = True
        st.session_state["bv_session_ended"] = token is not None
        return None
    st.session_state["bv_user"] = user
    st.session_state["bv_session"] = token
    return user


def sync_cookie() -> None:
    """Have the browser ask the server to set or clear its HttpOnly login cookie.

    The cookie is written only by ``server.py``'s HTTP response (``Set-Cookie``); this script
    just sends the request (same origin), carrying the 60-second login ticket when setting.
    Without that route (``streamlit run app.py``) the request fails quietly and a reload logs out.
    """
    ticket = st.session_state.pop("bv_cookie_ticket", None)
    clear = st.session_state.pop("bv_cookie_clear", False)
    if not ticket and not clear:
        return
    method = "POST" if ticket else "DELETE"
    body = f", body: {json.dumps(ticket)}" if ticket else ""
    st.html(
        f"<script>fetch({json.dumps(sessions.COOKIE_ROUTE)}, {{method: {json.dumps(method)}, "
        f"credentials: 'same-origin', headers: {{'Content-Type': 'text/plain'}}{body}}})"
        ".catch(() => {});</script>",
        width="content",
        unsafe_allow_javascript=True,
    )


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
    ``st.navigation`` call of a fresh server process). A page a role may open for its own
    uploads only (``access.OWN_UPLOADS_ONLY``) passes here; the page narrows its queries.
    """
    ensure_store()
    who = session_actor()
    if who is None:
        ensure_admin_account()
        st.warning("请先登录。")
        st.link_button("前往登录", "./")
        st.stop()
    if must_change_password(who):
        st.warning("您正在使用一次性密码：修改密码后才能使用本系统。", icon="🔑")
        st.link_button("前往修改密码", "./")
        st.stop()
    if not access.may_open(who, permission):
        st.error(f"角色「{who.role_name}」无权访问此页面。")
        st.stop()
    return who


def ensure_admin_account() -> None:
    """First start with login on: create ``admin`` (one-time password on the console)."""
    cfg = settings()
    try:
        auth.ensure_admin(cfg.auth_file, store(), cfg.admin_password)
    except auth.AuthError as exc:  # BV_ADMIN_PASSWORD too short or too long
        st.error(f"无法创建系统管理员账号（BV_ADMIN_PASSWORD）：{exc}")
        st.stop()


def login(username: str, password: str) -> bool:
    """Check the password (audited either way); on success the session is logged in."""
    cfg = settings()
    who = auth.authenticate(store(), cfg.auth_file, username, password)
    if who is None:
        return False
    max_age = timedelta(hours=cfg.session_max_hours)
    token = sessions.create(store(), who.user, max_age)
    st.session_state["bv_session"] = token
    st.session_state["bv_user"] = who.user
    st.session_state["bv_cookie_ticket"] = sessions.handoff_ticket(token, _cookie_key())
    st.session_state.pop("bv_cookie_clear", None)
    st.session_state.pop("bv_session_ended", None)
    return True


def logout() -> None:
    """Audit the logout and forget the session: filters, selections, any revealed text; the
    server-side session is revoked and the browser is asked to drop its cookie."""
    who = session_actor()
    if who is not None and auth_enabled():
        sessions.revoke(store(), st.session_state.get("bv_session"), "logout")
        auth.log_logout(store(), who)
    st.session_state.clear()
    st.session_state["bv_cookie_spent"] = True  # this session's request still carries it
    st.session_state["bv_cookie_clear"] = True


def account_sidebar(who: Actor) -> None:
    """Who is logged in, log out, change password; or the BV_AUTH=off notice."""
    with st.sidebar:
        if not auth_enabled():
            st.caption(
                "🔓 **未启用登录**（BV_AUTH=off）：单用户本地模式，以系统管理员身份运行。"
                "多人使用请启用登录。"
            )
            return
        st.caption(f"👤 {who.user} · {who.role_name}")
        path = settings().auth_file
        if st.session_state.pop("acct_pw_changed", False):
            st.success("密码已修改；其他已登录的浏览器需要重新登录。")
        if auth.must_change_password(path, who.user):
            st.warning("您正在使用一次性密码，请尽快修改。", icon="🔑")
        with st.expander("账号"):
            _password_form(who)
            st.button("退出登录", key="acct_logout", on_click=logout)


def must_change_password(who: Actor) -> bool:
    """True while a logged-in user still has a one-time password (login on only)."""
    return auth_enabled() and auth.must_change_password(settings().auth_file, who.user)


def _password_form(who: Actor) -> None:
    """Change the password (widget keys ``acct_*``); reruns once it is changed."""
    with st.form("acct_pw", clear_on_submit=True):
        old = st.text_input("当前密码", type="password", key="acct_old")
        new = st.text_input(
            f"新密码（至少 {auth.MIN_PASSWORD_LEN} 位）", type="password", key="acct_new"
        )
        again = st.text_input("再次输入新密码", type="password", key="acct_again")
        if st.form_submit_button("修改密码", type="primary"):
            try:
                if new != again:
                    raise auth.AuthError("两次输入的新密码不一致")
                auth.change_password(store(), settings().auth_file, who, old, new)
            except auth.AuthError as exc:
                st.error(str(exc))
            else:  # other browsers logged in as this user must log in again
                token = st.session_state.get("bv_session")
                sessions.revoke_user(store(), who.user, "password_change", keep=token)
                st.session_state["acct_pw_changed"] = True
                st.rerun()  # the one-time password warning goes at once


def forced_password_change() -> None:
    """The only page of a user with a one-time password: change it first (app.py registers
    it at every page's address, so the rerun after the change lands on the page asked for)."""
    who = actor()
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("请先修改一次性密码")
        st.warning(f"「{who.user}」正在使用一次性密码。修改密码后才能使用本系统。", icon="🔑")
        _password_form(who)
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
