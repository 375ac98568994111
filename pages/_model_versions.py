"""模型版本：用复核结果训练新版本、上线检查、版本登记、回滚与重新评分（模型评估页的一节）。

Widget keys carry the model page's prefix ``md_`` plus ``mv_``. The domain work is in
``data.models`` (registry, candidate, gate, promotion, rollback) and ``data.rescore``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import models, rescore
from data.auth import Actor
from data.reader import InputError
from data.settings import format_display_time
from data.store import Store
from nlp.adapt.labels import AdaptInputError, LabelColumns, read_labelled
from pages import _cache as cache
from pages import _format as fmt

LABEL_KINDS = {"sentiment": "情感", "complaint": "投诉", "emotions": "情绪", "aspects": "催收方式"}
METRIC_NAMES = {**models.HEADLINE, "sentiment_accuracy": "情感准确率", "rows": "样本数"}


@st.cache_data(ttl=300, show_spinner=False)
def _score_versions() -> pd.DataFrame:
    return models.score_versions(cache.store())


def version_caption() -> str:
    """Which model version the stored survey scores (and so the charts) come from."""
    counts = _score_versions()
    if counts.empty:
        return "模型版本：暂无评分"
    parts = [
        f"{models.version_of(m)} {n:,} 条" for m, n in zip(counts.model_id, counts.n, strict=True)
    ]
    lead = "图表所示评分来自模型版本 " if len(parts) == 1 else "图表所示评分来自多个模型版本："
    return lead + " · ".join(parts)


def metrics_table(sides: dict[str, dict]) -> pd.DataFrame:
    """Metric rows × one column per model (current / candidate)."""
    keys = [k for k in METRIC_NAMES if any(k in side for side in sides.values())]
    return pd.DataFrame(
        {
            "指标": [METRIC_NAMES[k] for k in keys],
            **{
                name: [
                    fmt.integer(side[k]) if k == "rows" else fmt.decimal(side.get(k), 3)
                    for k in keys
                ]
                for name, side in sides.items()
            },
        }
    )


def registry_table(versions: list[models.Version]) -> pd.DataFrame:
    """The registry for display, newest first."""

    def dev(v: models.Version, key: str) -> str:
        return fmt.decimal(v.metrics.get("dev", {}).get("candidate", {}).get(key), 3)

    return pd.DataFrame(
        {
            "版本": [v.version_id for v in versions],
            "状态": [models.STATUS_ZH.get(v.status, v.status) for v in versions],
            "训练人": [v.built_by for v in versions],
            "训练时间": format_display_time(pd.Series([v.built_at for v in versions])),
            "启用人": [v.promoted_by or "" for v in versions],
            "启用时间": format_display_time(pd.Series([v.promoted_at for v in versions])),
            "开发集情感 F1": [dev(v, "sentiment_macro_f1") for v in versions],
            "开发集投诉 F1": [dev(v, "complaint_f1") for v in versions],
            "复核行数": [v.metrics.get("data", {}).get("rows", "") for v in versions],
        }
    )


def _upload() -> tuple[pd.DataFrame | None, str | None]:
    """An optional labelled file, read and checked leniently (``None`` when none)."""
    file = st.file_uploader("补充标注文件（可选）", type=["csv", "xlsx", "jsonl"], key="md_mv_file")
    if file is None:
        return None, None
    try:
        df = cache.read_table(file.getvalue(), file.name)
    except InputError as exc:
        st.error(fmt.error_message(exc, "无法读取文件："))
        return None, None
    cols = [None, *df.columns]
    c = st.columns(5)
    text = c[0].selectbox("文本列", list(df.columns), key="md_mv_text")
    picked = {
        kind: c[i + 1].selectbox(
            f"{zh}列", cols, index=cols.index(kind) if kind in cols else 0, key=f"md_mv_{kind}"
        )
        for i, (kind, zh) in enumerate(LABEL_KINDS.items())
    }
    try:
        frame, notes = read_labelled(df, LabelColumns(text, **picked), strict=False)
    except AdaptInputError as exc:
        st.error(f"{file.name}：{exc}")
        return None, None
    for note in notes:
        st.caption(f"注意：{note}")
    return frame, file.name


def _build(store: Store, actor: Actor) -> None:
    """The candidate build: what reviewers gave, an optional file, the button."""
    summary = models.label_summary(models.training_rows(store))
    st.caption(
        "已复核可学习："
        + " · ".join(f"{zh} {summary[k]:,} 条" for k, zh in LABEL_KINDS.items())
        + "。候选版本在出厂模型上学习（每个类别至少 20 条），保留 25% 的记录作对比；"
        f"只有在内置开发集各项指标都不比当前版本低 {models.MAX_DROP} 以上时才能启用。"
    )
    upload, name = _upload()
    if st.button("训练候选版本", type="primary", key="md_mv_build"):
        bar = st.progress(0.0, text="准备中…")
        try:
            version = models.build_candidate(
                store,
                actor,
                upload=upload,
                upload_name=name,
                progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m),
            )
        except models.ModelVersionError as exc:
            bar.empty()
            st.error(str(exc))
        else:
            st.session_state["md_mv_candidate"] = version.version_id


def _candidate(store: Store, actor: Actor, version: models.Version) -> None:
    """Candidate vs current side by side, and the promote button (disabled with the reason)."""
    st.markdown(f"**候选版本 {version.version_id}**（{version.built_by} 训练）")
    held = version.metrics.get("heldback", {})
    dev = version.metrics.get("dev", {})
    c = st.columns(2)
    c[0].caption("保留的复核记录（未参与训练）")
    c[0].dataframe(
        metrics_table({"当前版本": held.get("current", {}), "候选版本": held.get("after", {})}),
        hide_index=True,
        width="stretch",
    )
    c[1].caption("内置开发集（371 条借款人文本）")
    c[1].dataframe(
        metrics_table({"当前版本": dev.get("current", {}), "候选版本": dev.get("candidate", {})}),
        hide_index=True,
        width="stretch",
    )
    reasons = version.gate_reasons
    for reason in reasons:
        st.warning(f"不能启用：{reason}")
    disabled = bool(reasons) or version.status not in ("candidate", "retired")
    why = (
        "；".join(reasons) if reasons else ("已是当前版本" if version.status == "current" else None)
    )
    if st.button("启用该版本", key="md_mv_promote", disabled=disabled, help=why):
        try:
            models.promote(store, actor, version.version_id)
        except models.ModelVersionError as exc:
            st.error(str(exc))
        else:
            rescore.start(store, actor, models.scoring_model(store), on_done=cache.data_changed)
            cache.data_changed()
            st.rerun()


@st.fragment(run_every=2.0)
def _rescore_progress(store: Store) -> None:
    job = rescore.job(store)
    if job is None:
        return
    if job.state == "running":
        st.progress(
            job.fraction, text=f"正在重新评分 {job.done:,}/{job.total:,}（旧评分保留至全部完成）"
        )
    else:
        (st.success if job.state == "done" else st.warning)(job.message)


def section(store: Store, actor: Actor) -> None:
    """「用复核结果训练新版本」: build, compare, promote, registry, rollback, re-score."""
    st.subheader("用复核结果训练新版本")
    _build(store, actor)
    versions = models.registry(store)
    chosen = st.session_state.get("md_mv_candidate")
    shown = next((v for v in versions if v.version_id == chosen), None) or next(
        (v for v in versions if v.status in ("candidate", "refused")), None
    )
    if shown is not None and shown.status != "current":
        _candidate(store, actor, shown)
    current = models.current(store)
    st.markdown(f"**当前版本：** {current.version_id if current else models.SHIPPED}")
    if reason := models.unusable_reason(current):
        st.error(
            f"当前版本无法在现有模型上评分，上传会被拒绝：{reason}。"
            "可回滚到上一版本，或用复核结果重新训练后启用。"
        )
    job = rescore.job(store)
    if job is not None and job.state == "running":
        _rescore_progress(store)
    else:
        if job is not None:
            (st.success if job.state == "done" else st.warning)(job.message)
        stale = models.stale_scores(store)
        if stale and st.button(
            f"用当前版本重新评分（{stale:,} 条来自其他版本）", key="md_mv_rescore"
        ):
            rescore.start(store, actor, models.scoring_model(store), on_done=cache.data_changed)
            st.rerun()
    if versions:
        st.dataframe(registry_table(versions), hide_index=True, width="stretch")
    if st.button(
        "回滚到上一版本",
        key="md_mv_rollback",
        disabled=current is None,
        help="当前已是出厂模型" if current is None else "恢复此前的当前版本，并重新评分",
    ):
        restored = models.rollback(store, actor)
        rescore.start(store, actor, models.scoring_model(store), on_done=cache.data_changed)
        cache.data_changed()
        st.toast(f"已回滚到 {restored.version_id if restored else models.SHIPPED}")
        st.rerun()
