"""Prune the e5 vocabulary to the scripts Borrower Voice reads, without changing how they split.

multilingual-e5-small carries 250,002 sentencepiece pieces for a hundred languages; loaded,
its tokenizer alone takes about 280 MB and its fp32 word embeddings 384 MB. A Unigram
tokenizer can only produce a piece whose every character occurs in the text, so dropping the
pieces made of other scripts leaves the segmentation of Chinese, ASCII, Latin-1, punctuation
and emoji text exactly as it was (checked in ``tests/nlp/test_model.py``). Every single-character
piece is kept, so text in another script still maps to its characters, not to ``<unk>``.
"""

from __future__ import annotations

import copy
from typing import Any


def _kept_char(ch: str) -> bool:
    o = ord(ch)
    return (
        o < 0x80  # ASCII
        or 0xA0 <= o <= 0xFF  # Latin-1: ° · × ÷ ¥ and accented letters
        or 0x2000 <= o <= 0x2BFF  # general punctuation, symbols, arrows, maths, boxes
        or 0x2E80 <= o <= 0x9FFF  # CJK radicals, CJK punctuation, kana, bopomofo, CJK unified
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility ideographs
        or 0xFE30 <= o <= 0xFE4F  # CJK compatibility forms
        or 0xFF00 <= o <= 0xFFEF  # full-width and half-width forms
        or 0x1F000 <= o <= 0x1FAFF  # emoji
        or 0x20000 <= o <= 0x2FFFF  # CJK extensions B-F
    )


def kept_piece(piece: str) -> bool:
    """Whether a sentencepiece piece stays: special, single-character, or all kept scripts."""
    body = piece.replace("\u2581", "")
    return len(body) <= 1 or all(_kept_char(ch) for ch in body)


def prune_tokenizer(tokenizer: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """A pruned copy of a Unigram ``tokenizer.json`` and the old ids it keeps, in new-id order.

    Special tokens keep their ids 0-3 (``<s> <pad> </s> <unk>``); added tokens are renumbered.
    """
    out = copy.deepcopy(tokenizer)
    vocab = out["model"]["vocab"]
    special = {t["id"] for t in out.get("added_tokens", [])}
    kept = [i for i, (piece, _) in enumerate(vocab) if i < 4 or i in special or kept_piece(piece)]
    new_id = {old: new for new, old in enumerate(kept)}
    out["model"]["vocab"] = [vocab[i] for i in kept]
    out["model"]["unk_id"] = new_id[out["model"].get("unk_id", 3)]
    for token in out.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    for spec in (out.get("post_processor") or {}).get("special_tokens", {}).values():
        spec["ids"] = [new_id[i] for i in spec["ids"]]
    return out, kept


def prune_embeddings(model, kept: list[int]) -> None:
    """Keep only the ``kept`` rows of a BERT model's word embeddings (in place)."""
    import torch

    old = model.bert.embeddings.word_embeddings.weight.detach()
    rows = old[torch.as_tensor(kept)].clone()
    model.bert.embeddings.word_embeddings = torch.nn.Embedding.from_pretrained(
        rows, freeze=True, padding_idx=model.config.pad_token_id
    )
    model.config.vocab_size = len(kept)
