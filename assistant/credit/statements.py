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

Statements are read one by one: ``Extraction.status`` says for each whether it was extracted
and balanced, and if not, why; the figures of the others are still returned. A report of which
no statement can be read raises a ``pdftext.StatementError`` subclass saying which: not a PDF,
encrypted, no text layer (scanned, also when only the statement pages are), or statements not
found. Figures that cannot be placed in a column with certainty are left out (None), never
guessed; a figure that fails one of the statement's arithmetic checks is flagged
(``LineItem.flags``) and the ratios refuse it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.credit.pdftext import (
    MIN_PAGE_CHARS,
    NoTextLayer,
    PdfText,
    StatementError,
    StatementsNotFound,
)
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
    # Period index → why the figure is not to be used: it failed an arithmetic check. The value
    # stays as printed (the analyst sees it), but the ratios refuse it.
    flags: dict[int, str] = field(default_factory=dict)

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
        if self.flags:
            out["flags"] = {str(i): why for i, why in sorted(self.flags.items())}
        return out


@dataclass
class Check:
    """An arithmetic identity the statements must satisfy, per period."""

    name: str
    description: str
    ok: list[bool | None]
    differences: list[Decimal | None]
    statement: str = BALANCE_SHEET
    items: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(o is False for o in self.ok)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "statement": self.statement,
            "items": list(self.items),
            "description": self.description,
            "ok": self.ok,
            "differences": [_num(v) for v in self.differences],
        }


@dataclass
class StatementStatus:
    """Whether one statement was read, and if not, why: a report is usable statement by
    statement (a balance sheet is worth having when the cash flow statement is not)."""

    kind: str
    extracted: bool
    reason: str | None = None
    pages: list[int] = field(default_factory=list)
    # True when every arithmetic check of the statement that could be computed holds, False
    # when one fails, None when none could be computed.
    balanced: bool | None = None
    # Read by OCR from scanned pages (see ``ocr``): its figures are as good as its checks.
    ocr: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "extracted": self.extracted,
            "balanced": self.balanced,
            "reason": self.reason,
            "pages": self.pages,
            "ocr": self.ocr,
        }


# What a period column is to the report it is in, said in Chinese and English.
ROLES: dict[str, tuple[str, str]] = {
    "current": ("本期", "current period"),
    "prior_year": ("上年度", "prior year"),
    "prior_year_end": ("上年度期末", "prior year-end"),
    "same_period_prior_year": ("上年同期", "same period of the prior year"),
    "comparative": ("比較期", "comparative period"),
}


@dataclass(frozen=True)
class Period:
    """One period of an extraction: its balance-sheet date, what it is to the report (the
    current period, the prior year-end, the same period a year before), and the spans its flow
    figures cover: ``ytd`` the year to date (the figures ``LineItem.values`` holds), ``quarter``
    the quarter alone where the income statement prints it (``LineItem.quarter_values``)."""

    end: date
    role: str
    ytd: Column | None = None
    quarter: Column | None = None

    @property
    def role_zh(self) -> str:
        return ROLES[self.role][0]

    @property
    def role_en(self) -> str:
        return ROLES[self.role][1]

    @property
    def label(self) -> str:
        """A column header: 「本期 current period 2025-06-30」."""
        return f"{self.role_zh} {self.role_en} {self.end.isoformat()}"

    @property
    def ytd_label(self) -> str | None:
        """「2025-01-01～2025-06-30 年初至今 6 個月 / year to date, 6 months」; a full year
        and a first quarter (whose year to date is the quarter) are named as such."""
        if self.ytd is None or self.ytd.start is None:
            return None
        months = self.ytd.months
        span = f"{self.ytd.start.isoformat()}～{self.ytd.end.isoformat()}"
        if months == 12:
            return f"{span} 全年 12 個月 / full year, 12 months"
        if months == 3 and self.ytd.start.month == 1:
            return f"{span} 第 1 季（即年初至今）3 個月 / Q1 (= year to date), 3 months"
        return f"{span} 年初至今 {months} 個月 / year to date, {months} months"

    @property
    def quarter_label(self) -> str | None:
        """「2025-04-01～2025-06-30 第 2 季 3 個月 / Q2, 3 months」."""
        if self.quarter is None or self.quarter.start is None:
            return None
        q = (self.quarter.end.month - 1) // 3 + 1
        span = f"{self.quarter.start.isoformat()}～{self.quarter.end.isoformat()}"
        return f"{span} 第 {q} 季 {self.quarter.months} 個月 / Q{q}, {self.quarter.months} months"

    def to_dict(self) -> dict[str, Any]:
        def span(c: Column | None) -> dict[str, Any] | None:
            if c is None or c.start is None:
                return None
            return {"start": c.start.isoformat(), "end": c.end.isoformat(), "months": c.months}

        return {
            "end": self.end.isoformat(),
            "role": self.role,
            "label": self.label,
            "year_to_date": span(self.ytd),
            "year_to_date_label": self.ytd_label,
            "quarter": span(self.quarter),
            "quarter_label": self.quarter_label,
        }


def _role(end: date, current: date, current_months: int | None, index: int) -> str:
    """What the period ending on ``end`` is to a report whose current period ends on
    ``current`` and whose flows cover ``current_months`` (None: no flow statement read)."""
    if index == 0:
        return "current"
    annual = current_months == 12 or (current_months is None and current.month == 12)
    if (end.year, end.month) == (current.year - 1, current.month):
        return "prior_year" if annual else "same_period_prior_year"
    if (end.year, end.month, end.day) == (current.year - 1, 12, 31):
        return "prior_year_end"
    return "comparative"


def describe_periods(
    periods: list[date], flow_columns: list[Column], months: list[int | None]
) -> list[Period]:
    """The ``Period`` of each period end, ``flow_columns`` being the income statement's (or,
    without one, the cash flow statement's) columns."""
    main, quarter = _align(flow_columns, periods, flows=True)
    out = []
    for i, end in enumerate(periods):
        ytd = flow_columns[main[i]] if main[i] is not None else None  # type: ignore[index]
        q = flow_columns[quarter[i]] if quarter[i] is not None else None  # type: ignore[index]
        out.append(Period(end, _role(end, periods[0], months[0] if months else None, i), ytd, q))
    return out


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
    status: dict[str, StatementStatus] = field(default_factory=dict)
    # One per period: what it is and the spans its flow figures cover (see ``Period``).
    period_info: list[Period] = field(default_factory=list)
    # 1-based pages read by OCR (scanned images without a text layer), and the time they took.
    ocr_pages: list[int] = field(default_factory=list)
    ocr_seconds: float = 0.0

    @property
    def interim(self) -> bool:
        """A quarterly or half-year report: the current flows cover fewer than 12 months."""
        return bool(self.period_months) and self.period_months[0] not in (None, 12)

    @property
    def missing(self) -> list[str]:
        return [d.name for d in ITEMS_LIST if d.name not in self.items]

    def value(self, name: str, period: int = 0) -> Decimal | None:
        item = self.items.get(name)
        return item.values[period] if item is not None else None

    def flag(self, name: str, period: int = 0) -> str | None:
        """Why the figure at ``period`` must not be used (it failed a check), or None."""
        item = self.items.get(name)
        return item.flags.get(period) if item is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "company": self.company,
            "periods": [p.isoformat() for p in self.periods],
            "period_months": self.period_months,
            "period_labels": [p.to_dict() for p in self.period_info],
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
            "statement_status": {k: v.to_dict() for k, v in self.status.items()},
            "pages_read": self.pages_read,
            "page_count": self.page_count,
            "seconds": round(self.seconds, 3),
            "ocr_pages": self.ocr_pages,
            "ocr_seconds": round(self.ocr_seconds, 1),
        }


def _num(v: Decimal | None) -> int | float | None:
    if v is None:
        return None
    return int(v) if v == v.to_integral_value() else float(v)


# ---------------------------------------------------------------------------------------------
# Finding the statements

# Titles of the pages that end a statement without being one of the three: the statement of
# changes in equity sits between the income and the cash flow statement, the notes follow.
_OTHER_TITLES = ("權益變動表", "財務報告附註", "財務報表附註")
OTHER = "other"


def _squash(text: str) -> str:
    return "".join(text.split()).replace("臺", "台")


def _title_in(line: str) -> tuple[str, str] | None:
    """(kind, title) when the line is a statement title: the title alone, or after the
    company name. The table of contents (「四、合併資產負債表 4」) and the auditor's report,
    which name the statements in running text, do not match."""
    s = re.sub(r"[（(]續[）)]$", "", _squash(line))
    if len(s) > 40:
        return None
    for kind in STATEMENT_KINDS:
        for title in TITLES[kind]:
            if s == title or (s.endswith(title) and "公司" in s):
                return kind, title
    for title in _OTHER_TITLES:
        if s.endswith(title) and ("公司" in s or s.startswith(("合併", "個體")) or s == title):
            return OTHER, title
        if title in s and "公司" in s and s.endswith(("（續）", "(續)", title + "續")):
            return OTHER, title
    return None


def _title_of(lines: list[str]) -> tuple[str, str] | None:
    """The first statement title among a page's lines. Every line is looked at: the text
    layer of some reports gives the title after the table (the order it was drawn in)."""
    for line in lines:
        hit = _title_in(line)
        if hit is not None:
            return hit
    return None


def _has_rows(lines: list[str]) -> bool:
    """A page of a statement's table: several lines ending in figures."""
    return sum(1 for line in lines if len(_split_values(line)[1]) >= 2) >= 3


@dataclass
class _Found:
    kind: str
    title: str
    pages: list[tuple[int, list[str]]]  # (0-based page, lines)


def _find(pdf: PdfText) -> dict[str, _Found]:
    """The pages of each statement: from its title page, every following page that is not
    another statement's, the changes in equity or the notes, and that carries a table."""
    found: dict[str, _Found] = {}
    current: _Found | None = None
    for index, text in pdf.pages():
        lines = text.splitlines()
        title = _title_of(lines)
        if current is not None:
            same = title is None or title[0] == current.kind
            if same and len(current.pages) < MAX_STATEMENT_PAGES and _has_rows(lines):
                current.pages.append((index, lines))
                continue
            current = None
        if (
            title is not None
            and title[0] != OTHER
            and title[0] not in found
            and "單位" in _squash(text)
        ):
            current = _Found(title[0], title[1], [(index, lines)])
            found[title[0]] = current
        elif len(found) == len(STATEMENT_KINDS):
            break  # all three read to their last page: the notes need not be read
    return found


# ---------------------------------------------------------------------------------------------
# Column header: the periods


_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_CN_DIGITS |= {"七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(r"[〇○零一二三四五六七八九十]+(?=[年月日])")


def _cn_to_int(text: str) -> int:
    """一一三 → 113 (years are written digit by digit), 十二 → 12, 三十一 → 31."""
    if "十" not in text:
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _header_text(line: str) -> str:
    """A header line ready for the date patterns: Chinese numerals in dates as digits, spaces
    gone (「114  年  1  月」「3 1 日」) except between dotted dates, where they become「|」
    so that「112.6.30 111.12.31」stays two dates."""
    s = _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group())), line.replace("臺", "台"))
    if re.search(r"\d[./]\d{1,2}[./]\d", s):
        s = re.sub(r"(?<=\d)\s+(?=\d)", "|", s)
    # Elsewhere digits are spaced out by the typesetting (「3 1 日」 is 31).
    return "".join(s.split())


_Y, _M, _D = r"(\d{2,4})年", r"(\d{1,2})月", r"(\d{1,2})日"
_HEADER_DATE = re.compile(
    rf"(?P<span>{_Y}{_M}{_D}至(?:{_Y})?{_M}{_D})"
    rf"|(?P<months>{_Y}{_M}至{_M})"
    rf"|(?P<year>{_Y}度)"
    r"|(?P<quarter>(\d{2,4})年度?第([1-4一二三四])季)"
    r"|(?P<half>(\d{2,4})年度?(上半年|前三季)度?)"
    rf"|(?P<instant>{_Y}{_M}{_D})"
    rf"|(?P<end>至{_M}{_D})"
    r"|(?P<dotted>(?<![\d.])(\d{2,4})[./](\d{1,2})[./](\d{1,2})(?![\d.]))"
)


def _year(text: str) -> int:
    y = int(text)
    return y + 1911 if y < 1911 else y  # 民國 113 → 2024


def _month_end(year: int, month: int) -> date:
    from calendar import monthrange

    return date(year, month, monthrange(year, month)[1])


@dataclass(frozen=True)
class _DateToken:
    kind: str  # span, months, year, instant, end, dotted
    column: Column | None  # None for「至3月31日」, the end of a span split over two lines
    month: int = 0
    day: int = 0


def _date_tokens(line: str) -> list[_DateToken]:
    """The date expressions of one header line, left to right."""
    out: list[_DateToken] = []
    for m in _HEADER_DATE.finditer(_header_text(line)):
        kind = m.lastgroup or ""
        g = [x for x in m.groups() if x is not None][1:]  # the named group's own groups
        try:
            if kind == "span":
                if len(g) == 6:
                    y0, m0, d0, y1, m1, d1 = g
                else:
                    y0, m0, d0, m1, d1 = g
                    y1 = y0
                col = Column(date(_year(y1), int(m1), int(d1)), date(_year(y0), int(m0), int(d0)))
            elif kind == "months":
                y, m0, m1 = g
                col = Column(_month_end(_year(y), int(m1)), date(_year(y), int(m0), 1))
            elif kind == "year":
                col = Column(date(_year(g[0]), 12, 31), date(_year(g[0]), 1, 1))
            elif kind == "quarter":  # 「114年第一季」: the quarter alone
                q = int(g[1]) if g[1].isdigit() else _CN_DIGITS[g[1]]
                col = Column(_month_end(_year(g[0]), 3 * q), date(_year(g[0]), 3 * q - 2, 1))
            elif kind == "half":  # 「114年上半年度」「114年前三季」: year to date
                col = Column(
                    _month_end(_year(g[0]), 6 if g[1] == "上半年" else 9), date(_year(g[0]), 1, 1)
                )
            elif kind in ("instant", "dotted"):
                col = Column(date(_year(g[0]), int(g[1]), int(g[2])))
            else:  # end
                out.append(_DateToken("end", None, int(g[0]), int(g[1])))
                continue
        except ValueError:
            continue
        out.append(_DateToken(kind, Column(col.end, col.start, m.group())))
    return out


class HeaderError(ValueError):
    """The column header cannot be read; the message says what was seen."""


def parse_header(lines: list[str]) -> list[Column]:
    """The value columns from a statement's header lines, in printed order.

    Any number of columns: the two of an annual report, the three instants of a quarterly
    balance sheet, the four spans (quarter and year to date, this year and last) of a quarterly
    income statement. A span may be printed on one line (「114年1月1日至3月31日」), over two
    (「114年1月1日」 above 「至3月31日」, one or several per line) or as a year (「113年度」).
    """
    tokens = [t for line in lines for t in _date_tokens(line)]
    ends = [t for t in tokens if t.kind == "end"]
    if not ends:
        return [t.column for t in tokens if t.column is not None]
    starts = [t for t in tokens if t.kind in ("instant", "dotted")]
    if len(starts) != len(ends):
        raise HeaderError(
            f"期間表頭的起日 {len(starts)} 個與迄日 {len(ends)} 個不成對 / the header has "
            f"{len(starts)} start dates and {len(ends)} end dates"
        )
    cols = [t.column for t in tokens if t.kind not in ("instant", "dotted", "end") and t.column]
    for s, e in zip(starts, ends, strict=True):
        assert s.column is not None
        begin = s.column.end
        # The end is in the same year as the start (statements cover at most twelve months).
        year = begin.year if (e.month, e.day) >= (begin.month, begin.day) else begin.year + 1
        try:
            cols.append(
                Column(
                    date(year, e.month, e.day), begin, f"{s.column.printed}至{e.month}月{e.day}日"
                )
            )
        except ValueError as exc:
            raise HeaderError(f"表頭日期無效 / an invalid date in the header: {exc}") from exc
    if len(cols) != len(starts):
        raise HeaderError("期間表頭混合了不同格式 / the header mixes date layouts")
    return cols


def _is_subtitle(squashed: str) -> bool:
    """The 「民國113年及112年12月31日」 line under the title names every period at once; the
    columns come from the header below it."""
    return any(w in squashed for w in ("及", "與", "、", "暨")) or "單位" in squashed


def _header_lines(lines: list[str]) -> list[str]:
    """The lines of the column header: those with dates above the first row of figures."""
    out: list[str] = []
    for line in lines:
        s = _squash(line)
        if not s or _is_subtitle(s):
            continue
        tokens = _date_tokens(line)
        label, figures = _split_values(line)
        if figures and label.strip() and not tokens and re.search(r"[^\W\d_]", label):
            if out:
                break  # the first row of figures: the header is above it
            continue  # a stray figure line before the header (folio「- 8 -」)
        if tokens:
            out.append(line)
    return out


def _columns(lines: list[str]) -> list[Column]:
    """The value columns of a statement's first page (see ``parse_header``)."""
    cols = parse_header(_header_lines(lines))
    # A header printed once per panel (two-panel statements) repeats its dates.
    if len(cols) % 2 == 0 and cols[: len(cols) // 2] == cols[len(cols) // 2 :]:
        cols = cols[: len(cols) // 2]
    # The text layer gives the header's dates in the order they were drawn, which is not always
    # left to right; the subtitle 「民國114年3月31日、113年12月31日及113年3月31日」 names the
    # same instants in column order, so when it names exactly these, its order wins.
    if cols and all(c.start is None for c in cols):
        for line in lines[:60]:
            if not _is_subtitle(_squash(line)):
                continue
            named = [t.column.end for t in _date_tokens(line) if t.kind == "instant" and t.column]
            if len(named) == len(cols) and set(named) == {c.end for c in cols}:
                by_end = {c.end: c for c in cols}
                return [by_end[e] for e in named]
    return cols


def _unit(pages: list[tuple[int, list[str]]]) -> str | None:
    for _, lines in pages:
        m = _UNIT.search(_squash("".join(lines)))
        if m:
            return m.group(1)
    return None


# ---------------------------------------------------------------------------------------------
# Rows

# Account codes; some auditors print the placeholders in lower case (「1xxx」「11xx」「130x」).
_CODE = re.compile(r"^(?:\d{4}|\d{3}[Xx]|\d{2}[Xx]{2}|\d[Xx]{3}|\d[Xx]{4}|[A-H]\d{5}|[A-H]{4})$")
# Cash flow codes, which can also start the right-hand panel of a two-panel page.
_PANEL_CODE = re.compile(r"^(?:[A-H]\d{5}|[A-H]{4})$")
_NUMBER = r"[\d,]*\d(?:\.\d+)?"
# A figure at the end of a line. No alternative may begin with whitespace: the token must
# start right after the whitespace that separates it from the label or the previous figure.
# Some reports print the dollar sign after the figure (「6,793,943$」, 「(163,950)$」).
_VALUE_END = re.compile(
    r"(?:\(\s*(?:\$\s*)?[-−]?" + _NUMBER + r"\s*\)(?:\s*\$)?"  # (1,234) ( $ 1,234 ) (1,234)$
    # A minus sign only when it touches the digits: "932,733  -  577,330" is three figures.
    r"|(?:\$\s*)?[-−]?" + _NUMBER + r"(?:\s*\$)?"  # $ 1,234  1,234  -1,234  5.21  1,234$
    r"|(?:\$\s*)?[-–—－](?:\s*\$)?)"  # a dash for nil, with or without $
    r"\s*$"
)
_FIGURE = re.compile(r"^(?:" + _VALUE_END.pattern.removesuffix(r"\s*$") + r")$")
_FOLIO = re.compile(r"^[-~－–—]\s*\d{1,3}\s*[-~－–—]$")  # a page number: 「- 5 -」「~8~」
_CONTINUED = re.compile(r"^[（(]?[接承][次前]頁[）)]?$")
_UNIT = re.compile(r"單位[：:]?(?:新台幣|人民幣|美金|美元)?(百萬元|萬元|仟元|千元|元)")
# A note reference printed in its own column after the label: 「六(十七)及七」「六.17及七」
# 「6(1)」「(二)」「四、六及七」.
_NOTE_REF = re.compile(
    r"^[（(]?(?:附註)?[一二三四五六七八九十\d][一二三四五六七八九十\d.()（）、，,及和~～\-－]*$"
)


def _split_values(line: str) -> tuple[str, list[str]]:
    """(text before the figures, the figures) of one line; figures are whitespace-separated
    tokens at the end of the line, so digits inside a label (附註6) are never taken."""
    # A dollar sign printed after a figure (「6,793,943$ 35」) says nothing; dropped, it cannot be
    # read as the sign of the next figure.
    rest = re.sub(r"(?<=[\d)\-–—－])\$(?=\s|$)", "", line).rstrip()
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
    token = token.replace("$", "")
    negative = token.startswith("(") or "-" in token.replace("--", "") or "−" in token
    digits = re.sub(r"[^\d.]", "", token)
    if not digits:
        return Decimal(0)  # a dash: nil
    value = Decimal(digits)
    return -value if negative else value


def _strip_notes(label: str) -> str:
    """The label without the note references printed after it."""
    words = label.split()
    while len(words) > 1 and _NOTE_REF.match(words[-1]):
        words.pop()
    if len(words) == 1 and _NOTE_REF.match(words[0]) and not _CODE.match(words[0]):
        return ""
    return " ".join(words)


def _panel_starts(words: list[str], i: int) -> bool:
    """Whether a right-hand panel's row starts at ``words[i]``: a code or a label right after
    the left row's figures (two at least: 「第 9 號」 in a label is not a row of figures)."""
    # A bare four-digit number before a label is an account code, not a figure: figures of a
    # thousand or more are printed with separators (「2570 遞延所得稅負債」).
    code4 = bool(re.fullmatch(r"\d{4}", words[i])) and i + 1 < len(words)
    code4 = code4 and bool(re.match(r"[^\x00-\x7f]", words[i + 1]))
    if _FIGURE.match(words[i]) and not code4:
        return False
    if re.fullmatch(r"[A-H]{4}", words[i]):
        return True  # 「AAAA 營業活動之現金流量： BBBB 投資活動之現金流量：」
    if not (_FIGURE.match(words[i - 1]) and _FIGURE.match(words[i - 2])):
        return False
    if _CODE.match(words[i]) or (
        re.match(r"[^\x00-\x7f]", words[i]) and not _NOTE_REF.match(words[i])
    ):
        # the right-hand row must end in figures too, or this is a label after a total
        return bool(_split_values(" ".join(words[i:]))[1])
    return False


def _panels(lines: list[str]) -> list[str]:
    """A page's lines with a right-hand panel moved after the left one: some cash flow
    statements print operating activities on the left and investing and financing on the
    right, each line holding one row of each (「A10000 稅前淨利 454,641$ 355,474$ B00010 …」)."""
    left: list[str] = []
    right: list[str] = []
    for line in lines:
        words = line.split()
        cut = next((i for i in range(2, len(words)) if _panel_starts(words, i)), None)
        if cut is None:
            left.append(line)
        else:
            left.append(" ".join(words[:cut]))
            right.append(" ".join(words[cut:]))
    return left + right


@dataclass
class _Row:
    parts: list[str]  # label lines as printed
    code: str | None
    tokens: list[str]
    page: int  # 1-based
    heading: str  # the nearest line above without figures, normalised
    # A subtotal printed without label or code (some auditors' layouts leave 流動資產合計,
    # 流動負債合計, 保留盈餘合計 blank beside the figures), named after the section heading
    # it closes because it equals the sum of that section's rows.
    inferred: bool = False


# What an inferred subtotal's label says besides its name, so the analyst sees it was not
# printed.
INFERRED_NOTE = "（表上未印標題，依其上各列加總認定 / printed without a label; named by the sum of the rows above）"


@dataclass
class _Section:
    """A section of a statement opened by a heading ending in a colon (「流動資產：」), and the
    amounts of the rows under it so far, in printed units."""

    heading: str
    members: list[list[Decimal]] = field(default_factory=list)
    # The subtotal found so far. A later unlabelled line that sums the section again (the
    # subtotal plus rows after it: 工程收入淨額, then 銷貨收入, then 營業收入合計) replaces it:
    # the section's own total is the last.
    subtotal: _Row | None = None


def _section_heading(label: str) -> str | None:
    """「流動資產：」→「流動資產」; 「歸屬於母公司業主之權益(附註六(十七))：」→ its name
    without the note; None for a line that opens no section."""
    text = label.strip()
    if not text.endswith(("：", ":")):
        return None
    # Notes nest (「(附註六(二十一))」): innermost parentheses first, until none are left.
    prev = None
    while prev != text:
        prev, text = text, re.sub(r"[（(][^（()）]*[)）]", "", text)
    name = normalise_label(text)
    return name or None


def _closes(sections: list[_Section], amounts: list[Decimal]) -> int | None:
    """How many of the innermost sections an unlabelled line of figures is the subtotal of:
    the sum of their rows, column by column, within half a printed unit per row."""
    for k in range(1, len(sections) + 1):
        members = [m for sec in sections[-k:] for m in sec.members]
        if not members or not any(amounts):
            continue
        tolerance = Decimal(len(members))
        sums = [sum((m[i] for m in members), Decimal(0)) for i in range(len(amounts))]
        if all(abs(t - a) <= tolerance for t, a in zip(sums, amounts, strict=True)):
            return k
    return None


def _amounts_of(row: _Row | None, columns: int | None) -> list[Decimal]:
    placed = _amounts(row.tokens, columns) if row is not None and columns else None
    return [_parse_number(t) for t in placed or []]


def _rows(pages: list[tuple[int, list[str]]], columns: int | None = None) -> list[_Row]:
    """The rows of figures, each with its label. A label that wraps puts its first lines
    above the figures (「透過損益按公允價值衡量之金融資產－流動」 / 「(附註六(二))」 /
    「2,973,951 1 …」): label lines without figures are kept and joined to the next row, with
    the account code printed on the first of them.

    With the number of ``columns`` known, a line of figures without label or code that equals
    the sum of the rows of the section above it is that section's subtotal (see ``_Row``)."""
    rows: list[_Row] = []
    pending: list[str] = []
    pending_code: str | None = None
    heading = ""
    sections: list[_Section] = []

    def amounts(tokens: list[str]) -> list[Decimal] | None:
        if columns is None:
            return None
        placed = _amounts(tokens, columns)
        return [_parse_number(t) for t in placed] if placed is not None else None

    for index, lines in pages:
        for line in _panels(lines):
            text = line.strip()
            if not text:
                continue
            if _CONTINUED.match(_squash(text)) or _FOLIO.match(text):
                pending, pending_code = [], None
                continue
            first, _, body = text.partition(" ")
            code = first.upper() if _CODE.match(first) else None
            if code is None:
                body = text
            else:
                pending, pending_code = [], None
            label, tokens = _split_values(body)
            label = _strip_notes(label)
            if not tokens:
                if label:
                    pending = [*pending[-3:], label]
                    heading = normalise_label(label)
                    opened = _section_heading(label)
                    if opened is not None:
                        # A section whose subtotal was found is over: its sibling starts.
                        if sections and sections[-1].subtotal is not None:
                            done = sections.pop()
                            if sections:
                                sections[-1].members.append(_amounts_of(done.subtotal, columns))
                        sections.append(_Section(opened))
                if code is not None:
                    pending_code = code
                continue
            parts = [*pending, label] if label else pending
            values = amounts(tokens)
            if parts:
                rows.append(_Row(parts, code or pending_code, tokens, index + 1, heading))
                if values is not None and sections:
                    sections[-1].members.append(values)
            elif code is None and values is not None:
                k = _closes(sections, values)
                if k is not None:
                    section = sections[-k]
                    del sections[len(sections) - k + 1 :]
                    if section.subtotal is not None:
                        rows.remove(section.subtotal)
                    row = _Row(
                        [f"{section.heading}合計"], None, tokens, index + 1, heading, inferred=True
                    )
                    rows.append(row)
                    section.subtotal, section.members = row, [values]
            pending, pending_code = [], None
    return rows


def _amounts(tokens: list[str], n: int) -> list[str] | None:
    """The amount tokens of a row, one per column, or None when the row cannot be placed.

    A row prints n amounts, or n amounts each followed by its percentage (EPS rows leave the
    percentage blank). A small bare number before them is a note reference in its own
    column (「1100 現金 6 $ 1,234 10 …」)."""
    if len(tokens) in (n + 1, 2 * n + 1) and re.fullmatch(r"\d{1,2}", tokens[0]):
        tokens = tokens[1:]
    if len(tokens) == 2 * n:
        return tokens[0::2]
    if len(tokens) == n:
        return tokens
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


class _StatementUnread(Exception):
    """One statement cannot be read; the message is the bilingual reason."""


def _parse(found: _Found) -> _Parsed:
    first_lines = found.pages[0][1]
    page = found.pages[0][0] + 1
    where = f"{STATEMENT_ZH[found.kind]}（第 {page} 頁 page {page}）"
    try:
        columns = _columns(first_lines)
    except HeaderError as exc:
        raise _StatementUnread(f"{where}：{exc}") from exc
    if not columns:
        raise _StatementUnread(
            f"{where}：表頭找不到期間日期 / no period dates in the column header of the "
            f"{found.kind} on page {page}"
        )
    spans = {c.start is not None for c in columns}
    if spans != {found.kind != BALANCE_SHEET}:
        want = "時點（某年某月某日）" if found.kind == BALANCE_SHEET else "起迄期間（某日至某日）"
        raise _StatementUnread(
            f"{where}：表頭的期間應為{want}，讀到 "
            f"{'、'.join(c.printed for c in columns)} / the header's periods should be "
            f"{'instants' if found.kind == BALANCE_SHEET else 'spans'}; read "
            f"{', '.join(c.printed for c in columns)}"
        )
    unit = _unit(found.pages)
    if unit is None:
        raise _StatementUnread(
            f"{where}：找不到金額單位（仟元／元）/ cannot find the unit (仟元, 元) of the "
            f"{found.kind} on page {page}"
        )
    rows = _rows(found.pages, len(columns))
    by_label: dict[str, list[tuple[_Row, str]]] = {}
    by_code: dict[str, list[_Row]] = {}
    for row in rows:
        # Every suffix of the label lines: a heading line caught above a row (流動資產 above
        # 現金及約當現金 in reports without codes) must not hide the row's own label.
        for i in range(len(row.parts)):
            printed = "".join(p.strip() for p in row.parts[i:])
            if row.inferred:
                by_label.setdefault(normalise_label(printed), []).append(
                    (row, printed + INFERRED_NOTE)
                )
                continue
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

    def placeable(row: _Row) -> bool:
        return _amounts(row.tokens, n) is not None

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
        quarter.append(
            at[1] if len(at) > 1 and columns[at[1]].months != columns[at[0]].months else None
        )
    return main, quarter


# The item without which a statement counts as not read.
_KEY_ITEMS: dict[str, tuple[str, ...]] = {
    BALANCE_SHEET: ("total_assets",),
    INCOME_STATEMENT: ("net_income",),
    CASH_FLOW: ("operating_cash_flow",),
}


def _scanned_pages(pdf: PdfText) -> list[int]:
    """1-based numbers of the pages read that have no text (images of a scan)."""
    return [
        i + 1 for i in range(pdf.pages_read) if len("".join(pdf.text(i).split())) < MIN_PAGE_CHARS
    ]


def _page_ranges(pages: list[int]) -> str:
    out: list[str] = []
    for p in pages:
        if out and int(out[-1].split("–")[-1]) == p - 1:
            out[-1] = f"{out[-1].split('–')[0]}–{p}"
        else:
            out.append(str(p))
    return ", ".join(out)


def _ocr_page(page: Any) -> str:
    """A scanned page's text by OCR, laid out as a text layer's lines (see ``ocr``). A page
    whose title the OCR could not read is titled by the account codes beside its lines, and a
    page of rows that fits none of the three statements as the changes in equity, so that it
    never runs on as a continuation of the statement before it."""
    from assistant.credit import ocr

    image = ocr.page_image(page)
    if image is None:
        return ""
    lines = ocr.layout(ocr.read_boxes(image), image.size[0])
    if _title_of(lines) is None and _has_rows(lines):
        kind = ocr.statement_kind(lines)
        lines.insert(0, ocr.title_for(kind, lines) if kind is not None else _OTHER_TITLES[0])
    return "\n".join(lines)


def extract(
    path: Path | str,
    *,
    ocr: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Extraction:
    """Read the three statements of the report at ``path``; see the module docstring.

    A statement that cannot be read is left out with its reason in ``status`` (and in the
    warnings); the others are still returned. Only a report with no statement read raises.

    A report whose statement pages are scanned images is read again with ``ocr`` (see
    ``assistant.credit.ocr``); its statements say so (``StatementStatus.ocr``), and
    ``progress`` is told (page, page count) before each page is OCR'd. A report with a text
    layer is read from it alone: OCR never runs on it."""
    started = time.perf_counter()
    try:
        return _extract(PdfText(path), started)
    except NoTextLayer as exc:
        if not ocr:
            raise
        scanned = exc
    from assistant.credit.ocr import OcrUnavailable

    try:
        return _extract(PdfText(path, ocr=_ocr_page, progress=progress), started)
    except OcrUnavailable:
        raise
    except NoTextLayer as exc:
        raise NoTextLayer(
            f"{scanned}；OCR 也未能從掃描頁讀出報表 / OCR found no statement on the scanned "
            f"pages either"
        ) from exc
    except StatementError as exc:
        raise NoTextLayer(
            f"{scanned}；以 OCR 讀取掃描頁後仍無法擷取 / OCR of the scanned pages did not "
            f"help either: {exc}"
        ) from exc


def _extract(pdf: PdfText, started: float) -> Extraction:
    path = pdf.path
    found = _find(pdf)
    name = Path(path).name
    if not found:
        if pdf.text_share() < 0.5:
            raise NoTextLayer(
                f"PDF 沒有文字層（掃描檔），無法讀取數字；請提供 MOPS 下載的電子檔或先做 OCR / "
                f"the PDF has no text layer (a scan): there are no figures to read; supply the "
                f"report as downloaded from MOPS, or OCR it first: {name}"
            )
        scanned = _scanned_pages(pdf)
        if len(scanned) >= 3:
            raise NoTextLayer(
                f"報表頁（第 {_page_ranges(scanned)} 頁）為掃描影像，沒有文字層，無法讀取數字；"
                f"請提供有文字層的版本或先做 OCR / the statement pages ({_page_ranges(scanned)}) "
                f"are scanned images without a text layer; supply a text copy or OCR it: {name}"
            )
        raise StatementsNotFound(
            f"找不到資產負債表、綜合損益表或現金流量表（合併或個體）/ no balance sheet, "
            f"statement of comprehensive income or cash flow statement (consolidated or "
            f"parent-only) found in {pdf.page_count} pages: {name}"
        )
    status: dict[str, StatementStatus] = {}
    parsed: dict[str, _Parsed] = {}
    for kind in STATEMENT_KINDS:
        f = found.get(kind)
        if f is None:
            status[kind] = StatementStatus(
                kind,
                False,
                f"找不到{STATEMENT_ZH[kind].split()[0]}的標題頁 / no page titled as the "
                f"{STATEMENT_ZH[kind].split(' ', 1)[1]}",
            )
            continue
        pages = [i + 1 for i, _ in f.pages]
        try:
            parsed[kind] = _parse(f)
        except _StatementUnread as exc:
            status[kind] = StatementStatus(kind, False, str(exc), pages)
            continue
        status[kind] = StatementStatus(kind, True, None, pages)

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
    if "retained_earnings" not in items and BALANCE_SHEET in parsed:
        summed = _retained_earnings(parsed[BALANCE_SHEET], periods)
        if summed is not None:
            items["retained_earnings"] = summed

    warnings: list[str] = []
    for kind, p in parsed.items():
        missing = [k for k in _KEY_ITEMS[kind] if k not in items or items[k].statement != kind]
        if missing:
            zh = "、".join(ITEMS[k].zh for k in missing)
            page = p.found.pages[0][0] + 1
            status[kind] = StatementStatus(
                kind,
                False,
                f"{STATEMENT_ZH[kind]}（第 {page} 頁 page {page}）讀不到{zh} / found the "
                f"statement but could not read its {', '.join(ITEMS[k].en for k in missing)} "
                f"({len(p.rows)} rows, {len(p.columns)} columns)",
                status[kind].pages,
            )
    for kind in STATEMENT_KINDS:
        if not status[kind].extracted:
            warnings.append(f"未擷取 not extracted：{status[kind].reason}")
    if not any(s.extracted for s in status.values()):
        raise StatementsNotFound("；".join(s.reason or "" for s in status.values()) + f": {name}")
    # Items of a statement that was not read are not used (its total was not found, so the
    # rest cannot be trusted to be in the right columns either).
    items = {k: v for k, v in items.items() if status[v.statement].extracted}

    unplaced = [
        normalise_label("".join(r.parts))
        for p in parsed.values()
        for r in p.rows
        if _amounts(r.tokens, len(p.columns)) is None
    ]
    if unplaced:
        warnings.append(
            f"{len(unplaced)} 列數字欄數不符，未採用 / rows whose figures do not fit the columns "
            f"were left out: {', '.join(x for x in unplaced[:5] if x)}"
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
            if status[k].extracted
        },
        warnings=warnings,
        pages_read=pdf.pages_read,
        page_count=pdf.page_count,
        status=status,
        ocr_pages=[i + 1 for i in pdf.ocr_pages],
        ocr_seconds=pdf.ocr_seconds,
    )
    if pdf.ocr_pages:
        scanned = set(result.ocr_pages)
        for st in status.values():
            st.ocr = bool(scanned & set(st.pages))
        read = [k for k, st in status.items() if st.ocr and st.extracted]
        if read:
            names = "、".join(STATEMENT_ZH[k].split()[0] for k in read)
            en = ", ".join(STATEMENT_ZH[k].split(" ", 1)[1] for k in read)
            pages = _page_ranges(result.ocr_pages)
            warnings.append(
                f"{names}由掃描影像以 OCR 讀取（第 {pages} 頁），數字僅在通過勾稽時可用 / the "
                f"{en} were read by OCR from scanned images (pages {pages}); their figures "
                f"are usable only where they pass the checks"
            )
    flow_kind = next((k for k in (INCOME_STATEMENT, CASH_FLOW) if k in result.statements), None)
    result.period_info = describe_periods(
        periods, result.statements[flow_kind].columns if flow_kind else [], flow_months
    )
    result.checks = _checks(result)
    for c in result.checks:
        if c.failed:
            result.warnings.append(f"勾稽不符 / check failed: {c.description}")
    for kind, st in status.items():
        if st.extracted:
            mine = [c for c in result.checks if c.statement == kind]
            known = [c for c in mine if any(o is not None for o in c.ok)]
            st.balanced = (not any(c.failed for c in mine)) if known else None
    result.seconds = time.perf_counter() - started
    return result


def _item(
    d: ItemDef, kind: str, row: _Row, printed: str, p: _Parsed, periods: list[date]
) -> LineItem:
    tokens = _amounts(row.tokens, len(p.columns)) or []
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


# The parts of 3300 保留盈餘 in the TIFRS chart of accounts: 3310 法定盈餘公積, 3320 特別盈餘
# 公積, 3350 未分配盈餘 (待彌補虧損). Many reports print them under a「保留盈餘」heading with no
# total line.
_RETAINED_PART = re.compile(r"^33[1-9]\d$")


def _retained_earnings(p: _Parsed, periods: list[date]) -> LineItem | None:
    """保留盈餘 as the sum of its printed parts when the report prints no total: every row
    coded 331x–339x, each placed in the columns (one that is not leaves the sum out)."""
    parts = [r for r in p.rows if r.code and _RETAINED_PART.match(r.code)]
    if not parts or any(_amounts(r.tokens, len(p.columns)) is None for r in parts):
        return None
    if len({r.code for r in parts}) != len(parts):
        return None  # a code printed twice: not one set of parts
    n = len(p.columns)
    sums = [
        sum((_parse_number((_amounts(r.tokens, n) or [])[i]) for r in parts), Decimal(0))
        for i in range(n)
    ]
    tokens = [f"({-v})" if v < 0 else str(v) for v in sums]
    codes = "、".join(r.code or "" for r in parts)
    label = (
        f"保留盈餘（表上未印合計，由 {codes} 加總 / not printed as a total; the sum of {codes}）"
    )
    row = _Row([label], "3300", tokens, parts[0].page, parts[0].heading)
    return _item(ITEMS["retained_earnings"], BALANCE_SHEET, row, label, p, periods)


# A company's name as a statement's heading prints it: no figures, ending in 公司 (or in
# 及子公司 for a consolidated report).
_COMPANY_NAME = re.compile(r"^[^\d\s:：()（）$]{2,40}公司(?:及(?:其)?(?:各)?子公司)?$")


def _company(found: dict[str, _Found]) -> str | None:
    """The company named on the statements' first pages. A line that is a name alone is
    looked for anywhere on the page (some text layers give the heading after the table, where
    the top lines are rows such as 「對子公司之收購」); then the old rule, a line near the top."""
    for f in found.values():
        for line in f.pages[0][1]:
            s = _squash(line)
            if _COMPANY_NAME.match(s) and not any(t in s for ts in TITLES.values() for t in ts):
                return s
    for f in found.values():
        for line in f.pages[0][1][:8]:
            s = _squash(line)
            if "公司" in s and not any(t in s for ts in TITLES.values() for t in ts):
                return s
    return None


# ---------------------------------------------------------------------------------------------
# Checks

# (name, statement, description, total, parts, signs). ``signs`` None: each part may be
# printed with either sign (所得稅費用 is printed「(1,234)」 by some auditors and 「1,234」 under
# 「減：」 by others), so the identity holds when total = Σ ±part for the printed signs or with
# the subtracted parts negated.
_CHECKS: tuple[tuple[str, str, str, str, tuple[str, ...], bool], ...] = (
    (
        "assets_balance",
        BALANCE_SHEET,
        "資產總計 = 負債總計 + 權益總計 / total assets = total liabilities + total equity",
        "total_assets",
        ("total_liabilities", "total_equity"),
        False,
    ),
    (
        "liabilities_and_equity",
        BALANCE_SHEET,
        "資產總計 = 負債及權益總計 / total assets = total liabilities and equity",
        "total_assets",
        ("total_liabilities_and_equity",),
        False,
    ),
    (
        "assets_split",
        BALANCE_SHEET,
        "資產總計 = 流動資產 + 非流動資產 / total assets = current + non-current assets",
        "total_assets",
        ("current_assets", "non_current_assets"),
        False,
    ),
    (
        "liabilities_split",
        BALANCE_SHEET,
        "負債總計 = 流動負債 + 非流動負債 / total liabilities = current + non-current liabilities",
        "total_liabilities",
        ("current_liabilities", "non_current_liabilities"),
        False,
    ),
    (
        "equity_split",
        BALANCE_SHEET,
        "權益總計 = 歸屬於母公司業主之權益 + 非控制權益 / total equity = equity of the parent's "
        "owners + non-controlling interests",
        "total_equity",
        ("equity_attributable_to_parent", "non_controlling_interests"),
        False,
    ),
    (
        "gross_profit",
        INCOME_STATEMENT,
        "營業毛利 = 營業收入 − 營業成本 / gross profit = revenue − cost of revenue",
        "gross_profit_before_unrealised",
        ("revenue", "cost_of_revenue"),
        True,
    ),
    (
        "net_income",
        INCOME_STATEMENT,
        "本期淨利 = 稅前淨利 − 所得稅費用 / net income = income before tax − income tax",
        "net_income",
        ("income_before_tax", "income_tax"),
        True,
    ),
    (
        "cash_change",
        CASH_FLOW,
        "現金增減 = 營業 + 投資 + 籌資活動淨現金流量 + 匯率影響 / change in cash = operating + "
        "investing + financing cash flows + exchange-rate effect",
        "net_change_in_cash",
        ("operating_cash_flow", "investing_cash_flow", "financing_cash_flow", "fx_effect_on_cash"),
        False,
    ),
    (
        "cash_roll",
        CASH_FLOW,
        "期末現金 = 期初現金 + 本期現金增減 / cash at end = cash at beginning + change in cash",
        "cash_end",
        ("cash_begin", "net_change_in_cash"),
        False,
    ),
)
# Parts that may be absent from a statement that is right: a company without subsidiaries has
# no non-controlling interests, one without foreign operations no exchange-rate effect.
_OPTIONAL_PARTS = {"non_controlling_interests", "fx_effect_on_cash"}


def _checks(x: Extraction) -> list[Check]:
    out: list[Check] = []
    for name, kind, description, total, parts, either_sign in _CHECKS:
        st = x.statements.get(kind)
        if st is None:
            continue
        required = [p for p in parts if p not in _OPTIONAL_PARTS]
        if total not in x.items or any(p not in x.items for p in required):
            continue
        if name == "equity_split" and "non_controlling_interests" not in x.items:
            continue  # a parent-only report: total equity is the parent's own
        # Rounding: each printed figure may be off by half a unit.
        tolerance = Decimal(st.multiplier) * len(parts)
        oks: list[bool | None] = []
        diffs: list[Decimal | None] = []
        for i in range(len(x.periods)):
            t = x.items[total].values[i]
            vs = [x.items[p].values[i] if p in x.items else Decimal(0) for p in parts]
            if t is None or any(v is None for v in vs):
                oks.append(None)
                diffs.append(None)
                continue
            nums = [v for v in vs if v is not None]
            if either_sign:
                # A deduction printed in parentheses is added as printed; one printed plain
                # under 「減：」 is subtracted (a tax benefit is then printed in parentheses).
                a = nums[0] - sum(nums[1:])
                b = nums[0] + sum(nums[1:])
                diff = min(t - a, t - b, key=abs)
            else:
                diff = t - sum(nums)
            oks.append(abs(diff) <= tolerance)
            diffs.append(diff)
        out.append(Check(name, description, oks, diffs, kind, (total, *parts)))
        if any(o is False for o in oks):
            for i, ok in enumerate(oks):
                if ok is False:
                    for item in (total, *parts):
                        if item in x.items:
                            x.items[item].flags[i] = f"{name}: {description}"
    return out
