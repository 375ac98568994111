"""Importing scored Parquet output without rescoring (data.scored_import, ``python -m data
import``), on part files written the way the Ray job writes them and a real DuckDB file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from data.__main__ import main as data_main
from data.ingest import IngestError
from data.scored_import import import_scored_survey, parse_labels, survey_mapping
from nlp.cli import serialise_labels, write_output
from nlp.pipeline import score_frame

TEXTS = [
    "催收员态度很好，帮我申请了分期",
    "天天打电话骚扰我家人，太过分了",
    "威胁说要起诉我，很害怕",
    "",
    "短信说要上门，希望能协商还款",
    "APP账单很清楚，谢谢",
]


def survey_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "respondent_id": [f"R{i:03d}" for i in range(len(TEXTS))],
            "回答内容": TEXTS,
            "submitted_at": [
                "2026-05-01",
                "2026-05-02",
                "2026年5月3日",
                None,
                "2026/5/5",
                "2026-05-06",
            ],
            "满意度": ["5", "1", None, "3", "2", "4"],
            "region": ["广东", "北京", None, None, "四川", "上海"],
        }
    )


def write_parts(frame: pd.DataFrame, directory, parts: int = 3):
    """Score and write ``parts`` Parquet files in the Ray job's file form."""
    scored = serialise_labels(score_frame(frame, "回答内容", "lexicon"))
    directory.mkdir(parents=True, exist_ok=True)
    step = -(-len(scored) // parts)
    for n, start in enumerate(range(0, len(scored), step)):
        scored.iloc[start : start + step].to_parquet(
            directory / f"part-{n:03d}.parquet", index=False
        )
    return directory


def test_survey_import_stores_rows_and_labels_without_rescoring(tmp_store, tmp_path) -> None:
    out = write_parts(survey_frame(), tmp_path / "scored.parquet")
    result = import_scored_survey(tmp_store, out, text_column="回答内容")
    assert (result.rows, result.duplicate, result.kind) == (5, False, "survey")
    assert any("回答为空" in str(w) for w in result.warnings)  # the empty answer is skipped
    batch = tmp_store.query("SELECT file_name, row_count, model_id FROM batches")
    assert batch.iloc[0].tolist() == ["scored.parquet", 5, "lexicon"]
    stored = tmp_store.query(
        "SELECT r.respondent_id, r.submitted_at, r.csat, r.region, s.sentiment, s.aspects, "
        "s.complaint, s.requests, s.confidence FROM responses r JOIN scores s "
        "ON s.target_id = r.response_id ORDER BY r.respondent_id"
    )
    expected = score_frame(survey_frame(), "回答内容", "lexicon").drop(index=3)
    assert stored["respondent_id"].tolist() == ["R000", "R001", "R002", "R004", "R005"]
    assert stored["sentiment"].tolist() == expected["sentiment"].tolist()
    assert stored["complaint"].tolist() == expected["complaint"].tolist()
    assert [list(r) for r in stored["requests"]] == expected["requests"].tolist()
    assert stored["confidence"].tolist() == pytest.approx(expected["confidence"].tolist())
    assert str(stored["submitted_at"].iloc[2].date()) == "2026-05-03"
    assert stored["csat"].iloc[0] == 5 and pd.isna(stored["csat"].iloc[2])
    n_aspects = sum(len(a) for a in expected["aspects"])
    assert tmp_store.scalar("SELECT count(*) FROM aspects") == n_aspects


def test_reimporting_the_same_output_is_a_no_op(tmp_store, tmp_path, db_tools) -> None:
    out = write_parts(survey_frame(), tmp_path / "scored")
    first = import_scored_survey(tmp_store, out, text_column="回答内容")
    before = db_tools.contents(tmp_store)
    again = import_scored_survey(tmp_store, out, text_column="回答内容")
    assert again.duplicate and again.batch_id == first.batch_id
    assert db_tools.contents(tmp_store) == before


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("sentiment", "great", "未知的情感标签「great」"),
        ("aspects", "{not json", "列「aspects」：不是有效的 JSON"),
        ("emotions", '{"a": 1}', "列「emotions」：应为 JSON 数组"),
        ("complaint", "maybe", "列「complaint」：应为 true/false"),
        ("sentiment_score", 3.0, "列「sentiment_score」：应为 -1 到 1 之间的数"),
        ("满意度", "9", "列「满意度」：应为 1-5 的整数"),
    ],
)
def test_bad_values_reject_the_whole_output(
    tmp_store, tmp_path, db_tools, column, value, message
) -> None:
    out = write_parts(survey_frame(), tmp_path / "scored", parts=1)
    part = out / "part-000.parquet"
    frame = pd.read_parquet(part)
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    frame.to_parquet(part, index=False)
    before = db_tools.contents(tmp_store)
    with pytest.raises(IngestError) as err:
        import_scored_survey(tmp_store, out, text_column="回答内容")
    first = next(str(p) for p in err.value.problems if p.severity == "error")
    assert first.startswith("第 2 行") and message in first
    assert db_tools.contents(tmp_store) == before


def test_the_local_engines_parquet_file_imports_with_confidence_left_empty(
    tmp_store, tmp_path
) -> None:
    path = tmp_path / "scored.parquet"
    write_output(
        score_frame(survey_frame(), "回答内容", "lexicon").drop(columns="confidence"), path
    )
    result = import_scored_survey(tmp_store, path)  # 回答内容 found by the header guess
    assert result.rows == 5
    assert any("置信度" in str(w) for w in result.warnings)
    assert tmp_store.scalar("SELECT count(*) FROM scores WHERE confidence IS NULL") == 5


def test_label_columns_are_required(tmp_store, tmp_path) -> None:
    out = tmp_path / "plain"
    out.mkdir()
    survey_frame().to_parquet(out / "part-0.parquet", index=False)
    with pytest.raises(IngestError, match="缺少标签列 sentiment"):
        import_scored_survey(tmp_store, out, text_column="回答内容")


def test_mapping_prefers_field_names_then_header_guesses() -> None:
    columns = ["response_id", "respondent_id", "text", "满意度", "逾期阶段", "sentiment", "model"]
    assert survey_mapping(columns) == {
        "text": "text",
        "respondent_id": "respondent_id",
        "csat": "满意度",
        "overdue_bucket": "逾期阶段",
    }
    with pytest.raises(IngestError, match="找不到文本列「正文」"):
        survey_mapping(columns, "正文")


def test_parse_labels_accepts_native_types() -> None:
    frame = score_frame(pd.DataFrame({"text": TEXTS[:3]}), "text", "lexicon")
    parsed = parse_labels(frame)
    assert parsed["aspects"].tolist() == frame["aspects"].tolist()
    assert parsed["complaint"].tolist() == frame["complaint"].tolist()


def test_cli_import_prints_a_summary_and_rejects_calls(tmp_path, capsys, db_tools) -> None:
    out = write_parts(survey_frame(), tmp_path / "scored")
    db = tmp_path / "bv.duckdb"
    try:
        args = [
            "import",
            str(out),
            "--kind",
            "survey",
            "--text-column",
            "回答内容",
            "--db",
            str(db),
            "--file-name",
            "五月问卷",
        ]
        assert data_main(args) == 0
        assert "已导入 5 条问卷回答" in capsys.readouterr().out
        assert data_main(args) == 0
        assert "已导入过" in capsys.readouterr().out
        assert (
            data_main(["import", str(tmp_path / "nope"), "--kind", "survey", "--db", str(db)]) == 2
        )
        assert capsys.readouterr().err.strip() == f"错误：找不到 {tmp_path / 'nope'}"
        assert data_main(["import", str(out), "--kind", "calls", "--db", str(db)]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    finally:
        db_tools.close(db)


# --------------------------------------------------------------------------- analysed calls
# `python -m nlp calls` output (the Ray engine writes the same lines), made here by the local
# path with the lexicon model, then imported with `python -m data import --kind calls`.

OPENING = "您好，我是和信金融的客服小周，工号3051"
CALLS = [
    {
        "call_id": "ic-ok",
        "borrower_id": "B1",
        "agent_id": "A1",
        "team": "M1组",
        "started_at": "2026-05-04T10:00:00+08:00",
        "duration_s": 80,
        "outcome": "connected",
        "turns": [
            {"speaker": "agent", "text": OPENING, "start_s": 0, "end_s": 3.5},
            {"speaker": "borrower", "text": "好的，我明天还，谢谢"},
            {"speaker": "agent", "text": "实在困难的话可以申请延期"},
        ],
    },
    {
        "call_id": "ic-bad",
        "borrower_id": "B2",
        "agent_id": "A2",
        "started_at": "2026-05-04T22:40:00-05:00",
        "outcome": "connected",
        "turns": [
            {"speaker": "agent", "text": "您好，这边是安信消费金融"},
            {"speaker": "borrower", "text": "又是你们，烦死了，我要投诉"},
            {"speaker": "agent", "text": "你再不还钱，我们就派人去你家找你"},
        ],
    },
]
CALL_TABLES = ("calls", "turns", "scores", "call_analysis")


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


@pytest.fixture(scope="module")
def calls_output(tmp_path_factory) -> tuple:
    """(transcripts, analysed output) files: `python -m nlp calls` with the lexicon model."""
    from nlp.cli.calls import main_calls

    folder = tmp_path_factory.mktemp("calls-out")
    source, out = folder / "calls.jsonl", folder / "analysed.jsonl"
    source.write_text(_jsonl(CALLS), encoding="utf-8")
    assert main_calls([str(source), "--out", str(out), "--sentiment-model", "lexicon"]) == 0
    return source, out


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _stored(store) -> dict[str, list[tuple]]:
    """The call tables without the batch ids (which differ between two batches)."""
    queries = {
        "calls": "SELECT call_id, borrower_id, agent_id, team, started_at, duration_s, outcome "
        "FROM calls",
        "turns": "SELECT * FROM turns",
        "scores": "SELECT target_id, model_id, sentiment, sentiment_score, confidence, aspects, "
        "emotions, complaint, complaint_reasons, requests, risk_flags, risk_evidence "
        "FROM scores WHERE target_kind = 'turn'",
        "call_analysis": "SELECT call_id, violations, evidence, borrower_sentiment_start, "
        "borrower_sentiment_end, sentiment_change, agent_offered_plan, promise_to_pay, "
        "trajectory, risk_flags, party FROM call_analysis",
    }
    return {
        table: sorted(
            (tuple(str(v) for v in row) for row in store.query(sql).itertuples(index=False)),
            key=repr,
        )
        for table, sql in queries.items()
    }


def test_calls_output_imports_as_the_ingest_would_store_it(
    calls_output, tmp_store, tmp_path, db_tools
) -> None:
    from data.ingest import ingest_calls_bytes
    from data.scored_calls_import import import_scored_calls
    from data.store import open_store

    source, out = calls_output
    result = import_scored_calls(tmp_store, out)
    assert (result.kind, result.rows, result.duplicate, result.model_id) == (
        "calls",
        2,
        False,
        "lexicon",
    )
    batch = tmp_store.query("SELECT file_name, kind, row_count, model_id FROM batches")
    assert batch.iloc[0].tolist() == ["analysed.jsonl", "calls", 2, "lexicon"]
    counts = db_tools.counts(tmp_store)
    assert (counts["calls"], counts["turns"], counts["call_analysis"]) == (2, 6, 2)
    bad = tmp_store.query("SELECT violations, evidence FROM call_analysis WHERE call_id = 'ic-bad'")
    assert {"threat", "off_hours", "no_identity_disclosure"} <= set(bad["violations"].iloc[0])
    assert "已报机构：安信消费金融" in bad["evidence"].iloc[0]
    # the same transcripts ingested directly (scored again) store the same rows
    direct = open_store(tmp_path / "direct.duckdb")
    try:
        ingest_calls_bytes(direct, source.read_bytes(), "calls.jsonl", model="lexicon")
        assert _stored(tmp_store) == _stored(direct)
    finally:
        db_tools.close(tmp_path / "direct.duckdb")


def test_calls_output_reimport_is_a_no_op_and_ids_never_clash(
    calls_output, tmp_store, db_tools
) -> None:
    from data.ingest import ingest_calls_bytes
    from data.scored_calls_import import import_scored_calls

    source, out = calls_output
    first = import_scored_calls(tmp_store, out)
    before = db_tools.contents(tmp_store)
    again = import_scored_calls(tmp_store, out)
    assert again.duplicate and again.batch_id == first.batch_id
    assert db_tools.contents(tmp_store) == before
    with pytest.raises(IngestError, match="通话编号"):  # the transcripts hold the same calls
        ingest_calls_bytes(tmp_store, source.read_bytes(), "calls.jsonl", model="lexicon")
    assert db_tools.contents(tmp_store) == before


def test_calls_output_keeps_the_inputs_turn_numbers(tmp_path, tmp_store) -> None:
    """A turn table numbered from 1: evidence and trajectory name those numbers, and so do the
    stored turns after the import."""
    from data.scored_calls_import import import_scored_calls
    from nlp.cli.calls import main_calls

    rows = [
        "call_id,turn_index,speaker,text,borrower_id,agent_id,started_at",
        "t1,1,agent,喂，你再不还就让你坐牢,B7,A7,2026-05-04T10:00:00+08:00",
        "t1,2,borrower,滚,B7,A7,2026-05-04T10:00:00+08:00",
        f"t1,5,agent,{OPENING},B7,A7,2026-05-04T10:00:00+08:00",
    ]
    source, out = tmp_path / "turns.csv", tmp_path / "out.jsonl"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main_calls([str(source), "--out", str(out), "--sentiment-model", "lexicon"]) == 0
    line = _lines(out)[0]
    assert [t["turn_index"] for t in line["turns"]] == [1, 2, 5]
    assert {e["turn"] for e in line["evidence"]} == {1}
    import_scored_calls(tmp_store, out)
    turns = tmp_store.query("SELECT turn_index, speaker FROM turns ORDER BY turn_index")
    assert turns["turn_index"].tolist() == [1, 2, 5]
    ids = tmp_store.query("SELECT target_id FROM scores ORDER BY target_id")["target_id"]
    assert ids.tolist() == ["t1#1", "t1#2", "t1#5"]
    stored = json.loads(tmp_store.scalar("SELECT trajectory FROM call_analysis"))
    assert stored == line["trajectory"] and stored[0][0] == 2


def _edit(path, target, change) -> None:
    """Rewrite ``path`` into ``target`` with ``change(lines)`` applied to the JSON objects."""
    lines = _lines(path)
    change(lines)
    target.write_text(_jsonl(lines), encoding="utf-8")


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(lines: list[dict]) -> None:
        node = lines
        for key in keys[:-1]:
            node = node[key]
        if value is KeyError:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (_set(1, "turns", 1, "sentiment", "great"), "第 2 行，列「turns[1].sentiment」"),
        (_set(0, "turns", 0, "sentiment_score", 3), "第 1 行，列「turns[0].sentiment_score」"),
        (_set(0, "turns", 2, "emotions", "anger"), "第 1 行，列「turns[2].emotions」"),
        (_set(1, "turns", 0, "complaint", "yes"), "第 2 行，列「turns[0].complaint」"),
        (_set(1, "evidence", 0, "turn", 9), "第 2 行，列「evidence[0].turn」"),
        (_set(1, "evidence", 0, "rule", "rudeness"), "第 2 行，列「evidence[0].rule」"),
        (_set(0, "promise_to_pay", "yes"), "第 1 行，列「promise_to_pay」"),
        (_set(0, "trajectory", [[7, 0.1]]), "第 1 行，列「trajectory[0]」"),
        (_set(1, "borrower_id", KeyError), "第2行"),  # the reader's own words
        (_set(1, "turns", 1, "speaker", "robot"), "turns[1].speaker"),
        (_set(0, "violations", KeyError), "第 1 行，列「violations」"),
        (_set(0, "turns", KeyError), "第 1 行，列「turns」"),
    ],
)
def test_bad_calls_output_is_refused_whole_naming_line_and_field(
    calls_output, tmp_store, tmp_path, db_tools, change, where
) -> None:
    from data.scored_calls_import import import_scored_calls

    bad = tmp_path / "bad.jsonl"
    _edit(calls_output[1], bad, change)
    before = db_tools.contents(tmp_store)
    with pytest.raises(IngestError) as err:
        import_scored_calls(tmp_store, bad)
    assert where in str(err.value), str(err.value)
    assert db_tools.contents(tmp_store) == before


def test_calls_output_without_confidence_imports_with_it_left_empty(
    calls_output, tmp_store, tmp_path
) -> None:
    """The Ray scorer's turn labels carry no confidence."""
    from data.scored_calls_import import import_scored_calls

    def drop(lines: list[dict]) -> None:
        for line in lines:
            for turn in line["turns"]:
                turn.pop("confidence")

    path = tmp_path / "ray.jsonl"
    _edit(calls_output[1], path, drop)
    assert import_scored_calls(tmp_store, path).rows == 2
    assert tmp_store.scalar("SELECT count(*) FROM scores WHERE confidence IS NULL") == 6


def test_cli_imports_calls_output_and_refuses_plain_transcripts(
    calls_output, tmp_path, capsys, db_tools
) -> None:
    source, out = calls_output
    db = tmp_path / "bv.duckdb"
    try:
        args = ["import", str(out), "--kind", "calls", "--db", str(db)]
        assert data_main(args) == 0
        assert "已导入 2 条通话" in capsys.readouterr().out
        assert data_main(args) == 0
        assert "已导入过" in capsys.readouterr().out
        assert data_main(["import", str(source), "--kind", "calls", "--db", str(db)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "第 1 行，列「violations」" in err[0]
        assert "python -m data ingest" in err[0]
        broken = tmp_path / "broken.jsonl"
        _edit(out, broken, _set(1, "turns", 1, "sentiment", "great"))
        assert data_main(["import", str(broken), "--kind", "calls", "--db", str(db)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "第 2 行，列「turns[1].sentiment」" in err[0]
    finally:
        db_tools.close(db)


def test_calls_output_goes_through_the_apps_inbox(calls_output, tmp_store, tmp_path) -> None:
    """While the app holds the database, `import --kind calls` queues a ``scored_calls`` job;
    the app's worker imports it like the command would."""
    from data import inbox

    box = tmp_path / "inbox"
    job = inbox.submit(
        box, calls_output[1], {"kind": "scored_calls", "db": str(tmp_store.path), "user": "cli"}
    )
    (record,) = inbox.process_pending(tmp_store, box)
    assert record["ok"] and "已导入 2 条通话" in record["summary"], record
    assert inbox.wait(job, 1)["batch_id"] == record["batch_id"]
    assert tmp_store.scalar("SELECT count(*) FROM call_analysis") == 2
