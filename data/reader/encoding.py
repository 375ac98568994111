"""Text encodings of uploaded files: UTF-8 (BOM or not), UTF-16, GBK/GB18030, Big5; else detect.

Used for every text format (survey CSV, transcript CSV/JSONL/TXT, metadata CSV) alike.
"""

from __future__ import annotations

import re

from data.reader.errors import InputError, Problem

# --------------------------------------------------------------------------- reading
ENCODINGS = ("utf-8-sig", "gb18030", "big5")
# Characters that Big5 bytes turn into when read as GB18030 (kana, Greek, Cyrillic, bopomofo,
# box drawing, private use); real Chinese text has almost none.
_IMPLAUSIBLE = re.compile("[\u0370-\u04ff\u2500-\u257f\u3040-\u312f\ue000-\uf8ff\ufffd]")


def decode_bytes(raw: bytes) -> tuple[str, str]:
    """Decode text bytes: UTF-8 (with or without BOM), GBK/GB18030, Big5; else detect."""
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        nul_share = raw[:4096].count(b"\x00") / max(1, min(len(raw), 4096))
        if nul_share > 0.05:
            raise InputError("文件不是文本表格（含大量二进制数据），请检查文件类型")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        _reject_mixed_utf8(raw)
    decoded = []
    for enc in ENCODINGS[1:]:
        try:
            decoded.append((raw.decode(enc), enc))
        except UnicodeDecodeError:
            continue
    if decoded:  # Big5 bytes are mostly valid GB18030 too: keep the plausible reading
        return min(decoded, key=lambda d: len(_IMPLAUSIBLE.findall(d[0])))
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise InputError("无法识别文件编码（试过 UTF-8、GBK/GB18030、Big5），请另存为 UTF-8 CSV")
    return str(best), best.encoding


def _reject_mixed_utf8(raw: bytes) -> None:
    """Reject a file whose lines are mostly UTF-8 Chinese but not all (pasted from elsewhere).

    Decoding it whole as GB18030 would silently store mojibake for every line.
    """
    good = bad = 0
    first_bad = None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError:
            bad += 1
            first_bad = first_bad or number
            continue
        good += bool(re.search("[\u4e00-\u9fff]", text))
    if good and good >= bad:
        problem = Problem(first_bad, None, "不是 UTF-8 编码（文件其余部分是 UTF-8）")
        raise InputError(f"文件编码混杂：{problem}，请统一另存为 UTF-8 后再上传", [problem])
