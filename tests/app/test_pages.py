"""AppTest: every page renders, and the main interactions change what is shown.

The store is a real DuckDB file with the real demo dataset; scoring uses the lexicon
backend so the fixture builds in seconds (the transformer path is covered by
tests/nlp and the browser test).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = [
    "pages/overview.py",
    "pages/complaints.py",
    "pages/calls.py",
    "pages/upload.py",
    "pages/model.py",
    "pages/admin.py",
    "pages/audit.py",
]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("app") / "bv.duckdb"
    mp.setenv("BV_DB_PATH", str(path))
    mp.setenv("BV_SENTIMENT_MODEL", "lexicon")
    from data.demo_loader import ensure_demo
    from data.store import open_store

    ensure_demo(open_store(path), model="lexicon", n_surveys=1200, n_calls=120)
    yield path
    mp.undo()


@pytest.fixture(autouse=True)
def fresh_caches(demo_db, monkeypatch):
    monkeypatch.setenv("BV_DB_PATH", str(demo_db))
    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    monkeypatch.setenv("BV_AUTH", "off")  # single local user acting as admin: every page
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_error(page):
    at = _open(page)
    assert at.title, "page has no title"


def test_overview_shows_demo_kpis_and_marks_demo_data():
    at = _open(PAGES[0])
    assert _metric(at, "问卷回答") == "1,200"
    assert _metric(at, "通话") == "120"
    assert any("示例数据" in i.value for i in at.info)


def test_product_filter_changes_the_numbers():
    at = _open(PAGES[0])
    before = int(_metric(at, "问卷回答").replace(",", ""))
    at.multiselect(key="flt_products").set_value(["企业经营贷"]).run()
    assert not at.exception
    after = int(_metric(at, "问卷回答").replace(",", ""))
    assert 0 < after < before


def test_filters_are_kept_across_pages():
    at = _open(PAGES[0])
    at.multiselect(key="flt_products").set_value(["企业经营贷"]).run()
    at.switch_page(PAGES[1])
    at.run()
    assert not at.exception
    assert at.multiselect(key="flt_products").value == ["企业经营贷"]


def test_review_overrides_model_labels_in_the_charts():
    from data import reviews
    from data.queries import Filters, records
    from data.store import open_store

    at = _open(PAGES[0])
    before = _metric(at, "投诉率")
    store = open_store()
    flagged = records(store, Filters(), complaint_only=True, limit=100)
    for rid in flagged["response_id"]:
        reviews.add_review(store, "response", rid, "qa-1", "false_positive")
    st.cache_data.clear()
    at.run()
    after = _metric(at, "投诉率")
    assert float(after.rstrip("%")) < float(before.rstrip("%"))
    at.toggle(key="flt_reviews").set_value(False).run()
    assert _metric(at, "投诉率") == before  # model-only figures are unchanged


def test_calls_page_filters_by_agent():
    at = _open(PAGES[2])
    at.selectbox(key="cl_agent").set_value("A08").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "通话" in d.value.columns)
    assert len(table) > 0 and set(table["坐席"]) == {"A08"}


def _total(at: AppTest, noun: str) -> tuple[int, str]:
    """The true count in the pager caption 「共 1,420 条投诉，第 1–50 条。…」, and the range."""
    caption = next(c.value for c in at.caption if c.value.startswith("共 ") and noun in c.value)
    match = re.match(rf"共 ([\d,]+) \w{noun}，(第 [\d,]+–[\d,]+ \w|无记录)", caption)
    assert match, caption
    return int(match[1].replace(",", "")), match[2]


def test_complaint_queue_search_narrows_the_list():
    at = _open(PAGES[1])
    total, _ = _total(at, "投诉")
    at.text_input(key="cp_search").set_value("通讯录").run()
    hits, _ = _total(at, "投诉")
    assert 0 < hits < total
    assert at.dataframe[0].value["回答"].str.contains("通讯录").all()


def test_complaint_queue_shows_the_true_count_and_pages_through_it():
    from data.store import open_store

    at = _open(PAGES[1])
    in_db = open_store().scalar(
        "SELECT count(*) FROM scores WHERE target_kind = 'response' AND complaint"
    )
    assert in_db > 300  # more than the old cap, so a capped count would show
    assert _total(at, "投诉") == (in_db, "第 1–50 条")
    first = at.dataframe[0].value["编号"].tolist()
    assert len(first) == 50
    at.button(key="cp_pg_next").click().run()
    assert _total(at, "投诉") == (in_db, "第 51–100 条")
    assert not set(at.dataframe[0].value["编号"]) & set(first)
    last = -(-in_db // 50)
    at.number_input(key="cp_pg_page").set_value(last).run()
    assert _total(at, "投诉") == (in_db, f"第 {(last - 1) * 50 + 1:,}–{in_db:,} 条")
    assert at.button(key="cp_pg_next").disabled
    at.selectbox(key="cp_status").set_value("unreviewed").run()  # a new filter: page 1 again
    assert _total(at, "投诉")[1] == "第 1–50 条"


def test_calls_with_violations_are_counted_in_full():
    from data.store import open_store

    at = _open(PAGES[2])
    assert _total(at, "电话") == (open_store().scalar("SELECT count(*) FROM calls"), "第 1–50 通")
    at.toggle(key="cl_only_bad").set_value(True).run()
    bad = open_store().scalar("SELECT count(*) FROM call_analysis WHERE len(violations) > 0")
    total, _ = _total(at, "电话")
    assert total == bad > 0
    table = next(d.value for d in at.dataframe if "通话" in d.value.columns)
    assert len(table) == min(bad, 50)


def _records_key(at: AppTest) -> str:
    return next(d.key for d in at.dataframe if d.key and d.key.startswith("ov_records_"))


def test_overview_records_show_the_true_count_and_page_through_it():
    from data.queries import Filters, records_page
    from data.store import open_store

    at = _open(PAGES[0])
    in_db = records_page(open_store(), Filters(), complaint_only=True, limit=1).total
    assert in_db > 200  # more than the old cap of 200 rows, so a capped count would show
    assert _total(at, "记录") == (in_db, "第 1–50 条")
    first = at.dataframe(key=_records_key(at)).value["回答"].tolist()
    assert len(first) == 50
    at.button(key="ov_pg_next").click().run()
    assert _total(at, "记录") == (in_db, "第 51–100 条")
    assert at.dataframe(key=_records_key(at)).value["回答"].tolist() != first


def test_overview_record_selection_shows_the_highlighted_answer():
    at = _open(PAGES[0])
    at.session_state[_records_key(at)] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("底色" in m.value and "负面" in m.value for m in at.markdown)
    assert any(c.value.startswith("情感 ") for c in at.caption)


def test_a_review_is_recorded_and_shown_at_once():
    from data.reviews import ACTIONS

    at = _open(PAGES[1])
    table = at.dataframe[0]
    assert table.key and table.key.startswith("cp_table_")
    rid = table.value["编号"].iloc[0]
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert [s.value for s in at.subheader if s.value.startswith("详情")]
    at.radio(key="cp_action").set_value("false_positive")
    next(b for b in at.button if b.label == "提交复核").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("已记录复核" in s.value for s in at.success)
    queue = at.dataframe[0].value  # recomputed after data_changed(): the status shows
    assert queue.loc[queue["编号"] == rid, "复核"].tolist() == [ACTIONS["false_positive"]]


def test_upload_reports_rows_already_stored_and_imports_them_only_when_asked(db_path, monkeypatch):
    import io

    import pandas as pd

    from data.ingest import ingest_survey_bytes
    from data.store import open_store

    monkeypatch.setenv("BV_DB_PATH", str(db_path))
    st.cache_resource.clear()
    answers = pd.DataFrame(
        {
            "回答内容": ["催收员态度很好", "天天打电话骚扰我家人", "威胁要上门，很害怕"],
            "提交日期": ["2026-05-01", "2026-05-02", "2026-05-02"],
            "地区": ["广东", "北京", "广东"],
        }
    )
    xlsx = io.BytesIO()
    answers.to_excel(xlsx, index=False)
    store = open_store(db_path)
    assert ingest_survey_bytes(store, xlsx.getvalue(), "答卷.xlsx").rows == 3
    gbk = answers.assign(提交日期=["2026/5/1", "2026/5/2", "2026/5/2"]).to_csv(index=False)

    at = _open("pages/upload.py")
    at.file_uploader(key="up_file").set_value(("答卷.csv", gbk.encode("gbk"), "text/csv")).run()
    assert any(i.value.startswith("3 行已存在，将跳过") for i in at.info)
    at.button(key="up_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("3 行已存在，已跳过" in i.value for i in at.info)
    assert store.scalar("SELECT count(*) FROM responses") == 3
    at.checkbox(key="up_dups").check().run()
    assert any("将再次导入" in w.value for w in at.warning)
    at.button(key="up_go").click().run()
    assert any("3 行与已有数据重复" in s.value for s in at.success)
    assert store.scalar("SELECT count(*) FROM responses") == 6
