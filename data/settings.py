"""All settings, read from the environment in one place (documented in .env.example)."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from nlp.config import nlp_config

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Deployment settings. Every field has an environment variable and a default."""

    db_path: Path  # BV_DB_PATH
    model_dir: Path  # BV_MODEL_DIR: built models (base e5, default classifier)
    sentiment_model: str  # BV_SENTIMENT_MODEL: default | lexicon | PATH | hub id
    label_map: str  # BV_LABEL_MAP: e.g. "LABEL_0=negative,LABEL_1=positive"
    max_upload_mb: int  # BV_MAX_UPLOAD_MB
    max_rows: int  # BV_MAX_ROWS
    demo: bool  # BV_DEMO: load the demo dataset into an empty store
    call_profile: str  # BV_CALL_PROFILE: china | us_reg_f
    onnx_threads: int  # BV_ONNX_THREADS: ONNX Runtime threads per process (0 = every core)
    auth: bool  # BV_AUTH: password login and roles; off = one local user acting as admin
    auth_file: Path  # BV_AUTH_FILE: users, roles and bcrypt hashes (outside git)
    display_tz: str  # BV_DISPLAY_TZ: the time zone every page, export and report shows times in
    empty_answers: tuple[str, ...]  # BV_EMPTY_ANSWERS: survey placeholders that count as empty
    admin_password: str = field(repr=False)  # BV_ADMIN_PASSWORD: the first admin's password
    inbox: str = ""  # BV_INBOX: folder the app imports queued CLI files from; "" = next to the DB
    session_idle_min: int = 60  # BV_SESSION_IDLE_MIN: a login lapses after this many idle minutes
    session_max_hours: int = 12  # BV_SESSION_MAX_HOURS: ... and this long after logging in
    #: BV_SESSION_SECRET: the key that signs the login cookie; "" = a random key kept in
    #: ``session.key`` beside BV_AUTH_FILE (created on first use, file mode 0600)
    session_secret: str = field(default="", repr=False)

    @property
    def session_secret_file(self) -> Path:
        """Where the generated cookie-signing key lives when BV_SESSION_SECRET is empty."""
        return self.auth_file.parent / "session.key"

    def inbox_for(self, db_path: Path | str | None = None) -> Path | None:
        """The inbox of a database file: ``BV_INBOX``, else ``inbox/`` beside the file;
        None when ``BV_INBOX=off`` (the app imports nothing queued)."""
        if self.inbox.strip().lower() == "off":
            return None
        if self.inbox.strip():
            return Path(self.inbox.strip())
        return Path(db_path or self.db_path).parent / "inbox"


#: Placeholders survey tools write for a question left blank or skipped (compared after NFKC,
#: trimming and case folding, so （空） and n/a match too). 「没有」 is left out: it is often a
#: real answer ("did the agent offer a plan?").
DEFAULT_EMPTY_ANSWERS = (
    "(空)",
    "(跳过)",
    "(未填写)",
    "无",
    "N/A",
    "NA",
    "-",
    "--",
    "—",
    "/",
    "null",
)
DEFAULT_DISPLAY_TZ = "Asia/Shanghai"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def settings() -> Settings:
    """Read the settings now (cheap; call it where needed rather than caching globally)."""
    env = os.environ
    core = nlp_config()
    return Settings(
        db_path=Path(env.get("BV_DB_PATH") or ROOT / "var" / "borrower_voice.duckdb"),
        model_dir=core.model_dir,
        sentiment_model=core.sentiment_model,
        label_map=core.label_map,
        max_upload_mb=int(env.get("BV_MAX_UPLOAD_MB") or 200),
        max_rows=int(env.get("BV_MAX_ROWS") or 500_000),
        demo=_flag(env.get("BV_DEMO"), True),
        call_profile=core.call_profile,
        auth=_flag(env.get("BV_AUTH"), True),
        auth_file=Path(env.get("BV_AUTH_FILE") or ROOT / "var" / "auth.yaml"),
        admin_password=env.get("BV_ADMIN_PASSWORD", ""),
        display_tz=_time_zone(env.get("BV_DISPLAY_TZ") or DEFAULT_DISPLAY_TZ),
        empty_answers=_empty_answers(env.get("BV_EMPTY_ANSWERS")),
        onnx_threads=core.onnx_threads,
        inbox=env.get("BV_INBOX", ""),
        session_idle_min=_positive(env, "BV_SESSION_IDLE_MIN", 60),
        session_max_hours=_positive(env, "BV_SESSION_MAX_HOURS", 12),
        session_secret=env.get("BV_SESSION_SECRET", "").strip(),
    )


def _positive(env, name: str, default: int) -> int:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}「{value}」应为正整数")
    return int(value)


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"BV_DISPLAY_TZ「{name}」不是有效的时区名（例如 Asia/Shanghai、UTC）"
        ) from exc
    return name.strip()


def _empty_answers(value: str | None) -> tuple[str, ...]:
    """BV_EMPTY_ANSWERS: comma-separated placeholders; unset or empty = the default list,
    ``off`` = none (only blank cells count as empty)."""
    if value is None or not value.strip():
        return DEFAULT_EMPTY_ANSWERS
    if value.strip().lower() == "off":
        return ()
    return tuple(v.strip() for v in value.split(",") if v.strip())


def placeholder_key(text: str) -> str:
    """How answers are compared with the placeholder list (NFKC, trimmed, case-folded)."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def placeholder_keys(values: Iterable[str]) -> frozenset[str]:
    """The comparison keys of a placeholder list."""
    return frozenset(placeholder_key(v) for v in values)


# --------------------------------------------------------------------------- display time
def to_display_time(values, tz: str | None = None):
    """Times converted to the display time zone (``BV_DISPLAY_TZ``), still tz-aware.

    Accepts a Series, a Timestamp/datetime or a string. Aware values (the store's
    TIMESTAMPTZ columns come back in UTC) are converted; naive ones are wall-clock times
    already (survey dates are stored as local dates) and are returned unchanged.
    This is the one place that decides how a stored instant is shown.

    Example: ``to_display_time(pd.Timestamp("2026-10-12T15:30Z"))`` is 23:30+08:00.
    """
    zone = tz or settings().display_tz
    if isinstance(values, pd.Series):
        times = pd.to_datetime(values)
        return times.dt.tz_convert(zone) if times.dt.tz is not None else times
    if values is None or (not isinstance(values, datetime | str) and pd.isna(values)):
        return pd.NaT
    ts = pd.Timestamp(values)
    return ts.tz_convert(zone) if ts.tzinfo is not None else ts


def display_today(tz: str | None = None) -> date:
    """Today's date in the display time zone: the date a user there calls today (the server's
    own ``date.today()`` is a day behind from 16:00 UTC on in Asia/Shanghai)."""
    return pd.Timestamp.now(tz=tz or settings().display_tz).date()


def format_display_time(values, fmt: str = "%Y-%m-%d %H:%M", tz: str | None = None):
    """:func:`to_display_time` as text (a Series of strings, "" where missing; or one string)."""
    shown = to_display_time(values, tz)
    if isinstance(shown, pd.Series):
        return shown.dt.strftime(fmt).fillna("")
    return "" if pd.isna(shown) else shown.strftime(fmt)


# --------------------------------------------------------------------------- alerts
@dataclass(frozen=True)
class AlertSettings:
    """Where fired alerts go (``data.alert_delivery``); the admin page may override the
    webhook, the recipients and the cool-down (``data.alerts.delivery_settings``)."""

    webhook: str = ""  # BV_ALERT_WEBHOOK: http(s) URL each alert is POSTed to as JSON; "" = none
    emails: tuple[str, ...] = ()  # BV_ALERT_EMAILS: recipients, comma-separated; "" = none
    smtp_host: str = ""  # BV_SMTP_HOST: the mail server; "" = no e-mail
    smtp_port: int = 25  # BV_SMTP_PORT: 25, 587 (STARTTLS) or 465 (TLS from the start)
    smtp_user: str = ""  # BV_SMTP_USER: "" = send without logging in
    smtp_password: str = field(default="", repr=False)  # BV_SMTP_PASSWORD
    smtp_from: str = "borrower-voice@localhost"  # BV_SMTP_FROM: the sender address
    smtp_starttls: bool = False  # BV_SMTP_STARTTLS: default on for port 587, else off
    cooldown_h: float = 24.0  # BV_ALERT_COOLDOWN_H: one condition alerts at most once per this


def alert_settings() -> AlertSettings:
    """Read the alert delivery settings now (documented in .env.example)."""
    env = os.environ
    port = _positive(env, "BV_SMTP_PORT", 25)
    return AlertSettings(
        webhook=(env.get("BV_ALERT_WEBHOOK") or "").strip(),
        emails=split_emails(env.get("BV_ALERT_EMAILS") or ""),
        smtp_host=(env.get("BV_SMTP_HOST") or "").strip(),
        smtp_port=port,
        smtp_user=(env.get("BV_SMTP_USER") or "").strip(),
        smtp_password=env.get("BV_SMTP_PASSWORD") or "",
        smtp_from=(env.get("BV_SMTP_FROM") or "").strip() or AlertSettings.smtp_from,
        smtp_starttls=_flag(env.get("BV_SMTP_STARTTLS"), port == 587),
        cooldown_h=cooldown_hours(env.get("BV_ALERT_COOLDOWN_H") or "24", "BV_ALERT_COOLDOWN_H"),
    )


def split_emails(value: str) -> tuple[str, ...]:
    """Recipients from a comma-, semicolon- or space-separated list."""
    return tuple(v for v in value.replace(";", ",").replace(" ", ",").split(",") if v.strip())


def cooldown_hours(value: str | float, name: str = "冷却时间") -> float:
    """A cool-down in hours: a finite number, 0 or more."""
    try:
        hours = float(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}「{value}」应为小时数（0 或正数，例如 24）") from None
    if not 0 <= hours < float("inf"):
        raise ValueError(f"{name}「{value}」应为小时数（0 或正数，例如 24）")
    return hours
