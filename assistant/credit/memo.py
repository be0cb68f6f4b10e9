"""The 5P credit memo (徵信報告草稿): 借款戶 People, 資金用途 Purpose, 還款來源 Payment,
債權保障 Protection, 授信展望 Perspective.

``compose`` turns an extraction, its ratios, the analyst's facility facts and the applicable
lending rules into a neutral ``memo_doc.Document``; ``memo_docx`` prints it. Every figure is
computed here or in ``ratios`` and printed with the page it was read from; nothing is written
by a model. Figures are formatted once, here, at the precision ``ratios`` rounds them to, so a
value in the memo reads back equal to ``ratios.compute``'s.

Flags are facts stated with their thresholds ("流動比率 0.85 倍 < 1.00 倍"), not judgements;
the thresholds are constants in ``Thresholds`` that a bank sets to its own credit policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from assistant.credit.memo_doc import Citation, Document, Section, Table
from assistant.credit.ratios import GROUPS, Ratio, RatioReport
from assistant.credit.rules import FACILITY_TYPES, TERM_ZH, AppliedRule, Facility
from assistant.credit.schema import BALANCE_SHEET, ITEMS, STATEMENT_ZH
from assistant.credit.statements import Extraction

SECTION_HEADINGS: tuple[str, ...] = (
    "借款戶 People",
    "資金用途 Purpose",
    "還款來源 Payment",
    "債權保障 Protection",
    "授信展望 Perspective",
)
PAYMENT_GROUPS = ("liquidity", "leverage", "coverage", "cash_flow")
PERSPECTIVE_GROUPS = ("profitability", "efficiency", "growth")
KEY_ITEMS: tuple[str, ...] = (
    "cash",
    "current_assets",
    "total_assets",
    "short_term_borrowings",
    "short_term_notes_payable",
    "current_portion_long_term_debt",
    "long_term_borrowings",
    "bonds_payable",
    "current_liabilities",
    "total_liabilities",
    "total_equity",
    "revenue",
    "operating_income",
    "interest_expense",
    "net_income",
    "eps",
    "operating_cash_flow",
    "capex",
)
BORROWING_ITEMS: tuple[str, ...] = (
    "short_term_borrowings",
    "short_term_notes_payable",
    "current_portion_long_term_debt",
    "long_term_borrowings",
    "bonds_payable",
)
UNIT_ZH = {"times": "倍", "percent": "%", "days": "天", "amount": "元"}
# decimals per kind: what ``ratios._round`` keeps, so the printed value is the computed one
DECIMALS = {"times": 4, "percent": 2, "days": 2, "amount": 0}
NOT_IN_KB = "知識庫未收錄此條文 / not in the knowledge base"
ESTIMATE = "計算估計值 computed estimate"


@dataclass(frozen=True)
class Thresholds:
    """Where a figure becomes a flag; a bank sets these to its own credit policy."""

    current_ratio_min: float = 1.0  # 倍: below it current liabilities exceed current assets
    debt_ratio_max: float = 70.0  # %: above it creditors fund more than 70% of assets
    interest_coverage_min: float = 2.0  # 倍: below it EBIT covers interest less than twice
    operating_cash_flow_min: float = 0.0  # 元: below it operations consume cash
    debt_service_min: float = 1.0  # 倍: estimated OCF ÷ annual principal of this facility

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Flag:
    id: str
    text: str  # the fact and its threshold, Chinese first

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "text": self.text}


@dataclass
class Memo:
    document: Document
    flags: list[Flag] = field(default_factory=list)
    debt_service: dict[str, Any] | None = None


def fmt_value(v: float | None, kind: str) -> str:
    """A ratio value as the memo prints it (no unit: the table has a unit column)."""
    if v is None:
        return "—"
    return f"{v:,.{DECIMALS[kind]}f}"


def fmt_amount(v: Decimal | float | None, per_share: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:,.2f}" if per_share else f"{v:,.0f}"


def _pages(r: Ratio) -> str:
    pages = sorted({s["page"] for s in r.sources.values()})
    return ", ".join(str(p) for p in pages) if pages else "—"


def _basis_note(r: Ratio) -> str:
    """What the formula column adds about the ratio's period basis: the current period's
    (「年初至今 6 個月，年化 × 12 ÷ 6」), or that it is annualised when the basis is unknown."""
    b = r.basis[0] if r.basis else None
    if b:
        return f"（{b}）"
    return "（年化 annualised）" if r.annualised else ""


def _ratio_table(report: RatioReport, group: str) -> Table:
    rows = [
        [
            f"{r.zh} {r.en}",
            UNIT_ZH[r.kind],
            *(fmt_value(v, r.kind) for v in r.values),
            f"{r.formula_zh} / {r.formula_en}{_basis_note(r)}",
            _pages(r),
        ]
        for r in report.ratios
        if r.group == group
    ]
    return Table(
        ["比率 ratio", "單位 unit", *_labels(report), "公式 formula", "頁次 pages"],
        rows,
        caption=GROUPS[group],
    )


def _labels(report: RatioReport) -> list[str]:
    return report.period_labels or report.periods


def _ocr_note(x: Extraction, kind: str) -> str:
    """Said beside a statement read by OCR from scanned pages: its figures are machine-read."""
    status = x.status.get(kind)
    return "（掃描頁 OCR 讀取 / read by OCR from scanned pages）" if status and status.ocr else ""


def _missing_reasons(report: RatioReport, groups: tuple[str, ...]) -> list[str]:
    out = []
    for r in report.ratios:
        if r.group not in groups:
            continue
        for period, v, why in zip(_labels(report), r.values, r.reasons, strict=True):
            if v is None and why and r.group != "growth":
                out.append(f"{r.zh}（{period}）無法計算 / not computed: {why}")
    return out


def _key_figures(x: Extraction, periods: list[str]) -> list[Table]:
    """The key balances at each balance-sheet date, and the key flows over each span the report
    prints: the year to date and, in a quarterly report, the quarter alone."""
    info = x.period_info
    balance_rows, flow_rows = [], []
    # Flow columns: (header, period index, quarter?) — the quarters first, as the reports
    # print them, then the year-to-date spans.
    spans: list[tuple[str, int, bool]] = []
    for quarter in (True, False):
        for i, p in enumerate(info):
            label = p.quarter_label if quarter else p.ytd_label
            if label:
                spans.append((f"{p.role_zh} {p.role_en}：{label}", i, quarter))
    if not info:  # an extraction made before periods were described: end dates only
        spans = [(period, i, False) for i, period in enumerate(periods)]
    for name in KEY_ITEMS:
        item = x.items.get(name)
        if item is None:
            continue
        d = ITEMS[name]
        head = [f"{d.zh} {d.en}", STATEMENT_ZH[item.statement].split()[0], str(item.page)]
        if item.statement == BALANCE_SHEET:
            balance_rows.append([*head, *(fmt_amount(v, item.per_share) for v in item.values)])
            continue
        cells = []
        for _, i, quarter in spans:
            values = item.quarter_values if quarter else item.values
            cells.append(fmt_amount(values[i] if values else None, item.per_share))
        flow_rows.append([*head, *cells])
    header = ["項目 item", "報表 statement", "頁次 page"]
    labels = [p.label for p in info] or periods
    return [
        Table(
            [*header, *labels],
            balance_rows,
            caption="主要資產負債數字（各資產負債表日，新臺幣元）/ key balances at each "
            "balance-sheet date (NT$)",
        ),
        Table(
            [*header, *(h for h, _, _ in spans)],
            flow_rows,
            caption="主要損益及現金流量數字（各期間，新臺幣元；每股盈餘為元／股）/ key income and "
            "cash-flow figures over each period (NT$; EPS per share)",
        ),
    ]


def _periods_table(x: Extraction) -> Table:
    """What each column of the memo is: its balance-sheet date and the spans of its flows."""
    return Table(
        [
            "欄位 column",
            "資產負債表日 balance-sheet date",
            "損益及現金流量 income and cash flows",
            "單季 quarter alone",
        ],
        [
            [
                f"{p.role_zh} {p.role_en}",
                p.end.isoformat(),
                p.ytd_label or "本報告未列示 / not in this report",
                p.quarter_label or "—",
            ]
            for p in x.period_info
        ],
        caption="期間說明 / the periods",
    )


def _interim_paragraph(x: Extraction) -> str | None:
    if not x.interim or not x.period_info:
        return None
    p = x.period_info[0]
    m = x.period_months[0]
    q = f"；單季 quarter alone：{p.quarter_label}" if p.quarter_label else ""
    return (
        f"本報告為期中報告（截至 {p.end.isoformat()}）：損益及現金流量為 "
        f"{p.ytd_label}{q}。以損益或現金流量除以餘額之比率（資產報酬率、權益報酬率、週轉率、"
        f"週轉天數、營業現金流量對流動負債比率）以年初至今數字年化（× 12 ÷ {m}），為推估；"
        f"毛利率、利益率、利息保障倍數分子分母同期間，不需年化。/ An interim report (to "
        f"{p.end.isoformat()}): income and cash-flow figures are year to date; ratios that set "
        f"a flow against a balance (ROA, ROE, turnovers, days, operating cash flow to current "
        f"liabilities) are annualised from the year-to-date figures (× 12 ÷ {m}), an "
        "extrapolation; margins and interest coverage set flows of the same months against each "
        "other and are not annualised."
    )


def _figure(x: Extraction, name: str, period: int = 0) -> tuple[Decimal, int] | None:
    item = x.items.get(name)
    if item is None or item.values[period] is None:
        return None
    return item.values[period], item.page  # type: ignore[return-value]


def _borrowings(x: Extraction) -> tuple[Decimal, list[int]] | None:
    parts = [(n, _figure(x, n)) for n in BORROWING_ITEMS]
    found = [(n, f) for n, f in parts if f is not None]
    if not found:
        return None
    return sum((f[0] for _, f in found), Decimal(0)), sorted({f[1] for _, f in found})


def _annual(value: Decimal, months: int | None) -> Decimal | None:
    return None if not months else value * 12 / months


def _debt_service(x: Extraction, facility: Facility) -> dict[str, Any] | None:
    """Annual principal of this facility against annualised operating cash flow: equal
    principal over the tenor, interest left out (no rate is entered), so it is an estimate."""
    if facility.amount is None or facility.tenor_months is None:
        return None
    ocf = _figure(x, "operating_cash_flow")
    annual_principal = facility.amount * 12 / facility.tenor_months
    out: dict[str, Any] = {
        "amount": str(facility.amount),
        "tenor_months": facility.tenor_months,
        "annual_principal": float(round(annual_principal, 0)),
        "operating_cash_flow_annualised": None,
        "coverage": None,
        "page": None,
    }
    if ocf is not None:
        annual_ocf = _annual(ocf[0], x.period_months[0])
        if annual_ocf is not None:
            out["operating_cash_flow_annualised"] = float(round(annual_ocf, 0))
            out["coverage"] = float(round(annual_ocf / annual_principal, 2))
            out["page"] = ocf[1]
    return out


def financial_flags(
    x: Extraction, report: RatioReport, t: Thresholds, debt_service: dict[str, Any] | None
) -> list[Flag]:
    """Thresholds crossed in the current period, each stated with its figure and page."""
    flags = []
    period = _labels(report)[0] if report.periods else "—"

    def ratio(name: str) -> tuple[float | None, str]:
        r = report.get(name)
        return r.values[0] if r.values else None, _pages(r)

    v, pages = ratio("current_ratio")
    if v is not None and v < t.current_ratio_min:
        flags.append(
            Flag(
                "current_ratio",
                (
                    f"流動比率 {v:.2f} 倍 < 門檻 {t.current_ratio_min:.2f} 倍（{period}，第 {pages} 頁）"
                    f" / current ratio below {t.current_ratio_min:.2f}x"
                ),
            )
        )
    v, pages = ratio("debt_ratio")
    if v is not None and v > t.debt_ratio_max:
        flags.append(
            Flag(
                "debt_ratio",
                (
                    f"負債比率 {v:.2f}% > 門檻 {t.debt_ratio_max:.2f}%（{period}，第 {pages} 頁）"
                    f" / debt ratio above {t.debt_ratio_max:.2f}%"
                ),
            )
        )
    v, pages = ratio("interest_coverage")
    if v is not None and v < t.interest_coverage_min:
        flags.append(
            Flag(
                "interest_coverage",
                (
                    f"利息保障倍數 {v:.2f} 倍 < 門檻 {t.interest_coverage_min:.2f} 倍（{period}，第 {pages}"
                    f" 頁） / interest coverage below {t.interest_coverage_min:.2f}x"
                ),
            )
        )
    ocf = _figure(x, "operating_cash_flow")
    if ocf is not None and ocf[0] < t.operating_cash_flow_min:
        flags.append(
            Flag(
                "operating_cash_flow",
                (
                    f"營業活動淨現金流量 {fmt_amount(ocf[0])} 元 < 門檻 "
                    f"{fmt_amount(t.operating_cash_flow_min)} 元（{period}，第 {ocf[1]} 頁） / negative "
                    "operating cash flow"
                ),
            )
        )
    if debt_service and debt_service["coverage"] is not None:
        c = debt_service["coverage"]
        if c < t.debt_service_min:
            flags.append(
                Flag(
                    "debt_service",
                    (
                        f"{ESTIMATE}：年化營業現金流量 ÷ 本案每年平均還本 = {c:.2f} 倍 < 門檻 "
                        f"{t.debt_service_min:.2f} 倍 / estimated debt-service cover below "
                        f"{t.debt_service_min:.2f}x"
                    ),
                )
            )
    return flags


def _people(x: Extraction, report: RatioReport, facility: Facility) -> Section:
    s = Section(SECTION_HEADINGS[0])
    company = x.company or "（報表未載公司名稱 / company name not found）"
    periods = "、".join(_labels(report))
    s.paragraphs.append(
        f"借款戶 borrower：{company}。財務資料取自 {x.file}，期間 periods：{periods}。"
    )
    interim = _interim_paragraph(x)
    if interim:
        s.paragraphs.append(interim)
    s.paragraphs.append(
        "本行利害關係人 related party of the bank："
        + (
            "是 yes（授信人員申報 declared by the analyst）"
            if facility.related_party
            else "否 no（授信人員申報 declared by the analyst）"
        )
    )
    s.tables.append(
        Table(
            ["報表 statement", "頁次 pages", "單位 unit"],
            [
                [info.title, ", ".join(map(str, info.pages)) + _ocr_note(x, kind), info.unit]
                for kind, info in x.statements.items()
            ],
            caption="財務報表來源 / where the statements are",
        )
    )
    if x.period_info:
        s.tables.append(_periods_table(x))
    s.tables += _key_figures(x, report.periods)
    s.bullets += [f"擷取警告 extraction warning：{w}" for w in x.warnings]
    failed = [c for c in x.checks if any(ok is False for ok in c.ok)]
    s.bullets += [f"勾稽不符 check failed：{c.description}" for c in failed]
    return s


def _purpose(facility: Facility) -> Section:
    s = Section(SECTION_HEADINGS[1])
    amount = (
        f"新臺幣 {fmt_amount(facility.amount)} 元 / NT${fmt_amount(facility.amount)}"
        if facility.amount is not None
        else "未提供 / not given"
    )
    tenor = (
        f"{facility.tenor_months} 個月（依銀行法第5條屬{TERM_ZH[facility.term or 'short']}）"
        if facility.tenor_months is not None
        else "未提供 / not given"
    )
    s.tables.append(
        Table(
            ["項目 item", "內容 value"],
            [
                ["授信種類 facility type", FACILITY_TYPES[facility.facility_type]],
                ["申請金額 amount", amount],
                ["資金用途 purpose", facility.purpose or "未提供 / not given"],
                ["期限 tenor", tenor],
            ],
            caption="授信條件（授信人員輸入）/ facility terms (analyst's input)",
        )
    )
    return s


def _payment(
    x: Extraction, report: RatioReport, facility: Facility, ds: dict[str, Any] | None
) -> Section:
    s = Section(SECTION_HEADINGS[2])
    period = _labels(report)[0] if report.periods else "—"
    ytd = x.period_info[0].ytd_label if x.period_info else None
    ocf = _figure(x, "operating_cash_flow")
    debt = _borrowings(x)
    if ocf is not None:
        s.paragraphs.append(
            f"營業活動淨現金流量 operating cash flow（{ytd or f'{period}，年初至今 year to date'}）："
            f"{fmt_amount(ocf[0])} 元（第 {ocf[1]} 頁）。"
        )
    else:
        s.paragraphs.append("報表中找不到營業活動淨現金流量 / operating cash flow not found.")
    if debt is not None:
        pages = ", ".join(map(str, debt[1]))
        line = (
            f"有息負債合計 interest-bearing debt（短期借款、應付短期票券、一年內到期長期負債、"
            f"長期借款、應付公司債）：{fmt_amount(debt[0])} 元（第 {pages} 頁）"
        )
        if ocf is not None and debt[0] > 0:
            annual = _annual(ocf[0], x.period_months[0])
            if annual is not None:
                line += f"；年化營業現金流量 ÷ 有息負債 = {annual / debt[0]:.2f} 倍（{ESTIMATE}）"
        s.paragraphs.append(line + "。")
    cov = report.get("interest_coverage")
    s.paragraphs.append(
        f"利息保障倍數 interest coverage（{ytd or period}）：{fmt_value(cov.values[0], 'times')} 倍"
        f"（{cov.formula_zh}；第 {_pages(cov)} 頁）。"
        if cov.values
        else ""
    )
    if ds is not None:
        rows = [
            ["申請金額 amount", fmt_amount(Decimal(ds["amount"]))],
            ["期限（月）tenor (months)", str(ds["tenor_months"])],
            [
                "每年平均還本 annual principal（金額 × 12 ÷ 期限月數）",
                fmt_amount(ds["annual_principal"]),
            ],
            ["年化營業現金流量 OCF annualised", fmt_amount(ds["operating_cash_flow_annualised"])],
            [
                "還本保障倍數 cover（年化營業現金流量 ÷ 每年平均還本）",
                "—" if ds["coverage"] is None else f"{ds['coverage']:.2f}",
            ],
        ]
        s.tables.append(
            Table(
                ["項目 item", "數值 value"],
                rows,
                caption=(
                    f"償債能力試算（{ESTIMATE}：本金按期平均攤還、不含利息；營業現金流量來源第 "
                    f"{ds['page'] or '—'} 頁）/ debt service: equal principal, interest "
                    "excluded"
                ),
            )
        )
    else:
        s.paragraphs.append(
            "未提供申請金額或期限，未試算償債能力 / no amount or tenor given: no debt-service "
            "estimate."
        )
    s.paragraphs = [p for p in s.paragraphs if p]
    s.tables += [_ratio_table(report, g) for g in PAYMENT_GROUPS]
    s.bullets += _missing_reasons(report, PAYMENT_GROUPS)
    return s


def _protection(facility: Facility, rules: list[AppliedRule]) -> Section:
    s = Section(SECTION_HEADINGS[3])
    s.paragraphs.append(
        "擔保品 collateral：" + (facility.collateral.strip() or "無 none（無擔保授信 unsecured）")
    )
    s.paragraphs.append(
        "保證人 guarantors："
        + ("、".join(facility.guarantors) if facility.guarantors else "無 none")
    )
    if rules:
        s.tables.append(
            Table(
                [
                    "條文 article",
                    "主題 topic",
                    "適用理由 why it applies",
                    "知識庫條文 text (knowledge base)",
                    "修正日期 amended",
                ],
                [
                    [
                        a.rule.label,
                        a.rule.topic,
                        a.reason,
                        a.source.text or NOT_IN_KB,
                        a.source.amended or "—",
                    ]
                    for a in rules
                ],
                caption="適用之授信法規（依授信條件於程式中判定）/ lending rules that apply "
                "(decided in code from the facility facts)",
            )
        )
    missing = [f"{a.rule.law}第{a.rule.article}條" for a in rules if not a.source.found]
    if missing:
        s.paragraphs.append(
            "下列條文未收錄於知識庫，本草稿未引用其條文內容，請授信人員自行查核："
            + "、".join(dict.fromkeys(missing))
            + " / these articles are not in the knowledge base; their text is not quoted"
        )
    s.bullets += [f"法規警示 rule flag：{a.flag}" for a in rules if a.flag]
    seen: set[tuple[str, str]] = set()
    for a in rules:
        key = (a.rule.law, a.rule.article)
        if key in seen or not a.source.found:
            continue
        seen.add(key)
        when = f"（修正日期 amended {a.source.amended}）" if a.source.amended else ""
        s.citations.append(Citation(f"{a.rule.law}第{a.rule.article}條{when}", a.source.url))
    return s


def _change_row(r: Ratio, periods: list[str], labels: list[str]) -> list[list[str]]:
    rows = []
    for c in r.changes:
        rel = "—" if c["relative"] is None else f"{c['relative'] * 100:,.2f}%"
        unit = "百分點 pp" if r.kind == "percent" else UNIT_ZH[r.kind]
        rows.append(
            [
                f"{r.zh} {r.en}",
                fmt_value(r.values[0], r.kind),
                fmt_value(r.values[periods.index(c["against"])], r.kind),
                labels[periods.index(c["against"])],
                f"{c['change']:+,.{DECIMALS[r.kind]}f}",
                unit,
                rel,
            ]
        )
    return rows


def _perspective(x: Extraction, report: RatioReport, flags: list[Flag], t: Thresholds) -> Section:
    s = Section(SECTION_HEADINGS[4])
    rows = [
        row
        for r in report.ratios
        if r.group != "growth"
        for row in _change_row(r, report.periods, _labels(report))
    ]
    if rows:
        s.tables.append(
            Table(
                [
                    "比率 ratio",
                    "本期 current",
                    "比較期 prior",
                    "比較期間 against",
                    "變動 change",
                    "單位 unit",
                    "相對變動 relative",
                ],
                rows,
                caption="期間比較 / period-over-period changes",
            )
        )
    else:
        s.paragraphs.append("報告僅有一期，無期間比較 / one period only: no comparison.")
    s.tables += [_ratio_table(report, g) for g in PERSPECTIVE_GROUPS]
    s.bullets += [f"警示 flag：{f.text}" for f in flags]
    if not flags:
        s.bullets.append(
            f"財務指標未觸及警示門檻 no financial threshold crossed（流動比率 < {t.current_ratio_min:.2f} 倍、"
            f"負債比率 > {t.debt_ratio_max:.2f}%、利息保障倍數 < {t.interest_coverage_min:.2f} 倍、"
            f"營業活動淨現金流量 < {fmt_amount(t.operating_cash_flow_min)} 元、"
            f"還本保障倍數 < {t.debt_service_min:.2f} 倍）"
        )
    s.bullets += [f"附註 note：{n}" for n in report.notes]
    return s


def compose(
    x: Extraction,
    report: RatioReport,
    facility: Facility,
    rules: list[AppliedRule],
    *,
    thresholds: Thresholds | None = None,
    prepared_by: str = "",
    prepared_at: datetime | None = None,
    draft_id: int | None = None,
    file_sha256: str = "",
) -> Memo:
    """The 5P memo; sections in ``SECTION_HEADINGS`` order."""
    t = thresholds or Thresholds()
    ds = _debt_service(x, facility)
    flags = financial_flags(x, report, t, ds)
    rule_flags = [Flag(a.rule.id, a.flag) for a in rules if a.flag]
    company = x.company or x.file
    meta = [("借款戶 borrower", company), ("來源檔案 source", x.file)]
    if file_sha256:
        meta.append(("檔案雜湊 sha256", file_sha256))
    if draft_id is not None:
        meta.append(("草稿編號 draft id", str(draft_id)))
    if prepared_by:
        meta.append(("製作人 prepared by", prepared_by))
    if prepared_at is not None:
        meta.append(("產生時間 generated", prepared_at.isoformat(timespec="seconds")))
    meta.append(("警示 flags", str(len(flags) + len(rule_flags))))
    doc = Document(
        title=f"徵信報告草稿 Credit memo draft：{company}",
        metadata=meta,
        sections=[
            _people(x, report, facility),
            _purpose(facility),
            _payment(x, report, facility, ds),
            _protection(facility, rules),
            _perspective(x, report, flags, t),
        ],
    )
    return Memo(doc, flags + rule_flags, ds)
