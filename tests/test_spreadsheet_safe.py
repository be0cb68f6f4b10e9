"""Exported evidence opened in a spreadsheet shows what the ledger's files said, and runs
none of it (CSV injection through a memo or a transaction id)."""

from __future__ import annotations

import csv
import io

import numpy as np

from assistant.fraud.trace import TransferIndex
from assistant.textfiles import spreadsheet_safe


def test_formula_starts_get_an_apostrophe() -> None:
    for text in ("=1+1", "+886912345678", "-2", "@SUM(A1)", "\t=1", "\r=1"):
        assert spreadsheet_safe(text) == "'" + text
    for value in ("貨款", "1,000", -2.5, 3, None, ""):
        assert spreadsheet_safe(value) == value


def test_a_trace_csv_keeps_a_hostile_memo_as_text() -> None:
    ix = TransferIndex(
        np.array(["=cmd|' /C calc'!A0", "T2"], dtype=object),
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([1_700_000_000, 1_700_000_600]),
        np.array([100.0, 90.0]),
        ["A", "B", "C"],
    )
    result = ix.trace("A", "down", 2)
    buf = io.StringIO()
    memo = '=HYPERLINK("http://attacker.example","看這裡")'
    result.to_csv(buf, {"T2": {"memo": memo}})
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["transfer_id"] for r in rows] == ["'=cmd|' /C calc'!A0", "T2"]
    assert rows[1]["memo"] == "'" + memo
    assert rows[0]["amount"] == "100.0"  # numbers stay numbers
