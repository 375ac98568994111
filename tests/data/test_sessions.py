"""Server-side login sessions on a real DuckDB file: lapse, revocation, nothing replayable."""

from __future__ import annotations

import stat
import time
from datetime import timedelta
from types import SimpleNamespace

import itsdangerous.timed
import pytest

from data import sessions
from data.store import now

IDLE = timedelta(minutes=60)
KEY = "k" * 40
MAX_AGE = timedelta(hours=12)


def test_a_new_session_resolves_to_its_user_and_only_a_hash_is_stored(tmp_store) -> None:
    token = sessions.create(tmp_store, "li")
    assert sessions.resolve(tmp_store, token, IDLE) == "li"
    stored = tmp_store.query("SELECT * FROM sessions")
    assert len(stored) == 1 and token not in stored.to_string()
    assert sessions.resolve(tmp_store, token + "x", IDLE) is None
    assert sessions.resolve(tmp_store, None, IDLE) is None


def test_a_session_lapses_when_idle_and_when_too_old(tmp_store) -> None:
    token = sessions.create(tmp_store, "li", max_age=timedelta(hours=2))
    later = now() + timedelta(minutes=59)
    assert sessions.resolve(tmp_store, token, IDLE, at=later) == "li"  # moves last_seen
    assert sessions.resolve(tmp_store, token, IDLE, at=later + timedelta(minutes=59)) == "li"
    assert sessions.resolve(tmp_store, token, IDLE, at=later + timedelta(minutes=61 + 59)) is None
    fresh = sessions.create(tmp_store, "li", max_age=timedelta(hours=2))
    at = now()
    for _ in range(5):  # active all along, yet ends at max_age
        at += timedelta(minutes=30)
        sessions.resolve(tmp_store, fresh, IDLE, at=at)
    assert sessions.resolve(tmp_store, fresh, IDLE, at=at) is None


def test_logout_revokes_one_session_and_a_password_change_all_others(tmp_store) -> None:
    a, b, c = (sessions.create(tmp_store, "li") for _ in range(3))
    other = sessions.create(tmp_store, "wang")
    assert sessions.revoke(tmp_store, a, "logout") is True
    assert sessions.revoke(tmp_store, a, "logout") is False  # already ended
    assert sessions.resolve(tmp_store, a, IDLE) is None
    assert sessions.revoke_user(tmp_store, "li", "password_change", keep=b) == 1
    assert sessions.resolve(tmp_store, b, IDLE) == "li"  # the session that changed it
    assert sessions.resolve(tmp_store, c, IDLE) is None
    assert sessions.resolve(tmp_store, other, IDLE) == "wang"
    assert sessions.revoke_user(tmp_store, "li", "password_reset") == 1
    assert sessions.live_sessions(tmp_store, "li") == 0
    reasons = tmp_store.query("SELECT revoked_reason FROM sessions WHERE username = 'li'")
    assert sorted(reasons["revoked_reason"]) == ["logout", "password_change", "password_reset"]


def test_purge_drops_only_ended_sessions(tmp_store) -> None:
    ended = sessions.create(tmp_store, "li")
    live = sessions.create(tmp_store, "li")
    sessions.revoke(tmp_store, ended)
    assert sessions.purge(tmp_store) == 0  # ended just now: kept for 30 days
    assert sessions.purge(tmp_store, older_than=timedelta(minutes=-1)) == 1
    assert sessions.resolve(tmp_store, live, IDLE) == "li"
    assert int(tmp_store.scalar("SELECT count(*) FROM sessions")) == 1


# --------------------------------------------------------------------------- the login cookie
def _hours_later(monkeypatch, hours: float) -> None:
    """itsdangerous reads the clock through ``itsdangerous.timed.time``: move only that one."""
    later = SimpleNamespace(time=lambda: time.time() + hours * 3600)
    monkeypatch.setattr(itsdangerous.timed, "time", later)


def test_a_cookie_carries_the_token_signed_and_only_with_the_same_key() -> None:
    value = sessions.cookie_value("the-token", KEY)
    assert value.count(".") == 2  # payload.timestamp.signature
    assert sessions.token_from_cookie(value, KEY, MAX_AGE) == "the-token"
    assert sessions.token_from_cookie(value, "another key " * 4, MAX_AGE) is None
    payload, stamp, signature = value.rsplit(".", 2)
    altered = f"{payload}.{stamp}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    assert sessions.token_from_cookie(altered, KEY, MAX_AGE) is None
    assert sessions.token_from_cookie("not-a-cookie", KEY, MAX_AGE) is None
    assert sessions.token_from_cookie(None, KEY, MAX_AGE) is None
    assert sessions.token_from_cookie("", KEY, MAX_AGE) is None


def test_a_ticket_and_a_cookie_cannot_stand_in_for_each_other() -> None:
    ticket = sessions.handoff_ticket("the-token", KEY)
    cookie = sessions.cookie_value("the-token", KEY)
    assert sessions.token_from_ticket(ticket, KEY) == "the-token"
    assert sessions.token_from_cookie(ticket, KEY, MAX_AGE) is None
    assert sessions.token_from_ticket(cookie, KEY) is None


def test_a_cookie_expires_after_max_age_and_a_ticket_after_a_minute(monkeypatch) -> None:
    cookie = sessions.cookie_value("the-token", KEY)
    ticket = sessions.handoff_ticket("the-token", KEY)
    _hours_later(monkeypatch, 50 / 3600)
    assert sessions.token_from_ticket(ticket, KEY) == "the-token"
    _hours_later(monkeypatch, 61 / 3600)
    assert sessions.token_from_ticket(ticket, KEY) is None
    _hours_later(monkeypatch, 11.9)
    assert sessions.token_from_cookie(cookie, KEY, MAX_AGE) == "the-token"
    _hours_later(monkeypatch, 12.1)
    assert sessions.token_from_cookie(cookie, KEY, MAX_AGE) is None


def test_a_valid_cookie_logs_in_only_while_its_session_is_live(tmp_store) -> None:
    token = sessions.create(tmp_store, "li")
    cookie = sessions.cookie_value(token, KEY)
    assert (
        sessions.resolve(tmp_store, sessions.token_from_cookie(cookie, KEY, MAX_AGE), IDLE) == "li"
    )
    sessions.revoke(tmp_store, token, "logout")
    assert sessions.token_from_cookie(cookie, KEY, MAX_AGE) == token  # the signature still holds
    assert (
        sessions.resolve(tmp_store, sessions.token_from_cookie(cookie, KEY, MAX_AGE), IDLE) is None
    )
    other = sessions.create(tmp_store, "li")
    other_cookie = sessions.cookie_value(other, KEY)
    sessions.revoke_user(tmp_store, "li", "password_change")
    got = sessions.token_from_cookie(other_cookie, KEY, MAX_AGE)
    assert sessions.resolve(tmp_store, got, IDLE) is None


def test_the_signing_key_is_made_once_private_and_kept(tmp_path) -> None:
    path = tmp_path / "var" / "session.key"
    key = sessions.secret_key("", path)
    assert len(key) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sessions.secret_key("", path) == key  # survives a restart: cookies stay valid
    assert sessions.secret_key("s" * 32, path) == "s" * 32  # BV_SESSION_SECRET wins
    with pytest.raises(sessions.SessionKeyError, match="BV_SESSION_SECRET"):
        sessions.secret_key("too-short", path)
