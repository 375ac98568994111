"""The command lines as a user runs them: ``python -m data ingest`` and ``python -m nlp score``.

Each command runs in a real subprocess with ``BV_SENTIMENT_MODEL=lexicon`` and ``BV_DB_PATH``
in a temp dir. Independent commands start together (they are mostly interpreter start-up) and
the tests read their results.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = [
    "sentiment",
    "sentiment_score",
    "aspects",
    "emotions",
    "complaint",
    "complaint_reasons",
    "requests",
    "risk_flags",
    "risk_evidence",
    "model",
]
TEXTS = [
    "催收员态度很好，帮我申请了分期",
    "天天打电话骚扰我家人，太过分了",
    "威胁说要起诉我，很害怕",
]
SURVEY_CSV = (
    "回答内容,提交日期,满意度,地区\n"
    "催收员态度很好，帮我申请了分期,2026-05-01,5,广东\n"
    "天天打电话骚扰我家人，太过分了,2026-05-02,1,北京\n"
)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def _write_inputs(d: Path) -> None:
    (d / "survey.csv").write_text(SURVEY_CSV, encoding="utf-8")
    (d / "bad_rows.csv").write_text("回答内容,满意度\n很好,5\n\n一般,六\n", encoding="utf-8")
    (d / "junk.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    frame = pd.DataFrame({"编号": [1, 2, 3], "意见": TEXTS})
    frame.to_csv(d / "gbk.csv", index=False, encoding="gbk")
    wb = openpyxl.Workbook()
    wb.active.append(["编号", "意见"])
    for row in frame.itertuples(index=False):
        wb.active.append(list(row))
    wb.save(d / "in.xlsx")
    frame.to_json(d / "in.jsonl", orient="records", lines=True, force_ascii=False)
    frame.to_parquet(d / "in.parquet", index=False)
    answers = pd.DataFrame({"回答内容": TEXTS, "提交日期": ["2026-05-01"] * 3, "地区": "广东"})
    answers.to_excel(d / "answers.xlsx", index=False)
    answers.assign(提交日期="2026/5/1").to_csv(d / "answers_gbk.csv", index=False, encoding="gbk")
    (d / "empty.csv").write_bytes(b"")
    (d / "header_only.csv").write_text("编号,意见\n", encoding="utf-8")


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen) -> Run:
    out, err = proc.communicate(timeout=120)
    return Run(proc.returncode, out, err)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Run]]:
    d = tmp_path_factory.mktemp("cli")
    _write_inputs(d)
    env = {
        **os.environ,
        "BV_SENTIMENT_MODEL": "lexicon",
        "BV_DB_PATH": str(d / "bv.duckdb"),
        "PYTHONPATH": str(ROOT),
    }
    score = ["nlp", "score", "--text-column", "意见", "--model", "lexicon"]
    dups = ["data", "ingest", "--kind", "survey", "--db", str(d / "dups.duckdb")]
    commands = {
        "ingest": ["data", "ingest", str(d / "survey.csv"), "--kind", "survey"],
        "bad_rows": [
            "data",
            "ingest",
            str(d / "bad_rows.csv"),
            "--kind",
            "survey",
            "--db",
            str(d / "other.duckdb"),
        ],
        "junk": [
            "data",
            "ingest",
            str(d / "junk.csv"),
            "--kind",
            "survey",
            "--db",
            str(d / "other2.duckdb"),
        ],
        "no_file": [
            "data",
            "ingest",
            str(d / "nope.csv"),
            "--kind",
            "survey",
            "--db",
            str(d / "other3.duckdb"),
        ],
        "dup_xlsx": [*dups, str(d / "answers.xlsx")],
        "score_gbk_csv": [*score, str(d / "gbk.csv"), "--out", str(d / "gbk_out.csv")],
        "score_xlsx": [*score, str(d / "in.xlsx"), "--out", str(d / "xlsx_out.csv")],
        "score_jsonl": [*score, str(d / "in.jsonl"), "--out", str(d / "jsonl_out.jsonl")],
        "score_parquet": [*score, str(d / "in.parquet"), "--out", str(d / "pq_out.parquet")],
        "score_missing_column": [
            "nlp",
            "score",
            str(d / "gbk.csv"),
            "--text-column",
            "正文",
            "--out",
            str(d / "x.csv"),
            "--model",
            "lexicon",
        ],
        "score_empty": [*score, str(d / "empty.csv"), "--out", str(d / "x.csv")],
        "score_header_only": [*score, str(d / "header_only.csv"), "--out", str(d / "x.csv")],
        "score_unreadable": [*score, str(d / "junk.csv"), "--out", str(d / "x.csv")],
    }
    procs = {name: _start(args, env) for name, args in commands.items()}
    runs = {name: _finish(proc) for name, proc in procs.items()}
    runs["reingest"] = _finish(_start(commands["ingest"], env))  # after the first has finished
    runs["dup_csv"] = _finish(_start([*dups, str(d / "answers_gbk.csv")], env))  # after dup_xlsx
    runs["dup_keep"] = _finish(
        _start([*dups, str(d / "answers_gbk.csv"), "--keep-duplicates"], env)
    )
    return d, runs


def _no_traceback(run: Run) -> None:
    assert "Traceback" not in run.out + run.err, run.err


# --------------------------------------------------------------------------- python -m data
def test_data_ingest_stores_the_file_and_prints_a_summary(cli) -> None:
    d, runs = cli
    run = runs["ingest"]
    _no_traceback(run)
    assert run.code == 0, run.err
    assert "已导入 2 条问卷回答" in run.out
    con = duckdb.connect(str(d / "bv.duckdb"), read_only=True)  # BV_DB_PATH was used
    try:
        assert con.execute("SELECT count(*) FROM responses").fetchone()[0] == 2
        assert con.execute("SELECT model_id FROM batches").fetchone()[0] == "lexicon"
    finally:
        con.close()


def test_data_ingest_again_says_already_imported(cli) -> None:
    run = cli[1]["reingest"]
    _no_traceback(run)
    assert run.code == 0
    assert "已导入过" in run.out


def test_data_ingest_skips_rows_already_stored_from_another_format(cli) -> None:
    d, runs = cli
    assert runs["dup_xlsx"].code == 0 and "已导入 3 条问卷回答" in runs["dup_xlsx"].out
    skipped = runs["dup_csv"]  # the same answers as a GBK CSV: other bytes, same rows
    _no_traceback(skipped)
    assert skipped.code == 0, skipped.err
    assert "3 行已存在，已跳过；没有新的行需要导入" in skipped.out
    kept = runs["dup_keep"]
    assert kept.code == 0, kept.err
    assert "已导入 3 条问卷回答" in kept.out and "3 行与已有数据重复" in kept.out
    con = duckdb.connect(str(d / "dups.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM responses").fetchone()[0] == 6
        assert con.execute("SELECT count(*) FROM batches").fetchone()[0] == 2
    finally:
        con.close()


def test_data_ingest_rejects_a_broken_file_with_one_line(cli) -> None:
    run = cli[1]["junk"]
    _no_traceback(run)
    assert run.code == 2
    assert run.out == ""
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith("错误：")
    assert "二进制" in run.err_lines[0]


def test_data_ingest_names_the_row_and_column(cli) -> None:
    run = cli[1]["bad_rows"]
    _no_traceback(run)
    assert run.code == 2
    assert run.err_lines[0].startswith("错误：")
    assert "第 4 行，列「满意度」" in run.err_lines[0]  # line 3 of the file is blank
    assert all(line.startswith("  - ") for line in run.err_lines[1:])


def test_data_ingest_missing_file(cli) -> None:
    run = cli[1]["no_file"]
    _no_traceback(run)
    assert run.code == 2 and len(run.err_lines) == 1 and "找不到文件" in run.err


# --------------------------------------------------------------------------- python -m nlp
def _read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_parquet(path)


@pytest.mark.parametrize(
    ("name", "out"),
    [
        ("score_gbk_csv", "gbk_out.csv"),
        ("score_xlsx", "xlsx_out.csv"),
        ("score_jsonl", "jsonl_out.jsonl"),
        ("score_parquet", "pq_out.parquet"),
    ],
)
def test_nlp_score_writes_the_output_contract(cli, name: str, out: str) -> None:
    d, runs = cli
    run = runs[name]
    _no_traceback(run)
    assert run.code == 0, run.err
    got = _read_output(d / out)
    assert list(got.columns) == ["编号", "意见", *CONTRACT]
    assert got["意见"].tolist() == TEXTS  # input columns and order are kept
    assert set(got["sentiment"]) <= {"negative", "neutral", "positive"}
    assert all(-1 <= float(v) <= 1 for v in got["sentiment_score"])
    assert set(got["model"]) == {"lexicon"}
    assert set(map(str, got["complaint"])) <= {"true", "false"}
    for column, kind in (
        ("aspects", dict),
        ("emotions", list),
        ("complaint_reasons", list),
        ("requests", list),
        ("risk_flags", list),
        ("risk_evidence", dict),
    ):
        values = [json.loads(v) for v in got[column]]  # JSON strings in every format
        assert all(isinstance(v, kind) for v in values), column
    aspects = [json.loads(v) for v in got["aspects"]]
    assert all(p in ("positive", "neutral", "negative") for a in aspects for p in a.values())
    assert "已评分 3 条" in run.err


@pytest.mark.parametrize(
    ("name", "mention"),
    [
        ("score_missing_column", "正文"),
        ("score_empty", "空"),
        ("score_header_only", "只有表头"),
        ("score_unreadable", "junk.csv"),
    ],
)
def test_nlp_score_bad_input_exits_2_with_one_line(cli, name: str, mention: str) -> None:
    run = cli[1][name]
    _no_traceback(run)
    assert run.code == 2
    assert len(run.err_lines) == 1, run.err
    assert run.err_lines[0].startswith("错误：") and mention in run.err_lines[0]


def test_the_csv_output_is_excel_friendly(cli) -> None:
    raw = (cli[0] / "gbk_out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM opens correctly in Excel
    first = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str).iloc[1]
    assert json.loads(first["aspects"]) != {}  # the harassment answer has aspects
