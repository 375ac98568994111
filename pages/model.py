"""模型评估：在标注文件上并排评估两个模型，并查看模型与人工复核的一致率。"""

import pandas as pd
import streamlit as st

from data import access, ingest, reviews
from nlp.evaluate import evaluate_frame
from nlp.labels import TACTIC_NAMES_ZH
from nlp.pipeline import score_frame
from pages import _charts as charts
from pages import _ui as ui

ui.require("evaluate_model")
st.title("模型评估")
agree = reviews.agreement(ui.store())
c = st.columns(3)
c[0].metric("已复核记录", ui.fmt_int(agree["reviewed"]))
c[1].metric(
    "情感一致率",
    ui.fmt_pct(agree["sentiment_agreement"]),
    help=f"基于 {agree['sentiment_n']} 条人工修正/确认的情感",
)
c[2].metric(
    "投诉判断一致率",
    ui.fmt_pct(agree["complaint_agreement"]),
    help=f"基于 {agree['complaint_n']} 条复核",
)
labelled = access.reviewed_labels(ui.store(), ui.actor())
if not labelled.empty:
    ui.download_buttons(labelled, "复核标注集", "md_reviewed")

st.subheader("上传标注文件评估")
st.caption(
    "需要文本列与 sentiment 列（negative/neutral/positive），可选 aspects（JSON）、complaint 列。"
)
file = st.file_uploader("标注文件", type=["csv", "xlsx", "jsonl"], key="md_file")
models = st.multiselect(
    "对比模型（最多两个）",
    ["default", "lexicon"],
    default=["default", "lexicon"],
    max_selections=2,
    key="md_models",
    format_func={"default": "默认 Transformer", "lexicon": "词典规则"}.get,
)
custom = st.text_input("或填写本地 Hugging Face 模型目录", key="md_custom")
if custom:
    models = [*models[:1], custom]
if file is not None:
    try:
        df = ingest.read_table(file.getvalue(), file.name)
    except ingest.IngestError as exc:
        st.error(str(exc))
        st.stop()
    cols = list(df.columns)
    text_col = st.selectbox(
        "文本列", cols, index=cols.index("text") if "text" in cols else 0, key="md_text"
    )
    spec = {k: (k if k in cols else None) for k in ("sentiment", "aspects", "complaint")}
    if st.button("开始评估", type="primary", key="md_go") and models:
        for col, name in zip(st.columns(len(models)), models, strict=True):
            with col, st.spinner(f"{name} 评分中……"):
                pred = score_frame(df[[text_col]].copy(), text_col, name)
                rep = evaluate_frame(df, pred, spec)
                st.markdown(f"#### {name}")
                if "sentiment" in rep:
                    s = rep["sentiment"]
                    st.metric("准确率", ui.fmt_pct(s["accuracy"]))
                    st.metric("Macro-F1", ui.fmt_num(s["macro_f1"], 3))
                    st.plotly_chart(
                        charts.confusion_heatmap(s["confusion"], s["labels"], "情感混淆矩阵"),
                        width="stretch",
                        key=f"md_cm_{name}",
                    )
                if "aspect_detection" in rep:
                    per = rep["aspect_detection"]["per_label_f1"]
                    st.markdown(f"催收方式识别 F1：**{rep['aspect_detection']['f1']:.3f}**")
                    st.dataframe(
                        pd.DataFrame(
                            {
                                "催收方式": [TACTIC_NAMES_ZH.get(k, k) for k in per],
                                "F1": [round(v, 3) for v in per.values()],
                            }
                        ),
                        hide_index=True,
                        width="stretch",
                    )
                if "complaint" in rep:
                    st.markdown(f"投诉识别 F1：**{rep['complaint']['f1']:.3f}**")
