"""Quarterly reports through the credit desk, and two reports of one company checked against
each other, on real MOPS reports of the shared data.

A memo drafted from a quarterly report shows the quarter's and the year-to-date figures, each
labelled with its period and dates; ratios that set a flow against a balance are annualised from
the year-to-date figures and said to be. Two reports of one company loaded together must agree
on the figures of the dates they share; a disagreement is flagged with both figures and both
reports, and the ratios refuse the figure.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.credit.crosscheck import basis, company_key, cross_check
from assistant.credit.memo import compose
from assistant.credit.memo_docx import to_markdown
from assistant.credit.ratios import compute
from assistant.credit.rules import Facility
from assistant.credit.statements import Extraction, extract
from tests.conftest import SHARED
from tests.test_credit_memo import PASSWORD, analyst, run

MOPS = SHARED / "statements" / "mops"
Q2 = MOPS / "202502_3029_AI1.pdf"  # half year 2025: 3- and 6-month columns
Q1 = MOPS / "202501_1587_AI1.pdf"  # first quarter 2025
ANNUAL = MOPS / "202404_1587_AI1.pdf"  # the same company's annual report of 2024
Q1_3029 = MOPS / "202501_3029_AI1.pdf"
CONSOLIDATED_2383 = MOPS / "202404_2383_AI1.pdf"
PARENT_ONLY_2383 = MOPS / "202404_2383_AI3.pdf"


def _read(path: Path) -> Extraction:
    if not path.is_file():
        pytest.fail(f"shared MOPS report not found: {path}; set ASSISTANT_SHARED_DATA")
    return extract(path)


@pytest.fixture(scope="module")
def q2() -> Extraction:
    return _read(Q2)


@pytest.fixture(scope="module")
def q1() -> Extraction:
    return _read(Q1)


@pytest.fixture(scope="module")
def annual() -> Extraction:
    return _read(ANNUAL)


# ---------------------------------------------------------------- periods


def test_quarterly_periods_are_labelled_with_their_dates(q2: Extraction) -> None:
    assert q2.interim and q2.period_months == [6, None, 6]
    cur, prior_end, same = q2.period_info
    assert (cur.role, prior_end.role, same.role) == (
        "current",
        "prior_year_end",
        "same_period_prior_year",
    )
    assert [p.end for p in q2.period_info] == [
        date(2025, 6, 30),
        date(2024, 12, 31),
        date(2024, 6, 30),
    ]
    assert cur.ytd is not None and (cur.ytd.start, cur.ytd.months) == (date(2025, 1, 1), 6)
    assert cur.quarter is not None and (cur.quarter.start, cur.quarter.months) == (
        date(2025, 4, 1),
        3,
    )
    assert cur.ytd_label == "2025-01-01～2025-06-30 年初至今 6 個月 / year to date, 6 months"
    assert cur.quarter_label == "2025-04-01～2025-06-30 第 2 季 3 個月 / Q2, 3 months"
    assert prior_end.ytd is None  # the balance sheet's prior year-end has no flows here
    assert same.quarter_label == "2024-04-01～2024-06-30 第 2 季 3 個月 / Q2, 3 months"
    assert q2.to_dict()["period_labels"][1]["label"] == "上年度期末 prior year-end 2024-12-31"


def test_first_quarter_and_annual_roles(q1: Extraction, annual: Extraction) -> None:
    assert q1.period_info[0].ytd_label is not None and "第 1 季" in q1.period_info[0].ytd_label
    assert [p.role for p in q1.period_info] == [
        "current",
        "prior_year_end",
        "same_period_prior_year",
    ]
    assert not annual.interim
    assert [p.role for p in annual.period_info] == ["current", "prior_year"]
    assert annual.period_info[0].ytd_label is not None
    assert "全年 12 個月" in annual.period_info[0].ytd_label


# ---------------------------------------------------------------- ratios


def test_flow_ratios_are_annualised_from_the_year_to_date(q2: Extraction) -> None:
    report = compute(q2)
    assert report.interim
    assert report.period_labels[0] == "本期 current period 2025-06-30"
    ni, assets = q2.value("net_income"), q2.value("total_assets")
    assert ni is not None and assets is not None
    roa = report.get("roa")
    assert roa.annualised and roa.flows
    assert roa.values[0] == pytest.approx(float(ni * 12 / 6 / assets * 100), abs=0.01)
    assert "年化 × 12 ÷ 6" in (roa.basis[0] or "") and "annualised × 12 ÷ 6" in (roa.basis[0] or "")
    for name in ("roe", "asset_turnover", "inventory_turnover", "ocf_to_current_liabilities"):
        assert "年化 × 12 ÷ 6" in (report.get(name).basis[0] or ""), name
    coverage = report.get("interest_coverage")
    assert not coverage.annualised and "毋須年化" in (coverage.basis[0] or "")
    assert report.get("current_ratio").basis[0] is None  # balances only
    assert any("期中報告" in n and "annualised × 12 ÷ 6" in n for n in report.notes)


def test_annual_ratios_are_not_said_to_be_annualised(annual: Extraction) -> None:
    report = compute(annual)
    assert not report.interim
    assert report.get("roa").basis[0] == "全年數字 / full-year figures"
    assert not any("期中報告" in n for n in report.notes)


# ---------------------------------------------------------------- memo


def test_quarterly_memo_shows_quarter_and_year_to_date(q2: Extraction) -> None:
    memo = compose(q2, compute(q2), Facility(), [])
    md = to_markdown(memo.document)
    revenue = q2.items["revenue"]
    assert revenue.quarter_values is not None
    flows = next(
        t
        for s in memo.document.sections
        for t in s.tables
        if t.header[:3] == ["項目 item", "報表 statement", "頁次 page"]
        and any("年初至今" in h for h in t.header)
    )
    assert flows.header[3:] == [
        "本期 current period：2025-04-01～2025-06-30 第 2 季 3 個月 / Q2, 3 months",
        "上年同期 same period of the prior year：2024-04-01～2024-06-30 第 2 季 3 個月 / Q2, "
        "3 months",
        "本期 current period：2025-01-01～2025-06-30 年初至今 6 個月 / year to date, 6 months",
        "上年同期 same period of the prior year：2024-01-01～2024-06-30 年初至今 6 個月 / year "
        "to date, 6 months",
    ]
    row = next(r for r in flows.rows if r[0].startswith("營業收入"))
    q_now, q_before = revenue.quarter_values[0], revenue.quarter_values[2]
    ytd_now, ytd_before = revenue.values[0], revenue.values[2]
    assert row[3:] == [f"{v:,.0f}" for v in (q_now, q_before, ytd_now, ytd_before)]  # type: ignore[str-format]
    # The balance sheet's comparative columns are named by what they are and their date.
    assert "上年度期末 prior year-end 2024-12-31" in md
    assert "上年同期 same period of the prior year 2024-06-30" in md
    # Annualised ratios say so, with the months, in Chinese and English.
    assert "本報告為期中報告" in md and "An interim report" in md
    assert "年初至今 6 個月，年化 × 12 ÷ 6 / year to date, 6 months, annualised × 12 ÷ 6" in md
    assert "期間說明 / the periods" in md


# ---------------------------------------------------------------- cross-report check


def test_annual_and_next_quarter_agree_on_the_year_end(q1: Extraction, annual: Extraction) -> None:
    a, b = copy.deepcopy(annual), copy.deepcopy(q1)
    assert company_key(a) == company_key(b) and basis(a) == basis(b) == "consolidated"
    check = cross_check([a, b])
    assert check.pairs == [(ANNUAL.name, Q1.name)]
    # The Q1 report's prior year-end column against the annual report's current column.
    assert check.compared >= 10 and check.agreed == check.compared
    assert check.disagreements == []
    assert b.value("total_assets", 1) == a.value("total_assets", 0)


def test_two_quarters_agree_on_the_shared_dates(q2: Extraction) -> None:
    a, b = copy.deepcopy(_read(Q1_3029)), copy.deepcopy(q2)
    check = cross_check([a, b])
    assert check.compared >= 10 and check.disagreements == []


def test_consolidated_and_parent_only_are_not_compared() -> None:
    check = cross_check([_read(CONSOLIDATED_2383), _read(PARENT_ONLY_2383)])
    assert check.pairs == [] and check.compared == 0
    assert "consolidated and parent-only figures differ by design" in check.not_compared[0]


def test_a_disagreement_is_flagged_with_both_figures_and_reports(
    q1: Extraction, annual: Extraction
) -> None:
    a, b = copy.deepcopy(annual), copy.deepcopy(q1)
    # A misread comparative column: the Q1 report's 2024-12-31 current assets off by 1,000,000.
    printed = b.items["current_assets"].values[1]
    assert printed is not None
    b.items["current_assets"].values[1] = printed + Decimal(1_000_000)
    check = cross_check([a, b])
    assert [(d.item, d.end) for d in check.disagreements] == [
        ("current_assets", date(2024, 12, 31))
    ]
    d = check.disagreements[0]
    assert (d.file_a, d.file_b) == (ANNUAL.name, Q1.name)
    assert (d.value_a, d.value_b) == (printed, printed + 1_000_000)
    for text in (ANNUAL.name, Q1.name, f"{printed:,.0f}", f"{printed + 1_000_000:,.0f}"):
        assert text in d.text, text
    # Flagged in both reports, at the period each printed it, so neither is used.
    assert "cross_report" in (a.flag("current_assets", 0) or "")
    assert "cross_report" in (b.flag("current_assets", 1) or "")
    assert b.flag("current_assets", 0) is None  # the quarter's own column was not compared
    assert compute(a).get("current_ratio").values[0] is None
    assert compute(b).get("current_ratio").values[1] is None
    assert compute(b).get("current_ratio").values[0] is not None
    md = to_markdown(compose(a, compute(a), Facility(), []).document)
    assert "跨報告不一致" in md and Q1.name in md and "cross-report disagreement" in md


def test_cli_extract_two_reports_checks_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    analyst(data)
    code, text = run(data, "credit", "extract", str(ANNUAL), str(Q1), "--json")
    assert code == 0, text
    out = json.loads(text)
    assert [r["file"] for r in out["reports"]] == [ANNUAL.name, Q1.name]
    assert out["cross_check"]["compared"] >= 10
    assert out["cross_check"]["disagreements"] == []
    # One unreadable report among several is named; the others are still read and checked.
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4 not really a report")
    args = ["--user", "cli-analyst", "credit", "extract", str(ANNUAL), str(bad), str(Q1), "--json"]
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), *args], env={"ASSISTANT_PASSWORD": PASSWORD}
    )
    assert result.exit_code == 1 and "scan.pdf" in result.stderr
    out = json.loads(result.stdout)
    assert [r["file"] for r in out["reports"]] == [ANNUAL.name, Q1.name]
    assert [u["file"] for u in out["unread"]] == ["scan.pdf"] and out["unread"][0]["error"]
    assert out["cross_check"]["compared"] >= 10
    code, text = run(data, "credit", "extract", str(Q2))
    assert code == 0, text
    assert "本期 current period 2025-06-30：2025-01-01～2025-06-30 年初至今 6 個月" in text
    assert "第 2 季 3 個月" in text


# ---------------------------------------------------------------- items the layouts hide


def test_subtotals_printed_without_labels_are_read_and_checked() -> None:
    # 流動資產合計, 流動負債合計 and 保留盈餘合計 are printed as figures alone in this layout.
    x = _read(MOPS / "202501_7805_AI1.pdf")
    for name in ("current_assets", "non_current_assets", "current_liabilities"):
        assert name in x.items and "printed without a label" in x.items[name].label, name
    split = {c.name: c.ok for c in x.checks}
    assert split["assets_split"] == [True, True, True]
    assert split["liabilities_split"] == [True, True, True]


def test_retained_earnings_without_a_total_is_the_sum_of_its_parts(q1: Extraction) -> None:
    # 3310 法定盈餘公積 + 3320 特別盈餘公積 + 3350 未分配盈餘, no 保留盈餘 total printed.
    item = q1.items["retained_earnings"]
    assert item.code == "3300" and "3310、3320、3350" in item.label
    assert item.values == [
        Decimal(137_984_000 + 50_470_000 + 32_038_000),
        Decimal(137_984_000 + 50_470_000 + 71_570_000),
        Decimal(133_847_000 + 50_296_000 + 144_464_000),
    ]


def test_company_named_when_the_heading_follows_the_table() -> None:
    # The text layer gives this report's heading after the rows (「對子公司之收購」 first): the
    # name is the line that is a name alone, so its two quarters are compared.
    a, b = _read(MOPS / "202501_3035_AI1.pdf"), _read(MOPS / "202502_3035_AI1.pdf")
    assert a.company == b.company == "智原科技股份有限公司及子公司"
    check = cross_check([a, b])
    assert check.pairs and check.compared >= 10 and check.disagreements == []
