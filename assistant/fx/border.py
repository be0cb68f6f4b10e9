"""Cash carried across the border (旅客攜帶現鈔出入境): what must be declared to customs.

A teller who hands a traveller USD 15,000 in notes is asked 「過海關要不要申報？」. That is not
a settlement declaration (外匯收支或交易申報辦法, ``rules.py``) but the customs one of
洗錢防制物品出入境申報及通報辦法 §3, whose thresholds are "more than" (逾) and add up what one
person carries on one flight on one day. Each threshold is a row below, quoted as the corpus
holds it; an amendment changes a row, not the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError
from assistant.fx.convert import fmt, parse_amount, quantize, to_decimal
from assistant.fx.rates import BASE, Rate, check_currency
from assistant.fx.rules import ArticleRef, Equivalents, amended_dates

if TYPE_CHECKING:
    from assistant.fx.rates import RateStore
    from knowledge.catalog import Catalog

LAW = "洗錢防制物品出入境申報及通報辦法"
CBC_ACT = "中央銀行法"
# Mainland notes (人民幣) have a line of their own, not the foreign-currency one (§3 III of LAW;
# 許可辦法 §2, §4). Its figure is set by an announcement under the Cross-Strait Act §38 that
# the corpus does not hold, so an amount of them is not decided here: it is said so.
MAINLAND = "CNY"
MAINLAND_RULES = "大陸地區發行之貨幣進出入臺灣地區許可辦法"


@dataclass(frozen=True)
class CarryRule:
    id: str
    item: str  # "foreign-cash" (any currency but TWD, HKD and MOP included) or "twd-cash"
    threshold: Decimal
    currency: str  # the currency the threshold is stated in
    clause: str
    wording: str  # verbatim from the corpus

    @property
    def label(self) -> str:
        return f"{LAW}第3條{self.clause}"


CARRY_RULES: tuple[CarryRule, ...] = (
    CarryRule(
        "carry-3-foreign-cash", "foreign-cash", Decimal(10_000), "USD", "第1項第1款",
        "總價值逾等值一萬美元之外幣、香港或澳門發行之貨幣現鈔",
    ),
    CarryRule(
        "carry-3-twd-cash", "twd-cash", Decimal(100_000), "TWD", "第1項第2款",
        "總價值逾新臺幣十萬元之新臺幣現鈔",
    ),
)  # fmt: skip

_SAME_TRIP = (
    "同一人於同日單一航（班）次攜帶者合併計算（第3條第1項） / what one person carries on one "
    "flight or voyage on one day is added up (Art. 3(1))"
)
_OTHER = (
    "有價證券總面額逾等值一萬美元、黃金總價值逾等值二萬美元者亦應申報（第3條第1項第3款、第4款） / "
    "securities of more than USD 10,000 face value and gold worth more than USD 20,000 are "
    "declared too (Art. 3(1)(3), (4))"
)
_HOW = (
    "入境者填具海關申報單及攜帶現鈔等入出境登記表，經紅線檯申報查驗；出境者填具登記表，至海關出境"
    "服務檯申報查驗（第4條第1項） / arriving: the customs declaration and the cash register form, "
    "through the red channel; leaving: the register form, at the customs departure desk (Art. 4(1))"
)
_RETURNED = (
    "新臺幣現鈔超過中央銀行所定限額之部分，應予退運（第4條第3項、中央銀行法第18-1條第2項） / "
    "NT$ notes above the central bank's limit are sent back (Art. 4(3); Central Bank Act Art. "
    "18-1(2))"
)


@dataclass(frozen=True)
class CarryResult:
    amounts: list[tuple[Decimal, str]]
    foreign_usd: Decimal | None  # the foreign notes' total in USD (spot mid); None: none carried
    twd: Decimal  # the NT$ notes carried
    on: date | None
    declare: bool
    fired: list[str]
    reasons: list[str]
    notes: list[str]
    articles: list[ArticleRef]
    rates: list[Rate] = field(default_factory=list)
    cny: Decimal | None = None  # Mainland notes carried (not decided: see ``MAINLAND``)

    @property
    def answer(self) -> tuple[str, str]:
        """Must it be declared, in words (Chinese, English): yes; no; or, when only Mainland
        notes could make it so, that it turns on their announced limit."""
        if self.declare:
            return "是", "yes"
        if self.cny is not None:
            return "視人民幣公告限額而定", "it turns on the announced limit for RMB notes"
        return "否", "no"

    def to_dict(self) -> dict[str, Any]:
        zh, en = self.answer
        return {
            "amounts": [{"amount": str(a), "currency": c} for a, c in self.amounts],
            "foreign_usd": None if self.foreign_usd is None else str(self.foreign_usd),
            "twd": str(self.twd),
            "cny": None if self.cny is None else str(self.cny),
            "on": self.on.isoformat() if self.on else None,
            "declare": self.declare,
            "answer": {"zh": zh, "en": en},
            "fired": self.fired,
            "reasons": self.reasons,
            "notes": self.notes,
            "articles": [a.to_dict() for a in self.articles],
            "rates": [r.to_dict() for r in self.rates],
        }


_CASH_FORMS = (
    re.compile(r"\s*(?P<code>[A-Za-z]{3})\s*(?P<amount>\S+)\s*"),  # USD 15000, USD15000
    re.compile(r"\s*(?P<amount>\S+?)\s*(?P<code>[A-Za-z]{3})\s*"),  # 1.5萬 USD, 1.5萬USD
)


def parse_cash(item: str) -> tuple[Decimal, str]:
    """One sum of notes as a teller types it: 'AMOUNT CURRENCY' or 'CURRENCY AMOUNT', with or
    without a space ('1.5萬 USD', '15萬TWD', 'JPY 300000'); the currency is checked by
    ``check_carry``. An amount is one word: '1 2 USD' is refused, not read as 12."""
    for form in _CASH_FORMS:
        m = form.fullmatch(str(item))
        if m:
            return parse_amount(m["amount"]), m["code"].upper()
    raise AssistantError(
        f"應為「金額 幣別」，例如 1.5萬 USD / expected 'AMOUNT CURRENCY', e.g. 1.5萬 USD: {item!r}"
    )


def check_carry(
    store: RateStore | None,
    amounts: list[tuple[Decimal | int | str, str]],
    *,
    on: date | None = None,
    catalog: Catalog | None = None,
    source: str | None = None,
) -> CarryResult:
    """The customs duties of the cash one traveller carries on one trip: each (amount,
    currency) is a sum of notes; foreign notes are added up in USD at the spot mid-rate of
    ``on`` (latest on or before), as the threshold is an equivalent."""
    if not amounts:
        raise AssistantError("沒有攜帶金額 / no amount carried was given")
    parsed: list[tuple[Decimal, str]] = []
    for amount, currency in amounts:
        value = to_decimal(amount)
        if value <= 0:
            raise AssistantError(f"金額須大於 0 / the amount must be positive: {value}")
        parsed.append((value, check_currency(currency)))
    twd = sum((v for v, c in parsed if c == BASE), Decimal(0))
    foreign = [(v, c) for v, c in parsed if c not in (BASE, MAINLAND)]
    mainland = [v for v, c in parsed if c == MAINLAND]
    cny = sum(mainland, Decimal(0)) if mainland else None
    rates: list[Rate] = []
    foreign_usd: Decimal | None = None
    if foreign:
        # The settlement check's own equivalents: the same spot mid-rates, the same errors.
        total = Decimal(0)
        for value, cur in foreign:
            eq = Equivalents(store, value, cur, on, None, source)
            total += eq.usd
            rates += [r for r in eq.rates if r not in rates]
        foreign_usd = quantize(total, "USD")
    reasons: list[str] = []
    fired: list[str] = []
    carried_twd = any(c == BASE for _, c in parsed)
    for rule in CARRY_RULES:
        measured = foreign_usd if rule.item == "foreign-cash" else (twd if carried_twd else None)
        if measured is None:
            continue
        over = measured > rule.threshold
        fired += [rule.id] if over else []
        reasons.append(_reason(rule, measured, over, foreign))
    if cny is not None:
        reasons.append(
            f"人民幣現鈔 {fmt(cny)} 元：不計入外幣等值一萬美元之額度（{MAINLAND_RULES}第4條）；"
            "超過臺灣地區與大陸地區人民關係條例第38條所定限額者，應自動向海關申報，超過部分由旅客"
            f"封存於海關、出境時攜出（{MAINLAND_RULES}第2條；{LAW}第3條第3項）。限額以主管機關公告"
            f"為準，本系統法規資料未收錄其數字，請依海關現行公告判斷 / RMB notes {fmt(cny)}: not "
            "counted toward the USD 10,000 line for foreign notes (Art. 4 of the RMB rules); above "
            "the limit set under Art. 38 of the Cross-Strait Act they must be declared, and the "
            "excess is sealed at customs until departure (Art. 2). The limit is set by an "
            "announcement the corpus does not hold: check customs' current figure"
        )
    notes = [_SAME_TRIP, _OTHER]
    if fired or cny is not None:
        notes.append(_HOW)
    if "carry-3-twd-cash" in fired:
        notes.append(_RETURNED)
    return CarryResult(
        amounts=parsed,
        foreign_usd=foreign_usd,
        twd=twd,
        on=on,
        declare=bool(fired),
        fired=fired,
        reasons=reasons,
        notes=notes,
        articles=_articles(catalog, fired, reasons, mainland=cny is not None),
        rates=rates,
        cny=cny,
    )


def _reason(
    rule: CarryRule, measured: Decimal, over: bool, foreign: list[tuple[Decimal, str]]
) -> str:
    if rule.item == "foreign-cash":
        what = "、".join(f"{c} {fmt(v)}" for v, c in foreign)
        zh = f"外幣現鈔 {what}，合計等值 {fmt(measured)} 美元"
        en = f"foreign notes {what}, USD {fmt(measured)} in all"
        limit_zh, limit_en = "等值一萬美元", "USD 10,000"
    else:
        zh, en = f"新臺幣現鈔 {fmt(measured)} 元", f"NT$ notes {fmt(measured)}"
        limit_zh, limit_en = "新臺幣十萬元", "NT$100,000"
    if over:
        return (
            f"{zh}，逾{limit_zh}：出入境應向海關申報（{rule.label}） / {en}, more than "
            f"{limit_en}: declare to customs (Art. 3(1))"
        )
    return (
        f"{zh}，未逾{limit_zh}：此項無須向海關申報（{rule.label}） / {en}, not more than "
        f"{limit_en}: no customs declaration for it (Art. 3(1))"
    )


# Verbatim from the corpus (a test holds them to it).
MAINLAND_WORDING = {
    "2": "旅客或隨交通工具服務之人員，攜帶人民幣進出入臺灣地區超過限額者，應自動向海關申報；超過"
    "部分，由旅客自行封存於海關，出境時准予攜出。",
    "4": "旅客或隨交通工具服務之人員，攜帶人民幣進出入臺灣地區之限額，不計入攜帶外幣之額度內。",
}


def _articles(
    catalog: Catalog | None, fired: list[str], reasons: list[str], *, mainland: bool = False
) -> list[ArticleRef]:
    """§3 always (it decides); §4 when something must or may be declared; 中央銀行法 §18-1 when NT$
    notes are over the declaration line, where the central bank's limit comes in; the RMB
    rules' §2 and §4 when Mainland notes are carried."""
    keys = [(LAW, "3")]
    if fired or mainland:  # the procedure, for what is or may be declared
        keys.append((LAW, "4"))
    if "carry-3-twd-cash" in fired:
        keys.append((CBC_ACT, "18-1"))
    if mainland:
        keys += [(MAINLAND_RULES, "2"), (MAINLAND_RULES, "4")]
    amended = amended_dates(catalog, keys)
    clauses = "、".join(r.clause for r in CARRY_RULES)
    quote = "；".join(r.wording for r in CARRY_RULES)
    out = [
        ArticleRef(LAW, "3", amended.get((LAW, "3")), "；".join(reasons), clauses, quote),
    ]
    if fired or mainland:
        out.append(ArticleRef(LAW, "4", amended.get((LAW, "4")), _HOW))
    if "carry-3-twd-cash" in fired:
        out.append(ArticleRef(CBC_ACT, "18-1", amended.get((CBC_ACT, "18-1")), _RETURNED))
    if mainland:
        for article, why in (
            (
                "2",
                "人民幣超過限額應申報，超過部分封存 / RMB above the limit: declared, excess sealed",
            ),
            ("4", "人民幣限額不計入外幣額度 / the RMB limit is apart from the foreign-notes line"),
        ):
            key = (MAINLAND_RULES, article)
            out.append(ArticleRef(*key, amended.get(key), why, quote=MAINLAND_WORDING[article]))
    return out
