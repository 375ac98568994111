"""AppTest with login on: the login form, the pages each role gets, masked records, the audited
显示原文 action, uploaded HTML shown as text, and the admin pages.

The store is a real DuckDB file with a small demo dataset plus one survey answer and one call
that carry personal data (and a <script> turn); the users are real bcrypt hashes in a real auth
file (cheap rounds, so a login takes milliseconds).
"""

from __future__ import annotations

import html
import json
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
ALL_PAGES = {
    "pages/overview.py": "总览",
    "pages/complaints.py": "投诉复核",
    "pages/calls.py": "通话质检",
    "pages/upload.py": "数据上传",
    "pages/model.py": "模型评估",
    "pages/admin.py": "用户与设置",
    "pages/audit.py": "审计日志",
}
PASSWORDS = {
    "admin": "admin-password-1",
    "mgr": "manager-pw-12",
    "res": "research-pw-12",
    "qa1": "quality-pw-12",
}
PHONE = "13812345678"
SURVEY = (
    "回答内容,提交日期,满意度,产品,地区\n"
    f"催收天天打电话骚扰我家人，还威胁要上门，我要去投诉！我是王强，电话{PHONE},2030-01-03,1,"
    "个人消费贷,北京\n"
).encode()
CALL = {
    "call_id": "pii-c1",
    "borrower_id": "B9",
    "agent_id": "A-PII",
    "team": "M1组",
    "started_at": "2030-01-02T10:12:00+08:00",
    "duration_s": 60,
    "outcome": "no_answer",
    "turns": [
        {"speaker": "agent", "text": "喂，请问是李娜女士吗？"},
        {"speaker": "borrower", "text": "<script>alert('x')</script>你们这是骚扰，我要投诉"},
        {"speaker": "agent", "text": f"李娜女士欠我们八千块不还，让她打{PHONE}"},
    ],
}

RESEARCHER_CALL = {
    **CALL,
    "call_id": "res-c1",
    "agent_id": "A-RES",
    "turns": [
        {"speaker": "agent", "text": "刘芳你好，我是信和金融的催收专员孙磊。"},
        {"speaker": "borrower", "text": f"别打了，我的电话{PHONE}你们给了谁？"},
    ],
}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    from data import auth
    from data.demo_loader import ensure_demo
    from data.ingest import ingest_calls_bytes, ingest_survey_bytes
    from data.store import open_store

    folder = tmp_path_factory.mktemp("roles")
    db, auth_file = folder / "bv.duckdb", folder / "auth.yaml"
    mp = pytest.MonkeyPatch()
    mp.setenv("BV_SENTIMENT_MODEL", "lexicon")
    mp.setattr(auth, "BCRYPT_ROUNDS", 4)
    store = open_store(db)
    ensure_demo(store, model="lexicon", n_surveys=300, n_calls=30)
    ingest_survey_bytes(store, SURVEY, "pii.csv", uploaded_by="fixture")
    ingest_calls_bytes(
        store,
        (json.dumps(CALL, ensure_ascii=False) + "\n").encode(),
        "pii.jsonl",
        uploaded_by="fixture",
    )
    ingest_calls_bytes(  # a batch the researcher uploaded: the only calls they may see
        store,
        (json.dumps(RESEARCHER_CALL, ensure_ascii=False) + "\n").encode(),
        "res.jsonl",
        uploaded_by="res",
    )
    auth.ensure_admin(auth_file, store, password=PASSWORDS["admin"])
    admin = auth.Actor("admin", "admin")
    for user, role in (("mgr", "manager"), ("res", "researcher"), ("qa1", "qa")):
        auth.add_user(store, auth_file, admin, user, role, PASSWORDS[user])
    mp.undo()
    yield {
        "BV_DB_PATH": str(db),
        "BV_AUTH_FILE": str(auth_file),
        "BV_AUTH": "on",
        "BV_DEMO": "0",
        "BV_SENTIMENT_MODEL": "lexicon",
        "BV_ADMIN_PASSWORD": "",
    }


@pytest.fixture(autouse=True)
def fresh(env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    st.cache_data.clear()
    st.cache_resource.clear()


def audit(action: str):
    from data.store import open_store

    return open_store().query("SELECT * FROM audit_log WHERE action = ? ORDER BY ts", [action])


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def login(user: str, password: str | None = None) -> AppTest:
    at = start()
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password or PASSWORDS[user])
    at.button[0].click().run()  # the login form answers at "/": the rerun opens 总览
    assert not at.exception, [e.message for e in at.exception]
    return at


def visible_pages(at: AppTest) -> set[str]:
    """Titles of the pages st.navigation registered for this session (switch_page refuses the
    others)."""
    titles = set()
    for path, title in ALL_PAGES.items():
        try:
            at.switch_page(path)
        except ValueError:
            continue
        titles.add(title)
    return titles


def go(at: AppTest, path: str) -> AppTest:
    at.switch_page(path).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


# --------------------------------------------------------------------------- login
def test_the_login_form_is_all_a_visitor_sees():
    at = start()
    assert [t.value for t in at.title] == ["借款人之声 · 登录"]
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert not at.metric and not at.dataframe
    assert visible_pages(at) == set()


def test_a_wrong_password_is_refused_and_audited():
    before = len(audit("login_failed"))
    at = start()
    at.text_input(key="login_user").input("mgr")
    at.text_input(key="login_password").input("not-the-password")
    at.button[0].click().run()
    assert any("不正确" in e.value for e in at.error)
    assert [t.value for t in at.title] == ["借款人之声 · 登录"]
    failed = audit("login_failed")
    assert len(failed) == before + 1 and failed["target"].iloc[-1] == "mgr"


# --------------------------------------------------------------------------- roles
@pytest.mark.parametrize(
    ("user", "pages"),
    [
        ("mgr", {"总览", "通话质检"}),
        ("res", {"总览", "通话质检", "数据上传", "模型评估"}),
        ("qa1", {"总览", "投诉复核", "通话质检"}),
        ("admin", set(ALL_PAGES.values())),
    ],
)
def test_navigation_shows_only_the_pages_of_the_role(user, pages):
    at = login(user)
    assert [t.value for t in at.title] == ["借款人之声 · 总览"]
    assert any(user in c.value for c in at.sidebar.caption)
    assert visible_pages(at) == pages


def test_manager_sees_masked_phone_numbers_in_the_records_table():
    at = login("mgr")
    key = next(d.key for d in at.dataframe if d.key and d.key.startswith("ov_records_"))
    table = at.dataframe(key=key).value
    texts = " ".join(table["回答"])
    assert "138****5678" in texts and "我是王*" in texts
    assert PHONE not in texts and "王强" not in texts


def test_a_hidden_page_run_directly_still_refuses_the_role():
    from data import sessions
    from data.store import open_store

    at = AppTest.from_file(str(ROOT / "pages/upload.py"), default_timeout=60)
    at.session_state["bv_user"] = "mgr"
    at.session_state["bv_session"] = sessions.create(open_store(), "mgr")
    at.run()
    assert any("无权访问" in e.value for e in at.error)
    assert not at.get("file_uploader")
    anonymous = AppTest.from_file(str(ROOT / "pages/overview.py"), default_timeout=60).run()
    assert any("请先登录" in w.value for w in anonymous.warning)
    assert not anonymous.metric


def _open_pii_call(at: AppTest) -> AppTest:
    go(at, "pages/calls.py")
    at.selectbox(key="cl_agent").set_value("A-PII").run()
    table = next(d.key for d in at.dataframe if d.key and d.key.startswith("cl_table_"))
    at.session_state[table] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _conversation(at: AppTest, raw: bool = False) -> str:
    """The chat HTML of the selected call, as the browser shows its text (entities decoded)."""
    markup = next(m.value for m in at.markdown if "第 1 轮" in m.value)
    return markup if raw else html.unescape(markup)


def test_manager_sees_masked_call_turns_without_a_reveal_button():
    at = _open_pii_call(login("mgr"))
    chat = _conversation(at)
    assert "李*女士" in chat and "李娜" not in chat and PHONE not in chat
    assert not [b for b in at.button if b.label == "显示原文"]


def test_qa_reveals_the_original_call_and_it_is_audited():
    before = len(audit("unmask"))
    at = _open_pii_call(login("qa1"))
    assert "李娜" not in _conversation(at)
    at.button(key="cl_reveal_show").click().run()
    assert "李娜" in _conversation(at)
    assert any("已记入审计日志" in c.value for c in at.caption)
    unmask = audit("unmask")
    assert len(unmask) == before + 1
    assert (unmask["actor"].iloc[-1], unmask["target"].iloc[-1]) == ("qa1", "pii-c1")


def test_uploaded_script_renders_as_text():
    at = _open_pii_call(login("qa1"))
    markup = _conversation(at, raw=True)
    assert "<script" not in markup.lower()
    assert "&#60;script&#62;alert&#40;&#39;x&#39;&#41;&#60;/script&#62;" in markup
    assert "<script>alert('x')</script>你们这是骚扰" in _conversation(at)  # shown as text


def test_researcher_sees_only_own_call_batches_masked_and_read_only():
    at = go(login("res"), "pages/calls.py")
    assert any("只显示您本人上传的通话批次" in i.value for i in at.info)
    table = next(d for d in at.dataframe if d.key and d.key.startswith("cl_table_"))
    assert table.value["通话"].tolist() == ["res-c1"]  # not the demo calls, not pii-c1
    card = next(d.value for d in at.dataframe if "每百通违规" in d.value.columns)
    assert card["坐席"].tolist() == ["A-RES"]
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    chat = _conversation(at)
    assert "刘*你好" in chat and "孙*" in chat and "138****5678" in chat
    assert "刘芳" not in chat and "孙磊" not in chat and PHONE not in chat
    assert not [b for b in at.button if b.label in ("显示原文", "提交复核")]
    assert not at.get("form")


def test_researcher_cannot_widen_the_view_with_the_batch_filter():
    from data.access import calls_filters
    from data.auth import Actor
    from data.queries import Filters
    from data.store import open_store

    store, res = open_store(), Actor("res", "researcher")
    others = store.query("SELECT batch_id FROM batches WHERE uploaded_by <> 'res'")["batch_id"]
    assert calls_filters(store, res, Filters(batches=tuple(others))) is None
    [own] = calls_filters(store, res, Filters()).batches
    assert store.scalar("SELECT uploaded_by FROM batches WHERE batch_id = ?", [own]) == "res"
    assert calls_filters(store, Actor("qa1", "qa"), Filters()) == Filters()


def test_qa_still_sees_every_call():
    from data.store import open_store

    at = go(login("qa1"), "pages/calls.py")
    assert not any("本人上传" in i.value for i in at.info)
    caption = next(c.value for c in at.caption if c.value.startswith("共 "))
    assert f"共 {open_store().scalar('SELECT count(*) FROM calls'):,} 通电话" in caption


# --------------------------------------------------------------------------- admin
def test_admin_adds_a_user_and_the_audit_page_shows_it():
    at = go(login("admin"), "pages/admin.py")
    at.text_input(key="ad_new_name").input("zhao.lei")
    at.selectbox(key="ad_new_role").set_value("researcher")
    next(b for b in at.button if b.label == "添加").click().run()
    assert any("已添加 zhao.lei" in s.value for s in at.success)
    assert at.code and len(at.code[0].value) >= 16  # the one-time password, shown once
    users = next(d.value for d in at.dataframe if "用户名" in d.value.columns)
    assert "zhao.lei" in users["用户名"].tolist()

    go(at, "pages/audit.py")
    log = at.dataframe[0].value
    assert {"登录", "新增用户"} <= set(log["操作"])
    at.multiselect(key="au_actions").set_value(["user_add"]).run()
    log = at.dataframe[0].value
    assert set(log["操作"]) == {"新增用户"} and "zhao.lei" in log["对象"].tolist()


def test_logout_returns_to_the_login_form():
    at = login("res")
    token = at.session_state["bv_session"]
    at.button(key="acct_logout").click().run()
    # A browser reruns app.py at the same address; AppTest replays the last page file.
    at.switch_page("app.py").run()
    assert [t.value for t in at.title] == ["借款人之声 · 登录"]
    assert audit("logout")["actor"].tolist()[-1] == "res"
    from data import sessions
    from data.store import open_store

    assert sessions.resolve(open_store(), token, timedelta(hours=1)) is None  # revoked


def test_a_revoked_session_ends_on_the_login_form_at_the_next_run():
    at = login("qa1")
    from data import sessions
    from data.store import open_store

    sessions.revoke_user(open_store(), "qa1", "password_change")  # e.g. changed in another tab
    at.run()
    assert any("请先登录" in w.value for w in at.warning) and not at.metric
    assert "bv_user" not in at.session_state
    at.switch_page("app.py").run()  # a browser reruns app.py: the form says why
    assert [t.value for t in at.title] == ["借款人之声 · 登录"]
    assert any("登录已失效" in i.value for i in at.info)


def test_auth_off_says_so_in_the_sidebar(monkeypatch):
    monkeypatch.setenv("BV_AUTH", "off")
    at = start()
    assert [t.value for t in at.title] == ["借款人之声 · 总览"]
    assert any("未启用登录" in c.value for c in at.sidebar.caption)
    assert visible_pages(at) == set(ALL_PAGES.values())


# --------------------------------------------------------------------------- the login cookie
def _cookie_key(env) -> str:
    from data import sessions

    return sessions.secret_key("", Path(env["BV_AUTH_FILE"]).parent / "session.key")


def _cookie_requests(at: AppTest) -> list[str]:
    """The bodies of the st.html scripts that ask the server to set or clear the cookie."""
    return [h.value for h in at.html if "/_bv/session" in h.value]


def _with_cookie(monkeypatch, value: str | None) -> AppTest:
    """A new Streamlit session (a reload) whose browser sends ``value`` as the login cookie
    (AppTest cannot seed st.context.cookies, so the one function that reads it is replaced)."""
    from pages import _session

    monkeypatch.setattr(_session, "browser_cookie", lambda: value)
    return start()


def test_login_asks_the_server_to_set_the_cookie_with_a_short_lived_ticket(env):
    from data import sessions

    at = login("mgr")
    [script] = _cookie_requests(at)
    assert 'method: "POST"' in script and "credentials: 'same-origin'" in script
    ticket = json.loads(script.split("body: ", 1)[1].split("}", 1)[0])
    key = _cookie_key(env)
    assert sessions.token_from_ticket(ticket, key) == at.session_state["bv_session"]
    assert sessions.token_from_cookie(ticket, key, timedelta(hours=1)) is None  # not a cookie
    at.run()
    assert _cookie_requests(at) == []  # asked once


def test_a_reload_with_the_cookie_is_still_logged_in_on_the_same_page(env, monkeypatch):
    from data import sessions

    first = go(login("qa1"), "pages/complaints.py")
    cookie = sessions.cookie_value(first.session_state["bv_session"], _cookie_key(env))
    at = _with_cookie(monkeypatch, cookie)
    assert at.session_state["bv_user"] == "qa1"
    assert "login_user" not in [w.key for w in at.text_input]  # no login form
    assert any("qa1" in c.value for c in at.sidebar.caption)
    assert _cookie_requests(at) == []  # the cookie is kept as it is
    go(at, "pages/complaints.py")  # the page a reload of /complaints reruns
    assert [t.value for t in at.title] == ["投诉复核"]


@pytest.mark.parametrize("ending", ["logout", "password_reset", "forged", "expired"])
def test_a_cookie_whose_session_ended_shows_the_login_form_and_is_cleared(env, monkeypatch, ending):
    from data import sessions
    from data.store import open_store

    first = login("res")
    token = first.session_state["bv_session"]
    key = _cookie_key(env)
    cookie = sessions.cookie_value(token, key)
    if ending == "logout":
        first.button(key="acct_logout").click().run()
        first.switch_page("app.py").run()  # a browser reruns app.py (see the logout test)
        assert any('method: "DELETE"' in s for s in _cookie_requests(first))
    elif ending == "password_reset":
        sessions.revoke_user(open_store(), "res", "password_reset")
    elif ending == "forged":
        cookie = sessions.cookie_value(token, "another-key-" + "x" * 32)
    else:
        import time
        from types import SimpleNamespace

        import itsdangerous.timed

        monkeypatch.setenv("BV_SESSION_MAX_HOURS", "1")  # the cookie reads two hours old
        monkeypatch.setattr(
            itsdangerous.timed, "time", SimpleNamespace(time=lambda: time.time() + 7200)
        )
    at = _with_cookie(monkeypatch, cookie)
    assert [t.value for t in at.title] == ["借款人之声 · 登录"]
    assert "bv_user" not in at.session_state
    assert any('method: "DELETE"' in s for s in _cookie_requests(at))
    ended = any("登录已失效" in i.value for i in at.info)
    assert ended == (ending in ("logout", "password_reset"))  # a forged or stale one: silent


# --------------------------------------------------------------------------- one-time passwords


def test_a_one_time_password_must_be_changed_before_any_page_opens(env):
    from data import auth, sessions
    from data.store import open_store

    path = Path(env["BV_AUTH_FILE"])
    admin = auth.Actor("admin", "admin")
    secret = auth.add_user(open_store(), path, admin, "otp", "qa")  # a one-time password
    assert auth.must_change_password(path, "otp")

    at = login("otp", secret)
    assert [t.value for t in at.title] == ["请先修改一次性密码"]
    assert any("一次性密码" in w.value for w in at.warning)
    assert visible_pages(at) == set()  # no page file is registered until the change
    assert not at.dataframe and not at.metric

    # a page file run directly (without app.py's navigation) refuses too
    direct = AppTest.from_file(str(ROOT / "pages/complaints.py"), default_timeout=60)
    direct.session_state["bv_user"] = "otp"
    direct.session_state["bv_session"] = sessions.create(open_store(), "otp")
    direct.run()
    assert any("一次性密码" in w.value for w in direct.warning)
    assert not direct.title

    new = "otp-changed-Pa55word"
    at.text_input(key="acct_old").input(secret)
    at.text_input(key="acct_new").input(new)
    at.text_input(key="acct_again").input(new)
    next(b for b in at.button if b.label == "修改密码").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert not auth.must_change_password(path, "otp")
    assert [t.value for t in at.title] == ["借款人之声 · 总览"]  # the first page of the role
    assert not any("一次性密码" in w.value for w in [*at.warning, *at.sidebar.warning])
    assert any("密码已修改" in s.value for s in at.sidebar.success)
    assert "投诉复核" in visible_pages(at)
