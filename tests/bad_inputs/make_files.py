"""Write the bad-input corpus next to this script (deterministic: same bytes on every run).

    .venv/bin/python tests/bad_inputs/make_files.py [OUT_DIR]

Each file's expected outcome, and why, is in ``expected.csv``; ``tests/test_bad_inputs.py``
runs every file through ``python -m data ingest`` and the ingest functions, and checks that
this script still reproduces the committed files byte for byte.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

HEADER = "回答内容,提交日期,满意度,推荐度,产品,地区,逾期阶段"
ROWS = [
    "催收员态度很好，帮我申请了分期,2026-05-01,5,9,信用卡,广东,M1",
    "天天打电话骚扰我家人，太过分了,2026-05-02,1,0,消费贷,北京,M2",
    "客服解释得很清楚，谢谢,2026-05-03,4,8,信用卡,上海,M1",
]
TRADITIONAL_HEADER = "回答內容,提交日期,地區"
TRADITIONAL_ROWS = [
    "催收員態度很好，給我分期了,2026-05-01,臺北",
    "天天打電話騷擾我家人,2026-05-02,高雄",
]
FIXED_TIME = datetime(2026, 1, 1)


def csv_text(header: str, rows: list[str], newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


# --------------------------------------------------------------------------- xlsx helpers
def _xlsx_bytes(build: Callable) -> bytes:
    """An XLSX from openpyxl with fixed timestamps (document properties and zip entries)."""
    import openpyxl

    wb = openpyxl.Workbook()
    build(wb)
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with now()
                data = _fixed_core_times(data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, data)
    return out.getvalue()


def _fixed_core_times(xml: bytes) -> bytes:
    import re

    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(
        rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\2", xml
    )


def _survey_sheet(ws, rows: list[list]) -> None:
    ws.append(["回答内容", "提交日期", "满意度", "地区"])
    for row in rows:
        ws.append(row)


def several_sheets(wb) -> None:
    ws = wb.active
    ws.title = "问卷"
    _survey_sheet(
        ws,
        [
            ["态度很好，谢谢", "2026-05-01", 5, "广东"],
            ["天天打电话骚扰我家人", "2026-05-02", 1, "北京"],
        ],
    )
    notes = wb.create_sheet("说明")
    notes.append(["字段", "含义"])
    notes.append(["满意度", "1-5 分"])
    other = wb.create_sheet("五月")
    _survey_sheet(other, [["五月的回答：催收员很耐心", "2026-05-20", 4, "上海"]])


def merged_cells(wb) -> None:
    ws = wb.active
    _survey_sheet(
        ws,
        [
            ["态度很好，谢谢", "2026-05-01", 5, "广东"],
            ["天天打电话骚扰我家人", "2026-05-02", 1, None],
            ["客服很耐心", "2026-05-03", 4, "北京"],
        ],
    )
    ws.merge_cells("D2:D3")  # 地区 merged over two rows: only D2 keeps its value


def formula_column(wb) -> None:
    ws = wb.active
    ws.append(["回答内容", "满意度", "满意度x2"])
    ws.append(["态度很好，谢谢", 5, "=B2*2"])
    ws.append(["天天打电话骚扰我家人", 1, "=B3*2"])
    ws["D1"] = "备注"
    ws["D2"] = '=HYPERLINK("http://example.com")'


def excel_serial_dates(wb) -> None:
    ws = wb.active
    ws.append(["回答内容", "提交日期"])
    ws.append(["态度很好，谢谢", 46143])  # 2026-05-01 as an Excel serial number
    ws.append(["天天打电话骚扰我家人", 46144.5])  # 2026-05-02 12:00
    ws.append(["客服很耐心", datetime(2026, 5, 3, 9, 30)])  # a real date cell
    ws["B4"].number_format = "yyyy-mm-dd hh:mm"


def excel_blank_rows_bad_csat(wb) -> None:
    ws = wb.active
    ws.append(["回答内容", "满意度"])
    ws.append(["态度很好，谢谢", 5])
    ws.append([])  # sheet row 3 is blank
    ws.append(["客服很耐心", 4])
    ws.append(["天天打电话骚扰我家人", "六"])  # sheet row 5


def empty_sheet(wb) -> None:
    wb.active.title = "空白"


# --------------------------------------------------------------------------- other builders
def mixed_encoding() -> bytes:
    lines = ["回答内容,地区", "催收员态度很好,广东", "天天打电话骚扰我家人,北京", "客服很耐心,上海"]
    encoded = [line.encode("gbk" if i == 2 else "utf-8") for i, line in enumerate(lines)]
    return b"\n".join(encoded) + b"\n"  # line 3 is GBK, the rest UTF-8


def binary_junk() -> bytes:
    """A PNG-like binary renamed .csv: signature, NUL-padded chunks, compressed bytes."""
    body = zlib.compress(bytes(range(256)) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64 + body


def parquet_survey() -> bytes:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "回答内容": ["态度很好，谢谢", "天天打电话骚扰我家人"],
            "满意度": pd.array([5, 1], dtype="Int64"),
            "提交日期": pd.to_datetime(["2026-05-01", "2026-05-02"]),
            "地区": ["广东", None],
        }
    )
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def jsonl(records: list) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _call(call_id: str, turns: list[tuple[str, str]]) -> dict:
    return {
        "call_id": call_id,
        "borrower_id": "B1",
        "agent_id": "A1",
        "team": "M1组",
        "started_at": "2026-05-06T10:12:00+08:00",
        "duration_s": 60,
        "outcome": "promise_to_pay",
        "turns": [{"speaker": s, "text": t} for s, t in turns],
    }


TURNS = [
    ("agent", "您好，请问是张先生本人吗？"),
    ("borrower", "是我，什么事？"),
    ("agent", "您的借款逾期五天了，可以给您申请分期。"),
    ("borrower", "好的，我今晚还。"),
]


def files() -> dict[str, bytes]:
    """Every corpus file, by name."""
    long_text = ("催收员天天打电话骚扰，还联系我的家人和同事，让我非常焦虑。" * 3600)[:100_000]
    return {
        # ---- empty and header-only
        "empty.csv": b"",
        "whitespace_file.csv": b"  \n\n \r\n\t\n",
        "header_only.csv": utf8(HEADER + "\n"),
        "header_blank_rows.csv": utf8(HEADER + "\n\n,,,,,,\n   \n"),
        # ---- delimiters, ragged rows, quotes
        "semicolon.csv": utf8(
            csv_text(HEADER.replace(",", ";"), [r.replace(",", ";") for r in ROWS])
        ),
        "tab_separated.tsv": utf8(
            csv_text(HEADER.replace(",", "\t"), [r.replace(",", "\t") for r in ROWS])
        ),
        "wrong_delimiter.csv": utf8(csv_text("回答内容,地区", ["态度很好;广东", "太过分了;北京"])),
        "ragged_rows.csv": utf8(
            csv_text("回答内容,满意度,地区", ["态度很好,5,广东", "", "太过分了,1,北京,多余"])
        ),
        "unclosed_quote.csv": utf8(
            csv_text("回答内容,地区", ["态度很好,广东", '"天天打电话骚扰,北京', "客服很耐心,上海"])
        ),
        "fullwidth_commas.csv": utf8(
            csv_text(
                "回答内容,地区",
                [
                    "催收员态度很好，给我分期了，谢谢，真的很感谢,广东",
                    "天天打电话，还打给我家人，太过分了，受不了,北京",
                ],
            )
        ),
        "crlf_blank_lines.csv": utf8(
            csv_text(HEADER, [ROWS[0], "", ROWS[1], "", ROWS[2]], newline="\r\n")
        ),
        "duplicate_header.csv": utf8(csv_text("回答内容,地区,地区", ["态度很好,广东,北京"])),
        # ---- encodings
        "utf8.csv": utf8(csv_text(HEADER, ROWS)),
        "utf8_bom.csv": b"\xef\xbb\xbf" + utf8(csv_text(HEADER, ROWS)),
        "gbk.csv": csv_text(HEADER, ROWS).encode("gbk"),
        "gb18030.csv": csv_text(
            HEADER, [*ROWS, "生僻字䶮和𠮷，还有表情😀,2026-05-04,3,5,信用卡,广东,M1"]
        ).encode("gb18030"),
        "big5.csv": csv_text(TRADITIONAL_HEADER, TRADITIONAL_ROWS).encode("big5"),
        "utf16.csv": "\ufeff".encode("utf-16-le").join(
            [
                b"",
                csv_text("回答内容\t地区", ["态度很好\t广东", "太过分了\t北京"]).encode(
                    "utf-16-le"
                ),
            ]
        ),
        "mixed_encoding.csv": mixed_encoding(),
        "binary_junk.csv": binary_junk(),
        "not_a_table.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n",
        "corrupt.xlsx": b"PK\x03\x04" + b"\x14\x00" * 40 + b"not really a zip",
        # ---- xlsx
        "several_sheets.xlsx": _xlsx_bytes(several_sheets),
        "merged_cells.xlsx": _xlsx_bytes(merged_cells),
        "formula_column.xlsx": _xlsx_bytes(formula_column),
        "excel_serial_dates.xlsx": _xlsx_bytes(excel_serial_dates),
        "excel_blank_rows_bad_csat.xlsx": _xlsx_bytes(excel_blank_rows_bad_csat),
        "empty_sheet.xlsx": _xlsx_bytes(empty_sheet),
        # ---- dates
        "date_formats.csv": utf8(
            csv_text(
                "回答内容,提交日期",
                [
                    "态度很好,2026-05-01",
                    "还可以,2026/5/2",
                    "一般,2026年5月3日",
                    "太过分了,2026-05-04T10:00:00+08:00",
                    "骚扰家人,2026-05-05T02:00:00Z",
                    "很耐心,2026-05-06 09:30:00",
                ],
            )
        ),
        "bad_date.csv": utf8(
            csv_text("回答内容,提交日期", ["态度很好,2026-05-01", "太过分了,2026-02-30"])
        ),
        "date_out_of_range.csv": utf8(csv_text("回答内容,提交日期", ["态度很好,9999-12-31"])),
        # ---- numbers
        "bad_csat.csv": utf8(csv_text("回答内容,满意度", ["态度很好,5", "太过分了,六"])),
        "nps_11.csv": utf8(csv_text("回答内容,推荐度", ["态度很好,11", "太过分了,0"])),
        "thousands_in_score.csv": utf8(csv_text("回答内容,满意度", ['态度很好,"1,000"'])),
        "thousands_other_column.csv": utf8(
            csv_text(
                "回答内容,欠款金额,满意度", ['态度很好,"12,345",5', '太过分了,"1,234,567.50",1']
            )
        ),
        # ---- ids and texts
        "duplicate_ids.csv": utf8(
            csv_text(
                "受访者ID,回答内容", ["R001,态度很好", "R001,第二次回访：还是很好", "R002,太过分了"]
            )
        ),
        "long_text_100k.csv": utf8(csv_text("回答内容,地区", [f"{long_text},广东", "很好,北京"])),
        "null_bytes.csv": utf8(
            csv_text(
                "回答内容,地区",
                ["态度\x00很好,广东", "太过分了\x00,北京", "客服很耐心，解释了还款计划,上海"],
            )
        ),
        "emoji_only.csv": utf8(csv_text("回答内容,地区", ["😀😀😀,广东", "👍,北京", "😡🤬,上海"])),
        "whitespace_texts.csv": utf8(
            csv_text("回答内容,地区", ["   ,广东", "\u3000\u3000,北京", "态度很好,上海"])
        ),
        "empty_optional_cells.csv": utf8(
            csv_text(HEADER, [ROWS[0], "还可以,,,,,,", "太过分了,2026-05-03,,,消费贷,,m3"])
        ),
        "all_texts_empty.csv": utf8(csv_text("回答内容,地区", [" ,广东", ",北京"])),
        "html_script.csv": utf8(
            csv_text(
                "回答内容,地区",
                [
                    '"<script>alert(""x"")</script>催收太差",广东',
                    "<b>加粗</b><img src=x onerror=alert(1)>,北京",
                ],
            )
        ),
        "formula_cells.csv": utf8(
            csv_text(
                "回答内容,地区",
                [
                    '=HYPERLINK("http://x"),广东',
                    "+86 138 0000 0000 一直打,北京",
                    "-还款计划不错,上海",
                    "@客服 态度很好,深圳",
                ],
            )
        ),
        # ---- JSON and Parquet surveys
        "survey_missing_keys.jsonl": jsonl(
            [{"text": "态度很好", "地区": "广东"}, {"text": "太过分了"}, {"地区": "上海"}]
        ),
        "survey_bad_line.jsonl": b'{"text": "ok"}\n{"text": "broken\n',
        "lone_surrogate.jsonl": utf8('{"text": "\\ud800态度很好", "地区": "广东"}\n'),
        "survey.parquet": parquet_survey(),
        # ---- call transcripts (--kind calls)
        "transcript_ok.jsonl": jsonl([_call("bi-c1", TURNS), _call("bi-c2", TURNS[:2])]),
        "transcript_unknown_speaker.jsonl": jsonl(
            [_call("bi-c3", TURNS), _call("bi-c4", [("agent", "您好"), ("王五", "我是他朋友")])]
        ),
        "transcript_no_turns.jsonl": jsonl([_call("bi-c5", [])]),
        "transcript_bad_json.jsonl": jsonl([_call("bi-c6", TURNS)]) + b'{"call_id": "bi-c7", \n',
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (out / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
