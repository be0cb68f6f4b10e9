"""A credit analyst's request, read without a model: the facility facts (amount in 萬/億,
purpose, tenor, collateral or 無擔保, guarantors, 利害關係人, facility type) and what is asked
(draft a memo from a report, or a question about the lending rules).

Facts the question does not state stay unset (None / blank) rather than guessed: the memo then
says 「未提供」 for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from assistant.credit.rules import FACILITY_ALIASES, Facility
from assistant.extract import (
    MAX_AMOUNT,
    cn_number,
    find_amounts,
    find_unreadable_number,
    negated,
)

# Words asking for work on a report: a draft, an analysis, ratios, another run of the same one.
_WORK = re.compile(
    r"徵信|草稿|分析|報告|財報|報表|比率|計算|再算|重算|重新|這份|那份|memo|draft|analy[sz]e|ratios?",
    re.I,
)
# Words asking for the memo itself (drafted and then held for a person's review), not only for
# a report's figures: 「流動比率是多少」 or "summarise this report" reads and computes, and drafts
# nothing; a facility described (an amount, a tenor, a purpose …) is a credit case.
_MEMO = re.compile(
    r"徵信|草稿|草擬|撰寫|授信案|授信申請|申請額度|5P|memo|draft|credit (?:analysis|report)",
    re.I,
)
# Words of a question about the rules rather than about a borrower's report.
_RULES = re.compile(
    r"限制|規定|可否|得否|能不能|可不可以|哪些條|哪一條|條文|法規|銀行法|是否違法|要件|"
    r"rules?|restrictions?|allowed|limits?",
    re.I,
)
_CN_NUM = "零一二兩三四五六七八九十"
_TENOR = re.compile(
    rf"(?:期限|期間|為期|借期)?\s*(\d{{1,3}}|[{_CN_NUM}]{{1,3}})\s*(年|個月|月)(?:期)?",
)
_HALF_YEAR = re.compile(r"半年(?:期)?")
_UNSECURED = re.compile(r"無擔保|信用放款|純信用|免擔保|unsecured", re.I)
_COLLATERAL = re.compile(
    r"(?:擔保品|擔保物|抵押品)\s*[:：為是]?\s*([^，,。；;]+)"
    r"|以\s*([^，,。；;]+?(?:抵押權|質權)?)\s*(?:作為|為|提供)?\s*(?:擔保|抵押|質押)"
    r"|([^，,。；;]*?(?:抵押權|設定抵押|設定質權))"
)
_GUARANTORS = re.compile(r"(?:連帶)?保證人\s*[:：為是]?\s*([^，,。；;]+)")
_GUARANTOR_BY = re.compile(r"由\s*([^，,。；;]+?)\s*(?:擔任|作|為)?\s*(?:連帶)?保證")
_NO_GUARANTOR = re.compile(r"無保證人|不需保證人|免保證")
_RELATED = re.compile(r"(?<![非不無])(?:是|為|屬)?(?:本行)?利害關係人")
_NOT_RELATED = re.compile(r"(?:非|不是|不屬|無)(?:本行)?(?:之)?利害關係人")
_PURPOSE = re.compile(r"(?:資金)?用途\s*[:：為是]?\s*([^，,。；;]+)")
# What the analyst may name as the purpose without the word 用途, most specific first.
_PURPOSES = (
    "營運週轉",
    "購料週轉",
    "購料",
    "償還借款",
    "購置機器設備",
    "購置廠房",
    "購置土地",
    "購置住宅",
    "資本支出",
    "興建廠房",
    "擴廠",
)


@dataclass
class CreditRequest:
    facility: dict[str, Any] = field(default_factory=dict)  # Facility.to_dict()
    wants_work: bool = False  # a draft / analysis of a report is asked for
    wants_memo: bool = False  # the memo itself, not only the report's figures
    about_rules: bool = False  # a question about the lending rules
    problems: list[str] = field(default_factory=list)


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return cn_number(text.replace("兩", "二"))


# A tenor written with its word (期限 9999 個月, 期間 0 個月) that no facility has: said, not
# silently taken as "not given". 600 months (50 years) is beyond any facility a bank writes.
MAX_TENOR_MONTHS = 600
_TENOR_WORDED = re.compile(r"(?:期限|期間|為期|借期)\s*[:：為是]?\s*(\d+)\s*(年|個月|月)")
# Words that make a number the facility's amount (an unreadable one is then said).
_AMOUNT_WORDS = re.compile(r"額度|金額|借款|貸款|授信")


def _term_problems(text: str, amounts: list[Any]) -> tuple[list[str], bool, bool]:
    """What the analyst wrote that cannot be a facility's amount or tenor, in both languages;
    and whether the amount and the tenor must be left unset because of it."""
    problems: list[str] = []
    drop_amount = drop_tenor = False
    if amounts and negated(text, amounts[0]):
        problems.append(
            f"授信金額須大於 0 / the facility amount must be positive: -{amounts[0].raw.strip()}"
        )
        drop_amount = True
    elif amounts and amounts[0].value <= 0:
        problems.append(
            f"授信金額須大於 0 / the facility amount must be positive: {amounts[0].raw}"
        )
        drop_amount = True
    elif amounts and amounts[0].value >= MAX_AMOUNT:
        problems.append(
            "授信金額過大（上限 1,000 兆）/ the facility amount is implausibly large: "
            f"{amounts[0].raw.strip()}"
        )
        drop_amount = True
    elif not amounts and _AMOUNT_WORDS.search(text) and (odd := find_unreadable_number(text)):
        problems.append(
            f"授信金額看不懂 / cannot read the facility amount: {odd!r} "
            "(e.g. 5000萬, 1.2億, 30,000,000)"
        )
    for m in _TENOR_WORDED.finditer(text):
        months = int(m.group(1)) * (12 if m.group(2) == "年" else 1)
        if not 1 <= months <= MAX_TENOR_MONTHS:
            problems.append(
                f"期限須為 1 到 {MAX_TENOR_MONTHS} 個月 / the tenor must be 1 to "
                f"{MAX_TENOR_MONTHS} months: {m.group(0).strip()}"
            )
            drop_tenor = True
    return problems, drop_amount, drop_tenor


def _tenor_months(text: str) -> int | None:
    if _HALF_YEAR.search(text):
        return 6
    for m in _TENOR.finditer(text):
        n = _number(m.group(1))
        if not n:
            continue
        before = text[max(0, m.start() - 3) : m.start()]
        if re.search(r"民國|\d$", before) or (m.group(2) == "年" and n > 100):
            continue  # 民國113年 is a date, not a tenor
        return n * 12 if m.group(2) == "年" else n
    return None


def _facility_type(text: str, tenor: int | None) -> str:
    for alias in sorted(FACILITY_ALIASES, key=len, reverse=True):
        if alias in text and alias != "其他":
            return FACILITY_ALIASES[alias]
    if tenor is not None and tenor > 12 and re.search(r"中長期|長期|中期", text):
        return "medium_long_term"
    return "other"


def _collateral(text: str) -> str:
    if _UNSECURED.search(text):
        return ""
    m = _COLLATERAL.search(text)
    if m is None:
        return ""
    return next(g for g in m.groups() if g).strip()


def _guarantors(text: str) -> tuple[str, ...]:
    if _NO_GUARANTOR.search(text):
        return ()
    m = _GUARANTORS.search(text) or _GUARANTOR_BY.search(text)
    if m is None:
        return ()
    names = re.split(r"[、,及和與/]|\s+", m.group(1))
    return tuple(n.strip() for n in names if n.strip() and n.strip() not in ("無", "連帶"))


def _purpose(text: str, facility_type: str) -> str:
    m = _PURPOSE.search(text)
    if m:
        return m.group(1).strip()
    for p in _PURPOSES:
        if p in text:
            return p
    if facility_type == "working_capital":
        return "營運週轉"
    return ""


def parse_request(text: str) -> CreditRequest:
    req = CreditRequest()
    amounts = [a for a in find_amounts(text) if a.currency in (None, "TWD")]
    amount: Decimal | None = amounts[0].value if amounts else None
    tenor = _tenor_months(text)
    problems, drop_amount, drop_tenor = _term_problems(text, amounts)
    req.problems += problems
    if drop_amount:
        amount = None
    if drop_tenor:
        tenor = None
    kind = _facility_type(text, tenor)
    related = bool(_RELATED.search(text)) and not _NOT_RELATED.search(text)
    facts = {
        "amount": amount,
        "purpose": _purpose(text, kind),
        "tenor_months": tenor,
        "collateral": _collateral(text),
        "guarantors": _guarantors(text),
        "related_party": related,
        "facility_type": kind,
    }
    try:
        req.facility = Facility(**facts).to_dict()  # type: ignore[arg-type]
    except Exception as exc:  # a zero amount or tenor: said, and the facts left unset
        req.problems.append(str(exc))
        req.facility = Facility().to_dict()
    req.wants_work = bool(_WORK.search(text))
    given = ("amount", "tenor_months", "purpose", "collateral", "guarantors")
    req.wants_memo = bool(_MEMO.search(text)) or any(facts.get(k) for k in given)
    req.about_rules = bool(_RULES.search(text))
    return req
