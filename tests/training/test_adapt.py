"""``python -m nlp adapt``: bad labelled files are refused, a real sample improves, a failed
build leaves every version untouched, and a version loads wherever a model name goes.

The builds here use a seeded sample of 600 of the shipped borrower texts as anchors (the full
8,000 only make the first, uncached encode slow) and a feature cache in the test's temp dir.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlp.adapt import build, fit
from nlp.adapt.labels import AdaptInputError, LabelColumns, read_labelled
from nlp.adapt.model import SentimentLayer, base_sentiment_head, is_adapted
from nlp.heads import Heads, load_heads
from nlp.modelfiles import HEADS_PATH, is_built
from nlp.sentiment import default_model_dir
from training.adapt import main_adapt
from training.sentiment_head import SMP_FILE, smp_sentiment

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpora"
SMP = SHARED / SMP_FILE
needs_model = pytest.mark.skipif(
    not is_built(default_model_dir()), reason="default model not built (make model)"
)
needs_heads = pytest.mark.skipif(
    load_heads(HEADS_PATH) is None, reason="no committed n-gram label heads (train-heads)"
)
needs_smp = pytest.mark.skipif(not SMP.exists(), reason=f"{SMP} absent (../shared)")


def _labelled(n_per_class: int = 25) -> pd.DataFrame:
    texts = {
        "negative": "催收天天打电话骂人，太过分了{}",
        "neutral": "请问这个月的还款日是几号{}",
        "positive": "客服耐心帮我办了分期，谢谢{}",
    }
    rows = [
        {"text": t.format(i), "label": label, "complaint": label == "negative"}
        for label, t in texts.items()
        for i in range(n_per_class)
    ]
    return pd.DataFrame(rows)


def _adapt(tmp_path: Path, df: pd.DataFrame, *extra: str, name: str = "in.csv") -> int:
    path = tmp_path / name
    df.to_csv(path, index=False)
    argv = [str(path), "--text-column", "text", "--out", str(tmp_path / "v1"), *extra]
    return main_adapt(argv)


@pytest.mark.parametrize(
    ("change", "args", "expected"),
    [
        (lambda df: df.assign(label=df["label"].where(df.index != 7, "很好")), [], "第 9 行"),
        (lambda df: df, ["--sentiment-column", "stars"], "找不到列「stars」"),
        (lambda df: df.assign(label=None), [], "列「label」没有任何标注"),
        (lambda df: df[df["label"] != "neutral"].head(60), [], "「neutral」只有 0 行"),
        (lambda df: df.drop(index=range(50, 60)), [], "「positive」只有 15 行"),
    ],
    ids=["unknown-label", "missing-column", "empty-column", "missing-class", "too-few-rows"],
)
def test_a_bad_labelled_file_exits_2_naming_the_row_or_column(
    tmp_path, capsys, change, args, expected
) -> None:
    df = change(_labelled())
    code = _adapt(tmp_path, df, *(args or ["--sentiment-column", "label"]))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("错误：") and expected in err[0], err
    assert not (tmp_path / "v1").exists()


def test_an_unknown_label_names_its_line_and_column(tmp_path, capsys) -> None:
    df = _labelled()
    df.loc[3, "label"] = "超赞"
    assert _adapt(tmp_path, df, "--sentiment-column", "label") == 2
    assert "第 5 行，列「label」：未知的情感标签「超赞」" in capsys.readouterr().err


def test_an_existing_version_is_never_overwritten(tmp_path, capsys) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "adapted.json").write_text("{}")
    assert _adapt(tmp_path, _labelled(), "--sentiment-column", "label") == 2
    assert "已存在" in capsys.readouterr().err
    assert (tmp_path / "v1" / "adapted.json").read_text() == "{}"


def test_labels_are_read_in_english_chinese_json_and_lists() -> None:
    df = pd.DataFrame(
        {
            "t": ["a", "b", "c", "d"],
            "s": ["正面", "neg", "中性", None],
            "e": ['["anger"]', "焦虑、愤怒", "[]", None],
            "c": ["是", "false", "1", "否"],
            "a": ['{"电话催收": "负面"}', "sms", "[]", ""],
        }
    )
    cols = LabelColumns(text="t", sentiment="s", emotions="e", complaint="c", aspects="a")
    frame, _ = read_labelled(df, cols, min_rows=0)
    assert frame["sentiment"].tolist() == ["positive", "negative", "neutral", None]
    assert frame["emotions"].tolist() == [["anger"], ["anger", "anxiety"], [], None]
    assert frame["complaint"].tolist() == [True, False, True, False]
    assert frame["aspects"].tolist() == [{"phone_call": "negative"}, {"sms": None}, {}, None]


def test_a_short_class_is_left_to_the_base_when_not_strict() -> None:
    df = _labelled().drop(index=range(50, 60))
    frame, notes = read_labelled(df, LabelColumns("text", sentiment="label"), strict=False)
    assert frame["sentiment"].isna().all() and "沿用原模型" in notes[0]
    with pytest.raises(AdaptInputError, match="positive"):
        read_labelled(df, LabelColumns("text", sentiment="label"))


def test_a_layer_leaves_texts_unlike_the_customers_alone() -> None:
    dim = 4
    layer = SentimentLayer(
        mean=np.zeros(dim),
        scale=np.ones(dim),
        gate_weights=np.array([50.0, 0, 0, 0]),  # the gate opens on feature 0 only
        gate_bias=-25.0,
        head_weights=np.zeros((3, dim + 3)),
        head_bias=np.array([0.0, 10.0, 0.0]),  # the head says neutral
        mix=1.0,
    )
    probs = np.array([[0.8, 0.1, 0.1], [0.8, 0.1, 0.1]])
    feats = np.array([[0.0, 1, 1, 1], [1.0, 1, 1, 1]])
    out = layer.apply(["x", "y"], probs, feats)
    assert np.allclose(out[0], probs[0], atol=1e-6)  # gate closed: the base stands
    assert out[1].argmax() == 1  # gate open: the layer's answer


def test_the_layer_keeps_the_base_when_the_labels_are_noise() -> None:
    rng = np.random.default_rng(0)
    n, dim = 200, 8
    feats = rng.normal(size=(n, dim))
    labels = [("negative", "neutral", "positive")[i % 3] for i in rng.permutation(n)]
    probs = np.full((n, 3), 1 / 3)
    probs[np.arange(n), [("negative", "neutral", "positive").index(v) for v in labels]] += 0.2
    probs /= probs.sum(axis=1, keepdims=True)  # the base is right on every row
    gate = (np.zeros(dim), 5.0)
    texts = [f"t{i}" for i in range(n)]
    layer, report = fit.fit_sentiment_layer(
        texts, probs, feats, labels, gate, (np.zeros(dim), np.ones(dim)), ngram=False
    )
    assert report["mix"] == 0.0 and layer.mix == 0.0


def _weibo_sample(n: int, seed: int) -> pd.DataFrame:
    """Real Weibo posts in three classes (SMP2020-EWECT: happy -> positive; angry, sad, fear ->
    negative; neutral): real text with a neutral class that no sentiment weight was fitted on
    (the shipped sentiment head learnt FinFE's neutral, so FinFE no longer tests adapting)."""
    posts = pd.read_csv(SMP).dropna(subset=["text"])
    return smp_sentiment(posts).sample(n=n, random_state=seed)


@needs_model
@needs_smp
def test_adapting_on_a_small_real_sample_improves_the_held_back_rows(tmp_path) -> None:
    frame, _ = read_labelled(_weibo_sample(320, 5), LabelColumns("text", sentiment="sentiment"))
    out = tmp_path / "weibo-v1"
    manifest = build.build_version(
        frame, out, by="tester", anchors=600, cache=tmp_path / "cache.npz"
    )
    held = manifest["metrics"]["heldback"]
    assert held["after"]["rows"] == held["before"]["rows"] and 75 <= held["after"]["rows"] <= 85
    assert held["after"]["sentiment_macro_f1"] > held["before"]["sentiment_macro_f1"] + 0.03
    assert manifest["built_by"] == "tester" and manifest["data"]["counts"]["sentiment"]
    assert json.loads((out / "adapted.json").read_text(encoding="utf-8")) == manifest
    assert is_adapted(out) and not list(tmp_path.glob(".weibo-v1.partial-*"))


@needs_model
def test_a_failed_build_leaves_every_version_untouched(tmp_path, monkeypatch) -> None:
    frame, _ = read_labelled(_labelled(), LabelColumns("text", sentiment="label"))
    before = sorted(p.name for p in tmp_path.iterdir())

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build, "evaluate", broken)  # fails after the files are written
    with pytest.raises(RuntimeError):
        build.build_version(frame, tmp_path / "v2", anchors=300, cache=tmp_path / "c.npz")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "c.npz") == before


def test_label_heads_learn_the_customers_answer_and_keep_the_others() -> None:
    from scipy.sparse import csr_matrix

    from nlp.ngrams import tfidf_rows

    vocab, idf = {"骂": 0, "谢": 1, "还": 2}, np.ones(3)
    base = Heads(
        names=("emotion:fear", "complaint"),
        vocab=vocab,
        idf=idf,
        mean=np.zeros(2),
        scale=np.ones(2),
        weights=np.zeros((2, 4)),
        bias=np.array([3.0, -5.0]),  # fear: always; complaint: never
        thresholds=np.array([0.5, 0.5]),
        card={},
    )
    texts = ["骂人", "谢谢", "还钱", "骂我"] * 15
    y = np.array([[float("骂" in t)] for t in texts])

    def part(idx):
        rows = [texts[i] for i in idx]
        return tfidf_rows(rows, vocab, idf), np.zeros((len(idx), 1)), y[idx]

    customer, anchor, tune = part(range(40)), part(range(40, 52)), part(range(52, 60))
    heads, report = fit.fit_label_heads(base, ["complaint"], anchor, tune, customer)
    assert heads.names == base.names and report["complaint"]["customer_positives"] == 20
    decided = heads.decide(["骂了我", "谢谢你"], np.zeros((2, 2)))
    assert decided[:, 1].tolist() == [True, False]  # learnt
    assert decided[:, 0].tolist() == [True, True]  # the fear head is the base's
    assert isinstance(tfidf_rows(["骂"], vocab, idf), csr_matrix)


@needs_model
@needs_heads
def test_a_version_loads_by_path_and_its_scores_name_it(tmp_path, monkeypatch) -> None:
    from nlp.pipeline import score_texts

    df = pd.concat([_labelled(30)] * 1, ignore_index=True)
    cols = LabelColumns("text", sentiment="label", complaint="complaint")
    frame, _ = read_labelled(df, cols)
    out = tmp_path / "v3"
    manifest = build.build_version(frame, out, anchors=300, cache=tmp_path / "c.npz")
    tried = manifest["learnt"]["heads_report"]["complaint"]
    assert tried["customer_rows"] == 66 and isinstance(tried["kept"], bool)
    by_arg = score_texts(["催收员骂我还威胁我家人"], model=str(out))
    monkeypatch.setenv("BV_SENTIMENT_MODEL", str(out))
    by_env = score_texts(["催收员骂我还威胁我家人"])
    assert by_arg["model"][0] == by_env["model"][0]
    assert f"+{manifest['version']}+heads:" in by_arg["model"][0]


@needs_model
def test_a_version_fitted_on_another_encoder_is_refused(tmp_path, still_layer) -> None:
    from nlp.adapt.model import save_layers
    from nlp.sentiment import get_backend

    layer = still_layer(4)
    save_layers(tmp_path, [layer])
    manifest = {"version": "adapt-old", "encoder_id": "e5-borrower-int8:00000000+ens"}
    (tmp_path / "adapted.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ValueError, match="请用当前模型重新训练"):
        get_backend.__wrapped__(str(tmp_path))


@needs_model
def test_a_version_fitted_on_another_sentiment_head_is_refused(tmp_path, still_layer) -> None:
    from nlp.adapt.model import save_layers
    from nlp.sentiment import get_backend

    layer = still_layer(4)
    encoder = get_backend("default").model_id
    for head, name in (("0000dead", "old"), (base_sentiment_head(), "now")):
        (tmp_path / name).mkdir()
        save_layers(tmp_path / name, [layer])
        manifest = {"version": f"adapt-{name}", "encoder_id": encoder, "sentiment_head": head}
        (tmp_path / name / "adapted.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ValueError, match="情感头 0000dead"):
        get_backend.__wrapped__(str(tmp_path / "old"))
    # fitted on the head mixed in now: accepted
    assert get_backend.__wrapped__(str(tmp_path / "now")).model_id.endswith("+adapt-now")


@needs_model
def test_a_version_built_on_a_version_keeps_its_layers(tmp_path) -> None:
    frame, _ = read_labelled(_labelled(30), LabelColumns("text", sentiment="label"))
    cache = tmp_path / "c.npz"
    first = build.build_version(frame, tmp_path / "v1", anchors=300, cache=cache, ngram=False)
    second = build.build_version(
        frame, tmp_path / "v2", base=str(tmp_path / "v1"), anchors=300, cache=cache, ngram=False
    )
    assert second["base"] == first["version"]
    assert first["sentiment_head"] == base_sentiment_head() != ""  # what the guard compares
    layers = first["learnt"]["sentiment_layers"]
    assert second["learnt"]["sentiment_layers"] >= layers
    assert second["metrics"]["heldback"]["before"] == first["metrics"]["heldback"]["after"]
