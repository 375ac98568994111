"""Batches in the store: one file's rows, scores and audit entry, written all-or-nothing.

Every writer (survey ingest, calls ingest, the Parquet import, the demo loader) goes through
:func:`new_batch` inside one transaction, so a batch is either whole or absent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

import pandas as pd

from data.alerts import evaluate_after_ingest
from data.reader import InputError as IngestError
from data.reader import Problem
from data.store import Store, new_id, now

CALL_COLUMNS = [
    "call_id",
    "batch_id",
    "borrower_id",
    "agent_id",
    "agent_name",
    "team",
    "started_at",
    "duration_s",
    "outcome",
    "product",
    "overdue_bucket",
]
TURN_COLUMNS = ["call_id", "turn_index", "speaker", "text", "start_s", "end_s"]


def sha256_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def find_batch(store: Store, sha: str, kind: str) -> str | None:
    """The batch id already holding this exact file, if any."""
    return store.scalar("SELECT batch_id FROM batches WHERE sha256 = ? AND kind = ?", [sha, kind])


def _list_column(scored: pd.DataFrame, column: str, empty=None) -> list:
    """A list/dict label column, empty values where an older scorer did not write it."""
    if column not in scored.columns:
        return [empty if empty is not None else [] for _ in range(len(scored))]
    return [v if v is not None else (empty if empty is not None else []) for v in scored[column]]


def write_scores(cur, kind: str, ids: list[str], batch_id: str, scored: pd.DataFrame) -> None:
    """Insert model outputs (and the exploded aspects table) for scored texts."""
    frame = pd.DataFrame(
        {
            "target_kind": kind,
            "target_id": ids,
            "batch_id": batch_id,
            "model_id": scored["model"].to_numpy(),
            "sentiment": scored["sentiment"].to_numpy(),
            "sentiment_score": scored["sentiment_score"].astype(float).to_numpy(),
            "confidence": scored["confidence"].astype(float).to_numpy(),
            "aspects": [json.dumps(a, ensure_ascii=False) for a in scored["aspects"]],
            "emotions": scored["emotions"].to_numpy(),
            "complaint": scored["complaint"].astype(bool).to_numpy(),
            "complaint_reasons": scored["complaint_reasons"].to_numpy(),
            "requests": scored["requests"].to_numpy(),
            "risk_flags": _list_column(scored, "risk_flags"),
            "risk_evidence": [
                json.dumps(e, ensure_ascii=False) for e in _list_column(scored, "risk_evidence", {})
            ],
        }
    )
    cur.register("new_scores", frame)
    cur.execute(
        "INSERT INTO scores SELECT target_kind, target_id, batch_id, model_id, sentiment, "
        "sentiment_score, confidence, aspects::JSON, emotions::VARCHAR[], complaint, "
        "complaint_reasons::VARCHAR[], requests::VARCHAR[], risk_flags::VARCHAR[], "
        "risk_evidence::JSON FROM new_scores"
    )
    cur.unregister("new_scores")
    rows = [
        (kind, tid, batch_id, tactic, pol)
        for tid, asp in zip(ids, scored["aspects"], strict=True)
        for tactic, pol in asp.items()
    ]
    if rows:
        aspects = pd.DataFrame(
            rows, columns=["target_kind", "target_id", "batch_id", "tactic", "polarity"]
        )
        cur.register("new_aspects", aspects)
        cur.execute("INSERT INTO aspects SELECT * FROM new_aspects")
        cur.unregister("new_aspects")


def insert_frame(cur, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    cur.register("incoming", frame[columns])
    cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM incoming")
    cur.unregister("incoming")


RESPONSE_COLUMNS = [
    "response_id",
    "batch_id",
    "respondent_id",
    "borrower_id",
    "submitted_at",
    "product",
    "region",
    "overdue_bucket",
    "channel",
    "csat",
    "nps",
    "text",
]


def new_batch(
    cur,
    store: Store,
    *,
    batch_id: str,
    kind: str,
    file_name: str,
    sha: str,
    rows: int,
    uploaded_by: str,
    is_demo: bool,
    model_id: str | None,
    audit: dict,
) -> None:
    """Inside ``cur``'s transaction: refuse a file stored before, then add the batch row and
    the upload's audit entry."""
    if find_batch_cur(cur, sha, kind):
        raise IngestError("该文件已导入过")
    cur.execute(
        "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, 'stored', ?, ?)",
        [batch_id, file_name, sha, kind, rows, uploaded_by, now(), is_demo, model_id],
    )
    store.audit(uploaded_by, "upload", batch_id, {"file": file_name, **audit}, cur=cur)


def _model_id(scored: pd.DataFrame) -> str | None:
    return str(scored["model"].iloc[0]) if len(scored) else None


def store_survey_batch(
    store: Store,
    responses: pd.DataFrame,
    scored: pd.DataFrame,
    *,
    file_name: str,
    sha: str,
    uploaded_by: str,
    is_demo: bool = False,
) -> str:
    """Write responses + scores + the batch row + an audit entry in ONE transaction."""
    batch_id = new_id("demo" if is_demo else "b")
    frame = responses.copy()
    if "response_id" not in frame:
        frame["response_id"] = [f"{batch_id}-{i:06d}" for i in range(len(frame))]
    frame["batch_id"] = batch_id
    for col in RESPONSE_COLUMNS:
        if col not in frame:
            frame[col] = None
    with store.transaction() as cur:
        new_batch(
            cur,
            store,
            batch_id=batch_id,
            kind="survey",
            file_name=file_name,
            sha=sha,
            rows=len(frame),
            uploaded_by=uploaded_by,
            is_demo=is_demo,
            model_id=_model_id(scored),
            audit={"rows": len(frame), "kind": "survey"},
        )
        insert_frame(cur, "responses", frame, RESPONSE_COLUMNS)
        write_scores(cur, "response", frame["response_id"].tolist(), batch_id, scored)
    _after_commit(store, batch_id, is_demo)
    return batch_id


def find_batch_cur(cur, sha: str, kind: str) -> bool:
    row = cur.execute("SELECT 1 FROM batches WHERE sha256 = ? AND kind = ?", [sha, kind]).fetchone()
    return row is not None


def delete_batch(store: Store, batch_id: str, actor: str) -> int:
    """Remove a batch and everything derived from it, atomically. Returns rows removed."""
    with store.transaction() as cur:
        row = cur.execute("SELECT row_count FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
        if row is None:
            raise IngestError(f"批次 {batch_id} 不存在")
        cur.execute(
            "DELETE FROM reviews WHERE target_id IN (SELECT target_id FROM scores "
            "WHERE batch_id = ?)",
            [batch_id],
        )
        cur.execute(
            "DELETE FROM turns WHERE call_id IN (SELECT call_id FROM calls WHERE batch_id = ?)",
            [batch_id],
        )
        for table in ("scores", "aspects", "responses", "calls", "call_analysis", "batches"):
            cur.execute(f"DELETE FROM {table} WHERE batch_id = ?", [batch_id])
        store.audit(actor, "delete_batch", batch_id, {"rows": int(row[0])}, cur=cur)
    return int(row[0])


def _after_commit(store: Store, batch_id: str, is_demo: bool) -> None:
    """After a batch is committed: open early-warning cases for new flags (``data.warnings``),
    then evaluate the alert rules (not for demo data; ``data.alerts`` never raises). A failure
    here is logged and never undoes the stored batch (the next ingest or page view retries)."""
    from data.warnings import sync_cases

    try:
        sync_cases(store)
    except Exception:  # the batch is stored; the cases catch up on the next sync
        logging.getLogger(__name__).exception("预警个案同步失败")
    if not is_demo:
        evaluate_after_ingest(store, batch_id)


def insert_analysis(cur, analysis: pd.DataFrame) -> None:
    """Inside ``cur``'s transaction: add :func:`analysis_rows` to ``call_analysis``."""
    if not len(analysis):
        return
    cur.register("new_analysis", analysis)
    cur.execute(
        "INSERT INTO call_analysis SELECT call_id, batch_id, violations::VARCHAR[], "
        "evidence::JSON, borrower_sentiment_start, borrower_sentiment_end, "
        "sentiment_change, agent_offered_plan, promise_to_pay, trajectory::JSON, "
        "risk_flags::VARCHAR[], party FROM new_analysis"
    )
    cur.unregister("new_analysis")


def analysis_rows(analyses: list, batch_id: str) -> pd.DataFrame:
    """The ``call_analysis`` rows of a batch (evidence and trajectory as JSON text)."""
    rows = []
    for a in analyses:
        d = a.to_dict() if hasattr(a, "to_dict") else dict(a)
        traj = d.get("trajectory") or []
        change = float(traj[-1][1]) - float(traj[0][1]) if len(traj) >= 2 else None
        rows.append(
            {
                "call_id": d["call_id"],
                "batch_id": batch_id,
                "violations": list(d.get("violations", [])),
                "evidence": json.dumps(d.get("evidence", []), ensure_ascii=False),
                "borrower_sentiment_start": d.get("borrower_sentiment_start"),
                "borrower_sentiment_end": d.get("borrower_sentiment_end"),
                "sentiment_change": change,
                "agent_offered_plan": bool(d.get("agent_offered_plan")),
                "promise_to_pay": bool(d.get("promise_to_pay")),
                "trajectory": json.dumps(traj),
                "risk_flags": list(d.get("risk_flags") or []),
                "party": d.get("party"),
            }
        )
    return pd.DataFrame(rows)


def _with_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.reset_index(drop=True).copy()
    for col in columns:
        if col not in frame:
            frame[col] = None
    return frame


def store_calls_batch(
    store: Store,
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    turn_scores: pd.DataFrame,
    analyses: list,
    *,
    file_name: str,
    sha: str,
    uploaded_by: str,
    is_demo: bool = False,
) -> str:
    """Write calls, turns, turn scores and call analyses + batch + audit in ONE transaction."""
    batch_id = new_id("demo" if is_demo else "b")
    calls = _with_columns(calls.assign(batch_id=batch_id), CALL_COLUMNS)
    turns = _with_columns(turns, TURN_COLUMNS)
    ids = [f"{c}#{int(i)}" for c, i in zip(turns["call_id"], turns["turn_index"], strict=True)]
    analysis = analysis_rows(analyses, batch_id)
    with store.transaction() as cur:
        clash = cur.execute(
            "SELECT count(*) FROM calls WHERE call_id IN (SELECT UNNEST(?::VARCHAR[]))",
            [calls["call_id"].astype(str).tolist()],
        ).fetchone()[0]
        if clash and not find_batch_cur(cur, sha, "calls"):
            raise IngestError(f"{clash} 个通话编号(call_id)已存在于其他批次中，文件未导入")
        new_batch(
            cur,
            store,
            batch_id=batch_id,
            kind="calls",
            file_name=file_name,
            sha=sha,
            rows=len(calls),
            uploaded_by=uploaded_by,
            is_demo=is_demo,
            model_id=_model_id(turn_scores),
            audit={"calls": len(calls), "kind": "calls"},
        )
        insert_frame(cur, "calls", calls, CALL_COLUMNS)
        insert_frame(cur, "turns", turns, TURN_COLUMNS)
        write_scores(cur, "turn", ids, batch_id, turn_scores)
        insert_analysis(cur, analysis)
    _after_commit(store, batch_id, is_demo)
    return batch_id


@dataclass
class IngestResult:
    """What an ingest did."""

    batch_id: str | None
    kind: str
    rows: int
    duplicate: bool = False
    warnings: list[Problem] = field(default_factory=list)
    model_id: str | None = None
    seconds: float = 0.0
    skipped_duplicates: int = 0
    kept_duplicates: int = 0

    def summary(self) -> str:
        if self.duplicate:
            return f"该文件已导入过（批次 {self.batch_id}），未重复存储。"
        skipped = f"{self.skipped_duplicates:,} 行已存在，已跳过" if self.skipped_duplicates else ""
        if self.batch_id is None:
            return f"{skipped}；没有新的行需要导入。"
        done = f"已导入 {self.rows:,} 条{'问卷回答' if self.kind == 'survey' else '通话'}，批次 {self.batch_id}"
        if self.kept_duplicates:
            done += f"（其中 {self.kept_duplicates:,} 行与已有数据重复，按要求仍导入）"
        return f"{done}；{skipped}。" if skipped else f"{done}。"


def store_scored_calls(
    store: Store,
    calls: pd.DataFrame,
    turns: pd.DataFrame,
    turn_labels: pd.DataFrame,
    analyses: list,
    *,
    file_name: str,
    sha: str,
    uploaded_by: str,
    started: float,
) -> IngestResult:
    """Store one scored calls batch (all or nothing) and say what was stored; the reader's
    notes become warnings."""
    batch_id = store_calls_batch(
        store,
        calls,
        turns,
        turn_labels,
        analyses,
        file_name=file_name,
        sha=sha,
        uploaded_by=uploaded_by,
    )
    notes = [Problem(None, None, n, "warning") for n in calls.attrs.get("notes", [])]
    return IngestResult(
        batch_id,
        "calls",
        len(calls),
        warnings=notes,
        model_id=str(turn_labels["model"].iloc[0]) if len(turn_labels) else None,
        seconds=time.time() - started,
    )
