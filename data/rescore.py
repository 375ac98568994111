"""Re-scoring stored survey answers with another model version, all or nothing.

:func:`rescore` scores every stored answer in chunks (reporting progress), keeps the new
labels in memory, and writes them in one transaction only when every chunk is done: until
then the old scores stay in place, and a failure or a stop leaves them all as they were. Each
new score carries its model id. :func:`start` runs it in a background thread, one per
database, and :func:`job` reports on it (the model page polls it).

Calls keep the scores they were stored with (their model id says which): a call's turn labels
feed its compliance analysis, which this module does not redo.
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
    parts = []
    total = len(rows)
    if progress:
        progress(0, total)
    for start in range(0, total, chunk):
        if should_stop and should_stop():
            raise Stopped("已停止重新评分：原有评分保持不变")
        part = rows.iloc[start : start + chunk]
        scored = score_texts(part["text"].tolist(), model)
        scored.insert(0, "target_id", part["response_id"].to_numpy())
        parts.append(scored)
        if progress:
            progress(min(start + chunk, total), total)
    if not parts:
        return {"rows": 0, "model_id": None, "seconds": 0.0}
    new = pd.concat(parts, ignore_index=True)
    _write(store, new)
    return {
        "rows": len(new),
        "model_id": str(new["model"].iloc[0]),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _write(store: Store, new: pd.DataFrame) -> None:
    """Replace the label columns and aspect rows of ``new``'s answers, in one transaction."""
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
    with store.transaction() as tx:
        tx.register("rescored", frame)
        tx.execute(
            """UPDATE scores SET model_id = n.model_id, sentiment = n.sentiment,
                   sentiment_score = n.sentiment_score, confidence = n.confidence,
                   aspects = n.aspects::JSON, emotions = n.emotions::VARCHAR[],
                   complaint = n.complaint, complaint_reasons = n.complaint_reasons::VARCHAR[],
                   requests = n.requests::VARCHAR[]
               FROM rescored n
               WHERE scores.target_kind = 'response' AND scores.target_id = n.target_id"""
        )
        tx.execute(
            "DELETE FROM aspects WHERE target_kind = 'response' "
            "AND target_id IN (SELECT target_id FROM rescored)"
        )
        tx.register("rescored_aspects", aspects)
        tx.execute(
            """INSERT INTO aspects
               SELECT 'response', a.target_id, s.batch_id, a.tactic, a.polarity
               FROM rescored_aspects a JOIN scores s
                 ON s.target_kind = 'response' AND s.target_id = a.target_id"""
        )
        tx.unregister("rescored_aspects")
        tx.unregister("rescored")


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
                f"已用 {result['model_id']} 重新评分 {result['rows']:,} 条",
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
    """Stored survey scores not made by ``model_id``."""
    return int(
        store.scalar(
            "SELECT count(*) FROM scores WHERE target_kind = 'response' AND model_id <> ?",
            [model_id],
        )
        or 0
    )
