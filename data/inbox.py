"""The inbox: files the command line hands to the running app to import.

DuckDB lets one process write a database file, and the running app's process holds it. So
``python -m data ingest`` / ``import``, on meeting that lock, copy the file into the inbox
(``BV_INBOX``, default ``inbox/`` beside the database) with a small JSON of its options
(:func:`submit`); the app's process imports queued files in a background thread (:func:`start`,
called once from the cached store in ``pages/_cache.py``), each in one transaction like any
upload, and writes ``<job>.result.json`` beside them; the command line waits for that file
(:func:`wait`) and prints it as a direct ingest would. ``python -m data.auth`` queues its audit
entries the same way (:class:`QueuedAudit`).

One job ``<id>`` in the inbox::

    <id>.data.csv        the copied file (``<id>.data/`` for a directory of Parquet parts)
    <id>.meta.csv        calls only: the ``--meta`` CSV
    <id>.job.json        the options; written last, so a job file means a complete job
    <id>.working.json    the job while the app imports it (back to .job.json after a crash)
    <id>.result.json     {"ok": true, "summary": ...} or {"ok": false, "error": ...}
    .worker.json         the app's heartbeat: pid, database, time, the job it is on

Example (the command line's side)::

    job = submit(inbox, Path("answers.xlsx"), {"kind": "survey", "db": "/srv/bv.duckdb"})
    record = wait(job, timeout=120)   # None: not done in time
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from data.store import Store, now

log = logging.getLogger(__name__)

KINDS = ("survey", "calls", "scored_survey", "scored_calls", "audit")
HEARTBEAT = ".worker.json"
STALE_S = 30.0  # a heartbeat older than this (while idle) means no worker
KEEP_RESULTS_S = 7 * 24 * 3600  # unread results are removed after a week


@dataclass(frozen=True)
class Job:
    """One queued file: its id and the inbox it lies in."""

    inbox: Path
    id: str

    @property
    def job_file(self) -> Path:
        return self.inbox / f"{self.id}.job.json"

    @property
    def working_file(self) -> Path:
        return self.inbox / f"{self.id}.working.json"

    @property
    def result_file(self) -> Path:
        return self.inbox / f"{self.id}.result.json"


def same_db(a: Path | str, b: Path | str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


# --------------------------------------------------------------------------- writing files
def _write_json(path: Path, value: dict) -> None:
    """Write ``value`` so a reader sees the whole file or none of it (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _copy(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    if source.is_dir():
        shutil.copytree(source, tmp)
    else:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _new_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


# --------------------------------------------------------------------------- the CLI's side
def submit(inbox: Path, source: Path | None, options: dict, meta: Path | None = None) -> Job:
    """Queue ``source`` (a file or a directory) with its ``options`` for the app to import.

    ``options`` must hold ``kind`` (one of :data:`KINDS`) and ``db`` (the database the file is
    for); the rest are the import's own options (``file_name``, ``text_column``, ``user``,
    ``model``, ``keep_duplicates``). The data is copied first and the job file written last.
    """
    if options.get("kind") not in KINDS:
        raise ValueError(f"unknown inbox job kind {options.get('kind')!r}")
    inbox.mkdir(parents=True, exist_ok=True)
    job = Job(inbox, _new_id())
    options = dict(options, submitted_at=now().isoformat())
    if source is not None:
        data = f"{job.id}.data" + ("" if source.is_dir() else source.suffix.lower())
        _copy(source, inbox / data)
        options["data"] = data
    if meta is not None:
        _copy(meta, inbox / f"{job.id}.meta.csv")
        options["meta"] = f"{job.id}.meta.csv"
    _write_json(job.job_file, options)
    return job


def worker_pid(inbox: Path, db: Path | str) -> int | None:
    """The pid of a live app process importing this inbox into ``db``, else None."""
    try:
        beat = json.loads((inbox / HEARTBEAT).read_text(encoding="utf-8"))
        pid = int(beat["pid"])
        if not same_db(beat["db"], db):
            return None
        fresh = time.time() - float(beat["at"]) < STALE_S or bool(beat.get("busy"))
        os.kill(pid, 0)
    except PermissionError:  # alive, but another user's process
        return pid if fresh else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if fresh else None


def wait(job: Job, timeout: float, poll: float = 0.25) -> dict | None:
    """The job's result record once the app has written it (the file is then removed), or
    None when ``timeout`` seconds pass first (the job stays queued)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            record = json.loads(job.result_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)
            continue
        job.result_file.unlink(missing_ok=True)
        return record


class QueuedAudit:
    """Stands in for a :class:`Store` where only ``audit`` is needed (``python -m data.auth``
    while the app holds the database): each entry is queued for the app to write, with the
    time it happened."""

    def __init__(self, inbox: Path, db: Path | str) -> None:
        self.inbox, self.db = inbox, str(db)

    def audit(self, actor: str, action: str, target: str = "", detail: dict | None = None, **_):
        submit(
            self.inbox,
            None,
            {
                "kind": "audit",
                "db": self.db,
                "actor": actor,
                "action": action,
                "target": target,
                "detail": detail or {},
                "ts": now().isoformat(),
            },
        )


# --------------------------------------------------------------------------- the app's side
def result_record(result) -> dict:
    """An :class:`~data.ingest.IngestResult` as the JSON the command line prints."""
    return {
        "ok": True,
        "summary": result.summary(),
        "warnings": [str(w) for w in result.warnings],
        "batch_id": result.batch_id,
        "rows": result.rows,
        "seconds": result.seconds,
    }


def error_record(exc: BaseException) -> dict:
    """A failed import as the JSON the command line prints (message and problems)."""
    from data.reader.errors import InputError, one_line

    if isinstance(exc, InputError):
        return {"ok": False, "error": str(exc), "problems": [str(p) for p in exc.problems]}
    return {"ok": False, "error": f"导入失败：{one_line(exc)}", "problems": []}


def run_job(store: Store, inbox: Path, options: dict) -> dict:
    """Import one job's data into ``store`` (one transaction, as an upload) → its record."""
    from data.ingest import IngestError, ingest_calls_bytes, ingest_survey_bytes
    from data.scored_calls_import import import_scored_calls
    from data.scored_import import import_scored_survey
    from data.settings import settings

    kind = options.get("kind")
    if not same_db(options.get("db") or store.path, store.path):
        return error_record(
            IngestError(f"此任务要导入数据库 {options['db']}，而应用使用的是 {store.path}")
        )
    if kind == "audit":
        store.audit(
            options["actor"],
            options["action"],
            options.get("target", ""),
            options.get("detail") or {},
            ts=datetime.fromisoformat(options["ts"]),
        )
        return {"ok": True, "summary": "审计记录已写入。", "warnings": []}
    data = inbox / options["data"]
    name = options.get("file_name") or data.name
    user = options.get("user") or "cli"
    try:
        if kind == "survey":
            result = ingest_survey_bytes(
                store,
                data.read_bytes(),
                name,
                text_column=options.get("text_column"),
                uploaded_by=user,
                model=options.get("model"),
                max_rows=settings().max_rows,
                keep_duplicates=bool(options.get("keep_duplicates")),
            )
        elif kind == "calls":
            meta = options.get("meta")
            result = ingest_calls_bytes(
                store,
                data.read_bytes(),
                name,
                meta=inbox / meta if meta else None,
                uploaded_by=user,
                model=options.get("model"),
            )
        elif kind == "scored_survey":
            result = import_scored_survey(
                store,
                data,
                text_column=options.get("text_column"),
                file_name=name,
                uploaded_by=user,
            )
        elif kind == "scored_calls":
            result = import_scored_calls(store, data, file_name=name, uploaded_by=user)
        else:
            raise IngestError(f"未知的任务类型 {kind}")
    except Exception as exc:  # every failure becomes the job's result, never a dead worker
        if not isinstance(exc, IngestError):
            log.exception("inbox job failed")
        return error_record(exc)
    return result_record(result)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def beat(inbox: Path, db: Path | str, busy: str | None = None) -> None:
    """Write the heartbeat that tells the command line a worker is importing this inbox."""
    _write_json(
        inbox / HEARTBEAT, {"pid": os.getpid(), "db": str(db), "at": time.time(), "busy": busy}
    )


def process_pending(store: Store, inbox: Path) -> list[dict]:
    """Import every queued job, oldest first; write each ``<id>.result.json`` and remove the
    copied data. Returns the records written (empty when nothing was queued)."""
    done = []
    for job_file in sorted(inbox.glob("*.job.json")):
        job = Job(inbox, job_file.name.removesuffix(".job.json"))
        try:
            os.replace(job_file, job.working_file)  # claim it
            options = json.loads(job.working_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except ValueError as exc:
            options, record = {}, error_record(exc)
        else:
            beat(inbox, store.path, busy=job.id)
            record = run_job(store, inbox, options)
        if options.get("kind") != "audit":  # nobody waits for an audit entry
            _write_json(job.result_file, record)
        for name in (options.get("data"), options.get("meta")):
            if name:
                _remove(inbox / name)
        job.working_file.unlink(missing_ok=True)
        done.append(record)
    return done


def _tidy(inbox: Path) -> None:
    """Requeue jobs a crashed process left half done (nothing of them was stored: each import
    is one transaction) and drop results nobody read within a week."""
    for working in inbox.glob("*.working.json"):
        os.replace(working, working.with_name(working.name.replace(".working.", ".job.")))
    cutoff = time.time() - KEEP_RESULTS_S
    for result in inbox.glob("*.result.json"):
        if result.stat().st_mtime < cutoff:
            result.unlink(missing_ok=True)


_WORKERS: dict[str, tuple[threading.Thread, threading.Event]] = {}
_WORKERS_LOCK = threading.Lock()


def start(
    store: Store,
    inbox: Path | None,
    on_change: Callable[[], None] | None = None,
    interval: float = 2.0,
) -> threading.Thread | None:
    """Start the background importer for ``inbox`` once per process (later calls return the
    running thread). ``on_change`` runs after jobs were imported (the app clears its caches).
    None when the inbox is off or the store is in memory."""
    if inbox is None or str(store.path) == ":memory:":
        return None
    key = str(inbox.resolve())
    with _WORKERS_LOCK:
        running = _WORKERS.get(key)
        if running is not None and running[0].is_alive():
            return running[0]
        inbox.mkdir(parents=True, exist_ok=True)
        _tidy(inbox)
        stopped = threading.Event()
        thread = threading.Thread(
            target=_loop,
            args=(store, inbox, on_change, interval, stopped),
            name="bv-inbox",
            daemon=True,
        )
        _WORKERS[key] = (thread, stopped)
        thread.start()
        return thread


def stop_all(timeout: float = 5.0) -> None:
    """Stop every worker of this process (tests; the app's workers end with the process)."""
    with _WORKERS_LOCK:
        workers = list(_WORKERS.values())
        _WORKERS.clear()
    for thread, stopped in workers:
        stopped.set()
        thread.join(timeout)


def _loop(store: Store, inbox: Path, on_change, interval: float, stopped) -> None:
    while not stopped.is_set():
        try:
            inbox.mkdir(parents=True, exist_ok=True)
            beat(inbox, store.path)
            if process_pending(store, inbox) and on_change is not None:
                on_change()
            beat(inbox, store.path)
        except Exception:  # a full disk or a vanished folder must not end the thread
            log.exception("inbox worker")
        stopped.wait(interval)
