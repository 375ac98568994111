"""Importing scored Parquet output without rescoring (data.scored_import, ``python -m data
import``), on part files written the way the Ray job writes them and a real DuckDB file."""

from __future__ import annotations

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
