"""An FX question's arguments, read without a model: who the customer is, which way the money
goes, how much of which currency, cash or spot, the year's settlements so far, and the date.

What the text does not say is left unset rather than guessed, except where the desk has a
convention (spot unless cash is asked; an individual unless another customer type is named),
and those defaults are reported so the answer can say it assumed them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from assistant.extract import (
    MAX_AMOUNT,
    Amount,
    check_dates,
    find_amounts,
    find_currencies,
    find_dates,
    find_unreadable_number,
    negated,
)

CUSTOMERS: tuple[tuple[str, str], ...] = (
    # Most specific first: 未成年個人 is a minor, 外國公司 without residence a nonresident.
    (
        "minor",
        r"未滿\s*(?:18|十八)\s*歲|未成年|minor|under\s*18|(?<!\d)1[0-7]\s*歲|"
        r"(?<![一二三四五六七八九十百])(?:十[一二三四五六七]?|[一二三四五六七八九])\s*歲|"
        r"\b1[0-7]-year-old",
    ),
    ("nonresident", r"非居住民|非居民|non-?resident"),
    ("company", r"公司|行號|企業|法人|廠商|company|corporate|firm"),
    ("group", r"團體|協會|基金會|寺廟|教會|association|foundation"),
    ("individual", r"個人|自然人|本人|individual|person"),
)
_BUYS = re.compile(
    r"結購|購買|買入?|換(?:成|為)?外幣|匯出|buy|purchase|remit\s+(?:abroad|out)", re.I
)
_SELLS = re.compile(r"結售|賣出?|售出|換回|匯入|sell|inward", re.I)
# With no buy/sell word: "要多少台幣" and "拿台幣換美元" pay TWD (the customer buys); "可以換多少
# 台幣" and "把美元換成台幣" get TWD (the customer sells).
_PAYS_TWD = re.compile(
    r"(要|需要?|得|付|花)多少(新)?[台臺]幣|(新)?[台臺]幣(來)?換|how\s+much\s+(?:NT|TWD|NTD)", re.I
)
_GETS_TWD = re.compile(
    r"(可以|能|可)?換(回|成|得)?多少(新)?[台臺]幣|換(回|成|為)?(新)?[台臺]幣|into\s+(?:NT|TWD)",
    re.I,
)
_RATE = re.compile(
    r"匯率|牌告|匯價|報價|買入價|賣出價|買價|賣價|(?:exchange|board|buying|selling)\s+(?:rate|price)",
    re.I,
)
# Cash taken across the border (過海關、身上帶、攜帶出境): the customs declaration, not a
# settlement's. 出國 alone is not enough: 「要出國，想換一萬美金」 asks about the exchange.
_CARRY = re.compile(
    r"海關|過關|通關|出入境|入出境|隨身|攜帶|身上.{0,6}帶|帶在身上|帶.{0,12}(?:出國|出境|入境|回國|回[臺台])"
    r"|customs|\bcarr(?:y|ies|ying)\b|\bbring(?:s|ing)?\b.{0,40}\b(?:into|out of)\b",
    re.I,
)
_TODAY = re.compile(r"今天|今日|本日|today", re.I)
_CASH = re.compile(r"現鈔|現金|cash|bank\s*notes?", re.I)
# Words in front of an amount that make it the year's settlements so far, not this transaction.
_YTD = re.compile(
    r"(今年|本年|年度|累計|累積|已經?|so\s+far|this\s+year|year-to-date|ytd)[^，,。;；]{0,8}$", re.I
)


@dataclass
class FxRequest:
    customer: str = "individual"
    customer_assumed: bool = True
    side: str = "customer-buys"  # or customer-sells
    side_assumed: bool = True
    kind: str = "spot"
    amount: Decimal | None = None
    currency: str | None = None  # the foreign currency of the transaction
    amount_currency: str | None = None  # the currency the amount is written in
    ytd_usd: Decimal = Decimal(0)
    on: date | None = None
    target: str | None = None  # a second currency, for a cross conversion
    asks_rate: bool = False  # 「匯率多少」: the board rate itself is asked for
    carry: bool = False  # cash carried across the border: customs, not a settlement
    carried: list[tuple[str, str]] = field(default_factory=list)  # (amount, currency) each
    errors: list[str] = field(default_factory=list)


def parse_request(text: str, today: date | None = None) -> FxRequest:
    """``today`` stands for 今天 / today in the text (the caller's clock, so tests can fix it)."""
    req = FxRequest()
    for name, pattern in CUSTOMERS:
        if re.search(pattern, text, re.I):
            req.customer, req.customer_assumed = name, False
            break
    buys, sells = _BUYS.search(text), _SELLS.search(text)
    if buys and not (sells and sells.start() < buys.start()):
        req.side, req.side_assumed = "customer-buys", False
    elif sells:
        req.side, req.side_assumed = "customer-sells", False
    elif _PAYS_TWD.search(text):
        req.side, req.side_assumed = "customer-buys", False
    elif _GETS_TWD.search(text):
        req.side, req.side_assumed = "customer-sells", False
    if _CASH.search(text):
        req.kind = "cash"
    req.asks_rate = bool(_RATE.search(text))
    req.carry = bool(_CARRY.search(text))
    req.errors = check_dates(text)
    dates = find_dates(text)
    req.on = dates[0] if dates else (today if _TODAY.search(text) else None)
    this: list[Amount] = []
    for a in find_amounts(text):
        if _YTD.search(text[: a.span[0]][-14:]):
            if a.currency in (None, "USD"):
                req.ytd_usd += a.value
        else:
            this.append(a)
    foreign = [c for c in find_currencies(text) if c != "TWD"]
    if req.carry:
        req.carried = [
            (str(a.value), a.currency or (foreign[0] if foreign else "TWD")) for a in this
        ]
    if this:
        first = this[0]
        # find_amounts reads digits, not a sign: "-100 美元" would be converted as 100.
        if negated(text, first):
            req.errors.append(f"金額須大於 0 / the amount must be positive: -{first.raw.strip()}")
        req.amount = first.value
        req.amount_currency = first.currency or (foreign[0] if foreign else "TWD")
    if foreign:
        req.currency = (
            req.amount_currency if req.amount_currency not in (None, "TWD") else foreign[0]
        )
        if len(foreign) > 1:
            req.target = next((c for c in foreign if c != req.currency), None)
    if req.amount_currency == "TWD" and req.side_assumed:
        req.side_assumed = False  # TWD handed over for foreign currency: the customer buys
    req.errors += _unread_amounts(text, this, foreign or find_currencies(text))
    if req.amount is not None and req.amount >= MAX_AMOUNT:
        req.errors.append(
            "金額過大（上限 1,000 兆）/ the amount is implausibly large (limit 10^15): "
            f"{req.amount:,}"
        )
    req.errors += _unknown_codes(text)
    return req


# A three-letter code written next to an amount (600000 XYZ, XYZ 600000).
_CODE_BY_AMOUNT = re.compile(
    r"(?<![A-Za-z])([A-Z]{3})\s*[\d０-９]|[\d０-９][\d,.]*\s*([A-Z]{3})(?![A-Za-z])"
)


def _unread_amounts(text: str, amounts: list[Amount], currencies: list[str]) -> list[str]:
    """An amount that was written but could not be read is said, rather than the question
    being answered as if it named none. With a currency in the text it was meant as money."""
    if amounts or not currencies:
        return []
    odd = find_unreadable_number(text)
    if odd is None:
        return []
    return [f"金額看不懂 / cannot read the amount: {odd!r} (e.g. 700000, 600,000, 70萬, 1.5億)"]


def _unknown_codes(text: str) -> list[str]:
    """A currency code next to an amount that no board quotes (XYZ), said instead of converting
    something else or answering from the regulations."""
    out: list[str] = []
    for m in _CODE_BY_AMOUNT.finditer(text):
        code = m.group(1) or m.group(2)
        if code not in out and not find_currencies(code) and code not in _NOT_CURRENCIES:
            out.append(code)
    return [f"不認得的幣別 / unknown currency: {code}" for code in out]


# Three-letter words written next to amounts that are not currencies.
_NOT_CURRENCIES = frozenset({"ATM", "DBU", "OBU", "OTC", "API", "CSV", "PDF", "KYC", "AML"})
