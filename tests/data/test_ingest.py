"""Reading, mapping and validating uploads (data.ingest), on real bytes and a real DuckDB file."""

from __future__ import annotations

import io
import json
from datetime import datetime

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.ingest import (
    IngestError,
    decode_bytes,
    excel_sheets,
    guess_mapping,
    ingest_survey_bytes,
    neutralise_formula,
    read_table,
    validate_survey,
)

HEADER = "回答内容,提交日期,满意度,产品,地区,逾期阶段"
SIMPLIFIED = [
    HEADER,
    "催收员态度很好，帮我申请了分期,2026-05-01,5,信用卡,广东,M1",
    "天天打电话骚扰我家人，太过分了,2026-05-02,1,消费贷,北京,M2",
]
TRADITIONAL = ["回答內容,地區", "催收員態度很好，給我分期了,臺北", "天天打電話騷擾我家人,高雄"]


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def validate(raw: bytes, name: str = "f.csv"):
    df = read_table(raw, name)
    return validate_survey(df, guess_mapping(list(df.columns)))


# --------------------------------------------------------------------------- encodings
@pytest.mark.parametrize(
    ("encoding", "lines"),
    [
        ("utf-8", SIMPLIFIED),
        ("utf-8-sig", SIMPLIFIED),
        ("gbk", SIMPLIFIED),
        ("gb18030", [*SIMPLIFIED, "生僻字䶮、𠮷和表情😀,2026-05-03,3,信用卡,广东,M1"]),
        ("utf-8", TRADITIONAL),
        ("gbk", TRADITIONAL),
        ("big5", TRADITIONAL),
    ],
)
def test_encodings_are_read_exactly(encoding: str, lines: list[str]) -> None:
    df = read_table(csv_bytes(lines, encoding), "f.csv")
    header = lines[0].split(",")
    assert list(df.columns) == header  # no BOM left on the first column name
    assert df[header[0]].tolist() == [line.split(",")[0] for line in lines[1:]]


def test_big5_is_not_taken_for_gb18030() -> None:
    text, encoding = decode_bytes(csv_bytes(TRADITIONAL, "big5"))
    assert encoding == "big5"
    assert "催收員態度很好" in text


def test_a_utf8_file_with_one_foreign_line_is_rejected_naming_the_line() -> None:
    raw = b"\n".join(
        line.encode("gbk" if i == 2 else "utf-8")
        for i, line in enumerate([*SIMPLIFIED, "客服很耐心,2026-05-03,4,信用卡,上海,M1"])
    )
    with pytest.raises(IngestError, match="第 3 行") as info:
        read_table(raw, "f.csv")
    assert info.value.problems[0].row == 3


def test_stored_text_survives_each_encoding(tmp_store) -> None:
    for encoding in ("gbk", "big5"):
        lines = TRADITIONAL if encoding == "big5" else SIMPLIFIED
        ingest_survey_bytes(tmp_store, csv_bytes(lines, encoding), f"{encoding}.csv")
    texts = set(tmp_store.query("SELECT text FROM responses")["text"])
    assert texts == {line.split(",")[0] for line in SIMPLIFIED[1:] + TRADITIONAL[1:]}


# --------------------------------------------------------------------------- CSV shapes
def test_fullwidth_commas_in_answers_do_not_change_the_delimiter() -> None:
    lines = ["回答内容,地区"] + ["态度很好，给我分期了，谢谢，真的很感谢,广东"] * 5
    df = read_table(csv_bytes(lines), "f.csv")
    assert list(df.columns) == ["回答内容", "地区"]
    assert df["地区"].tolist() == ["广东"] * 5


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(delimiter: str) -> None:
    lines = [line.replace(",", delimiter) for line in SIMPLIFIED]
    df = read_table(csv_bytes(lines), "f.csv")
    assert list(df.columns) == HEADER.split(",")
    assert len(df) == 2


def test_row_numbers_are_file_lines_even_after_blank_lines() -> None:
    raw = csv_bytes(["回答内容,满意度", "", "很好,5", "", "", "一般,六"])
    _, problems = validate(raw)
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.row, p.column) for p in errors] == [(6, "满意度")]
    assert str(errors[0]).startswith("第 6 行，列「满意度」")


def test_multiline_cells_count_as_their_first_line() -> None:
    raw = csv_bytes(["回答内容,满意度", '"第一行\n第二行",5', "一般,9"])
    _, problems = validate(raw)
    assert [(p.row, p.column) for p in problems] == [(4, "满意度")]


def test_ragged_rows_and_unclosed_quotes_name_the_line() -> None:
    with pytest.raises(IngestError, match="第 4 行") as info:
        read_table(csv_bytes(["回答内容,地区", "很好,广东", "", "太差,北京,多余"]), "f.csv")
    assert [p.row for p in info.value.problems] == [4]
    with pytest.raises(IngestError, match="第 3 行"):
        read_table(csv_bytes(["回答内容,地区", "很好,广东", '"太差,北京', "一般,上海"]), "f.csv")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "空"),
        (b" \n\n\t\n", "空"),
        (csv_bytes([HEADER]), "只有表头"),
        (csv_bytes(["回答内容,地区,地区", "a,b,c"]), "重复列名"),
    ],
)
def test_unusable_files_are_rejected(raw: bytes, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        read_table(raw, "f.csv")


def test_unknown_extension_is_rejected() -> None:
    with pytest.raises(IngestError, match="不支持的文件类型"):
        read_table(b"a,b\n1,2\n", "f.docx")


# --------------------------------------------------------------------------- XLSX
def test_xlsx_first_sheet_by_default_and_a_named_sheet() -> None:
    raw = xlsx_bytes(
        {
            "问卷": [["回答内容", "满意度"], ["态度很好", 5], ["太过分了", 1]],
            "五月": [["回答内容", "提交日期"], ["五月的回答", datetime(2026, 5, 20, 9, 30)]],
        }
    )
    assert excel_sheets(raw) == ["问卷", "五月"]
    first = read_table(raw, "f.xlsx")
    assert first.to_dict("list") == {"回答内容": ["态度很好", "太过分了"], "满意度": ["5", "1"]}
    may = read_table(raw, "f.xlsx", sheet="五月")
    assert may.to_dict("list") == {"回答内容": ["五月的回答"], "提交日期": ["2026-05-20T09:30:00"]}
    assert read_table(raw, "f.xlsx", sheet=1).equals(may)
    with pytest.raises(IngestError, match="找不到工作表「六月」"):
        read_table(raw, "f.xlsx", sheet="六月")


def test_xlsx_serial_dates_and_sheet_row_numbers() -> None:
    raw = xlsx_bytes(
        {
            "s": [
                ["回答内容", "提交日期", "满意度"],
                ["很好", 46143, 5],
                [],
                ["一般", 46144.5, 4],
                ["太差", "2026-05-03", "六"],
            ]
        }
    )
    clean, problems = validate(raw, "f.xlsx")
    assert [(p.row, p.column) for p in problems] == [(5, "满意度")]
    assert clean["submitted_at"].tolist()[:2] == [
        pd.Timestamp("2026-05-01"),
        pd.Timestamp("2026-05-02 12:00"),
    ]


# --------------------------------------------------------------------------- mapping
def test_guess_mapping_for_typical_chinese_headers() -> None:
    columns = ["回答内容", "提交日期", "满意度", "产品", "地区", "逾期阶段"]
    assert guess_mapping(columns) == {
        "text": "回答内容",
        "submitted_at": "提交日期",
        "csat": "满意度",
        "product": "产品",
        "region": "地区",
        "overdue_bucket": "逾期阶段",
    }


def test_guess_mapping_for_the_full_template_and_english_headers() -> None:
    template = [
        "受访者ID",
        "回答文本",
        "提交日期",
        "产品",
        "地区",
        "逾期阶段",
        "催收渠道",
        "满意度(1-5)",
        "推荐度(0-10)",
    ]
    assert guess_mapping(template) == {
        "respondent_id": "受访者ID",
        "text": "回答文本",
        "submitted_at": "提交日期",
        "product": "产品",
        "region": "地区",
        "overdue_bucket": "逾期阶段",
        "channel": "催收渠道",
        "csat": "满意度(1-5)",
        "nps": "推荐度(0-10)",
    }
    assert guess_mapping(["user_id", "comment", "date", "NPS"]) == {
        "respondent_id": "user_id",
        "text": "comment",
        "submitted_at": "date",
        "nps": "NPS",
    }


# --------------------------------------------------------------------------- validation
def test_validation_names_row_and_column_for_each_bad_cell(tmp_store, db_tools) -> None:
    raw = csv_bytes(
        [
            "回答内容,满意度,推荐度,提交日期",
            "很好,5,9,2026-05-01",
            "一般,六,5,2026-05-02",
            "还行,4,11,2026-05-03",
            "太差,1,0,2026-02-30",
        ]
    )
    before = db_tools.contents(tmp_store)
    with pytest.raises(IngestError) as info:
        ingest_survey_bytes(tmp_store, raw, "bad.csv")
    found = {(p.row, p.column) for p in info.value.problems if p.severity == "error"}
    assert found == {(3, "满意度"), (4, "推荐度"), (5, "提交日期")}
    assert "3 处错误" in str(info.value)
    assert "「六」" in " ".join(map(str, info.value.problems))
    assert db_tools.contents(tmp_store) == before  # the whole file is rejected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("5", True),
        ("1", True),
        (" 3 ", True),
        ("4.0", True),
        ("0", False),
        ("6", False),
        ("4.5", False),
        ("六", False),
        ("1,000", False),
        ("abc", False),
        ("inf", False),
    ],
)
def test_csat_values(value: str, ok: bool) -> None:
    _, problems = validate(csv_bytes(["回答内容,满意度", f'很好,"{value}"']))
    assert (not problems) == ok, problems


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-01", "2026-05-01 00:00"),
        ("2026/5/2", "2026-05-02 00:00"),
        ("2026年5月3日", "2026-05-03 00:00"),
        ("2026-05-04 09:30:00", "2026-05-04 09:30"),
        ("2026-05-05T10:00:00+08:00", "2026-05-05 10:00"),
        ("2026-05-06T02:00:00Z", "2026-05-06 10:00"),  # UTC -> Asia/Shanghai
        ("2026-05-07T00:00:00-05:00", "2026-05-07 13:00"),
        ("46143", "2026-05-01 00:00"),  # Excel serial
    ],
)
def test_date_formats_and_time_zones(value: str, expected: str) -> None:
    clean, problems = validate(csv_bytes(["回答内容,提交日期", f"很好,{value}"]))
    assert problems == []
    assert clean["submitted_at"].iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("value", ["2026-02-30", "9999-12-31", "0001-01-01", "昨天", "2026-13-01"])
def test_bad_dates_are_problems_not_crashes(value: str) -> None:
    _, problems = validate(csv_bytes(["回答内容,提交日期", f"很好,{value}"]))
    assert [(p.row, p.column, p.severity) for p in problems] == [(2, "提交日期", "error")]


def test_empty_answers_are_skipped_with_a_warning(tmp_store) -> None:
    raw = csv_bytes(["回答内容,地区", "很好,广东", "   ,北京", "\u3000,上海", ",深圳", "太差,杭州"])
    result = ingest_survey_bytes(tmp_store, raw, "f.csv")
    assert result.rows == 2
    assert [(w.row, w.column, w.severity) for w in result.warnings] == [
        (3, "回答内容", "warning"),
        (4, "回答内容", "warning"),
        (5, "回答内容", "warning"),
    ]
    stored = tmp_store.query("SELECT text, region FROM responses ORDER BY response_id")
    assert stored.to_dict("list") == {"text": ["很好", "太差"], "region": ["广东", "杭州"]}


def test_survey_tool_placeholders_count_as_empty_and_are_reported(tmp_store) -> None:
    lines = ["回答内容,地区", "很好,广东", "(空),北京", "N/A,上海", "没有,深圳", "（空）,杭州"]
    raw = csv_bytes([*lines, " - ,南京", "n/a,成都", "太差,武汉", "无,西安", "(跳过),重庆"])
    result = ingest_survey_bytes(tmp_store, raw, "f.csv")
    assert result.rows == 3
    assert [str(w) for w in result.warnings] == [
        "列「回答内容」：7 行为占位符（(空)、N/A、-、无、(跳过)），按空回答跳过：第 3、4、6、7、8、10、11 行"
    ]
    stored = tmp_store.query("SELECT text FROM responses ORDER BY response_id")["text"].tolist()
    assert stored == ["很好", "没有", "太差"]  # 没有 can be a real answer: kept


def test_placeholders_are_listed_with_the_blank_answers_in_the_validation_report() -> None:
    _, problems = validate(
        csv_bytes(["回答内容,地区", "很好,广东", ",北京", "-,上海", "太差,杭州"])
    )
    assert [(p.row, p.severity) for p in problems] == [(3, "warning"), (None, "warning")]
    assert "1 行为占位符（-），按空回答跳过：第 4 行" in problems[1].message


def test_the_placeholder_list_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = csv_bytes(["回答内容", "很好", "无", "暂无", "N/A"])
    monkeypatch.setenv("BV_EMPTY_ANSWERS", "暂无, 无")
    clean, problems = validate(raw)
    assert clean["text"].tolist() == ["很好", "N/A"]
    assert "2 行为占位符（无、暂无）" in problems[0].message
    monkeypatch.setenv("BV_EMPTY_ANSWERS", "off")
    clean, problems = validate(raw)
    assert len(clean) == 4 and problems == []
    df = pd.DataFrame({"回答内容": ["好", "(空)"]})
    assert validate_survey(df, {"text": "回答内容"}, empty_answers=["好"])[0]["text"].tolist() == [
        "(空)"
    ]


def test_only_placeholders_is_an_error(tmp_store, db_tools) -> None:
    with pytest.raises(IngestError, match="没有可导入的非空回答"):
        ingest_survey_bytes(tmp_store, csv_bytes(["回答内容", "(空)", "N/A"]), "f.csv")
    assert db_tools.counts(tmp_store)["batches"] == 0


def test_partly_empty_optional_columns(tmp_store) -> None:
    raw = csv_bytes(["回答内容,逾期阶段,产品,满意度", "很好,m3,信用卡,5", "一般,,,", "太差,M6,,1"])
    ingest_survey_bytes(tmp_store, raw, "f.csv")
    got = tmp_store.query(
        "SELECT overdue_bucket, product, csat FROM responses ORDER BY response_id"
    )
    assert got["overdue_bucket"].tolist()[::2] == ["M3+", "M3+"]
    assert got.iloc[1].isna().all()


def test_only_empty_answers_is_an_error(tmp_store, db_tools) -> None:
    with pytest.raises(IngestError, match="没有可导入的非空回答"):
        ingest_survey_bytes(tmp_store, csv_bytes(["回答内容,地区", " ,广东"]), "f.csv")
    assert db_tools.counts(tmp_store)["batches"] == 0


def test_missing_values_in_jsonl_and_parquet_are_none_not_nan(tmp_store) -> None:
    raw = "\n".join(
        json.dumps(r, ensure_ascii=False)
        for r in [{"text": "很好", "地区": "广东"}, {"text": "太差"}, {"地区": "上海"}]
    ).encode()
    result = ingest_survey_bytes(tmp_store, raw, "f.jsonl")
    assert result.rows == 2 and [w.row for w in result.warnings] == [3]
    buf = io.BytesIO()
    pd.DataFrame({"text": ["一般", None], "csat": [3.0, None]}).to_parquet(buf)
    ingest_survey_bytes(tmp_store, buf.getvalue(), "f.parquet")
    stored = tmp_store.query("SELECT text, region, csat FROM responses ORDER BY text")
    assert "nan" not in stored["text"].tolist() and "nan" not in stored["region"].tolist()
    assert stored["text"].tolist() == sorted(["很好", "太差", "一般"])


def test_text_limit_and_row_limit() -> None:
    df = read_table(csv_bytes(["回答内容", "很" * 50, "好"]), "f.csv")
    _, problems = validate_survey(df, {"text": "回答内容"}, max_text_chars=40)
    assert [(p.row, p.severity) for p in problems] == [(2, "error")]


def test_max_rows_and_text_column_option(tmp_store) -> None:
    raw = csv_bytes(["编号,备注,意见", "1,无,态度很好", "2,无,太过分了"])
    with pytest.raises(IngestError, match="超过上限"):
        ingest_survey_bytes(tmp_store, raw, "f.csv", max_rows=1)
    with pytest.raises(IngestError, match="找不到文本列「评论」"):
        ingest_survey_bytes(tmp_store, raw, "f.csv", text_column="评论")
    ingest_survey_bytes(tmp_store, raw, "f.csv", text_column="意见")
    assert sorted(tmp_store.query("SELECT text FROM responses")["text"]) == ["太过分了", "态度很好"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("很好", "很好"),
        ("a=b", "a=b"),
        (5, 5),
        (None, None),
    ],
)
def test_neutralise_formula(value, expected) -> None:
    assert neutralise_formula(value) == expected


def test_formula_like_answers_are_stored_verbatim(tmp_store) -> None:
    texts = ['=HYPERLINK("x")', "+86 一直打", "-还款计划不错", "@客服 很好"]
    ingest_survey_bytes(tmp_store, csv_bytes(["回答内容", *texts]), "f.csv")
    assert sorted(tmp_store.query("SELECT text FROM responses")["text"]) == sorted(texts)


# --------------------------------------------------------------------------- properties
CHARS = [*"ab好差，,;\t|\"' \n\r\x00=-+@0123456789六.年月日/:", "😀", "\u3000", "\ufeff"]
CELL = st.text(alphabet=st.sampled_from(CHARS), max_size=12)
NAMES = st.sampled_from(
    ["f.csv", "f.tsv", "f.txt", "f.jsonl", "f.json", "f.xlsx", "f.parquet", "f"]
)
RAGGED = st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=0, max_size=6)
PLAIN_CELL = st.just("") | st.text(alphabet=st.sampled_from([*"ab好差 六0123456789-./年月日:"]))
RECTANGULAR = st.integers(1, 4).flatmap(  # well-formed tables with empty cells
    lambda width: st.lists(st.lists(PLAIN_CELL, min_size=width, max_size=width), max_size=6)
)
SHAPE = st.one_of(RECTANGULAR, RAGGED)


def _read_and_validate(raw: bytes, name: str) -> None:
    try:
        df = read_table(raw, name)
    except IngestError:
        return
    columns = list(df.columns)
    first, last = columns[0], columns[-1]
    every_field = {
        "text": first,
        "csat": last,
        "nps": last,
        "submitted_at": first,
        "overdue_bucket": last,
        "region": first,
        "respondent_id": last,
    }
    for mapping in (guess_mapping(columns), every_field):
        _, problems = validate_survey(df, mapping)
        assert all(p.severity in ("error", "warning") for p in problems)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=300), name=NAMES)
def test_random_bytes_raise_only_ingest_error(raw: bytes, name: str) -> None:
    _read_and_validate(raw, name)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=SHAPE,
    delimiter=st.sampled_from([",", ";", "\t", "，"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
)
def test_random_csv_shapes_raise_only_ingest_error(rows, delimiter, encoding) -> None:
    text = "\n".join(delimiter.join(row) for row in rows)
    _read_and_validate(text.encode(encoding), "f.csv")


@pytest.fixture(scope="module")
def property_store(tmp_path_factory, db_tools):
    from data.store import open_store

    path = tmp_path_factory.mktemp("prop") / "prop.duckdb"
    yield open_store(path)
    db_tools.close(path)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=SHAPE, raw=st.binary(max_size=200), use_rows=st.booleans())
def test_rejected_random_files_never_write(property_store, db_tools, rows, raw, use_rows) -> None:
    if use_rows:
        raw = ("\n".join(",".join(r) for r in [["回答内容", "满意度"], *rows])).encode("utf-8")
    before = db_tools.counts(property_store)
    try:
        result = ingest_survey_bytes(property_store, raw, "f.csv", model="lexicon")
    except IngestError:
        assert db_tools.counts(property_store) == before
        return
    after = db_tools.counts(property_store)
    if result.duplicate:
        assert after == before
    else:
        assert after["responses"] == before["responses"] + result.rows
        assert after["batches"] == before["batches"] + 1


# --------------------------------------------------------------------------- duplicate rows
ANSWERS = [  # text, date, csat, product, region, channel
    (
        f"第{i}次来电态度{'很好' if i % 2 else '很差'}，希望能分期",
        datetime(2026, 5, 1 + i % 20),
        1 + i % 5,
        "信用卡" if i % 3 else "消费贷",
        ["广东", "北京", "上海"][i % 3],
        "电话",
    )
    for i in range(29)
] + [("很好", datetime(2026, 5, 3), 5, "信用卡", "广东", "电话")] * 2  # a repeat inside the file
ANSWER_HEADER = ["回答内容", "提交日期", "满意度", "产品", "地区", "催收渠道"]


def answers_xlsx(rows=ANSWERS) -> bytes:
    return xlsx_bytes({"答卷": [ANSWER_HEADER, *[list(r) for r in rows]]})


def answers_gbk_csv(rows=ANSWERS) -> bytes:
    """The same answers as a survey tool's GBK CSV: other date format, full-width spaces."""
    frame = pd.DataFrame(
        [(f" {t}\u3000", f"{d:%Y/%m/%d}", c, p, r, ch) for t, d, c, p, r, ch in rows],
        columns=ANSWER_HEADER,
    )
    return frame.to_csv(index=False).encode("gbk")


def test_the_same_rows_as_xlsx_then_as_gbk_csv_are_skipped(tmp_store, db_tools) -> None:
    first = ingest_survey_bytes(tmp_store, answers_xlsx(), "答卷.xlsx")
    assert first.rows == len(ANSWERS) == 31 and first.skipped_duplicates == 0  # the repeat too
    before = db_tools.contents(tmp_store)
    again = ingest_survey_bytes(tmp_store, answers_gbk_csv(), "答卷.csv")
    assert not again.duplicate  # other bytes: the file check alone would store them again
    assert (again.rows, again.batch_id, again.skipped_duplicates) == (0, None, 31)
    assert again.summary() == "31 行已存在，已跳过；没有新的行需要导入。"
    assert db_tools.contents(tmp_store) == before  # nothing written, not even a batch


def test_keep_duplicates_stores_them_anyway(tmp_store) -> None:
    ingest_survey_bytes(tmp_store, answers_xlsx(), "答卷.xlsx")
    kept = ingest_survey_bytes(tmp_store, answers_gbk_csv(), "答卷.csv", keep_duplicates=True)
    assert (kept.rows, kept.kept_duplicates, kept.skipped_duplicates) == (31, 31, 0)
    assert "31 行与已有数据重复" in kept.summary()
    assert tmp_store.scalar("SELECT count(*) FROM responses") == 62


def test_only_the_new_rows_of_a_larger_export_are_stored(tmp_store) -> None:
    ingest_survey_bytes(tmp_store, answers_xlsx(ANSWERS[:10]), "五月上.xlsx")
    bigger = ingest_survey_bytes(tmp_store, answers_gbk_csv(), "五月.csv")
    assert (bigger.rows, bigger.skipped_duplicates) == (21, 10)
    assert bigger.summary().endswith("；10 行已存在，已跳过。")
    assert tmp_store.scalar("SELECT count(*) FROM responses") == 31


def test_each_stored_copy_matches_one_new_copy(tmp_store) -> None:
    two = [("很好", datetime(2026, 5, 3), 5, "信用卡", "广东", "电话")] * 2
    assert ingest_survey_bytes(tmp_store, answers_xlsx(two), "a.xlsx").rows == 2
    three = ingest_survey_bytes(tmp_store, answers_gbk_csv([*two, two[0]]), "b.csv")
    assert (three.rows, three.skipped_duplicates) == (1, 2)


@pytest.mark.parametrize(
    ("change", "repeat"),
    [
        ({}, True),
        ({"回答内容": "ＨＥＬＬＯ   World"}, True),  # width, spaces and case do not count
        ({"回答内容": "Hello World!"}, False),
        ({"提交日期": "2026-05-02"}, False),
        ({"提交日期": "2026-05-01 18:30"}, True),  # the same day
        ({"地区": "北京"}, False),
        ({"产品": "消费贷"}, False),
        ({"催收渠道": "短信"}, False),
        ({"满意度": "1"}, True),  # not part of the key
    ],
)
def test_what_makes_a_row_a_repeat_without_respondent_ids(tmp_store, change, repeat) -> None:
    from data.ingest import stored_duplicates

    row = {"回答内容": "hello world", "提交日期": "2026-05-01", "满意度": "5", "产品": "信用卡",
           "地区": "广东", "催收渠道": "电话"}  # fmt: skip
    ingest_survey_bytes(tmp_store, csv_bytes([",".join(row), ",".join(row.values())]), "a.csv")
    new = row | change
    clean, _ = validate(csv_bytes([",".join(new), ",".join(new.values())]))
    assert stored_duplicates(tmp_store, clean).tolist() == [repeat]


def test_a_mapped_respondent_id_decides(tmp_store) -> None:
    header = "受访者ID,回答内容,提交日期"
    ingest_survey_bytes(
        tmp_store, csv_bytes([header, "R1,很好,2026-05-01", "R2,太差,2026-05-01"]), "a.csv"
    )
    res = ingest_survey_bytes(
        tmp_store,
        csv_bytes([header, "R1,很好（改过）,2026-05-09", "R3,太差,2026-05-01", ",太差,2026-05-01"]),
        "b.csv",
    )
    # R1 is stored (other text, same id); R3 is new (same text, other id); no id: by the text
    assert (res.rows, res.skipped_duplicates) == (1, 2)
    assert tmp_store.query("SELECT respondent_id FROM responses ORDER BY 1")[
        "respondent_id"
    ].tolist() == ["R1", "R2", "R3"]
