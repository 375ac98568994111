"""Dashboard queries (data.queries) on a real DuckDB file with hand-made stored rows.

The main fixture stores six responses with hand-written labels (through the real
``store_survey_batch``), so every expected count below can be read off the table here:

    id  date        product  region  channel  bucket  csat  sentiment  complaint  aspects
    r0  2026-04-10  信用卡   广东    电话     M1      5     positive   no         attitude+, plan+
    r1  2026-05-02  消费贷   北京    电话     M2      1     negative   yes        third_party-, freq-
    r2  2026-05-10  消费贷   广东    上门     M3+     2     negative   yes        threat-
    r3  2026-05-20  信用卡   北京    短信     M1      4     neutral    no         (none)
    r4  2026-06-01  信用卡   上海    电话     M1      -     positive   no         attitude+
    r5  2026-06-15  消费贷   广东    电话     M2      3     negative   no         freq-
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from data import queries as q
from data.ingest import ingest_calls_bytes, ingest_survey_bytes, store_survey_batch
from data.store import now

# fmt: off
ROWS = [
    # id, date, product, region, channel, bucket, csat, text, sentiment, complaint, aspects,
    # requests, emotions
    ("r0", "2026-04-10", "信用卡", "广东", "电话", "M1", 5, "催收员态度很好，还帮我申请分期",
     "positive", False, {"agent_attitude": "positive", "repayment_plan": "positive"}, [],
     ["gratitude"]),
    ("r1", "2026-05-02", "消费贷", "北京", "电话", "M2", 1, "天天打电话，还打给我家人",
     "negative", True, {"third_party_contact": "negative", "contact_frequency": "negative"},
     ["fewer_contacts"], ["anger"]),
    ("r2", "2026-05-10", "消费贷", "广东", "上门", "M3+", 2, "说要起诉我，还要上门，很害怕",
     "negative", True, {"threat_intimidation": "negative"}, ["understanding"], ["fear"]),
    ("r3", "2026-05-20", "信用卡", "北京", "短信", "M1", 4, "短信提醒了还款日",
     "neutral", False, {}, ["flexible_plan"], []),
    ("r4", "2026-06-01", "信用卡", "上海", "电话", "M1", None, "客服说话客气",
     "positive", False, {"agent_attitude": "positive"}, [], []),
    ("r5", "2026-06-15", "消费贷", "广东", "电话", "M2", 3, "一周打了二十次电话",
     "negative", False, {"contact_frequency": "negative"}, [], ["anger"]),
]
# fmt: on

CALL = (
    '{"call_id": "q-c1", "borrower_id": "B1", "agent_id": "A1", "team": "M1组", '
    '"started_at": "2026-05-06T10:12:00+08:00", "duration_s": 60, "outcome": "promise_to_pay", '
    '"turns": [{"speaker": "agent", "text": "您好，您的借款逾期了。"}, '
    '{"speaker": "borrower", "text": "好的，我今晚还。"}]}\n'
).encode()


@pytest.fixture
def store(tmp_store):
    responses = pd.DataFrame(
        {
            "response_id": [r[0] for r in ROWS],
            "respondent_id": [f"R{i}" for i in range(len(ROWS))],
            "submitted_at": pd.to_datetime([r[1] for r in ROWS]),
            "product": [r[2] for r in ROWS],
            "region": [r[3] for r in ROWS],
            "channel": [r[4] for r in ROWS],
            "overdue_bucket": [r[5] for r in ROWS],
            "csat": pd.array([r[6] for r in ROWS], dtype="Int64"),
            "nps": pd.array([None] * len(ROWS), dtype="Int64"),
            "text": [r[7] for r in ROWS],
        }
    )
    scored = pd.DataFrame(
        {
            "sentiment": [r[8] for r in ROWS],
            "sentiment_score": [
                {"positive": 0.8, "neutral": 0.0, "negative": -0.8}[r[8]] for r in ROWS
            ],
            "confidence": 0.9,
            "complaint": [r[9] for r in ROWS],
            "aspects": [r[10] for r in ROWS],
            "requests": [r[11] for r in ROWS],
            "emotions": [r[12] for r in ROWS],
            "complaint_reasons": [["third_party_disclosure"] if r[9] else [] for r in ROWS],
            "model": "hand-made",
        }
    )
    store_survey_batch(
        tmp_store, responses, scored, file_name="hand.csv", sha="hand", uploaded_by="test"
    )
    return tmp_store


def review(
    store, target: str, *, sentiment=None, complaint=None, action="relabel", minutes: int = 0
) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO reviews VALUES (?, 'response', ?, '审核员', ?, ?, ?, NULL, ?, NULL, NULL)",
            [
                f"rv-{target}-{minutes}",
                target,
                now() + timedelta(minutes=minutes),
                action,
                sentiment,
                complaint,
            ],
        )


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["response_id"].tolist()


MAY = q.Filters(date_from=date(2026, 5, 1), date_to=date(2026, 5, 31))


# --------------------------------------------------------------------------- kpis
def test_kpis_for_everything(store) -> None:
    k = q.kpis(store, q.Filters())
    assert k["previous"] is None
    cur = k["current"]
    assert cur["n"] == 6
    assert cur["negative_share"] == pytest.approx(3 / 6)
    assert cur["complaint_rate"] == pytest.approx(2 / 6)
    assert cur["csat"] == pytest.approx((5 + 1 + 2 + 4 + 3) / 5) and cur["csat_n"] == 5
    assert cur["nps"] is None
    assert cur["wants_flexibility"] == pytest.approx(2 / 6)  # r2 understanding, r3 plan
    assert cur["calls"] == 0


def test_kpis_for_a_period_and_the_one_before(store) -> None:
    k = q.kpis(store, MAY)
    assert k["current"]["n"] == 3
    assert k["current"]["negative_share"] == pytest.approx(2 / 3)
    assert k["previous"]["n"] == 1  # the 31 days before May: 03-31..04-30, i.e. r0
    assert k["previous"]["negative_share"] == 0
    assert MAY.previous_period() == q.Filters(
        date_from=date(2026, 3, 31), date_to=date(2026, 4, 30)
    )


@pytest.mark.parametrize(
    ("filters", "n", "negative"),
    [
        (q.Filters(products=("信用卡",)), 3, 0),
        (q.Filters(regions=("广东",)), 3, 2),
        (q.Filters(channels=("电话",)), 4, 2),
        (q.Filters(buckets=("M2", "M3+")), 3, 3),
        (q.Filters(regions=("广东",), products=("消费贷",)), 2, 2),
        (q.Filters(date_to=date(2026, 5, 10)), 3, 2),  # date_to is inclusive
        (q.Filters(regions=("火星",)), 0, None),
    ],
)
def test_filters_change_the_numbers(store, filters, n, negative) -> None:
    cur = q.kpis(store, filters)["current"]
    assert cur["n"] == n
    assert (cur["negative_share"] * n if n else None) == (pytest.approx(negative) if n else None)


def test_kpis_count_calls_in_the_period(store) -> None:
    ingest_calls_bytes(store, CALL, "c.jsonl")
    assert q.kpis(store, MAY)["current"]["calls"] == 1
    assert q.kpis(store, q.Filters(date_from=date(2026, 6, 1)))["current"]["calls"] == 0


# --------------------------------------------------------------------------- charts
def test_sentiment_by_tactic(store) -> None:
    got = q.sentiment_by_tactic(store, q.Filters())
    assert {(r.tactic, r.polarity): r.n for r in got.itertuples()} == {
        ("agent_attitude", "positive"): 2,
        ("repayment_plan", "positive"): 1,
        ("third_party_contact", "negative"): 1,
        ("contact_frequency", "negative"): 2,
        ("threat_intimidation", "negative"): 1,
    }
    june = q.sentiment_by_tactic(store, q.Filters(date_from=date(2026, 6, 1)))
    assert {(r.tactic, r.polarity): r.n for r in june.itertuples()} == {
        ("agent_attitude", "positive"): 1,
        ("contact_frequency", "negative"): 1,
    }


def test_trend_by_month(store) -> None:
    got = q.trend(store, q.Filters())
    assert [pd.Timestamp(p) for p in got["period"]] == [
        pd.Timestamp("2026-04-01"),
        pd.Timestamp("2026-05-01"),
        pd.Timestamp("2026-06-01"),
    ]
    assert got["n"].tolist() == [1, 3, 2]
    assert got["negative_share"].tolist() == pytest.approx([0, 2 / 3, 1 / 2])
    assert got["complaint_rate"].tolist() == pytest.approx([0, 2 / 3, 0])
    weekly = q.trend(store, q.Filters(), freq="week")
    assert weekly["n"].sum() == 6 and len(weekly) == 6


def test_breakdown_by_region_and_unknown_dimension(store) -> None:
    got = q.breakdown(store, q.Filters(), "region")
    assert {(r.value, r.sentiment): r.n for r in got.itertuples()} == {
        ("广东", "positive"): 1,
        ("广东", "negative"): 2,
        ("北京", "negative"): 1,
        ("北京", "neutral"): 1,
        ("上海", "positive"): 1,
    }
    with pytest.raises(ValueError, match="unknown dimension"):
        q.breakdown(store, q.Filters(), "text; DROP TABLE responses")


def test_emotions_and_csat_by_tactic(store) -> None:
    emotions = q.emotions_by_tactic(store, q.Filters())
    assert {(r.tactic, r.emotion): r.n for r in emotions.itertuples()} == {
        ("agent_attitude", "gratitude"): 1,
        ("repayment_plan", "gratitude"): 1,
        ("third_party_contact", "anger"): 1,
        ("contact_frequency", "anger"): 2,
        ("threat_intimidation", "fear"): 1,
    }
    csat = q.csat_by_tactic(store, q.Filters())
    freq = csat[csat.tactic == "contact_frequency"].iloc[0]
    assert (freq.csat, freq.n) == (pytest.approx(2.0), 2)  # r1 (1) and r5 (3)
    attitude = csat[csat.tactic == "agent_attitude"].iloc[0]
    assert (attitude.csat, attitude.n) == (pytest.approx(5.0), 1)  # r4 has no CSAT


# --------------------------------------------------------------------------- drill-down
def test_records_behind_chart_elements(store) -> None:
    f = q.Filters()
    assert ids(q.records(store, f)) == ["r5", "r4", "r3", "r2", "r1", "r0"]  # newest first
    assert ids(q.records(store, f, tactic="contact_frequency")) == ["r5", "r1"]
    assert ids(q.records(store, f, tactic="agent_attitude", polarity="negative")) == []
    assert ids(q.records(store, f, sentiment="negative", complaint_only=True)) == ["r2", "r1"]
    assert ids(q.records(store, f, period=date(2026, 5, 1))) == ["r3", "r2", "r1"]
    assert ids(q.records(store, f, dim="region", value="北京")) == ["r3", "r1"]
    assert ids(q.records(store, f, search="家人")) == ["r1"]
    assert ids(q.records(store, f, limit=2)) == ["r5", "r4"]
    assert ids(q.records(store, q.Filters(regions=("广东",)), sentiment="negative")) == ["r5", "r2"]


def test_filter_options_and_batches(store) -> None:
    opts = q.filter_options(store)
    assert opts["product"] == ["信用卡", "消费贷"]
    assert sorted(opts["region"]) == sorted(["上海", "北京", "广东"])
    assert opts["date_range"] == [pd.Timestamp("2026-04-10"), pd.Timestamp("2026-06-15")]
    batch_id = store.scalar("SELECT batch_id FROM batches")
    assert opts["batches"] == [f"{batch_id}|hand.csv"]
    assert q.kpis(store, q.Filters(batches=(batch_id,)))["current"]["n"] == 6
    assert q.kpis(store, q.Filters(batches=("other",)))["current"]["n"] == 0
    assert q.list_batches(store)["row_count"].tolist() == [6]


# --------------------------------------------------------------------------- reviews
def test_a_review_overrides_the_model_only_when_reviews_are_used(store) -> None:
    review(store, "r3", sentiment="negative")
    with_reviews = q.Filters(use_reviews=True)
    model_only = q.Filters(use_reviews=False)

    sql, params = q.responses_sql(with_reviews)
    got = store.query(sql, params).set_index("response_id")
    assert got.loc["r3", "sentiment"] == "negative"
    assert got.loc["r3", "model_sentiment"] == "neutral"
    assert got.loc["r3", "review_status"] == "relabel"
    sql, params = q.responses_sql(model_only)
    assert store.query(sql, params).set_index("response_id").loc["r3", "sentiment"] == "neutral"

    assert q.kpis(store, with_reviews)["current"]["negative_share"] == pytest.approx(4 / 6)
    assert q.kpis(store, model_only)["current"]["negative_share"] == pytest.approx(3 / 6)
    assert ids(q.records(store, with_reviews, sentiment="negative")) == ["r5", "r3", "r2", "r1"]
    assert ids(q.records(store, model_only, sentiment="negative")) == ["r5", "r2", "r1"]


def test_the_latest_review_wins_and_false_positives_clear_complaints(store) -> None:
    review(store, "r1", sentiment="positive", minutes=0)
    review(store, "r1", sentiment="neutral", minutes=5)
    review(store, "r2", action="false_positive", minutes=1)
    sql, params = q.responses_sql(q.Filters())
    got = store.query(sql, params).set_index("response_id")
    assert got.loc["r1", "sentiment"] == "neutral"
    assert not got.loc["r2", "complaint"] and got.loc["r2", "model_complaint"]
    assert q.kpis(store, q.Filters())["current"]["complaint_rate"] == pytest.approx(1 / 6)
    assert q.kpis(store, q.Filters(use_reviews=False))["current"]["complaint_rate"] == (
        pytest.approx(2 / 6)
    )


# --------------------------------------------------------------------------- lexicon-scored
def test_queries_agree_with_rows_scored_by_the_lexicon(tmp_store) -> None:
    raw = (
        "回答内容,提交日期,产品,地区\n"
        "催收员态度很好，帮我申请了分期，谢谢,2026-05-01,信用卡,广东\n"
        "天天打电话骚扰我家人，太过分了,2026-05-02,消费贷,北京\n"
        "威胁说要起诉我，还要上门，很害怕,2026-05-03,消费贷,广东\n"
    ).encode()
    result = ingest_survey_bytes(tmp_store, raw, "f.csv")
    assert result.model_id == "lexicon"
    stored = tmp_store.query(
        "SELECT s.sentiment, s.complaint, r.product FROM responses r "
        "JOIN scores s ON s.target_id = r.response_id"
    )
    k = q.kpis(tmp_store, q.Filters())["current"]
    assert k["n"] == 3
    assert k["negative_share"] == pytest.approx((stored.sentiment == "negative").mean())
    assert k["complaint_rate"] == pytest.approx(stored.complaint.mean())
    assert q.kpis(tmp_store, q.Filters(products=("消费贷",)))["current"]["n"] == 2
    tactics = q.sentiment_by_tactic(tmp_store, q.Filters())
    assert tactics["n"].sum() == tmp_store.scalar("SELECT count(*) FROM aspects")


# --------------------------------------------------------------------------- paging
def _store_complaints(store, n: int) -> None:
    """``n`` more stored answers on 2026-07-01.., every third one not a complaint."""
    day = pd.Timestamp("2026-07-01")
    responses = pd.DataFrame(
        {
            "response_id": [f"p{i:03d}" for i in range(n)],
            "respondent_id": None,
            "submitted_at": [day + pd.Timedelta(hours=i) for i in range(n)],
            "product": "信用卡",
            "region": "广东",
            "channel": "电话",
            "overdue_bucket": "M1",
            "csat": pd.array([None] * n, dtype="Int64"),
            "nps": pd.array([None] * n, dtype="Int64"),
            "text": [f"第{i}次被骚扰，我要投诉" for i in range(n)],
        }
    )
    scored = pd.DataFrame(
        {
            "sentiment": "negative",
            "sentiment_score": -0.8,
            "confidence": 0.9,
            "complaint": [i % 3 != 0 for i in range(n)],
            "aspects": [{"contact_frequency": "negative"}] * n,
            "requests": [[]] * n,
            "emotions": [["anger"]] * n,
            "complaint_reasons": [["harassment"]] * n,
            "model": "hand-made",
        }
    )
    store_survey_batch(store, responses, scored, file_name="many.csv", sha="many", uploaded_by="t")


def test_complaint_page_total_is_the_database_count_beyond_the_page_size(store) -> None:
    _store_complaints(store, 200)
    in_db = store.scalar("SELECT count(*) FROM scores WHERE target_kind = 'response' AND complaint")
    assert in_db == 2 + 133 > q.PAGE_SIZE
    first = q.complaint_page(store, q.Filters())
    assert (first.total, len(first.rows), first.offset, first.limit) == (in_db, 50, 0, 50)
    assert (first.first, first.last, first.number, first.pages) == (1, 50, 1, 3)
    last = q.complaint_page(store, q.Filters(), offset=100)
    assert (last.first, last.last, last.number, len(last.rows)) == (101, 135, 3, 35)
    pages = [q.complaint_page(store, q.Filters(), offset=o).rows for o in (0, 50, 100)]
    shown = pd.concat(pages)["response_id"]
    assert shown.is_unique and len(shown) == in_db  # every complaint once, in a stable order
    assert shown.tolist() == ids(q.complaint_queue(store, q.Filters(), limit=1000))
    beyond = q.complaint_page(store, q.Filters(), offset=5000)  # e.g. after a filter change
    assert beyond.offset == 100 and ids(beyond.rows) == ids(last.rows)
    narrowed = q.complaint_page(store, q.Filters(), search="第1")  # 1, 10-19, 100-199
    assert narrowed.total == len(q.complaint_queue(store, q.Filters(), search="第1", limit=1000))
    assert narrowed.total > q.PAGE_SIZE
    assert q.complaint_page(store, q.Filters(), tactic="home_visit").total == 0


def test_records_page_counts_every_record_behind_a_chart_element(store) -> None:
    _store_complaints(store, 120)
    f = q.Filters()
    page = q.records_page(store, f, tactic="contact_frequency", limit=20)
    in_db = store.scalar(
        "SELECT count(DISTINCT target_id) FROM aspects WHERE tactic = 'contact_frequency'"
    )
    assert page.total == in_db == 122 and len(page.rows) == 20
    assert ids(page.rows) == ids(q.records(store, f, tactic="contact_frequency", limit=20))
    assert q.records_page(store, f, complaint_only=True).total == 2 + 80
    empty = q.records_page(store, f, search="没有这句话")
    assert (empty.total, empty.first, empty.last, empty.pages, empty.offset) == (0, 0, 0, 1, 0)


def _store_calls(store, n: int, bad_every: int) -> None:
    """``n`` calls on 2026-05-0x; every ``bad_every``-th one, the oldest first, has a violation."""
    with store.transaction() as cur:
        for i in range(n):
            started = pd.Timestamp("2026-05-01T00:00:00+08:00") + pd.Timedelta(minutes=i)
            cur.execute(
                "INSERT INTO calls (call_id, batch_id, agent_id, team, started_at) "
                "VALUES (?, 'b-calls', ?, 'M1组', ?)",
                [f"c{i:03d}", f"A{i % 2}", started],
            )
            bad = ["excessive_frequency"] if i % bad_every == 0 else []
            cur.execute(
                "INSERT INTO call_analysis (call_id, batch_id, violations, evidence) "
                "VALUES (?, 'b-calls', ?, '[]')",
                [f"c{i:03d}", bad],
            )


def test_calls_are_filtered_to_violations_in_sql_before_the_page_is_cut(store) -> None:
    _store_calls(store, 90, bad_every=30)  # c000, c030, c060: the three oldest-ish calls
    f = q.Filters()
    newest_ten = q.calls_table(store, f, limit=10)
    assert (newest_ten["n_violations"] > 0).sum() == 0  # a filter after the LIMIT finds none
    bad = q.calls_table(store, f, limit=10, violations_only=True)
    assert bad["call_id"].tolist() == ["c060", "c030", "c000"]
    page = q.calls_page(store, f, violations_only=True)
    assert page.total == 3 and page.rows["call_id"].tolist() == ["c060", "c030", "c000"]
    everything = q.calls_page(store, f)
    assert everything.total == store.scalar("SELECT count(*) FROM calls") == 90
    assert len(everything.rows) == q.PAGE_SIZE
    assert q.calls_page(store, f, agent="A0").total == 45
    assert q.calls_page(store, f, agent="A1", violations_only=True).total == 0  # even ids only


def test_audit_page_counts_every_entry(store) -> None:
    from data import access
    from data.auth import Actor

    for i in range(120):
        store.audit("qa-1", "export", f"表{i}", {"rows": i})
    admin = Actor("admin", "admin")
    in_db = store.scalar("SELECT count(*) FROM audit_log")
    page = access.audit_page(store, admin)
    assert page.total == in_db > 120 and len(page.rows) == q.PAGE_SIZE
    assert page.rows["ts"].is_monotonic_decreasing
    exports = access.audit_page(store, admin, actions=("export",), offset=100)
    assert exports.total == 120 and len(exports.rows) == 20
    with pytest.raises(PermissionError):
        access.audit_page(store, Actor("m", "manager"))


# --------------------------------------------------------------------------- rates with their base
def _store_staged_calls(store, rows) -> None:
    """Calls from (stage, violations, promise_to_pay, how many) rows, on 2026-05-01."""
    with store.transaction() as cur:
        i = 0
        for stage, violations, promise, count in rows:
            for _ in range(count):
                started = pd.Timestamp("2026-05-01T10:00:00+08:00") + pd.Timedelta(minutes=i)
                cur.execute(
                    "INSERT INTO calls (call_id, batch_id, agent_id, started_at, overdue_bucket) "
                    "VALUES (?, 'b-st', 'A1', ?, ?)",
                    [f"s{i:03d}", started, stage],
                )
                cur.execute(
                    "INSERT INTO call_analysis (call_id, batch_id, violations, evidence, "
                    "agent_offered_plan, promise_to_pay) VALUES (?, 'b-st', ?, '[]', ?, ?)",
                    [f"s{i:03d}", violations, promise, promise],
                )
                i += 1


# a threat used mostly in M1, where borrowers promise more: it looks better overall than clean
# calls, and is worse within each stage
STAGED = [
    ("M1", ["threat"], True, 27),
    ("M1", ["threat"], False, 9),
    ("M1", [], True, 8),
    ("M1", [], False, 0),
    ("M3+", ["threat"], False, 4),
    ("M3+", [], True, 12),
    ("M3+", [], False, 28),
    (None, [], None, 2),  # no stage, no known outcome
]


def test_rate_queries_return_the_counts_behind_each_rate(store) -> None:
    _store_staged_calls(store, STAGED)
    viol = q.violation_outcomes(store, q.Filters()).set_index("rule")
    assert viol.loc["threat", ["calls", "promises", "ptp_n"]].tolist() == [40, 27, 40]
    assert viol.loc[q.NO_VIOLATION, ["calls", "promises", "ptp_n"]].tolist() == [50, 20, 48]
    assert viol.loc["threat", "promise_rate"] == pytest.approx(27 / 40)
    assert viol.loc[q.NO_VIOLATION, "promise_rate"] == pytest.approx(20 / 48)  # n = known outcomes
    plans = q.plan_outcomes(store, q.Filters()).set_index("agent_offered_plan")
    assert plans.loc[True, ["promises", "ptp_n"]].tolist() == [47, 47]
    assert plans.loc[False, ["promises", "ptp_n"]].tolist() == [0, 41]
    trend = q.trend(store, q.Filters())
    assert (trend["negatives"] == trend["negative_share"] * trend["n"]).all()
    assert (trend["complaints"] == trend["complaint_rate"] * trend["n"]).all()
    assert trend["negatives"].tolist() == [0, 2, 1] and trend["complaints"].tolist() == [0, 2, 0]


def test_violation_outcomes_by_stage_compare_like_with_like(store) -> None:
    _store_staged_calls(store, STAGED)
    got = q.violation_outcomes(store, q.Filters(), by_stage=True)
    rate = {(r.rule, r.stage): r.promise_rate for r in got.itertuples()}
    n = {(r.rule, r.stage): r.ptp_n for r in got.itertuples()}
    assert rate[("threat", "M1")] == pytest.approx(27 / 36)
    assert rate[(q.NO_VIOLATION, "M1")] == 1.0 and n[(q.NO_VIOLATION, "M1")] == 8
    assert rate[("threat", "M3+")] == 0.0 and rate[(q.NO_VIOLATION, "M3+")] == pytest.approx(0.3)
    assert ("threat", "M3+") in n and (q.NO_VIOLATION, "未填写") in n  # missing stage kept
    # within each stage the threat does worse, although overall it does better
    for stage in ("M1", "M3+"):
        assert rate[("threat", stage)] < rate[(q.NO_VIOLATION, stage)]
    overall = q.violation_outcomes(store, q.Filters()).set_index("rule")["promise_rate"]
    assert overall["threat"] > overall[q.NO_VIOLATION]
    mix = got.groupby("stage")["stage_calls"].first().to_dict()
    assert mix == {"M1": 44, "M3+": 44, "未填写": 2}
    assert got[got["stage"] == "M1"]["calls"].sum() == 44  # one violation per call here
