"""Re-scoring stored survey answers and calls with another model version, all or nothing.

:func:`rescore` scores every stored answer in chunks, then every call batch with the one calls
batch function (``nlp.compliance.score_calls``: turn labels, then the compliance analysis
again, batch by batch as they were stored), reporting progress. It keeps the new labels in
memory and writes them in one transaction only when everything is done: until then the old
scores stay in place, and a failure or a stop leaves them all as they were. Each new score
carries its model id. :func:`start` runs it in a background thread, one per database, and
:func:`job` reports on it (the model page polls it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from data.auth import Actor
from data.store import Store

CHUNK = 500


class Stopped(RuntimeError):
    """The re-score was asked to stop; nothing was written."""


def rescore(
    store: Store,
    model: str,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    chunk: int = CHUNK,
) -> dict:
    """Score every stored survey answer with ``model`` and replace their label columns and
    aspects in one transaction. Returns ``{"rows", "model_id", "seconds"}``.

    Raises:
        Stopped: ``should_stop()`` said so between chunks (nothing written).
    """
    from nlp.pipeline import score_texts

    t0 = time.perf_counter()
    rows = store.query(
        "SELECT r.response_id, r.text FROM responses r JOIN scores s "
        "ON s.target_kind = 'response' AND s.target_id = r.response_id ORDER BY r.response_id"
    )
    calls = store.query("SELECT * FROM calls ORDER BY batch_id, call_id")
    turns = store.query("SELECT * FROM turns ORDER BY call_id, turn_index")
    parts = []
    total = len(rows) + len(turns)
    if progress:
        progress(0, total)
    for start in range(0, len(rows), chunk):
        if should_stop and should_stop():
            raise Stopped("已停止重新评分：原有评分保持不变")
        part = rows.iloc[start : start + chunk]
        scored = score_texts(part["text"].tolist(), model)
        scored.insert(0, "target_id", part["response_id"].to_numpy())
        parts.append(scored)
        if progress:
            progress(min(start + chunk, len(rows)), total)
    call_parts = _score_calls(calls, turns, model, len(rows), total, progress, should_stop)
    if not parts and not call_parts:
        return {"rows": 0, "calls": 0, "model_id": None, "seconds": 0.0}
    new = pd.concat(parts, ignore_index=True) if parts else None
    _write(store, new, call_parts)
    model_id = new["model"].iloc[0] if new is not None else call_parts[0][0]["model"].iloc[0]
    return {
        "rows": len(new) if new is not None else 0,
        "calls": len(calls),
        "model_id": str(model_id),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _score_calls(calls, turns, model, done, total, progress, should_stop) -> list:
    """``(turn labels with target ids, analysis rows)`` per stored call batch."""
    from data.batches import analysis_rows
    from nlp.compliance import score_calls

    out = []
    for batch_id, batch in calls.groupby("batch_id", sort=True):
        if should_stop and should_stop():
            raise Stopped("已停止重新评分：原有评分保持不变")
        mine = turns[turns["call_id"].isin(set(batch["call_id"]))].reset_index(drop=True)
        scored = score_calls(batch.reset_index(drop=True), mine, model=model)
        labels = scored.turn_labels.copy()
        labels.insert(
            0,
            "target_id",
            [f"{c}#{int(i)}" for c, i in zip(mine["call_id"], mine["turn_index"], strict=True)],
        )
        out.append((labels, analysis_rows(scored.analyses, str(batch_id))))
        done += len(mine)
        if progress:
            progress(done, total)
    return out


def _label_frame(new: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The score columns and the exploded aspect rows of scored texts with ``target_id``."""
    frame = pd.DataFrame(
        {
            "target_id": new["target_id"],
            "model_id": new["model"],
            "sentiment": new["sentiment"],
            "sentiment_score": new["sentiment_score"].astype(float),
            "confidence": new["confidence"].astype(float),
            "aspects": [json.dumps(a, ensure_ascii=False) for a in new["aspects"]],
            "emotions": new["emotions"],
            "complaint": new["complaint"].astype(bool),
            "complaint_reasons": new["complaint_reasons"],
            "requests": new["requests"],
            "risk_flags": new["risk_flags"],
            "risk_evidence": [json.dumps(e, ensure_ascii=False) for e in new["risk_evidence"]],
        }
    )
    aspects = pd.DataFrame(
        [
            (tid, tactic, polarity)
            for tid, found in zip(new["target_id"], new["aspects"], strict=True)
            for tactic, polarity in found.items()
        ],
        columns=["target_id", "tactic", "polarity"],
    )
    return frame, aspects


def _replace_scores(tx, kind: str, new: pd.DataFrame) -> None:
    frame, aspects = _label_frame(new)
    tx.register("rescored", frame)
    tx.execute(
        """UPDATE scores SET model_id = n.model_id, sentiment = n.sentiment,
               sentiment_score = n.sentiment_score, confidence = n.confidence,
               aspects = n.aspects::JSON, emotions = n.emotions::VARCHAR[],
               complaint = n.complaint, complaint_reasons = n.complaint_reasons::VARCHAR[],
               requests = n.requests::VARCHAR[], risk_flags = n.risk_flags::VARCHAR[],
               risk_evidence = n.risk_evidence::JSON
           FROM rescored n
           WHERE scores.target_kind = ? AND scores.target_id = n.target_id""",
        [kind],
    )
    tx.execute(
        "DELETE FROM aspects WHERE target_kind = ? "
        "AND target_id IN (SELECT target_id FROM rescored)",
        [kind],
    )
    tx.register("rescored_aspects", aspects)
    tx.execute(
        """INSERT INTO aspects
           SELECT ?, a.target_id, s.batch_id, a.tactic, a.polarity
           FROM rescored_aspects a JOIN scores s
             ON s.target_kind = ? AND s.target_id = a.target_id""",
        [kind, kind],
    )
    tx.unregister("rescored_aspects")
    tx.unregister("rescored")


def _write(store: Store, new: pd.DataFrame | None, call_parts: list) -> None:
    """Replace answers' and turns' labels and the calls' analyses, in one transaction."""
    from data.batches import insert_analysis

    with store.transaction() as tx:
        if new is not None:
            _replace_scores(tx, "response", new)
        for labels, analysis in call_parts:
            _replace_scores(tx, "turn", labels)
            if len(analysis):
                tx.execute(
                    "DELETE FROM call_analysis WHERE call_id IN (SELECT UNNEST(?::VARCHAR[]))",
                    [analysis["call_id"].astype(str).tolist()],
                )
                insert_analysis(tx, analysis)


@dataclass
class Job:
    """A background re-score: what it does and how far it is."""

    model: str
    actor: str
    done: int = 0
    total: int = 0
    state: str = "running"  # running | done | failed | stopped
    message: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else (1.0 if self.state == "done" else 0.0)


_JOBS: dict[str, Job] = {}  # one per database file: re-scoring is process-wide by nature
_LOCK = threading.Lock()


def job(store: Store) -> Job | None:
    """The latest re-score of this database in this process (running or finished)."""
    return _JOBS.get(str(store.path))


def start(store: Store, actor: Actor, model: str, on_done: Callable[[], None] | None = None) -> Job:
    """Start re-scoring in a background thread (or return the one already running)."""
    actor.require("evaluate_model")
    with _LOCK:
        running = _JOBS.get(str(store.path))
        if running is not None and running.state == "running":
            return running
        new = Job(model=model, actor=actor.user)
        _JOBS[str(store.path)] = new

    def progress(done: int, total: int) -> None:
        new.done, new.total = done, total

    def run() -> None:
        try:
            result = rescore(store, model, progress, new.stop.is_set)
            store.audit(actor.user, "model_rescore", result["model_id"] or "", result)
            new.state, new.message = (
                "done",
                f"已用 {result['model_id']} 重新评分 {result['rows']:,} 条回答、"
                f"{result['calls']:,} 通电话",
            )
        except Stopped as exc:
            new.state, new.message = "stopped", str(exc)
        except Exception as exc:  # the thread must report, never die silently
            new.state, new.message = "failed", f"重新评分失败，原有评分保持不变：{exc}"
        finally:
            new.finished = time.time()
            if on_done:
                on_done()

    threading.Thread(target=run, name="bv-rescore", daemon=True).start()
    return new


def stale(store: Store, model_id: str) -> int:
    """Stored scores (survey answers and call turns) not made by ``model_id``."""
    return int(
        store.scalar(
            "SELECT count(*) FROM scores WHERE model_id <> ?",
            [model_id],
        )
        or 0
    )
