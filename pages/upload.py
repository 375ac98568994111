"""数据上传：研究人员上传问卷或通话转写，映射列、校验、评分并原子入库。"""

import time

import pandas as pd
import streamlit as st

from data import access, ingest
from data.demo_loader import has_demo
from data.pii import mask_frame
from data.queries import list_batches
from pages import _ui as ui

ui.require("upload")
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


def progress_bar():
    bar, t0 = st.progress(0.0, text="正在评分……"), time.time()

    def update(done: int, total: int) -> None:
        frac = done / max(total, 1)
        eta = (time.time() - t0) / frac * (1 - frac) if frac > 0 else 0
        bar.progress(min(frac, 1.0), text=f"正在评分 {done:,}/{total:,}，预计还需 {eta:.0f} 秒")

    return update


if file is not None:
    raw = file.getvalue()
    if kind == "calls":
        st.caption("支持 JSONL（每行一通）、每行一轮的 CSV/XLSX、带「坐席：/客户：」前缀的 TXT。")
        if st.button("校验并导入", type="primary", key="up_calls_go"):
            try:
                res = access.upload_calls(
                    ui.store(), ui.actor(), raw, file.name, progress=progress_bar()
                )
                ui.data_changed()
                st.success(res.summary())
            except ingest.IngestError as exc:
                st.error(f"文件未导入，数据库未改动：{exc}")
    else:
        try:
            sheets = ingest.excel_sheets(raw) if file.name.lower().endswith(".xlsx") else []
            sheet = st.selectbox("工作表", sheets, key="up_sheet") if len(sheets) > 1 else None
            df = ingest.read_table(raw, file.name, sheet)
        except ingest.IngestError as exc:
            st.error(f"无法读取：{exc}")
            st.stop()
        cols = list(df.columns)
        guess = ingest.saved_mapping(ui.store(), cols) or ingest.guess_mapping(cols)
        st.markdown("**列映射**（已按表头自动猜测；同样表头的文件下次自动沿用）")
        grid = st.columns(3)
        mapping = {}
        for i, (fld, label) in enumerate(ingest.SURVEY_FIELDS.items()):
            options = [None, *cols]
            default = options.index(guess[fld]) if guess.get(fld) in cols else 0
            choice = grid[i % 3].selectbox(
                label,
                options,
                index=default,
                key=f"up_map_{fld}",
                format_func=lambda v: "（不导入）" if v is None else v,
            )
            if choice:
                mapping[fld] = choice
        st.markdown(f"**预览**（共 {len(df):,} 行）")
        st.dataframe(mask_frame(df.head(10)), width="stretch", hide_index=True)
        clean, problems = ingest.validate_survey(df, mapping)
        errors = [p for p in problems if p.severity == "error"]
        if problems:
            report = pd.DataFrame(
                [
                    {
                        "行": p.row,
                        "列": p.column,
                        "问题": p.message,
                        "级别": "错误" if p.severity == "error" else "提示",
                    }
                    for p in problems
                ]
            )
            (st.error if errors else st.warning)(
                f"校验发现 {len(errors)} 处错误、{len(problems) - len(errors)} 条提示"
                + ("：修正后才能导入。" if errors else "。")
            )
            st.dataframe(report, hide_index=True, width="stretch")
        else:
            st.success(f"校验通过：{len(clean):,} 行可导入。")
        if st.button("评分并导入", type="primary", disabled=bool(errors), key="up_go"):
            try:
                res = access.upload_survey(
                    ui.store(),
                    ui.actor(),
                    raw,
                    file.name,
                    mapping=mapping,
                    sheet=sheet,
                    progress=progress_bar(),
                )
                if not res.duplicate:
                    ingest.save_mapping(ui.store(), cols, mapping)
                ui.data_changed()
                (st.info if res.duplicate else st.success)(res.summary())
            except ingest.IngestError as exc:
                st.error(f"文件未导入，数据库未改动：{exc}")

st.divider()
st.subheader("已导入批次")
batches = list_batches(ui.store())
st.dataframe(
    batches.rename(
        columns={
            "batch_id": "批次",
            "file_name": "文件",
            "kind": "类型",
            "row_count": "行数",
            "uploaded_by": "上传人",
            "uploaded_at": "上传时间",
            "status": "状态",
            "is_demo": "示例数据",
            "model_id": "模型",
        }
    ),
    hide_index=True,
    width="stretch",
)
if ui.actor().can("delete_batch"):  # admin only; data.access checks again
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
            n = access.delete_batch(ui.store(), ui.actor(), victim)
            ui.data_changed()
            st.success(f"已删除 {victim}（{n:,} 行）")
    with c2:
        if has_demo(ui.store()) and st.button("一键移除示例数据", key="up_rm_demo"):
            n = access.remove_demo(ui.store(), ui.actor())
            ui.data_changed()
            st.success(f"已移除示例数据（{n:,} 行）")
else:
    st.caption("删除批次与移除示例数据由管理员操作。")
