"""The Ray engine (``python -m nlp score --engine ray``) against the local engine, on a real
local Ray with the lexicon model.

One Ray instance serves the module (3 logical CPUs: two scoring workers and one for the read and
write tasks, as ``nlp.cli.ray_job.start_ray`` sizes a local Ray); every job reuses it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from nlp import cli
from nlp.cli import ray_job

ray = pytest.importorskip("ray")
# About 40 s on two cores: Ray start-up, a worker per job, and one worker killed on purpose.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")]

ROOT = Path(__file__).resolve().parents[2]
DEV_CALLS = ROOT / "tests" / "data" / "dev_calls.jsonl"
N_ROWS = 300
HEADER = {
    "response_id": "编号",
    "text": "回答内容",
    "submitted_at": "提交日期",
    "csat": "满意度",
    "region": "地区",
    "product": "产品",
}


@pytest.fixture(scope="module")
def ray_session():
    ray.init(
        num_cpus=3,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def survey_csv(tmp_path_factory) -> Path:
    """300 demo answers with Chinese headers, plus an empty answer and a multi-line one."""
    from data.demo import generate_demo

    demo = generate_demo(n_surveys=N_ROWS - 2, n_calls=1).surveys
    frame = demo[list(HEADER)].rename(columns=HEADER)
    frame["提交日期"] = frame["提交日期"].dt.strftime("%Y-%m-%d")
    extra = pd.DataFrame(
        {"编号": ["x-empty", "x-lines"], "回答内容": ["", "第一行很好\n第二行太差了"]}
    )
    frame = pd.concat([frame, extra], ignore_index=True)
    path = tmp_path_factory.mktemp("ray-in") / "survey.csv"
    frame.to_csv(path, index=False)
    return path


def score_args(src: Path, out: Path, *extra: str) -> list[str]:
    """``python -m nlp score SRC --out OUT --engine ray`` with the lexicon model."""
    return [
        "score",
        str(src),
        "--text-column",
        "回答内容",
        "--model",
        "lexicon",
        "--out",
        str(out),
        "--engine",
        "ray",
        *extra,
    ]


def run_cli(args: list[str], capsys) -> tuple[int, list[str]]:
    code = cli.main(args)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def outputs(ray_session, survey_csv, tmp_path_factory) -> dict[str, Path]:
    """The same file scored by the local engine and by the Ray engine (2 workers)."""
    d = tmp_path_factory.mktemp("ray-out")
    local = score_args(survey_csv, d / "local.parquet")[:-2]  # without --engine ray
    assert cli.main(local) == 0
    assert (
        cli.main(score_args(survey_csv, d / "ray.parquet", "--workers", "2", "--batch-size", "64"))
        == 0
    )
    return {"local": d / "local.parquet", "ray": d / "ray.parquet"}


def test_ray_output_equals_the_local_engine(outputs) -> None:
    ray_dir = outputs["ray"]
    assert ray_dir.is_dir()
    assert list(ray_dir.glob("*.parquet"))
    local = pd.read_parquet(outputs["local"]).sort_values("编号").reset_index(drop=True)
    scored = pd.read_parquet(ray_dir).sort_values("编号").reset_index(drop=True)
    assert len(scored) == len(local) == N_ROWS
    assert scored["confidence"].between(0, 1).all()
    pd.testing.assert_frame_equal(scored.drop(columns=["confidence"]), local)
    assert set(scored["sentiment"]) <= {"negative", "neutral", "positive"}


def test_rerun_replaces_the_earlier_part_files(ray_session, survey_csv, outputs, capsys) -> None:
    out = outputs["ray"]
    before = sorted(p.name for p in out.glob("*.parquet"))
    code, err = run_cli(score_args(survey_csv, out, "--workers", "1"), capsys)
    assert code == 0, err
    assert err[-1].startswith(f"已评分 {N_ROWS} 条")
    assert len(pd.read_parquet(out)) == N_ROWS
    assert not set(before) & {p.name for p in out.glob("*.parquet")}


def test_a_row_count_mismatch_exits_2(
    ray_session, survey_csv, tmp_path, monkeypatch, capsys
) -> None:
    real = ray_job.count_rows
    monkeypatch.setattr(ray_job, "count_rows", lambda fs, path: real(fs, path) - 1)
    code, err = run_cli(score_args(survey_csv, tmp_path / "out", "--workers", "1"), capsys)
    assert code == 2
    assert err == [
        f"错误：输出 {N_ROWS - 1} 行，输入 {N_ROWS} 行：行数不一致，"
        f"请检查 {tmp_path / 'out'} 后重跑"
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "找不到输入"),
        ("no_text.csv", "a,b\n1,2\n", "找不到文本列 '回答内容'"),
        ("header_only.csv", "回答内容,b\n", "没有数据行"),
        ("notes.docx", "x", "不支持的文件类型 .docx"),
        ("broken.jsonl", '{"回答内容": "很好"}\n{"回答内容": \n', "Ray 作业失败"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    ray_session, tmp_path, capsys, name, content, message
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, err = run_cli(score_args(path, tmp_path / "out"), capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("错误：") and message in err[0], err


def test_output_must_be_a_directory_of_part_files(
    ray_session, survey_csv, tmp_path, capsys
) -> None:
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("mine")
    (tmp_path / "file.parquet").write_bytes(b"")
    for out, message in (
        (tmp_path / "keep", "中有其他文件"),
        (tmp_path / "file.parquet", "已是一个文件"),
        (survey_csv.parent, "与输入重叠"),
    ):
        code, err = run_cli(score_args(survey_csv, out), capsys)
        assert code == 2 and len(err) == 1 and message in err[0], err
    assert (tmp_path / "keep" / "notes.txt").read_text() == "mine"


def test_import_of_the_ray_output_matches_a_local_ingest(
    outputs, survey_csv, tmp_path, monkeypatch, db_tools
) -> None:
    from data.__main__ import main as data_main

    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    imported, ingested = tmp_path / "imported.duckdb", tmp_path / "ingested.duckdb"
    try:
        common = ["--kind", "survey", "--text-column", "回答内容", "--db"]
        assert data_main(["import", str(outputs["ray"]), *common, str(imported)]) == 0
        assert data_main(["import", str(outputs["ray"]), *common, str(imported)]) == 0  # no-op
        assert data_main(["ingest", str(survey_csv), *common, str(ingested)]) == 0
    finally:
        db_tools.close(imported)
        db_tools.close(ingested)
    query = """
        SELECT r.respondent_id, r.submitted_at, r.region, r.product, r.csat, r.text,
               s.sentiment, s.sentiment_score, s.aspects::VARCHAR, s.emotions, s.complaint,
               s.complaint_reasons, s.requests, s.model_id
        FROM responses r JOIN scores s ON s.target_id = r.response_id ORDER BY r.respondent_id
    """
    tables = ("batches", "responses", "scores", "aspects")
    result = {}
    for path in (imported, ingested):
        con = duckdb.connect(str(path), read_only=True)
        try:
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
            result[path] = (counts, con.execute(query).fetchall())
        finally:
            con.close()
    assert result[imported][0] == result[ingested][0]
    from data.settings import placeholder_key, placeholder_keys, settings

    keys = placeholder_keys(settings().empty_answers)
    answers = pd.read_csv(survey_csv, dtype=str, keep_default_na=False)["回答内容"]
    kept = sum(1 for a in answers if a.strip() and placeholder_key(a) not in keys)
    assert kept < N_ROWS  # the empty answer (and any survey placeholder such as 无) is skipped
    assert result[imported][0]["responses"] == kept
    assert result[imported][1] == result[ingested][1]


def test_workers_must_leave_a_cpu_for_reading(ray_session, survey_csv, tmp_path, capsys) -> None:
    cpus = int(ray.cluster_resources()["CPU"])
    code, err = run_cli(score_args(survey_csv, tmp_path / "o", "--workers", str(cpus)), capsys)
    assert code == 2 and "须小于 Ray 集群的 CPU 数" in err[0]
    assert not os.path.exists(tmp_path / "o")


class _DiesOnce(ray_job.ScoreBatch):
    """Kills its worker process on the first batch of the job (``marker`` not yet written)."""

    marker = ""

    def __call__(self, batch):
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("died")
            os._exit(1)
        return super().__call__(batch)


def test_a_batch_whose_worker_dies_is_retried(
    ray_session, survey_csv, tmp_path, monkeypatch, capsys
) -> None:
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import us
    monkeypatch.setattr(_DiesOnce, "marker", str(tmp_path / "died"))
    monkeypatch.setattr(ray_job, "ScoreBatch", _DiesOnce)
    args = score_args(survey_csv, tmp_path / "out", "--workers", "2", "--batch-size", "64")
    code, err = run_cli(args, capsys)
    assert (tmp_path / "died").exists()
    assert code == 0, err
    assert len(pd.read_parquet(tmp_path / "out")) == N_ROWS


def test_calls_on_ray_equal_the_local_engine(ray_session, tmp_path, capsys) -> None:
    from nlp.cli.calls import main_calls

    calls = ROOT / "tests" / "data" / "dev_calls.jsonl"
    common = [str(calls), "--sentiment-model", "lexicon"]
    assert main_calls([*common, "--out", str(tmp_path / "local.jsonl")]) == 0
    assert (
        main_calls(
            [*common, "--out", str(tmp_path / "ray.jsonl"), "--engine", "ray", "--workers", "2"]
        )
        == 0
    )
    local = (tmp_path / "local.jsonl").read_text(encoding="utf-8")
    assert (tmp_path / "ray.jsonl").read_text(encoding="utf-8") == local
    assert len(local.splitlines()) == len(DEV_CALLS.read_text(encoding="utf-8").splitlines())
    capsys.readouterr()
