"""Model versions: candidates built from reviewed records, a gate, promotion and rollback.

A candidate is built (``nlp.adapt.build``) from every reviewed survey answer, plus an optional
uploaded labelled file, on top of the shipped model. It is measured against the current
version on its held-back reviews and on the built-in borrower dev set. It can be promoted only
when it is not more than ``MAX_DROP`` below the current version on any headline metric of the
dev set. The registry (``model_versions``) says who built and promoted each version, with its
metrics; ``model_events`` keeps every promotion and rollback, so a rollback restores the
version that was current before. New uploads are scored with the current version
(:func:`scoring_model`); stored scores move to it only through :mod:`data.rescore`, which
writes them all at once. Every score keeps the model id it was made with.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import pandas as pd

from data.store import Store, now


class Actor(Protocol):
    """Who acts (``data.auth.Actor``; not imported: ``data.auth`` reaches this module through
    the inbox and ingest, which score with the current version)."""

    user: str

    def require(self, permission: str) -> None: ...


ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "tests" / "data" / "dev_borrower.jsonl"
"""The built-in borrower dev set (371 hand-labelled texts, never trained on)."""
MAX_DROP = 0.02
HEADLINE: dict[str, str] = {
    "sentiment_macro_f1": "情感 Macro-F1",
    "complaint_f1": "投诉识别 F1",
    "emotions_f1": "情绪识别 F1",
    "aspects_f1": "催收方式识别 F1",
}
"""The dev-set metrics the gate checks, with their Chinese names."""
STATUS_ZH = {"candidate": "候选", "current": "当前", "retired": "已停用", "refused": "未通过"}
SHIPPED = "出厂模型"


class ModelVersionError(ValueError):
    """A model-version action cannot be done; the message says why, in Chinese."""


@dataclass(frozen=True)
class Version:
    """One row of the registry."""

    version_id: str
    dir: str
    base: str
    built_by: str
    built_at: datetime
    promoted_by: str | None
    promoted_at: datetime | None
    metrics: dict
    status: str

    @property
    def gate_reasons(self) -> list[str]:
        """Why the gate refused it when it was built (empty: it passed)."""
        return list(self.metrics.get("gate", []))


def versions_root() -> Path:
    """Where candidate versions are written (``BV_MODEL_DIR/versions``)."""
    from data.settings import settings

    return settings().model_dir / "versions"


def _version(row: pd.Series) -> Version:
    metrics = row["metrics"]
    return Version(
        version_id=row["version_id"],
        dir=row["dir"],
        base=row["base"],
        built_by=row["built_by"],
        built_at=row["built_at"],
        promoted_by=None if pd.isna(row["promoted_by"]) else row["promoted_by"],
        promoted_at=None if pd.isna(row["promoted_at"]) else row["promoted_at"],
        metrics=json.loads(metrics) if isinstance(metrics, str) else dict(metrics or {}),
        status=row["status"],
    )


def registry(store: Store) -> list[Version]:
    """Every version, newest first."""
    df = store.query("SELECT * FROM model_versions ORDER BY built_at DESC, version_id")
    return [_version(r) for _, r in df.iterrows()]


def get(store: Store, version_id: str) -> Version:
    df = store.query("SELECT * FROM model_versions WHERE version_id = ?", [version_id])
    if df.empty:
        raise ModelVersionError(f"没有模型版本 {version_id}")
    return _version(df.iloc[0])


def current(store: Store) -> Version | None:
    """The promoted version in use (``None``: the configured model, the shipped one)."""
    df = store.query("SELECT * FROM model_versions WHERE status = 'current'")
    return None if df.empty else _version(df.iloc[0])


def unusable_reason(version: Version | None) -> str | None:
    """Why a version cannot score on the models installed now (``None``: it can). A version's
    sentiment layers belong to the encoder and the sentiment head they were fitted on; after
    an upgrade that changed either, scoring with it is refused until it is rebuilt."""
    if version is None:
        return None
    from nlp.sentiment import get_backend

    try:
        get_backend(version.dir)
    except (ValueError, FileNotFoundError) as exc:
        return str(exc)
    return None


def configured_model() -> str:
    """The model scoring uses when no version is promoted (``BV_SENTIMENT_MODEL``)."""
    from nlp.config import nlp_config

    return nlp_config().sentiment_model


def scoring_model(store: Store) -> str:
    """The model new data is scored with: the current version's directory, else the
    configured model."""
    cur = current(store)
    return cur.dir if cur is not None else configured_model()


def training_rows(store: Store) -> pd.DataFrame:
    """Reviewed survey answers as a canonical labelled frame (``nlp.adapt.labels``): per
    record and label kind the reviewer's latest answer, ``None`` where no reviewer gave one."""
    df = store.query(
        """SELECT x.response_id, x.text,
                  arg_max(r.sentiment, r.reviewed_at) FILTER (WHERE r.sentiment IS NOT NULL)
                      AS sentiment,
                  arg_max(r.complaint, r.reviewed_at) FILTER (WHERE r.complaint IS NOT NULL)
                      AS complaint,
                  arg_max(r.aspects::VARCHAR, r.reviewed_at) FILTER (WHERE r.aspects IS NOT NULL)
                      AS aspects,
                  arg_max(e.emotions, r.reviewed_at) FILTER (WHERE e.emotions IS NOT NULL)
                      AS emotions
           FROM reviews r
           JOIN responses x ON r.target_kind = 'response' AND r.target_id = x.response_id
           LEFT JOIN review_emotions e USING (review_id)
           GROUP BY x.response_id, x.text
           ORDER BY x.response_id"""
    )
    out = pd.DataFrame({"text": df["text"].astype(str)})
    for kind in ("sentiment", "complaint"):
        out[kind] = pd.Series([None if _absent(v) else v for v in df[kind]], dtype=object)
    out["complaint"] = [None if v is None else bool(v) for v in out["complaint"]]
    out["aspects"] = pd.Series(
        [json.loads(v) if isinstance(v, str) else None for v in df["aspects"]], dtype=object
    )
    out["emotions"] = pd.Series(
        [None if _absent(v) else sorted(v) for v in df["emotions"]], dtype=object
    )
    labelled = out[["sentiment", "complaint", "aspects", "emotions"]].notna().any(axis=1)
    return out[labelled].reset_index(drop=True)


def _absent(value) -> bool:
    """A missing cell (None, NaN, NA) as opposed to a value, lists included."""
    if value is None:
        return True
    if isinstance(value, (list, tuple, dict)) or hasattr(value, "__len__"):
        return False
    return bool(pd.isna(value))


def label_summary(frame: pd.DataFrame) -> dict[str, int]:
    """Rows with a label of each kind (the page says what a candidate can learn)."""
    return {
        k: int(frame[k].notna().sum()) for k in ("sentiment", "complaint", "emotions", "aspects")
    }


def dev_frame() -> pd.DataFrame:
    """The built-in dev set in the canonical labelled form."""
    from nlp.adapt.labels import LabelColumns, read_labelled

    df = pd.read_json(DEV_SET, lines=True)
    cols = LabelColumns("text", "sentiment", "emotions", "complaint", "aspects")
    return read_labelled(df, cols, min_rows=0)[0]


@lru_cache(maxsize=8)
def dev_metrics(model: str) -> dict[str, float]:
    """Headline metrics of ``model`` on the dev set (cached: a version never changes)."""
    from nlp.adapt.build import evaluate

    return evaluate(model, dev_frame())


def gate(candidate: dict, current: dict, max_drop: float = MAX_DROP) -> list[str]:
    """Why a candidate may not replace the current version: every headline dev metric more
    than ``max_drop`` below the current one's (empty: it may)."""
    reasons = []
    for key, name in HEADLINE.items():
        if key in current and key in candidate and candidate[key] < current[key] - max_drop:
            reasons.append(
                f"开发集{name} {candidate[key]:.3f}，比当前版本 {current[key]:.3f} "
                f"低 {current[key] - candidate[key]:.3f}（上限 {max_drop}）"
            )
    return reasons


def build_candidate(
    store: Store,
    actor: Actor,
    *,
    upload: pd.DataFrame | None = None,
    upload_name: str | None = None,
    root: Path | None = None,
    progress=None,
    **options,
) -> Version:
    """Build a candidate from every reviewed record (plus ``upload``, a canonical labelled
    frame), measure it against the current version, record it in the registry.

    Args:
        options: passed to :func:`nlp.adapt.build.build_version` (tests use a few anchors).

    Raises:
        ModelVersionError: nothing to learn from, or the build failed (nothing is recorded).
    """
    from nlp.adapt.build import BuildError, build_version
    from nlp.adapt.labels import drop_short

    actor.require("evaluate_model")
    step = progress or (lambda fraction, message: None)
    reviewed = training_rows(store)
    frames = [reviewed] + ([upload] if upload is not None and not upload.empty else [])
    frame = pd.concat(frames, ignore_index=True).astype(object)
    frame = frame.where(frame.notna(), None)
    if frame.empty:
        raise ModelVersionError("还没有复核修正过的记录，也没有上传标注文件：没有可学习的数据")
    notes = drop_short(frame)
    version_id = f"v{now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    out = (root or versions_root()) / version_id
    out.parent.mkdir(parents=True, exist_ok=True)
    cur = scoring_model(store)
    source = {
        "file": "复核记录" + (f" + {upload_name}" if upload_name else ""),
        "reviewed": len(reviewed),
    }
    try:
        manifest = build_version(
            frame,
            out,
            source=source,
            notes=notes,
            by=actor.user,
            version=version_id,
            compare={"current": cur},
            strict=False,
            progress=lambda f, m: step(0.8 * f, m),
            **options,
        )
    except BuildError as exc:
        raise ModelVersionError(str(exc)) from exc
    step(0.85, "在开发集上评估")
    dev = {"candidate": dev_metrics(str(out)), "current": dev_metrics(cur), "current_model": cur}
    reasons = gate(dev["candidate"], dev["current"])
    metrics = {
        "heldback": manifest["metrics"]["heldback"],
        "dev": dev,
        "gate": reasons,
        "data": manifest["data"],
        "learnt": {k: manifest["learnt"][k] for k in ("sentiment", "heads")},
    }
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
            [
                version_id,
                str(out),
                manifest["base"],
                actor.user,
                now(),
                json.dumps(metrics, ensure_ascii=False),
                "refused" if reasons else "candidate",
            ],
        )
        store.audit(actor.user, "model_build", version_id, {"gate": reasons}, cur=tx)
    step(1.0, "完成")
    return get(store, version_id)


def promote(store: Store, actor: Actor, version_id: str) -> Version:
    """Make a version current, if the gate lets it (checked against the version current now).

    Raises:
        ModelVersionError: the gate refuses it, or it is already current.
    """
    actor.require("evaluate_model")
    version = get(store, version_id)
    if version.status == "current":
        raise ModelVersionError(f"{version_id} 已是当前版本")
    if not Path(version.dir, "adapted.json").is_file():
        raise ModelVersionError(f"模型版本目录 {version.dir} 不存在，无法启用")
    dev = version.metrics.get("dev", {})
    now_model = scoring_model(store)
    current_dev = dev.get("current") if dev.get("current_model") == now_model else None
    reasons = gate(dev.get("candidate", {}), current_dev or dev_metrics(now_model))
    if reasons:
        raise ModelVersionError("未通过上线检查：" + "；".join(reasons))
    previous = current(store)
    with store.transaction() as tx:
        tx.execute("UPDATE model_versions SET status = 'retired' WHERE status = 'current'")
        tx.execute(
            "UPDATE model_versions SET status = 'current', promoted_by = ?, promoted_at = ? "
            "WHERE version_id = ?",
            [actor.user, now(), version_id],
        )
        tx.execute(
            "INSERT INTO model_events VALUES (?, ?, 'promote', ?, ?)",
            [now(), actor.user, version_id, previous.version_id if previous else None],
        )
        store.audit(actor.user, "model_promote", version_id, {"previous": _name(previous)}, cur=tx)
    return get(store, version_id)


def _name(version: Version | None) -> str:
    return version.version_id if version else SHIPPED


def rollback(store: Store, actor: Actor) -> Version | None:
    """Put back the version that was current before the current one (``None``: the shipped
    model). The rolled-back version stays in the registry, retired.

    Raises:
        ModelVersionError: no version is promoted (the shipped model is in use).
    """
    actor.require("evaluate_model")
    cur = current(store)
    if cur is None:
        raise ModelVersionError("当前使用的是出厂模型，没有可回滚的版本")
    previous = store.scalar(
        "SELECT previous_id FROM model_events WHERE action = 'promote' AND version_id = ? "
        "ORDER BY happened_at DESC LIMIT 1",
        [cur.version_id],
    )
    with store.transaction() as tx:
        tx.execute(
            "UPDATE model_versions SET status = 'retired' WHERE version_id = ?", [cur.version_id]
        )
        if previous:
            tx.execute(
                "UPDATE model_versions SET status = 'current' WHERE version_id = ?", [previous]
            )
        tx.execute(
            "INSERT INTO model_events VALUES (?, ?, 'rollback', ?, ?)",
            [now(), actor.user, previous, cur.version_id],
        )
        store.audit(
            actor.user, "model_rollback", cur.version_id, {"restored": previous or SHIPPED}, cur=tx
        )
    return get(store, previous) if previous else None


VERSION_PART = r"\+(adapt-[0-9]{8}-[0-9]{6}-[0-9a-f]+|v[0-9]{8}-[0-9]{6}-[0-9a-f]+)"
"""How a version id appears in a score's model id (``<encoder>+<version>+heads:…``)."""


def version_of(model_id: str | None) -> str:
    """The version a stored score's model id names, for display (the shipped model's id
    in brackets when it names none)."""
    if not model_id:
        return "—"
    found = re.search(VERSION_PART, str(model_id))
    return found.group(1) if found else f"{SHIPPED}（{model_id}）"


def score_versions(store: Store) -> pd.DataFrame:
    """How many stored survey scores each model id made (``model_id``, ``n``)."""
    return store.query(
        "SELECT model_id, count(*) AS n FROM scores WHERE target_kind = 'response' "
        "GROUP BY model_id ORDER BY n DESC, model_id"
    )


def stale_scores(store: Store) -> int:
    """Stored survey scores not made by the version in use (the shipped model when none is
    promoted): what a re-score would change."""
    cur = current(store)
    if cur is not None:
        sql, params = "NOT contains(model_id || '+', ?)", [f"+{cur.version_id}+"]
    else:
        sql, params = "regexp_matches(model_id, ?)", [VERSION_PART]
    return int(
        store.scalar(
            f"SELECT count(*) FROM scores WHERE target_kind = 'response' AND {sql}", params
        )
        or 0
    )
