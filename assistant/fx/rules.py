"""Declaration duties for a TWD settlement (新臺幣結匯), computed in code and cited.

Every threshold lives in ``RULES`` below, one row per sentence of the law that sets it, with
the wording quoted exactly as it stands in the corpus (管理外匯條例, version of 1995-08-02 for
§6-1; 外匯收支或交易申報辦法, version of 2022-12-26). An amendment changes a row, not the code.

How the rows combine:

* declaration (條例 §6-1 I, 辦法 §2 I): a transaction of NT$500,000 or more (以上, ≥) in TWD
  equivalent must be declared. Below it nothing else in 申報辦法 applies: no form, settle
  directly.
* direct settlement (辦法 §4 I): the customer may settle right after filling in the form —
  unless a documents row applies too (§4 I 但書).
* documents (辦法 §5): the bank checks the contracts or other supporting documents first.
* approval (辦法 §6 I): the central bank approves first; the application carries the form and
  the supporting documents, so documents are required as well.

Yearly rows compare the year's settlements in the same direction so far (``ytd_usd``) plus this
transaction against the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from assistant.errors import AssistantError
from assistant.fx.convert import SIDES, convert, fmt, quantize, to_decimal
from assistant.fx.rates import BASE, Rate, check_currency

if TYPE_CHECKING:
    from assistant.fx.rates import RateStore
    from knowledge.catalog import Catalog

Customer = Literal["individual", "company", "group", "nonresident", "minor"]
CUSTOMERS: tuple[str, ...] = ("individual", "company", "group", "nonresident", "minor")
CUSTOMER_ZH = {
    "individual": "個人",
    "company": "公司、行號",
    "group": "團體",
    "nonresident": "非居住民",
    "minor": "未滿十八歲之自然人",
}
CUSTOMER_EN = {
    "individual": "an individual",
    "company": "a company or firm",
    "group": "a group (association)",
    "nonresident": "a nonresident",
    "minor": "a minor (under 18)",
}
Consequence = Literal["declaration", "documents", "approval", "direct"]
ACT = "管理外匯條例"
REG = "外匯收支或交易申報辦法"
LAW_EN = {ACT: "Foreign Exchange Regulation Act", REG: "Declaration Regulations"}
ALL = frozenset(CUSTOMERS)


@dataclass(frozen=True)
class Rule:
    id: str
    consequence: Consequence
    customers: frozenset[str]
    scope: Literal["transaction", "yearly"]  # per transaction, or the year's accumulated total
    threshold: Decimal
    currency: Literal["USD", "TWD"]  # the currency the threshold is stated in
    compare: Literal["ge", "gt", "le"]  # 達…以上 / 超過 / 未超過
    law: str
    article: str  # normalised, as the knowledge catalog stores it ("6-1")
    clause: str  # 項 / 款 within the article
    wording: str  # verbatim from the corpus
    in_force_from: date  # when this wording took effect (the law's own history)

    def holds(self, value: Decimal) -> bool:
        if self.compare == "ge":
            return value >= self.threshold
        if self.compare == "gt":
            return value > self.threshold
        return value <= self.threshold

    @property
    def label(self) -> str:
        return f"{self.law}第{self.article}條{self.clause}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "consequence": self.consequence,
            "customers": sorted(self.customers),
            "scope": self.scope,
            "threshold": str(self.threshold),
            "currency": self.currency,
            "compare": self.compare,
            "law": self.law,
            "article": self.article,
            "clause": self.clause,
            "wording": self.wording,
            "in_force_from": self.in_force_from.isoformat(),
        }


_ACT_6_1 = date(1995, 8, 2)  # 條例 LawHistories 7: 八十四年八月二日修正第 6-1 條
_REG_2021 = date(2021, 6, 29)  # 辦法 LawHistories 11: 修正發布全文 19 條；並自發布日施行
_REG_2023 = date(2023, 1, 1)  # 辦法 §19 II: 111-12-26 修正之條文（第 3、6、19 條）自 112-01-01 施行
_IG = frozenset({"individual", "group"})
_CO = frozenset({"company"})
_NR = frozenset({"nonresident"})
_M = Decimal(1_000_000)

RULES: tuple[Rule, ...] = (
    Rule(
        "act-6-1-declaration", "declaration", ALL, "transaction", Decimal(500_000), "TWD", "ge",
        ACT, "6-1", "第1項",
        "新臺幣五十萬元以上之等值外匯收支或交易，應依規定申報",
        _ACT_6_1,
    ),
    Rule(
        "reg-2-declaration", "declaration", ALL, "transaction", Decimal(500_000), "TWD", "ge",
        REG, "2", "第1項",
        "中華民國境內新臺幣五十萬元以上等值外匯收支或交易之資金所有者或需求者"
        "（以下簡稱申報義務人），應依本辦法申報",
        _REG_2021,
    ),
    Rule(
        "reg-4-company-direct", "direct", _CO, "yearly", 50 * _M, "USD", "le",
        REG, "4", "第1項第3款",
        "公司、行號每年累積結購或結售金額未超過等值五千萬美元之匯款",
        _REG_2021,
    ),
    Rule(
        "reg-4-individual-direct", "direct", _IG, "yearly", 5 * _M, "USD", "le",
        REG, "4", "第1項第3款",
        "團體、個人每年累積結購或結售金額未超過等值五百萬美元之匯款",
        _REG_2021,
    ),
    Rule(
        "reg-4-nonresident-direct", "direct", _NR, "transaction", Decimal(100_000), "USD", "le",
        REG, "4", "第1項第5款",
        "非居住民每筆結購或結售金額未超過等值十萬美元之匯款",
        _REG_2021,
    ),
    Rule(
        "reg-5-company-documents", "documents", _CO, "transaction", 1 * _M, "USD", "ge",
        REG, "5", "第1款",
        "公司、行號每筆結匯金額達等值一百萬美元以上之匯款",
        _REG_2021,
    ),
    Rule(
        "reg-5-individual-documents", "documents", _IG, "transaction", Decimal(500_000), "USD",
        "ge", REG, "5", "第2款",
        "團體、個人每筆結匯金額達等值五十萬美元以上之匯款",
        _REG_2021,
    ),
    Rule(
        "reg-6-company-approval", "approval", _CO, "yearly", 50 * _M, "USD", "gt",
        REG, "6", "第1項第1款",
        "公司、行號每年累積結購或結售金額超過等值五千萬美元之必要性匯款",
        _REG_2023,
    ),
    Rule(
        "reg-6-individual-approval", "approval", _IG, "yearly", 5 * _M, "USD", "gt",
        REG, "6", "第1項第1款",
        "團體、個人每年累積結購或結售金額超過等值五百萬美元之必要性匯款",
        _REG_2023,
    ),
    Rule(
        "reg-6-minor-approval", "approval", frozenset({"minor"}), "transaction",
        Decimal(500_000), "TWD", "ge",
        REG, "6", "第1項第2款",
        "未滿十八歲領有中華民國國民身分證、臺灣地區相關居留證或外僑居留證證載有效期限一年以上"
        "之自然人，每筆結匯金額達等值新臺幣五十萬元以上之匯款",
        _REG_2023,
    ),
    Rule(
        "reg-6-nonresident-approval", "approval", _NR, "transaction", Decimal(100_000), "USD",
        "gt", REG, "6", "第1項第3款",
        "下列非居住民每筆結匯金額超過等值十萬美元之匯款",
        _REG_2023,
    ),
)  # fmt: skip

_OP_ZH = {"ge": "達{t}以上", "gt": "超過{t}", "le": "未超過{t}"}
_OP_EN = {"ge": "≥", "gt": ">", "le": "≤"}
_NOT_ZH = {"ge": "未達{t}", "gt": "未超過{t}", "le": "超過{t}"}
_NOT_EN = {"ge": "<", "gt": "≤", "le": ">"}
_DOES_ZH = {
    "declaration": "應填寫申報書，經由銀行業向中央銀行申報",
    "documents": "應檢附與該筆匯款有關之合約、核准函或其他證明文件，經銀行業確認與申報書相符後，始得辦理",
    "approval": "應檢附申報書及相關證明文件，經由銀行業向中央銀行申請核准後，始得辦理",
    "direct": "得於填妥申報書後，逕行辦理新臺幣結匯申報",
}
_DOES_EN = {
    "declaration": "a declaration form is required, filed with the central bank through the bank",
    "documents": "supporting documents (contract, approval letter …) must be checked by the bank first",
    "approval": "central bank approval is needed first, applied for with the form and documents",
    "direct": "may settle directly after filling in the declaration form",
}


def _money(value: Decimal, currency: str) -> tuple[str, str]:
    """(Chinese, English) wording of an amount: 等值新臺幣 500,000 元 / NT$500,000."""
    if currency == "TWD":
        return f"等值新臺幣 {fmt(value)} 元", f"NT${fmt(value)}"
    return f"等值 {fmt(value)} 美元", f"USD {fmt(value)}"


@dataclass(frozen=True)
class ArticleRef:
    law: str
    article: str
    amended: str | None  # the article's amendment date in the knowledge catalog, ISO
    reason: str
    clause: str = ""
    quote: str = ""

    @property
    def label(self) -> str:
        return f"{self.law}第{self.article}條{self.clause}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "article": self.article,
            "clause": self.clause,
            "amended": self.amended,
            "reason": self.reason,
            "quote": self.quote,
            "label": self.label,
        }


@dataclass(frozen=True)
class Evaluated:
    """One applicable row, the value it was measured on, and whether it held."""

    rule: Rule
    value: Decimal
    holds: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "consequence": self.rule.consequence,
            "value": str(self.value),
            "threshold": str(self.rule.threshold),
            "currency": self.rule.currency,
            "compare": self.rule.compare,
            "holds": self.holds,
        }


@dataclass(frozen=True)
class CheckResult:
    customer: str
    amount: Decimal
    currency: str
    ytd_usd: Decimal
    on: date | None
    amount_usd: Decimal | None  # cents; None where no row needed it (a minor's TWD amount)
    amount_twd: Decimal  # whole 元
    accumulated_usd: Decimal | None  # ytd_usd + amount_usd
    twd_basis: str  # "exact" | "spot-mid" | "{spot,cash}-bank-sells" | "{spot,cash}-bank-buys"
    usd_basis: str  # "exact" | "spot-mid" | "none"
    rate_basis: str  # the two above in words, Chinese first
    rates: list[Rate]
    declaration_required: bool
    documents_required: bool
    approval_required: bool
    direct_settlement: bool  # may settle right after filling in the form (or with no form)
    articles: list[ArticleRef]
    reasons: list[str]
    notes: list[str] = field(default_factory=list)
    evaluated: list[Evaluated] = field(default_factory=list)

    @property
    def fired(self) -> list[str]:
        return [e.rule.id for e in self.evaluated if e.holds]

    def to_dict(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "customer": self.customer,
            "amount": str(self.amount),
            "currency": self.currency,
            "ytd_usd": str(self.ytd_usd),
            "on": self.on.isoformat() if self.on else None,
            "amount_usd": s(self.amount_usd),
            "amount_twd": s(self.amount_twd),
            "accumulated_usd": s(self.accumulated_usd),
            "twd_basis": self.twd_basis,
            "usd_basis": self.usd_basis,
            "rate_basis": self.rate_basis,
            "rates": [r.to_dict() for r in self.rates],
            "declaration_required": self.declaration_required,
            "documents_required": self.documents_required,
            "approval_required": self.approval_required,
            "direct_settlement": self.direct_settlement,
            "articles": [a.to_dict() for a in self.articles],
            "reasons": self.reasons,
            "notes": self.notes,
            "evaluated": [e.to_dict() for e in self.evaluated],
        }


class Equivalents:
    """TWD and USD equivalents, each computed only when a row needs it, so a minor's TWD amount
    needs no rate at all and a missing rate is reported only when it matters."""

    def __init__(
        self,
        store: RateStore | None,
        amount: Decimal,
        currency: str,
        on: date | None,
        side: str | None,
        source: str | None,
        kind: str = "spot",
    ) -> None:
        self.store, self.amount, self.currency = store, amount, currency
        self.on, self.side, self.source, self.kind = on, side, source, kind
        self.rates: list[Rate] = []
        self._mids: dict[str, Decimal] = {}
        self._twd: Decimal | None = None
        self._usd: Decimal | None = None
        self.twd_basis = "exact" if currency == BASE else ""
        self.usd_basis = "exact" if currency == "USD" else "none"

    def _mid(self, cur: str) -> Decimal:
        if cur not in self._mids:
            rate = self._rate(cur)
            if rate.mid is None:
                raise AssistantError(
                    f"{cur} 的即期匯率缺買入或賣出價，無法計算中價 / the {cur} spot quote of "
                    f"{rate.rate_date.isoformat()} lacks a side: no mid-rate for the equivalent"
                )
            self._mids[cur] = rate.mid
        return self._mids[cur]

    def _rate(self, cur: str) -> Rate:
        if self.store is None:
            raise AssistantError(
                f"沒有匯率表，無法換算 {self.currency} 的等值 / no rate table: the {cur} spot rate "
                f"is needed for the equivalent of {self.currency}"
            )
        try:
            rate = self.store.rate(cur, self.on, "spot", self.source)
        except AssistantError as exc:
            raise AssistantError(
                f"換算等值需要 {cur} 的即期匯率 / the {cur} spot rate is needed for the "
                f"equivalent of {fmt(self.amount)} {self.currency}: {exc}"
            ) from exc
        if rate not in self.rates:
            self.rates.append(rate)
        return rate

    @property
    def twd(self) -> Decimal:
        if self._twd is None:
            if self.currency == BASE:
                self._twd = self.amount
            elif self.side is not None:
                if self.store is None:
                    self._rate(self.currency)  # raises: no rate table
                conv = convert(
                    self.store,  # type: ignore[arg-type]
                    self.amount,
                    self.currency,
                    BASE,
                    side=self.side,  # type: ignore[arg-type]
                    kind=self.kind,  # type: ignore[arg-type]
                    on=self.on,
                    source=self.source,
                )
                self.rates.extend(r for r in conv.legs if r not in self.rates)
                self._twd = conv.amount
                self.twd_basis = f"{self.kind}-{conv.rate_side}"
            else:
                self._twd = quantize(self.amount * self._mid(self.currency), BASE)
                self.twd_basis = "spot-mid"
        return self._twd

    @property
    def usd(self) -> Decimal:
        if self._usd is None:
            if self.currency == "USD":
                self._usd = self.amount
            elif self.currency == BASE:
                self._usd = quantize(self.amount / self._mid("USD"), "USD")
                self.usd_basis = "spot-mid"
            else:
                twd = self.amount * self._mid(self.currency)
                self._usd = quantize(twd / self._mid("USD"), "USD")
                self.usd_basis = "spot-mid"
        return self._usd

    @property
    def usd_known(self) -> Decimal | None:
        return self._usd

    def basis_text(self) -> str:
        zh = {
            "exact": "原幣",
            "spot-mid": "即期中價（(本行買入+本行賣出)/2）",
            "spot-bank-sells": "即期本行賣出（客戶結購）",
            "spot-bank-buys": "即期本行買入（客戶結售）",
            "cash-bank-sells": "現金本行賣出（客戶結購）",
            "cash-bank-buys": "現金本行買入（客戶結售）",
            "none": "未換算",
            "": "未換算",
        }
        en = {
            "exact": "as given",
            "spot-mid": "spot mid-rate ((bank-buys + bank-sells) / 2)",
            "spot-bank-sells": "spot bank-sells (the customer buys)",
            "spot-bank-buys": "spot bank-buys (the customer sells)",
            "cash-bank-sells": "cash bank-sells (the customer buys)",
            "cash-bank-buys": "cash bank-buys (the customer sells)",
            "none": "not computed",
            "": "not computed",
        }
        dates = ", ".join(f"{r.currency} {r.rate_date.isoformat()} {r.source}" for r in self.rates)
        tail = f"；匯率 {dates}" if dates else ""
        tail_en = f"; rates {dates}" if dates else ""
        return (
            f"新臺幣等值：{zh[self.twd_basis]}；美元等值：{zh[self.usd_basis]}{tail} / "
            f"TWD equivalent: {en[self.twd_basis]}; USD equivalent: {en[self.usd_basis]}{tail_en}"
        )


def _measure(rule: Rule, eq: Equivalents, ytd_usd: Decimal) -> Decimal:
    if rule.scope == "yearly":
        return ytd_usd + eq.usd
    return eq.twd if rule.currency == "TWD" else eq.usd


def _rule_reason(
    e: Evaluated, customer: str, ytd_usd: Decimal, eq: Equivalents, overridden: bool = False
) -> str:
    """One bilingual line; ``overridden``: a direct row that held while documents or approval
    apply, which §4 I 但書 puts first."""
    r = e.rule
    t_zh, t_en = _money(r.threshold, r.currency)
    v_zh, v_en = _money(e.value, r.currency)
    if r.scope == "yearly":
        this = eq.usd
        what_zh = f"當年累積結匯{v_zh}（已結匯 {fmt(ytd_usd)} + 本筆 {fmt(this)} 美元）"
        what_en = f"yearly total {v_en} (so far {fmt(ytd_usd)} + this {fmt(this)})"
    else:
        what_zh, what_en = f"每筆{v_zh}", f"this transaction {v_en}"
    if e.holds and overridden:
        cmp_zh = _OP_ZH[r.compare].format(t=t_zh)
        cmp_en = f"{_OP_EN[r.compare]} {t_en}"
        tail_zh = "原得逕行辦理，但屬第5條或第6條規定者，應先經確認或核准（第4條第1項但書）"
        tail_en = "direct settlement would apply, but Art. 5/6 come first (Art. 4(1) proviso)"
    elif e.holds:
        cmp_zh = _OP_ZH[r.compare].format(t=t_zh)
        cmp_en = f"{_OP_EN[r.compare]} {t_en}"
        tail_zh, tail_en = _DOES_ZH[r.consequence], _DOES_EN[r.consequence]
    else:
        cmp_zh = _NOT_ZH[r.compare].format(t=t_zh)
        cmp_en = f"{_NOT_EN[r.compare]} {t_en}"
        tail_zh = f"不適用「{_DOES_ZH[r.consequence]}」"
        tail_en = f"not: {_DOES_EN[r.consequence]}"
    return (
        f"{CUSTOMER_ZH[customer]}{what_zh}，{cmp_zh}：{tail_zh}（{r.label}） / "
        f"{CUSTOMER_EN[customer]}, {what_en} {cmp_en}: {tail_en} "
        f"({LAW_EN[r.law]} Art. {r.article})"
    )


def amended_dates(
    catalog: Catalog | None, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    if catalog is None or not keys:
        return {}
    ids = catalog.find(sorted({law for law, _ in keys}), sorted({a for _, a in keys}))
    out: dict[tuple[str, str], str] = {}
    for payload in catalog.get(ids).values():
        if payload.get("lang", "zh-TW") == "zh-TW" and payload.get("amended"):
            out[(payload["law_zh"], payload["article"])] = payload["amended"]
    return out


def check(
    store: RateStore | None,
    *,
    customer: Customer,
    amount: Decimal | int | str,
    currency: str,
    ytd_usd: Decimal | int | str = Decimal(0),
    on: date | None = None,
    catalog: Catalog | None = None,
    side: Literal["customer-buys", "customer-sells"] | None = None,
    source: str | None = None,
    kind: Literal["cash", "spot"] = "spot",
) -> CheckResult:
    """The duties of one TWD settlement of ``amount`` ``currency`` by ``customer``.

    ``ytd_usd``: this year's settlements in the same direction (結購 or 結售) already made, in
    USD. Equivalents use the spot mid-rate of ``on`` (latest on or before), or with ``side``
    the TWD equivalent uses that side's ``kind`` rate: the TWD the customer actually pays or
    gets, the same figure the conversion of the same settlement shows.
    """
    if customer not in CUSTOMERS:
        raise AssistantError(
            f"客戶類別錯誤 / unknown customer type {customer!r}; one of {', '.join(CUSTOMERS)}"
        )
    value = to_decimal(amount)
    if value <= 0:
        raise AssistantError(f"金額須大於 0 / the amount must be positive: {value}")
    ytd = to_decimal(ytd_usd, "當年累積金額 year-to-date amount")
    if ytd < 0:
        raise AssistantError(f"當年累積金額不可為負 / ytd_usd cannot be negative: {ytd}")
    if side is not None and side not in SIDES:
        raise AssistantError(f"方向錯誤 / side must be customer-buys or customer-sells: {side!r}")
    if kind not in ("cash", "spot"):
        raise AssistantError(f"匯率種類錯誤 / kind must be cash or spot: {kind!r}")
    cur = check_currency(currency)
    eq = Equivalents(store, value, cur, on, side, source, kind)
    applicable = [r for r in RULES if customer in r.customers]
    evaluated = [
        Evaluated(r, v, r.holds(v))
        for r in applicable
        if r.consequence == "declaration"
        for v in [_measure(r, eq, ytd)]
    ]
    declaration = any(e.holds for e in evaluated)
    if declaration:  # 申報辦法's procedures concern a declared settlement only
        evaluated += [
            Evaluated(r, v, r.holds(v))
            for r in applicable
            if r.consequence != "declaration"
            for v in [_measure(r, eq, ytd)]
        ]
    holds = {e.rule.consequence for e in evaluated if e.holds}
    approval = "approval" in holds
    documents = "documents" in holds or approval
    direct = not documents
    reasons, notes = _explain(customer, evaluated, declaration, direct, ytd, eq)
    notes += _version_notes(on or date.today(), evaluated)
    return CheckResult(
        customer=customer,
        amount=value,
        currency=cur,
        ytd_usd=ytd,
        on=on,
        amount_usd=eq.usd_known,
        amount_twd=eq.twd,
        accumulated_usd=None if eq.usd_known is None else ytd + eq.usd_known,
        twd_basis=eq.twd_basis,
        usd_basis=eq.usd_basis,
        rate_basis=eq.basis_text(),
        rates=list(eq.rates),
        declaration_required=declaration,
        documents_required=documents,
        approval_required=approval,
        direct_settlement=direct,
        articles=_articles(catalog, customer, evaluated, declaration, ytd, eq),
        reasons=reasons,
        notes=sorted(set(notes), key=notes.index),
        evaluated=evaluated,
    )


def _version_notes(when: date, evaluated: list[Evaluated]) -> list[str]:
    """One note when a row's quoted wording took effect after the day asked about: the corpus
    holds the text in force now, not the text of that day."""
    later = list(dict.fromkeys(e.rule for e in evaluated if when < e.rule.in_force_from))
    if not later:
        return []
    zh = "、".join(f"{r.label}自 {r.in_force_from.isoformat()}" for r in later)
    en = ", ".join(
        f"{LAW_EN[r.law]} Art. {r.article} from {r.in_force_from.isoformat()}" for r in later
    )
    return [
        f"所引條文之施行日：{zh}；{when.isoformat()} 當時適用之條文可能不同 / the wording quoted "
        f"took effect later than {when.isoformat()} ({en}): the text in force then may differ"
    ]


def _explain(
    customer: str,
    evaluated: list[Evaluated],
    declaration: bool,
    direct: bool,
    ytd: Decimal,
    eq: Equivalents,
) -> tuple[list[str], list[str]]:
    twd_zh, twd_en = _money(eq.twd, "TWD")
    if declaration:
        reasons = [
            f"{twd_zh}，達新臺幣五十萬元以上，應依規定申報（管理外匯條例第6-1條第1項、"
            f"外匯收支或交易申報辦法第2條第1項） / {twd_en} is NT$500,000 or more: a declaration "
            "is required (Foreign Exchange Regulation Act Art. 6-1; Declaration Regulations Art. 2)"
        ]
    else:
        reasons = [
            f"{twd_zh}，未達新臺幣五十萬元，無須申報，可逕行結匯（管理外匯條例第6-1條第1項、"
            f"外匯收支或交易申報辦法第2條第1項） / {twd_en} is below NT$500,000: no declaration, "
            "settle directly (Foreign Exchange Regulation Act Art. 6-1; Declaration Regulations "
            "Art. 2)"
        ]
        return reasons, []
    notes: list[str] = []
    for e in evaluated:
        c = e.rule.consequence
        if c == "declaration":
            continue
        if e.holds or c == "documents":
            reasons.append(_rule_reason(e, customer, ytd, eq, c == "direct" and not direct))
        if not e.holds:
            continue
        if e.rule.id == "reg-6-minor-approval":
            notes.append(
                "除已結婚者外，應由法定代理人代為辦理，並共同於申報書簽章（申報辦法第6條第2項） / "
                "unless married, the legal representative files it and co-signs the form "
                "(Art. 6(2))"
            )
        elif e.rule.id == "reg-6-nonresident-approval":
            notes.append(
                "第6條第1項第3款列明：境內承包工程之工程款；因法律案件應提存之擔保金及仲裁費；"
                "經許可或依法取得自用之境內不動產等之相關款項；境內依法取得之遺產、保險金及撫卹金；"
                "其他必要性之匯款依同項第4款 / Art. 6(1)(3) lists construction payments, court "
                "deposits and arbitration fees, real estate for own use, inheritance, insurance "
                "and pensions; other necessary remittances fall under Art. 6(1)(4)"
            )
        elif e.rule.id == "reg-4-nonresident-direct":
            notes.append(
                "非居住民自然人應憑護照或其他身分證明文件由本人親自辦理；非居住民法人應授權境內代表人"
                "或代理人辦理（申報辦法第10條）；境外非中華民國金融機構不得以匯入款項辦理結售"
                "（第4條第1項第5款但書） / a nonresident person files in person with a passport; a "
                "nonresident entity through its authorised agent in Taiwan (Art. 10); foreign "
                "financial institutions may not sell inward remittances (Art. 4(1)(5))"
            )
        elif e.rule.scope == "yearly" and c == "approval":
            notes.append(
                "當年累積金額結購、結售分別計算；出、進口貨品及對非居住民提供服務收支之匯款"
                "不計入累積結匯金額（申報辦法第4條第2項） / purchases and sales accumulate "
                "separately; trade in goods and services with nonresidents does not count toward "
                "the yearly total (Art. 4(2))"
            )
    if direct and not any(e.holds and e.rule.consequence == "direct" for e in evaluated):
        reasons.append(
            f"{_DOES_ZH['direct']}（外匯收支或交易申報辦法第4條第1項） / "
            f"{_DOES_EN['direct']} (Declaration Regulations Art. 4)"
        )
    return reasons, notes


def _articles(
    catalog: Catalog | None,
    customer: str,
    evaluated: list[Evaluated],
    declaration: bool,
    ytd: Decimal,
    eq: Equivalents,
) -> list[ArticleRef]:
    """The declaration articles always (they decide whether anything applies), then every other
    row that held; one reference per article, its clauses and reasons joined."""
    chosen = [e for e in evaluated if e.rule.consequence == "declaration" or e.holds]
    grouped: dict[tuple[str, str], list[Evaluated]] = {}
    for e in chosen:
        grouped.setdefault((e.rule.law, e.rule.article), []).append(e)
    amended = amended_dates(catalog, list(grouped))
    out = []
    for key, items in grouped.items():
        clauses = list(dict.fromkeys(e.rule.clause for e in items))
        reasons = []
        for e in items:
            if e.rule.consequence == "declaration":
                zh = (
                    "達新臺幣五十萬元以上，應申報"
                    if declaration
                    else "未達新臺幣五十萬元，無須申報"
                )
                en = "NT$500,000 or more: declare" if declaration else "below NT$500,000: none"
                reasons.append(f"{zh} / {en}")
            else:
                overridden = e.rule.consequence == "direct" and any(
                    x.holds and x.rule.consequence in ("documents", "approval") for x in evaluated
                )
                reasons.append(_rule_reason(e, customer, ytd, eq, overridden))
        out.append(
            ArticleRef(
                law=key[0],
                article=key[1],
                amended=amended.get(key),
                reason="；".join(dict.fromkeys(reasons)),
                clause="、".join(clauses),
                quote="；".join(dict.fromkeys(e.rule.wording for e in items)),
            )
        )
    return out
