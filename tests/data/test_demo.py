"""Tests for the demo dataset: shape, determinism, text quality and the planted relationships.

The relationships are checked on the generated data itself: on the text and metadata a manager
would see, and on the generation ground truth (``DemoData.truth`` / ``DemoData.call_truth``).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import date, timedelta

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from data import demo
from data.demo import DemoData, generate_demo, harsh_campaign_month
from nlp.labels import EMOTIONS, REQUESTS, TACTICS, VIOLATION_RULES

PLAN_IN_AGENT_TURN = re.compile(r"(?<!信用卡)分期|延期|减免|停催|协商|还款计划")  # not the product
HARSH_AGENT_WORDS = re.compile(r"老赖|坐牢|法院|律师")
THIRD_PARTY_OR_THREAT = re.compile(r"通讯录|家族群|单位|坐牢|威胁|法院|律师")
PLAN_WORDS = re.compile(r"分期|延期|减免|停催|协商")
_UNTRADITIONAL = {ord(t): chr(s) for s, t in demo.TRADITIONAL.items()}


def normalise(text: str) -> str:
    """Undo the planted noise (Traditional characters, typos, pinyin shorthand)."""
    text = text.translate(_UNTRADITIONAL)
    for correct, typed in demo.TYPOS:
        text = text.replace(typed, correct)
    for word, short in demo.SHORTHAND:
        text = text.replace(short, word)
    return text


def negative_share(sentiments: pd.Series) -> float:
    return float((sentiments == "negative").mean())


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate_demo()


@pytest.fixture(scope="module")
def surveys(data: DemoData) -> pd.DataFrame:
    """Surveys joined with their generation ground truth."""
    return data.surveys.merge(data.truth, on="response_id", validate="one_to_one")


@pytest.fixture(scope="module")
def calls(data: DemoData) -> pd.DataFrame:
    """Calls joined with their generation ground truth."""
    return data.calls.merge(data.call_truth, on="call_id", validate="one_to_one")


@pytest.fixture(scope="module")
def agent_turns(data: DemoData) -> pd.DataFrame:
    turns = data.turns[data.turns["speaker"] == "agent"]
    return turns.merge(data.calls[["call_id", "agent_id"]], on="call_id")


def _has_tactic(frame: pd.DataFrame, tactic: str) -> pd.Series:
    return frame["tactics"].map(lambda tactics: tactic in tactics)


# --- determinism, speed, shape ---------------------------------------------------------------


def test_same_seed_gives_identical_frames(data: DemoData) -> None:
    again = generate_demo()
    for name in ("surveys", "calls", "turns", "truth", "call_truth"):
        assert_frame_equal(getattr(data, name), getattr(again, name))


def test_other_seed_gives_other_data(data: DemoData) -> None:
    other = generate_demo(seed=7)
    assert (other.surveys["text"] != data.surveys["text"]).mean() > 0.9
    assert not other.turns["text"].equals(data.turns["text"])


def test_defaults_generate_in_under_three_seconds() -> None:
    start = time.perf_counter()
    generate_demo(seed=3)
    assert time.perf_counter() - start < 3.0


def test_frames_have_exactly_the_documented_columns(data: DemoData) -> None:
    assert tuple(data.surveys.columns) == demo.SURVEY_COLUMNS == (
        "response_id", "respondent_id", "submitted_at", "product", "region", "overdue_bucket",
        "channel", "csat", "nps", "text",
    )  # fmt: skip
    assert tuple(data.calls.columns) == demo.CALL_COLUMNS == (
        "call_id", "borrower_id", "agent_id", "agent_name", "team", "started_at", "duration_s",
        "outcome", "product", "overdue_bucket",
    )  # fmt: skip
    assert tuple(data.turns.columns) == demo.TURN_COLUMNS == (
        "call_id", "turn_index", "speaker", "text", "start_s", "end_s",
    )  # fmt: skip
    assert not data.surveys.columns.str.startswith("_").any()


def test_survey_dtypes(data: DemoData) -> None:
    s = data.surveys
    for column in ("response_id", "respondent_id", "product", "region", "overdue_bucket",
                   "channel", "text"):  # fmt: skip
        assert pd.api.types.is_string_dtype(s[column]), column
        assert s[column].notna().all(), column
    assert s["submitted_at"].dtype == "datetime64[ns]"  # naive
    assert (s["submitted_at"] == s["submitted_at"].dt.normalize()).all()  # midnight
    assert s["csat"].dtype == "Int64" and s["nps"].dtype == "Int64"
    assert s["csat"].dropna().between(1, 5).all()
    assert s["nps"].dropna().between(0, 10).all()
    assert 0.75 <= s["csat"].notna().mean() <= 0.85
    assert 0.55 <= s["nps"].notna().mean() <= 0.65


def test_call_and_turn_dtypes(data: DemoData) -> None:
    calls, turns = data.calls, data.turns
    assert isinstance(calls["started_at"].dtype, pd.DatetimeTZDtype)
    assert str(calls["started_at"].dt.tz) == "Asia/Shanghai"
    assert calls["duration_s"].dtype == "int64"
    for column in ("call_id", "borrower_id", "agent_id", "agent_name", "team", "outcome",
                   "product", "overdue_bucket"):  # fmt: skip
        assert pd.api.types.is_string_dtype(calls[column]), column
    assert turns["turn_index"].dtype == "int64"
    assert turns["start_s"].dtype == "float64" and turns["end_s"].dtype == "float64"
    assert pd.api.types.is_string_dtype(turns["text"])
    assert (turns["end_s"] > turns["start_s"]).all()
    assert (turns["text"].str.strip() != "").all()


def test_ids_are_well_formed_and_unique(data: DemoData) -> None:
    s, c = data.surveys, data.calls
    assert s["response_id"].str.fullmatch(r"demo-s-\d{5}").all() and s["response_id"].is_unique
    assert s["response_id"].iloc[0] == "demo-s-00001"
    assert c["call_id"].str.fullmatch(r"demo-c-\d{4}").all() and c["call_id"].is_unique
    assert c["call_id"].iloc[0] == "demo-c-0001"
    assert set(data.turns["call_id"]) == set(c["call_id"])
    assert s["respondent_id"].is_unique


def test_sizes_and_coverage(data: DemoData) -> None:
    s, c = data.surveys, data.calls
    assert len(s) >= 3000 and len(c) >= 300
    today = pd.Timestamp(demo.DEFAULT_TODAY)
    assert s["submitted_at"].min() >= today - timedelta(days=365)
    assert s["submitted_at"].max() < today
    assert s["submitted_at"].dt.to_period("M").nunique() >= 12
    assert set(s["product"]) == set(c["product"]) == {"个人消费贷", "信用卡分期", "企业经营贷"}
    assert set(s["overdue_bucket"]) == set(c["overdue_bucket"]) == {"M1", "M2", "M3+"}
    assert set(s["channel"]) == {"电话", "短信", "上门", "APP/微信"}
    assert set(s["region"]) == set(demo.REGIONS) and len(demo.REGIONS) >= 10
    assert set(c["outcome"]) == set(demo.OUTCOMES)
    local = c["started_at"].dt.tz_localize(None)
    assert local.min() >= today - timedelta(days=365) and local.max() < today


def test_agents_and_teams(data: DemoData) -> None:
    c = data.calls
    assert c["agent_id"].nunique() >= 20
    assert set(c["agent_id"]) <= {f"A{i:02d}" for i in range(1, 25)}
    per_agent = c.groupby("agent_id")[["agent_name", "team"]].nunique()
    assert (per_agent == 1).all().all()  # one name and one team per agent
    assert c["agent_name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()
    assert set(c["team"]) == set(demo.TEAMS) and len(demo.TEAMS) >= 4


def test_transcripts_have_8_to_30_contiguous_turns(data: DemoData) -> None:
    turns, calls = data.turns, data.calls.set_index("call_id")
    sizes = turns.groupby("call_id").size()
    assert sizes.between(8, 30).all()
    for call_id, group in turns.groupby("call_id"):
        assert list(group["turn_index"]) == list(range(len(group))), call_id
        assert group["start_s"].is_monotonic_increasing, call_id
        assert calls.loc[call_id, "duration_s"] >= group["end_s"].max(), call_id
    assert set(turns["speaker"]) == {"agent", "borrower"}
    first = turns[turns["turn_index"] == 0]["speaker"]
    assert (first == "agent").mean() >= 0.8


def test_custom_today_and_sizes() -> None:
    small = generate_demo(seed=5, n_surveys=200, n_calls=40, today=date(2025, 3, 1))
    assert len(small.surveys) == 200 and len(small.calls) == 40
    assert small.surveys["submitted_at"].max() < pd.Timestamp("2025-03-01")
    assert small.surveys["submitted_at"].min() >= pd.Timestamp("2024-03-01")
    assert small.turns.groupby("call_id").size().between(8, 30).all()
    assert harsh_campaign_month(date(2025, 3, 1)) == pd.Period("2024-10", freq="M")
    assert harsh_campaign_month() == pd.Period("2026-06", freq="M")


@pytest.mark.parametrize("sizes", [(0, 10), (10, 0)])
def test_non_positive_sizes_are_rejected(sizes: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        generate_demo(n_surveys=sizes[0], n_calls=sizes[1])


def test_truth_uses_the_shared_label_ids(surveys: pd.DataFrame, calls: pd.DataFrame) -> None:
    assert set(surveys["sentiment"]) == {"negative", "neutral", "positive"}
    assert set().union(*surveys["tactics"]) == set(TACTICS)
    assert set().union(*surveys["emotions"]) == set(EMOTIONS)
    assert set().union(*surveys["requests"]) == set(REQUESTS)
    assert set().union(*calls["violations"]) == set(VIOLATION_RULES)
    assert (surveys["tactics"].map(len) == surveys["polarities"].map(len)).all()


# --- text quality ----------------------------------------------------------------------------


def test_no_unfilled_placeholders(data: DemoData) -> None:
    for texts in (data.surveys["text"], data.turns["text"]):
        assert not texts.str.contains(r"[{}]").any()


def test_survey_texts_are_varied(data: DemoData) -> None:
    texts = data.surveys["text"]
    assert texts.nunique() >= 2500
    lengths = texts.str.len()
    assert (lengths <= 6).mean() >= 0.03  # short answers: 还行, 烦死了 …
    assert (lengths >= 60).mean() >= 0.15  # long stories
    assert texts.value_counts().iloc[0] <= 40  # no template dominates
    assert data.turns["text"].nunique() >= 1500


def test_every_fragment_bank_is_well_stocked() -> None:
    assert set(demo.EXPERIENCES) == set(TACTICS) == set(demo.TACTIC_KEYWORDS)
    for tactic, by_polarity in demo.EXPERIENCES.items():
        assert set(by_polarity) == {-1, 0, 1}, tactic
        assert all(len(fragments) >= 4 for fragments in by_polarity.values()), tactic


def test_traditional_characters_in_about_four_percent(surveys: pd.DataFrame) -> None:
    traditional = surveys["text"].map(lambda t: bool(demo.TRADITIONAL_ONLY_CHARS & set(t)))
    assert 0.02 <= traditional.mean() <= 0.07
    assert not (traditional & ~surveys["traditional"]).any()  # only where planted


def test_typos_shorthand_and_emoji_present(data: DemoData) -> None:
    texts = data.surveys["text"]
    for noise in ("利西", "预期", "cs", "zx"):
        assert texts.str.contains(noise).sum() >= 10, noise
    emoji = texts.str.contains(r"[\U0001F300-\U0001FAFF]")
    assert 0.05 <= emoji.mean() <= 0.35


def test_some_transcripts_read_like_asr(data: DemoData, calls: pd.DataFrame) -> None:
    turns = data.turns.merge(calls[["call_id", "asr"]], on="call_id")
    asr = turns[turns["asr"]]
    assert 0.15 <= calls["asr"].mean() <= 0.45
    assert not asr["text"].str.contains(r"[，。？！]").any()
    assert asr["text"].str.contains(r"(?:^|\s)(?:嗯|啊|那个|就是|呃)(?:\s|$)").mean() >= 0.3


def test_every_tactic_appears_with_every_polarity(surveys: pd.DataFrame) -> None:
    pairs = Counter(
        (tactic, polarity)
        for tactics, polarities in zip(surveys["tactics"], surveys["polarities"], strict=True)
        for tactic, polarity in zip(tactics, polarities, strict=True)
    )
    for tactic in TACTICS:
        for polarity in (-1, 0, 1):
            assert pairs[(tactic, polarity)] >= 10, (tactic, polarity)


def test_texts_mention_their_tactic_keywords(surveys: pd.DataFrame) -> None:
    clean = surveys["text"].map(normalise)
    for tactic, keywords in demo.TACTIC_KEYWORDS.items():
        mentions = clean.map(lambda t, kw=keywords: any(k in t for k in kw))
        has = _has_tactic(surveys, tactic)
        assert mentions[has].mean() >= 0.97, tactic
        assert mentions.sum() >= 50, tactic


def test_agents_mostly_exemplary(calls: pd.DataFrame, agent_turns: pd.DataFrame) -> None:
    first = agent_turns.groupby("call_id")["text"].first()
    identifies = first.str.contains(demo.ORGANISATION) & first.str.contains(r"工号|我是|我姓")
    anonymous = calls.set_index("call_id")["violations"].map(
        lambda v: "no_identity_disclosure" in v
    )
    assert (identifies == ~anonymous.loc[identifies.index]).all()  # 自报家门 unless a violation
    clean = calls["violations"].map(len) == 0
    assert clean.mean() >= 0.6
    clean_calls = calls.loc[clean & (calls["outcome"] != "wrong_party"), "call_id"]
    lawful = agent_turns.groupby("call_id")["text"].apply(
        lambda t: t.str.contains("征信|罚息|法律途径").any()
    )
    assert lawful.loc[clean_calls].mean() >= 0.9


# --- planted relationships -------------------------------------------------------------------


def test_third_party_and_threat_responses_are_more_negative_than_plans(
    surveys: pd.DataFrame,
) -> None:
    harsh = _has_tactic(surveys, "third_party_contact") | _has_tactic(
        surveys, "threat_intimidation"
    )
    plan = _has_tactic(surveys, "repayment_plan") & ~harsh
    assert negative_share(surveys["sentiment"][harsh]) >= 0.65
    assert negative_share(surveys["sentiment"][plan]) <= 0.4
    assert surveys["csat"][plan].mean() - surveys["csat"][harsh].mean() >= 0.7
    # The same on the visible text alone, as a keyword filter in the dashboard would see it.
    by_words = surveys["text"].map(normalise)
    harsh_words = by_words.str.contains(THIRD_PARTY_OR_THREAT)
    plan_words = by_words.str.contains(PLAN_WORDS) & ~harsh_words
    assert surveys["csat"][plan_words].mean() - surveys["csat"][harsh_words].mean() >= 0.6


def test_plan_offers_lead_to_promises(calls: pd.DataFrame, agent_turns: pd.DataFrame) -> None:
    offered = agent_turns.groupby("call_id")["text"].apply(
        lambda t: t.str.contains(PLAN_IN_AGENT_TURN).any()
    )
    truth = calls.set_index("call_id")
    assert (offered == truth.loc[offered.index, "plan_offered"]).all()
    promise = truth["outcome"] == "promise_to_pay"
    with_plan, without_plan = promise[offered].mean(), promise[~offered].mean()
    assert with_plan >= 0.45 and without_plan <= 0.3
    assert with_plan >= 2 * without_plan


def test_few_agents_account_for_most_violations(
    calls: pd.DataFrame, agent_turns: pd.DataFrame
) -> None:
    violating = calls[calls["violations"].map(len) > 0]
    per_agent = violating["agent_id"].value_counts()
    assert set(per_agent.index[:4]) == set(demo.VIOLATING_AGENTS)
    assert per_agent.iloc[:4].sum() / len(violating) >= 0.75
    # Visible in the transcripts: threats, insults, fake courts and lawyers.
    harsh = agent_turns[agent_turns["text"].str.contains(HARSH_AGENT_WORDS)]
    assert len(harsh) >= 20
    assert harsh["agent_id"].isin(demo.VIOLATING_AGENTS).mean() >= 0.9


def test_off_hours_and_over_frequency_in_the_call_log(calls: pd.DataFrame) -> None:
    hour = calls["started_at"].dt.hour
    off_hours = (hour >= 22) | (hour < 8)
    planted = calls["violations"].map(lambda v: "off_hours" in v)
    assert (off_hours == planted).all()
    assert off_hours.sum() >= 8
    assert calls.loc[off_hours, "agent_id"].isin(demo.VIOLATING_AGENTS).mean() >= 0.6
    per_day = calls.groupby(["borrower_id", calls["started_at"].dt.date])
    counts = per_day["agent_id"].agg(["size", "first", "nunique"])
    heavy = counts[counts["size"] >= 4]
    assert len(heavy) >= 2
    assert heavy["first"].isin(demo.VIOLATING_AGENTS).all() and (heavy["nunique"] == 1).all()


def test_harsh_campaign_month_stands_out(surveys: pd.DataFrame, calls: pd.DataFrame) -> None:
    campaign = harsh_campaign_month()
    in_month = surveys["submitted_at"].dt.to_period("M") == campaign
    assert negative_share(surveys["sentiment"][in_month]) >= (
        negative_share(surveys["sentiment"][~in_month]) + 0.15
    )
    assert surveys["csat"][in_month].mean() <= surveys["csat"][~in_month].mean() - 0.3
    harsh_words = surveys["text"].map(normalise).str.contains(THIRD_PARTY_OR_THREAT)
    assert harsh_words[in_month].mean() >= 1.5 * harsh_words[~in_month].mean()
    per_month = calls["started_at"].dt.tz_localize(None).dt.to_period("M").value_counts()
    assert per_month[campaign] >= 1.8 * per_month.drop(campaign).median()
    assert per_month.idxmax() == campaign


def test_csat_follows_positivity_and_late_buckets_are_harsher(surveys: pd.DataFrame) -> None:
    by_sentiment = surveys.groupby("sentiment")["csat"].mean()
    assert by_sentiment["negative"] + 1 <= by_sentiment["neutral"]
    assert by_sentiment["neutral"] + 0.8 <= by_sentiment["positive"]
    rated = surveys[["positivity", "csat", "nps"]].dropna().astype(float)
    assert rated["positivity"].corr(rated["csat"], method="spearman") >= 0.6
    assert rated["positivity"].corr(rated["nps"], method="spearman") >= 0.5
    by_bucket = surveys.groupby("overdue_bucket")["sentiment"].apply(negative_share)
    assert by_bucket["M3+"] >= by_bucket["M1"] + 0.1
    csat_by_bucket = surveys.groupby("overdue_bucket")["csat"].mean()
    assert csat_by_bucket["M3+"] < csat_by_bucket["M1"]


@pytest.mark.parametrize("seed", [1, 42])
def test_relationships_hold_for_other_seeds(seed: int) -> None:
    other = generate_demo(seed=seed)
    s = other.surveys.merge(other.truth, on="response_id")
    c = other.calls.merge(other.call_truth, on="call_id")
    harsh = _has_tactic(s, "third_party_contact") | _has_tactic(s, "threat_intimidation")
    plan = _has_tactic(s, "repayment_plan") & ~harsh
    assert negative_share(s["sentiment"][harsh]) >= negative_share(s["sentiment"][plan]) + 0.3
    promise = c["outcome"] == "promise_to_pay"
    assert promise[c["plan_offered"]].mean() >= 2 * promise[~c["plan_offered"]].mean()
    violating = c[c["violations"].map(len) > 0]["agent_id"].value_counts()
    assert set(violating.index[:4]) == set(demo.VIOLATING_AGENTS)
    in_month = s["submitted_at"].dt.to_period("M") == harsh_campaign_month()
    assert negative_share(s["sentiment"][in_month]) >= negative_share(s["sentiment"][~in_month])
