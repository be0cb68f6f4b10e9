"""The credit extraction over the 59 real MOPS reports of the shared data (39 companies,
consolidated and parent-only, annual and Q1–Q3): per statement, the share of reports extracted
and balanced, and a specific reason for every failure.

About seven minutes on two cores (a minute for the 56 reports with a text layer, the rest OCR of
the 23 scanned statement pages of the other three): `make test` runs it (ASSISTANT_EVAL_MOPS=1)
on its SQLite pass only, since it reads PDFs and no database; `make eval-credit` prints the
table as well.

Five companies were kept aside while the layouts were developed and are checked on their own
as reports of companies the extractor had never seen: 2379, 4953, 6462, 7709, 8045.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from evals.credit import BUNDLED, evaluate

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
MOPS = SHARED / "statements" / "mops"
HELD_OUT = ("2379", "4953", "6462", "7709", "8045")

pytestmark = [
    pytest.mark.mops,
    pytest.mark.skipif(
        not os.environ.get("ASSISTANT_EVAL_MOPS"),
        reason="about seven minutes: `make test` and `make eval-credit` run it "
        "(ASSISTANT_EVAL_MOPS=1)",
    ),
]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    if not MOPS.is_dir():
        pytest.fail(f"shared MOPS reports not found at {MOPS}; set ASSISTANT_SHARED_DATA")
    return evaluate(MOPS, BUNDLED)


def test_every_statement_extracted_and_balanced(report: dict[str, Any]) -> None:
    # 59 of 59: the three reports whose statement pages are scanned images (no text layer) are
    # read by OCR, and every statement of theirs passes its checks as the others do.
    # Thresholds are what was measured, not aspirations.
    assert report["n_files"] == 59
    for kind, s in report["statements"].items():
        assert s["extracted"] == 59, (kind, s["failures"])
        assert s["balanced"] == 59, (kind, s["failed_checks"])
        assert s["failed_checks"] == [], kind


def test_scanned_reports_read_by_ocr_only(report: dict[str, Any]) -> None:
    ocr = report["ocr"]
    assert sorted(ocr["reports"]) == [
        "202301_2382_AI1.pdf",
        "202401_6510_AI1.pdf",
        "202402_6510_AI1.pdf",
    ]
    assert ocr["balanced"] == {k: 3 for k in report["statements"]}
    for f in report["files"]:
        scanned = f["file"] in ocr["reports"]
        assert all(s["ocr"] is scanned for s in f["statements"].values()), f["file"]


def test_items_the_layouts_hide_are_read(report: dict[str, Any]) -> None:
    # Measured: before unlabelled subtotals were named by their sums and 保留盈餘 by its parts,
    # current assets 47, current liabilities 46, revenue 51, retained earnings 27 and equity of
    # the parent 30 of the 56 reports read. Of the 20 without the last, 19 print no
    # non-controlling interests (their total equity is the parent's; no such line is printed).
    # With the three scanned reports read by OCR: 59, less the current liabilities of
    # 202301_2382 (printed without a label; a nil dash the OCR did not see leaves a row out of
    # the section's sum, so the subtotal is not named).
    assert report["n_read"] == 59
    items = report["items"]
    for name in ("current_assets", "revenue", "retained_earnings"):
        assert items[name] == 59, (name, items[name])
    assert items["current_liabilities"] >= 58
    assert items["equity_attributable_to_parent"] >= 39


def test_reports_of_one_company_agree_on_shared_dates(report: dict[str, Any]) -> None:
    # 13 pairs of one company on one basis (annual and next quarter, two quarters); the 5
    # consolidated/parent-only pairs are left out with the reason. Every shared figure agrees.
    cross = report["cross_report"]
    assert cross["pairs"] == 13 and cross["compared"] >= 250
    assert cross["disagreements"] == [] and cross["agreed"] == cross["compared"]
    assert len(cross["not_compared"]) == 5
    assert all("parent-only" in w for w in cross["not_compared"])


def test_every_failure_says_why(report: dict[str, Any]) -> None:
    for s in report["statements"].values():
        for f in s["failures"]:
            reason = f["reason"] or ""
            assert " / " in reason, f  # Chinese first, then English
    assert report["unreadable"] == []


def test_held_out_companies(report: dict[str, Any]) -> None:
    held = [f for f in report["files"] if f["file"].split("_")[1] in HELD_OUT]
    assert len(held) == 8
    for f in held:
        assert all(s["extracted"] and s["balanced"] for s in f["statements"].values()), f


def test_speed(report: dict[str, Any]) -> None:
    # The goal is a 100-page report under 10 s on 2 cores; the longest of these is ~2 s. It is
    # for reports with a text layer: OCR takes seconds a page (~13 s here, measured in the eval).
    text = [f for f in report["files"] if "seconds" in f and not f.get("ocr_pages")]
    assert len(text) == 56
    assert max(f["seconds"] for f in text) < 10
