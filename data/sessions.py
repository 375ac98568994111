"""Server-side login sessions: created at login, checked on every page run, revoked on logout
and on a password change or reset.

A session is a random token (256 bits) handed to the browser session; the table keeps only its
SHA-256, so a copy of the database cannot be replayed as a login. A session lapses after
``BV_SESSION_IDLE_MIN`` minutes without a page run and ``BV_SESSION_MAX_HOURS`` after the login,
whichever comes first. Revoking is immediate: the next page run of every browser holding the
token ends on the login form.

The browser keeps the token in the ``bv_session`` cookie so that a reload stays logged in. The
cookie value is the token signed with itsdangerous (HMAC with a server key, a timestamp, a
salt per use): :func:`cookie_value` / :func:`token_from_cookie`. A forged, altered or too old
cookie yields no token; a valid one still has to :func:`resolve`, so logout and a password
change end it at once. The cookie itself is set by the server's HTTP route (``server.py``,
HttpOnly), which accepts only a short-lived :func:`handoff_ticket` issued at login.

Example::

    token = create(store, "li")
    resolve(store, token, idle=timedelta(minutes=60))   # "li"
    value = cookie_value(token, key)                     # what the browser keeps
    resolve(store, token_from_cookie(value, key, timedelta(hours=12)), timedelta(minutes=60))
    revoke(store, token, "logout")
    resolve(store, token, idle=timedelta(minutes=60))   # None
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

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


# --------------------------------------------------------------------------- the login cookie
#: the cookie that carries the signed session token (HttpOnly, set by server.py)
COOKIE_NAME = "bv_session"
#: the server's route that sets (POST a handoff ticket) and clears (DELETE) that cookie
COOKIE_ROUTE = "/_bv/session"
#: a login's handoff ticket is good for this long (the browser posts it right after the login)
HANDOFF_MAX_AGE = timedelta(seconds=60)
#: the shortest BV_SESSION_SECRET accepted
MIN_SECRET_LEN = 32
_COOKIE_SALT = "bv-session-cookie"
_HANDOFF_SALT = "bv-session-handoff"


class SessionKeyError(ValueError):
    """BV_SESSION_SECRET is unusable; the message says what to set."""


def secret_key(configured: str, path: Path) -> str:
    """The key that signs cookies: ``configured`` (BV_SESSION_SECRET) when set, else the key in
    ``path``, created there once (random 256 bits, file mode 0600)."""
    if configured:
        if len(configured) < MIN_SECRET_LEN:
            raise SessionKeyError(
                f"BV_SESSION_SECRET 太短（至少 {MIN_SECRET_LEN} 个字符），或留空以自动生成"
            )
        return configured
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it just now
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def _serializer(key: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=salt)


def _loads(value: str | None, key: str, salt: str, max_age: timedelta) -> str | None:
    if not value:
        return None
    try:
        token = _serializer(key, salt).loads(value, max_age=max_age.total_seconds())
    except BadSignature:  # altered, signed with another key or salt, or too old
        return None
    return token if isinstance(token, str) and token else None


def cookie_value(token: str, key: str) -> str:
    """The ``bv_session`` cookie value for a session token (signed and timestamped)."""
    return _serializer(key, _COOKIE_SALT).dumps(token)


def token_from_cookie(value: str | None, key: str, max_age: timedelta) -> str | None:
    """The session token in a cookie value, or None when it is missing, forged, altered or
    older than ``max_age``. The token must still :func:`resolve` to a live session."""
    return _loads(value, key, _COOKIE_SALT, max_age)


def handoff_ticket(token: str, key: str) -> str:
    """What the browser posts to the cookie route right after a login (good for
    :data:`HANDOFF_MAX_AGE`; a cookie value is not accepted as a ticket, nor the reverse)."""
    return _serializer(key, _HANDOFF_SALT).dumps(token)


def token_from_ticket(
    ticket: str | None, key: str, max_age: timedelta = HANDOFF_MAX_AGE
) -> str | None:
    """The session token in a handoff ticket, or None (forged, altered or too old)."""
    return _loads(ticket, key, _HANDOFF_SALT, max_age)
