"""Server-side login sessions on a real DuckDB file: lapse, revocation, nothing replayable."""

from __future__ import annotations

from datetime import timedelta

from data import sessions
from data.store import now

IDLE = timedelta(minutes=60)


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
