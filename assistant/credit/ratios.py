"""Financial ratios from an ``Extraction``, each with its formula, its inputs and their pages.

Conventions, stated on every ratio that they touch:

* Balances are period-end figures (期末餘額), not averages: an average needs the balance a year
  before each period, which a report prints for the current period only, and mixing the two
  bases would make the periods incomparable.
* Flow figures are year to date (see ``statements``). Ratios that set a flow against a balance
  (ROA, ROE, turnovers, cash flow to current liabilities) annualise the flow by
  12 / months covered, so a half-year report's ROE compares with a full year's.
  Flow-over-flow ratios (margins, interest coverage) need no annualising.
* Expenses and outflows are used by magnitude (營業成本, 財務成本 and 取得不動產、廠房及設備 are
  printed negative in most reports and positive in some).
* A value is None, with the reason, when an input is missing or a denominator is zero or
  negative where a ratio would be meaningless (equity ≤ 0 for ROE, debt-to-equity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from assistant.credit.schema import BALANCE_SHEET, ITEMS
from assistant.credit.statements import Extraction

GROUPS: dict[str, str] = {
    "liquidity": "償債能力（短期） liquidity",
    "leverage": "財務結構 leverage",
    "coverage": "利息保障 coverage",
    "profitability": "獲利能力 profitability",
    "efficiency": "經營能力 efficiency",
    "cash_flow": "現金流量 cash flow",
    "growth": "成長 growth",
}
# How a value is shown: times (倍), percent (already × 100), NT$, days.
KINDS = ("times", "percent", "amount", "days")


@dataclass
class Ratio:
    name: str
    group: str
    zh: str
    en: str
    formula_zh: str
    formula_en: str
    kind: str
    values: list[float | None]
    reasons: list[str | None]
    inputs: list[str]
    sources: dict[str, dict[str, Any]]
    annualised: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    # Whether an input is an income-statement or cash-flow figure (year to date): in an
    # interim report such a ratio is said to cover the months it covers.
    flows: bool = False
    # Per period, the basis in words: 「年初至今 6 個月，年化 × 12 ÷ 6 / …」; None for ratios of
    # balances only.
    basis: list[str | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "zh": self.zh,
            "en": self.en,
            "formula_zh": self.formula_zh,
            "formula_en": self.formula_en,
            "kind": self.kind,
            "values": self.values,
            "reasons": self.reasons,
            "annualised": self.annualised,
            "flows": self.flows,
            "basis": self.basis,
            "inputs": self.inputs,
            "sources": self.sources,
            "changes": self.changes,
        }


@dataclass
class RatioReport:
    file: str
    company: str | None
    periods: list[str]
    period_months: list[int | None]
    ratios: list[Ratio]
    notes: list[str]
    # Column headers that say what each period is (「本期 current period 2025-06-30」).
    period_labels: list[str] = field(default_factory=list)
    interim: bool = False

    def get(self, name: str) -> Ratio:
        for r in self.ratios:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "company": self.company,
            "periods": self.periods,
            "period_months": self.period_months,
            "period_labels": self.period_labels,
            "interim": self.interim,
            "ratios": [r.to_dict() for r in self.ratios],
            "notes": self.notes,
        }


class _Missing(Exception):
    """An input a ratio needs is absent, or a denominator is unusable; the message says which."""


class _Period:
    """The figures of one period, raising ``_Missing`` with a bilingual reason when absent."""

    def __init__(self, x: Extraction, i: int) -> None:
        self.x = x
        self.i = i
        self.months = x.period_months[i]

    def get(self, name: str) -> Decimal:
        v = self.x.value(name, self.i)
        flag = self.x.flag(name, self.i)
        if flag is not None:
            # A figure that fails the statement's own arithmetic is not used, however printed.
            raise _Missing(f"{name}: 勾稽不符，未採用 / failed a check, not used ({flag})")
        if v is None:
            if name in self.x.items:
                raise _Missing(f"{name}: 本期間未列示 / not shown for this period")
            raise _Missing(f"{name}: 報表中找不到 / not found in the report")
        return v

    def opt(self, name: str) -> Decimal:
        if self.x.flag(name, self.i) is not None:
            return self.get(name)  # raises with the reason
        v = self.x.value(name, self.i)
        return v if v is not None else Decimal(0)

    def annual(self, value: Decimal) -> Decimal:
        if not self.months:
            raise _Missing("期間月數不明 / the months covered are unknown")
        return value * Decimal(12) / Decimal(self.months)


def _div(a: Decimal, b: Decimal, what: str, positive: bool = False) -> Decimal:
    if b == 0:
        raise _Missing(f"{what} 為零 / {what} is zero")
    if positive and b < 0:
        raise _Missing(f"{what} 為負，比率無意義 / {what} is negative: the ratio is meaningless")
    return a / b


def _gross(p: _Period) -> Decimal:
    if p.x.value("gross_profit", p.i) is not None:
        return p.get("gross_profit")
    return p.get("revenue") - abs(p.get("cost_of_revenue"))


def _receivables(p: _Period) -> Decimal:
    parts = ("notes_receivable", "accounts_receivable", "accounts_receivable_related")
    if all(p.x.value(n, p.i) is None for n in parts):
        p.get("accounts_receivable")  # raises with the reason
    return sum((p.opt(n) for n in parts), Decimal(0))


def _borrowings(p: _Period) -> Decimal:
    parts = (
        "short_term_borrowings",
        "short_term_notes_payable",
        "current_portion_long_term_debt",
        "long_term_borrowings",
        "bonds_payable",
    )
    return sum((p.opt(n) for n in parts), Decimal(0))


@dataclass(frozen=True)
class _Def:
    name: str
    group: str
    zh: str
    en: str
    formula_zh: str
    formula_en: str
    kind: str
    inputs: tuple[str, ...]
    fn: Callable[[_Period], Decimal]
    annualised: bool = False


def _hundred(fn: Callable[[_Period], Decimal]) -> Callable[[_Period], Decimal]:
    return lambda p: fn(p) * 100


DEFS: tuple[_Def, ...] = (
    _Def(
        "current_ratio",
        "liquidity",
        "流動比率",
        "current ratio",
        "流動資產 ÷ 流動負債",
        "current assets ÷ current liabilities",
        "times",
        ("current_assets", "current_liabilities"),
        lambda p: _div(p.get("current_assets"), p.get("current_liabilities"), "流動負債"),
    ),
    _Def(
        "quick_ratio",
        "liquidity",
        "速動比率",
        "quick ratio",
        "（流動資產 − 存貨 − 預付款項）÷ 流動負債",
        "(current assets − inventories − prepayments) ÷ current liabilities",
        "times",
        ("current_assets", "inventories", "prepayments", "current_liabilities"),
        lambda p: _div(
            p.get("current_assets") - p.opt("inventories") - p.opt("prepayments"),
            p.get("current_liabilities"),
            "流動負債",
        ),
    ),
    _Def(
        "debt_ratio",
        "leverage",
        "負債比率",
        "debt ratio",
        "負債總計 ÷ 資產總計",
        "total liabilities ÷ total assets",
        "percent",
        ("total_liabilities", "total_assets"),
        _hundred(lambda p: _div(p.get("total_liabilities"), p.get("total_assets"), "資產總計")),
    ),
    _Def(
        "debt_to_equity",
        "leverage",
        "負債對權益比率",
        "debt to equity",
        "負債總計 ÷ 權益總計",
        "total liabilities ÷ total equity",
        "times",
        ("total_liabilities", "total_equity"),
        lambda p: _div(p.get("total_liabilities"), p.get("total_equity"), "權益總計", True),
    ),
    _Def(
        "borrowings_to_equity",
        "leverage",
        "借款對權益比率",
        "borrowings to equity",
        "（短期借款 + 應付短期票券 + 一年內到期長期負債 + 長期借款 + 應付公司債）÷ 權益總計",
        "(short-term borrowings + short-term notes + current portion of long-term debt + "
        "long-term borrowings + bonds) ÷ total equity",
        "times",
        (
            "short_term_borrowings",
            "short_term_notes_payable",
            "current_portion_long_term_debt",
            "long_term_borrowings",
            "bonds_payable",
            "total_equity",
        ),
        lambda p: _div(_borrowings(p), p.get("total_equity"), "權益總計", True),
    ),
    _Def(
        "interest_coverage",
        "coverage",
        "利息保障倍數",
        "interest coverage",
        "息前稅前淨利（稅前淨利 + 利息費用）÷ 利息費用",
        "EBIT (income before tax + interest expense) ÷ interest expense",
        "times",
        ("income_before_tax", "interest_expense"),
        lambda p: _div(
            p.get("income_before_tax") + abs(p.get("interest_expense")),
            abs(p.get("interest_expense")),
            "利息費用",
        ),
    ),
    _Def(
        "gross_margin",
        "profitability",
        "毛利率",
        "gross margin",
        "營業毛利 ÷ 營業收入",
        "gross profit ÷ revenue",
        "percent",
        ("gross_profit", "cost_of_revenue", "revenue"),
        _hundred(lambda p: _div(_gross(p), p.get("revenue"), "營業收入", True)),
    ),
    _Def(
        "operating_margin",
        "profitability",
        "營業利益率",
        "operating margin",
        "營業利益 ÷ 營業收入",
        "operating income ÷ revenue",
        "percent",
        ("operating_income", "revenue"),
        _hundred(lambda p: _div(p.get("operating_income"), p.get("revenue"), "營業收入", True)),
    ),
    _Def(
        "net_margin",
        "profitability",
        "純益率",
        "net margin",
        "本期淨利 ÷ 營業收入",
        "net income ÷ revenue",
        "percent",
        ("net_income", "revenue"),
        _hundred(lambda p: _div(p.get("net_income"), p.get("revenue"), "營業收入", True)),
    ),
    _Def(
        "roa",
        "profitability",
        "資產報酬率",
        "return on assets",
        "本期淨利（年化）÷ 期末資產總計",
        "net income (annualised) ÷ period-end total assets",
        "percent",
        ("net_income", "total_assets"),
        _hundred(
            lambda p: _div(p.annual(p.get("net_income")), p.get("total_assets"), "資產總計", True)
        ),
        annualised=True,
    ),
    _Def(
        "roe",
        "profitability",
        "權益報酬率",
        "return on equity",
        "本期淨利（年化）÷ 期末權益總計",
        "net income (annualised) ÷ period-end total equity",
        "percent",
        ("net_income", "total_equity"),
        _hundred(
            lambda p: _div(p.annual(p.get("net_income")), p.get("total_equity"), "權益總計", True)
        ),
        annualised=True,
    ),
    _Def(
        "asset_turnover",
        "efficiency",
        "總資產週轉率",
        "asset turnover",
        "營業收入（年化）÷ 期末資產總計",
        "revenue (annualised) ÷ period-end total assets",
        "times",
        ("revenue", "total_assets"),
        lambda p: _div(p.annual(p.get("revenue")), p.get("total_assets"), "資產總計", True),
        annualised=True,
    ),
    _Def(
        "receivables_turnover",
        "efficiency",
        "應收款項週轉率",
        "receivables turnover",
        "營業收入（年化）÷ 期末應收款項（票據 + 帳款 + 關係人帳款）",
        "revenue (annualised) ÷ period-end receivables (notes + accounts + related parties)",
        "times",
        ("revenue", "notes_receivable", "accounts_receivable", "accounts_receivable_related"),
        lambda p: _div(p.annual(p.get("revenue")), _receivables(p), "應收款項", True),
        annualised=True,
    ),
    _Def(
        "receivable_days",
        "efficiency",
        "平均收現日數",
        "days sales outstanding",
        "365 ÷ 應收款項週轉率",
        "365 ÷ receivables turnover",
        "days",
        ("revenue", "notes_receivable", "accounts_receivable", "accounts_receivable_related"),
        lambda p: _div(
            Decimal(365) * _receivables(p), p.annual(p.get("revenue")), "營業收入", True
        ),
        annualised=True,
    ),
    _Def(
        "inventory_turnover",
        "efficiency",
        "存貨週轉率",
        "inventory turnover",
        "營業成本（年化）÷ 期末存貨",
        "cost of revenue (annualised) ÷ period-end inventories",
        "times",
        ("cost_of_revenue", "inventories"),
        lambda p: _div(p.annual(abs(p.get("cost_of_revenue"))), p.get("inventories"), "存貨", True),
        annualised=True,
    ),
    _Def(
        "inventory_days",
        "efficiency",
        "平均售貨日數",
        "days inventory outstanding",
        "365 ÷ 存貨週轉率",
        "365 ÷ inventory turnover",
        "days",
        ("cost_of_revenue", "inventories"),
        lambda p: _div(
            Decimal(365) * p.get("inventories"),
            p.annual(abs(p.get("cost_of_revenue"))),
            "營業成本",
            True,
        ),
        annualised=True,
    ),
    _Def(
        "ocf_to_current_liabilities",
        "cash_flow",
        "營業現金流量對流動負債比率",
        "operating cash flow to current liabilities",
        "營業活動淨現金流量（年化）÷ 期末流動負債",
        "operating cash flow (annualised) ÷ period-end current liabilities",
        "percent",
        ("operating_cash_flow", "current_liabilities"),
        _hundred(
            lambda p: _div(
                p.annual(p.get("operating_cash_flow")),
                p.get("current_liabilities"),
                "流動負債",
                True,
            )
        ),
        annualised=True,
    ),
    _Def(
        "free_cash_flow",
        "cash_flow",
        "自由現金流量",
        "free cash flow",
        "營業活動淨現金流量 − 取得不動產、廠房及設備（年初至今）",
        "operating cash flow − capital expenditure (year to date)",
        "amount",
        ("operating_cash_flow", "capex"),
        lambda p: p.get("operating_cash_flow") - abs(p.get("capex")),
    ),
)

_GROWTH: tuple[tuple[str, str, str], ...] = (
    ("revenue", "營業收入成長率", "revenue growth"),
    ("net_income", "本期淨利成長率", "net income growth"),
)


def _round(v: Decimal, kind: str) -> float:
    if kind == "amount":
        return float(v.quantize(Decimal(1)))
    return float(round(v, 2 if kind in ("percent", "days") else 4))


def _sources(x: Extraction, inputs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in inputs:
        item = x.items.get(name)
        if item is not None:
            out[name] = {"page": item.page, "statement": item.statement, "label": item.label}
    return out


def _changes(periods: list[str], values: list[float | None], kind: str) -> list[dict[str, Any]]:
    """The current period against each earlier one that has a value: the difference (in
    percentage points for percentages) and the relative change."""
    if not values or values[0] is None:
        return []
    out = []
    for i in range(1, len(values)):
        prior = values[i]
        if prior is None:
            continue
        diff = values[0] - prior
        out.append(
            {
                "against": periods[i],
                "change": round(diff, 4),
                "unit": "百分點 pp" if kind == "percent" else kind,
                "relative": round(diff / abs(prior), 4) if prior else None,
            }
        )
    return out


def _uses_flows(inputs: tuple[str, ...] | list[str]) -> bool:
    return any(ITEMS[n].statement != BALANCE_SHEET for n in inputs if n in ITEMS)


def basis(months: int | None, annualised: bool, flows: bool, amount: bool = False) -> str | None:
    """The basis of a ratio's figure at a period whose flows cover ``months``, in words."""
    if not flows:
        return None
    if not months:
        return "期間月數不明 / months covered unknown"
    if months == 12:
        return "全年數字 / full-year figures"
    if amount:
        return f"年初至今 {months} 個月，未年化 / year to date, {months} months, not annualised"
    if annualised:
        return (
            f"年初至今 {months} 個月，年化 × 12 ÷ {months} / year to date, {months} months, "
            f"annualised × 12 ÷ {months}"
        )
    return (
        f"年初至今 {months} 個月，分子分母同期間，毋須年化 / year to date, {months} months, "
        "numerator and denominator cover the same months: not annualised"
    )


def compute(x: Extraction) -> RatioReport:
    """Every ratio of ``DEFS`` for every period of ``x``, plus year-on-year growth."""
    periods = [p.isoformat() for p in x.periods]
    ratios: list[Ratio] = []
    for d in DEFS:
        values: list[float | None] = []
        reasons: list[str | None] = []
        for i in range(len(x.periods)):
            try:
                values.append(_round(d.fn(_Period(x, i)), d.kind))
                reasons.append(None)
            except _Missing as exc:
                values.append(None)
                reasons.append(str(exc))
        ratios.append(
            Ratio(
                d.name,
                d.group,
                d.zh,
                d.en,
                d.formula_zh,
                d.formula_en,
                d.kind,
                values,
                reasons,
                list(d.inputs),
                _sources(x, d.inputs),
                d.annualised,
                _changes(periods, values, d.kind),
                _uses_flows(d.inputs),
                [
                    basis(m, d.annualised, _uses_flows(d.inputs), d.kind == "amount")
                    for m in x.period_months
                ],
            )
        )
    ratios += _growth(x, periods)
    notes = [
        "餘額採期末數，非平均數 / balances are period-end figures, not averages",
        "損益與現金流量為年初至今累計數；與餘額相除之比率已年化（× 12 ÷ 月數）/ income and "
        "cash-flow figures are year to date; ratios that divide them by a balance are "
        "annualised (× 12 ÷ months)",
        "費用與支出取絕對值 / expenses and outflows are taken by magnitude",
    ]
    if x.interim:
        m = x.period_months[0]
        ytd = x.period_info[0].ytd_label if x.period_info else None
        annualised = "、".join(r.zh for r in ratios if r.annualised)
        notes.append(
            f"本報告為期中報告：損益及現金流量比率以年初至今數字（{ytd or f'{m} 個月'}）計算；"
            f"{annualised}已年化（× 12 ÷ {m}），為推估；毛利率、純益率、利息保障倍數等分子分母"
            f"同期間，毋須年化 / an interim report: flow ratios use the year-to-date figures; "
            f"ratios setting a flow against a balance (ROA, ROE, turnovers, days, cash flow to "
            f"current liabilities) are annualised × 12 ÷ {m}, an extrapolation; margins and "
            "interest coverage set flows of the same months against each other and are not"
        )
    labels = [p.label for p in x.period_info] or periods
    return RatioReport(
        x.file, x.company, periods, x.period_months, ratios, notes, labels, x.interim
    )


def _growth(x: Extraction, periods: list[str]) -> list[Ratio]:
    """Year-on-year growth of the current period against the same span a year earlier."""
    out = []
    current = x.periods[0] if x.periods else None
    prior = next(
        (
            i
            for i, p in enumerate(x.periods)
            if current is not None
            and p.year == current.year - 1
            and p.month == current.month
            and x.period_months[i] == x.period_months[0]
        ),
        None,
    )
    for name, zh, en in _GROWTH:
        values: list[float | None] = [None] * len(periods)
        reasons: list[str | None] = [None] * len(periods)
        for i in range(len(periods)):
            if i != 0:
                reasons[i] = "僅計算當期對去年同期 / only the current period against a year before"
                continue
            a = x.value(name, 0)
            b = x.value(name, prior) if prior is not None else None
            if a is None or b is None:
                reasons[i] = (
                    f"{name}: 缺少本期或去年同期數字 / no figure for this or last year's period"
                )
            elif b <= 0:
                reasons[i] = f"{name}: 去年同期非正數 / last year's figure is not positive"
            else:
                values[i] = _round((a - b) / b * 100, "percent")
        out.append(
            Ratio(
                f"{name}_growth",
                "growth",
                zh,
                en,
                f"（本期{ITEM_ZH.get(name, name)} − 去年同期）÷ 去年同期",
                f"({name} − same period last year) ÷ same period last year",
                "percent",
                values,
                reasons,
                [name],
                _sources(x, (name,)),
                flows=True,
                basis=[
                    "年初至今對去年同期 / year to date against the same months a year before"
                    if i == 0
                    else None
                    for i in range(len(periods))
                ],
            )
        )
    return out


ITEM_ZH = {"revenue": "營業收入", "net_income": "本期淨利"}
