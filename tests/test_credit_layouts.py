"""The layouts of real MOPS reports on synthetic text: column headers of any number and form,
wrapped labels, two-panel pages, parent-only titles, and partial results with reasons."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant.credit import statements
from assistant.credit.pdftext import StatementsNotFound
from assistant.credit.schema import normalise_label
from assistant.credit.statements import (
    HeaderError,
    _columns,
    _rows,
    _split_values,
    extract,
    parse_header,
)


def _spans(cols: list[statements.Column]) -> list[tuple[date | None, date]]:
    return [(c.start, c.end) for c in cols]


def test_header_split_over_two_lines_with_spaced_digits() -> None:
    # 「114 年 1 月 1 日」 above 「至 3 月 3 1 日」, as typeset by some auditors.
    lines = [
        "      114  年  1  月  1  日",
        "至   3  月  3 1  日",
        "  113  年  1  月  1  日",
        "至 3 月 31 日",
    ]
    assert _spans(parse_header(lines)) == [
        (date(2025, 1, 1), date(2025, 3, 31)),
        (date(2024, 1, 1), date(2024, 3, 31)),
    ]


def test_header_four_spans_quarter_and_year_to_date() -> None:
    lines = [
        "114年4月1日 113年4月1日 114年1月1日 113年1月1日",
        "至6月30日 至6月30日 至6月30日 至6月30日",
    ]
    cols = parse_header(lines)
    assert [c.months for c in cols] == [3, 3, 6, 6]
    assert cols[0].end == cols[2].end == date(2025, 6, 30)


def test_header_dotted_instants_three_columns() -> None:
    cols = parse_header(["112.6.30 111.12.31 111.6.30"])
    assert [c.end for c in cols] == [date(2023, 6, 30), date(2022, 12, 31), date(2022, 6, 30)]
    assert all(c.start is None for c in cols)


def test_header_chinese_numerals_years_and_quarters() -> None:
    assert _spans(parse_header(["一一三年十二月三十一日 一一二年十二月三十一日"])) == [
        (None, date(2024, 12, 31)),
        (None, date(2023, 12, 31)),
    ]
    assert _spans(parse_header(["113年度 112年度"])) == [
        (date(2024, 1, 1), date(2024, 12, 31)),
        (date(2023, 1, 1), date(2023, 12, 31)),
    ]
    assert _spans(parse_header(["一一四年第一季 一一三年第一季"])) == [
        (date(2025, 1, 1), date(2025, 3, 31)),
        (date(2024, 1, 1), date(2024, 3, 31)),
    ]


def test_header_unpaired_dates_are_refused() -> None:
    with pytest.raises(HeaderError, match="start dates"):
        parse_header(["114年1月1日 113年1月1日", "至3月31日"])


def test_subtitle_gives_the_column_order_when_the_header_is_drawn_out_of_order() -> None:
    lines = [
        "某某股份有限公司及子公司",
        "合併資產負債表",
        "民國一一四年三月三十一日、一一三年十二月三十一日及一一三年三月三十一日",
        "單位：新臺幣千元",
        "一一四年三月三十一日 一一三年三月三十一日一一三年十二月三十一日",
        "1100 現金及約當現金 6,793,943$ 35 8,310,879$ 45 9,940,324$ 55",
    ]
    assert [c.end for c in _columns(lines)] == [
        date(2025, 3, 31),
        date(2024, 12, 31),
        date(2024, 3, 31),
    ]


def test_dollar_after_figures_and_lower_case_codes() -> None:
    assert _split_values("1xxx 資產總計 19,464,028$ 100 18,330,001$ 100")[1] == [
        "19,464,028",
        "100",
        "18,330,001",
        "100",
    ]
    rows = _rows([(4, ["1xxx 資產總計 $9,180,616 100.00 $8,801,953 100.00"])])
    assert rows[0].code == "1XXX" and rows[0].parts == ["資產總計"]


def test_wrapped_label_keeps_its_code_and_drops_note_references() -> None:
    lines = ["4000 營業收入  六(十七)及七", "(二)  $ 558,760   100   $ 495,864   100"]
    (row,) = _rows([(7, lines)])
    assert row.code == "4000"
    assert row.parts == ["營業收入"]
    assert row.tokens == ["$ 558,760", "100", "$ 495,864", "100"]


def test_unlabelled_subtotal_is_named_by_the_section_it_sums() -> None:
    # Some layouts print 流動資產合計 / 保留盈餘合計 as figures alone, label and code not in the
    # text layer; the line equals the sum of the section's rows, column by column.
    lines = [
        "流動資產：",
        "1100 現金及約當現金(附註六(一)) $ 970,182 11 1,367,185 17",
        "1170 應收票據及帳款淨額(附註六(四)、(十九)及(二十",
        "二))",
        "843,842 10 720,043 9",
        "1479 其他流動資產－其他 (1,000) 1 92,673 1",
        "\u3000\u3000 1,813,024 50 2,179,901 47",
        "非流動資產：",
        "1600 不動產、廠房及設備 2,491,262 28 2,490,643 30",
        "99,999 1 1 1",  # not the sum of the section: left out, not named
        "保留盈餘：",
        "3310 法定盈餘公積 1,809,957 21 1,809,957 22",
        "3350 未分配盈餘 3,550,243 40 3,198,098 39",
        "5,360,200 61 5,008,055 61",
    ]
    rows = _rows([(4, lines)], columns=2)
    inferred = [(r.parts, r.tokens[0::2]) for r in rows if r.inferred]
    assert inferred == [
        (["流動資產合計"], ["1,813,024", "2,179,901"]),
        (["保留盈餘合計"], ["5,360,200", "5,008,055"]),
    ]
    # Without the number of columns nothing is inferred (the figures cannot be placed).
    assert not any(r.inferred for r in _rows([(4, lines)]))


def test_the_last_sum_of_a_section_is_its_total() -> None:
    # 工程收入 less its returns is summed first, then 銷貨收入 is added: 營業收入 is the last.
    lines = [
        "營業收入(附註六(二十一))：",
        "4521 工程收入 $ 10,535,273 97 7,456,301 97",
        "4529 工程收入退回及折讓 (5,630) - (972) -",
        "10,529,643 97 7,455,329 97",
        "4100 銷貨收入淨額 378,239 3 204,254 3",
        "10,907,882 100 7,659,583 100",
    ]
    rows = [r for r in _rows([(6, lines)], columns=2) if r.inferred]
    assert [(r.parts, r.tokens[0]) for r in rows] == [(["營業收入合計"], "10,907,882")]


def test_nested_and_open_note_references_leave_the_label() -> None:
    assert normalise_label("銷貨收入淨額(附註六(二十)及七)") == "銷貨收入淨額"
    assert normalise_label("銷貨收入淨額（附註四及二") == "銷貨收入淨額"
    assert normalise_label("營業收入(附註六(二十一))：") == "營業收入"
    assert normalise_label("本期淨利（淨損）") == "本期淨利"


def test_two_panel_page_is_read_as_two_tables() -> None:
    lines = [
        "AAAA 營業活動之現金流量： BBBB 投資活動之現金流量：",
        "A10000 本期稅前淨利 454,641$ 355,474$ B02700 取得不動產、廠房及設備 (1,000)$ (2,000)",
        "11XX 流動資產總計 16,382,016 75 16,036,440 74 2570 遞延所得稅負債 8,377 - 9,927 -",
    ]
    rows = {r.code: r for r in _rows([(8, lines)])}
    assert rows["A10000"].tokens == ["454,641", "355,474"]
    assert rows["B02700"].tokens == ["(1,000)", "(2,000)"]
    assert rows["11XX"].tokens == ["16,382,016", "75", "16,036,440", "74"]
    assert rows["2570"].tokens == ["8,377", "-", "9,927", "-"]


class _FakePdf:
    """Pages of text standing in for a PDF's text layer."""

    def __init__(self, pages: list[str]) -> None:
        self._pages = pages
        # As PdfText: messages name the file; a text layer, so no page went through OCR.
        self.path = Path("report.pdf")
        self.ocr_pages: list[int] = []
        self.ocr_seconds = 0.0
        self.page_count = len(pages)
        self.pages_read = 0

    def text(self, index: int) -> str:
        self.pages_read = max(self.pages_read, index + 1)
        return self._pages[index]

    def pages(self) -> Any:
        for i in range(self.page_count):
            yield i, self.text(i)

    def text_share(self) -> float:
        return 1.0


BALANCE_SHEET = """某某股份有限公司
個體資產負債表
民國113年及112年12月31日
單位：新台幣仟元
113年12月31日 112年12月31日
1XXX 資產總計 $ 1,000 100 $ 900 100
2XXX 負債總計 400 40 300 33
3XXX 權益總計 600 60 600 67
"""

INCOME_WITHOUT_HEADER = """某某股份有限公司
個體綜合損益表
單位：新台幣仟元
4000 營業收入 500 100 450 100
8200 本期淨利 50 10 45 10
"""


def test_parent_only_report_partial_with_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        statements, "PdfText", lambda path: _FakePdf([BALANCE_SHEET, INCOME_WITHOUT_HEADER])
    )
    x = extract(Path("parent_only.pdf"))
    assert x.status["balance_sheet"].extracted and x.status["balance_sheet"].balanced is True
    assert x.value("total_assets") == 1_000_000
    income = x.status["income_statement"]
    assert not income.extracted and "表頭找不到期間日期" in (income.reason or "")
    assert "no period dates" in (income.reason or "")
    cash = x.status["cash_flow"]
    assert not cash.extracted and "cash flow statement" in (cash.reason or "")
    assert "revenue" not in x.items  # nothing is taken from a statement that was not read


def test_a_failed_check_flags_its_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = BALANCE_SHEET.replace("3XXX 權益總計 600 60", "3XXX 權益總計 700 60")
    monkeypatch.setattr(statements, "PdfText", lambda path: _FakePdf([wrong]))
    x = extract(Path("wrong.pdf"))
    assert x.status["balance_sheet"].balanced is False
    assert x.flag("total_equity", 0) and x.flag("total_assets", 0)
    assert x.flag("total_assets", 1) is None  # the prior year balances
    from assistant.credit.ratios import compute

    debt_ratio = compute(x).get("debt_ratio")
    assert debt_ratio.values[0] is None and "failed a check" in (debt_ratio.reasons[0] or "")


def test_nothing_usable_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements, "PdfText", lambda path: _FakePdf([INCOME_WITHOUT_HEADER]))
    with pytest.raises(StatementsNotFound, match="no period dates"):
        extract(Path("nothing.pdf"))
