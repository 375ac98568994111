"""The benchmark's helpers: sampling, metrics, table formatting, and a tiny lexicon-only run.

No timing is asserted anywhere: speed depends on the machine. The one run that loads the
transformer is marked slow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from bench.common import (
    Sample,
    agreement,
    best_of,
    binary_accuracy,
    binary_predictions,
    busy_cpu_seconds,
    call_turns,
    fmt,
    format_table,
    machine_info,
    other_share,
    sample_reviews,
    trained_on,
)
from bench.e2e import e2e_code
from bench.models import main_bench
from bench.report import models_note
from nlp.labels import SENTIMENTS


@pytest.fixture
def corpora(tmp_path: Path) -> Path:
    """A tiny online_shopping_10_cats.csv: 20 fruit reviews and 5 of another category."""
    rows = [("水果", i % 2, f"水果评论{i}") for i in range(20)]
    rows += [("书籍", 1, f"书籍评论{i}") for i in range(5)]
    pd.DataFrame(rows, columns=["cat", "label", "review"]).to_csv(
        tmp_path / "online_shopping_10_cats.csv", index=False, encoding="utf-8-sig"
    )
    return tmp_path


def test_sample_is_deterministic_and_only_from_the_category(corpora: Path) -> None:
    a = sample_reviews(12, seed=7, corpora=corpora)
    b = sample_reviews(12, seed=7, corpora=corpora)
    c = sample_reviews(12, seed=8, corpora=corpora)
    assert a == b
    assert a.texts != c.texts
    assert len(a.texts) == len(a.labels) == 12
    assert len(set(a.texts)) == 12  # without replacement while rows last
    assert all(t.startswith("水果评论") for t in a.texts)
    for text, label in zip(a.texts, a.labels, strict=True):
        assert label == ("positive" if int(text.removeprefix("水果评论")) % 2 else "negative")
    assert "水果" in a.source


def test_sample_larger_than_the_category_cycles(corpora: Path) -> None:
    s = sample_reviews(50, seed=1, corpora=corpora)
    assert len(s.texts) == 50
    assert len(set(s.texts)) == 20


def test_sample_falls_back_to_the_dev_set(tmp_path: Path) -> None:
    s = sample_reviews(30, seed=3, corpora=tmp_path / "absent")
    assert len(s.texts) == 30
    assert set(s.labels) <= set(SENTIMENTS)
    assert "dev_borrower" in s.source and "not found" in s.source
    assert s == sample_reviews(30, seed=3, corpora=tmp_path / "absent")


def test_binary_metrics_ignore_neutral_gold() -> None:
    pred = binary_predictions([0.9, 0.2, 0.5, 0.1], [0.1, 0.7, 0.5, 0.3])
    assert pred == ["negative", "positive", "positive", "positive"]
    assert binary_accuracy(["negative", "negative", "neutral", "positive"], pred) == pytest.approx(
        2 / 3
    )
    assert agreement(pred, ["negative", "negative", "positive", "positive"]) == 0.75
    assert binary_accuracy(["neutral"], ["positive"]) != binary_accuracy(["neutral"], ["positive"])


def test_best_of_keeps_the_fastest_successful_try() -> None:
    tries = [{"wall_s": 3.0, "n": 1}, {"error": "boom"}, {"wall_s": 2.0, "n": 2}]
    best = best_of(tries)
    assert best["n"] == 2
    assert best["tries"] == [3.0, 2.0]
    assert best_of([{"score_s": 5.0}, {"score_s": 4.0}], "score_s")["tries"] == [5.0, 4.0]
    assert best_of([{"error": "boom"}]) == {"error": "boom"}


def test_other_load_from_proc_stat(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal (clock ticks)
    stat.write_text("cpu  300 0 100 1000 50 0 0 0 0 0\ncpu0 1 2 3\n", encoding="utf-8")
    ticks = os.sysconf("SC_CLK_TCK")
    assert busy_cpu_seconds(stat) == pytest.approx(400 / ticks)
    assert busy_cpu_seconds(tmp_path / "absent") is None
    # 2 cores for 10 s = 20 CPU s; the machine was busy 12 s, 8 of them ours
    assert other_share(12.0, 8.0, 10.0, 2) == pytest.approx(0.2)
    assert other_share(5.0, 8.0, 10.0, 2) == 0.0  # clock skew never goes negative


def test_trained_on_reads_the_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"training_data": {"domains": ["水果", "酒店"]}}), "utf-8")
    assert trained_on("水果", manifest) is True
    assert trained_on("书籍", manifest) is False
    assert trained_on("水果", tmp_path / "absent.json") is None


def test_models_note_lists_only_informative_names() -> None:
    results = {"lexicon": {"model": "lexicon"}, "default": {"model": "0.5×onnx + 0.5×lexicon"}}
    assert models_note(results) == [
        "Loaded models:",
        "",
        "- `default` = 0.5×onnx + 0.5×lexicon",
        "",
    ]
    assert models_note({"snownlp": {}}) == []


def test_format_table_aligns_and_escapes() -> None:
    table = format_table(["backend", "texts/s", "notes"], [["a|b", "1,234.5", "raw"]], (0, -1))
    lines = table.splitlines()
    assert lines[0] == "| backend | texts/s | notes |"
    assert lines[1] == "|---|--:|---|"
    assert lines[2] == "| a\\|b | 1,234.5 | raw |"
    assert format_table(["x"], []) == "(not run)"
    with pytest.raises(ValueError, match="expected 2"):
        format_table(["x", "y"], [["only one"]])


def test_fmt() -> None:
    assert fmt(4000) == "4,000"
    assert fmt(12.345, 2) == "12.35"
    assert fmt(None) == fmt(float("nan")) == "—"


def test_machine_info_reads_proc(tmp_path: Path) -> None:
    cpu = tmp_path / "cpuinfo"
    cpu.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n", encoding="utf-8")
    mem = tmp_path / "meminfo"
    mem.write_text("MemTotal:       2097152 kB\n", encoding="utf-8")
    info = machine_info(cpu, mem)
    assert info["cpu"] == "Test CPU 9000"
    assert info["mem_gb"] == 2.0
    assert info["cores"] >= 1


def test_call_turns_keeps_borrower_and_agent(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    call = {
        "turns": [
            {"speaker": "agent", "text": "您好"},
            {"speaker": "system", "text": "x"},
            {"speaker": "borrower", "text": "我下周还"},
            {"speaker": "borrower", "text": " "},
        ]
    }
    path.write_text(json.dumps(call, ensure_ascii=False) + "\n", encoding="utf-8")
    assert call_turns(path) == ["您好", "我下周还"]


def test_e2e_programs_compile() -> None:
    for run in ("snownlp", "default", "default-onnx", "default+rules", "lexicon+rules"):
        compile(e2e_code(run), run, "exec")


def test_quick_lexicon_run_writes_the_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.md"
    argv = [
        "--quick",
        "--n",
        "40",
        "--backends",
        "lexicon",
        "--corpora",
        str(tmp_path / "absent"),
        "--out",
        str(out),
    ]
    assert main_bench(argv) == 0
    text = out.read_text(encoding="utf-8")
    assert text == capsys.readouterr().out
    assert "Command: `python -m nlp bench --quick --n 40 --backends lexicon" in text
    assert "cores" in text
    row = next(line for line in text.splitlines() if line.startswith("| lexicon (rules"))
    assert "| 40 |" in row
    assert "| lexicon, full score_texts (rules too) | 40 |" in text
    assert "dev_borrower.jsonl repeated" in text


def test_unknown_backend_is_a_usage_error(tmp_path: Path) -> None:
    assert main_bench(["--backends", "nope", "--out", str(tmp_path / "x.md")]) == 2


@pytest.mark.slow
def test_quick_default_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    argv = [
        "--quick",
        "--n",
        "40",
        "--backends",
        "default",
        "--corpora",
        str(tmp_path / "absent"),
        "--out",
        str(out),
        "--no-e2e",
    ]
    assert main_bench(argv) == 0
    text = out.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| default:"))
    assert "| 40 |" in row
    assert "tok/text" in row  # tokenisation profiled
    assert Sample  # the public result type stays importable
