"""The DuckDB store on a real file: migrations, round trips, atomic writes, deletes."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import data.batches as batches_module
import data.ingest as ingest_module
from data.ingest import IngestError, delete_batch, ingest_calls_bytes, ingest_survey_bytes
from data.store import MIGRATIONS, SCHEMA_VERSION, StoreError, migrate, now, open_store

SURVEY = (
    "受访者ID,回答内容,提交日期,满意度,推荐度,产品,地区,逾期阶段,催收渠道\n"
    "R1,催收员态度很好，帮我申请了分期😀,2026-05-01,5,9,信用卡,广东,M1,电话\n"
    'R2,"天天打电话骚扰我家人，太过分了,还说要上门",2026/5/2 13:45,1,0,消费贷,北京,m2,上门\n'
    "R3,客服解释得很清楚，谢谢,2026年5月3日,,,信用卡,上海,M6,短信\n"
).encode()

CALLS = (
    '{"call_id": "st-c1", "borrower_id": "B1", "agent_id": "A1", "team": "M1组", '
    '"started_at": "2026-05-06T10:12:00+08:00", "duration_s": 60, "outcome": "promise_to_pay", '
    '"turns": [{"speaker": "agent", "text": "您好，您的借款逾期五天了，可以给您申请分期。"}, '
    '{"speaker": "borrower", "text": "好的，谢谢，我今晚还。"}]}\n'
).encode()

CORE_TABLES = {
    "meta",
    "warning_cases",
    "case_notes",
    "alert_rules",
    "alerts",
    "alert_deliveries",
    "alert_settings",
    "model_versions",
    "model_events",
    "review_emotions",
    "batches",
    "responses",
    "calls",
    "turns",
    "scores",
    "aspects",
    "call_analysis",
    "reviews",
    "audit_log",
    "column_mappings",
    "sessions",
}


def tables(store) -> set[str]:
    return set(store.query("SELECT table_name FROM information_schema.tables")["table_name"])


def schema_version(store) -> int:
    return int(store.scalar("SELECT value FROM meta WHERE key = 'schema_version'"))


# --------------------------------------------------------------------------- migrations
def test_empty_file_is_migrated_to_the_current_schema(db_path: Path) -> None:
    assert not db_path.exists()
    store = open_store(db_path)
    assert db_path.exists()
    assert schema_version(store) == SCHEMA_VERSION == len(MIGRATIONS)
    assert tables(store) == CORE_TABLES


def test_reopening_a_migrated_file_is_a_no_op(db_path: Path, db_tools) -> None:
    store = open_store(db_path)
    ingest_survey_bytes(store, SURVEY, "s.csv")
    before = db_tools.contents(store)
    db_tools.close(db_path)

    reopened = open_store(db_path)
    assert reopened is not store
    assert db_tools.contents(reopened) == before
    assert migrate(reopened.con) == SCHEMA_VERSION  # running it again changes nothing either
    assert db_tools.contents(reopened) == before


def test_an_older_file_is_migrated_forward(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO audit_log VALUES (now(), 'old', 'kept', NULL, '{}')")
    con.close()

    store = open_store(db_path)
    assert schema_version(store) == SCHEMA_VERSION
    assert {"column_mappings", "sessions"} <= tables(store)
    assert store.scalar("SELECT action FROM audit_log WHERE actor = 'old'") == "kept"


def test_a_newer_file_is_refused(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION + 1)])
    con.close()
    with pytest.raises(StoreError, match="比程序"):
        open_store(db_path)


def test_one_cached_store_per_file_and_private_memory_stores(db_path: Path) -> None:
    assert open_store(db_path) is open_store(str(db_path))
    a, b = open_store(":memory:"), open_store(":memory:")
    a.audit("t", "only-in-a")
    assert b.scalar("SELECT count(*) FROM audit_log") == 0


# --------------------------------------------------------------------------- round trip
def test_survey_batch_round_trip(tmp_store) -> None:
    result = ingest_survey_bytes(tmp_store, SURVEY, "问卷.csv", uploaded_by="王经理")
    assert (result.rows, result.duplicate, result.warnings) == (3, False, [])

    got = tmp_store.query("SELECT * FROM responses ORDER BY respondent_id")
    assert got["text"].tolist() == [
        "催收员态度很好，帮我申请了分期😀",
        "天天打电话骚扰我家人，太过分了,还说要上门",
        "客服解释得很清楚，谢谢",
    ]
    assert got["csat"].tolist()[:2] == [5, 1] and pd.isna(got["csat"].iloc[2])
    assert got["nps"].tolist()[:2] == [9, 0] and pd.isna(got["nps"].iloc[2])
    assert str(pd.array(got["csat"]).dtype) in ("Int16", "Int64")  # nullable integers
    assert got["submitted_at"].tolist() == [
        pd.Timestamp("2026-05-01"),
        pd.Timestamp("2026-05-02 13:45"),
        pd.Timestamp("2026-05-03"),
    ]
    assert got["overdue_bucket"].tolist() == ["M1", "M2", "M3+"]
    assert got["product"].tolist() == ["信用卡", "消费贷", "信用卡"]
    assert got["channel"].tolist() == ["电话", "上门", "短信"]
    assert set(got["batch_id"]) == {result.batch_id}

    batch = tmp_store.query("SELECT * FROM batches").iloc[0]
    assert (batch.file_name, batch.kind, batch.row_count, batch.uploaded_by, batch.model_id) == (
        "问卷.csv",
        "survey",
        3,
        "王经理",
        "lexicon",
    )
    assert batch.sha256 == ingest_module.sha256_bytes(SURVEY)

    scores = tmp_store.query("SELECT * FROM scores ORDER BY target_id")
    assert scores["target_id"].tolist() == sorted(got["response_id"])
    assert set(scores["sentiment"]) <= {"negative", "neutral", "positive"}
    aspects = tmp_store.query("SELECT target_id, tactic, polarity FROM aspects")
    for row in scores.itertuples():  # the exploded aspects table matches the JSON column
        expected = json.loads(row.aspects)
        mine = aspects[aspects.target_id == row.target_id]
        assert dict(zip(mine.tactic, mine.polarity, strict=True)) == expected
    audit = tmp_store.query("SELECT * FROM audit_log").iloc[0]
    assert (audit.actor, audit.action, audit.target) == ("王经理", "upload", result.batch_id)


# --------------------------------------------------------------------------- atomicity
def test_a_failed_transaction_leaves_the_file_byte_for_byte_unchanged(
    db_path: Path, db_tools
) -> None:
    store = open_store(db_path)
    ingest_survey_bytes(store, SURVEY, "s.csv")
    db_tools.close(db_path)
    before = db_path.read_bytes()

    store = open_store(db_path)
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as cur:
        cur.execute("DELETE FROM responses")
        cur.execute("INSERT INTO audit_log VALUES (?, 'x', 'y', NULL, '{}')", [now()])
        raise RuntimeError("boom")
    assert store.scalar("SELECT count(*) FROM responses") == 3
    db_tools.close(db_path)
    assert db_path.read_bytes() == before


def test_a_failure_midway_through_storing_a_batch_rolls_it_all_back(
    tmp_store, db_tools, monkeypatch
) -> None:
    ingest_survey_bytes(tmp_store, SURVEY, "first.csv")
    before = db_tools.contents(tmp_store)

    def broken_scores(*args, **kwargs):  # batches and responses are inserted by now
        raise duckdb.ConstraintException("disk full (simulated)")

    other = SURVEY.replace(b"R1", b"R7").replace(b"R2", b"R8").replace(b"R3", b"R9")  # new rows
    with monkeypatch.context() as patch, pytest.raises(duckdb.ConstraintException):
        patch.setattr(batches_module, "write_scores", broken_scores)
        ingest_survey_bytes(tmp_store, other, "second.csv")
    assert db_tools.contents(tmp_store) == before
    assert ingest_survey_bytes(tmp_store, other, "second.csv").rows == 3  # nothing half-stored


def test_reingesting_the_same_bytes_is_a_no_op(tmp_store, db_tools) -> None:
    first = ingest_survey_bytes(tmp_store, SURVEY, "a.csv")
    counts = db_tools.counts(tmp_store)
    again = ingest_survey_bytes(tmp_store, SURVEY, "renamed.csv")
    assert again.duplicate and again.batch_id == first.batch_id and again.rows == 0
    assert "已导入过" in again.summary()
    assert db_tools.counts(tmp_store) == counts

    calls = ingest_calls_bytes(tmp_store, CALLS, "c.jsonl")
    counts = db_tools.counts(tmp_store)
    again = ingest_calls_bytes(tmp_store, CALLS, "c.jsonl")
    assert again.duplicate and again.batch_id == calls.batch_id
    assert db_tools.counts(tmp_store) == counts


# --------------------------------------------------------------------------- delete
def test_delete_batch_removes_everything_derived(tmp_store, db_tools) -> None:
    survey = ingest_survey_bytes(tmp_store, SURVEY, "s.csv")
    calls = ingest_calls_bytes(tmp_store, CALLS, "c.jsonl")
    empty = db_tools.counts(open_store(":memory:"))
    rid = tmp_store.scalar("SELECT min(response_id) FROM responses")
    with tmp_store.transaction() as cur:
        cur.execute(
            "INSERT INTO reviews VALUES ('rv1', 'response', ?, '审核员', ?, 'relabel', "
            "'negative', NULL, NULL, NULL, NULL)",
            [rid, now()],
        )
        cur.execute(
            "INSERT INTO reviews VALUES ('rv2', 'turn', 'st-c1#1', '审核员', ?, "
            "'relabel', 'positive', NULL, NULL, NULL, NULL)",
            [now()],
        )
    counts = db_tools.counts(tmp_store)
    assert counts["responses"] == 3 and counts["calls"] == 1 and counts["turns"] == 2
    assert counts["call_analysis"] == 1 and counts["reviews"] == 2 and counts["aspects"] > 0

    assert delete_batch(tmp_store, survey.batch_id, "管理员") == 3
    with_calls_only = db_tools.counts(tmp_store)
    for table in ("responses", "reviews"):
        assert with_calls_only[table] == counts[table] - (3 if table == "responses" else 1)
    assert (
        tmp_store.scalar("SELECT count(*) FROM scores WHERE batch_id = ?", [survey.batch_id]) == 0
    )
    assert (
        tmp_store.scalar("SELECT count(*) FROM aspects WHERE batch_id = ?", [survey.batch_id]) == 0
    )
    assert with_calls_only["turns"] == 2  # the other batch is untouched

    assert delete_batch(tmp_store, calls.batch_id, "管理员") == 1
    left = db_tools.counts(tmp_store)
    derived = (
        "batches",
        "responses",
        "calls",
        "turns",
        "scores",
        "aspects",
        "call_analysis",
        "reviews",
    )
    assert {t: left[t] for t in derived} == {t: empty[t] for t in derived}
    actions = tmp_store.query(
        "SELECT action, target FROM audit_log WHERE action = 'delete_batch' ORDER BY target"
    )
    assert sorted(actions["target"]) == sorted([survey.batch_id, calls.batch_id])

    with pytest.raises(IngestError, match="不存在"):
        delete_batch(tmp_store, survey.batch_id, "管理员")
    # the same file can be imported again after its batch was deleted
    assert ingest_survey_bytes(tmp_store, SURVEY, "s.csv").rows == 3
