"""Personal-data detectors and masking (data.pii): each kind found in its usual spellings, and
ordinary numbers in borrower text (amounts, dates, staff numbers, counts) left alone."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from data.pii import find_pii, id_checksum_ok, luhn_ok, mask_frame, mask_pii, mask_series

VALID_ID = "11010519491231002X"  # the standard GB 11643 example
VALID_ID_2 = "440305199003071236"  # checksum computed for a 1990 birth date
VALID_CARD = "6222021234567894"  # Luhn-valid, 16 digits
VALID_CARD_19 = "6228480012345678903"  # Luhn-valid, 19 digits
VISA_TEST = "4111111111111111"


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_pii(text)]


# --------------------------------------------------------------------------- resident ID
@pytest.mark.parametrize("number", [VALID_ID, VALID_ID.lower(), VALID_ID_2])
def test_valid_id_numbers_pass_the_checksum(number):
    assert id_checksum_ok(number)
    assert kinds(f"身份证号{number}，核对一下") == [("id_card", number)]
    masked = mask_pii(f"身份证号{number}")
    assert masked == f"身份证号{number[0]}{'*' * 16}{number[-1]}"


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002Y",  # not a check character
        "110105194913310028",  # month 13 (checksum recomputed would still be a bad date)
        "110105209912310025",  # born in the future
        "01010519491231002X",  # region cannot start with 0
    ],
)
def test_invalid_id_numbers_are_not_ids(number):
    assert not id_checksum_ok(number)
    assert "id_card" not in [k for k, _ in kinds(f"身份证{number}")]


def test_id_number_inside_a_longer_digit_run_is_not_an_id():
    assert "id_card" not in [k for k, _ in kinds(f"流水号9{VALID_ID}")]


# --------------------------------------------------------------------------- bank cards
@pytest.mark.parametrize(
    "spelling",
    [VALID_CARD, "6222 0212 3456 7894", "6222-0212-3456-7894", VALID_CARD_19, VISA_TEST],
)
def test_luhn_valid_cards_are_masked_to_the_last_four(spelling):
    assert luhn_ok(spelling)
    assert kinds(f"卡号{spelling}。") == [("bank_card", spelling)]
    masked = mask_pii(f"卡号{spelling}。")
    digits = [c for c in spelling if c.isdigit()]
    assert masked.endswith("".join(digits[-4:]) + "。")
    assert sum(c == "*" for c in masked) == len(digits) - 4


@pytest.mark.parametrize("number", ["6222021234567895", "1234567890123456", "622202123456789"])
def test_luhn_invalid_or_short_numbers_are_not_cards(number):
    assert kinds(f"卡号{number}") == []


# --------------------------------------------------------------------------- phones
@pytest.mark.parametrize(
    ("spelling", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138 **** 5678"),
        ("138-1234-5678", "138-****-5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("+8613812345678", "+86138****5678"),
        ("8613812345678", "86138****5678"),
        ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits
        ("19912345678", "199****5678"),
    ],
)
def test_mobile_numbers_in_several_formats(spelling, masked):
    text = f"我的手机是{spelling}，有事打我"
    assert kinds(text) == [("mobile", spelling)]
    assert mask_pii(text) == f"我的手机是{masked}，有事打我"


@pytest.mark.parametrize(
    ("spelling", "masked"),
    [
        ("010-12345678", "010-****5678"),
        ("0755-1234567", "0755-***4567"),
        ("075512345678", "0755****5678"),
        ("(021)87654321", "(021)****4321"),
        ("0571 8888 6666", "0571 **** 6666"),
    ],
)
def test_landlines(spelling, masked):
    assert mask_pii(f"座机{spelling}") == f"座机{masked}"


@pytest.mark.parametrize("number", ["12812345678", "1381234567", "138123456789", "23812345678"])
def test_not_mobile_numbers(number):
    assert "mobile" not in [k for k, _ in kinds(f"号码{number}")]


# --------------------------------------------------------------------------- e-mail
@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("li.na@qq.com", "l***@qq.com"),
        ("ZHANG_san+loan@163.com", "Z***@163.com"),
        ("wang-qiang@mail.example.com.cn", "w***@mail.example.com.cn"),
    ],
)
def test_emails(address, masked):
    assert mask_pii(f"邮箱{address}，谢谢") == f"邮箱{masked}，谢谢"


@pytest.mark.parametrize("text", ["在@客服 说一下", "微博@张三", "a@b", "价格@5元"])
def test_not_emails(text):
    assert "email" not in [k for k, _ in kinds(text)]


# --------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("请问是李娜女士吗", "请问是李*女士吗"),
        ("请问您是王小强先生本人吗？", "请问您是王**先生本人吗？"),
        ("我是王强", "我是王*"),
        ("对，我是张伟。", "对，我是张*。"),
        ("我叫刘洋，工号1234", "我叫刘*，工号1234"),
        ("程刚先生吗？", "程*先生吗？"),
        ("尊敬的欧阳娜娜女士", "尊敬的欧阳**女士"),
        ("借款人陈美玲，逾期三天", "借款人陈**，逾期三天"),
        ("姓名：赵立新", "姓名：赵**"),
    ],
)
def test_names_where_the_transcript_marks_them(text, masked):
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "我是律师",
        "我是王姐",
        "请问是李先生本人吗",  # a surname alone identifies nobody: kept
        "我是他老婆",
        "我是农民 种地的",
        "我是高中生",
        "我是单身。",
        "好哒 谢谢小姐姐",
        "我是华盛律师事务所的张律师",
        "我是真没钱",
        "我姓王",
        "王经理说可以分期",
    ],
)
def test_no_name_false_positives(text):
    assert kinds(text) == []


# --------------------------------------------------------------------------- ordinary numbers
@pytest.mark.parametrize(
    "text",
    [
        "借了5000元，还了3000，还欠2360.50元",
        "2024-01-05 到 2024/02/05 之间还款",
        "20240105那天打来的",
        "工号1234的专员态度很好",
        "工号A1032，投诉编号20240105123",
        "一天打了30多个电话，晚上11点还在打",
        "逾期12天，本期应还2360元，年化24%",
        "客服电话95555，400-820-8820",
        "订单号1700000000000",
        "合同号HT2024010512345678",
        "M3+ 逾期90天以上",
        "",
    ],
)
def test_no_false_positives_on_ordinary_numbers(text):
    assert find_pii(text) == []
    assert mask_pii(text) == text


# --------------------------------------------------------------------------- behaviour
def test_several_kinds_in_one_text_in_order_and_idempotent():
    text = (
        f"请问是李娜女士吗？我是王强，电话138-1234-5678，座机010-12345678，"
        f"邮箱li.na@qq.com，身份证{VALID_ID}，卡号{VALID_CARD}"
    )
    assert [k for k, _ in kinds(text)] == [
        "name",
        "name",
        "mobile",
        "landline",
        "email",
        "id_card",
        "bank_card",
    ]
    once = mask_pii(text)
    for raw in ("李娜", "王强", "1234-5678", "12345678", "li.na", VALID_ID, VALID_CARD):
        assert raw not in once
    assert mask_pii(once) == once  # masking masked text changes nothing


def test_spans_point_into_the_original_text():
    text = "电话：１３８ １２３４ ５６７８。"
    [span] = find_pii(text)
    assert text[span.start : span.end] == span.text == "１３８ １２３４ ５６７８"


def test_non_strings_pass_through():
    assert mask_pii(None) is None  # type: ignore[arg-type]
    s = pd.Series(["我是王强", None, float("nan"), 5])
    out = mask_series(s)
    assert out.iloc[0] == "我是王*" and out.iloc[1] is None and pd.isna(out.iloc[2])
    assert out.iloc[3] == 5


def test_mask_frame_masks_text_columns_only():
    df = pd.DataFrame({"text": ["电话13812345678"], "n": [13812345678]})
    out = mask_frame(df)
    assert out["text"].iloc[0] == "电话138****5678"
    assert out["n"].iloc[0] == 13812345678
    assert df["text"].iloc[0] == "电话13812345678"  # the input is not changed


def test_fast_enough_for_a_records_table():
    texts = [
        "天天打电话，还打给我家人，请问是李娜女士吗，电话13812345678，邮箱a@b.com" * 3,
        "催收员态度很好，还帮我申请分期",
    ] * 1000
    start = time.perf_counter()
    for t in texts:
        mask_pii(t)
    assert time.perf_counter() - start < 2.0  # ~2,000 texts: well under a second here


# --------------------------------------------------------------------------- names, measured
NAMES_SET = Path(__file__).with_name("pii_names.jsonl")


def _name_scores(split: str | None = None) -> tuple[float, float]:
    """Precision and recall of the masked names on the labelled set (exact name spans)."""
    tp = fp = fn = 0
    for line in NAMES_SET.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if split and row.get("split", "tune") != split:
            continue
        found = Counter(s.text for s in find_pii(row["text"]) if s.kind == "name")
        gold = Counter(row["names"])
        hit = sum((found & gold).values())
        tp, fp, fn = tp + hit, fp + found.total() - hit, fn + gold.total() - hit
    return tp / (tp + fp), tp / (tp + fn)


def test_name_masking_precision_and_recall():
    """200 hand-labelled texts (96 names; survey answers and call turns, names in many
    positions, and ordinary words that start with a surname: 王者, 高兴, 周末, 马上消费金融…).

    Measured (``pytest tests/data/test_pii.py -k precision``, exact name spans): all 200 texts
    precision 0.989 (93/94), recall 0.969 (93/96). The 50 texts marked
    ``holdout`` were written after the rules were tuned on the other 150: precision 0.880 and
    recall 0.880 as first measured, 0.958 / 0.920 after two general fixes (an org word inside
    the candidate; a verb then a pronoun ends a name). Misses left: 廖东来 for 廖东 (来 may be
    a given name), a name after 您好 with no comma, a name with no marker (李强一直不接电话).
    """
    precision, recall = _name_scores()
    assert precision >= 0.95 and recall >= 0.93, (precision, recall)
    precision, recall = _name_scores("holdout")
    assert precision >= 0.9 and recall >= 0.85, (precision, recall)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("他们给我同事周婷打电话", "他们给我同事周*打电话"),
        ("刘芳你好，这边是信和金融。", "刘*你好，这边是信和金融。"),
        ("喂，是李强吗？", "喂，是李*吗？"),
        ("经理罗斌答应给我分期。", "经理罗*答应给我分期。"),
        ("催收员孙磊天天给我打电话。", "催收员孙*天天给我打电话。"),
        ("专员林志强说可以减免。", "专员林**说可以减免。"),
        ("我是方芳。", "我是方*。"),
    ],
)
def test_names_marked_by_context(text, masked):
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "王者荣耀玩多了",
        "我是马上金融的客户",
        "我是江西人",
        "我是管理员",
        "现在不方便接电话",
        "于是我就借了",
        "我是小李，您的专属客服。",  # a surname alone: kept, like 李先生
        "老张说他也被催过",
        "是于公司规定吗？",
    ],
)
def test_ordinary_words_and_bare_surnames_are_not_names(text):
    assert [k for k, _ in kinds(text) if k == "name"] == []


def test_mask_frame_masks_names():
    out = mask_frame(pd.DataFrame({"text": ["请转告郑丽丽，明天之前必须还款。"]}))
    assert out["text"].iloc[0] == "请转告郑**，明天之前必须还款。"
