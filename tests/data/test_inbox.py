"""The database held by another process: one-line messages, and the inbox the app imports from.

A real DuckDB file is held open either by a subprocess (the "other process" the command line
meets) or by this test process playing the app (its store open, a heartbeat in the inbox); the
command lines run as real subprocesses, as a user runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from data import inbox
from data.store import StoreBusy, open_store

ROOT = Path(__file__).resolve().parents[2]
SURVEY_CSV = (
    "回答内容,提交日期,满意度,地区\n"
    "催收员态度很好，帮我申请了分期,2026-05-01,5,广东\n"
    "天天打电话骚扰我家人，太过分了,2026-05-02,1,北京\n"
)
HOLD = (
    "import duckdb, sys\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


def _env(db: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "BV_SENTIMENT_MODEL": "lexicon",
        "BV_DB_PATH": str(db),
        "BV_AUTH_FILE": str(db.parent / "auth.yaml"),
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def held(tmp_path: Path, db_tools) -> Iterator[tuple[Path, subprocess.Popen]]:
    """A database file held open by another process (as the running app would)."""
    db = tmp_path / "bv.duckdb"
    open_store(db)  # migrated, then closed again
    db_tools.close(db)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout.readline().strip() == b"ready"
    yield db, proc
    proc.stdin.close()
    proc.wait(timeout=30)


@pytest.fixture
def survey_file(tmp_path: Path) -> Path:
    path = tmp_path / "answers.csv"
    path.write_text(SURVEY_CSV, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- one line
def test_opening_a_held_file_raises_store_busy_naming_the_holder(held) -> None:
    db, proc = held
    with pytest.raises(StoreBusy) as caught:
        open_store(db)
    assert caught.value.pid == proc.pid
    assert f"PID {proc.pid}" in str(caught.value) and "只允许一个进程写入" in str(caught.value)


def test_every_command_meeting_the_lock_prints_one_line_and_exits_2(held, survey_file) -> None:
    db, proc = held
    env = _env(db)
    commands = {
        "delete": ["data", "delete", "b-x", "--db", str(db)],
        "batches": ["data", "batches", "--db", str(db)],
        "init-demo": ["data", "init-demo", "--force", "--db", str(db)],
        # held by a process that is not the app: no worker reads the inbox
        "ingest": ["data", "ingest", str(survey_file), "--kind", "survey", "--db", str(db)],
        "import": ["data", "import", str(survey_file.parent), "--kind", "survey", "--db", str(db)],
    }
    runs = {name: _cli(args, env) for name, args in commands.items()}
    for name, run in runs.items():
        out, err = run.communicate(timeout=120)
        assert run.returncode == 2, (name, err)
        assert "Traceback" not in out + err, (name, err)
        lines = _lines(err)
        assert len(lines) == 1, (name, err)
        assert lines[0].startswith("错误：数据库") and f"PID {proc.pid}" in lines[0], name
    assert not (db.parent / "inbox").exists() or not list((db.parent / "inbox").glob("*.job.json"))


def test_data_auth_still_changes_users_and_queues_its_audit_entry(held, tmp_path) -> None:
    db, proc = held
    run = _cli(["data.auth", "add-user", "zhang", "qa"], _env(db))
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "Traceback" not in err and len(_lines(err)) == 1
    assert f"PID {proc.pid}" in err and "审计记录已放入收件箱" in err
    assert out.startswith("zhang: ")  # the one-time password
    jobs = list((db.parent / "inbox").glob("*.job.json"))
    assert len(jobs) == 1
    queued = json.loads(jobs[0].read_text(encoding="utf-8"))
    assert (queued["kind"], queued["action"], queued["target"]) == ("audit", "user_add", "zhang")


# --------------------------------------------------------------------------- the inbox
@pytest.fixture
def app_store(tmp_path: Path, db_tools):
    """This process plays the running app: it holds the store and beats in the inbox."""
    db = tmp_path / "app.duckdb"
    store = open_store(db)
    box = db.parent / "inbox"
    box.mkdir()
    inbox.beat(box, db)
    yield store, box
    inbox.stop_all()
    db_tools.close(db)


def _wait_for_job(box: Path, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(box.glob("*.job.json"))
        if jobs:
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError("the command line queued nothing")


def test_ingest_while_the_app_runs_goes_through_the_inbox(app_store, survey_file) -> None:
    store, box = app_store
    args = ["data", "ingest", str(survey_file), "--kind", "survey", "--user", "li"]
    run = _cli([*args, "--db", str(store.path)], _env(store.path))
    job_file = _wait_for_job(box)
    options = json.loads(job_file.read_text(encoding="utf-8"))
    assert options["kind"] == "survey" and options["file_name"] == "answers.csv"
    assert options["user"] == "li" and Path(options["db"]) == store.path.resolve()
    assert (box / options["data"]).read_text(encoding="utf-8") == SURVEY_CSV  # a copy

    records = inbox.process_pending(store, box)  # what the app's worker thread does

    assert [r["ok"] for r in records] == [True]
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "Traceback" not in out + err
    (line,) = _lines(out)  # the summary line a direct ingest prints
    assert line.startswith(f"已导入 2 条问卷回答，批次 {records[0]['batch_id']}。 用时")
    assert len(_lines(err)) == 1 and "交给应用导入" in err
    assert store.scalar("SELECT count(*) FROM responses") == 2
    assert store.scalar("SELECT uploaded_by FROM batches") == "li"
    assert sorted(p.name for p in box.iterdir()) == [inbox.HEARTBEAT]  # copy and result gone


def test_a_bad_file_through_the_inbox_prints_the_error_and_stores_nothing(
    app_store, tmp_path
) -> None:
    store, box = app_store
    bad = tmp_path / "bad.csv"
    bad.write_text("回答内容,满意度\n很好,5\n一般,六\n", encoding="utf-8")
    run = _cli(
        ["data", "ingest", str(bad), "--kind", "survey", "--db", str(store.path)],
        _env(store.path),
    )
    _wait_for_job(box)
    inbox.process_pending(store, box)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2 and out == ""
    errors = _lines(err)[1:]  # after the "handed to the app" line
    assert errors[0].startswith("错误：") and "第 3 行，列「满意度」" in errors[0]
    assert "Traceback" not in err
    assert store.scalar("SELECT count(*) FROM batches") == 0


def test_no_wait_returns_at_once_and_the_worker_thread_imports_later(
    app_store, survey_file
) -> None:
    store, box = app_store
    run = _cli(
        ["data", "ingest", str(survey_file), "--kind", "survey", "--no-wait"],
        _env(store.path),
    )
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "结果将写入" in out and not list(box.glob("*.result.json"))
    changed = []
    inbox.start(store, box, on_change=lambda: changed.append(1), interval=0.05)
    deadline = time.monotonic() + 60
    while not list(box.glob("*.result.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (result,) = box.glob("*.result.json")
    assert json.loads(result.read_text(encoding="utf-8"))["ok"] is True
    assert store.scalar("SELECT count(*) FROM responses") == 2
    deadline = time.monotonic() + 5
    while not changed and time.monotonic() < deadline:  # caches cleared after the import
        time.sleep(0.05)
    assert changed
    assert inbox.start(store, box) is inbox.start(store, box)  # one worker per inbox


def test_a_queued_audit_entry_is_written_with_its_own_time(app_store) -> None:
    store, box = app_store
    inbox.QueuedAudit(box, store.path).audit("cli", "user_add", "wang", {"role": "qa"})
    time.sleep(0.05)
    before = store.scalar("SELECT now()")
    inbox.process_pending(store, box)
    row = store.query("SELECT * FROM audit_log WHERE action = 'user_add'").iloc[0]
    assert (row["actor"], row["target"]) == ("cli", "wang")
    assert row["ts"] < before  # when it happened, not when the app wrote it
    assert [p.name for p in box.iterdir()] == [inbox.HEARTBEAT]  # nobody waits for a result


def test_waiting_gives_up_after_the_timeout_and_leaves_the_job_queued(
    app_store, survey_file
) -> None:
    store, box = app_store
    job = inbox.submit(box, survey_file, {"kind": "survey", "db": str(store.path)})
    t0 = time.monotonic()
    assert inbox.wait(job, timeout=0.3, poll=0.05) is None
    assert time.monotonic() - t0 < 5
    assert job.job_file.exists()


def test_a_job_interrupted_by_a_crash_is_imported_again(app_store, survey_file) -> None:
    store, box = app_store
    job = inbox.submit(box, survey_file, {"kind": "survey", "db": str(store.path)})
    os.replace(job.job_file, job.working_file)  # the app died while importing it
    inbox._tidy(box)
    assert inbox.process_pending(store, box)[0]["ok"]
    assert inbox.wait(job, timeout=1)["summary"].startswith("已导入 2 条问卷回答")


def test_a_job_for_another_database_is_refused(app_store, survey_file, tmp_path) -> None:
    store, box = app_store
    inbox.submit(box, survey_file, {"kind": "survey", "db": str(tmp_path / "other.duckdb")})
    (record,) = inbox.process_pending(store, box)
    assert record["ok"] is False and "other.duckdb" in record["error"]
    assert store.scalar("SELECT count(*) FROM batches") == 0


def test_no_worker_is_seen_without_a_fresh_heartbeat_for_this_database(app_store, tmp_path):
    store, box = app_store
    assert inbox.worker_pid(box, store.path) == os.getpid()
    assert inbox.worker_pid(box, tmp_path / "other.duckdb") is None
    beat = json.loads((box / inbox.HEARTBEAT).read_text(encoding="utf-8"))
    (box / inbox.HEARTBEAT).write_text(json.dumps(beat | {"at": time.time() - 3600}))
    assert inbox.worker_pid(box, store.path) is None
    assert inbox.worker_pid(tmp_path / "nowhere", store.path) is None
