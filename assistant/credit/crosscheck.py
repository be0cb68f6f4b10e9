"""The same figure across two reports of one company: a quarter's comparative column against
the annual report's current column, or two quarters' shared dates.

A company files the same balance-sheet date several times: the annual report of 2024 prints
2024-12-31 as its current column, and each quarterly report of 2025 prints it again as the
prior year-end. When two such reports are loaded together the figures must agree; where they
do not (a misread column, a restatement, a wrong file), both figures are flagged with both
reports named (``LineItem.flags``, so the ratios refuse them) and a warning is added to each
extraction, never one silently preferred.

Only reports of one company on one basis are compared: consolidated (合併) and parent-only
(個體) figures differ by design. Flow figures (income and cash flow) are compared where both
reports cover the same span (the same year-to-date months ending on the same day).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import Any

from assistant.credit.schema import BALANCE_SHEET, ITEMS
from assistant.credit.statements import Extraction

CONSOLIDATED, PARENT_ONLY = "consolidated", "parent_only"
_BASIS_ZH = {CONSOLIDATED: "合併", PARENT_ONLY: "個體"}


@dataclass(frozen=True)
class Disagreement:
    """One figure printed differently by two reports for the same date (and span)."""

    item: str
    end: date
    months: int | None  # None: a balance; else the months of the flow span compared
    file_a: str
    value_a: Decimal
    page_a: int
    file_b: str
    value_b: Decimal
    page_b: int

    @property
    def text(self) -> str:
        d = ITEMS[self.item]
        span = f"（{self.months} 個月 months）" if self.months else ""
        return (
            f"跨報告不一致 {d.zh}（{self.end.isoformat()}{span}）：{self.file_a} 第 {self.page_a} "
            f"頁 {self.value_a:,.0f} 元，{self.file_b} 第 {self.page_b} 頁 {self.value_b:,.0f} "
            f"元，差 {self.value_a - self.value_b:,.0f} 元；兩者皆不採用 / cross-report "
            f"disagreement, {d.en} at {self.end.isoformat()}: {self.file_a} p.{self.page_a} "
            f"{self.value_a:,.0f} vs {self.file_b} p.{self.page_b} {self.value_b:,.0f}; "
            "neither is used"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "end": self.end.isoformat(),
            "months": self.months,
            "reports": [
                {"file": self.file_a, "value": _num(self.value_a), "page": self.page_a},
                {"file": self.file_b, "value": _num(self.value_b), "page": self.page_b},
            ],
            "difference": _num(self.value_a - self.value_b),
            "text": self.text,
        }


@dataclass
class CrossCheck:
    """What comparing a set of loaded reports found."""

    files: list[str]
    pairs: list[tuple[str, str]] = field(default_factory=list)  # pairs compared
    compared: int = 0  # figures compared
    agreed: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)  # pairs left out, and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "pairs": [list(p) for p in self.pairs],
            "compared": self.compared,
            "agreed": self.agreed,
            "disagreements": [d.to_dict() for d in self.disagreements],
            "not_compared": self.not_compared,
        }


def _num(v: Decimal) -> int | float:
    return int(v) if v == v.to_integral_value() else float(v)


def basis(x: Extraction) -> str:
    """Consolidated or parent-only, from the statements' titles."""
    titles = "".join(s.title for s in x.statements.values())
    return PARENT_ONLY if "個體" in titles or (titles and "合併" not in titles) else CONSOLIDATED


def company_key(x: Extraction) -> str | None:
    """The company's name without what a consolidated report adds (「及子公司」) or the
    spacing and 臺/台 variants of the text layer; None when the report names no company."""
    if not x.company:
        return None
    name = "".join(x.company.split()).replace("臺", "台")
    name = re.sub(r"(?:及|暨)(?:其)?(?:各)?子公司$", "", name)
    return name or None


def _tolerance(a: Extraction, b: Extraction, statement: str) -> Decimal:
    """Half a unit of rounding each side: a figure printed in 仟元 in one report may be
    printed in 元 in the other."""
    units = [x.statements[statement].multiplier for x in (a, b) if statement in x.statements]
    return Decimal(max(units, default=1))


def _flag(flags: dict[int, str], period: int, why: str) -> None:
    """Add a reason not to use a figure, keeping any earlier one (an arithmetic check's)."""
    flags[period] = f"{flags[period]}; {why}" if period in flags else why


def _compare(a: Extraction, b: Extraction, out: CrossCheck) -> None:
    for name in sorted(set(a.items) & set(b.items)):
        ia, ib = a.items[name], b.items[name]
        if ia.per_share or ib.per_share:
            continue  # EPS is restated for stock dividends; not a figure to reconcile
        balance = ia.statement == BALANCE_SHEET
        tol = _tolerance(a, b, ia.statement)
        for i, end in enumerate(a.periods):
            for j, other in enumerate(b.periods):
                if end != other:
                    continue
                months = None if balance else a.period_months[i]
                if not balance and (months is None or months != b.period_months[j]):
                    continue  # different spans ending on one day: not the same figure
                va, vb = ia.values[i], ib.values[j]
                if va is None or vb is None:
                    continue
                out.compared += 1
                if abs(va - vb) <= tol:
                    out.agreed += 1
                    continue
                d = Disagreement(name, end, months, a.file, va, ia.page, b.file, vb, ib.page)
                out.disagreements.append(d)
                _flag(ia.flags, i, f"cross_report: {d.text}")
                _flag(ib.flags, j, f"cross_report: {d.text}")
                a.warnings.append(d.text)
                b.warnings.append(d.text)


def cross_check(reports: list[Extraction]) -> CrossCheck:
    """Compare every pair of ``reports`` of one company on one basis; disagreeing figures are
    flagged in both extractions (in place) and returned. Pairs of different companies or
    bases are listed in ``not_compared`` with the reason."""
    out = CrossCheck([x.file for x in reports])
    for a, b in combinations(reports, 2):
        ka, kb = company_key(a), company_key(b)
        why = None
        if ka is None or kb is None:
            why = "報告未載公司名稱 / a report names no company"
        elif ka != kb:
            why = f"不同公司 / different companies ({ka}; {kb})"
        elif basis(a) != basis(b):
            why = (
                f"{_BASIS_ZH[basis(a)]}與{_BASIS_ZH[basis(b)]}報表數字本即不同 / consolidated "
                "and parent-only figures differ by design"
            )
        if why is not None:
            out.not_compared.append(f"{a.file} ↔ {b.file}：{why}")
            continue
        out.pairs.append((a.file, b.file))
        _compare(a, b, out)
    return out
