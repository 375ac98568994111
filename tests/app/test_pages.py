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

from data.demo import DEFAULT_TODAY
from data.demo.journeys import generate_journeys

JOURNEYS = generate_journeys(DEFAULT_TODAY)
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
    "pages/warnings.py",
    "pages/alerts.py",
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
    # the generated records plus the planted borrower journeys (data.demo.journeys)
    assert _metric(at, "问卷回答") == f"{1200 + len(JOURNEYS[0]):,}"
    assert _metric(at, "通话") == f"{120 + len(JOURNEYS[1]):,}"
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


def _review_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("已复核"))


def test_a_submitted_review_resets_the_form_and_selects_the_next_record():
    from data.reviews import ACTIONS
    from pages._html import escape

    at = _open(PAGES[1])
    table = at.dataframe[0]
    ids = table.value["编号"].tolist()
    at.session_state[table.key] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    at.radio(key="cp_action").set_value("assign")
    at.text_input(key="cp_note").set_value("请回访")
    at.text_input(key="cp_assignee").set_value("qa-2")
    next(b for b in at.button if b.label == "提交复核").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("已记录复核" in s.value and ids[1] in s.value for s in at.success)
    # the next record is selected, and the form starts from its defaults again
    shown = [s.value for s in at.subheader if s.value.startswith("详情")]
    assert shown == [f"详情 · {escape(ids[2])}"]
    assert at.radio(key="cp_action").value == next(iter(ACTIONS))
    assert at.selectbox(key="cp_fix").value is None
    assert at.text_input(key="cp_note").value == ""
    assert at.text_input(key="cp_assignee").value == ""


def test_the_queue_shows_how_many_were_reviewed_and_how_reviews_moved_the_figures():
    from data.queries import Filters, review_effect
    from data.store import open_store

    at = _open(PAGES[1])
    before = review_effect(open_store(), Filters())
    caption = _review_caption(at)
    assert f"已复核 {before['reviewed']:,.0f} 条" in caption
    assert f"采用复核结果：投诉 {before['complaints']:,.0f} 条" in caption
    assert f"仅模型判断：投诉 {before['model_complaints']:,.0f} 条" in caption
    assert "负面占比" in caption

    table = at.dataframe[0]
    status = dict(zip(table.value["编号"], table.value["复核"], strict=True))
    row = next(i for i, rid in enumerate(table.value["编号"]) if status[rid] == "未复核")
    at.session_state[table.key] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    at.radio(key="cp_action").set_value("false_positive")
    at.selectbox(key="cp_fix").set_value("positive")
    next(b for b in at.button if b.label == "提交复核").click().run()
    assert not at.exception, [e.message for e in at.exception]

    after = review_effect(open_store(), Filters())
    assert after["reviewed"] == before["reviewed"] + 1
    assert after["complaints"] == before["complaints"] - 1  # a false positive is no complaint
    assert after["model_complaints"] == before["model_complaints"]
    assert after["negative_share"] <= before["negative_share"]  # corrected to positive
    caption = _review_caption(at)
    share = after["reviewed"] / after["flagged"]
    assert f"已复核 {after['reviewed']:,.0f} 条（占 {share:.0%}）" in caption
    assert f"采用复核结果：投诉 {after['complaints']:,.0f} 条" in caption


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


# --------------------------------------------------------------------------- the URL
def _open_with(page: str, **params: str | list[str]) -> AppTest:
    """A new session (a reload, or a shared link) opened at ``page`` with these parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    if page != PAGES[0]:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _param(at: AppTest, name: str) -> list[str]:
    """The values of ``?name=`` in the session's URL, as a list."""
    value = at.query_params.get(name, [])
    return [value] if isinstance(value, str) else list(value)


def test_a_link_with_filters_opens_the_same_view():
    at = _open_with(PAGES[0], product="企业经营贷", reviews="off")
    assert at.multiselect(key="flt_products").value == ["企业经营贷"]
    assert at.toggle(key="flt_reviews").value is False
    by_hand = _open(PAGES[0])
    by_hand.multiselect(key="flt_products").set_value(["企业经营贷"]).run()
    assert _metric(at, "问卷回答") == _metric(by_hand, "问卷回答") != f"{1200 + len(JOURNEYS[0]):,}"


def test_unknown_or_invalid_url_values_are_ignored():
    at = _open_with(
        PAGES[0],
        product=["企业经营贷", "不存在的产品"],
        region="<script>",
        reviews="maybe",
        **{"from": "2026-13-40", "to": "1900-01-01", "batch": "no-such-batch", "junk": "1"},
    )
    assert at.multiselect(key="flt_products").value == ["企业经营贷"]
    assert at.multiselect(key="flt_regions").value == []
    assert at.toggle(key="flt_reviews").value is True
    assert at.multiselect(key="flt_batches").value == []
    assert _param(at, "product") == ["企业经营贷"]  # the invalid values are dropped
    assert "region" not in at.query_params and "from" not in at.query_params
    assert _param(at, "junk") == ["1"]  # not ours: left alone


def test_changing_a_filter_writes_it_to_the_url_and_defaults_stay_out():
    at = _open(PAGES[0])
    assert not set(at.query_params) & {"from", "to", "product", "reviews", "freq", "dim"}
    two = at.multiselect(key="flt_products").options[:2]
    at.multiselect(key="flt_products").set_value(two).run()
    at.toggle(key="flt_reviews").set_value(False).run()
    start, end = at.date_input(key="flt_dates").value
    at.date_input(key="flt_dates").set_value((start.replace(day=1), end)).run()
    assert _param(at, "product") == two
    assert _param(at, "reviews") == ["off"]
    if start.day != 1:
        assert _param(at, "from") == [f"{start.replace(day=1)}"]
    assert "to" not in at.query_params  # still the default: the newest date
    at.multiselect(key="flt_products").set_value([]).run()
    assert "product" not in at.query_params

    shared = _open_with(PAGES[0], **at.query_params)  # the same URL, a new session
    assert shared.toggle(key="flt_reviews").value is False
    assert shared.date_input(key="flt_dates").value == at.date_input(key="flt_dates").value


def test_overview_drill_down_and_chart_choices_come_back_from_the_url():
    at = _open_with(
        PAGES[0], tactic="threat_intimidation", polarity="negative", freq="week", dim="region"
    )
    assert at.segmented_control(key="ov_freq").value == "week"
    assert at.selectbox(key="ov_dim").value == "region"
    caption = next(c.value for c in at.caption if c.value.startswith("已按所选图表元素筛选"))
    assert "威胁恐吓" in caption and "负面" in caption
    at.run()  # a rerun keeps it, and it stays in the URL
    assert any(c.value.startswith("已按所选图表元素筛选") for c in at.caption)
    assert _param(at, "tactic") == ["threat_intimidation"]
    assert _param(at, "freq") == ["week"]

    bogus = _open_with(PAGES[0], tactic="no_such_tactic", polarity="negative")
    assert not any(c.value.startswith("已按所选图表元素筛选") for c in bogus.caption)
    assert "tactic" not in bogus.query_params


def test_complaint_and_call_choices_are_kept_in_the_url():
    at = _open_with(PAGES[1], status="unreviewed", tactic="bogus", q="通讯录")
    assert at.selectbox(key="cp_status").value == "unreviewed"
    assert at.selectbox(key="cp_tactic").value is None
    assert at.text_input(key="cp_search").value == "通讯录"
    at.selectbox(key="cp_emotion").set_value("anger").run()
    assert _param(at, "emotion") == ["anger"]
    assert _param(at, "q") == ["通讯录"] and "tactic" not in at.query_params

    calls = _open_with(PAGES[2], agent="A08", bad="1", rule="nonsense")
    assert calls.selectbox(key="cl_agent").value == "A08"
    assert calls.toggle(key="cl_only_bad").value is True
    assert calls.selectbox(key="cl_rule").value is None
    calls.toggle(key="cl_only_bad").set_value(False).run()
    assert "bad" not in calls.query_params and _param(calls, "agent") == ["A08"]
