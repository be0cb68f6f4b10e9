"""Simplified Chinese in a model's output, measured and converted to Taiwan Traditional.

Small local models drift into Simplified Chinese (「不限于」「付款协议」). :func:`to_traditional`
converts it with OpenCC's ``s2twp`` (Taiwan standard characters and Taiwan phrasing), but only
where the model wrote Simplified: ``s2twp`` also rewrites text that is already correct Taiwan
Traditional. On the Ministry of Justice law corpus (``ChLaw.json``, 13,674 articles) it changed
4,001 articles: 文件→檔案 (2,345 times), 程序→程式, 項目→專案, 設置→設定, 聲明→宣告,
審核→稽核, 對象→物件, 占→佔, 台→臺 … — the words of the law itself.

So the unit of conversion is a run of Han characters between two non-Han ones (punctuation, a
space, a digit, a bracket): no OpenCC phrase crosses one. A run is converted when it holds a
Simplified-only character and left exactly as written otherwise, so quotes of the law in 「…」
and our citation labels 〔銀行法第32條〕 pass unchanged unless the model wrote them in
Simplified. (Aligning ``s2twp``'s output with its input to convert less than a run was tried
and dropped: its phrases change length — 用户→使用者 — and the alignment split them.)
Text with no Simplified-only character is returned as it came.

:func:`simplified_share` is the measure: the share of Han characters that are Simplified-only.
It is 0.0 on every article of the law corpus (tests/test_traditional.py).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

import opencc

# Standard Taiwan Traditional characters that OpenCC's s2tw nevertheless maps to another one
# (准→準, 占→佔, 台→臺, 污→汙 …). Without them these law words would count as Simplified: the
# eleven that the law corpus uses, plus 里 (村里, 公里) and 凶 (凶手), as common in Taiwan.
# 于 is deliberately absent: in a model's answer it is the Simplified 於.
_SHARED = frozenset("准占台佣雇干游并伙污泄里凶")

# Words of Taiwan law and banking that s2twp's Taiwan-phrase table turns into computing
# vocabulary: every word used 20 times or more in ChLaw.json that it rewrites. 授信对象 must read
# 授信對象, not 授信物件; 银行代码 銀行代碼, not 銀行程式碼; 审核 審核 (review), not 稽核 (audit).
# In a run being converted they take the plain character conversion (s2tw) instead.
_LEGAL_TERMS = (
    "文件", "程序", "項目", "設置", "聲明", "保存", "設備", "對象", "登錄", "審核", "註銷",
    "權限", "用戶", "消息", "交互", "存儲", "循環", "類型", "聯繫", "高級", "代碼", "字體",
    "參數", "調度", "算法",
)  # fmt: skip
_TERM = re.compile("|".join(_LEGAL_TERMS))
# The Han characters of is_han, as a run.
_HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]+")


class _Converter:
    """One OpenCC configuration, made on first use. Converting only reads the loaded
    dictionaries, but the binding does not document thread safety: a lock costs microseconds
    next to a model's token."""

    def __init__(self, config: str) -> None:
        self._cc = opencc.OpenCC(config)
        self._lock = threading.Lock()

    def convert(self, text: str) -> str:
        with self._lock:
            return self._cc.convert(text)


_made = threading.Lock()
_converters: dict[str, _Converter] = {}


def _converter(config: str) -> _Converter:
    with _made:
        made = _converters.get(config)
        if made is None:
            made = _converters[config] = _Converter(config)
        return made


def is_han(ch: str) -> bool:
    """A CJK ideograph: the unified blocks, extension A and the supplementary planes."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
    )


@lru_cache(maxsize=8192)
def simplified_only(ch: str) -> bool:
    """Written only in Simplified Chinese: a Han character that s2tw (characters and Taiwan
    variants, no phrases) changes, that t2s leaves alone (so it is not a Traditional one with
    a Simplified form), and that is not one of the standard characters of :data:`_SHARED`.
    s2tw rather than s2t: s2t also maps Taiwan's own forms (群→羣, 秘→祕)."""
    if not is_han(ch) or ch in _SHARED:
        return False
    return _converter("s2tw").convert(ch) != ch and _converter("t2s").convert(ch) == ch


def simplified_share(text: str) -> float:
    """The share of the Han characters in ``text`` that are Simplified-only (0.0 without any)."""
    han = [ch for ch in text if is_han(ch)]
    if not han:
        return 0.0
    return sum(simplified_only(ch) for ch in han) / len(han)


def to_traditional(text: str) -> str:
    """``text`` in Taiwan Traditional: each run of Han characters that holds a Simplified-only
    character converted with s2twp, all else unchanged (the module's docstring says why)."""
    if not any(simplified_only(ch) for ch in text):
        return text
    return _HAN_RUN.sub(lambda m: _convert_run(m.group()), text)


def _convert_run(run: str) -> str:
    if not any(simplified_only(ch) for ch in run):
        return run
    twp = _converter("s2twp").convert
    plain = _converter("s2tw").convert(run)
    if len(plain) != len(run):  # s2tw maps character for character; never seen otherwise
        return twp(run)
    out: list[str] = []
    start = 0
    for term in _TERM.finditer(plain):
        out += [twp(run[start : term.start()]), term.group()]
        start = term.end()
    out.append(twp(run[start:]))
    return "".join(out)


def to_traditional_data(data: Any) -> Any:
    """A schema-constrained call's parsed object with every string value converted. Keys are
    the schema's own names and are left alone; enum labels ("A", "1") have no Han to convert."""
    if isinstance(data, str):
        return to_traditional(data)
    if isinstance(data, list):
        return [to_traditional_data(x) for x in data]
    if isinstance(data, dict):
        return {k: to_traditional_data(v) for k, v in data.items()}
    return data


# Zero-width spaces and joiners, direction marks and the byte-order mark: invisible in a chat box,
# they come with text pasted from chat apps, spreadsheets and web pages, and split an account
# number (005\u200b096041084307) or a law's name in two.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def normalise_question(text: str) -> str:
    """A user's question as the product reads it: invisible format characters removed, and
    Simplified runs in Taiwan Traditional (``to_traditional``)."""
    return to_traditional(_INVISIBLE.sub("", text))
