"""Transcript parsing: JSONL, CSV (UTF-8 / BOM / GBK), XLSX, plain text, metadata and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from data.reader.transcripts import (
    CALL_COLUMNS,
    TURN_COLUMNS,
    TranscriptError,
    filename_metadata,
    normalize_speaker,
    parse_jsonl_lines,
    parse_text_transcript,
    parse_timestamp,
    read_transcript_bytes,
    read_transcripts,
)
from nlp.compliance import local_start_times


def _call(call_id: str = "c1", **extra: object) -> dict:
    record: dict = {
        "call_id": call_id,
        "borrower_id": "b1",
        "agent_id": "a1",
        "started_at": "2025-03-03T10:15:00+08:00",
        "turns": [
            {"speaker": "坐席", "text": "您好，我是和信金融的小周", "start_s": 0, "end_s": 3.5},
            {"speaker": "客户", "text": "嗯，什么事", "start_s": 3.6, "end_s": 5.0},
        ],
    }
    record.update(extra)
    return record


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", "utf-8")
    return path


def _one_line_bilingual(message: str) -> None:
    assert "\n" not in message
    assert " / " in message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message)


# --- speakers and timestamps ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("坐席", "agent"),
        ("催收员", "agent"),
        ("客服", "agent"),
        ("A", "agent"),
        ("ａ", "agent"),
        ("AGENT", "agent"),
        ("Ａｇｅｎｔ", "agent"),
        ("客户", "borrower"),
        ("借款人", "borrower"),
        ("b", "borrower"),
        ("Ｂ", "borrower"),
        ("Borrower", "borrower"),
        ("王先生", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_speaker(label: object, expected: str | None) -> None:
    assert normalize_speaker(label) == expected


def test_parse_timestamp_variants() -> None:
    stamp, assumed = parse_timestamp("2025-03-03T10:15:00+08:00")
    assert not assumed and stamp.utcoffset().total_seconds() == 8 * 3600
    stamp, assumed = parse_timestamp("2025-03-03T02:15:00Z")
    assert not assumed and stamp.utcoffset().total_seconds() == 0
    stamp, assumed = parse_timestamp("2025-03-03 10:15")
    assert assumed and stamp.utcoffset().total_seconds() == 8 * 3600
    stamp, assumed = parse_timestamp("20250303T101500-0500")
    assert not assumed and stamp.hour == 10 and stamp.utcoffset().total_seconds() == -5 * 3600
    assert parse_timestamp("2025-13-45 99:00") is None
    assert parse_timestamp("yesterday-ish") is None
    assert parse_timestamp("") is None


# --- JSONL ----------------------------------------------------------------------------------


def test_jsonl_frames_have_the_documented_columns_and_types(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "calls.jsonl",
        [_call("c1", team="T1", outcome="connected"), _call("c2", duration_s=42, labels={"x": 1})],
    )
    calls, turns = read_transcripts(path)
    assert tuple(calls.columns) == CALL_COLUMNS
    assert tuple(turns.columns) == TURN_COLUMNS
    assert calls["call_id"].tolist() == ["c1", "c2"]
    assert str(calls["started_at"].dt.tz) in ("UTC+08:00", "+08:00")
    assert calls["started_at"].iloc[0].hour == 10
    assert calls["duration_s"].tolist() == [5.0, 42.0]  # derived from the last end_s, or given
    assert calls["team"].iloc[0] == "T1" and pd.isna(calls["team"].iloc[1])
    assert turns["speaker"].tolist() == ["agent", "borrower"] * 2
    assert turns["turn_index"].tolist() == [0, 1, 0, 1]
    assert turns["start_s"].dtype == "float64"
    assert calls.attrs["notes"] == []


def test_jsonl_naive_timestamp_is_assumed_shanghai_and_noted() -> None:
    calls, _ = parse_jsonl_lines([json.dumps(_call(started_at="2025-03-03 10:15:00"))])
    assert calls["started_at"].iloc[0] == pd.Timestamp("2025-03-03T02:15:00Z")
    assert calls["utc_offset_min"].iloc[0] == 480
    assert len(calls.attrs["notes"]) == 1 and "Asia/Shanghai" in calls.attrs["notes"][0]


def test_mixed_offsets_are_stored_in_utc_with_local_times_recoverable() -> None:
    lines = [
        json.dumps(_call("cn", started_at="2025-03-03T21:30:00+08:00")),
        json.dumps(_call("us", started_at="2025-03-03T20:45:00-05:00")),
    ]
    calls, _ = parse_jsonl_lines(lines)
    assert str(calls["started_at"].dt.tz) == "UTC"
    assert calls["utc_offset_min"].tolist() == [480, -300]
    local = local_start_times(calls)
    assert [t.strftime("%H:%M") for t in local] == ["21:30", "20:45"]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r.pop("borrower_id"), "borrower_id"),
        (lambda r: r.pop("started_at"), "started_at"),
        (lambda r: r.update(started_at="2025-02-30T10:00:00+08:00"), "started_at"),
        (lambda r: r.update(turns=[]), "turns"),
        (lambda r: r.pop("turns"), "turns"),
        (lambda r: r["turns"].append({"speaker": "王先生", "text": "hi"}), "turns[2].speaker"),
        (lambda r: r["turns"].append({"speaker": "agent"}), "turns[2].text"),
        (lambda r: r["turns"][0].update(start_s="soon"), "turns[0].start_s"),
        (lambda r: r["turns"][0].update(end_s=-1), "turns[0].end_s"),
    ],
)
def test_jsonl_errors_name_line_and_field(mutate, needle: str, tmp_path: Path) -> None:
    bad = _call("c2")
    mutate(bad)
    path = _write_jsonl(tmp_path / "calls.jsonl", [_call("c1"), bad])
    with pytest.raises(TranscriptError) as info:
        read_transcripts(path)
    message = str(info.value)
    _one_line_bilingual(message)
    assert "calls.jsonl" in message and "line 2" in message and "第2行" in message
    assert needle in message
    assert info.value.line == 2


def test_jsonl_invalid_json_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_call("c1")) + "\n\n{not json}\n", encoding="utf-8")
    with pytest.raises(TranscriptError, match="line 3"):
        read_transcripts(path)
    path.write_text(json.dumps(_call("c1")) + "\n" + json.dumps(_call("c1")) + "\n", "utf-8")
    with pytest.raises(TranscriptError, match="duplicate call_id"):
        read_transcripts(path)


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "calls.json"
    path.write_text(json.dumps([_call("c1"), _call("c2")], ensure_ascii=False), "utf-8")
    calls, _ = read_transcripts(path)
    assert calls["call_id"].tolist() == ["c1", "c2"]
    bad = _call("c3")
    bad["turns"][1]["speaker"] = "路人"
    path.write_text(json.dumps([_call("c1"), bad], ensure_ascii=False), "utf-8")
    with pytest.raises(TranscriptError, match=r"item 2, column turns\[1\]\.speaker") as info:
        read_transcripts(path)
    assert "第2条" in str(info.value)


def test_missing_file_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="not found"):
        read_transcripts(tmp_path / "nope.jsonl")
    other = tmp_path / "calls.docx"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(TranscriptError, match="unsupported file type"):
        read_transcripts(other)


# --- CSV / XLSX -----------------------------------------------------------------------------

_CSV = (
    "call_id,turn_index,speaker,text,borrower_id,agent_id,started_at,team\n"
    "k1,0,坐席,您好，这里是和信金融，工号3051,b7,a2,2025-03-04T09:00:00+08:00,T2\n"
    "k1,1,借款人,嗯我知道，下周五前还上,b7,a2,2025-03-04T09:00:00+08:00,T2\n"
    "k2,1,B,你们怎么又打来了,b8,a2,2025-03-04T11:00:00+08:00,\n"
    "k2,0,A,您好，我是和信金融的小周,b8,a2,2025-03-04T11:00:00+08:00,\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / "turns.csv"
    path.write_bytes(_CSV.encode(encoding))
    calls, turns = read_transcripts(path)
    assert calls["call_id"].tolist() == ["k1", "k2"]
    assert calls["borrower_id"].tolist() == ["b7", "b8"]
    k2 = turns[turns["call_id"] == "k2"]
    assert k2["turn_index"].tolist() == [0, 1]  # sorted by turn_index
    assert k2["speaker"].tolist() == ["agent", "borrower"]
    assert "和信金融" in turns["text"].iloc[0]


def test_csv_errors_name_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "turns.csv"
    inconsistent = _CSV.replace("k1,1,借款人,嗯我知道，下周五前还上,b7", "k1,1,借款人,嗯,b9")
    path.write_text(inconsistent, encoding="utf-8")
    with pytest.raises(TranscriptError) as info:
        read_transcripts(path)
    assert "row 3" in str(info.value) and "borrower_id" in str(info.value)
    path.write_text(_CSV.replace("k2,0,A,", "k2,0,主管,"), encoding="utf-8")
    with pytest.raises(TranscriptError, match=r"row 5, column speaker"):
        read_transcripts(path)
    path.write_text(_CSV.replace("speaker,", "who,"), encoding="utf-8")
    with pytest.raises(TranscriptError, match="column speaker"):
        read_transcripts(path)
    path.write_text(_CSV.replace("k2,1,B", "k2,0,B"), encoding="utf-8")
    with pytest.raises(TranscriptError, match="duplicate turn 0"):
        read_transcripts(path)


def test_csv_without_call_columns_uses_meta(tmp_path: Path) -> None:
    path = tmp_path / "turns.csv"
    path.write_text(
        "call_id,speaker,text\nm1,坐席,您好\nm1,客户,在\nm2,坐席,喂\n", encoding="utf-8"
    )
    with pytest.raises(TranscriptError, match="borrower_id"):
        read_transcripts(path)
    meta = tmp_path / "meta.csv"
    meta.write_bytes(
        "call_id,borrower_id,agent_id,started_at,outcome\n"
        "m1,b1,a1,2025-03-04 09:00,connected\n"
        "m2,b1,a1,2025-03-04T23:10:00+08:00,connected\n"
        "m3,b5,a1,2025-03-04T23:10:00+08:00,connected\n".encode("gbk")
    )
    calls, turns = read_transcripts(path, meta)
    assert calls["call_id"].tolist() == ["m1", "m2"]  # m3 has no transcript: ignored
    assert turns["turn_index"].tolist() == [0, 1, 0]  # row order within a call
    assert len(calls.attrs["notes"]) == 1  # m1 had no offset


def test_xlsx_with_call_sheet(tmp_path: Path) -> None:
    path = tmp_path / "calls.xlsx"
    turns_sheet = pd.DataFrame(
        {
            "call_id": ["x1", "x1", "x2"],
            "turn_index": [0, 1, 0],
            "speaker": ["催收员", "客户", "坐席"],
            "text": ["您好，工号1234，和信金融", "好的", "喂"],
        }
    )
    calls_sheet = pd.DataFrame(
        {
            "call_id": ["x1", "x2"],
            "borrower_id": [1001, 1002],
            "agent_id": ["a1", "a1"],
            "started_at": ["2025-03-04T09:00:00+08:00", "2025-03-04T10:00:00+08:00"],
        }
    )
    with pd.ExcelWriter(path) as writer:
        turns_sheet.to_excel(writer, sheet_name="turns", index=False)
        calls_sheet.to_excel(writer, sheet_name="calls", index=False)
    calls, turns = read_transcripts(path)
    assert calls["borrower_id"].tolist() == ["1001", "1002"]
    assert turns["speaker"].tolist() == ["agent", "borrower", "agent"]

    calls_sheet.loc[2] = ["x3", 1003, "a1", "2025-03-04T10:00:00+08:00"]
    with pd.ExcelWriter(path) as writer:
        turns_sheet.to_excel(writer, sheet_name="turns", index=False)
        calls_sheet.to_excel(writer, sheet_name="calls", index=False)
    with pytest.raises(TranscriptError, match=r"calls\] row 4.*x3 has no turns"):
        read_transcripts(path)


# --- plain text -----------------------------------------------------------------------------

_TXT = (
    "# borrower_id: b9\n"
    "# agent_id: a3\n"
    "# started_at: 2025-03-05T14:00:00+08:00\n"
    "[00:00.0-00:03.2] 坐席：您好，我是和信金融的小周\n"
    "客户:嗯，你说\n"
    "ａ：您这笔款已经逾期十天了\n"
    "  请问什么时候能处理\n"
    "借款人：我明天还\n"
)


def test_text_transcript_headers_prefixes_and_continuations() -> None:
    calls, turns = parse_text_transcript(_TXT, call_id="t1", source="t1.txt")
    assert calls["borrower_id"].tolist() == ["b9"]
    assert turns["speaker"].tolist() == ["agent", "borrower", "agent", "borrower"]
    assert turns["text"].iloc[2] == "您这笔款已经逾期十天了 请问什么时候能处理"
    assert turns["start_s"].iloc[0] == 0.0 and turns["end_s"].iloc[0] == 3.2


def test_text_errors(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match=r"line 2, column speaker.*unknown speaker '主管'"):
        parse_text_transcript("坐席：你好\n主管：我来说\n", call_id="t", source="t.txt")
    with pytest.raises(TranscriptError, match=r"line 1.*no speaker prefix"):
        parse_text_transcript("你好\n", call_id="t", source="t.txt")
    with pytest.raises(TranscriptError, match="no turns"):
        parse_text_transcript("# borrower_id: b\n\n", call_id="t", source="t.txt")


def test_text_files_with_side_csv_and_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "call-001.txt").write_text("坐席：您好\n客户：嗯\n", encoding="utf-8")
    (folder / "c77_b3_a9_20250306T093000+0800_teamA.txt").write_bytes(
        "坐席：喂\n客户：哪位\n".encode("gbk")
    )
    meta = tmp_path / "meta.csv"
    meta.write_text(
        "call_id,borrower_id,agent_id,started_at\ncall-001,b1,a1,2025-03-06T08:30:00+08:00\n",
        encoding="utf-8-sig",
    )
    calls, _ = read_transcripts(folder, meta)
    by_id = calls.set_index("call_id")
    assert set(by_id.index) == {"call-001", "c77"}
    named = by_id.loc["c77"]
    assert (named["borrower_id"], named["agent_id"], named["team"]) == ("b3", "a9", "teamA")
    assert named["started_at"].hour == 9
    assert filename_metadata("nope") == {}
    with pytest.raises(TranscriptError, match=r"call-001.*borrower_id"):
        read_transcripts(folder)  # no side CSV: call-001 lacks metadata


def test_directory_mixing_formats(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    _write_jsonl(folder / "a.jsonl", [_call("j1")])
    (folder / "b.csv").write_text(_CSV, encoding="utf-8")
    (folder / "notes.md").write_text("ignored", encoding="utf-8")
    calls, turns = read_transcripts(folder)
    assert calls["call_id"].tolist() == ["j1", "k1", "k2"]
    assert len(turns) == 6
    _write_jsonl(folder / "c.jsonl", [_call("k1")])
    with pytest.raises(TranscriptError, match="duplicate call_id k1"):
        read_transcripts(folder)


def test_bytes_and_file_reads_agree(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "calls.jsonl", [_call("c1"), _call("c2")])
    from_file = read_transcripts(path)
    from_bytes = read_transcript_bytes(path.read_bytes(), "calls.jsonl")
    pd.testing.assert_frame_equal(from_file[0], from_bytes[0])
    pd.testing.assert_frame_equal(from_file[1], from_bytes[1])


def test_big5_transcript_csv_is_read(tmp_path: Path) -> None:
    text = (
        "call_id,borrower_id,agent_id,started_at,speaker,text\n"
        "c1,b1,a1,2025-03-03T10:15:00+08:00,agent,您好，我是和信金融的小周\n"
        "c1,b1,a1,2025-03-03T10:15:00+08:00,borrower,請問有什麼事\n"
    )
    calls, turns = read_transcript_bytes(text.encode("big5"), "calls.csv")
    assert list(turns["text"])[1] == "請問有什麼事"
    assert list(calls["call_id"]) == ["c1"]
