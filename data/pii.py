"""Personal data in borrower text: find it and mask it before text leaves the app.

Precompiled regular expressions, no model: mainland mobile numbers (spaces, dashes, +86),
landlines (area code 0xx/0xxx), 18-digit resident ID numbers (checksum and birth date
checked), bank card numbers (16-19 digits, Luhn checked), e-mail addresses, and personal names
(a common surname in a context that marks a name: 请问是李娜女士吗 / 我是王强 / 给我同事周婷打电话 /
刘芳你好; see the names section). Models score the original text; only what is shown or
exported is masked. Name masking is measured on ``tests/data/pii_names.jsonl``.

>>> mask_pii("请问是李娜女士吗？我的电话 138-1234-5678")
'请问是李*女士吗？我的电话 138-****-5678'
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from importlib import resources

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

# --------------------------------------------------------------------------- names
# A name is a common surname and a 1-2 character given name in a context that marks it: a
# word before it (我是 / 叫 / 找 / 给 / 同事 / 催收员 / 借款人：…), an honorific after it
# (女士 / 先生 / 小姐), or the opening of a call (「刘芳你好」「喂，冯雪梅在吗」). Where the
# given name ends is read from what follows it (punctuation, a particle such as 的/吗/说, or a
# word of jieba's dictionary: 罗斌|答应), and a candidate that is an ordinary word in that
# dictionary (高兴, 马上, 周末, 江西, 管理员) is not a name unless 叫/姓名 or an honorific marks
# it. A surname alone (李先生, 小李, 老张, 王经理) identifies nobody and is left as it is: the
# mask keeps the surname anyway (李娜 -> 李*).
# jieba.posseg's ``nr`` tag was tried instead (offline, jieba is installed): it tags 荣耀,
# 张开嘴, 黄金周, 何时能 and 江西人 as names and splits 曹/海军, 郑/丽丽, so it is not used.
_COMPOUND_SURNAMES = "欧阳|司马|诸葛|上官|东方|慕容|令狐|皇甫|尉迟|公孙|长孙|宇文|司徒|夏侯|端木"
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万"
    "钱严覃武戴莫孔汤温康施文牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳甘祝包宁尚符"
    "舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕屈饶牟艾尤阳穆司卓古吉"
    "缪简项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬边卞姬仇栾隋商刁沙荣巫寇桑郎甄"
    "丛仲虞敖巩佘池麻苑迟邝于向"
)
_COMPOUND = tuple(_COMPOUND_SURNAMES.split("|"))
# words right before a name; 叫 / 姓名 mark it strongly enough to overrule the dictionary
_STRONG_BEFORE = re.compile(r"(?:叫做|名叫|叫|姓名|名字[是叫]?)[:：]?\s*")
_WEAK_BEFORE = re.compile(
    r"(?:是|找|给|转告|告诉|通知|让|帮|替|联系人|联系|一下|"
    r"同事|朋友|同学|室友|邻居|老公|老婆|丈夫|妻子|爱人|太太|儿子|女儿|爸爸?|妈妈?|"
    r"哥哥?|姐姐?|弟弟?|妹妹?|婆婆|公公|岳父|岳母|舅舅|领导|老板|"
    r"客户|借款人|担保人|户主|持卡人|催收员|专员|坐席|客服|经理|主管|员工|人员|"
    r"业务员|律师|(?:部|组|中心|公司|团队)的)[:：]?\s*"
)
# a call opening: the name starts the text or a sentence and greets or asks for the person
_OPENING = re.compile(r"(?:^|(?<=[，,。.！!？?；;：:\s]))")
_VOCATIVE = re.compile(r"(?:你好|您好|在吗|在不在|吗|[，,]\s*(?:你|您))")
_HONORIFIC = re.compile(r"(?:女士|先生|小姐(?!姐))")
# particles, pronouns and verbs: never part of a given name, and a name may end before them
_NOT_IN_GIVEN = set(
    "的了是在说和与跟也都就还又很吗呢吧啊呀嘛我你您他她它们这那没被把给让要想去打叫找问不着过个么什哪谁啥对已欠借接帮替等咱"
)
_ENDS_NAME = _NOT_IN_GIVEN | set("有来才会能每今昨一")
_TITLES = re.compile(
    r"(?:女士|先生|小姐|本人|同志|同学|老师|经理|律师|师傅|主管|专员|阿姨|叔叔|在吗|你好|您好)"
)
_COMMON_FREQ = 20  # a dictionary word at least this frequent marks where a name ends
# what follows a place or a company, not a person: 江西人, 华盛律师事务所, 马上金融
_NOT_AFTER_NAME = re.compile(
    r"(?:律师事务所|事务所|公司|银行|集团|金融|科技|保险|证券|小贷|消费|网络|中心|医院|大学|学校)"
)
_NOT_LAST = set("人省市县区镇村乡庄州国路街局厂店")  # 江西人, 苏州市 (ends a place, not a name)
# given-name parts that are titles or words, not names: 我是王姐 / 我是高中生
_NOT_GIVEN = frozenset(
    [
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
        "总监",
        "副",
        "局长",
        "科长",
        "处长",
        "所长",
        "队长",
        "主任",
    ]
)
# words the dictionary tags as names (or does not know) that are not names in borrower text
_NOT_NAMES = frozenset(
    [
        "高中",
        "高中生",
        "高兴",
        "高管",
        "毛病",
        "包子",
        "白领",
        "金额",
        "钱包",
        "黄牛",
        "江湖",
        "谢谢",
        "叶子",
        "丁克",
        "杨浦",
        "马上",
        "方便",
        "于是",
        "向来",
        "万一",
        "许多",
        "何时",
        "常常",
        "安全",
        "周末",
        "白天",
        "王者",
        "黄金",
        "林业",
        "张开",
        "高利贷",
        "高峰期",
    ]
)


@functools.cache
def _lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """From jieba's dictionary: (2-4 character words used at least ``_COMMON_FREQ`` times,
    words that start with a surname and are not tagged as a person's name: 高兴, 江西, 马上).

    Read once per process from the installed ``jieba`` package (about 1 s); no tokenizer is
    built and jieba's global state is not touched.
    """
    common, ordinary = set(), set()
    with (resources.files("jieba") / "dict.txt").open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) != 3 or not 2 <= len(parts[0]) <= 4:
                continue
            word, freq, tag = parts
            if int(freq) >= _COMMON_FREQ:
                common.add(word)
            if word[0] in _SURNAMES and not tag.startswith("nr"):
                ordinary.add(word)
    return frozenset(common), frozenset(ordinary)


def _ends_here(text: str, k: int) -> bool:
    """Whether a name may end before ``text[k]``: the end, punctuation, a particle or title, or
    an ordinary dictionary word (罗斌|答应, 孙磊|天天)."""
    if k >= len(text) or not _is_han(text[k]):
        return True
    if text[k] in _ENDS_NAME or _TITLES.match(text, k):
        return True
    if k + 1 < len(text) and text[k + 1] in "我你您他她":  # a verb and its object: 丁志明|骂我
        return True
    common = _lexicon()[0]
    return any(text[k : k + n] in common for n in (2, 3, 4) if k + n <= len(text))


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _name_at(text: str, i: int, *, strong: bool, opening: bool = False) -> tuple[int, int] | None:
    """The span of a name starting at ``text[i]`` in a context that marks one, or None.

    A 2-character given name is preferred where the text allows both (林志强|说 over 林志|强说).
    ``strong``: 叫 / 姓名 / an honorific marked it, so a dictionary word may be a name.
    ``opening``: a sentence start, where only a greeting or question may follow (刘芳你好).
    """
    surname = next((c for c in _COMPOUND if text.startswith(c, i)), None)
    if surname is None:
        surname = text[i : i + 1]
        if surname not in _SURNAMES:
            return None
    j = i + len(surname)
    for n in (2, 1):
        given = text[j : j + n]
        if len(given) < n or not all(_is_han(c) and c not in _NOT_IN_GIVEN for c in given):
            continue
        k = j + n
        if opening:
            if not (_VOCATIVE.match(text, k) or _HONORIFIC.match(text, k)):
                continue
        elif not _ends_here(text, k):
            continue
        name = surname + given
        if given in _NOT_GIVEN or name in _NOT_NAMES or given[-1] in _NOT_LAST - {"国"}:
            continue
        if k < len(text) and text[k] in _NOT_LAST:
            continue
        if any(_NOT_AFTER_NAME.match(text, p) for p in range(j, k + 1)):
            continue  # 华盛|律师事务所, 马上|金融, 于|公司
        if not strong and not _HONORIFIC.match(text, k) and name in _lexicon()[1]:
            continue  # an ordinary word: 是高兴的, 给金额, 我是江西的
        return i, k
    return None


def _names(text: str) -> list[tuple[int, int]]:
    """(start, end) of the personal names in ``text`` (possibly overlapping)."""
    found = []
    for pattern, strong in ((_STRONG_BEFORE, True), (_WEAK_BEFORE, False)):
        for m in pattern.finditer(text):
            if m.end() < len(text) and (span := _name_at(text, m.end(), strong=strong)):
                found.append(span)
    for m in _OPENING.finditer(text):
        if m.end() < len(text) and (span := _name_at(text, m.end(), strong=False, opening=True)):
            found.append(span)
    for m in _HONORIFIC.finditer(text):  # 尊敬的毛建军先生 / 李娜女士您好
        for length in (4, 3, 2):  # 欧阳娜娜 / 王小强 / 李娜
            i = m.start() - length
            if i < 0 or (i > 0 and _is_han(text[i - 1]) and text[i - 1] not in _BEFORE_TITLED):
                continue
            if (span := _name_at(text, i, strong=True)) and span[1] == m.start():
                found.append(span)
                break
    return found


# a titled name may follow these characters directly: 是李娜女士 / 尊敬的王小强先生
_BEFORE_TITLED = set("是叫找给问跟和对向请位好的户人")


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
    for start, end in _names(text):
        surname = next((c for c in _COMPOUND if text.startswith(c, start)), text[start])
        given = text[start + len(surname) : end]
        out.append(PiiSpan(start, end, "name", text[start:end], surname + "*" * len(given)))
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
