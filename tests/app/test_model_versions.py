"""AppTest: 「用复核结果训练新版本」 on 模型评估, the version caption on the charts, and on
投诉复核 the 「模型最没把握」 order and the emotion / tactic corrections.

A real DuckDB file with a small demo scored by the lexicon. Versions in the registry are
written through the data layer with a stand-in directory; the one expensive call, the
background re-score a promotion starts, is replaced by a recorder (tests/data/test_models.py
re-scores for real).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data import models, rescore

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("mv") / "bv.duckdb"
    mp.setenv("BV_DB_PATH", str(path))
    mp.setenv("BV_SENTIMENT_MODEL", "lexicon")
    from data.demo_loader import ensure_demo
    from data.store import open_store

    ensure_demo(open_store(path), model="lexicon", n_surveys=300, n_calls=10)
    yield path
    mp.undo()


@pytest.fixture(autouse=True)
def fresh(demo_db, monkeypatch):
    monkeypatch.setenv("BV_DB_PATH", str(demo_db))
    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    monkeypatch.setenv("BV_AUTH", "off")
    st.cache_data.clear()
    st.cache_resource.clear()
    from data.store import open_store

    store = open_store(demo_db)
    with store.transaction() as tx:
        for table in ("model_versions", "model_events", "review_emotions", "reviews"):
            tx.execute(f"DELETE FROM {table}")
    yield store


@pytest.fixture
def started(monkeypatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(rescore, "start", lambda store, actor, model, **kw: calls.append(model))
    return calls


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _version(store, tmp_path: Path, version_id: str, gate: list[str]) -> None:
    path = tmp_path / version_id
    path.mkdir()
    (path / "adapted.json").write_text(json.dumps({"version": version_id}))
    side = {"rows": 40, "sentiment_macro_f1": 0.7, "complaint_f1": 0.8}
    metrics = {
        "heldback": {"current": side, "after": {**side, "sentiment_macro_f1": 0.75}},
        "dev": {"current": side, "candidate": side, "current_model": "lexicon"},
        "gate": gate,
        "data": {"rows": 160},
    }
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO model_versions VALUES (?, ?, 'default', 'res', now(), NULL, NULL, ?, ?)",
            [version_id, str(path), json.dumps(metrics), "refused" if gate else "candidate"],
        )


def _button(at: AppTest, key: str):
    return at.button(key=key)


def test_the_section_renders_and_says_which_version_the_charts_show():
    at = _open("pages/model.py")
    assert any(s.value == "用复核结果训练新版本" for s in at.subheader)
    assert any("出厂模型（lexicon）" in c.value for c in at.caption)
    assert _button(at, "md_mv_rollback").disabled  # nothing promoted: nothing to roll back
    overview = _open("pages/overview.py")
    assert any(c.value.startswith("图表所示评分来自模型版本") for c in overview.caption)


def test_building_without_reviews_or_a_file_says_there_is_nothing_to_learn():
    at = _open("pages/model.py")
    _button(at, "md_mv_build").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("没有可学习的数据" in e.value for e in at.error)


def test_a_refused_candidate_cannot_be_promoted_and_says_why(fresh, tmp_path, started):
    _version(fresh, tmp_path, "v-bad", ["开发集情感 Macro-F1 0.500，比当前版本 0.700 低 0.200"])
    at = _open("pages/model.py")
    assert _button(at, "md_mv_promote").disabled
    assert any("不能启用" in w.value and "0.200" in w.value for w in at.warning)
    table = next(d.value for d in at.dataframe if "版本" in d.value.columns)
    assert table["状态"].tolist() == ["未通过"]
    assert started == []


def test_promote_then_roll_back_in_one_click_each(fresh, tmp_path, started):
    _version(fresh, tmp_path, "v-good", [])
    at = _open("pages/model.py")
    tables = [d.value for d in at.dataframe if "指标" in d.value.columns]
    assert [list(t.columns) for t in tables] == [["指标", "当前版本", "候选版本"]] * 2
    _button(at, "md_mv_promote").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert models.current(fresh).version_id == "v-good"
    assert started == [str(tmp_path / "v-good")]  # the re-score of the stored data
    assert any("当前版本：** v-good" in m.value for m in at.markdown)
    _button(at, "md_mv_rollback").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert models.current(fresh) is None and started[-1] == "lexicon"
    assert _button(at, "md_mv_rollback").disabled


def test_the_uncertain_order_lists_unreviewed_records_least_certain_first():
    at = _open("pages/complaints.py")
    at.segmented_control(key="cp_order").set_value("uncertain").run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    assert "不确定度" in table.columns and len(table)
    values = table["不确定度"].tolist()
    assert values == sorted(values, reverse=True)
    assert set(table["复核"]) == {"未复核"}
    assert any("最没把握在前" in c.value for c in at.caption)


def test_a_reviewer_corrects_emotions_and_tactics(fresh):
    at = _open("pages/complaints.py")
    table = at.dataframe[0]
    rid = table.value["编号"].iloc[0]
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    field = at.multiselect(key=f"cp_emotions_{rid}")
    wanted = ["gratitude"] if field.value != ["gratitude"] else ["shame"]  # a change
    field.set_value(wanted)
    at.multiselect(key=f"cp_aspects_{rid}").set_value(["home_visit:negative"])
    at.radio(key="cp_action").set_value("correct")
    next(b for b in at.button if b.label == "提交复核").click().run()
    assert not at.exception, [e.message for e in at.exception]
    rows = models.training_rows(fresh)
    assert rows["emotions"].tolist() == [wanted]
    assert rows["aspects"].tolist() == [{"home_visit": "negative"}]
