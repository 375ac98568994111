"""Every file in ``tests/bad_inputs/`` through the CLI and the ingest functions.

``expected.csv`` says, per file, whether it must be rejected (``error``), stored with warnings
(``warning``) or stored cleanly (``ok``), and a substring the message must contain (the row and
column, where the problem has one). For each file, both paths run against a real DuckDB file
that already holds a batch; a rejected file must leave every table exactly as it was.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

import pytest

from data.ingest import IngestError, ingest_calls_bytes, ingest_survey_bytes
from data.store import open_store

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
NOT_INPUTS = {"expected.csv", "make_files.py", "__pycache__"}
EXPECTED = list(csv.DictReader((CORPUS / "expected.csv").open(encoding="utf-8")))

SEED_SURVEY = (
    "回答内容,提交日期,满意度,地区\n"
    "催收员态度很好，帮我申请了分期,2026-04-01,5,广东\n"
    "天天打电话骚扰我家人，太过分了,2026-04-02,1,北京\n"
).encode()
SEED_CALLS = (
    '{"call_id": "seed-c1", "borrower_id": "B9", "agent_id": "A9", '
    '"started_at": "2026-04-03T09:00:00+08:00", "turns": ['
    '{"speaker": "agent", "text": "您好，您的借款已逾期。"}, '
    '{"speaker": "borrower", "text": "好的，我明天还。"}]}\n'
).encode()


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory, db_tools) -> Path:
    """A closed DuckDB file holding one survey batch and one calls batch (copied per test)."""
    path = tmp_path_factory.mktemp("seed") / "seed.duckdb"
    store = open_store(path)
    ingest_survey_bytes(store, SEED_SURVEY, "seed.csv", model="lexicon")
    ingest_calls_bytes(store, SEED_CALLS, "seed.jsonl", model="lexicon")
    db_tools.close(path)
    return path


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.name not in NOT_INPUTS}
    listed = [row["file"] for row in EXPECTED]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk
    assert len(on_disk) >= 30
    assert {row["expected"] for row in EXPECTED} == {"error", "ok", "warning"}
    assert {row["kind"] for row in EXPECTED} <= {"survey", "calls"}


def test_make_files_reproduces_the_corpus(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_files", CORPUS / "make_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([str(tmp_path)])
    for made in tmp_path.iterdir():
        assert made.read_bytes() == (CORPUS / made.name).read_bytes(), made.name


def _outcome(error: bool, warnings: list[str]) -> str:
    return "error" if error else ("warning" if warnings else "ok")


@pytest.mark.parametrize("case", EXPECTED, ids=[row["file"] for row in EXPECTED])
def test_cli_ingest(
    case: dict, seeded_db: Path, tmp_path: Path, db_tools, capsys: pytest.CaptureFixture[str]
) -> None:
    from data.__main__ import main

    db = tmp_path / "cli.duckdb"
    shutil.copy(seeded_db, db)
    try:
        store = open_store(db)
        before = db_tools.contents(store)
        counts = db_tools.counts(store)
        code = main(["ingest", str(CORPUS / case["file"]), "--kind", case["kind"], "--db", str(db)])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        assert code in (0, 2)
        warnings = [line for line in err.splitlines() if "提示：" in line]
        observed = _outcome(code == 2, warnings)
        assert observed == case["expected"], err or out
        if observed == "error":
            first = err.strip().splitlines()[0]
            assert first.startswith("错误："), err
            assert case["must_mention"] in err
            assert out == ""
            assert db_tools.contents(store) == before, "a rejected file changed the database"
        else:
            assert "已导入" in out
            assert case["must_mention"] in "\n".join(warnings)
            assert db_tools.counts(store)["batches"] == counts["batches"] + 1
    finally:
        db_tools.close(db)


@pytest.mark.parametrize("case", EXPECTED, ids=[row["file"] for row in EXPECTED])
def test_ingest_function(case: dict, seeded_db: Path, tmp_path: Path, db_tools) -> None:
    db = tmp_path / "fn.duckdb"
    shutil.copy(seeded_db, db)
    raw = (CORPUS / case["file"]).read_bytes()
    ingest = ingest_calls_bytes if case["kind"] == "calls" else ingest_survey_bytes
    try:
        store = open_store(db)
        before = db_tools.contents(store)
        counts = db_tools.counts(store)
        try:
            result = ingest(store, raw, case["file"])
        except IngestError as exc:
            messages = [str(exc), *map(str, exc.problems)]
            assert case["expected"] == "error", messages
            assert any(case["must_mention"] in m for m in messages), messages
            assert db_tools.contents(store) == before, "a rejected file changed the database"
            return
        warnings = [str(w) for w in result.warnings]
        assert _outcome(False, warnings) == case["expected"], warnings
        assert case["must_mention"] in "\n".join(warnings)
        after = db_tools.counts(store)
        assert after["batches"] == counts["batches"] + 1
        stored = "calls" if case["kind"] == "calls" else "responses"
        assert after[stored] == counts[stored] + result.rows > counts[stored]
        # the same bytes again are recognised and store nothing
        again = ingest(store, raw, case["file"])
        assert again.duplicate and again.batch_id == result.batch_id
        assert db_tools.counts(store) == after
    finally:
        db_tools.close(db)
