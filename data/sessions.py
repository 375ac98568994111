"""Server-side login sessions: created at login, checked on every page run, revoked on logout
and on a password change or reset.

A session is a random token (256 bits) handed to the browser session; the table keeps only its
SHA-256, so a copy of the database cannot be replayed as a login. A session lapses after
``BV_SESSION_IDLE_MIN`` minutes without a page run and ``BV_SESSION_MAX_HOURS`` after the login,
whichever comes first. Revoking is immediate: the next page run of every browser holding the
token ends on the login form.

Example::

    token = create(store, "li")
    resolve(store, token, idle=timedelta(minutes=60))   # "li"
    revoke(store, token, "logout")
    resolve(store, token, idle=timedelta(minutes=60))   # None
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from data.store import Store, now

#: last_seen is written at most this often per session (a page run must not always write)
TOUCH_EVERY = timedelta(seconds=60)


def _id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(store: Store, username: str, max_age: timedelta = timedelta(hours=12)) -> str:
    """A new session for ``username``; returns its token (never stored)."""
    token = secrets.token_urlsafe(32)
    at = now()
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            [_id(token), username, at, at, at + max_age],
        )
    return token


def resolve(
    store: Store, token: str | None, idle: timedelta, at: datetime | None = None
) -> str | None:
    """The user name of a live session, or None (unknown, revoked, idle too long, expired).

    A live session's ``last_seen`` moves to now (at most once per :data:`TOUCH_EVERY`).
    """
    if not token:
        return None
    at = at or now()
    cur = store.cursor()
    try:
        row = cur.execute(
            "SELECT username, last_seen, expires_at, revoked_at FROM sessions WHERE session_id = ?",
            [_id(token)],
        ).fetchone()
    finally:
        cur.close()
    if row is None:
        return None
    username, last_seen, expires_at, revoked_at = row
    if revoked_at is not None or at >= expires_at or at - last_seen >= idle:
        return None
    if at - last_seen >= TOUCH_EVERY:
        with store.transaction() as tx:
            tx.execute("UPDATE sessions SET last_seen = ? WHERE session_id = ?", [at, _id(token)])
    return username


def revoke(store: Store, token: str | None, reason: str = "logout") -> bool:
    """End one session; True when a live one was ended."""
    if not token:
        return False
    with store.transaction() as tx:
        n = tx.execute(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
            "WHERE session_id = ? AND revoked_at IS NULL RETURNING 1",
            [now(), reason, _id(token)],
        ).fetchall()
    return bool(n)


def revoke_user(store: Store, username: str, reason: str, keep: str | None = None) -> int:
    """End every live session of ``username`` (a password change or reset, a removed user),
    except the one whose token is ``keep``. Returns how many were ended."""
    with store.transaction() as tx:
        rows = tx.execute(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
            "WHERE username = ? AND revoked_at IS NULL AND session_id <> ? RETURNING 1",
            [now(), reason, username, _id(keep) if keep else ""],
        ).fetchall()
    return len(rows)


def live_sessions(store: Store, username: str) -> int:
    """How many unrevoked, unexpired sessions ``username`` has (idle ones included)."""
    return int(
        store.scalar(
            "SELECT count(*) FROM sessions WHERE username = ? AND revoked_at IS NULL "
            "AND expires_at > ?",
            [username, now()],
        )
    )


def purge(store: Store, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete sessions that ended (expired or revoked) more than ``older_than`` ago."""
    cutoff = now() - older_than
    with store.transaction() as tx:
        rows = tx.execute(
            "DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ? RETURNING 1",
            [cutoff, cutoff],
        ).fetchall()
    return len(rows)
