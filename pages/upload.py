"""数据上传：研究人员上传问卷或通话转写，映射列、校验、评分并原子入库。"""

import streamlit as st

from data import access, ingest
from data.demo_loader import has_demo
from data.pii import mask_frame
from data.queries import list_batches
from pages import _cache as cache
from pages import _format as fmt
from pages import _session as session
from pages import _widgets as widgets

session.require("upload")
st.title("数据上传")
kind = st.radio(
    "数据类型",
    ["survey", "calls"],
    horizontal=True,
    key="up_kind",
    format_func={"survey": "问卷回答", "calls": "通话转写"}.get,
)
file = st.file_uploader(
    "拖入文件（CSV / Excel / JSONL；通话也支持 TXT）",
    key="up_file",
    type=["csv", "xlsx", "jsonl", "json", "txt", "parquet"],
)


def survey_upload(raw: bytes, name: str) -> None:
    """Read, map, validate, then score and store a survey file (errors leave the page usable)."""
    try:
        sheets = ingest.excel_sheets(raw) if name.lower().endswith(".xlsx") else []
        sheet = st.selectbox("工作表", sheets, key="up_sheet") if len(sheets) > 1 else None
        df = cache.read_table(raw, name, sheet)
    except ingest.IngestError as exc:
        st.error(fmt.error_message(exc, "无法读取文件："))
        return
    cols = list(df.columns)
    guess = ingest.saved_mapping(cache.store(), cols) or ingest.guess_mapping(cols)
    st.markdown("**列映射**（已按表头自动猜测；同样表头的文件下次自动沿用）")
    mapping = widgets.column_mapping(ingest.SURVEY_FIELDS, cols, guess, key="up_map")
    st.markdown(f"**预览**（共 {len(df):,} 行）")
    st.dataframe(mask_frame(df.head(10)), width="stretch", hide_index=True)
    clean, problems = ingest.validate_survey(df, mapping)  # once: report, then store
    errors = widgets.validation_report(problems, len(clean))
    repeats = 0 if errors else int(ingest.stored_duplicates(cache.store(), clean).sum())
    keep = widgets.duplicate_choice(repeats, "up_dups")
    if st.button("评分并导入", type="primary", disabled=errors, key="up_go"):
        try:
            res = access.upload_checked_survey(
                cache.store(),
                session.actor(),
                clean,
                [p for p in problems if p.severity == "warning"],
                sha=ingest.sha256_bytes(raw),
                file_name=name,
                progress=widgets.progress_bar(),
                keep_duplicates=keep,
            )
            if not res.duplicate:
                ingest.save_mapping(cache.store(), cols, mapping)
            cache.data_changed()
            (st.info if res.duplicate or res.batch_id is None else st.success)(res.summary())
        except ingest.IngestError as exc:
            st.error(fmt.error_message(exc, NOT_STORED))


NOT_STORED = "文件未导入，数据库未改动："
if file is not None:
    raw = file.getvalue()
    if kind == "calls":
        st.caption("支持 JSONL（每行一通）、每行一轮的 CSV/XLSX、带「坐席：/客户：」前缀的 TXT。")
        if st.button("校验并导入", type="primary", key="up_calls_go"):
            try:
                res = access.upload_calls(
                    cache.store(), session.actor(), raw, file.name, progress=widgets.progress_bar()
                )
                cache.data_changed()
                st.success(res.summary())
            except ingest.IngestError as exc:
                st.error(fmt.error_message(exc, NOT_STORED))
    else:
        survey_upload(raw, file.name)

st.divider()
st.subheader("已导入批次")
batches = list_batches(cache.store())
st.dataframe(fmt.batches_for_display(batches), hide_index=True, width="stretch")
if session.actor().can("delete_batch"):  # admin only; data.access checks again
    c1, c2 = st.columns(2)
    with c1:
        victim = st.selectbox(
            "删除批次",
            [None, *batches["batch_id"]],
            key="up_del",
            format_func=lambda v: "选择批次" if v is None else v,
        )
        sure = st.checkbox("我确认删除该批次及其全部评分与复核", key="up_del_ok")
        if st.button("删除", disabled=not (victim and sure), key="up_del_go"):
            n = access.delete_batch(cache.store(), session.actor(), victim)
            cache.data_changed()
            st.success(f"已删除 {victim}（{n:,} 行）")
    with c2:
        if has_demo(cache.store()) and st.button("一键移除示例数据", key="up_rm_demo"):
            n = access.remove_demo(cache.store(), session.actor())
            cache.data_changed()
            st.success(f"已移除示例数据（{n:,} 行）")
else:
    st.caption("删除批次与移除示例数据由系统管理员操作。")
