"""Statements read by OCR from scanned pages: the layout of recognised boxes as text lines, a
real MOPS report whose statement pages are scans (read with the bundled models, nothing fetched),
and a report with a text layer never going to OCR."""

from __future__ import annotations

import os
import socket
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.credit import statements
from assistant.credit.ocr import Box, layout, statement_kind
from assistant.credit.schema import BALANCE_SHEET, INCOME_STATEMENT
from assistant.credit.statements import extract

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
TEXT_REPORT = SHARED / "statements" / "2301_202404_AI1.pdf"
SCANNED_REPORT = SHARED / "statements" / "mops" / "202401_6510_AI1.pdf"


def _row(y: float, *cells: tuple[float, float, str]) -> list[Box]:
    return [Box(x0, y, x1, y + 28, text) for x0, x1, text in cells]


def test_layout_keeps_one_amount_per_column() -> None:
    # Three periods, each an amount column (right edges 900, 1167, 1415) and a percentage column.
    boxes = [
        *_row(400, (810, 946, "113年3月31日"), (1063, 1209, "112年12月31日")),
        *_row(400, (1327, 1463, "112年3月31日")),
        *_row(491, (159, 211, "1100"), (292, 548, "现金及约當現金（附注六）")),
        *_row(494, (777, 901, "$2,629,909"), (962, 992, "32"), (1052, 1168, "$2,693,184")),
        *_row(494, (1222, 1255, "33"), (1293, 1415, "$2,985,237"), (1476, 1509, "35")),
        *_row(548, (159, 213, "130X"), (291, 440, "存货"), (821, 901, "324,874")),
        # a misread separator (「12.361」), a nil dash read as 「二」, a percentage dash
        *_row(548, (1088, 1168, "12.361"), (1395, 1416, "二"), (1236, 1252, "二")),
        *_row(600, (157, 220, "XXXL"), (245, 300, "资產總计"), (777, 898, "$_8,204.829")),
        *_row(600, (1137, 1174, "79)"), (1292, 1415, "$8,634,454"), (1461, 1508, "100")),
        *_row(650, (159, 211, "3XXX"), (332, 424, "權益總計"), (797, 897, "7,591,619")),
        *_row(650, (1068, 1167, "7,573,523"), (1316, 1413, "7,921,851")),
    ]
    lines = layout(boxes, 1654)
    assert lines[0] == "113年3月31日 112年12月31日 112年3月31日"
    assert lines[1] == "1100 現金及約當現金（附註六） 2,629,909 2,693,184 2,985,237"
    assert lines[2] == "130X 存貨 324,874 12,361 -"
    # A code misread past repair is dropped so that the label finds the row; 「(」 missed.
    assert lines[3] == "資產總計 8,204,829 (79) 8,634,454"


def test_a_figure_the_ocr_missed_is_not_invented() -> None:
    boxes = [
        *_row(100, (159, 211, "2170"), (290, 380, "應付帳款"), (816, 898, "166,907")),
        *_row(100, (1085, 1167, "188,177"), (1334, 1414, "156,615")),
        *_row(140, (159, 211, "2220"), (290, 380, "其他應付款"), (1125, 1168, "166")),
        *_row(140, (1383, 1416, "32")),
        *_row(180, (159, 211, "2230"), (290, 380, "本期所得稅負債"), (829, 897, "36,255")),
        *_row(180, (1099, 1167, "34,226"), (1346, 1415, "79,054")),
    ]
    lines = layout(boxes, 1654)
    # The first period's figure of 2220 was not read: the row keeps two figures for three
    # columns, which the extractor leaves out rather than guess.
    assert lines[1] == "2220 其他應付款 166 32"
    assert statements._amounts(statements._split_values(lines[1])[1], 3) is None
    assert statements._amounts(statements._split_values(lines[0])[1], 3) is not None


def test_statement_named_by_its_codes() -> None:
    bs = [f"{c} x 1,000 2,000" for c in ("1100", "1170", "130X", "11XX", "1600", "1XXX")]
    income = [f"{c} x 1,000 2,000" for c in ("4000", "5000", "5900", "6000", "7000", "8200")]
    assert statement_kind(bs) == BALANCE_SHEET
    assert statement_kind(income) == INCOME_STATEMENT
    assert statement_kind(["A1 x 1,000", "C7 y 2,000"]) is None


def test_text_report_never_goes_to_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    if not TEXT_REPORT.is_file():
        pytest.fail(f"shared report not found at {TEXT_REPORT}; set ASSISTANT_SHARED_DATA")

    def tripwire(page: object) -> str:
        raise AssertionError("OCR ran on a report with a text layer")

    monkeypatch.setattr(statements, "_ocr_page", tripwire)
    x = extract(TEXT_REPORT)
    assert x.ocr_pages == [] and x.ocr_seconds == 0
    assert not any(st.ocr for st in x.status.values())
    assert all(st.extracted and st.balanced for st in x.status.values())
    assert not any("OCR" in w for w in x.warnings)


@pytest.mark.mops
@pytest.mark.skipif(
    not os.environ.get("ASSISTANT_EVAL_MOPS"),
    reason="OCR of 8 scanned pages, about 1–2 minutes: `make eval-credit` runs it "
    "(ASSISTANT_EVAL_MOPS=1)",
)
def test_scanned_report_read_by_ocr_and_balanced(monkeypatch: pytest.MonkeyPatch) -> None:
    if not SCANNED_REPORT.is_file():
        pytest.fail(f"shared report not found at {SCANNED_REPORT}; set ASSISTANT_SHARED_DATA")

    # The models are bundled: reading the scans must not reach the network.
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("OCR tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    seen: list[int] = []
    x = extract(SCANNED_REPORT, progress=lambda page, count: seen.append(page))
    assert seen == x.ocr_pages and 5 in x.ocr_pages
    bs = x.status[BALANCE_SHEET]
    assert bs.extracted and bs.balanced and bs.ocr, bs
    k = Decimal(1000)  # 仟元
    assert x.items["total_assets"].values == [8_204_829 * k, 8_272_395 * k, 8_634_454 * k]
    assert x.items["total_liabilities"].values == [613_210 * k, 698_872 * k, 712_603 * k]
    assert x.items["total_equity"].values == [7_591_619 * k, 7_573_523 * k, 7_921_851 * k]
    assert x.items["current_assets"].values[0] == 3_788_825 * k
    for name in ("total_assets", "total_liabilities", "total_equity", "current_assets"):
        assert x.items[name].flags == {}, name
    assert any("OCR" in w and "資產負債表" in w for w in x.warnings)
    assert x.to_dict()["statement_status"][BALANCE_SHEET]["ocr"] is True
