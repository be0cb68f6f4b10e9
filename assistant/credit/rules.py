"""The lending rules table: which articles of 銀行法 apply to which facility facts.

Which rules apply is decided here, in code, from the facts the analyst enters (facility type,
tenor, collateral, guarantors, related party), never by a model. Each row quotes the sentence of
the article it rests on verbatim as it stands in the corpus (銀行法, version of 2023-06-28,
``../shared/data/laws/ChLaw.json``); a test checks every quote against the corpus, so an
amendment that changes a sentence fails loudly instead of leaving a stale quote in a memo.

The quote is what the *code* relies on. What a memo shows as the article's text is fetched from
the knowledge base at memo time (``fetch_articles``): when the knowledge base lacks the article
the memo says so rather than print the code's quote as if it had been retrieved.

Limits that the Act delegates to the competent authority (the one-borrower limits of §33-3, the
related-party amounts of §33 II) live in regulations that the sample corpus does not hold; the
rows say so in their reasons rather than state a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from knowledge.catalog import Catalog

BANKING_ACT = "銀行法"
LAW_EN = {BANKING_ACT: "Banking Act"}

FacilityType = Literal["working_capital", "medium_long_term", "housing", "other"]
FACILITY_TYPES: dict[str, str] = {
    "working_capital": "短期營運週轉金 short-term working capital",
    "medium_long_term": "中長期授信 medium / long-term facility",
    "housing": "購置住宅放款 housing loan",
    "other": "其他 other",
}
# What an analyst types: the key, or the Chinese name with or without 放款/貸款
FACILITY_ALIASES: dict[str, str] = {
    "短期營運週轉金": "working_capital",
    "營運週轉金": "working_capital",
    "週轉金": "working_capital",
    "working-capital": "working_capital",
    "中長期": "medium_long_term",
    "中長期授信": "medium_long_term",
    "中長期放款": "medium_long_term",
    "medium-long-term": "medium_long_term",
    "購置住宅": "housing",
    "購屋": "housing",
    "購置住宅放款": "housing",
    "房貸": "housing",
    "自用住宅放款": "housing",
    "其他": "other",
}

# 銀行法 §5: 一年以內 short, 超過一年而在七年以內 medium, 超過七年 long
SHORT_TERM_MAX_MONTHS = 12
MEDIUM_TERM_MAX_MONTHS = 84
# 銀行法 §38: 最長期限不得超過三十年
HOUSING_MAX_MONTHS = 360
TERM_ZH = {"short": "短期信用", "medium": "中期信用", "long": "長期信用"}
TERM_EN = {"short": "short-term credit", "medium": "medium-term credit", "long": "long-term credit"}


def facility_type(text: str) -> str:
    """The facility type key for what an analyst typed (key or Chinese name)."""
    t = text.strip()
    if t in FACILITY_TYPES:
        return t
    if t.replace("-", "_") in FACILITY_TYPES:
        return t.replace("-", "_")
    if t in FACILITY_ALIASES:
        return FACILITY_ALIASES[t]
    raise AssistantError(
        f"授信種類錯誤 / unknown facility type {text!r}; one of "
        + ", ".join(f"{k} ({v.split()[0]})" for k, v in FACILITY_TYPES.items())
    )


@dataclass(frozen=True)
class Facility:
    """The facts an analyst enters about the facility asked for."""

    amount: Decimal | None = None  # NT$
    purpose: str = ""
    tenor_months: int | None = None
    collateral: str = ""  # blank: none offered (無擔保)
    guarantors: tuple[str, ...] = ()
    related_party: bool = False  # 借款戶為本行利害關係人（銀行法 §32、§33、§33-1）
    facility_type: str = "other"

    def __post_init__(self) -> None:
        if self.facility_type not in FACILITY_TYPES:
            raise AssistantError(f"授信種類錯誤 / unknown facility type {self.facility_type!r}")
        if self.amount is not None and self.amount <= 0:
            raise AssistantError(f"授信金額須大於 0 / the amount must be positive: {self.amount}")
        if self.tenor_months is not None and self.tenor_months <= 0:
            raise AssistantError(
                f"期限須大於 0 個月 / the tenor must be positive: {self.tenor_months}"
            )

    @property
    def secured(self) -> bool:
        return bool(self.collateral.strip())

    @property
    def term(self) -> str | None:
        """short / medium / long per 銀行法 §5; None when no tenor was entered."""
        if self.tenor_months is None:
            return None
        if self.tenor_months <= SHORT_TERM_MAX_MONTHS:
            return "short"
        if self.tenor_months <= MEDIUM_TERM_MAX_MONTHS:
            return "medium"
        return "long"

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": None if self.amount is None else str(self.amount),
            "purpose": self.purpose,
            "tenor_months": self.tenor_months,
            "collateral": self.collateral,
            "guarantors": list(self.guarantors),
            "related_party": self.related_party,
            "facility_type": self.facility_type,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Facility:
        amount = d.get("amount")
        return cls(
            amount=None if amount in (None, "") else Decimal(str(amount)),
            purpose=d.get("purpose") or "",
            tenor_months=d.get("tenor_months"),
            collateral=d.get("collateral") or "",
            guarantors=tuple(d.get("guarantors") or ()),
            related_party=bool(d.get("related_party")),
            facility_type=d.get("facility_type") or "other",
        )


@dataclass(frozen=True)
class LendingRule:
    """One row: the sentence of an article, when it applies, why, and what it flags."""

    id: str
    law: str
    article: str  # normalised as the knowledge catalog stores it ("12-1")
    clause: str  # 項 within the article, "" for a one-paragraph article
    topic: str  # what the row is about, Chinese first
    wording: str  # verbatim from the corpus
    applies: Callable[[Facility], bool] = field(compare=False)
    reason: Callable[[Facility], str] = field(compare=False)
    flag: Callable[[Facility], str | None] = field(compare=False, default=lambda f: None)

    @property
    def label(self) -> str:
        return f"{self.law}第{self.article}條{self.clause}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "law": self.law,
            "article": self.article,
            "clause": self.clause,
            "topic": self.topic,
            "wording": self.wording,
            "label": self.label,
        }


def _months(f: Facility) -> str:
    return f"{f.tenor_months} 個月" if f.tenor_months is not None else "未提供 / not given"


def _term_reason(f: Facility) -> str:
    t = f.term or "short"
    return (
        f"期限 {_months(f)}，依本條屬{TERM_ZH[t]} / a tenor of {f.tenor_months} months is "
        f"{TERM_EN[t]}"
    )


def _working_capital_long(f: Facility) -> str | None:
    if f.facility_type == "working_capital" and f.term not in (None, "short"):
        return (
            f"短期營運週轉金之期限 {_months(f)} 超過一年（門檻 {SHORT_TERM_MAX_MONTHS} 個月），"
            f"依銀行法第5條屬{TERM_ZH[f.term or 'medium']} / working capital with a tenor over "
            f"{SHORT_TERM_MAX_MONTHS} months is {TERM_EN[f.term or 'medium']}"
        )
    return None


def _related_unsecured(f: Facility) -> str | None:
    if f.related_party and not f.secured:
        return (
            "借款戶為本行利害關係人且本案未提供擔保品：依銀行法第32條不得為無擔保授信"
            "（消費者貸款及對政府貸款除外） / a related party and no collateral: Art. 32 "
            "forbids unsecured credit (consumer loans and loans to government excepted)"
        )
    return None


def _housing_tenor(f: Facility) -> str | None:
    if f.tenor_months is not None and f.tenor_months > HOUSING_MAX_MONTHS:
        return (
            f"購置住宅放款期限 {_months(f)} 超過三十年（門檻 {HOUSING_MAX_MONTHS} 個月）；"
            "依銀行法第38條僅無自用住宅者購買自用住宅之放款不受此限 / a housing loan over "
            f"{HOUSING_MAX_MONTHS} months: Art. 38 allows it only to a buyer with no home of "
            "their own"
        )
    return None


def _housing_guarantors(f: Facility) -> str | None:
    if f.guarantors:
        names = "、".join(f.guarantors)
        return (
            f"購置住宅放款列有保證人（{names}）：如屬自用住宅放款，依銀行法第12-1條不得要求"
            "連帶保證人，已取得足額擔保時不得要求保證人 / guarantors on a housing loan: for an "
            "owner-occupied home Art. 12-1 forbids joint-and-several guarantors, and any "
            "guarantor once the collateral is sufficient"
        )
    return None


def _medium(f: Facility) -> bool:
    return f.term == "medium" or (f.term is None and f.facility_type == "medium_long_term")


_ONE_BORROWER = (
    "本案授信應併計同一人、同一關係人及同一關係企業之授信，核對主管機關所定限額；該限額辦法"
    "未收錄於本知識庫，請另行查核 / count this facility with the borrower's person, related "
    "persons and group against the authority's limits; that regulation is not in this knowledge "
    "base: check it separately"
)

RULES: tuple[LendingRule, ...] = (
    LendingRule(
        "bank-5-term",
        BANKING_ACT,
        "5",
        "",
        "授信期限分類 / term classification",
        "銀行依本法辦理授信，其期限在一年以內者，為短期信用；超過一年而在七年以內者，為中期信用；"
        "超過七年者，為長期信用",
        applies=lambda f: f.tenor_months is not None,
        reason=_term_reason,
        flag=_working_capital_long,
    ),
    LendingRule(
        "bank-12-secured",
        BANKING_ACT,
        "12",
        "",
        "擔保授信定義 / secured credit",
        "本法稱擔保授信，謂對銀行之授信，提供左列之一為擔保者",
        applies=lambda f: f.secured,
        reason=lambda f: (
            f"本案提供擔保品「{f.collateral.strip()}」，擔保授信須屬本條各款之一，由授信人員確認"
            " / collateral offered: secured credit only if it is one of this article's kinds "
            "(analyst to confirm)"
        ),
    ),
    LendingRule(
        "bank-13-unsecured",
        BANKING_ACT,
        "13",
        "",
        "無擔保授信定義 / unsecured credit",
        "本法稱無擔保授信，謂無第十二條各款擔保之授信",
        applies=lambda f: not f.secured,
        reason=lambda f: "本案未提供擔保品，屬無擔保授信 / no collateral: unsecured credit",
    ),
    LendingRule(
        "bank-36-unsecured-limits",
        BANKING_ACT,
        "36",
        "第1項",
        "無擔保放款之限制 / limits on unsecured lending",
        "中央主管機關於必要時，經洽商中央銀行後，得對銀行無擔保之放款或保證，予以適當之限制",
        applies=lambda f: not f.secured,
        reason=lambda f: (
            "無擔保授信受主管機關所定限制 / unsecured lending is subject to the authority's limits"
        ),
    ),
    LendingRule(
        "bank-32-related-unsecured",
        BANKING_ACT,
        "32",
        "第1項",
        "利害關係人無擔保授信禁止 / no unsecured credit to related parties",
        "銀行不得對其持有實收資本總額百分之三以上之企業，或本行負責人﹑職員﹑或主要股東，"
        "或對與本行負責人或辦理授信之職員有利害關係者，為無擔保授信",
        applies=lambda f: f.related_party,
        reason=lambda f: (
            "借款戶經申報為本行利害關係人 / the borrower is declared a related party of the bank"
            + ("；本案為無擔保 / unsecured" if not f.secured else "；本案有擔保 / secured")
        ),
        flag=_related_unsecured,
    ),
    LendingRule(
        "bank-33-related-secured",
        BANKING_ACT,
        "33",
        "第1項",
        "利害關係人擔保授信條件 / terms of secured credit to related parties",
        "應有十足擔保，其條件不得優於其他同類授信對象，如授信達中央主管機關規定金額以上者，"
        "並應經三分之二以上董事之出席及出席董事四分之三以上同意",
        applies=lambda f: f.related_party,
        reason=lambda f: (
            "利害關係人擔保授信須十足擔保、條件不優於同類對象，達規定金額者須董事會特別決議；"
            "該金額由主管機關另定，未收錄於本知識庫 / full collateral, terms no better than "
            "comparable borrowers, board approval above the authority's amount (not in this "
            "knowledge base)"
        ),
    ),
    LendingRule(
        "bank-33-1-related-definition",
        BANKING_ACT,
        "33-1",
        "",
        "利害關係者之範圍 / who is a related party",
        "前二條所稱有利害關係者，謂有左列情形之一而言",
        applies=lambda f: f.related_party,
        reason=lambda f: (
            "利害關係之認定依本條各款，由授信人員核對 / the analyst checks the relationship "
            "against this article's items"
        ),
    ),
    LendingRule(
        "bank-33-3-one-borrower",
        BANKING_ACT,
        "33-3",
        "第1項",
        "同一人、同一關係人或同一關係企業授信限額 / limits to one borrower or group",
        "主管機關對於銀行就同一人、同一關係人或同一關係企業之授信或其他交易得予限制",
        applies=lambda f: True,
        reason=lambda f: _ONE_BORROWER,
    ),
    LendingRule(
        "bank-72-medium-term",
        BANKING_ACT,
        "72",
        "",
        "中期放款總餘額 / the bank's medium-term lending total",
        "商業銀行辦理中期放款之總餘額，不得超過其所收定期存款總餘額",
        applies=_medium,
        reason=lambda f: (
            f"本案期限 {_months(f)}，屬中期放款，計入本行中期放款總餘額 / a medium-term loan: "
            "counts toward the bank's medium-term total"
        ),
    ),
    LendingRule(
        "bank-12-1-guarantor-limit",
        BANKING_ACT,
        "12-1",
        "第3項",
        "保證人保證金額 / guarantee amount",
        "銀行辦理授信徵取保證人時，除前項規定外，應以一定金額為限",
        applies=lambda f: bool(f.guarantors),
        reason=lambda f: (
            f"本案徵取保證人（{'、'.join(f.guarantors)}），保證責任應以一定金額為限 / "
            "guarantors taken: each guarantee must be for a set amount"
        ),
    ),
    LendingRule(
        "bank-12-1-housing-guarantor",
        BANKING_ACT,
        "12-1",
        "第1項、第2項",
        "自用住宅放款之保證人 / guarantors on owner-occupied housing loans",
        "銀行辦理自用住宅放款及消費性放款，不得要求借款人提供連帶保證人",
        applies=lambda f: f.facility_type == "housing",
        reason=lambda f: (
            "購置住宅放款如屬自用住宅放款，不得要求連帶保證人；已取得足額擔保時不得要求保證人 / "
            "an owner-occupied housing loan: no joint-and-several guarantor, no guarantor once "
            "the collateral is sufficient"
        ),
        flag=_housing_guarantors,
    ),
    LendingRule(
        "bank-12-2-housing-guarantee-term",
        BANKING_ACT,
        "12-2",
        "",
        "自用住宅放款保證契約期間 / term of a housing-loan guarantee",
        "因自用住宅放款及消費性放款而徵取之保證人，其保證契約自成立之日起，有效期間不得逾十五年",
        applies=lambda f: f.facility_type == "housing" and bool(f.guarantors),
        reason=lambda f: (
            "徵取保證人之保證契約有效期間不得逾十五年（保證人書面同意者除外） / a guarantee may "
            "run at most 15 years unless the guarantor agrees in writing"
        ),
    ),
    LendingRule(
        "bank-38-housing-term",
        BANKING_ACT,
        "38",
        "",
        "購屋放款最長期限 / longest housing-loan tenor",
        "銀行對購買或建造住宅或企業用建築，得辦理中、長期放款，其最長期限不得超過三十年",
        applies=lambda f: f.facility_type == "housing",
        reason=lambda f: (
            f"購置住宅放款期限 {_months(f)}；最長三十年（{HOUSING_MAX_MONTHS} 個月） / a "
            f"housing loan: at most 30 years ({HOUSING_MAX_MONTHS} months)"
        ),
        flag=_housing_tenor,
    ),
    LendingRule(
        "bank-72-2-real-estate",
        BANKING_ACT,
        "72-2",
        "第1項",
        "住宅及企業建築放款總額 / the bank's real-estate lending total",
        "商業銀行辦理住宅建築及企業建築放款之總額，不得超過放款時所收存款總餘額及金融債券發售額"
        "之和之百分之三十",
        applies=lambda f: f.facility_type == "housing",
        reason=lambda f: (
            "本案計入本行住宅建築及企業建築放款總額（上限為存款總餘額及金融債券發售額之和之 30%）"
            " / counts toward the bank's real-estate lending total (at most 30% of deposits and "
            "bank debentures)"
        ),
    ),
)


@dataclass(frozen=True)
class ArticleText:
    """An article as the knowledge base holds it (None fields: not in the knowledge base)."""

    law: str
    article: str
    text: str | None
    amended: str | None
    url: str | None

    @property
    def found(self) -> bool:
        return self.text is not None


@dataclass(frozen=True)
class AppliedRule:
    rule: LendingRule
    reason: str
    flag: str | None
    source: ArticleText

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.rule.to_dict(),
            "reason": self.reason,
            "flag": self.flag,
            "in_knowledge_base": self.source.found,
            "article_text": self.source.text,
            "amended": self.source.amended,
            "url": self.source.url,
        }


def fetch_articles(
    catalog: Catalog | None, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], ArticleText]:
    """The Chinese text of each (law, article) from the knowledge catalog, parts joined in
    order, with its amendment date and link; absent articles come back with ``text`` None."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if catalog is not None and keys:
        ids = catalog.find(sorted({k[0] for k in keys}), sorted({k[1] for k in keys}))
        for payload in catalog.get(ids).values():
            if payload.get("lang", "zh-TW") != "zh-TW":
                continue
            found.setdefault((payload["law_zh"], payload["article"]), []).append(payload)
    out = {}
    for key in keys:
        parts = sorted(found.get(key, []), key=lambda p: p.get("part", 0))
        if not parts:
            out[key] = ArticleText(key[0], key[1], None, None, None)
            continue
        out[key] = ArticleText(
            key[0],
            key[1],
            "\n".join(p["text"] for p in parts),
            parts[0].get("amended"),
            parts[0].get("url"),
        )
    return out


def applicable(facility: Facility, catalog: Catalog | None = None) -> list[AppliedRule]:
    """The rows that apply to ``facility``, in table order, each with its article as the
    knowledge base holds it now."""
    rows = [r for r in RULES if r.applies(facility)]
    texts = fetch_articles(catalog, list(dict.fromkeys((r.law, r.article) for r in rows)))
    return [
        AppliedRule(r, r.reason(facility), r.flag(facility), texts[(r.law, r.article)])
        for r in rows
    ]
