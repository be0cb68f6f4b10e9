"""Extract the balance sheet, the statement of comprehensive income and the cash flow statement
from a Traditional Chinese IFRS report as filed on MOPS, mapped onto the schema in ``schema``.

Periods. Every column a statement prints is kept, aligned by its end date, current first:
an annual report gives [this year-end, last year-end]; a quarterly one gives the balance sheet's
[quarter end, prior year-end, prior-year same quarter end]. Income-statement and cash-flow
values at a period are the year-to-date figures ending on that day (a quarterly income
statement also prints the quarter alone: those go to ``quarter_values``). Year-to-date is used
because the cash flow statement only has year-to-date columns, so every flow figure at one
period covers the same months (``period_months``); ratios annualise with it. A period a
statement does not cover (the prior year-end in a quarterly income statement) is None.

Values are in NT$ with the unit applied (仟元 × 1000), signed as printed (parentheses are
negative: 營業成本 is usually printed negative, and in the cash flow statement so is capex);
per-share figures stay NT$ per share. Each item keeps the page it was read from (1-based), the
label as printed and its account code.

A report that cannot be read raises a ``pdftext.StatementError`` subclass saying which:
not a PDF, encrypted, no text layer (scanned), or statements not found. Figures that cannot
be placed in a column with certainty are left out (None), never guessed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.credit.pdftext import NoTextLayer, PdfText, StatementsNotFound
from assistant.credit.schema import (
    BALANCE_SHEET,
    CASH_FLOW,
    INCOME_STATEMENT,
    ITEMS,
    ITEMS_LIST,
    STATEMENT_KINDS,
    STATEMENT_ZH,
    TITLES,
    ItemDef,
    normalise_label,
)

UNITS: dict[str, int] = {"百萬元": 1_000_000, "萬元": 10_000, "仟元": 1000, "千元": 1000, "元": 1}
# A statement runs over at most this many pages (the longest seen: 4 for a cash flow statement).
MAX_STATEMENT_PAGES = 6

_CODE = re.compile(r"^(?:\d{4}|\d{3}X|\d{2}XX|\dXXX|\dXXXX|[A-H]\d{5}|[A-H]{4})$")
_NUMBER = r"[\d,]*\d(?:\.\d+)?"
# A figure at the end of a line. No alternative may begin with whitespace: the token must
# start right after the whitespace that separates it from the label or the previous figure.
_VALUE_END = re.compile(
    r"(?:\(\s*(?:\$\s*)?[-−]?" + _NUMBER + r"\s*\)"  # (1,234) ( $ 1,234 )
    # A minus sign only when it touches the digits: "932,733  -  577,330" is three figures.
    r"|(?:\$\s*)?[-−]?"
    + _NUMBER  # $ 1,234  1,234  -1,234  5.21
    + r"|(?:\$\s*)?[-–—－])"  # a dash for nil, with or without $
    r"\s*$"
)
_CONTINUED = re.compile(r"^[（(]?[接承][次前]頁[）)]?$")
_UNIT = re.compile(r"單位[：:]?(?:新台幣|人民幣|美金|美元)?(百萬元|萬元|仟元|千元|元)")
_YEAR = r"(\d{2,4})年"
_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("span", re.compile(_YEAR + r"(\d{1,2})月(\d{1,2})日至(?:(\d{2,4})年)?(\d{1,2})月(\d{1,2})日")),
    ("months", re.compile(_YEAR + r"(\d{1,2})月至(\d{1,2})月")),
    ("year", re.compile(_YEAR + r"度")),
    ("instant", re.compile(_YEAR + r"(\d{1,2})月(\d{1,2})日")),
    ("dotted", re.compile(r"(?<![\d.])(\d{2,4})\.(\d{1,2})\.(\d{1,2})(?![\d.])")),
)
_START_ONLY = re.compile(_YEAR + r"(\d{1,2})月(\d{1,2})日")
_END_ONLY = re.compile(r"至(\d{1,2})月(\d{1,2})日")


@dataclass(frozen=True)
class Column:
    """One value column of a statement: an instant (``start`` None) or a span of months."""

    end: date
    start: date | None = None
    printed: str = ""

    @property
    def months(self) -> int | None:
        if self.start is None:
            return None
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1


@dataclass
class StatementInfo:
    kind: str
    title: str
    pages: list[int]
    unit: str
    multiplier: int
    columns: list[Column]
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "pages": self.pages,
            "unit": self.unit,
            "multiplier": self.multiplier,
            "columns": [
                {
                    "start": c.start.isoformat() if c.start else None,
                    "end": c.end.isoformat(),
                    "months": c.months,
                    "printed": c.printed,
                }
                for c in self.columns
            ],
            "rows": self.rows,
        }


@dataclass
class LineItem:
    """A schema item as read: one value per period of the extraction (None: not shown)."""

    name: str
    statement: str
    values: list[Decimal | None]
    page: int
    label: str
    code: str | None
    per_share: bool = False
    quarter_values: list[Decimal | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = ITEMS[self.name]
        out: dict[str, Any] = {
            "values": [_num(v) for v in self.values],
            "page": self.page,
            "statement": self.statement,
            "label": self.label,
            "code": self.code,
            "zh": d.zh,
            "en": d.en,
            "unit": "NT$ per share" if self.per_share else "NT$",
        }
        if self.quarter_values is not None:
            out["quarter_values"] = [_num(v) for v in self.quarter_values]
        return out


@dataclass
class Check:
    """An arithmetic identity the statements must satisfy, per period."""

    name: str
    description: str
    ok: list[bool | None]
    differences: list[Decimal | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "ok": self.ok,
            "differences": [_num(v) for v in self.differences],
        }


@dataclass
class Extraction:
    file: str
    company: str | None
    periods: list[date]
    period_months: list[int | None]
    items: dict[str, LineItem]
    statements: dict[str, StatementInfo]
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pages_read: int = 0
    page_count: int = 0
    seconds: float = 0.0

    @property
    def missing(self) -> list[str]:
        return [d.name for d in ITEMS_LIST if d.name not in self.items]

    def value(self, name: str, period: int = 0) -> Decimal | None:
        item = self.items.get(name)
        return item.values[period] if item is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "company": self.company,
            "periods": [p.isoformat() for p in self.periods],
            "period_months": self.period_months,
            "values_note": (
                "金額為新台幣元（已乘上單位），每股盈餘為每股新台幣元；損益及現金流量為截至該日之"
                "年初至今累計數 / amounts in NT$ with the unit applied, EPS in NT$ per share; "
                "income and cash-flow figures are year to date up to each period end"
            ),
            "items": {name: item.to_dict() for name, item in self.items.items()},
            "missing": self.missing,
            "statements": {k: s.to_dict() for k, s in self.statements.items()},
            "checks": [c.to_dict() for c in self.checks],
            "warnings": self.warnings,
            "pages_read": self.pages_read,
            "page_count": self.page_count,
            "seconds": round(self.seconds, 3),
        }


def _num(v: Decimal | None) -> int | float | None:
    if v is None:
        return None
    return int(v) if v == v.to_integral_value() else float(v)


# ---------------------------------------------------------------------------------------------
# Finding the statements


def _squash(text: str) -> str:
    return "".join(text.split()).replace("臺", "台")


def _title_of(lines: list[str]) -> tuple[str, str] | None:
    """(kind, title) when one of the first lines is a statement title, else None.

    The title must be a line of its own (or follow the company name on the same line), so the
    table of contents and the auditor's report, which name the statements in running text, do
    not count; the caller also requires a unit line.
    """
    for line in lines[:12]:
        s = _squash(line)
        s = re.sub(r"[（(]續[）)]$", "", s)
        for kind in STATEMENT_KINDS:
            for title in TITLES[kind]:
                if s == title or (s.endswith(title) and "公司" in s and len(s) < 40):
                    return kind, title
    return None


def _is_continuation(lines: list[str], title: str) -> bool:
    head = [_squash(x) for x in lines[:8]]
    return any("承前頁" in s or re.sub(r"[（(]續[）)]$", "", s).endswith(title) for s in head)


@dataclass
class _Found:
    kind: str
    title: str
    pages: list[tuple[int, list[str]]]  # (0-based page, lines)


def _find(pdf: PdfText) -> dict[str, _Found]:
    found: dict[str, _Found] = {}
    current: _Found | None = None
    for index, text in pdf.pages():
        lines = text.splitlines()
        if current is not None:
            title = _title_of(lines)
            fresh = title is not None and title[0] != current.kind
            if (
                not fresh
                and len(current.pages) < MAX_STATEMENT_PAGES
                and _is_continuation(lines, current.title)
            ):
                current.pages.append((index, lines))
                continue
            current = None
        title = _title_of(lines)
        if title is not None and title[0] not in found and "單位" in _squash(text):
            current = _Found(title[0], title[1], [(index, lines)])
            found[title[0]] = current
        elif len(found) == len(STATEMENT_KINDS):
            break  # all three read to their last page: the notes need not be read
    return found


# ---------------------------------------------------------------------------------------------
# Columns, unit and rows


def _year(text: str) -> int:
    y = int(text)
    return y + 1911 if y < 1911 else y  # 民國 113 → 2024


def _month_end(year: int, month: int) -> date:
    from calendar import monthrange

    return date(year, month, monthrange(year, month)[1])


def _dates_in(squashed: str) -> list[Column]:
    """Every date expression in a header line, left to right."""
    hits: list[tuple[int, int, Column]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(squashed):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            g = m.groups()
            try:
                if kind == "span":
                    y0 = _year(g[0])
                    y1 = _year(g[3]) if g[3] else y0
                    col = Column(date(y1, int(g[4]), int(g[5])), date(y0, int(g[1]), int(g[2])))
                elif kind == "months":
                    y = _year(g[0])
                    col = Column(_month_end(y, int(g[2])), date(y, int(g[1]), 1))
                elif kind == "year":
                    y = _year(g[0])
                    col = Column(date(y, 12, 31), date(y, 1, 1))
                else:
                    col = Column(date(_year(g[0]), int(g[1]), int(g[2])))
            except ValueError:
                continue
            col = Column(col.end, col.start, m.group())
            hits.append((m.start(), m.end(), col))
            taken.append((m.start(), m.end()))
    return [c for _, _, c in sorted(hits, key=lambda h: h[0])]


def _columns(lines: list[str]) -> list[Column]:
    """The value columns, from the column header under the title (not the 民國…及… subtitle)."""
    squashed = [_squash(x) for x in lines[:40]]
    for i, s in enumerate(squashed):
        if not s or "及" in s or "與" in s or "單位" in s:
            continue
        label, figures = _split_values(lines[i])
        if figures and label.strip() and not _dates_in(s):
            break  # the first row of figures: the header is above it (not a "- 8 -" folio)
        starts = _START_ONLY.findall(s)
        ends = _END_ONLY.findall(squashed[i + 1]) if i + 1 < len(squashed) else []
        if len(starts) >= 2 and "至" not in s and len(ends) == len(starts):
            # A header split over two lines: 「113年4月1日 … 」 above 「至6月30日 …」.
            cols = []
            for (y, m, d), (m1, d1) in zip(starts, ends, strict=True):
                yy = _year(y)
                cols.append(
                    Column(date(yy, int(m1), int(d1)), date(yy, int(m), int(d)), f"{y}年{m}月{d}日")
                )
            return cols
        cols = _dates_in(s)
        if len(cols) >= 2:
            return cols
    return []


def _unit(pages: list[tuple[int, list[str]]]) -> str | None:
    for _, lines in pages:
        m = _UNIT.search(_squash("".join(lines[:20])))
        if m:
            return m.group(1)
    return None


def _split_values(line: str) -> tuple[str, list[str]]:
    """(text before the figures, the figures) of one line; figures are whitespace-separated
    tokens at the end of the line, so digits inside a label (附註6) are never taken."""
    rest = line.rstrip()
    tokens: list[str] = []
    while rest:
        m = _VALUE_END.search(rest)
        if m is None or (m.start() > 0 and not rest[m.start() - 1].isspace()):
            break
        tokens.append(m.group().strip())
        rest = rest[: m.start()].rstrip()
    tokens.reverse()
    return rest, tokens


def _parse_number(token: str) -> Decimal:
    negative = token.startswith("(") or "-" in token.replace("--", "") or "−" in token
    digits = re.sub(r"[^\d.]", "", token)
    if not digits:
        return Decimal(0)  # a dash: nil
    value = Decimal(digits)
    return -value if negative else value


@dataclass
class _Row:
    parts: list[str]  # label lines as printed
    code: str | None
    tokens: list[str]
    page: int  # 1-based
    heading: str  # the nearest line above without figures, normalised


def _rows(pages: list[tuple[int, list[str]]]) -> list[_Row]:
    rows: list[_Row] = []
    pending: list[str] = []
    heading = ""
    for index, lines in pages:
        for line in lines:
            text = line.strip()
            if not text:
                continue
            if _CONTINUED.match(_squash(text)):
                pending = []
                continue
            first, _, body = text.partition(" ")
            code = first if _CODE.match(first) else None
            if code is None:
                body = text
            else:
                pending = []
            label, tokens = _split_values(body)
            if not tokens:
                if label:
                    pending = [*pending[-3:], label]
                    heading = normalise_label(label)
                continue
            parts = [*pending, label] if label else pending
            if parts:
                rows.append(_Row(parts, code, tokens, index + 1, heading))
            pending = []
    return rows


def _amounts(tokens: list[str], n: int, percent: bool) -> list[str] | None:
    """The amount tokens of a row, one per column, or None when the row cannot be placed."""
    if percent and len(tokens) == 2 * n:
        return tokens[0::2]  # amount, %, amount, % …
    if len(tokens) == n:
        return tokens  # no % columns, or % left blank (EPS rows)
    return None


# ---------------------------------------------------------------------------------------------
# Mapping rows onto the schema


@dataclass
class _Parsed:
    found: _Found
    columns: list[Column]
    unit: str
    rows: list[_Row]
    by_label: dict[str, list[tuple[_Row, str]]]  # normalised candidate → (row, printed label)
    by_code: dict[str, list[_Row]]


def _parse(found: _Found) -> _Parsed:
    first_lines = found.pages[0][1]
    columns = _columns(first_lines)
    where = f"{STATEMENT_ZH[found.kind]}（第 {found.pages[0][0] + 1} 頁 page）"
    if not columns:
        raise StatementsNotFound(
            f"{where}找不到期間欄位 / cannot find the period columns of the {found.kind} "
            f"on page {found.pages[0][0] + 1}"
        )
    unit = _unit(found.pages)
    if unit is None:
        raise StatementsNotFound(
            f"{where}找不到金額單位（仟元／元）/ cannot find the unit (仟元, 元) of the "
            f"{found.kind} on page {found.pages[0][0] + 1}"
        )
    rows = _rows(found.pages)
    by_label: dict[str, list[tuple[_Row, str]]] = {}
    by_code: dict[str, list[_Row]] = {}
    for row in rows:
        # Every suffix of the label lines: a heading line caught above a row (流動資產 above
        # 現金及約當現金 in reports without codes) must not hide the row's own label.
        for i in range(len(row.parts)):
            printed = "".join(p.strip() for p in row.parts[i:])
            by_label.setdefault(normalise_label(printed), []).append((row, printed))
        if row.code:
            by_code.setdefault(row.code, []).append(row)
    return _Parsed(found, columns, unit, rows, by_label, by_code)


def _heading_ok(d: ItemDef, row: _Row) -> bool:
    if d.under and not any(w in row.heading for w in d.under):
        return False
    return not any(w in row.heading for w in d.not_under)


def _match(d: ItemDef, parsed: _Parsed) -> tuple[_Row, str] | None:
    n = len(parsed.columns)
    percent = any("％" in x or "%" in x for x in parsed.found.pages[0][1][:40])

    def placeable(row: _Row) -> bool:
        return _amounts(row.tokens, n, percent) is not None

    for label in d.labels:
        for row, printed in parsed.by_label.get(normalise_label(label), []):
            if _heading_ok(d, row) and placeable(row):
                return row, printed
    for code in d.codes:
        for row in parsed.by_code.get(code, []):
            if placeable(row) and (not d.under or _heading_ok(d, row)):
                return row, "".join(p.strip() for p in row.parts)
    return None


def _align(
    columns: list[Column], periods: list[date], flows: bool
) -> tuple[list[int | None], list[int | None]]:
    """For each period: the column holding its value, and (flows) the quarter-only column."""
    main: list[int | None] = []
    quarter: list[int | None] = []
    for p in periods:
        at = [i for i, c in enumerate(columns) if c.end == p]
        if not flows:
            main.append(at[0] if at else None)
            quarter.append(None)
            continue
        # Year to date: the longest span ending on the day; the quarter: a shorter one.
        at.sort(key=lambda i: -(columns[i].months or 0))
        main.append(at[0] if at else None)
        quarter.append(at[1] if len(at) > 1 else None)
    return main, quarter


def extract(path: Path | str) -> Extraction:
    """Read the three statements of the report at ``path``; see the module docstring."""
    started = time.perf_counter()
    pdf = PdfText(path)
    found = _find(pdf)
    name = Path(path).name
    if not found:
        if pdf.text_share() < 0.5:
            raise NoTextLayer(
                f"PDF 沒有文字層（掃描檔），無法讀取數字；請提供 MOPS 下載的電子檔或先做 OCR / "
                f"the PDF has no text layer (a scan): there are no figures to read; supply the "
                f"report as downloaded from MOPS, or OCR it first: {name}"
            )
        raise StatementsNotFound(
            f"找不到合併資產負債表、綜合損益表或現金流量表 / no balance sheet, statement of "
            f"comprehensive income or cash flow statement found in {pdf.page_count} pages: {name}"
        )
    parsed = {kind: _parse(f) for kind, f in found.items()}
    warnings: list[str] = []
    for kind in STATEMENT_KINDS:
        if kind not in parsed:
            warnings.append(f"找不到{STATEMENT_ZH[kind]} / statement not found: {kind}")

    ends = {c.end for p in parsed.values() for c in p.columns}
    periods = sorted(ends, reverse=True)
    flow_months: list[int | None] = []
    for p in periods:
        spans = [
            c.months
            for k in (INCOME_STATEMENT, CASH_FLOW)
            if k in parsed
            for c in parsed[k].columns
            if c.end == p and c.months
        ]
        flow_months.append(max(spans) if spans else None)

    items: dict[str, LineItem] = {}
    for d in ITEMS_LIST:
        for kind in (d.statement, *d.fallback):
            p = parsed.get(kind)
            hit = _match(d, p) if p is not None else None
            if hit is None or p is None:
                continue
            row, printed = hit
            items[d.name] = _item(d, kind, row, printed, p, periods)
            break

    # A quarterly report prints a statement's columns for the same day more than once only in
    # the income statement; anything else unplaced is reported, not guessed.
    unplaced = [
        normalise_label("".join(r.parts))
        for p in parsed.values()
        for r in p.rows
        if _amounts(r.tokens, len(p.columns), True) is None
        and _amounts(r.tokens, len(p.columns), False) is None
    ]
    if unplaced:
        warnings.append(
            f"{len(unplaced)} 列數字欄數不符，未採用 / rows whose figures do not fit the columns "
            f"were left out: {', '.join(x for x in unplaced[:5] if x)}"
        )
    if BALANCE_SHEET in parsed and "total_assets" not in items:
        raise StatementsNotFound(
            f"資產負債表（第 {parsed[BALANCE_SHEET].found.pages[0][0] + 1} 頁）讀不到資產總計 / "
            f"found the balance sheet but could not read its total assets: {name}"
        )
    result = Extraction(
        file=name,
        company=_company(found),
        periods=periods,
        period_months=flow_months,
        items=items,
        statements={
            k: StatementInfo(
                kind=k,
                title=p.found.title,
                pages=[i + 1 for i, _ in p.found.pages],
                unit=p.unit,
                multiplier=UNITS[p.unit],
                columns=p.columns,
                rows=len(p.rows),
            )
            for k, p in parsed.items()
        },
        warnings=warnings,
        pages_read=pdf.pages_read,
        page_count=pdf.page_count,
    )
    result.checks = _checks(result)
    for c in result.checks:
        if any(ok is False for ok in c.ok):
            result.warnings.append(f"勾稽不符 / check failed: {c.description}")
    result.seconds = time.perf_counter() - started
    return result


def _item(
    d: ItemDef, kind: str, row: _Row, printed: str, p: _Parsed, periods: list[date]
) -> LineItem:
    n = len(p.columns)
    percent = any("％" in x or "%" in x for x in p.found.pages[0][1][:40])
    tokens = _amounts(row.tokens, n, percent) or []
    scale = Decimal(1) if d.per_share else Decimal(UNITS[p.unit])
    numbers = [_parse_number(t) * scale for t in tokens]
    main, quarter = _align(p.columns, periods, flows=kind != BALANCE_SHEET)
    values = [numbers[i] if i is not None else None for i in main]
    quarters = [numbers[i] if i is not None else None for i in quarter]
    return LineItem(
        name=d.name,
        statement=kind,
        values=values,
        page=row.page,
        label=printed,
        code=row.code,
        per_share=d.per_share,
        quarter_values=quarters if any(q is not None for q in quarters) else None,
    )


def _company(found: dict[str, _Found]) -> str | None:
    for f in found.values():
        for line in f.pages[0][1][:6]:
            s = _squash(line)
            if "公司" in s and not any(t in s for ts in TITLES.values() for t in ts):
                return s
    return None


def _checks(x: Extraction) -> list[Check]:
    tolerance = Decimal(
        max((s.multiplier for s in x.statements.values() if s.kind == BALANCE_SHEET), default=1)
    )
    specs = (
        (
            "assets_balance",
            "資產總計 = 負債總計 + 權益總計 / total assets = total liabilities + total equity",
            "total_assets",
            ("total_liabilities", "total_equity"),
        ),
        (
            "liabilities_and_equity",
            "資產總計 = 負債及權益總計 / total assets = total liabilities and equity",
            "total_assets",
            ("total_liabilities_and_equity",),
        ),
        (
            "assets_split",
            "資產總計 = 流動資產 + 非流動資產 / total assets = current + non-current assets",
            "total_assets",
            ("current_assets", "non_current_assets"),
        ),
        (
            "liabilities_split",
            "負債總計 = 流動負債 + 非流動負債 / total liabilities = current "
            "+ non-current liabilities",
            "total_liabilities",
            ("current_liabilities", "non_current_liabilities"),
        ),
    )
    out: list[Check] = []
    for name, description, total, parts in specs:
        if total not in x.items or any(p not in x.items for p in parts):
            continue
        oks: list[bool | None] = []
        diffs: list[Decimal | None] = []
        for i in range(len(x.periods)):
            t = x.items[total].values[i]
            vs = [x.items[p].values[i] for p in parts]
            if t is None or any(v is None for v in vs):
                oks.append(None)
                diffs.append(None)
                continue
            diff = t - sum(v for v in vs if v is not None)
            oks.append(abs(diff) <= tolerance)
            diffs.append(diff)
        out.append(Check(name, description, oks, diffs))
    return out
