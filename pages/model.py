"""模型评估：在标注文件上并排评估两个模型，并查看模型与人工复核的一致率。"""

import streamlit as st

from data import access, ingest, reviews
from nlp.evaluate import MULTI_LABEL_TITLES, evaluate_columns, evaluate_frame
from nlp.heads import load_heads
from nlp.pipeline import score_frame
from nlp.sentiment import available_backends
from pages import _cache as cache
from pages import _cards as cards
from pages import _charts as charts
from pages import _format as fmt
from pages import _model_versions as versions
from pages import _session as session
from pages import _widgets as widgets

who = session.require("evaluate_model")
st.title("模型评估")
st.caption(versions.version_caption())
agree = reviews.agreement(cache.store())
c = st.columns(3)
c[0].metric("已复核记录", fmt.integer(agree["reviewed"]))
c[1].metric(
    "情感一致率",
    fmt.percent(agree["sentiment_agreement"]),
    help=f"基于 {agree['sentiment_n']} 条人工修正/确认的情感",
)
c[2].metric(
    "投诉判断一致率",
    fmt.percent(agree["complaint_agreement"]),
    help=f"基于 {agree['complaint_n']} 条复核",
)
st.subheader("标签模型卡")
heads = load_heads()
if heads is None:
    st.info("未安装学习标签头：情绪、投诉、催收方式与诉求只来自线索规则。")
else:
    st.caption(fmt.heads_card_caption(heads.card))
    st.dataframe(fmt.heads_card_table(heads.card), hide_index=True, width="stretch")
st.caption(
    "自定义情感模型（本地 Hugging Face 目录）只替换情感判断；情绪、投诉、催收方式与诉求"
    "仍来自内置的学习标签头（字符 n-gram）与线索规则，方面情感来自默认编码器；风险预警"
    "来自内置的风险模型与线索规则；通话违规、接听方与通话情绪来自规则与内置的通话标签头。"
)
cards.model_cards()
labelled = access.reviewed_labels(cache.store(), session.actor())
if not labelled.empty:
    widgets.download_buttons(labelled, "复核标注集", "md_reviewed")

versions.section(cache.store(), who)

st.subheader("上传标注文件评估")
st.caption(
    "需要文本列与 sentiment 列（negative/neutral/positive），可选 aspects（JSON）、complaint、"
    "emotions、requests 列；每个标签给出精确率、召回率与 F1。"
)
file = st.file_uploader("标注文件", type=["csv", "xlsx", "jsonl"], key="md_file")
backends = {b.name: b.description for b in available_backends()}  # the registry
models = st.multiselect(
    "对比模型（最多两个）",
    list(backends),
    default=["default", "lexicon"],
    max_selections=2,
    key="md_models",
    format_func=backends.get,
)
custom = st.text_input("或填写本地 Hugging Face 模型目录", key="md_custom")
if custom:
    models = [*models[:1], custom]
if file is not None:
    try:
        df = cache.read_table(file.getvalue(), file.name)
    except ingest.IngestError as exc:
        st.error(fmt.error_message(exc, "无法读取文件："))
        st.stop()
    cols = list(df.columns)
    text_col = st.selectbox(
        "文本列", cols, index=cols.index("text") if "text" in cols else 0, key="md_text"
    )
    spec = {k: (k if k in cols else None) for k in evaluate_columns()}
    if st.button("开始评估", type="primary", key="md_go") and models:
        for col, name in zip(st.columns(len(models)), models, strict=True):
            with col, st.spinner(f"{name} 评分中……"):
                pred = score_frame(df[[text_col]].copy(), text_col, name)
                rep = evaluate_frame(df, pred, spec)
                st.markdown(f"#### {name}")
                if "sentiment" in rep:
                    s = rep["sentiment"]
                    st.metric("准确率", fmt.percent(s["accuracy"]))
                    st.metric("Macro-F1", fmt.decimal(s["macro_f1"], 3))
                    st.plotly_chart(
                        charts.confusion_heatmap(s["confusion"], s["labels"], "情感混淆矩阵"),
                        width="stretch",
                        key=f"md_cm_{name}",
                    )
                if "complaint" in rep:
                    st.markdown(f"投诉识别 F1：**{rep['complaint']['f1']:.3f}**")
                for key, title in MULTI_LABEL_TITLES.items():
                    if key in rep:
                        st.markdown(f"{title} F1：**{rep[key]['f1']:.3f}**")
                        table = fmt.per_label_table(rep[key]["per_label"])
                        st.dataframe(table, hide_index=True, width="stretch")
