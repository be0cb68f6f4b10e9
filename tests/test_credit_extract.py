"""Statement extraction and ratios on the real shared MOPS report, the distinct errors for
reports that cannot be read, and the `assistant credit` / `assistant eval credit` commands."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.credit.pdftext import (
    EncryptedPdf,
    NoTextLayer,
    StatementsNotFound,
    UnreadablePdf,
)
from assistant.credit.ratios import compute
from assistant.credit.schema import BALANCE_SHEET_TOTALS, normalise_label
from assistant.credit.statements import Extraction, _columns, _rows, _split_values, extract
from tests.cli_users import login_env

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
REPORT = SHARED / "statements" / "2301_202404_AI1.pdf"
EXPECTED = ROOT / "evals" / "credit_expected" / "statements.json"


@pytest.fixture(scope="module")
def report() -> Extraction:
    if not REPORT.is_file():
        pytest.fail(f"shared report not found at {REPORT}; set ASSISTANT_SHARED_DATA")
    return extract(REPORT)


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))[REPORT.name]


def test_periods_current_first(report: Extraction, expected: dict) -> None:
    assert report.periods == [date(2024, 12, 31), date(2023, 12, 31)]
    assert [p.isoformat() for p in report.periods] == expected["periods"]
    assert report.period_months == [12, 12]


def test_balance_sheet_totals_equal_expected(report: Extraction, expected: dict) -> None:
    for name in BALANCE_SHEET_TOTALS:
        if name in expected["items"]:
            assert [int(v) for v in report.items[name].values] == expected["items"][name], name


def test_every_expected_figure(report: Extraction, expected: dict) -> None:
    got = report.to_dict()["items"]
    wrong = {
        k: (got.get(k, {}).get("values"), v)
        for k, v in expected["items"].items()
        if got.get(k, {}).get("values") != v
    }
    assert not wrong


def test_unit_applied_and_eps_per_share(report: Extraction) -> None:
    assert {s.unit for s in report.statements.values()} == {"仟元"}
    # 資產總計 is printed 204,682,769 (仟元).
    assert report.value("total_assets") == Decimal(204_682_769_000)
    assert report.value("eps") == Decimal("5.21")
    assert report.items["eps"].per_share


def test_negative_figures_in_parentheses(report: Extraction) -> None:
    assert report.value("cost_of_revenue") == Decimal(-107_504_163_000)
    assert report.value("capex") == Decimal(-3_548_191_000)


def test_pages_and_labels(report: Extraction) -> None:
    assert report.statements["balance_sheet"].pages == [8]
    assert report.statements["income_statement"].pages == [9, 10, 11]
    assert report.statements["cash_flow"].pages == [13, 14, 15]
    assert report.items["total_assets"].page == 8
    assert report.items["revenue"].page == 9
    assert report.items["net_income"].page == 10
    assert report.items["eps"].page == 11
    assert report.items["operating_cash_flow"].page == 14
    assert report.items["cash_end"].page == 15
    assert normalise_label(report.items["total_assets"].label) == "資產總計"
    # The early stop: the notes (pages 16–111) are not read.
    assert report.pages_read < 20


def test_assets_equal_liabilities_plus_equity(report: Extraction) -> None:
    for i in range(len(report.periods)):
        a = report.value("total_assets", i)
        le = report.value("total_liabilities", i) + report.value("total_equity", i)
        assert a is not None
        assert abs(a - le) <= 1000
    assert all(all(c.ok) for c in report.checks)
    assert not report.warnings


def test_ratios(report: Extraction) -> None:
    r = compute(report)
    assert r.get("current_ratio").values[0] == pytest.approx(169_116_615 / 107_869_245, abs=1e-4)
    assert r.get("debt_ratio").values[0] == pytest.approx(113_772_045 / 204_682_769 * 100, abs=0.01)
    ebit = 15_634_635 + 1_516_464
    assert r.get("interest_coverage").values[0] == pytest.approx(ebit / 1_516_464, abs=1e-4)
    roe = r.get("roe")
    assert roe.annualised and roe.values[0] == pytest.approx(
        11_960_496 / 90_910_724 * 100, abs=0.01
    )
    assert roe.sources["net_income"]["page"] == 10
    assert r.get("free_cash_flow").values[0] == (12_411_121 - 3_548_191) * 1000
    assert r.get("revenue_growth").values[0] == pytest.approx(
        (137_133_894 / 148_333_455 - 1) * 100, abs=0.01
    )
    assert r.get("current_ratio").changes[0]["against"] == "2023-12-31"
    assert r.get("current_ratio").formula_zh and r.get("current_ratio").formula_en


def test_ratio_none_with_reason(report: Extraction) -> None:
    x = extract_copy(report)
    del x.items["inventories"]
    x.items["current_liabilities"].values = [Decimal(0), None]
    r = compute(x)
    cr = r.get("current_ratio")
    assert cr.values == [None, None]
    assert "流動負債" in (cr.reasons[0] or "") and "not shown" in (cr.reasons[1] or "")
    inv = r.get("inventory_turnover")
    assert inv.values == [None, None] and "inventories" in (inv.reasons[0] or "")


def extract_copy(x: Extraction) -> Extraction:
    import copy

    return copy.deepcopy(x)


# --- a quarterly layout, as text: quarter and year-to-date columns -------------------------

QUARTERLY_IS = """某某股份有限公司及子公司
合併綜合損益表
民國 113 年及 112 年 4 月 1 日至 6 月 30 日以及民國 113 年及 112 年 1 月 1 日至 6 月 30 日
單位：新台幣千元，惟每股盈餘為元
 113年4月1日至6月30日 112年4月1日至6月30日 113年1月1日至6月30日 112年1月1日至6月30日
代碼 金額 % 金額 % 金額 % 金額 %
4000 營業收入合計 $ 1,000 100 $ 900 100 $ 2,100 100 $ 1,800 100
8200 本期淨利（淨損） ( 50 ) ( 5 ) 90 10 120 6 ( 30 ) ( 2 )
"""


def test_quarterly_columns_and_rows() -> None:
    lines = QUARTERLY_IS.splitlines()
    cols = _columns(lines)
    assert [(c.start, c.end, c.months) for c in cols] == [
        (date(2024, 4, 1), date(2024, 6, 30), 3),
        (date(2023, 4, 1), date(2023, 6, 30), 3),
        (date(2024, 1, 1), date(2024, 6, 30), 6),
        (date(2023, 1, 1), date(2023, 6, 30), 6),
    ]
    rows = _rows([(8, lines)])
    ni = next(r for r in rows if r.code == "8200")
    assert ni.tokens[0::2] == ["( 50 )", "90", "120", "( 30 )"]
    assert ni.page == 9


def test_split_values_keeps_digits_inside_labels() -> None:
    assert _split_values("現金（附註6）   $ 1,234   5   ( 56 )   ( 1 )") == (
        "現金（附註6）",
        ["$ 1,234", "5", "( 56 )", "( 1 )"],
    )
    assert _split_values("應收帳款－關係人   932,733   -   577,330   -")[1] == [
        "932,733",
        "-",
        "577,330",
        "-",
    ]


def test_labels_normalise_across_reports() -> None:
    assert normalise_label("本期淨利（淨損）") == normalise_label("本期淨利")
    assert normalise_label("負 債 總 計") == "負債總計"
    assert normalise_label("存貨－淨額（附註十二）") == "存貨淨額"
    assert normalise_label("減：營業成本") == "營業成本"


# --- reports that cannot be read ---------------------------------------------------------


def _text_pdf(path: Path, lines: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    for line in lines:
        pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_scanned_pdf_has_no_text_layer(tmp_path: Path) -> None:
    from fpdf import FPDF
    from PIL import Image

    image = tmp_path / "scan.png"
    Image.new("RGB", (200, 280), "white").save(image)
    pdf = FPDF()
    for _ in range(3):
        pdf.add_page()
        pdf.image(str(image), x=10, y=10, w=180)
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(NoTextLayer, match="no text layer") as info:
        extract(path)
    assert info.value.kind == "no_text"


def test_encrypted_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = _text_pdf(tmp_path / "plain.pdf", ["Balance sheet"])
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as f:
        writer.write(f)
    with pytest.raises(EncryptedPdf, match="encrypted") as info:
        extract(locked)
    assert info.value.kind == "encrypted"


def test_text_pdf_without_statements(tmp_path: Path) -> None:
    path = _text_pdf(tmp_path / "memo.pdf", ["Board minutes", "Nothing financial here."] * 5)
    with pytest.raises(StatementsNotFound, match="no balance sheet") as info:
        extract(path)
    assert info.value.kind == "not_found"


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(UnreadablePdf, match="not a PDF"):
        extract(path)


# --- the command line ----------------------------------------------------------------------


def test_cli_extract_json(tmp_path: Path, report: Extraction) -> None:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path), "credit", "extract", str(REPORT), "--json"],
        env=login_env(tmp_path, "credit"),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["periods"] == ["2024-12-31", "2023-12-31"]
    assert data["items"]["total_assets"]["values"] == [204_682_769_000, 188_972_260_000]
    assert data["items"]["total_assets"]["page"] == 8
    assert data["items"]["total_assets"]["statement"] == "balance_sheet"
    assert data["statements"]["balance_sheet"]["unit"] == "仟元"


def test_cli_ratios_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path), "credit", "ratios", str(REPORT), "--json"],
        env=login_env(tmp_path, "credit"),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = {r["name"] for r in data["ratios"]}
    assert {
        "current_ratio",
        "quick_ratio",
        "debt_ratio",
        "interest_coverage",
        "roe",
        "asset_turnover",
        "free_cash_flow",
    } <= names


def test_cli_unreadable_exits_1(tmp_path: Path) -> None:
    path = _text_pdf(tmp_path / "memo.pdf", ["Nothing financial here."])
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path), "credit", "extract", str(path)],
        env=login_env(tmp_path, "credit"),
    )
    assert result.exit_code == 1
    assert "找不到" in result.output and "no balance sheet" in result.output


def test_cli_eval_credit(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / REPORT.name).symlink_to(REPORT)
    _text_pdf(folder / "memo.pdf", ["Nothing financial here."])
    result = CliRunner().invoke(
        cli,
        [
            "--data-dir",
            str(tmp_path),
            "eval",
            "credit",
            str(folder),
            "--expected",
            str(EXPECTED),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["overall"]["share"] == 1.0
    assert data["overall"]["totals_share"] == 1.0
    assert data["unreadable"] == [
        {"file": "memo.pdf", "kind": "not_found", "reason": data["unreadable"][0]["reason"]}
    ]
