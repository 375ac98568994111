"""The NLP core's own settings, read from the environment (documented in .env.example).

The core never reads the data layer's settings; ``data.settings`` reuses these fields so that
one environment variable means one thing everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class NlpConfig:
    """What the core needs to know: where models live, which one to use, how many threads."""

    model_dir: Path  # BV_MODEL_DIR: built models (base e5, default classifier)
    sentiment_model: str  # BV_SENTIMENT_MODEL: default | lexicon | PATH | hub id
    label_map: str  # BV_LABEL_MAP: e.g. "LABEL_0=negative,LABEL_1=positive"
    call_profile: str  # BV_CALL_PROFILE: china | us_reg_f
    onnx_threads: int  # BV_ONNX_THREADS: ONNX Runtime threads per process (0 = every core)
    heads: str  # BV_HEADS: default (the committed label heads) | off (rules alone) | PATH

    @property
    def heads_off(self) -> bool:
        """``BV_HEADS`` turns every learned layer off (label heads, risk model, call heads)."""
        return self.heads.lower() in ("off", "none", "0")


def nlp_config() -> NlpConfig:
    """Read the core's settings now (cheap; call it where needed rather than caching)."""
    env = os.environ
    return NlpConfig(
        model_dir=Path(env.get("BV_MODEL_DIR") or ROOT / "models"),
        sentiment_model=env.get("BV_SENTIMENT_MODEL") or "default",
        label_map=env.get("BV_LABEL_MAP", ""),
        call_profile=env.get("BV_CALL_PROFILE") or "china",
        onnx_threads=int(env.get("BV_ONNX_THREADS") or 0),
        heads=env.get("BV_HEADS") or "default",
    )
