"""What the runtime needs to know about model files: names, locations, and "is it built?".

The core only LOADS models. Building them (``training.modelbuild``, run by
``python -m nlp build-model`` / ``make model``) and training them (``training.finetune``,
``training.tfidf``) live above the core; this module is the small contract both sides share.

Example:
    >>> is_built(Path("/nonexistent"))
    False
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "model"  # committed fine-tuned weights
TFIDF_PATH = WEIGHTS_DIR / "tfidf.npz"  # the committed char n-gram TF-IDF member
MANIFEST_PATH = WEIGHTS_DIR / "manifest.json"  # sha256, training data summary, metrics
FINETUNE_CONFIG = "finetune_config.json"  # in WEIGHTS_DIR: the classifier's config
ONNX_NAME = "model.int8.onnx"  # in a built model directory: the int8 fast path
BUILD_STAMP = "build.json"  # in a built model directory: {"weights_sha256": ...}
BUILD_COMMAND = "python -m nlp build-model"
EXPORT_VERSION = 3  # 2: the ONNX model also outputs the encoder features (label heads);
# 3: vocabulary pruned to the scripts read here, int8 word embeddings
HEADS_PATH = WEIGHTS_DIR / "heads.npz"  # the committed label heads (``nlp.heads``)


def save_with_card(path: Path, arrays: dict, card: dict) -> None:
    """Write the small learned models' files: ``path`` (compressed npz of ``arrays``) and its
    card beside it (``.json``), creating the folder."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    path.with_suffix(".json").write_text(
        json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8"
    )


def read_with_card(path: Path) -> tuple[dict, dict] | None:
    """``(arrays, card)`` as :func:`save_with_card` wrote them; ``None`` when either file is
    missing."""
    import numpy as np

    card_path = path.with_suffix(".json")
    if not path.exists() or not card_path.exists():
        return None
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return arrays, json.loads(card_path.read_text(encoding="utf-8"))


class ModelNotBuiltError(RuntimeError):
    """The default model directory is missing or was built from other committed weights."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        super().__init__(
            f"默认情感模型尚未构建或已过期（{model_dir}）：请先运行 `{BUILD_COMMAND}`"
            f"（或 `make model`），约 1 分钟，离线完成"
        )


def committed_weights() -> list[Path]:
    """The committed fine-tuned weight shards, sorted."""
    return sorted(WEIGHTS_DIR.glob("weights-*.safetensors"))


def weights_fingerprint() -> str:
    """sha256 over the committed shards: a built model is stale when it differs."""
    digest = hashlib.sha256()
    for path in committed_weights():
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_built(model_dir: Path) -> bool:
    """True when ``model_dir`` holds a model built from the current committed weights."""
    stamp = model_dir / BUILD_STAMP
    if not (stamp.exists() and (model_dir / ONNX_NAME).exists()):
        return False
    built = json.loads(stamp.read_text())
    return (
        built.get("weights_sha256") == weights_fingerprint()
        and built.get("export", 1) == EXPORT_VERSION
    )


def require_built(model_dir: Path) -> Path:
    """``model_dir`` when it is built and current, else raise :class:`ModelNotBuiltError`."""
    if not is_built(model_dir):
        raise ModelNotBuiltError(model_dir)
    return model_dir
