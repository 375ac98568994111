"""Personal data in borrower text: find it and mask it before text leaves the app.

Precompiled regular expressions, no model: mainland mobile numbers (spaces, dashes, +86),
landlines (area code 0xx/0xxx), 18-digit resident ID numbers (checksum and birth date
checked), bank card numbers (16-19 digits, Luhn checked), e-mail addresses, and personal names
where a transcript marks them (请问是李娜女士吗 / 我是王强). Models score the original text;
only what is shown or exported is masked.

>>> mask_pii("请问是李娜女士吗？我的电话 138-1234-5678")
'请问是李*女士吗？我的电话 138-****-5678'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pandas as pd

__all__ = ["KINDS", "PiiSpan", "find_pii", "mask_frame", "mask_pii", "mask_series"]

#: kind -> Chinese name, in priority order (an earlier kind wins an overlap)
KINDS = {
    "id_card": "身份证号",
    "bank_card": "银行卡号",
    "mobile": "手机号",
    "landline": "固定电话",
    "email": "电子邮箱",
    "name": "姓名",
}
_PRIORITY = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class PiiSpan:
    """One piece of personal data: ``text[start:end]`` of ``kind`` and its masked form."""

    start: int
    end: int
    kind: str
    text: str
    masked: str


# Full-width digits, letters and signs map one-to-one to ASCII, so spans found in the
# normalised copy are spans of the original text.
_HALF = str.maketrans(
    "０１２３４５６７８９Ｘｘ＋－（）＠．\u3000",
    "0123456789Xx+-()@. ",
)

_SEP = r"[ \-]"
_MOBILE = re.compile(
    rf"(?<![0-9])(?P<cc>\+?86{_SEP}?)?1[3-9][0-9](?:{_SEP}?[0-9]{{4}}){{2}}(?![0-9])"
)
_LANDLINE = re.compile(
    r"(?<![0-9])(?:\((?P<area1>0[0-9]{2,3})\)|(?P<area2>0[0-9]{2,3}))[ \-]?"
    r"(?:[0-9]{7,8}|[0-9]{3,4}[ \-][0-9]{4})(?![0-9])"
)
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_BANK_CARD = re.compile(
    r"(?<![0-9])(?:[0-9]{16,19}|[0-9]{4}(?:[ \-][0-9]{4}){3}(?:[ \-]?[0-9]{1,3})?)(?![0-9])"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![A-Za-z0-9\-])"
)

# Common surnames. Characters that are also everyday words right after 我是/请问是 (于, 和,
# 向, 方, 时, 明, 全, 应, 成, 安, 单, 解, 师, 车, 查, 路, 常, 能, 对) are left out.
_COMPOUND_SURNAMES = "欧阳|司马|诸葛|上官|东方|慕容|令狐|皇甫|尉迟|公孙|长孙|宇文|司徒|夏侯|端木"
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万"
    "钱严覃武戴莫孔汤温康施文牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳甘祝包宁尚符"
    "舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕屈饶牟艾尤阳穆司卓古吉"
    "缪简项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬仇栾隋商刁沙荣巫寇桑郎甄"
    "丛仲虞敖巩佘池查麻苑迟邝"
).replace("查", "")
_HAN = r"[\u4e00-\u9fff]"
_NAME = rf"(?P<surname>{_COMPOUND_SURNAMES}|[{_SURNAMES}])(?P<given>{_HAN}{{1,2}}?)"
_AFTER = r"(?=女士|先生|小姐|本人|吗|嘛|呢|吧|啊|呀|[，,。.！!？?、；;：:\s]|$)"
# 1) a marker before the name: 请问是李娜女士吗 / 我是王强 / 我叫张伟 / 姓名：刘洋
_NAME_AFTER_MARKER = re.compile(
    r"(?:请问(?:您|你)?是|(?:您|你|我)是|我叫|名叫|叫做|姓名[:：]?\s*|借款人|户主|联系人)"
    + _NAME
    + _AFTER
)
# 2) a full name followed by an honorific: 李娜女士您好 / 尊敬的王小强先生
_NAME_BEFORE_HONORIFIC = re.compile(
    rf"(?:(?<!{_HAN})|(?<=[是叫找给问跟和对向请位好的户人]))" + _NAME + r"(?=女士|先生|小姐(?!姐))"
)
# given-name parts that are titles or words, not names: 我是王姐 / 我是高中生
_NOT_GIVEN = frozenset(
    (
        "律师",
        "经理",
        "专员",
        "老师",
        "师傅",
        "总",
        "姐",
        "哥",
        "叔",
        "姨",
        "先生",
        "女士",
        "小姐",
        "本人",
        "同事",
        "家人",
        "主管",
        "阿姨",
        "叔叔",
        "大哥",
        "大姐",
        "老板",
        "客服",
        "工",
        "医生",
        "警官",
        "助理",
        "组长",
    )
)
_NOT_NAMES = frozenset(
    (
        "高中",
        "高中生",
        "高兴",
        "高管",
        "单身",
        "方便",
        "毛病",
        "包子",
        "白领",
        "金额",
        "钱包",
        "黄牛",
        "江湖",
        "谢谢",
    )
)


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def id_checksum_ok(number: str) -> bool:
    """True for an 18-character resident ID number whose check digit and birth date are valid."""
    number = number.translate(_HALF).upper()
    if not re.fullmatch(r"[1-9][0-9]{16}[0-9X]", number):
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    if "10X98765432"[total % 11] != number[17]:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return born.year >= 1900 and born <= date.today()


def luhn_ok(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn check (bank card numbers)."""
    digits = _digits(number.translate(_HALF))
    if not digits:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _mask_digits(s: str, head: int, tail: int) -> str:
    """Replace every digit (and an ID's X) except the first ``head`` and last ``tail`` by *."""
    norm = s.translate(_HALF)
    positions = [i for i, c in enumerate(norm) if c.isdigit() or c in "Xx"]
    keep = set(positions[:head]) | set(positions[len(positions) - tail :] if tail else [])
    return "".join("*" if i in positions and i not in keep else c for i, c in enumerate(s))


def _candidates(text: str) -> list[PiiSpan]:
    norm = text.translate(_HALF)
    out: list[PiiSpan] = []

    def add(m: re.Match, kind: str, masked: str) -> None:
        out.append(PiiSpan(m.start(), m.end(), kind, text[m.start() : m.end()], masked))

    has_digit = any(c.isdigit() for c in norm)
    if has_digit:
        for m in _ID_CARD.finditer(norm):
            if id_checksum_ok(m.group()):
                add(m, "id_card", _mask_digits(text[m.start() : m.end()], 1, 1))
        for m in _BANK_CARD.finditer(norm):
            if 16 <= len(_digits(m.group())) <= 19 and luhn_ok(m.group()):
                add(m, "bank_card", _mask_digits(text[m.start() : m.end()], 0, 4))
        for m in _MOBILE.finditer(norm):
            head = 3 + (len(_digits(m.group("cc"))) if m.group("cc") else 0)
            add(m, "mobile", _mask_digits(text[m.start() : m.end()], head, 4))
        for m in _LANDLINE.finditer(norm):
            area = m.group("area1") or m.group("area2")
            add(m, "landline", _mask_digits(text[m.start() : m.end()], len(area), 4))
    if "@" in norm:
        for m in _EMAIL.finditer(norm):
            local, _, domain = text[m.start() : m.end()].partition("@")
            add(m, "email", f"{local[0]}***@{domain}")
    for pattern in (_NAME_AFTER_MARKER, _NAME_BEFORE_HONORIFIC):
        for m in pattern.finditer(text):
            surname, given = m.group("surname"), m.group("given")
            if given in _NOT_GIVEN or surname + given in _NOT_NAMES:
                continue
            start = m.start("surname")
            out.append(
                PiiSpan(start, m.end("given"), "name", surname + given, surname + "*" * len(given))
            )
    return out


def find_pii(text: str) -> list[PiiSpan]:
    """Personal data in ``text``, as non-overlapping spans in text order.

    Args:
        text: any text (survey answer, call turn, review note).

    Returns:
        ``PiiSpan`` objects; where two detections overlap, the higher-priority kind (see
        ``KINDS``) and then the longer one wins.

    >>> [(s.kind, s.text) for s in find_pii("卡号 6222 0212 3456 7897，邮箱 li.na@qq.com")]
    [('bank_card', '6222 0212 3456 7897'), ('email', 'li.na@qq.com')]
    """
    if not isinstance(text, str) or not text:
        return []
    chosen: list[PiiSpan] = []
    for span in sorted(
        _candidates(text), key=lambda s: (_PRIORITY[s.kind], s.start - s.end, s.start)
    ):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def mask_pii(text: str) -> str:
    """``text`` with every span of :func:`find_pii` replaced by its masked form.

    Masks keep what a reader needs and no more: a mobile's first 3 and last 4 digits, a bank
    card's last 4, a landline's area code and last 4, an ID's first and last character, the
    first letter and domain of an e-mail, and a name's surname (李娜 -> 李*). Non-strings are
    returned unchanged.
    """
    spans = find_pii(text)
    if not spans:
        return text
    parts, last = [], 0
    for s in spans:
        parts += [text[last : s.start], s.masked]
        last = s.end
    parts.append(text[last:])
    return "".join(parts)


def mask_series(values: pd.Series) -> pd.Series:
    """:func:`mask_pii` over a column; missing values and non-strings pass through."""
    return values.map(lambda v: mask_pii(v) if isinstance(v, str) else v)


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text column masked (previews of uploaded files)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = mask_series(out[col])
    return out
