"""用户与设置：系统管理员添加用户、修改角色、重置密码，并查看当前设置。"""

from collections.abc import Callable

import streamlit as st

from data import auth
from data.settings import settings
from pages import _cache as cache
from pages import _format as fmt
from pages import _session as session

actor = session.require("manage_users")
st.title("用户与设置")
cfg = settings()
tab_users, tab_roles, tab_settings = st.tabs(["用户", "角色权限", "设置"])


def apply(change: Callable[[], str | None], message: str, show_secret: bool = False) -> None:
    """Run an account change; on success show ``message`` (and the one-time password) after
    the rerun, on an AuthError show why."""
    try:
        secret = change()
    except auth.AuthError as exc:
        st.error(str(exc))
        return
    st.session_state["ad_flash"] = (message, secret if show_secret else None)
    st.rerun()


with tab_users:
    if flash := st.session_state.pop("ad_flash", None):  # from the run that made the change
        st.success(flash[0])
        if flash[1]:
            st.code(flash[1], language=None)
    if not cfg.auth:
        st.info("当前未启用登录（BV_AUTH=off）。此处添加的用户在启用登录后生效。")
    users = auth.list_users(cfg.auth_file, actor)
    st.dataframe(fmt.users_table(users), hide_index=True, width="stretch", key="ad_users")
    names = [u["username"] for u in users]
    roles = list(auth.ROLES)
    c1, c2, c3 = st.columns(3)
    with c1, st.form("ad_add", clear_on_submit=True):
        st.markdown("**添加用户**")
        new_name = st.text_input("用户名", key="ad_new_name", placeholder="如 zhang.wei")
        new_role = st.selectbox("角色", roles, format_func=auth.ROLES.get, key="ad_new_role")
        if st.form_submit_button("添加", type="primary"):
            apply(
                lambda: auth.add_user(cache.store(), cfg.auth_file, actor, new_name, new_role),
                f"已添加 {new_name.strip().lower()}。一次性密码（只显示这一次）：",
                show_secret=True,
            )
    with c2, st.form("ad_role"):
        st.markdown("**修改角色**")
        who = st.selectbox("用户", names, key="ad_role_user")
        role = st.selectbox("新角色", roles, format_func=auth.ROLES.get, key="ad_role_role")
        if st.form_submit_button("保存") and who:
            apply(
                lambda: auth.set_role(cache.store(), cfg.auth_file, actor, who, role),
                f"{who} 现在是{auth.ROLES[role]}（其下次操作时生效）。",
            )
    with c3, st.form("ad_reset"):
        st.markdown("**重置密码**")
        who = st.selectbox("用户", names, key="ad_reset_user")
        if st.form_submit_button("生成一次性密码") and who:
            apply(
                lambda: auth.reset_password(cache.store(), cfg.auth_file, actor, who),
                f"{who} 的一次性密码（只显示这一次）：",
                show_secret=True,
            )

with tab_roles:
    st.caption("页面按角色显示；数据层对写入和未脱敏原文再次检查角色。")
    st.dataframe(fmt.permissions_table(), width="stretch", key="ad_matrix")

with tab_settings:
    st.caption("设置来自环境变量（见 .env.example），修改后重启生效。")
    st.dataframe(fmt.settings_table(cfg), hide_index=True, width="stretch", key="ad_settings")
