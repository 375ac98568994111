"""Model versions: the registry, the gate, promotion, rollback and the all-or-nothing re-score.

Data-layer tests score with the lexicon (tests/conftest.py), so the configured model, the one
a candidate must not fall behind, is ``lexicon``. The builds use the real encoder with a
seeded sample of 400 shipped borrower texts as anchors and a cache in the temp dir.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from data import models, rescore
from data.access import add_review
from data.auth import AccessDenied, Actor
from data.ingest import ingest_survey_bytes
from nlp.adapt.build import anchor_frame
from nlp.adapt.model import save_layers
from nlp.heads import load_heads
from nlp.modelfiles import is_built
from nlp.sentiment import default_model_dir

ADMIN, QA, MANAGER = Actor("boss", "admin"), Actor("qa1", "qa"), Actor("mgr", "manager")
ROTATE = {"negative": "neutral", "neutral": "positive", "positive": "negative"}
needs_model = pytest.mark.skipif(
    not is_built(default_model_dir()), reason="default model not built (make model)"
)


def _ingest(store, texts: list[str], name: str = "s.csv") -> None:
    raw = pd.DataFrame({"text": texts}).to_csv(index=False).encode("utf-8")
    ingest_survey_bytes(store, raw, name, keep_duplicates=True)


def _ids(store) -> list[str]:
    return store.query("SELECT response_id FROM responses ORDER BY response_id")[
        "response_id"
    ].tolist()


def _scores(store) -> pd.DataFrame:
    return store.query(
        "SELECT target_id, model_id, sentiment, complaint, aspects::VARCHAR AS aspects "
        "FROM scores ORDER BY target_id"
    )


@pytest.fixture
def scored_store(tmp_store):
    _ingest(tmp_store, [f"催收员天天打电话骂我第{i}次，我要投诉" for i in range(7)])
    _ingest(tmp_store, [f"客服帮我办了分期，谢谢第{i}次" for i in range(5)], "b.csv")
    return tmp_store


def test_training_rows_take_each_records_latest_answer_per_label(scored_store) -> None:
    first, second = _ids(scored_store)[:2]
    add_review(scored_store, QA, "response", first, "correct", sentiment="neutral")
    add_review(scored_store, QA, "response", first, "correct", sentiment="negative")
    add_review(scored_store, QA, "response", first, "false_positive")
    add_review(
        scored_store,
        QA,
        "response",
        second,
        "correct",
        aspects={"phone_call": "negative"},
        emotions=["anger", "fear"],
    )
    rows = models.training_rows(scored_store).set_index("text")
    texts = scored_store.query(
        "SELECT response_id, text FROM responses WHERE response_id IN (?, ?)", [first, second]
    ).set_index("response_id")["text"]
    one, two = rows.loc[texts[first]], rows.loc[texts[second]]
    assert one["sentiment"] == "negative" and one["complaint"] is False
    assert one["emotions"] is None and one["aspects"] is None
    assert two["emotions"] == ["anger", "fear"] and two["aspects"] == {"phone_call": "negative"}
    assert len(rows) == 2  # unreviewed records are not training rows


def _fake_version(root: Path, store, version_id: str, dev: dict, status="candidate") -> None:
    path = root / version_id
    path.mkdir(parents=True)
    (path / "adapted.json").write_text(json.dumps({"version": version_id}))
    metrics = {"dev": {"candidate": dev, "current": {}, "current_model": "?"}, "gate": []}
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO model_versions VALUES (?, ?, 'default', 'boss', now(), NULL, NULL, ?, ?)",
            [version_id, str(path), json.dumps(metrics), status],
        )


@pytest.fixture
def dev_table(monkeypatch):
    """Dev metrics by model name, instead of scoring the dev set (the slow part)."""
    table = {"lexicon": {"sentiment_macro_f1": 0.70, "complaint_f1": 0.80}}
    monkeypatch.setattr(models, "dev_metrics", lambda model: table[Path(model).name])
    return table


def test_promote_and_rollback_walk_back_through_the_versions(tmp_store, tmp_path, dev_table):
    for v in ("v1", "v2"):
        dev_table[v] = {"sentiment_macro_f1": 0.75, "complaint_f1": 0.81}
        _fake_version(tmp_path, tmp_store, v, dev_table[v])
    assert models.scoring_model(tmp_store) == "lexicon"
    models.promote(tmp_store, ADMIN, "v1")
    models.promote(tmp_store, ADMIN, "v2")
    assert models.current(tmp_store).version_id == "v2"
    assert models.scoring_model(tmp_store) == str(tmp_path / "v2")
    assert models.get(tmp_store, "v1").status == "retired"

    restored = models.rollback(tmp_store, ADMIN)
    assert restored.version_id == "v1" and models.current(tmp_store).version_id == "v1"
    assert models.get(tmp_store, "v2").status == "retired"
    assert models.scoring_model(tmp_store) == str(tmp_path / "v1")
    assert models.rollback(tmp_store, ADMIN) is None  # back to the shipped model
    assert models.scoring_model(tmp_store) == "lexicon"
    with pytest.raises(models.ModelVersionError, match="出厂模型"):
        models.rollback(tmp_store, ADMIN)
    actions = tmp_store.query("SELECT action FROM audit_log WHERE action LIKE 'model_%'")
    assert actions["action"].tolist().count("model_rollback") == 2


def test_the_gate_refuses_a_drop_beyond_the_limit_against_the_version_current_now(
    tmp_store, tmp_path, dev_table
):
    dev_table["good"] = {"sentiment_macro_f1": 0.80, "complaint_f1": 0.80}
    dev_table["worse"] = {"sentiment_macro_f1": 0.775, "complaint_f1": 0.80}  # fine vs lexicon
    for v in ("good", "worse"):
        _fake_version(tmp_path, tmp_store, v, dev_table[v])
    models.promote(tmp_store, ADMIN, "good")
    with pytest.raises(models.ModelVersionError, match=r"情感 Macro-F1 0\.775.*0\.800"):
        models.promote(tmp_store, ADMIN, "worse")  # 0.025 below the version now current
    assert models.current(tmp_store).version_id == "good"
    assert models.gate({"complaint_f1": 0.79}, {"complaint_f1": 0.80}) == []


def test_only_model_roles_build_promote_or_roll_back(tmp_store) -> None:
    for call in (
        lambda: models.build_candidate(tmp_store, MANAGER),
        lambda: models.promote(tmp_store, QA, "v1"),
        lambda: models.rollback(tmp_store, MANAGER),
    ):
        with pytest.raises(AccessDenied):
            call()


def test_rescore_keeps_the_old_scores_until_every_chunk_is_done(scored_store, monkeypatch):
    import nlp.pipeline

    before = _scores(scored_store)
    real = nlp.pipeline.score_texts
    calls = []

    def failing(texts, model=None, progress=None):
        calls.append(len(texts))
        if len(calls) == 2:
            raise RuntimeError("killed half way")
        return real(texts, model, progress)

    monkeypatch.setattr(nlp.pipeline, "score_texts", failing)
    with pytest.raises(RuntimeError):
        rescore.rescore(scored_store, "tfidf", chunk=5)
    pd.testing.assert_frame_equal(_scores(scored_store), before)
    with pytest.raises(rescore.Stopped):
        rescore.rescore(scored_store, "tfidf", should_stop=lambda: True)
    pd.testing.assert_frame_equal(_scores(scored_store), before)

    monkeypatch.setattr(nlp.pipeline, "score_texts", real)
    seen = []
    result = rescore.rescore(scored_store, "tfidf", lambda d, t: seen.append((d, t)), chunk=5)
    after = _scores(scored_store)
    assert result["rows"] == 12 and seen[-1] == (12, 12) and len(seen) == 4
    assert set(after["model_id"]) == {"tfidf"} and set(before["model_id"]) == {"lexicon"}
    assert after["target_id"].tolist() == before["target_id"].tolist()
    assert rescore.stale(scored_store, "tfidf") == 0 and rescore.stale(scored_store, "x") == 12
    aspects = scored_store.scalar("SELECT count(*) FROM aspects WHERE target_kind = 'response'")
    expected = sum(len(json.loads(a)) for a in after["aspects"])
    assert aspects == expected


def test_a_background_rescore_reports_progress_and_finishes(scored_store) -> None:
    job = rescore.start(scored_store, ADMIN, "tfidf")
    for _ in range(600):
        if job.state != "running":
            break
        time.sleep(0.05)
    assert job.state == "done", job.message
    assert job.fraction == 1.0 and rescore.job(scored_store) is job
    assert rescore.stale(scored_store, "tfidf") == 0


def _labelled_reviews(store, n_per_class: int, *, bad: bool) -> None:
    """Store shipped borrower texts as survey answers and review each one: with its own
    labels, or (``bad``) with every sentiment rotated and every complaint inverted."""
    anchors = anchor_frame().dropna(subset=["sentiment"])
    sample = pd.concat(
        [g.sample(n=n_per_class, random_state=3) for _, g in anchors.groupby("sentiment")]
    ).reset_index(drop=True)
    _ingest(store, sample["text"].tolist(), "reviewed.csv")
    stored = store.query("SELECT response_id, text FROM responses")
    by_text = dict(zip(stored["text"], stored["response_id"], strict=True))
    for rec in sample.to_dict("records"):
        sentiment, complaint = rec["sentiment"], bool(rec["complaint"])
        if bad:
            sentiment, complaint = ROTATE[sentiment], not complaint
        add_review(
            store,
            QA,
            "response",
            by_text[rec["text"]],
            "correct",
            sentiment=sentiment,
            complaint=complaint,
        )


@needs_model
def test_a_label_shuffled_candidate_is_refused_by_the_gate(tmp_store, tmp_path) -> None:
    _labelled_reviews(tmp_store, 50, bad=True)
    version = models.build_candidate(
        tmp_store, ADMIN, root=tmp_path / "versions", anchors=400, cache=tmp_path / "c.npz"
    )
    assert version.status == "refused" and version.gate_reasons
    assert "情感 Macro-F1" in version.gate_reasons[0]
    with pytest.raises(models.ModelVersionError, match="未通过上线检查"):
        models.promote(tmp_store, ADMIN, version.version_id)
    assert models.current(tmp_store) is None and models.scoring_model(tmp_store) == "lexicon"


@needs_model
def test_a_good_candidate_is_promoted_scores_new_data_and_rescores_the_store(
    tmp_store, tmp_path, still_layer
) -> None:
    _labelled_reviews(tmp_store, 30, bad=False)
    version = models.build_candidate(
        tmp_store, ADMIN, root=tmp_path / "versions", anchors=400, cache=tmp_path / "c.npz"
    )
    held = version.metrics["heldback"]
    assert set(held) >= {"before", "after", "current"} and version.metrics["dev"]["candidate"]
    assert version.status == "candidate", version.gate_reasons
    models.promote(tmp_store, ADMIN, version.version_id)
    _ingest(tmp_store, ["催收员半夜打电话威胁我"], "new.csv")
    model_ids = set(_scores(tmp_store)["model_id"])
    adapted = {m for m in model_ids if f"+{version.version_id}+heads:" in m}
    assert len(adapted) == 1 and "lexicon" in model_ids  # old scores keep their model id
    result = rescore.rescore(tmp_store, models.scoring_model(tmp_store))
    assert set(_scores(tmp_store)["model_id"]) == adapted and result["rows"] == 91
    assert models.version_of(next(iter(adapted))) == version.version_id
    assert models.stale_scores(tmp_store) == 0

    # the same version as if fitted on another sentiment head (an upgrade retrained it)
    assert models.unusable_reason(version) is None
    old = tmp_path / "fitted-on-another-head"
    shutil.copytree(version.dir, old)
    manifest = json.loads((old / "adapted.json").read_text(encoding="utf-8"))
    (old / "adapted.json").write_text(
        json.dumps({**manifest, "sentiment_head": "0000dead"}), encoding="utf-8"
    )
    save_layers(old, [still_layer(len(load_heads().mean))])  # layers fitted on that head
    reason = models.unusable_reason(replace(version, dir=str(old)))
    assert reason and "0000dead" in reason and "重新训练" in reason


def test_a_rescore_also_redoes_the_calls_all_or_nothing(tmp_store) -> None:
    from data.ingest import ingest_calls_bytes

    call = {
        "call_id": "c1",
        "borrower_id": "B1",
        "agent_id": "A1",
        "started_at": "2026-05-06T10:00:00+08:00",
        "turns": [
            {"speaker": "agent", "text": "您好，我是安信消费金融的小王，工号1001"},
            {"speaker": "borrower", "text": "好的，谢谢你们帮我办分期"},
        ],
    }
    ingest_calls_bytes(tmp_store, json.dumps(call, ensure_ascii=False).encode(), "c.jsonl")
    turn_models = "SELECT DISTINCT model_id FROM scores WHERE target_kind = 'turn'"
    assert tmp_store.query(turn_models)["model_id"].tolist() == ["lexicon"]
    with pytest.raises(rescore.Stopped):
        rescore.rescore(tmp_store, "tfidf", should_stop=lambda: True)
    assert tmp_store.query(turn_models)["model_id"].tolist() == ["lexicon"]
    result = rescore.rescore(tmp_store, "tfidf")
    assert result["calls"] == 1 and result["model_id"] == "tfidf"
    assert tmp_store.query(turn_models)["model_id"].tolist() == ["tfidf"]
    assert tmp_store.scalar("SELECT count(*) FROM call_analysis") == 1
    assert tmp_store.scalar("SELECT count(*) FROM scores WHERE target_kind = 'turn'") == 2
