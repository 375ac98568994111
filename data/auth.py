"""Who may do what: users with bcrypt-hashed passwords, four roles, and the permission check.

Users live in a YAML file outside git (``BV_AUTH_FILE``, default ``var/auth.yaml``, mode 0600)::

    users:
      admin: {role: admin, password_hash: $2b$12$..., must_change: true}

On first start :func:`ensure_admin` creates the file with one ``admin`` account whose password is
``BV_ADMIN_PASSWORD`` or a random one-time password printed to the console: no password works on
every install. Logins, failed logins, new users, role and password changes go to the audit log.

Every data function that writes, or that returns text unmasked, takes an :class:`Actor` and calls
``actor.require(permission)``: hiding a page is never the only guard. With ``BV_AUTH=off`` (a
single-user install on one's own machine) the app acts as :data:`LOCAL_ACTOR`, an admin.

Command line (for a lost admin password)::

    python -m data.auth ensure-admin            # first start: create admin, print its password
    python -m data.auth add-user NAME ROLE      # prints a one-time password
    python -m data.auth reset-password NAME     # prints a new one-time password
    python -m data.auth list
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import bcrypt
import yaml

from data.store import Store, now

#: role -> Chinese name
ROLES = {"manager": "业务主管", "researcher": "研究员", "qa": "质检员", "admin": "系统管理员"}

#: permission -> Chinese description
PERMISSION_NAMES = {
    "view_dashboard": "查看看板与脱敏记录",
    "view_calls": "查看通话与坐席记分卡（脱敏）",
    "upload": "上传数据",
    "evaluate_model": "模型评估",
    "review": "投诉复核",
    "reveal_pii": "显示原文（记入审计）",
    "delete_batch": "删除批次",
    "manage_users": "管理用户与角色",
    "view_audit": "查看审计日志",
    "view_settings": "查看设置",
    "handle_warnings": "处理预警个案与查看借款人视图",
}

#: role -> permissions. Everything not listed is refused.
PERMISSIONS: dict[str, frozenset[str]] = {
    "manager": frozenset({"view_dashboard", "view_calls", "handle_warnings"}),
    "researcher": frozenset({"view_dashboard", "upload", "evaluate_model"}),
    "qa": frozenset({"view_dashboard", "view_calls", "review", "reveal_pii", "handle_warnings"}),
    "admin": frozenset(PERMISSION_NAMES),
}

BCRYPT_ROUNDS = 12  # about 0.3 s per check on one core; tests lower it
MIN_PASSWORD_LEN = 10
LOCKOUT_FAILURES = 5  # failed logins for one user name ...
LOCKOUT_WINDOW = timedelta(minutes=15)  # ... within this window lock it for the window
_USERNAME = re.compile(r"[a-z][a-z0-9_.\-]{1,31}")
ANONYMOUS = "(未登录)"


class AccessDenied(PermissionError):
    """The actor's role does not allow this; the message is safe to show."""


class AuthError(ValueError):
    """A user-management request is invalid (bad name, weak password, last admin...)."""


@dataclass(frozen=True)
class Actor:
    """Who is asking: a user name and a role. Passed to every guarded data function."""

    user: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        """Raise :class:`AccessDenied` unless the role has ``permission``."""
        if permission not in PERMISSION_NAMES:
            raise ValueError(f"unknown permission {permission}")
        if not self.can(permission):
            raise AccessDenied(
                f"角色「{ROLES.get(self.role, self.role)}」无权{PERMISSION_NAMES[permission]}"
            )

    @property
    def role_name(self) -> str:
        return ROLES.get(self.role, self.role)


#: the single user of a ``BV_AUTH=off`` install
LOCAL_ACTOR = Actor("本地用户", "admin")


@dataclass(frozen=True)
class User:
    """One account in the auth file (the hash never leaves this module's callers' hands)."""

    username: str
    role: str
    password_hash: str
    must_change: bool = False
    display_name: str = ""


# --------------------------------------------------------------------------- passwords
def hash_password(password: str) -> str:
    """A bcrypt hash (salted, ``BCRYPT_ROUNDS``) of a password that meets the policy."""
    check_password_policy(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches; False for a malformed hash or an over-long password."""
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except (ValueError, TypeError):
        return False


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LEN:
        raise AuthError(f"密码至少 {MIN_PASSWORD_LEN} 个字符")
    if len(password.encode("utf-8")) > 72:
        raise AuthError("密码不能超过 72 字节")


def one_time_password() -> str:
    """A random password (16 URL-safe characters, about 96 bits)."""
    return secrets.token_urlsafe(12)


# A hash to check against for unknown user names, so they take as long as known ones.
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(bcrypt.hashpw(b"-", bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii"))
    return _DUMMY_HASH[0]


# --------------------------------------------------------------------------- the users file
_FILE_LOCK = threading.Lock()
_CACHE: dict[str, tuple[tuple[int, int], dict[str, User]]] = {}


def load_users(path: Path) -> dict[str, User]:
    """Users in the auth file (re-read when the file changes). Missing file: no users."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    users = {}
    for name, entry in (raw.get("users") or {}).items():
        if entry.get("role") not in ROLES or not entry.get("password_hash"):
            continue  # a hand-edited entry without a valid role or hash cannot log in
        users[str(name)] = User(
            str(name),
            entry["role"],
            entry["password_hash"],
            bool(entry.get("must_change", False)),
            str(entry.get("display_name", "")),
        )
    _CACHE[str(path)] = (stamp, users)
    return users


def _save_users(path: Path, users: dict[str, User]) -> None:
    """Write atomically (temp file + rename) with mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "users": {
            u.username: {
                "role": u.role,
                "password_hash": u.password_hash,
                "must_change": u.must_change,
                **({"display_name": u.display_name} if u.display_name else {}),
            }
            for u in users.values()
        }
    }
    text = (
        "# Borrower Voice users: roles and bcrypt password hashes. Keep out of git.\n"
        "# Manage in the app (系统管理 → 用户与设置) or with `python -m data.auth`.\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=True)
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".auth-", suffix=".yaml")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _CACHE.pop(str(path), None)


def ensure_admin(
    path: Path,
    store: Store | None = None,
    password: str = "",
    echo: Callable[[str], None] | None = None,
) -> str | None:
    """Create the ``admin`` account when the auth file does not exist or has no admin.

    Args:
        path: the auth file (``BV_AUTH_FILE``).
        store: where to write the audit entry (optional).
        password: the admin password to use (``BV_ADMIN_PASSWORD``); empty: a random one,
            passed to ``echo`` (the console) once.
        echo: prints the one-time password; default stderr.

    Returns:
        The generated one-time password, or None when nothing was created or ``password`` was
        given.
    """
    with _FILE_LOCK:
        users = dict(load_users(path))
        if any(u.role == "admin" for u in users.values()):
            return None
        name = "admin" if "admin" not in users else "admin-" + secrets.token_hex(2)
        generated = None if password else one_time_password()
        users[name] = User(
            name, "admin", hash_password(password or generated), must_change=generated is not None
        )
        _save_users(path, users)
    if store is not None:
        store.audit("system", "user_add", name, {"role": "admin", "file": str(path)})
    if generated:
        (echo or _stderr)(
            "\n" + "=" * 64 + "\n借款人之声 Borrower Voice: created the first account\n"
            f"  user: {name}\n  one-time password: {generated}\n"
            f"  (stored as a bcrypt hash in {path}; change it after logging in)\n" + "=" * 64
        )
    return generated


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- logging in
def _recent_failures(store: Store, username: str) -> int:
    since = now() - LOCKOUT_WINDOW
    return int(
        store.scalar(
            """SELECT count(*) FROM audit_log
           WHERE action = 'login_failed' AND target = ? AND ts > ?
             AND ts > coalesce((SELECT max(ts) FROM audit_log
                                WHERE action = 'login' AND target = ?), '-infinity'::TIMESTAMPTZ)""",
            [username, since, username],
        )
        or 0
    )


def authenticate(store: Store, path: Path, username: str, password: str) -> Actor | None:
    """Check a login and write ``login`` or ``login_failed`` to the audit log.

    After ``LOCKOUT_FAILURES`` failures within ``LOCKOUT_WINDOW`` a user name is refused
    (``login_failed`` with reason ``locked``) until the window has passed. The password is
    never logged.
    """
    name = (username or "").strip().lower()[:64]
    users = load_users(path)
    user = users.get(name)
    if _recent_failures(store, name) >= LOCKOUT_FAILURES:
        verify_password(password or "", _dummy_hash())
        store.audit(ANONYMOUS, "login_failed", name, {"reason": "locked"})
        return None
    ok = verify_password(password or "", user.password_hash if user else _dummy_hash())
    if not (user and ok):
        store.audit(
            ANONYMOUS, "login_failed", name, {"reason": "bad_password" if user else "unknown_user"}
        )
        return None
    store.audit(user.username, "login", user.username, {"role": user.role})
    return Actor(user.username, user.role)


def is_locked(store: Store, username: str) -> bool:
    return _recent_failures(store, (username or "").strip().lower()) >= LOCKOUT_FAILURES


def current_actor(path: Path, username: str) -> Actor | None:
    """The actor for a logged-in user name as the auth file says now (role changes and removed
    users take effect on the next page run)."""
    user = load_users(path).get(username)
    return Actor(user.username, user.role) if user else None


def must_change_password(path: Path, username: str) -> bool:
    user = load_users(path).get(username)
    return bool(user and user.must_change)


def log_logout(store: Store, actor: Actor) -> None:
    store.audit(actor.user, "logout", actor.user)


# --------------------------------------------------------------------------- user management
def list_users(path: Path, actor: Actor) -> list[dict]:
    """User names and roles (no hashes), for the admin page."""
    actor.require("manage_users")
    return [
        {"username": u.username, "role": u.role, "must_change": u.must_change}
        for u in sorted(load_users(path).values(), key=lambda u: u.username)
    ]


def add_user(
    store: Store, path: Path, actor: Actor, username: str, role: str, password: str = ""
) -> str:
    """Create a user (admin only). Returns the password: ``password`` or a one-time one."""
    actor.require("manage_users")
    name = (username or "").strip().lower()
    if not _USERNAME.fullmatch(name):
        raise AuthError("用户名：2-32 个小写字母、数字或 _ . -，以字母开头")
    if role not in ROLES:
        raise AuthError(f"未知角色 {role}")
    secret = password or one_time_password()
    with _FILE_LOCK:
        users = dict(load_users(path))
        if name in users:
            raise AuthError(f"用户 {name} 已存在")
        users[name] = User(name, role, hash_password(secret), must_change=not password)
        _save_users(path, users)
    store.audit(actor.user, "user_add", name, {"role": role})
    return secret


def set_role(store: Store, path: Path, actor: Actor, username: str, role: str) -> None:
    """Change a user's role (admin only); the last admin cannot be demoted."""
    actor.require("manage_users")
    if role not in ROLES:
        raise AuthError(f"未知角色 {role}")
    with _FILE_LOCK:
        users = dict(load_users(path))
        if username not in users:
            raise AuthError(f"用户 {username} 不存在")
        old = users[username].role
        if old == role:
            return
        if old == "admin" and sum(u.role == "admin" for u in users.values()) == 1:
            raise AuthError("至少要保留一个系统管理员")
        users[username] = replace(users[username], role=role)
        _save_users(path, users)
    store.audit(actor.user, "role_change", username, {"from": old, "to": role})


def change_password(store: Store, path: Path, actor: Actor, old: str, new: str) -> None:
    """A user changes their own password (the old one is checked)."""
    with _FILE_LOCK:
        users = dict(load_users(path))
        user = users.get(actor.user)
        if user is None or not verify_password(old, user.password_hash):
            store.audit(actor.user, "password_change_failed", actor.user)
            raise AuthError("当前密码不正确")
        if new == old:
            raise AuthError("新密码不能与当前密码相同")
        users[actor.user] = replace(user, password_hash=hash_password(new), must_change=False)
        _save_users(path, users)
    store.audit(actor.user, "password_change", actor.user)


def reset_password(store: Store, path: Path, actor: Actor, username: str) -> str:
    """Give a user a new one-time password (admin only). Returns it."""
    actor.require("manage_users")
    secret = one_time_password()
    with _FILE_LOCK:
        users = dict(load_users(path))
        if username not in users:
            raise AuthError(f"用户 {username} 不存在")
        users[username] = replace(
            users[username], password_hash=hash_password(secret), must_change=True
        )
        _save_users(path, users)
    if isinstance(store, Store):  # not a queued audit (the CLI while the app runs)
        from data import sessions

        sessions.revoke_user(store, username, "password_reset")
    store.audit(actor.user, "password_reset", username)
    return secret


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python -m data.auth ensure-admin | add-user NAME ROLE | reset-password NAME | list``."""
    import argparse

    from data.settings import settings
    from data.store import StoreBusy, StoreError, open_store

    p = argparse.ArgumentParser(prog="python -m data.auth", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add-user")
    a.add_argument("name")
    a.add_argument("role", choices=list(ROLES))
    r = sub.add_parser("reset-password")
    r.add_argument("name")
    sub.add_parser("list")
    sub.add_parser("ensure-admin")
    args = p.parse_args(argv)
    cfg = settings()
    cli = Actor("cli", "admin")  # whoever can run this can edit the file anyway
    try:
        store = open_store()
    except StoreBusy as busy:  # the running app holds it: the change itself still works
        store = _queued_audit(busy, cfg)
    except StoreError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    try:
        if args.cmd == "add-user":
            print(f"{args.name}: {add_user(store, cfg.auth_file, cli, args.name, args.role)}")
        elif args.cmd == "ensure-admin":
            if cfg.auth:
                ensure_admin(cfg.auth_file, store, cfg.admin_password, echo=print)
        elif args.cmd == "reset-password":
            print(f"{args.name}: {reset_password(store, cfg.auth_file, cli, args.name)}")
        else:
            for u in list_users(cfg.auth_file, cli):
                print(f"{u['username']}\t{u['role']}")
    except AuthError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _queued_audit(busy, cfg):
    """While the app holds the database: the user file is changed anyway and the audit entry
    goes to the app's inbox (written by the app, with this moment's time). One line says so."""
    from data.inbox import QueuedAudit
    from data.store import open_store

    box = cfg.inbox_for()
    if box is None:
        print(
            f"提示：{busy.message('修改照常生效，但收件箱已关闭（BV_INBOX=off），不会记入审计日志')}",
            file=sys.stderr,
        )
        return open_store(":memory:")
    print(
        f"提示：{busy.message('修改照常生效，审计记录已放入收件箱，由应用写入审计日志')}",
        file=sys.stderr,
    )
    return QueuedAudit(box, cfg.db_path.resolve())


if __name__ == "__main__":
    raise SystemExit(main())
