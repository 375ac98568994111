"""Guarded data operations: every write and every unmasked read takes an :class:`Actor`.

The pages call these, never the raw writers in ``data.ingest`` / ``data.reviews`` (those stay
for the command line, which runs as the machine's own user). ``data.queries`` returns text
already masked (``data.pii``); the only ways to the original text are :func:`reveal_response`
and :func:`reveal_call_turns`, which need ``reveal_pii`` (qa, admin) and write an ``unmask``
audit entry each time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pandas as pd

from data import call_queries, ingest, queries, reviews
from data.auth import Actor
from data.paging import first_rows
from data.pii import mask_series
from data.settings import format_display_time, settings
from data.store import Store

#: audit action -> Chinese name (``review:<action>`` entries are named from reviews.ACTIONS)
AUDIT_ACTIONS = {
    "login": "登录",
    "login_failed": "登录失败",
    "logout": "退出登录",
    "upload": "上传",
    "delete_batch": "删除批次",
    "unmask": "显示原文",
    "export": "导出",
    "user_add": "新增用户",
    "role_change": "角色变更",
    "password_change": "修改密码",
    "password_change_failed": "修改密码失败",
    "password_reset": "重置密码",
    "warning_case": "处理预警个案",
    "alert_rule_add": "新增告警规则",
    "alert_rule_delete": "删除告警规则",
    "alert_ack": "确认告警",
    "alert_settings": "修改告警设置",
    **{f"review:{k}": f"复核：{v}" for k, v in reviews.ACTIONS.items()},
}


#: page permission -> the permission that opens the same page for one's own uploads only
#: (a researcher checks the calls they uploaded on 通话质检: masked, read-only)
OWN_UPLOADS_ONLY = {"view_calls": "upload"}


# --------------------------------------------------------------------------- pages
def may_open(actor: Actor, permission: str) -> bool:
    """Whether the actor may open a page guarded by ``permission``: with the permission itself,
    or limited to their own uploads (``OWN_UPLOADS_ONLY``)."""
    own = OWN_UPLOADS_ONLY.get(permission)
    return actor.can(permission) or (own is not None and actor.can(own))


def own_uploads_only(actor: Actor, permission: str) -> bool:
    """True when the actor sees a ``permission`` page only for the batches they uploaded."""
    return not actor.can(permission) and may_open(actor, permission)


def calls_filters(store: Store, actor: Actor, f: queries.Filters) -> queries.Filters | None:
    """The filters every call query of this actor runs with.

    ``view_calls`` (manager, qa, admin): ``f`` as it is. A researcher (``upload``): ``f``
    limited to the call batches they uploaded themselves, or None when that leaves none (so an
    empty batch filter never widens to every call). Text stays masked either way: only
    ``reveal_pii`` reaches the original.
    """
    if actor.can("view_calls"):
        return f
    actor.require("upload")
    own = store.query(
        "SELECT batch_id FROM batches WHERE kind = 'calls' AND uploaded_by = ? ORDER BY 1",
        [actor.user],
    )["batch_id"].tolist()
    batches = tuple(b for b in own if not f.batches or b in f.batches)
    return replace(f, batches=batches) if batches else None


# --------------------------------------------------------------------------- unmasked reads
def reveal_response(store: Store, actor: Actor, response_id: str) -> str:
    """The original text of one survey answer (``reveal_pii``; audited as ``unmask``)."""
    actor.require("reveal_pii")
    text = store.scalar("SELECT text FROM responses WHERE response_id = ?", [response_id])
    if text is None:
        raise KeyError(f"记录 {response_id} 不存在")
    store.audit(actor.user, "unmask", response_id, {"kind": "response"})
    return text


def reveal_call_turns(store: Store, actor: Actor, call_id: str) -> pd.DataFrame:
    """A call's turns with the original text (``reveal_pii``; audited as ``unmask``)."""
    actor.require("reveal_pii")
    turns = call_queries.call_turns_unmasked(store, call_id)
    store.audit(actor.user, "unmask", call_id, {"kind": "call", "turns": len(turns)})
    return turns


def reviewed_labels(store: Store, actor: Actor) -> pd.DataFrame:
    """The reviewer-labelled set for download, text masked (it leaves the app)."""
    actor.require("evaluate_model")
    labelled = reviews.reviewed_labels(store)
    if not labelled.empty:
        labelled["text"] = mask_series(labelled["text"])
    return labelled


# --------------------------------------------------------------------------- writes
def upload_survey(
    store: Store, actor: Actor, raw: bytes, file_name: str, **kwargs
) -> ingest.IngestResult:
    """``ingest.ingest_survey_bytes`` for an actor with ``upload``."""
    actor.require("upload")
    return ingest.ingest_survey_bytes(store, raw, file_name, uploaded_by=actor.user, **kwargs)


def upload_checked_survey(
    store: Store, actor: Actor, clean, warnings, **kwargs
) -> ingest.IngestResult:
    """``ingest.store_checked_survey`` for an actor with ``upload``."""
    actor.require("upload")
    return ingest.store_checked_survey(store, clean, warnings, uploaded_by=actor.user, **kwargs)


def upload_calls(
    store: Store, actor: Actor, raw: bytes, file_name: str, **kwargs
) -> ingest.IngestResult:
    """``ingest.ingest_calls_bytes`` for an actor with ``upload``."""
    actor.require("upload")
    return ingest.ingest_calls_bytes(store, raw, file_name, uploaded_by=actor.user, **kwargs)


def delete_batch(store: Store, actor: Actor, batch_id: str) -> int:
    """Delete a batch and everything scored from it (``delete_batch``: admin)."""
    actor.require("delete_batch")
    return ingest.delete_batch(store, batch_id, actor.user)


def remove_demo(store: Store, actor: Actor) -> int:
    """Delete every demo batch (``delete_batch``: admin)."""
    from data.demo_loader import remove_demo as _remove

    actor.require("delete_batch")
    return _remove(store, actor.user)


def add_review(
    store: Store, actor: Actor, target_kind: str, target_id: str, action: str, **kwargs
) -> str:
    """Record a review as the actor (``review``: qa, admin)."""
    actor.require("review")
    return reviews.add_review(store, target_kind, target_id, actor.user, action, **kwargs)


def log_export(store: Store, actor: Actor, name: str, fmt: str, rows: int) -> None:
    """An audit entry for a download (the exported table is masked)."""
    store.audit(actor.user, "export", name, {"format": fmt, "rows": rows})


# --------------------------------------------------------------------------- the audit log
def _audit_sql(
    date_from: date | None,
    date_to: date | None,
    users: tuple[str, ...],
    actions: tuple[str, ...],
    search: str | None,
) -> tuple[str, list]:
    where, params = ["TRUE"], []
    if date_from:
        where.append("ts >= ?")
        params.append(pd.Timestamp(date_from, tz=settings().display_tz))
    if date_to:
        where.append("ts < ?")
        params.append(pd.Timestamp(date_to + timedelta(days=1), tz=settings().display_tz))
    if users:
        where.append("actor IN (SELECT UNNEST(?::VARCHAR[]))")
        params.append(list(users))
    if actions:
        exact = [a for a in actions if not a.endswith(":*")]
        prefixes = [a[:-1] for a in actions if a.endswith(":*")]
        ors = ["action IN (SELECT UNNEST(?::VARCHAR[]))"] if exact else []
        params += [exact] if exact else []
        for p in prefixes:
            ors.append("starts_with(action, ?)")
            params.append(p)
        where.append("(" + " OR ".join(ors) + ")")
    if search and search.strip():
        where.append("(target ILIKE ? OR CAST(detail AS VARCHAR) ILIKE ? OR actor ILIKE ?)")
        params += [f"%{search.strip()}%"] * 3
    sql = f"""SELECT ts, actor, action, target, CAST(detail AS VARCHAR) AS detail FROM audit_log
              WHERE {" AND ".join(where)}"""
    return sql, params


_AUDIT_ORDER = "ts DESC, actor, action, target"


def audit_log(
    store: Store,
    actor: Actor,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    users: tuple[str, ...] = (),
    actions: tuple[str, ...] = (),
    search: str | None = None,
    limit: int = 5000,
) -> pd.DataFrame:
    """The newest ``limit`` audit entries: ts, actor, action, target, detail (``view_audit``).

    ``actions`` may name a prefix ending in ``:*`` (``review:*``: every review action).
    For a table with the true number of entries, use :func:`audit_page`.
    """
    actor.require("view_audit")
    sql, params = _audit_sql(date_from, date_to, users, actions, search)
    return first_rows(store, sql, params, _AUDIT_ORDER, limit)


def audit_page(
    store: Store,
    actor: Actor,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    users: tuple[str, ...] = (),
    actions: tuple[str, ...] = (),
    search: str | None = None,
    offset: int = 0,
    limit: int = queries.PAGE_SIZE,
) -> queries.Page:
    """One page of audit entries, newest first, with the true number that match (the
    filters of :func:`audit_log`; ``view_audit``)."""
    actor.require("view_audit")
    sql, params = _audit_sql(date_from, date_to, users, actions, search)
    return queries.paged(store, sql, params, _AUDIT_ORDER, offset, limit)


def audit_facets(store: Store, actor: Actor) -> dict[str, list[str]]:
    """Distinct actors and actions in the audit log (for the filters)."""
    actor.require("view_audit")
    return {
        col: store.query(f"SELECT DISTINCT {col} AS v FROM audit_log ORDER BY 1")["v"].tolist()
        for col in ("actor", "action")
    }


def audit_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """Audit entries with Chinese column names and action names."""
    return pd.DataFrame(
        {
            "时间": format_display_time(df["ts"], "%Y-%m-%d %H:%M:%S"),
            "用户": df["actor"],
            "操作": df["action"].map(lambda a: AUDIT_ACTIONS.get(a, a)),
            "对象": df["target"].fillna(""),
            "详情": df["detail"].fillna(""),
        }
    )
