"""All settings, read from the environment in one place (documented in .env.example)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nlp.config import nlp_config

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Deployment settings. Every field has an environment variable and a default."""

    db_path: Path  # BV_DB_PATH
    model_dir: Path  # BV_MODEL_DIR: built models (base e5, default classifier)
    sentiment_model: str  # BV_SENTIMENT_MODEL: default | lexicon | PATH | hub id
    label_map: str  # BV_LABEL_MAP: e.g. "LABEL_0=negative,LABEL_1=positive"
    max_upload_mb: int  # BV_MAX_UPLOAD_MB
    max_rows: int  # BV_MAX_ROWS
    demo: bool  # BV_DEMO: load the demo dataset into an empty store
    call_profile: str  # BV_CALL_PROFILE: china | us_reg_f
    onnx_threads: int  # BV_ONNX_THREADS: ONNX Runtime threads per process (0 = every core)
    auth: bool  # BV_AUTH: password login and roles; off = one local user acting as admin
    auth_file: Path  # BV_AUTH_FILE: users, roles and bcrypt hashes (outside git)
    admin_password: str = field(repr=False)  # BV_ADMIN_PASSWORD: the first admin's password


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def settings() -> Settings:
    """Read the settings now (cheap; call it where needed rather than caching globally)."""
    env = os.environ
    core = nlp_config()
    return Settings(
        db_path=Path(env.get("BV_DB_PATH") or ROOT / "var" / "borrower_voice.duckdb"),
        model_dir=core.model_dir,
        sentiment_model=core.sentiment_model,
        label_map=core.label_map,
        max_upload_mb=int(env.get("BV_MAX_UPLOAD_MB") or 200),
        max_rows=int(env.get("BV_MAX_ROWS") or 500_000),
        demo=_flag(env.get("BV_DEMO"), True),
        call_profile=core.call_profile,
        auth=_flag(env.get("BV_AUTH"), True),
        auth_file=Path(env.get("BV_AUTH_FILE") or ROOT / "var" / "auth.yaml"),
        admin_password=env.get("BV_ADMIN_PASSWORD", ""),
        onnx_threads=core.onnx_threads,
    )
