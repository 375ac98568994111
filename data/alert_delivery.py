"""Alert delivery: a JSON POST to a webhook and a Chinese e-mail over SMTP, retried, logged.

Each attempt on each channel is one row of ``alert_deliveries`` (channel, target, attempt, ok,
error, time). A failure is retried up to ``ATTEMPTS`` times with a doubling pause, then left in
the log: nothing here ever raises into the caller (an upload must not fail because a mail
server is down). :func:`deliver` is synchronous (tests, the admin's test send);
:func:`deliver_in_background` runs it in a thread so an upload returns at once.

Settings (``data.settings.alert_settings``): ``BV_ALERT_WEBHOOK``, ``BV_ALERT_EMAILS``,
``BV_SMTP_HOST`` / ``PORT`` / ``USER`` / ``PASSWORD`` / ``FROM`` / ``STARTTLS``.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from data.settings import AlertSettings, format_display_time
from data.store import Store, now

log = logging.getLogger(__name__)

ATTEMPTS = 3  # per channel and alert
BACKOFF_S = 1.0  # pause before the 2nd attempt; doubled before each later one
TIMEOUT_S = 10.0  # per HTTP request or SMTP session
CHANNELS = {"webhook": "Webhook", "email": "邮件"}


def amount(value: float, unit: str, fmt: str = "g") -> str:
    """A number with its unit: 「15%」, 「30 个百分点」."""
    sep = "" if unit in ("%", "") else " "
    return f"{value:{fmt}}{sep}{unit}"


class DeliveryError(RuntimeError):
    """One attempt failed; ``retry`` is False when trying again cannot help (e.g. HTTP 400)."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Notice:
    """What is sent about one fired alert (built by ``data.alerts``)."""

    alert_id: str
    rule_id: str
    rule_name: str
    metric: str
    metric_label: str
    subject_key: str
    subject_label: str
    value: float
    threshold: float
    unit: str
    fired_at: datetime
    link: str
    message: str

    def payload(self) -> dict:
        """The webhook's JSON body."""
        return {
            "alert_id": self.alert_id,
            "rule": {"id": self.rule_id, "name": self.rule_name},
            "metric": self.metric,
            "metric_label": self.metric_label,
            "value": round(self.value, 4),
            "threshold": self.threshold,
            "unit": self.unit,
            "subject": self.subject_key,
            "subject_label": self.subject_label,
            "time": self.fired_at.isoformat(),
            "link": self.link,
            "message": self.message,
        }

    def email_subject(self) -> str:
        return f"【借款人之声告警】{self.rule_name}：{self.subject_label}"

    def email_body(self) -> str:
        return "\n".join(
            [
                self.message,
                "",
                f"规则：{self.rule_name}",
                f"指标：{self.metric_label}",
                f"对象：{self.subject_label}",
                f"数值：{amount(self.value, self.unit, '.2f')}（阈值 {amount(self.threshold, self.unit)}）",
                f"时间：{format_display_time(self.fired_at, '%Y-%m-%d %H:%M %Z')}",
                f"查看：{self.link}",
                "",
                "此邮件由借款人之声自动发送；请在应用的「告警」页确认。",
            ]
        )


@dataclass(frozen=True)
class Attempt:
    """One try on one channel (a row of ``alert_deliveries``)."""

    alert_id: str
    channel: str
    target: str
    attempt: int
    ok: bool
    error: str | None
    at: datetime


# --------------------------------------------------------------------------- transports
def check_webhook_url(url: str) -> str:
    """``url`` stripped, when it is an http(s) URL with a host; else ValueError (in Chinese)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Webhook 地址「{url}」无效：应以 http:// 或 https:// 开头并包含主机名")
    return url


def post_webhook(url: str, payload: dict, timeout_s: float = TIMEOUT_S) -> None:
    """POST ``payload`` as UTF-8 JSON. Raises DeliveryError unless the answer is 2xx."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        check_webhook_url(url),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "borrower-voice"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        # 408 / 429 / 5xx may pass on a later try; other 4xx will not
        retry = exc.code in (408, 429) or exc.code >= 500
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", retry=retry) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"无法连接：{reason}") from None


def send_email(cfg: AlertSettings, subject: str, body: str, timeout_s: float = TIMEOUT_S) -> None:
    """Send one UTF-8 text mail to ``cfg.emails``. Raises DeliveryError on any failure."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = cfg.smtp_from
    msg["To"] = ", ".join(cfg.emails)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="borrower-voice")
    msg.set_content(body, charset="utf-8")
    try:
        if cfg.smtp_port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.smtp_host,
                cfg.smtp_port,
                timeout=timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=timeout_s)
        with smtp:
            if cfg.smtp_starttls and cfg.smtp_port != 465:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.smtp_user:
                smtp.login(cfg.smtp_user, cfg.smtp_password)
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP 登录失败（{exc.smtp_code}）", retry=False) from None
    except smtplib.SMTPNotSupportedError as exc:  # e.g. no AUTH or STARTTLS on this server
        raise DeliveryError(f"SMTP 服务器不支持：{exc}", retry=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP 发送失败：{exc}") from None


# --------------------------------------------------------------------------- retries and log
def with_retries(
    send: Callable[[], None],
    *,
    attempts: int | None = None,
    backoff_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[tuple[int, bool, str | None, datetime]]:
    """Call ``send`` until it succeeds, ``attempts`` (default ``ATTEMPTS``) times at most,
    pausing ``backoff_s`` (default ``BACKOFF_S``), then twice that, ... between tries.
    Returns (attempt, ok, error, time) per try."""
    attempts = ATTEMPTS if attempts is None else attempts
    backoff_s = BACKOFF_S if backoff_s is None else backoff_s
    tries: list[tuple[int, bool, str | None, datetime]] = []
    for n in range(1, attempts + 1):
        try:
            send()
        except DeliveryError as exc:
            tries.append((n, False, str(exc)[:500], now()))
            if not exc.retry:
                break
        except Exception as exc:  # a bug in a transport must not stop the other channel
            tries.append((n, False, f"{type(exc).__name__}: {exc}"[:500], now()))
        else:
            tries.append((n, True, None, now()))
            break
        if n < attempts:
            sleep(backoff_s * 2 ** (n - 1))
    return tries


def channels(cfg: AlertSettings) -> list[tuple[str, str]]:
    """The configured (channel, target) pairs: the webhook, and e-mail when a host and
    recipients are set."""
    out = []
    if cfg.webhook:
        out.append(("webhook", _shown_url(cfg.webhook)))
    if cfg.smtp_host and cfg.emails:
        out.append(("email", ", ".join(cfg.emails)))
    return out


def _shown_url(url: str) -> str:
    """The webhook without its query string (robot webhooks carry their key there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def deliver(
    store: Store,
    notices: list[Notice],
    cfg: AlertSettings,
    *,
    attempts: int | None = None,
    backoff_s: float | None = None,
    timeout_s: float = TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Attempt]:
    """Send every notice on every configured channel now, log each attempt, return them.

    Never raises for a failed delivery; a failure to write the log is logged and skipped.
    """
    done: list[Attempt] = []
    for notice in notices:
        for channel, target in channels(cfg):
            if channel == "webhook":

                def send(n: Notice = notice) -> None:
                    post_webhook(cfg.webhook, n.payload(), timeout_s)
            else:

                def send(n: Notice = notice) -> None:
                    send_email(cfg, n.email_subject(), n.email_body(), timeout_s)

            tries = with_retries(send, attempts=attempts, backoff_s=backoff_s, sleep=sleep)
            attempts_made = [Attempt(notice.alert_id, channel, target, *t) for t in tries]
            _log_attempts(store, attempts_made)
            done.extend(attempts_made)
    return done


def _log_attempts(store: Store, attempts: list[Attempt]) -> None:
    try:
        with store.transaction() as cur:
            cur.executemany(
                "INSERT INTO alert_deliveries VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [a.alert_id, a.channel, a.target, a.attempt, a.ok, a.error, a.at]
                    for a in attempts
                ],
            )
    except Exception:
        log.exception("could not write the alert delivery log")
    for a in attempts:
        if not a.ok:
            log.warning(
                "alert %s: %s to %s failed (try %d): %s",
                *(a.alert_id, a.channel, a.target, a.attempt, a.error),
            )


def delivery_log(store: Store, limit: int = 200) -> list[Attempt]:
    """The newest ``limit`` delivery attempts, newest first."""
    rows = store.query(
        "SELECT * FROM alert_deliveries ORDER BY attempted_at DESC, attempt DESC LIMIT ?", [limit]
    )
    return [
        Attempt(r.alert_id, r.channel, r.target, int(r.attempt), bool(r.ok), r.error or None, t)
        for r, t in zip(rows.itertuples(), rows["attempted_at"], strict=True)
    ]


# --------------------------------------------------------------------------- in the background
_PENDING: set[threading.Thread] = set()
_PENDING_LOCK = threading.Lock()


def deliver_in_background(
    store: Store, notices: list[Notice], cfg: AlertSettings, **options
) -> threading.Thread | None:
    """:func:`deliver` in a (non-daemon) thread, so a command-line upload still sends its
    alerts before the process exits. None when there is nothing to send."""
    if not notices or not channels(cfg):
        return None

    def run() -> None:
        try:
            deliver(store, notices, cfg, **options)
        except Exception:
            log.exception("alert delivery failed")
        finally:
            with _PENDING_LOCK:
                _PENDING.discard(thread)

    thread = threading.Thread(target=run, name="bv-alert-delivery")
    with _PENDING_LOCK:
        _PENDING.add(thread)
    thread.start()
    return thread


def wait_for_deliveries(timeout_s: float = 60.0) -> bool:
    """Wait for background deliveries to finish (tests, shutdown). True when none is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        with _PENDING_LOCK:
            pending = list(_PENDING)
        if not pending:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        pending[0].join(left)
