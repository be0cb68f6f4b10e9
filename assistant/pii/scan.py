"""Find Taiwanese personal data in text: where it is, what kind, and its normalised value.

Text is scanned through a one-to-one character map (full-width letters, digits and punctuation
to ASCII, the ideographic space to a space, Unicode dashes to ``-``), so every offset found in the
map is an offset in the original and masking can leave the rest of the text exactly as written.

Which digits count as what — the rules, in order:

1. Identity numbers (身分證, 居留證 old and 2021 formats) and card numbers (Luhn plus a known
   issuer prefix and length) are recognised by their check digits; e-mail by its shape.
2. A mobile number (09 + 8 digits, or +886 9…) is personal by its shape alone. A landline needs
   a sign that it is a telephone number: an area code in brackets ``(02)``, a separator right
   after the area code ``02-``, a ``+886`` prefix, or a telephone word before it (電話, Tel …);
   bare ``0223456789`` is too often something else.
3. A bare run of 10–16 digits (spaces or dashes allowed, an optional 3-digit bank code in front)
   is a bank account only with account context: the nearest keyword before it (within
   ``CONTEXT_CHARS``; when there is none before, within a few characters after) is an account
   word (帳號, 帳戶, 轉入, 匯款, 銀行, account …), or the bank code is written in brackets
   ``(822)0123456789012``. Digits alone never make an account.
4. The nearest keyword also vetoes: a number whose nearest keyword names something else —
   訂單, 編號, 案號, 發票, 金額, 餘額, 字第 (an official letter), order, invoice … — is not
   masked as a phone, account or card; an account word in front of a Luhn-valid number makes it
   an account, not a card; an account or card word makes a phone-shaped number not a phone.
5. Money and time are never numbers to mask: a run followed by a currency or unit (元, 萬, 億,
   股, %, TWD …), preceded by ``$``, followed by ``:`` (a time), or starting with a date
   (2024-01-15, 113-01-15) or is a 14-digit time stamp (20240115103000) is skipped. Amounts with thousands separators (1,234,567,890) never
   form a run; dates, ROC years (民國113年) and article numbers (第12條) are too short to.
6. Overlaps resolve deterministically: e-mail, then check-digit kinds, then phones, then
   accounts; within a tier the longer match, then the earlier one.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Literal

from assistant.pii.checks import card_prefix_ok, luhn_ok, national_id_ok, resident_id_ok

Kind = Literal[
    "national_id", "resident_id", "mobile", "landline", "bank_account", "credit_card", "email"
]
KINDS: tuple[Kind, ...] = (
    "national_id",
    "resident_id",
    "mobile",
    "landline",
    "bank_account",
    "credit_card",
    "email",
)
CONTEXT_CHARS = 24  # how far before a number its keyword may stand (a short clause in Chinese)
AFTER_CHARS = 6  # …and after it, when there is none before (0123456789012轉出)


@dataclass(frozen=True, slots=True)
class Span:
    kind: Kind
    start: int
    end: int
    text: str  # as written in the original, full-width and separators included
    value: str  # normalised: ASCII, upper-case, no separators; phones in national form (09…, 02…)


# --- one-to-one normalisation -------------------------------------------------------------------

_MAP = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_MAP[0x3000] = 0x20
_MAP.update({c: 0x2D for c in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212)})
# Full-width commas and stops are everywhere in Chinese and change nothing on their own; only
# full-width letters, digits and the characters that join them trigger the (whole-text) map.
_NEEDS_MAP = re.compile(
    "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff08\uff09\uff0b\uff0d\uff20\u3000\u2010-\u2015\u2212]"
)


def normalise(text: str) -> str:
    """Full-width → ASCII, character for character (offsets stay valid)."""
    return text.translate(_MAP) if _NEEDS_MAP.search(text) else text


_NON_DIGIT = re.compile(r"[^0-9]")


def _digits(s: str) -> str:
    return _NON_DIGIT.sub("", s)


# --- patterns (on normalised text; re.ASCII so that \d is 0-9 only) --------------------------------

_F = re.ASCII
_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Z][ \-]?[1289A-D](?:[ \-.]?\d){8}|[a-z][1289a-d]\d{8})(?![A-Za-z0-9])",
    _F,
)
_PHONE = re.compile(
    r"(?<![A-Za-z0-9+])(?:"
    r"(?P<intl>(?:\+|00)886)[ \-.]?(?:\(0\)[ \-.]?)?(?P<ibody>[2-9](?:[ \-.]?\d){6,8})"
    r"|(?P<paren>\(0\d{1,3}\))[ \-.]?(?P<pbody>\d(?:[ \-.]?\d){4,7})"
    r"|(?P<body>0\d(?:[ \-.]?\d){6,8})"
    r")(?:[ ]?(?:\#|分機|ext\.?|x)[ ]?\d{1,5})?(?!\d)(?![\-.]\d)",
    _F,
)
_RUN = re.compile(
    r"(?<![A-Za-z0-9])(?<!\d,)(?<!\d\.)(?:\((?P<bank>\d{3})\)[ \-]?)?"
    r"(?P<num>\d(?:[ \-]?\d){9,18})(?![\d:])(?![\-.,]\d)",
    _F,
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9][A-Za-z0-9\-]{0,62}"
    r"(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
    _F,
)
_UNIT_AFTER = re.compile(
    r" ?(?:元|圓|塊|萬|億|千|百|美元|美金|日圓|日幣|歐元|人民幣|港幣|股|張|%|NTD|TWD|USD|JPY|EUR)",
    _F,
)
_DATE_START = re.compile(
    r"(?:19|20)\d\d[\-/.][01]?\d[\-/.][0-3]?\d|1?\d\d[\-/.][01]\d[\-/.][0-3]\d", _F
)

_TIMESTAMP = re.compile(
    r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:[01]\d|2[0-3])[0-5]\d[0-5]\d", _F
)

_AREAS = ("0826", "0836", "037", "049", "082", "089", "02", "03", "04", "05", "06", "07", "08")
_AREA_LENGTHS = {"02": (10,), "04": (9, 10), "049": (10,)}  # digits with the 0; others 9


def area_code(national: str) -> str | None:
    """The area code of a landline in national form (``0223456789`` → ``02``), if valid."""
    for area in _AREAS:  # longest first; 037168587 is 03-7168587, not 037-168587
        if (
            national.startswith(area)
            and len(national) in _AREA_LENGTHS.get(area, (9,))
            and national[len(area)] in "23456789"
        ):
            return area
    return None


# --- context keywords ---------------------------------------------------------------------------

_KEYWORDS: dict[str, str] = {  # "|"-separated, Traditional Chinese then English
    "phone": "電話|手機|行動電話|市話|聯絡|聯繫|傳真|分機|來電|致電|撥打|tel|phone|mobile|cell|fax",
    "account": "帳號|帳戶|賬號|賬戶|帳戶編號|存摺|轉入|轉出|轉帳|匯入|匯出|匯款|入帳|扣款|銀行|郵局"
    "|account|acct|a/c|iban",
    "card": "卡號|信用卡|金融卡|簽帳卡|card",
    "other": "訂單|單號|編號|序號|案號|流水號|發票|統編|統一編號|字第|金額|餘額|總額|合計|共計"
    "|新臺幣|新台幣|時間|日期|order|invoice|ref|amount|balance|date|time",
}
_KEYWORD_CLASS = {w: cls for cls, words in _KEYWORDS.items() for w in words.split("|")}
# Chinese keywords as literals, longest first (帳戶編號 is one account word, not 帳戶 + 編號);
# English as whole words looked up in the table, which is ten times faster than re.IGNORECASE
# and needs no word-boundary checks ("hotel" is one word, not "tel"). "Tel No." and
# "Account No." need no entries of their own: "no" is no keyword, so "tel" stays the nearest.
_KEYWORD = re.compile(
    "|".join(re.escape(w) for w in sorted(_KEYWORD_CLASS, key=len, reverse=True) if not w.isascii())
    + "|[A-Za-z][A-Za-z/]*"
)


class Context:
    """The keywords of one text, found in one pass when the first number asks for them."""

    def __init__(self, norm: str) -> None:
        self._norm = norm
        self._ends: list[int] | None = None
        self._starts: list[int] = []
        self._classes: list[str] = []

    def _load(self) -> list[int]:
        ends: list[int] = []
        for m in _KEYWORD.finditer(self._norm):
            cls = _KEYWORD_CLASS.get(m.group().lower())
            if cls is not None:
                self._starts.append(m.start())
                ends.append(m.end())
                self._classes.append(cls)
        self._ends = ends
        return ends

    def around(self, start: int, end: int) -> str | None:
        """The class of the keyword nearest before ``start`` (within ``CONTEXT_CHARS``); when
        there is none, of the first keyword starting within ``AFTER_CHARS`` after ``end``."""
        ends = self._ends if self._ends is not None else self._load()
        i = bisect.bisect_right(ends, start) - 1
        if i >= 0 and ends[i] > start - CONTEXT_CHARS:
            return self._classes[i]
        j = bisect.bisect_left(self._starts, end)
        if j < len(self._starts) and self._starts[j] < end + AFTER_CHARS:
            return self._classes[j]
        return None


def keyword_class(norm: str, start: int, end: int) -> str | None:
    """One-off form of ``Context.around`` for a single number in ``norm``."""
    return Context(norm).around(start, end)


def _is_money(norm: str, start: int, end: int) -> bool:
    before = norm[max(0, start - 2) : start]
    return "$" in before or _UNIT_AFTER.match(norm, end) is not None


# --- candidates ---------------------------------------------------------------------------------

_TIER: dict[Kind, int] = {
    "email": 4,
    "national_id": 3,
    "resident_id": 3,
    "credit_card": 3,
    "mobile": 2,
    "landline": 2,
    "bank_account": 1,
}


def _ids(text: str, norm: str) -> list[Span]:
    out = []
    for m in _ID.finditer(norm):
        value = "".join(c for c in m.group() if c.isalnum()).upper()
        if national_id_ok(value):
            out.append(Span("national_id", m.start(), m.end(), text[m.start() : m.end()], value))
        elif resident_id_ok(value):
            out.append(Span("resident_id", m.start(), m.end(), text[m.start() : m.end()], value))
    return out


def _phones(text: str, norm: str, ctx: Context) -> list[Span]:
    out = []
    for m in _PHONE.finditer(norm):
        if m["intl"]:
            national, cue = "0" + _digits(m["ibody"]), True
        elif m["paren"]:
            national, cue = _digits(m["paren"] + m["pbody"]), True
        else:
            body = m["body"]
            national = _digits(body)
            area = area_code(national)
            cue = area is not None and len(body) > len(area) and body[len(area)] in " -."
        start, end = m.start(), m.end()
        if national.startswith("09") and len(national) == 10:
            kind: Kind = "mobile"
        elif area_code(national) is not None:
            kind = "landline"
        else:
            continue
        if _is_money(norm, start, end):
            continue
        context = ctx.around(start, end)
        if context in ("account", "card", "other"):
            continue
        if kind == "landline" and not cue and context != "phone":
            continue
        out.append(Span(kind, start, end, text[start:end], national))
    return out


def _runs(text: str, norm: str, ctx: Context) -> list[Span]:
    out = []
    for m in _RUN.finditer(norm):
        start, end = m.start(), m.end()
        num = m["num"]
        digits = _digits(num)
        if _is_money(norm, start, end) or _DATE_START.match(num):
            continue
        if len(num) == 14 and _TIMESTAMP.fullmatch(num):
            continue  # 20240115103000: a time stamp, not an account
        context = ctx.around(start, end)
        if context == "other":
            continue
        if (
            m["bank"] is None
            and context != "account"
            and 13 <= len(digits) <= 19
            and luhn_ok(digits)
            and card_prefix_ok(digits)
        ):
            out.append(Span("credit_card", start, end, text[start:end], digits))
            continue
        bank = m["bank"]
        if bank is None and len(num) > 3 and num[3] in " -" and 13 <= len(digits) <= 19:
            bank, digits = digits[:3], digits[3:]  # 822-0123456789012: a bank code in front
        if not 10 <= len(digits) <= 16:
            continue
        if context == "account" or (m["bank"] is not None and context is None):
            value = f"{bank}-{digits}" if bank else digits
            out.append(Span("bank_account", start, end, text[start:end], value))
    return out


def _emails(text: str, norm: str) -> list[Span]:
    return [
        Span("email", m.start(), m.end(), text[m.start() : m.end()], m.group().lower())
        for m in _EMAIL.finditer(norm)
    ]


def _resolve(candidates: list[Span]) -> list[Span]:
    """Best first (tier, then length, then position); keep each that overlaps none kept."""
    kept_starts: list[int] = []
    kept: list[Span] = []
    for span in sorted(candidates, key=lambda s: (-_TIER[s.kind], s.start - s.end, s.start)):
        i = bisect.bisect_left(kept_starts, span.start)
        if i > 0 and kept[i - 1].end > span.start:
            continue
        if i < len(kept) and kept[i].start < span.end:
            continue
        kept_starts.insert(i, span.start)
        kept.insert(i, span)
    return kept


_HAS_DIGIT = re.compile(r"[0-9\uff10-\uff19]")


def detect(text: str, kinds: frozenset[Kind] | set[Kind] | None = None) -> list[Span]:
    """Every piece of personal data in ``text``, in order, without overlaps."""
    has_at = "@" in text or "＠" in text
    if not has_at and not _HAS_DIGIT.search(text):
        return []  # the common case in logs and prose: nothing to look at
    norm = normalise(text)
    ctx = Context(norm)
    candidates = _ids(text, norm) + _phones(text, norm, ctx) + _runs(text, norm, ctx)
    if has_at:
        candidates += _emails(text, norm)
    spans = _resolve(candidates)
    return spans if kinds is None else [s for s in spans if s.kind in kinds]
