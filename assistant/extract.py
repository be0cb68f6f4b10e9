"""Tool arguments pulled out of a question without a language model: amounts, currencies,
bank accounts, dates and date ranges, and how many hops a fraud investigator wants.

Every parser is a plain regular-expression scan because it must run when no model is loaded
and must give the same answer every time. When a token is ambiguous the parsers leave it out
rather than guess: a tool run on an invented amount or date misleads the user, while a missing
argument only makes the assistant ask again. Spans always index the caller's original string.
"""

from __future__ import annotations

import calendar
import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Amount:
    """A money amount; ``currency`` is None when the text does not say (a bare ``$`` included)."""

    value: Decimal
    currency: str | None
    span: tuple[int, int]
    raw: str


@dataclass(frozen=True)
class Account:
    """An account number as digits only (or an upper-cased ledger id such as ``ACC000123``).

    ``bank_code`` is the 3-digit 銀行代碼 when it was written in front of the account, kept apart
    because transfer tools take it as a separate argument.
    """

    number: str
    bank_code: str | None
    raw: str
    span: tuple[int, int]


# English month abbreviations, spelled out because calendar.month_abbr follows the locale.
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _norm(text: str) -> str:
    """NFKC one character at a time: full-width digits and punctuation become ASCII while the
    length stays the same, so offsets found here are offsets in the caller's string."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


# ---------------------------------------------------------------- numbers

_CN_DIGITS = {
    ch: value
    for value, chars in enumerate(
        ["零〇", "一壹", "二兩两貳贰", "三參叁", "四肆", "五伍", "六陸", "七柒", "八捌", "九玖"]
    )
    for ch in chars
}
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"萬": 10**4, "万": 10**4, "億": 10**8, "亿": 10**8, "兆": 10**12}
_DIGIT_CH = "".join(_CN_DIGITS)
_UNIT_CH = "".join(_CN_SMALL) + "".join(_CN_BIG)
# A thousands group must be followed by a non-digit, else "1,2345" would read as 12345.
_ARABIC = r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?"
# Spaces may sit before a unit (60 萬) and after 萬/億 when another unit follows (5 萬 3 千), but
# not after 萬 before a bare digit: in "60萬 3筆" the 3 counts transactions.
_NUM = (
    rf"(?:{_ARABIC}|[{_DIGIT_CH}十拾百佰千仟])(?:{_ARABIC}|[{_DIGIT_CH}{_UNIT_CH}]|\s+(?=[{_UNIT_CH}])"
    rf"|(?<=[萬万億亿兆])\s+(?=(?:\d+|[{_DIGIT_CH}]+)\s*[{_UNIT_CH}]))*"
)
_PIECE = re.compile(rf"({_ARABIC})|([{_DIGIT_CH}])|([十拾百佰千仟])|([萬万億亿兆])")


def _parse_number(text: str) -> Decimal | None:
    """Arabic, Chinese (incl. 大寫 壹貳參) or mixed numerals with 十百千萬億兆 → Decimal.

    None when the string is not a well-formed number; a leading 百/千 or 萬 without a digit
    (千萬不要, 萬一, 百分之) is a word, not a number.
    """
    s = re.sub(r"\s+", "", text)
    total, section, num = Decimal(0), Decimal(0), None
    last_unit, n_digits, zero_seen, pos = 0, 0, False, 0
    while pos < len(s):
        m = _PIECE.match(s, pos)
        if not m:
            return None
        pos = m.end()
        arabic, digit, small, big = m.groups()
        if arabic:
            if num is not None:
                return None
            num, n_digits = Decimal(arabic.replace(",", "")), len(arabic)
        elif digit:
            d = _CN_DIGITS[digit]
            zero_seen = zero_seen or d == 0
            # Consecutive digits concatenate: 一一三 = 113, and 一百零五 reads 零五 as 5.
            num = Decimal(d) if num is None else num * 10 + d
            n_digits += 1
        elif small:
            unit = _CN_SMALL[small]
            if num is None and unit != 10:
                return None
            section += (1 if num is None else num) * unit
            num, last_unit, n_digits, zero_seen = None, unit, 0, False
        else:
            if num is None and section == 0:
                return None
            total += (section + (num or 0)) * _CN_BIG[big]
            section, num, last_unit, n_digits, zero_seen = Decimal(0), None, _CN_BIG[big], 0, False
    if num is not None and n_digits == 1 and not zero_seen and last_unit >= 10:
        num = num * last_unit / 10  # spoken shorthand: 三萬五 = 35000, 兩千三 = 2300
    if num is None and section == 0 and total == 0 and last_unit == 0:
        return None
    return total + section + (num or 0)


def cn_number(text: str) -> int | None:
    """Whole numbers written in Chinese, Arabic or both: 十五, 一百零五, 兩千三百, 三萬五千,
    3千5百, 2億3千萬. ``knowledge.articles.cn_to_int`` stops at 9999 and rejects mixed digits,
    which amounts need, hence a second parser."""
    value = _parse_number(_norm(text).strip())
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


# ---------------------------------------------------------------- currencies

_CURRENCIES = {
    "USD": ("美元", "美金", "USD", "US$", "US dollar", "US dollars", "U.S. dollars"),
    "TWD": ("新臺幣", "新台幣", "台幣", "臺幣", "NT$", "NTD", "TWD", "NT dollars"),
    "JPY": ("日圓", "日元", "日幣", "円", "JPY", "yen"),
    "EUR": ("歐元", "EUR", "euro", "euros", "€"),
    "CNY": ("人民幣", "CNY", "RMB", "yuan", "renminbi"),
    "HKD": ("港幣", "港元", "HKD", "HK$"),
    "GBP": ("英鎊", "GBP", "£", "sterling"),
    "AUD": ("澳幣", "澳元", "AUD", "A$"),
    "CAD": ("加幣", "加元", "CAD", "C$"),
    "SGD": ("新加坡幣", "新加坡元", "新幣", "SGD", "S$"),
    "CHF": ("瑞士法郎", "瑞郎", "CHF", "Swiss franc", "Swiss francs"),
    "NZD": ("紐幣", "紐元", "紐西蘭幣", "NZD", "NZ$"),
    "ZAR": ("南非幣", "南非蘭特", "ZAR"),
    "SEK": ("瑞典幣", "瑞典克朗", "SEK"),
    "THB": ("泰銖", "泰幣", "THB", "baht"),
    "KRW": ("韓元", "韓圜", "韓幣", "KRW", "₩"),
    "VND": ("越南盾", "VND"),
    "IDR": ("印尼盾", "IDR"),
    "PHP": ("菲律賓比索", "PHP"),
    "MYR": ("馬來幣", "令吉", "MYR"),
    "INR": ("印度盧比", "INR"),
    "MXN": ("墨西哥披索", "MXN"),
}
# Only currencies when attached to a number: 元 also means "first" (元旦), $ is US or NT.
_GENERIC: dict[str, str | None] = {"元": "TWD", "圓": "TWD", "塊錢": "TWD", "塊": "TWD"}
_GENERIC |= {"$": None, "dollar": None, "dollars": None}


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", name).lower()


_LOOKUP: dict[str, str | None] = {_key(n): c for c, names in _CURRENCIES.items() for n in names}
_LOOKUP.update(_GENERIC)


def currency_code(name: str) -> str | None:
    """The ISO 4217 code of a currency named on its own (美金, US dollar, Euro, yen), as a
    ledger's currency column may write it; None for anything else (元 and $ say no currency)."""
    code = _LOOKUP.get(_key(name.strip()))
    return code if code and _key(name.strip()) not in _GENERIC else None


def _alternation(names: list[str]) -> str:
    """Longest name first so 新台幣 wins over 台幣; Latin names only as whole words, because
    Python's \\b sees no boundary between CJK and Latin letters (匯款USD)."""
    parts = []
    for name in sorted(names, key=len, reverse=True):
        p = r"\s+".join(re.escape(w) for w in name.split())
        if re.search(r"[A-Za-z]", name):
            p = rf"(?<![A-Za-z])(?i:{p})" + ("(?![A-Za-z])" if name[-1].isalpha() else "")
        parts.append(p)
    return "|".join(parts)


_NAMED = [n for names in _CURRENCIES.values() for n in names]
_CUR_NAMED = _alternation(_NAMED)
_CUR_ANY = _alternation(_NAMED + list(_GENERIC))
_CURRENCY_RE = re.compile(_CUR_NAMED)


# ---------------------------------------------------------------- amounts

_AMOUNT_RE = re.compile(
    rf"(?:(?P<pre>{_CUR_ANY})\s*|(?<![A-Za-z0-9._,]))(?P<num>{_NUM})"
    r"(?P<mult>\s*(?i:thousands?|millions?|billions?|mn|mm|bn)(?![A-Za-z])|(?i:k|m|b)(?![A-Za-z]))?"
    rf"(?:\s*(?P<suf>{_CUR_ANY}))?"
    # Spoken Chinese puts the generic unit before the currency: 一萬五千塊美金, 三千元日幣.
    rf"(?:(?<=[元圓塊錢])(?P<named>{_CUR_NAMED}))?"
)
_MULT = {"k": 10**3, "thousand": 10**3, "m": 10**6, "mn": 10**6, "mm": 10**6}
_MULT |= {"million": 10**6, "b": 10**9, "bn": 10**9, "billion": 10**9}
# A number followed by a counter word counts things (3筆, 30天, 5%) rather than money.
_COUNTED = re.compile(
    # 年, 月 and 期 count things except where they begin the next word: 500萬 年利率 2%,
    # 3萬 月付, 3000萬 期限 2 年 are money followed by a term, not 500萬年 or 3000萬期.
    r"\s*(?:年(?![利息費度底])|月(?![付繳息底初費薪])|期(?![限間])"
    r"|[日號号天週周時分秒歲筆次個个位名人件張家戶條項款章節層跳階級樓倍成趟頁則題份支部種組季度%點折碼代輪股口]"
    r"|(?<![A-Za-z])(?i:percent|pct|bps?|basis\s+points?|days?|weeks?|months?|years?|yrs?|hours?"
    r"|hrs?|minutes?|mins?|seconds?|secs?|times|hops?|levels?|layers?|tiers?|degrees?|transactions?"
    r"|txns?|transfers?|accounts?|records?|rows?|items?|people|persons?|customers?|clients?|cases?"
    r"|digits?|pages?|articles?|shares?|units?|branches?)(?![A-Za-z]))"
)
# Bare numbers right after these are identifiers or article numbers, not money.
_ID_BEFORE = re.compile(
    r"(?:第|§|#|編號|帳號|帳戶|代碼|代號|卡號|戶號|統編|統一編號|電話|手機|分機|序號|號碼|案號|文號|字號|分之"
    r"|(?<![A-Za-z])(?i:account|acct|a/c|id|code|tel|phone|mobile|article|art\.?|section|sec\.?"
    r"|rule|page|ext\.?|number|no\.?))\s*[:#]?\s*$"
)
# A currency right after another one and / or 兌 is the quote side of a pair (USD/TWD 30.5).
_PAIR_BEFORE = re.compile(rf"(?:{_CUR_ANY})\s*(?:/|兌)\s*$")


def _generic(name: str | None) -> bool:
    return name is not None and _key(name) in _GENERIC


def _currency_of(pre: str | None, suf: str | None) -> str | None:
    """A named currency beats a generic 元/$: 美金60萬元 is USD, not TWD."""
    for name in (suf, pre):
        if name and not _generic(name):
            return _LOOKUP[_key(name)]
    for name in (suf, pre):
        if name:
            return _LOOKUP[_key(name)]
    return None


def _unmarked_is_amount(t: str, m: re.Match[str], value: Decimal, has_unit: bool) -> bool:
    """Without a currency a number is money only when nothing says otherwise, and only when it
    is large enough that counts, ranks and article numbers are unlikely (≥ 1000, or ≥ 100 with a
    unit such as 萬 or k)."""
    before, after = t[max(0, m.start() - 12) : m.start()], t[m.end() : m.end() + 12]
    if _COUNTED.match(after) or re.search(r"(?:第|分之)\s*$", before):
        return False
    if has_unit:
        return value >= 100  # ids are not written with 萬 or k: 轉入帳戶 50萬 is money
    if _ID_BEFORE.search(before):
        return False
    raw = m["num"]
    if not re.fullmatch(_ARABIC, raw):
        return False  # 一二三 without 萬/元 is a list or a name, not money
    if after[:1].isascii() and after[:1].isalpha():
        return False  # 3rd, 10am, 5G
    if re.match(r"[-/:]\d", after) or re.search(r"\d[-/:]$", before):
        return False  # part of a code, a time or a range we cannot read
    if raw.isdigit() and len(raw) > 1 and raw.startswith("0"):
        return False  # leading zeros belong to ids and codes
    if raw.isdigit() and len(raw) == 4 and 1900 <= value <= 2100:
        return False  # a bare 19xx/20xx is a year far more often than an amount
    return value >= 1000


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in spans)


def _tidy(value: Decimal) -> Decimal:
    whole = value.to_integral_value()
    return whole if value == whole else value.normalize()


def find_amounts(text: str) -> list[Amount]:
    """Money amounts in order of appearance, with the currency written next to them."""
    t = _norm(text)
    blocked = [h.span for h in _date_hits(t)] + [a.span for a in find_accounts(text)]
    out = []
    for m in _AMOUNT_RE.finditer(t):
        value = _parse_number(m["num"])
        if value is None or _overlaps(m.span("num"), blocked):
            continue
        mult = m["mult"]
        if mult:
            value *= _MULT[mult.strip().lower().removesuffix("s")]
        if value >= 10**18:
            continue  # a digit dump or serial, not money (兆 is 10**12)
        has_unit = bool(mult) or any(ch in _UNIT_CH for ch in m["num"])
        pre, suf = m["pre"], m["named"] or m["suf"]
        if pre and _PAIR_BEFORE.search(t, 0, m.start()):
            pre = None  # USD/TWD 30.5 and 美元兌台幣 30.5 quote a rate, not TWD 30.5
        if not (pre or suf) and not _unmarked_is_amount(t, m, value, has_unit):
            continue
        start, end = m.start("num") if pre is None else m.start("pre"), m.end()
        out.append(Amount(_tidy(value), _currency_of(pre, suf), (start, end), text[start:end]))
    return out


# 1,000 兆 in any currency: far beyond any one settlement or facility; money above it is a typo.
MAX_AMOUNT = Decimal(10) ** 15
# find_amounts reads digits, not a sign: a minus or 負 just before an amount negates it.
_NEGATED = re.compile(r"(^|[^\d\w])[-−－]\s*$|負\s*$")
# A number written but not readable as money: scientific notation, or a run of digits too long
# for any amount (find_amounts leaves both out).
_UNREADABLE = re.compile(
    r"(?<![\w.])[-−－]?\d[\d,]*(?:\.\d+)?[eE][+-]?\d+(?![\w.])|(?<![\w.,])\d{19,}(?!\w)"
)


def negated(text: str, amount: Amount) -> bool:
    """Whether ``amount`` (found in ``text``) is written with a minus or 負 before it."""
    return bool(_NEGATED.search(text[: amount.span[0]]))


def find_unreadable_number(text: str) -> str | None:
    """The first number that looks meant as an amount but cannot be one (1e400, 20 digits)."""
    m = _UNREADABLE.search(_norm(text))
    return m.group(0) if m else None


def find_currencies(text: str) -> list[str]:
    """ISO codes mentioned, first appearance first; 元 and $ count only next to an amount."""
    t = _norm(text)
    hits = [(m.start(), _LOOKUP[_key(m.group())]) for m in _CURRENCY_RE.finditer(t)]
    hits += [(a.span[0], a.currency) for a in find_amounts(text)]
    out: list[str] = []
    for _, code in sorted(hits, key=lambda h: h[0]):
        if code and code not in out:
            out.append(code)
    return out


# ---------------------------------------------------------------- accounts

_DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9_.,$+/])\d+(?:[- ]\d+)*(?![A-Za-z0-9_]|[.,/]\d)")
_LEDGER_ID = re.compile(r"(?<![A-Za-z0-9_$])([A-Za-z]{1,5})(\d{4,16})(?![A-Za-z0-9_])")
# Prefixes that make letters+digits something other than an account: currencies (USD600000),
# years (FY2024), standards, transaction ids, month names.
_NOT_LEDGER = {c for c in _CURRENCIES} | {"NT", "US", "HK", "RMB", "FY", "CY", "ISO", "ROC", "AD"}
_NOT_LEDGER |= {"TX", "TXN", "TRX", "TRN", "RFC", "PM", "AM", "Q", "H", "V", "VER", "NO", "ART"}
_NOT_LEDGER |= {m.upper() for m in _MONTHS} | {"SEPT", "JUNE", "JULY"}
# Phone, card and ID numbers share the digit shapes of accounts; their label tells them apart.
_OTHER_NUMBER_BEFORE = re.compile(
    r"(?:電話|手機|行動|聯絡|傳真|卡號|信用卡|身分證|統編|(?i:phone|tel|mobile|cell|fax|card))\D{0,6}$"
)
_MONEY_AFTER = re.compile(rf"\s*(?:[萬万億亿千百元圓塊]|{_CUR_ANY})")
_BANK_CODE = re.compile(
    r"(?:銀行代碼|銀行代號|總行代號|總行代碼|(?i:bank\s+code))\s*[:：]?\s*(\d{3})(?!\d)"
)


def _is_phone(groups: list[str]) -> bool:
    """Taiwanese phone groupings: an area or mobile prefix of 2–4 digits starting with 0, at
    most 10 digits in all (0912-345-678, 02-2345-6789, 0800-123-456)."""
    digits = "".join(groups)
    return len(groups) >= 2 and digits.startswith("0") and len(digits) <= 10 and len(groups[0]) <= 4


def _account(t: str, text: str, groups: list[str], span: tuple[int, int]) -> Account | None:
    if _OTHER_NUMBER_BEFORE.search(t[max(0, span[0] - 10) : span[0]]):
        return None
    raw = text[span[0] : span[1]]
    rest = groups[1:]
    if len(rest) == 1 and len(groups[0]) == 3 and 10 <= len(rest[0]) <= 16:
        return Account(rest[0], groups[0], raw, span)  # 822-1234567890123: 銀行代碼 + account
    digits = "".join(groups)
    if len(digits) == 17 and len(groups) == 1:
        # 銀行代碼 written together with a 14-digit account (中華郵政 700 + 14 digits): the
        # longest account number in use, and what a ledger export's id column holds.
        return Account(digits[3:], digits[:3], raw, span)
    if not 10 <= len(digits) <= 16 or _is_phone(groups):
        return None
    return Account(digits, None, raw, span)


def find_accounts(text: str) -> list[Account]:
    """Bank accounts (10–16 digits, grouped by dashes or spaces; 17 written as one number are a
    bank code and a 14-digit account) and ledger ids like ACC000123."""
    t = _norm(text)
    dates = [h.span for h in _date_hits(t)]
    found: list[Account] = []
    for m in _DIGIT_RUN.finditer(t):
        if _overlaps(m.span(), dates):
            continue  # 2024-03-01-2024-03-31 is a range, not a 16-digit account
        if re.search(rf"(?:{_CUR_ANY})\s*$", t[max(0, m.start() - 12) : m.start()]):
            continue  # NT$ 1234567890 is money
        chunks = [(c.start() + m.start(), c.group()) for c in re.finditer(r"\S+", m.group())]
        if _MONEY_AFTER.match(t, m.end()):
            chunks = chunks[:-1]  # "帳號 1234567890 60萬": the last group is the amount
        # Spaces join groups of one account (0123 456 789012) but also separate an account
        # from the next number; a group of 10+ digits is already a whole account.
        if any(len(c.replace("-", "")) >= 10 for _, c in chunks):
            units = [[c] for c in chunks]
        else:
            units = [chunks] if chunks else []
        code: tuple[str, int] | None = None  # a lone 3-digit group just before: 822 1234567890
        for unit in units:
            start, end = unit[0][0], unit[-1][0] + len(unit[-1][1])
            groups = [g for _, c in unit for g in re.split(r"[- ]", c)]
            acc = _account(t, text, groups, (start, end))
            if acc and acc.bank_code is None and code:
                acc = Account(acc.number, code[0], text[code[1] : end], (code[1], end))
            if acc:
                found.append(acc)
            code = (groups[0], start) if len(groups) == 1 and len(groups[0]) == 3 else None
    for m in _LEDGER_ID.finditer(t):
        prefix = m.group(1).upper()
        national_id = len(prefix) == 1 and len(m.group(2)) == 9 and m.group(2)[0] in "1289"
        if prefix not in _NOT_LEDGER and not national_id:
            found.append(Account(m.group().upper(), None, text[m.start() : m.end()], m.span()))
    for m in _BANK_CODE.finditer(t):
        later = [i for i, a in enumerate(found) if a.span[0] > m.end() and a.bank_code is None]
        if later:
            a = found[later[0]]
            found[later[0]] = Account(a.number, m.group(1), a.raw, a.span)
    return sorted(found, key=lambda a: a.span)


# ---------------------------------------------------------------- dates

_MON = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![A-Za-z])\.?"
)
_ROC = r"(?P<roc>(?:中華)?民國\s*)?"
# Not the tail of a code, version or time; a dash after a digit may close a range (…01-2024…).
_NB = r"(?<![A-Za-z0-9./:_])(?<![^0-9]-)"
_YCN = r"(?P<y>\d{2,4}|[〇零一二三四五六七八九十百]{2,6})"
_MCN = r"(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})"
# A day written in Chinese numerals needs 日, else 3月五十萬 would hold a 50th day.
_DCN = (
    r"(?P<d>\d{1,2}(?=\s*[日號号]|(?![\d萬万億亿千百元.,]))|[一二三四五六七八九十]{1,3}(?=\s*[日號号]))"
    r"\s*[日號号]?"
)
_EN_YEAR_AFTER = (
    r"(?:(?<![A-Za-z])(?:in|during|year|since|before|after|until|till|from|between|through|by|FY)"
    r"|(?<=\d\d\d\d )(?:and|to))\s*(?P<y>(?:19|20)\d\d)(?!\d|[-/.]\d|\s*(?:[%萬万億千百元圓塊$]|(?:dollars?|usd|twd|ntd)\b))"
)
# Kind, pattern; at one position the longest match wins, then the earlier pattern.
_DATE_RES = [
    (kind, re.compile(rx, re.IGNORECASE))
    for kind, rx in [
        ("ymd", rf"{_ROC}{_NB}{_YCN}\s*年\s*{_MCN}\s*月\s*{_DCN}"),
        (
            "ymd",
            rf"{_ROC}{_NB}(?P<y>\d{{2,4}})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<d>\d{{1,2}})(?!\d|\.\d)",
        ),
        ("mdy", rf"{_NB}(?P<m>\d{{1,2}})(?P<s>[-/])(?P<d>\d{{1,2}})(?P=s)(?P<y>\d{{4}})(?!\d)"),
        (
            "compact",
            r"(?<![A-Za-z0-9.,_-])(?P<y>(?:19|20)\d\d)(?P<m>0[1-9]|1[0-2])(?P<d>[0-3]\d)(?![\d,])",
        ),
        (
            "ymd",
            rf"(?<![A-Za-z]){_MON}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,\s*|\s+)(?P<y>\d{{4}})(?!\d)",
        ),
        (
            "ymd",
            rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON},?\s+(?P<y>\d{{4}})(?!\d)",
        ),
        ("ym", rf"(?<![A-Za-z]){_MON},?\s+(?P<y>\d{{4}})(?!\d)"),
        ("ym", rf"{_ROC}{_NB}{_YCN}\s*年\s*{_MCN}\s*月份?"),
        ("ym", rf"{_NB}(?P<y>(?:19|20)\d\d)(?P<s>[-/.])(?P<m>\d{{1,2}})(?!\d|[-/.]\d)"),
        ("q", rf"{_ROC}{_NB}{_YCN}\s*年度?\s*(?:第\s*(?P<q>[1-4一二三四])\s*季|(?P<h>[上下])半年)"),
        (
            "q",
            r"(?<![A-Za-z0-9])(?P<y>(?:19|20)\d\d)\s*[-/ ]?\s*(?:Q(?P<q>[1-4])|H(?P<h>[12]))(?![A-Za-z0-9])",
        ),
        (
            "q",
            r"(?<![A-Za-z0-9])(?:Q(?P<q>[1-4])|H(?P<h>[12]))\s*[-/ ]?\s*(?P<y>(?:19|20)\d\d)(?!\d)",
        ),
        ("ycn", rf"{_ROC}{_NB}{_YCN}\s*年度?"),
        ("yen", _EN_YEAR_AFTER),
        ("md", rf"(?<![\d年]){_MCN}\s*月\s*{_DCN}"),
        ("md", rf"(?<![A-Za-z]){_MON}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?![\d:]|,\d)"),
        ("md", rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON}"),
        (
            "m",
            r"(?<![\d年一二三四五六七八九十])(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})\s*月份?(?![\d一二三四五六七八九十])",
        ),
        ("mdn", rf"{_NB}(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})(?![\d/]|\.\d)"),
        ("bad", rf"{_NB}(?:\d{{2,4}}[-/]|\d{{3,4}}\.)\d{{1,2}}[-/.]\d{{1,2}}(?!\d)"),
    ]
]
_CONNECTOR = r"(?:~|-|–|—|至|到|迄|(?<![A-Za-z])(?:to|until|till|through|thru)(?![A-Za-z]))"
_RANGE_GAP = re.compile(rf"[\s,]*(?:起\s*)?{_CONNECTOR}\s*", re.IGNORECASE)
_AND_GAP = re.compile(r"\s*(?:(?<![A-Za-z])and(?![A-Za-z])|與|和|及|跟|、)\s*", re.IGNORECASE)
_BETWEEN = re.compile(r"(?:(?<![A-Za-z])between|介於|在)\s*$", re.IGNORECASE)
_FROM_BEFORE = re.compile(
    r"(?:(?<![A-Za-z])(?:since|from|after|starting(?:\s+(?:from|on))?|beginning)|自|從|由|晚於)\s*$",
    re.IGNORECASE,
)
_FROM_AFTER = re.compile(
    r"\s*(?:起|以後|之後|以來|以来|後|开始|開始|至今|迄今|onwards?|and\s+(?:after|later)|or\s+later)",
    re.IGNORECASE,
)
_UNTIL_BEFORE = re.compile(
    r"(?:(?<![A-Za-z])(?:before|until|till|up\s+to|through|by|prior\s+to)|截至|截止|直到|至|到|迄|早於)\s*$",
    re.IGNORECASE,
)
_UNTIL_AFTER = re.compile(r"\s*(?:以前|之前|前|為止|止|or\s+earlier|and\s+before)", re.IGNORECASE)


@dataclass
class _DateHit:
    """One date-looking token; ``start``/``end`` are the first and last day it covers (a month
    or a year covers many), both None when it is malformed or has no year to borrow."""

    span: tuple[int, int]
    raw: str
    kind: str
    year: int | None = None
    month: int | None = None
    day: int | None = None
    months: int = 1  # a quarter or a half year covers 3 or 6 months from ``month``
    start: date | None = None
    end: date | None = None
    error: str | None = None


def _year(raw: str | None, roc: bool) -> int | None:
    """Same rule as ``assistant.dates.parse_date``: 民國, or a year under 1000, is an ROC year."""
    y = cn_number(raw) if raw else None
    if y is None:
        return None
    return y + 1911 if roc or y < 1000 else y


def _candidate(kind: str, m: re.Match[str], t: str) -> _DateHit | None:
    g = m.groupdict()
    span = m.span("y") if kind == "yen" else m.span()
    hit = _DateHit(span, "", kind)
    if kind == "bad":
        return hit
    y_raw, roc = g.get("y"), bool(g.get("roc"))
    if kind == "ycn" and not roc:
        y = cn_number(y_raw) or 0
        if not (100 <= y <= 999 or 1900 <= y <= 2100):
            return None  # 10年 is a duration, 2024年 and 113年 are years
    if g.get("s") == "." and len(y_raw) < 3:
        return None  # 10.5.3 is a version number far more often than 民國10年
    if kind == "mdn" and not re.search(rf"{_CONNECTOR}\s*$", t[: m.start()], re.IGNORECASE):
        return None  # 1/2 is a fraction unless it closes a range: 2024/3/1~3/31
    hit.year = _year(y_raw, roc)
    if g.get("q") or g.get("h"):
        part = {"上": 1, "下": 2}.get(g["h"]) or cn_number(g["q"] or g["h"]) or 1
        hit.months = 3 if g.get("q") else 6
        hit.month = (part - 1) * hit.months + 1
    elif g.get("mon"):
        hit.month = _MONTHS.index(g["mon"][:3].lower()) + 1
    elif g.get("m"):
        hit.month = cn_number(g["m"])
    hit.day = cn_number(g["d"]) if g.get("d") else None
    if kind == "mdy" and hit.month and hit.month > 12:
        hit.month, hit.day = hit.day, hit.month  # 15/03/2024 can only be day-first
    return hit


def _settle(hit: _DateHit, year: int | None) -> None:
    """Fill start/end, or an error naming the token as the user wrote it."""
    if hit.kind == "bad":
        hit.error = f"日期格式錯誤 / malformed date: {hit.raw!r}"
        return
    probe = year if year is not None else 2000  # a leap year: only never-valid days fail
    try:
        if hit.day is not None:
            first = last = date(probe, hit.month or 0, hit.day)
        elif hit.month is not None:
            first = date(probe, hit.month, 1)
            end_month = hit.month + hit.months - 1
            last = date(probe, end_month, calendar.monthrange(probe, end_month)[1])
        else:
            first, last = date(probe, 1, 1), date(probe, 12, 31)
    except ValueError:
        if hit.kind != "compact":  # 20240231 may be any number; only flag what looks like a date
            hit.error = f"日期不存在 / no such date: {hit.raw!r}"
        return
    if year is not None:
        hit.start, hit.end = first, last


def _date_hits(t: str, text: str | None = None) -> list[_DateHit]:
    """Every date-looking token, valid or not, without overlaps, in order of appearance."""
    found = []
    for prio, (kind, rx) in enumerate(_DATE_RES):
        for m in rx.finditer(t):
            span = m.span("y") if kind == "yen" else m.span()
            found.append((span[0], span[0] - span[1], prio, kind, m))
    hits: list[_DateHit] = []
    for start, _, _, kind, m in sorted(found, key=lambda f: f[:3]):
        if hits and start < hits[-1].span[1]:
            continue
        hit = _candidate(kind, m, t)
        if hit:
            hit.raw = (text or t)[hit.span[0] : hit.span[1]]
            hits.append(hit)
    for i, hit in enumerate(hits):
        year = hit.year
        if year is None and hit.kind != "bad":
            # 2024年3月1日至3月31日: a date without a year borrows its neighbour's, the one
            # before it first, else the one after (from March 1 to March 31, 2024).
            before = [h.year for h in hits[:i] if h.year is not None]
            after = [h.year for h in hits[i + 1 :] if h.year is not None]
            year = before[-1] if before else after[0] if after else None
        _settle(hit, year)
    return hits


def find_dates(text: str) -> list[date]:
    """Valid dates in order of appearance; a month (2024年3月) or a year (113年) gives its first
    day. Malformed tokens are left out here and reported by ``check_dates``."""
    return [h.start for h in _date_hits(_norm(text), text) if h.start is not None]


def check_dates(text: str) -> list[str]:
    """A bilingual error for each date-looking token that is not a real date (113/02/30), so the
    caller can tell the user instead of querying a different day."""
    return [h.error for h in _date_hits(_norm(text), text) if h.error]


def find_date_range(text: str) -> tuple[date | None, date | None]:
    """The period a question asks about; an open side is None (自…起, …以前, since, before).

    Two dates joined by 到/至/~/to (or between … and …) give a range; otherwise every date
    mentioned is covered, and a single month or year covers all its days.
    """
    t = _norm(text)
    every = _date_hits(t, text)
    hits = [h for h in every if h.start is not None and h.end is not None]
    if not hits or any(h.error for h in every):
        return None, None  # half a range would silently widen the period; see check_dates
    for a, b in itertools.pairwise(hits):
        gap = t[a.span[1] : b.span[0]]
        between = _BETWEEN.search(t[: a.span[0]]) or re.match(r"\s*之?間", t[b.span[1] :])
        if _RANGE_GAP.fullmatch(gap) or (_AND_GAP.fullmatch(gap) and between):
            return min(a.start, b.start), max(a.end, b.end)  # type: ignore[type-var]
    froms = [
        h.start
        for h in hits
        if _FROM_BEFORE.search(t[: h.span[0]]) or _FROM_AFTER.match(t, h.span[1])
    ]
    untils = [
        h.end
        for h in hits
        if _UNTIL_BEFORE.search(t[: h.span[0]]) or _UNTIL_AFTER.match(t, h.span[1])
    ]
    if froms or untils:
        return (froms[0] if froms else None), (untils[-1] if untils else None)
    return min(h.start for h in hits), max(h.end for h in hits)  # type: ignore[type-var]


# ---------------------------------------------------------------- hops

_EN_NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_EN_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
_EN_WORDS = {w: i + 1 for i, w in enumerate(_EN_NUMBERS)} | {"single": 1}
_EN_WORDS |= {w: i + 1 for i, w in enumerate(_EN_ORDINALS)}
_EN_NUM = rf"\d{{1,2}}|{'|'.join(_EN_WORDS)}"
_CN_HOP = r"\d{1,2}|[一二兩三四五六七八九十]{1,3}"
_HOP_RES = [
    re.compile(rf"(?<!\d)({_CN_HOP})\s*個?\s*(?:層|跳|階(?!段|梯))"),  # 二階段驗證 is two-step
    re.compile(rf"(?:深度|層數|跳數|層級)\s*(?:為|是|[:=])?\s*({_CN_HOP})"),
    re.compile(
        rf"(?<![A-Za-z0-9])({_EN_NUM})(?:st|nd|rd|th)?[\s-]*(?:hops?|levels?|layers?|tiers?|degrees?)"
        r"(?![A-Za-z])",
        re.IGNORECASE,
    ),
    re.compile(rf"(?<![A-Za-z])(?:max_?hops|hops?|depth)\s*(?:=|:|of|is)?\s*({_EN_NUM})\b", re.I),
]


def find_hops(text: str) -> int | None:
    """Layers of counterparties to trace (前三層, 3 hops, two levels); the first mention wins."""
    t = _norm(text)
    matches = [m for rx in _HOP_RES for m in rx.finditer(t)]
    for m in sorted(matches, key=lambda m: m.start()):
        word = m.group(1).lower()
        n = _EN_WORDS.get(word) or cn_number(word)
        if n:
            return n
    return None
