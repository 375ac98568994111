"""Login, roles and the data-layer guards (data.auth, data.access), on a real DuckDB file and a
real auth file with real bcrypt hashes (cheap rounds so the tests stay fast)."""

from __future__ import annotations

import inspect
import json
import stat
from pathlib import Path

import pandas as pd
import pytest
import yaml

from data import access, auth, queries
from data.auth import AccessDenied, Actor, AuthError
from data.exports import to_csv_bytes, to_xlsx_bytes
from data.ingest import ingest_calls_bytes, ingest_survey_bytes
from data.queries import Filters

PHONE, ID_NO, EMAIL = "13812345678", "11010519491231002X", "li.na@qq.com"
SURVEY = (
    "回答内容,提交日期,满意度,产品,地区\n"
    f"催收天天打电话骚扰我家人，还威胁要上门，我要去投诉！我是王强，电话{PHONE},2026-05-02,1,消费贷,北京\n"
    f"客服说我是骗子，邮箱{EMAIL}，身份证{ID_NO}，我要投诉,2026-05-03,1,信用卡,广东\n"
    "催收员态度很好，帮我申请了分期,2026-05-04,5,信用卡,广东\n"
).encode()
CALL = {
    "call_id": "pii-c1",
    "borrower_id": "B9",
    "agent_id": "A9",
    "team": "M1组",
    "started_at": "2026-05-06T10:12:00+08:00",
    "duration_s": 60,
    "outcome": "no_answer",
    "turns": [
        {"speaker": "agent", "text": "喂，请问是李娜女士吗？"},
        {"speaker": "borrower", "text": "不是，我是她同事，有事吗"},
        {"speaker": "agent", "text": f"李娜女士欠我们八千块不还，你让她打{PHONE}，不然告诉她全家"},
        {"speaker": "borrower", "text": "你们这是骚扰，我要投诉"},
    ],
}
RAW = (PHONE, ID_NO, EMAIL, "王强", "李娜", "1234-5678")
MANAGER, RESEARCHER = Actor("mgr", "manager"), Actor("res", "researcher")
QA, ADMIN = Actor("qa1", "qa"), Actor("boss", "admin")


@pytest.fixture(autouse=True)
def cheap_bcrypt(monkeypatch):
    monkeypatch.setattr(auth, "BCRYPT_ROUNDS", 4)
    monkeypatch.setattr(auth, "_DUMMY_HASH", [])


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    return tmp_path / "var" / "auth.yaml"


@pytest.fixture
def store(tmp_store):
    ingest_survey_bytes(tmp_store, SURVEY, "pii.csv", uploaded_by="test")
    ingest_calls_bytes(
        tmp_store,
        (json.dumps(CALL, ensure_ascii=False) + "\n").encode(),
        "pii.jsonl",
        uploaded_by="test",
    )
    return tmp_store


def audit(store, action: str | None = None) -> pd.DataFrame:
    df = store.query("SELECT * FROM audit_log ORDER BY ts")
    return df if action is None else df[df["action"] == action].reset_index(drop=True)


def leaks(obj) -> list[str]:
    """The raw personal data found anywhere in a query result."""
    if isinstance(obj, pd.DataFrame):
        text = obj.to_csv()
    elif isinstance(obj, pd.Series):
        text = obj.to_string()
    else:
        text = json.dumps(obj, ensure_ascii=False, default=str)
    return [raw for raw in RAW if raw in text]


# --------------------------------------------------------------------------- first start
def test_first_start_creates_admin_with_a_random_one_time_password(tmp_store, auth_file, tmp_path):
    printed: list[str] = []
    password = auth.ensure_admin(auth_file, tmp_store, echo=printed.append)
    assert password and len(password) >= 16 and password in printed[0]
    text = auth_file.read_text()
    assert password not in text and "$2b$" in text  # only the bcrypt hash is stored
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert auth.ensure_admin(auth_file, tmp_store, echo=printed.append) is None  # once only
    assert len(printed) == 1
    assert auth.authenticate(tmp_store, auth_file, "admin", password) == Actor("admin", "admin")
    assert auth.must_change_password(auth_file, "admin")
    other = auth.ensure_admin(tmp_path / "other.yaml", echo=lambda _m: None)
    assert other != password  # no password that works on every install
    assert audit(tmp_store, "user_add")["target"].tolist() == ["admin"]


def test_admin_password_from_the_environment_is_not_printed(tmp_store, auth_file):
    printed: list[str] = []
    assert (
        auth.ensure_admin(auth_file, tmp_store, password="correct horse 9", echo=printed.append)
        is None
    )
    assert printed == []
    assert auth.authenticate(tmp_store, auth_file, "admin", "correct horse 9")
    assert not auth.must_change_password(auth_file, "admin")


def test_a_weak_admin_password_is_refused(tmp_store, auth_file):
    with pytest.raises(AuthError):
        auth.ensure_admin(auth_file, tmp_store, password="admin")
    assert not auth_file.exists()


# --------------------------------------------------------------------------- passwords
def test_password_check_and_failed_logins_are_audited(tmp_store, auth_file):
    auth.ensure_admin(auth_file, tmp_store, password="first-admin-pw")
    auth.add_user(tmp_store, auth_file, ADMIN, "zhang.wei", "manager", "manager-pw-1")
    assert auth.authenticate(tmp_store, auth_file, "zhang.wei", "wrong-password") is None
    assert auth.authenticate(tmp_store, auth_file, "nobody", "manager-pw-1") is None
    assert auth.authenticate(tmp_store, auth_file, " Zhang.Wei ", "manager-pw-1") == Actor(
        "zhang.wei", "manager"
    )
    failed = audit(tmp_store, "login_failed")
    assert failed["target"].tolist() == ["zhang.wei", "nobody"]
    assert [json.loads(d)["reason"] for d in failed["detail"]] == ["bad_password", "unknown_user"]
    assert audit(tmp_store, "login")["actor"].tolist() == ["zhang.wei"]
    everything = audit(tmp_store).to_csv()
    assert "wrong-password" not in everything and "manager-pw-1" not in everything


def test_five_failures_lock_the_user_name(tmp_store, auth_file):
    auth.add_user(tmp_store, auth_file, ADMIN, "li", "qa", "qa-password-1")
    for _ in range(auth.LOCKOUT_FAILURES):
        assert auth.authenticate(tmp_store, auth_file, "li", "guess-guess") is None
    assert auth.is_locked(tmp_store, "li")
    assert auth.authenticate(tmp_store, auth_file, "li", "qa-password-1") is None
    assert json.loads(audit(tmp_store, "login_failed")["detail"].iloc[-1])["reason"] == "locked"


def test_verify_password_handles_bad_input():
    h = auth.hash_password("a-long-enough-pw")
    assert auth.verify_password("a-long-enough-pw", h)
    assert not auth.verify_password("a-long-enough-pw ", h)
    assert not auth.verify_password("x" * 100, h)  # over bcrypt's 72 bytes: no exception
    assert not auth.verify_password("a-long-enough-pw", "not-a-hash")
    with pytest.raises(AuthError):
        auth.hash_password("short")


def test_change_password_needs_the_old_one(tmp_store, auth_file):
    auth.add_user(tmp_store, auth_file, ADMIN, "wang", "researcher", "old-password-1")
    me = Actor("wang", "researcher")
    with pytest.raises(AuthError):
        auth.change_password(tmp_store, auth_file, me, "not-it-at-all", "new-password-1")
    auth.change_password(tmp_store, auth_file, me, "old-password-1", "new-password-1")
    assert auth.authenticate(tmp_store, auth_file, "wang", "new-password-1")
    assert not auth.authenticate(tmp_store, auth_file, "wang", "old-password-1")


def test_a_hand_edited_entry_without_a_valid_role_cannot_log_in(tmp_store, auth_file):
    auth_file.parent.mkdir(parents=True)
    h = auth.hash_password("some-password-1")
    auth_file.write_text(yaml.safe_dump({"users": {"eve": {"role": "root", "password_hash": h}}}))
    assert auth.authenticate(tmp_store, auth_file, "eve", "some-password-1") is None


# --------------------------------------------------------------------------- user management
def test_admin_adds_users_and_changes_roles_with_audit(tmp_store, auth_file):
    auth.ensure_admin(auth_file, tmp_store, password="first-admin-pw")
    admin = Actor("admin", "admin")
    one_time = auth.add_user(tmp_store, auth_file, admin, "Chen", "qa")
    assert auth.authenticate(tmp_store, auth_file, "chen", one_time) == Actor("chen", "qa")
    auth.set_role(tmp_store, auth_file, admin, "chen", "manager")
    assert auth.current_actor(auth_file, "chen") == Actor("chen", "manager")  # next page run
    assert json.loads(audit(tmp_store, "role_change")["detail"][0]) == {
        "from": "qa",
        "to": "manager",
    }
    with pytest.raises(AuthError):
        auth.set_role(tmp_store, auth_file, admin, "admin", "qa")  # the last admin stays
    with pytest.raises(AuthError):
        auth.add_user(tmp_store, auth_file, admin, "chen", "qa")  # exists
    with pytest.raises(AuthError):
        auth.add_user(tmp_store, auth_file, admin, "x y", "qa")  # bad name
    new = auth.reset_password(tmp_store, auth_file, admin, "chen")
    assert auth.authenticate(tmp_store, auth_file, "chen", new)
    assert {"user_add", "role_change", "password_reset"} <= set(audit(tmp_store)["action"])


@pytest.mark.parametrize("who", [MANAGER, RESEARCHER, QA])
def test_only_admin_manages_users(tmp_store, auth_file, who):
    auth.ensure_admin(auth_file, tmp_store, password="first-admin-pw")
    with pytest.raises(AccessDenied):
        auth.add_user(tmp_store, auth_file, who, "mallory", "admin")
    with pytest.raises(AccessDenied):
        auth.set_role(tmp_store, auth_file, who, who.user, "admin")
    with pytest.raises(AccessDenied):
        auth.reset_password(tmp_store, auth_file, who, "admin")
    with pytest.raises(AccessDenied):
        auth.list_users(auth_file, who)
    with pytest.raises(AccessDenied):
        access.audit_log(tmp_store, who)
    assert set(auth.load_users(auth_file)) == {"admin"}


# --------------------------------------------------------------------------- permissions
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("manager", {"view_dashboard", "view_calls", "handle_warnings"}),
        ("researcher", {"view_dashboard", "upload", "evaluate_model"}),
        ("qa", {"view_dashboard", "view_calls", "review", "reveal_pii", "handle_warnings"}),
        ("admin", set(auth.PERMISSION_NAMES)),
    ],
)
def test_role_matrix(role, allowed):
    who = Actor("u", role)
    assert {p for p in auth.PERMISSION_NAMES if who.can(p)} == allowed
    for p in set(auth.PERMISSION_NAMES) - allowed:
        with pytest.raises(AccessDenied, match="无权"):
            who.require(p)


def test_an_unknown_role_may_do_nothing():
    assert not any(Actor("u", "root").can(p) for p in auth.PERMISSION_NAMES)


def _query_functions():
    """Every public read function of data.queries that takes (store, filters)."""
    for name, fn in inspect.getmembers(queries, inspect.isfunction):
        params = list(inspect.signature(fn).parameters)
        if (
            fn.__module__ in ("data.queries", "data.call_queries")
            and not name.startswith("_")
            and params[:2] == ["store", "f"]
        ):
            yield name, fn


def test_a_manager_cannot_get_unmasked_text_from_any_data_function(store):
    f = Filters()
    checked = []
    for name, fn in _query_functions():
        kwargs = {"dim": "product"} if name == "breakdown" else {}
        assert leaks(fn(store, f, **kwargs)) == [], name
        checked.append(name)
    assert {"records", "complaint_queue", "calls_table"} <= set(checked)
    found = queries.records(store, f, search="王强")  # found by the original text, shown masked
    assert len(found) == 1 and "我是王*，电话138****5678" in found["text"].iloc[0]
    assert leaks(found) == []
    queue = queries.complaint_queue(store, f)
    assert len(queue) >= 2 and "l***@qq.com" in queue.to_csv()
    ids = store.query("SELECT response_id FROM responses")["response_id"]
    for rid in ids:
        assert leaks(queries.response(store, rid)) == []
    assert leaks(queries.call_turns(store, "pii-c1")) == []
    assert "李*女士" in queries.calls_table(store, f)["evidence"].iloc[0]  # evidence quotes too
    for fn, args in (
        (access.reveal_response, (ids.iloc[0],)),
        (access.reveal_call_turns, ("pii-c1",)),
        (access.reviewed_labels, ()),
    ):
        with pytest.raises(PermissionError):
            fn(store, MANAGER, *args)
    assert audit(store, "unmask").empty


def test_exports_are_masked(store):
    table = store.query("SELECT text FROM responses")  # even raw text handed to an export
    assert leaks(to_csv_bytes(table).decode("utf-8-sig")) == []
    xlsx = pd.read_excel(__import__("io").BytesIO(to_xlsx_bytes(table)))
    assert leaks(xlsx) == []


def test_monthly_report_is_masked(store):
    from datetime import date

    from data.report import monthly_summary_html

    assert leaks(monthly_summary_html(store, date(2026, 5, 1), Filters())) == []


def test_qa_reveals_original_text_and_it_is_audited(store):
    rid = queries.records(store, Filters(), search="王")["response_id"].iloc[0]
    assert PHONE in access.reveal_response(store, QA, rid)
    turns = access.reveal_call_turns(store, ADMIN, "pii-c1")
    assert "李娜" in turns["text"].iloc[0]
    entries = audit(store, "unmask")
    assert entries["actor"].tolist() == ["qa1", "boss"]
    assert entries["target"].tolist() == [rid, "pii-c1"]


def test_researcher_gets_the_labelled_set_masked(store):
    rid = queries.records(store, Filters(), search="王")["response_id"].iloc[0]
    access.add_review(store, QA, "response", rid, "confirm")
    labelled = access.reviewed_labels(store, RESEARCHER)
    assert len(labelled) == 1 and leaks(labelled) == []


def test_writes_are_refused_by_role(store, db_tools):
    before = db_tools.contents(store)
    rid = store.query("SELECT response_id FROM responses LIMIT 1")["response_id"].iloc[0]
    batch = store.query("SELECT batch_id FROM batches LIMIT 1")["batch_id"].iloc[0]
    refused = [
        (MANAGER, lambda a: access.upload_survey(store, a, SURVEY + b"x,2026-05-05\n", "n.csv")),
        (QA, lambda a: access.upload_calls(store, a, b"{}", "n.jsonl")),
        (MANAGER, lambda a: access.add_review(store, a, "response", rid, "false_positive")),
        (RESEARCHER, lambda a: access.add_review(store, a, "response", rid, "confirm")),
        (RESEARCHER, lambda a: access.delete_batch(store, a, batch)),
        (QA, lambda a: access.delete_batch(store, a, batch)),
        (MANAGER, lambda a: access.remove_demo(store, a)),
    ]
    for who, call in refused:
        with pytest.raises(AccessDenied):
            call(who)
    assert db_tools.contents(store) == before  # nothing written, not even an audit entry


def test_allowed_writes_carry_the_actor_into_the_audit_log(store):
    res = access.upload_survey(store, RESEARCHER, "回答内容\n还款方式很灵活\n".encode(), "r.csv")
    rid = queries.records(store, Filters(), search="王")["response_id"].iloc[0]
    access.add_review(store, QA, "response", rid, "false_positive")
    access.delete_batch(store, ADMIN, res.batch_id)
    log = access.audit_log(store, ADMIN)
    assert {("res", "upload"), ("qa1", "review:false_positive"), ("boss", "delete_batch")} <= set(
        zip(log["actor"], log["action"], strict=True)
    )
    only_reviews = access.audit_log(store, ADMIN, actions=("review:*",))
    assert set(only_reviews["action"]) == {"review:false_positive"}
    assert access.audit_log(store, ADMIN, users=("boss",))["action"].tolist() == ["delete_batch"]
    assert len(access.audit_log(store, ADMIN, search=res.batch_id)) == 2
    shown = access.audit_for_display(log)
    assert {"时间", "用户", "操作", "对象", "详情"} == set(shown.columns)
    assert "删除批次" in shown["操作"].tolist()
