"""Article numbers in their normalised form: ``12-1`` for 第 12-1 條, 第十二條之一, Article 12-1, §12-1."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "零〇一二兩三四五六七八九十百千"


def cn_to_int(text: str) -> int | None:
    """Chinese numerals up to 9999 (十二, 一百零五, 兩千) or ASCII digits → int."""
    text = unicodedata.normalize("NFKC", text).strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_NUM for ch in text):
        return None
    if len(text) > 1 and not any(ch in _CN_UNITS for ch in text):
        # Written digit by digit (四五 for 45, 一〇五 for 105), as people do in a hurry.
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            total += (1 if digit is None else digit) * unit
            digit = None
    return total + (digit or 0)


_NUM = rf"(?:\d+|[{_CN_NUM}]+)"
# 第 12 條、第 12-1 條、第十二條之一、第 12 條之 1、第十二之一條
_ZH_ARTICLE = re.compile(
    rf"第\s*({_NUM})\s*(?:[-－—]\s*({_NUM}))?\s*(?:之\s*({_NUM})\s*)?條(?:\s*之\s*({_NUM}))?"
)
# Right after a law's name, without 第: 銀行法45條之2, 銀行法 45-2, 銀行法33。
_AFTER_LAW = re.compile(rf"\s*({_NUM})(?:\s*[-－—]\s*({_NUM}))?\s*(條)?(?:\s*之\s*({_NUM})\s*條?)?")
# What may follow a bare number for it to be an article, not an amount or a year (銀行法100萬,
# 洗錢防制法2024年修正): the end, a punctuation mark, or words that ask about the article.
_ENDS_REFERENCE = re.compile(
    r"\s*(?:$|[，。？?！!、；;:：,.)）」』》\]]"
    r"|的|規定|規範|條文|內容|說|講|寫|怎|有何|是|跟|和|與|及|或|提到|要求)"
)
_EN_ARTICLE = re.compile(r"(?:Article|Art\.?|§)\s*(\d+)(?:\s*-\s*(\d+))?", re.IGNORECASE)


def normalise_article(raw: str) -> str:
    """Normalised article number of a heading such as ``第 12-1 條`` or ``Article 12-1``.

    Returns the text stripped of whitespace when it has no recognisable number, so odd
    headings still round-trip rather than vanish.
    """
    raw = unicodedata.normalize("NFKC", raw)
    m = _ZH_ARTICLE.search(raw)
    if m:
        main = cn_to_int(m.group(1))
        sub = m.group(2) or m.group(3) or m.group(4)
        if main is not None:
            sub_n = cn_to_int(sub) if sub else None
            return f"{main}-{sub_n}" if sub_n else str(main)
    m = _EN_ARTICLE.search(raw)
    if m:
        return f"{int(m.group(1))}-{int(m.group(2))}" if m.group(2) else str(int(m.group(1)))
    m = re.fullmatch(r"\s*(\d+)(?:\s*-\s*(\d+))?\s*", raw)
    if m:
        return f"{int(m.group(1))}-{int(m.group(2))}" if m.group(2) else str(int(m.group(1)))
    return re.sub(r"\s+", "", raw)


def _after_law(text: str, end: int) -> tuple[int, str] | None:
    """An article number written right after a law's name ending at ``end``, if it is one."""
    m = _AFTER_LAW.match(text, end)
    if m is None:
        return None
    main, dash, tiao, sub = m.group(1), m.group(2), m.group(3), m.group(4)
    if not (tiao or dash or sub or _ENDS_REFERENCE.match(text, m.end())):
        return None
    n, s = cn_to_int(main), cn_to_int(dash or sub or "")
    if n is None:
        return None
    return m.start(1), f"{n}-{s}" if s else str(n)


def article_refs_at(text: str, law_ends: Sequence[int] = ()) -> list[tuple[int, str]]:
    """Every article reference in ``text`` (NFKC) with where it starts, in order; ``law_ends``:
    where named laws end, so 銀行法45-2 is read as an article."""
    text = unicodedata.normalize("NFKC", text)
    spans: list[tuple[int, str]] = []
    for m in _ZH_ARTICLE.finditer(text):
        spans.append((m.start(), normalise_article(m.group(0))))
    for m in _EN_ARTICLE.finditer(text):
        spans.append((m.start(), normalise_article(m.group(0))))
    for end in law_ends:
        if text[end : end + 1] != "第" and (found := _after_law(text, end)) is not None:
            spans.append(found)
    return sorted(set(spans))


def without_article_refs(text: str) -> str:
    """``text`` (NFKC) with its 第…條 and Article / § references taken out."""
    text = unicodedata.normalize("NFKC", text)
    return _EN_ARTICLE.sub(" ", _ZH_ARTICLE.sub(" ", text))


def find_article_refs(text: str, law_ends: Sequence[int] = ()) -> list[str]:
    """Every article reference in a question, normalised, in order of appearance."""
    return list(dict.fromkeys(a for _, a in article_refs_at(text, law_ends)))


def article_label(law: str, article: str, lang: str = "zh-TW") -> str:
    """How a citation reads: 銀行法第12-1條 / Banking Act Article 12-1."""
    if lang.startswith("zh"):
        return f"{law}第{article}條" if article else law
    return f"{law} Article {article}" if article else law


def article_url(law_url: str, article: str) -> str:
    """Link to one article on the law database when its law URL carries a pcode, else the law."""
    parts = urlsplit(law_url)
    pcode = parse_qs(parts.query).get("pcode")
    if not pcode or not article or "LawClass" not in parts.path:
        return law_url
    single = parts.path.rsplit("/", 1)[0] + "/LawSingle.aspx"
    query = urlencode({"pcode": pcode[0], "flno": article})
    return urlunsplit((parts.scheme, parts.netloc, single, query, ""))
