"""Early warning: a case per flagged borrower, ordered by severity, then recency.

A survey answer or a callee's call turn with a risk flag (``scores.risk_flags``, see
``nlp.risk``) opens a case for its borrower and that flag. While the case is open, later
flagged contacts update it (last contact, evidence); once it is closed, a flagged contact that
arrives later opens a new one. Status moves 新 → 跟进中 → 已关闭 with notes; every change is
written to ``case_notes`` and the audit log. :func:`sync_cases` is idempotent: ingest, the demo
loader and the 预警 page all call it.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from data.query_base import masked
from data.store import Store, new_id, now
from nlp.labels import RISK_FLAG_NAMES_ZH
from nlp.risk import risk_severity

STATUSES: dict[str, str] = {"new": "新", "in_progress": "跟进中", "closed": "已关闭"}

# Every flagged contact with a borrower id: survey answers, and callee turns of calls.
_FLAGGED = """
    SELECT r.borrower_id, f.flag, 'response' AS source_kind, r.response_id AS source_id,
           r.submitted_at AS contact_at, b.uploaded_at AS arrived_at,
           json_extract_string(s.risk_evidence, '$.' || f.flag) AS evidence
    FROM responses r
    JOIN scores s ON s.target_kind = 'response' AND s.target_id = r.response_id
    JOIN batches b ON b.batch_id = r.batch_id
    CROSS JOIN UNNEST(s.risk_flags) AS f(flag)
    WHERE r.borrower_id IS NOT NULL AND trim(r.borrower_id) <> ''
    UNION ALL
    SELECT c.borrower_id, f.flag, 'call' AS source_kind, c.call_id AS source_id,
           c.started_at AS contact_at, b.uploaded_at AS arrived_at,
           json_extract_string(s.risk_evidence, '$.' || f.flag) AS evidence
    FROM turns t
    JOIN calls c ON c.call_id = t.call_id
    JOIN scores s ON s.target_kind = 'turn' AND s.target_id = t.call_id || '#' || t.turn_index
    JOIN batches b ON b.batch_id = c.batch_id
    CROSS JOIN UNNEST(s.risk_flags) AS f(flag)
    WHERE t.speaker <> 'agent' AND c.borrower_id IS NOT NULL AND trim(c.borrower_id) <> ''
"""


class Actor(Protocol):
    """Who changes a case (``data.auth.Actor``; not imported, so ingest can call this module
    without importing the accounts layer)."""

    user: str

    def require(self, permission: str) -> None: ...


class CaseError(ValueError):
    """A case change is not allowed; the message is safe to show."""


def sync_cases(store: Store) -> int:
    """Open or update cases for every flagged contact; returns the number of cases opened."""
    flagged = store.query(f"SELECT * FROM ({_FLAGGED}) ORDER BY contact_at NULLS FIRST")
    if flagged.empty:
        return 0
    cases = store.query(
        "SELECT case_id, borrower_id, flag, status, updated_at, last_contact_at, source_id "
        "FROM warning_cases"
    )
    severity = risk_severity()
    opened = 0
    stamp = now()
    with store.transaction() as cur:
        for (borrower, flag), group in flagged.groupby(["borrower_id", "flag"], sort=False):
            mine = cases[(cases["borrower_id"] == borrower) & (cases["flag"] == flag)]
            known = set(mine["source_id"])
            open_case = mine[mine["status"] != "closed"]
            closed_at = mine.loc[mine["status"] == "closed", "updated_at"].max()
            for row in group.itertuples(index=False):
                if open_case.empty:
                    if row.source_id in known:
                        continue
                    if pd.notna(closed_at) and row.arrived_at <= closed_at:
                        continue  # handled by a case closed after this contact arrived
                    case_id = new_id("case")
                    cur.execute(
                        "INSERT INTO warning_cases VALUES (?, ?, ?, ?, 'new', NULL, ?, ?, ?, ?, ?, ?)",
                        [
                            case_id,
                            borrower,
                            flag,
                            severity.get(flag, 1),
                            stamp,
                            stamp,
                            row.contact_at,
                            row.source_kind,
                            row.source_id,
                            row.evidence,
                        ],
                    )
                    opened += 1
                    known.add(row.source_id)
                    open_case = pd.DataFrame(
                        [{"case_id": case_id, "last_contact_at": row.contact_at}]
                    )
                    continue
                last = open_case["last_contact_at"].iloc[0]
                if row.source_id in known or (
                    pd.notna(last) and pd.notna(row.contact_at) and row.contact_at <= last
                ):
                    continue
                cur.execute(
                    "UPDATE warning_cases SET last_contact_at = ?, source_kind = ?, "
                    "source_id = ?, evidence = ?, updated_at = ? WHERE case_id = ?",
                    [
                        row.contact_at,
                        row.source_kind,
                        row.source_id,
                        row.evidence,
                        stamp,
                        open_case["case_id"].iloc[0],
                    ],
                )
                known.add(row.source_id)
                open_case = open_case.assign(last_contact_at=row.contact_at)
    return opened


def case_queue(
    store: Store,
    statuses: tuple[str, ...] = ("new", "in_progress"),
    flag: str | None = None,
    reveal: bool = False,
) -> pd.DataFrame:
    """Cases most severe first, then most recent contact first, with their age in days.

    Args:
        statuses: the statuses to list.
        flag: only this flag.
        reveal: evidence as written (roles that may see personal data); masked otherwise.
    """
    where, params = ["status IN (SELECT UNNEST(?::VARCHAR[]))"], [list(statuses)]
    if flag:
        where.append("flag = ?")
        params.append(flag)
    df = store.query(
        f"""SELECT w.*, date_diff('hour', opened_at, now()) / 24.0 AS age_days,
                   (SELECT note FROM case_notes n WHERE n.case_id = w.case_id AND note <> ''
                    ORDER BY written_at DESC LIMIT 1) AS last_note
            FROM warning_cases w WHERE {" AND ".join(where)}
            ORDER BY severity DESC, last_contact_at DESC NULLS LAST, opened_at DESC""",
        params,
    )
    df["flag_name"] = df["flag"].map(RISK_FLAG_NAMES_ZH)
    df["status_name"] = df["status"].map(STATUSES)
    df["evidence"] = df["evidence"].fillna("")
    return df if reveal else masked(df, "evidence")


def case_counts(store: Store) -> dict[str, int]:
    """Open cases per flag (every flag present, zero when none) plus ``total``."""
    df = store.query(
        "SELECT flag, count(*) AS n FROM warning_cases WHERE status <> 'closed' GROUP BY flag"
    )
    counts = {flag: 0 for flag in RISK_FLAG_NAMES_ZH}
    counts.update(dict(zip(df["flag"], df["n"].astype(int), strict=True)))
    counts["total"] = sum(counts.values())
    return counts


def case_notes(store: Store, case_id: str) -> pd.DataFrame:
    """A case's history, oldest first."""
    return store.query(
        "SELECT written_at, author, status, note FROM case_notes WHERE case_id = ? "
        "ORDER BY written_at",
        [case_id],
    )


def update_case(
    store: Store,
    actor: Actor,
    case_id: str,
    *,
    status: str | None = None,
    owner: str | None = None,
    note: str = "",
) -> None:
    """Change a case's status and/or owner and add a note (all in one transaction, audited).

    Raises:
        CaseError: unknown case or status, or nothing to change.
    """
    actor.require("handle_warnings")
    if status is not None and status not in STATUSES:
        raise CaseError(f"未知的状态「{status}」")
    current = store.query("SELECT status, owner FROM warning_cases WHERE case_id = ?", [case_id])
    if current.empty:
        raise CaseError(f"找不到个案 {case_id}")
    note = (note or "").strip()
    if status == current["status"].iat[0]:
        status = None
    if owner is not None and owner == current["owner"].iat[0]:
        owner = None
    if status is None and owner is None and not note:
        raise CaseError("没有要保存的变更：请修改状态、负责人或填写备注")
    stamp = now()
    with store.transaction() as cur:
        cur.execute(
            "UPDATE warning_cases SET status = coalesce(?, status), owner = coalesce(?, owner), "
            "updated_at = ? WHERE case_id = ?",
            [status, owner, stamp, case_id],
        )
        cur.execute(
            "INSERT INTO case_notes VALUES (?, ?, ?, ?, ?)",
            [case_id, actor.user, stamp, status, note],
        )
    store.audit(
        actor.user,
        "warning_case",
        case_id,
        {"status": status, "owner": owner, "note": bool(note)},
    )
