"""Excel workbooks (.xlsx) through the mapped ledger import, as bank staff keep transfer lists:
title rows above the header, a cover sheet, dates and times as Excel dates, and identifiers
that Excel may have turned into numbers (refused by row unless their digits are certain)."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook

from assistant.errors import AssistantError
from assistant.fraud.importers import TOTAL_LINE, import_csv
from assistant.fraud.ledger import Ledger
from assistant.schema import open_engine
from tests.test_fraud_cli import run
from tests.test_fraud_ledger import SPLIT_TIME

MAPPING = SPLIT_TIME
HEADER = ["交易序號", "交易日期", "交易時間", "轉出帳號", "轉入帳號", "金額", "備註"]
PADDED = "00000000000000"  # the display format that keeps a 14-digit account's zeros


def _ledger(path: Path) -> Ledger:
    path.mkdir(parents=True, exist_ok=True)
    return Ledger(open_engine(f"sqlite:///{path / 'x.db'}"))


def _statement(path: Path) -> Path:
    """A cover sheet, then the transfers under two title rows; one row per case."""
    book = Workbook()
    book.active.title = "說明"
    book.active.append(["交易明細，資料日期 2024/01/31"])
    ws = book.create_sheet("明細")
    ws.append(["某銀行 存款交易明細"])
    ws.append([])
    ws.append(HEADER)  # row 3
    ws.append([1, date(2024, 1, 5), time(9, 30), "00742512076092", "00812345678901", 1200, "貨款"])
    # An account stored as a number: its leading zeros are gone (row 5, refused).
    ws.append([2, date(2024, 1, 5), time(10, 0), "00742512076092", 812345678901, 1500, ""])
    # The same number shown through a zero-padded format: its digits are certain (row 6).
    ws.append([3, datetime(2024, 1, 6, 11, 0), None, "00742512076092", 812345678901, 900.5, ""])
    ws.cell(row=6, column=5).number_format = PADDED
    # More than 15 digits as a number: Excel has already changed the last ones (row 7).
    ws.append([4, date(2024, 1, 6), time(12, 0), 12345678901234567, "00812345678901", 100, ""])
    ws.append([])  # row 8: blank, not a transfer
    ws.append([5, date(2024, 1, 7), time(8, 0), "00742512076092", "00812345678901", "abc", ""])
    ws.append(  # row 10: an amount as staff type it, a 20-digit id as text
        [
            "20240107000000000001",
            "2024/1/7",
            "09:15",
            "00742512076092",
            "00812345678901",
            "NT$2,500",
            "",
        ]
    )
    out = path / "明細.xlsx"
    book.save(out)
    return out


def test_a_workbook_as_staff_keep_it(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, _statement(tmp_path), MAPPING, batch=2)
    assert (report.rows, report.added, report.skipped) == (6, 3, 3)
    errors = dict(report.errors)
    assert sorted(errors) == [5, 7, 9]  # the sheet's own row numbers
    assert "leading zeros" in errors[5] and "開頭的 0" in errors[5]
    assert "more than 15 digits" in errors[7]
    assert "bad amount" in errors[9]
    got = {t.id: t for t in ledger.transfers_out("00742512076092")}
    assert sorted(got) == ["1", "20240107000000000001", "3"]
    # Excel dates and times, joined and read as Taiwan time, stored as UTC.
    assert got["1"].ts == datetime(2024, 1, 5, 1, 30)
    assert got["3"].ts == datetime(2024, 1, 6, 3, 0)
    assert got["20240107000000000001"].ts == datetime(2024, 1, 7, 1, 15)
    assert (got["1"].to_account, got["1"].amount, got["1"].memo) == ("00812345678901", 1200, "貨款")
    assert (got["3"].to_account, got["3"].amount) == ("00812345678901", 900.5)
    assert got["20240107000000000001"].amount == 2500
    # Nothing went in under the number Excel made of the account.
    assert ledger.transfers_in("812345678901") == []


def test_a_whole_number_id_is_exact_but_a_bank_code_number_is_not(tmp_path: Path) -> None:
    book = Workbook()
    ws = book.active
    ws.append(["序號", "時間", "轉出帳號", "轉出行", "轉入帳號", "轉入行", "金額"])
    ws.append([123456789012345, datetime(2024, 2, 1, 9, 0), "A1", "004", "B1", "822", 10])
    ws.append([123456789012346, datetime(2024, 2, 1, 9, 5), "A1", 4, "B1", "822", 10])
    ws.append([123456789012347, datetime(2024, 2, 1, 9, 9), "A1", 4, "B1", "822", 10])
    ws.cell(row=4, column=4).number_format = "000"
    path = tmp_path / "banks.xlsx"
    book.save(path)
    mapping = {"id": "序號", "ts": "時間", "from_account": "轉出帳號", "from_bank": "轉出行"}
    mapping |= {"to_account": "轉入帳號", "to_bank": "轉入行", "amount": "金額"}
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, mapping)
    assert [n for n, _ in report.errors] == [3]
    assert "from_bank" in report.errors[0][1]
    sent = {t.id: t.from_bank for t in ledger.transfers_out("A1")}
    assert sent == {"123456789012345": "004", "123456789012347": "004"}


def test_sheets_and_files_that_cannot_be_read_are_refused_whole(tmp_path: Path) -> None:
    path = _statement(tmp_path)
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, MAPPING, sheet="明細")
    assert report.added == 3
    with pytest.raises(AssistantError, match=r"no sheet '總表'.*說明, 明細"):
        import_csv(_ledger(tmp_path / "a"), path, MAPPING, sheet="總表")
    with pytest.raises(AssistantError, match=r"holds every mapped column.*交易明細"):
        import_csv(_ledger(tmp_path / "b"), path, {**MAPPING, "channel": "通路"})
    legacy = tmp_path / "old.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 60)  # damaged
    with pytest.raises(AssistantError, match="not a readable Excel workbook"):
        import_csv(_ledger(tmp_path / "c"), legacy, MAPPING)

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(path.read_bytes()[:2000])  # cut short, as a failed download leaves it
    with pytest.raises(AssistantError, match="not a readable Excel workbook"):
        import_csv(_ledger(tmp_path / "d"), broken, MAPPING)
    csv_file = tmp_path / "t.csv"
    csv_file.write_text(",".join(HEADER) + "\n", encoding="utf-8")
    with pytest.raises(AssistantError, match="--sheet applies to an Excel workbook"):
        import_csv(_ledger(tmp_path / "e"), csv_file, MAPPING, sheet="明細")
    # No mapping, and a header whose names do not say which column is the time.
    odd = Workbook()
    odd.active.append(["處理日", "轉出帳號", "轉入帳號", "金額"])
    odd.active.append(["2024-01-05", "A1", "B1", 5])
    odd_path = tmp_path / "odd.xlsx"
    odd.save(odd_path)
    with pytest.raises(AssistantError, match=r"which column is \['ts'\].*處理日"):
        import_csv(_ledger(tmp_path / "f"), odd_path, {})
    for name in "abcdef":
        assert _ledger(tmp_path / name).transfers_out("00742512076092") == []


def test_the_cli_reads_a_workbook(tmp_path: Path) -> None:
    path = _statement(tmp_path)
    maps = [x for f, c in MAPPING.items() for x in ("--map", f"{f}={c}")]
    code, out = run(tmp_path / "data", "fraud", "import-csv", str(path), *maps, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert (report["added"], [e["line"] for e in report["errors"]]) == (3, [5, 7, 9])
    code, out = run(tmp_path / "data", "fraud", "import-csv", str(path), *maps, "--sheet", "無此表")
    assert code == 1 and "無此表" in out


def test_the_old_binary_xls_reads_as_the_xlsx_does(tmp_path: Path) -> None:
    """Excel 97–2003 files, as many banks still export them: title rows, Excel dates, a
    zero-padded account kept, an account stored as a number refused by row; and an .xls that
    is really tab-separated text is read as that text."""
    import xlwt

    book = xlwt.Workbook()
    ws = book.add_sheet("明細")
    ws.write(0, 0, "某銀行 存款交易明細")
    for j, name in enumerate(HEADER):
        ws.write(2, j, name)
    day = xlwt.easyxf(num_format_str="yyyy/mm/dd")
    clock = xlwt.easyxf(num_format_str="hh:mm")
    padded = xlwt.easyxf(num_format_str=PADDED)
    rows = [
        (1, datetime(2024, 1, 5), time(9, 30), "00742512076092", "00812345678901", 1200),
        (2, datetime(2024, 1, 5), time(10, 0), "00742512076092", 812345678901, 1500),
        (3, datetime(2024, 1, 6), time(11, 0), "00742512076092", 812345678901, 900.5),
    ]
    for i, (tid, d, t, frm, to, amount) in enumerate(rows, start=3):
        ws.write(i, 0, tid)
        ws.write(i, 1, d, day)
        ws.write(i, 2, t, clock)
        ws.write(i, 3, frm)
        ws.write(i, 4, to, padded if tid == 3 else xlwt.Style.default_style)
        ws.write(i, 5, amount)
    path = tmp_path / "明細.xls"
    book.save(str(path))
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, MAPPING)
    assert (report.added, [n for n, _ in report.errors]) == (2, [5])
    assert "leading zeros" in report.errors[0][1]
    got = {t.id: (t.to_account, t.amount, t.ts) for t in ledger.transfers_out("00742512076092")}
    assert got == {
        "1": ("00812345678901", 1200.0, datetime(2024, 1, 5, 1, 30)),  # UTC
        "3": ("00812345678901", 900.5, datetime(2024, 1, 6, 3, 0)),
    }
    text = tmp_path / "匯出.xls"
    text.write_text(
        "\t".join(HEADER) + "\n" + "7\t2024/01/08\t10:00\tA1\tB1\t300\t\n", encoding="utf-8"
    )
    assert import_csv(_ledger(tmp_path / "t"), text, MAPPING).added == 1


def test_a_web_page_saved_as_xls_reads_its_table(tmp_path: Path) -> None:
    """What a bank's web page offers as Excel is often an HTML table named .xls (Big5 here):
    read as a sheet, the title row spanning the columns skipped, text kept as text."""
    head = "".join(f"<th>{h}</th>" for h in HEADER)
    page = tmp_path / "web.xls"
    page.write_bytes(
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=big5">'
            '</head><body><table><tr><td colspan="7">某銀行 存款交易明細</td></tr>'
            f"<tr>{head}</tr>"
            "<tr><td>1</td><td>2024/01/05</td><td>下午 01:30</td><td>00742512076092</td>"
            "<td>00812345678901</td><td>1,200</td><td>貨款</td></tr>"
            '<tr><td colspan="999999999">合計</td></tr>'
            "</table></body></html>"
        ).encode("big5")
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, page, MAPPING)
    assert (report.added, report.errors) == (1, [])
    assert report.omitted == {TOTAL_LINE: 1}  # 合計, spanning the columns
    (t,) = ledger.transfers_out("00742512076092")
    assert (t.to_account, t.amount, t.ts) == ("00812345678901", 1200.0, datetime(2024, 1, 5, 5, 30))


def test_a_web_page_table_with_cells_spanning_rows(tmp_path: Path) -> None:
    """A web page writes a day's date (and here the paying account) once for the rows under
    it: each row gets it, and the cells after it stay in their columns."""
    head = "".join(f"<th>{h}</th>" for h in HEADER)
    page = tmp_path / "web.xls"
    page.write_text(
        "<html><body><table>"
        f"<tr>{head}</tr>"
        '<tr><td>1</td><td rowspan="2">2024/01/05</td><td>09:00</td>'
        '<td rowspan="3">00742512076092</td><td>B1</td><td>1,200</td><td>貨款</td></tr>'
        "<tr><td>2</td><td>10:00</td><td>B2</td><td>800</td><td></td></tr>"
        "<tr><td>3</td><td>2024/01/06</td><td>11:00</td><td>B3</td><td>500</td><td></td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, page, MAPPING)
    assert (report.added, report.errors) == (3, [])
    got = sorted((t.to_account, t.ts, t.amount) for t in ledger.transfers_out("00742512076092"))
    assert got == [
        ("B1", datetime(2024, 1, 5, 1, 0), 1200.0),
        ("B2", datetime(2024, 1, 5, 2, 0), 800.0),
        ("B3", datetime(2024, 1, 6, 3, 0), 500.0),
    ]


MERGED_ROWS = [  # the date and the paying account written once for the day's rows
    [1, "2024/01/05", "09:00", "00742512076092", "B1", 1200, "貨款"],
    [2, None, "10:00", None, "B2", 800, None],
    [3, "2024/01/06", "11:00", None, "B3", 500, None],
]


def _merged_expected(ledger: Ledger) -> None:
    got = sorted((t.to_account, t.ts, t.amount) for t in ledger.transfers_out("00742512076092"))
    assert got == [
        ("B1", datetime(2024, 1, 5, 1, 0), 1200.0),
        ("B2", datetime(2024, 1, 5, 2, 0), 800.0),
        ("B3", datetime(2024, 1, 6, 3, 0), 500.0),
    ]


def test_merged_cells_of_an_xlsx_hold_for_each_row(tmp_path: Path) -> None:
    """Excel keeps a merged cell's value in its first cell only: the date merged over two rows
    and the account over three are read on each, a title merged across the columns skipped,
    and a cell after the merge has ended is left as it is (empty: the row is reported)."""
    wb = Workbook()
    ws = wb.active
    ws.append(["某銀行 存款交易明細"])
    ws.merge_cells("A1:G1")
    ws.append(HEADER)
    for row in MERGED_ROWS:
        ws.append(row)
    ws.append([4, "2024/01/07", "12:00", None, "B4", 100, None])  # the merge ended above
    ws.merge_cells("B3:B4")
    ws.merge_cells("D3:D5")
    path = tmp_path / "merged.xlsx"
    wb.save(path)
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, MAPPING)
    assert (report.added, [n for n, _ in report.errors]) == (3, [6])
    _merged_expected(ledger)


def test_merged_cells_of_an_xls_hold_for_each_row(tmp_path: Path) -> None:
    import xlwt

    book = xlwt.Workbook()
    ws = book.add_sheet("明細")
    for c, name in enumerate(HEADER):
        ws.write(0, c, name)
    for r, row in enumerate(MERGED_ROWS, start=1):
        for c, value in enumerate(row):
            if value is not None and (r, c) not in {(1, 1), (1, 3)}:
                ws.write(r, c, value)
    ws.write_merge(1, 2, 1, 1, "2024/01/05")
    ws.write_merge(1, 3, 3, 3, "00742512076092")
    path = tmp_path / "merged.xls"
    book.save(str(path))
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, MAPPING)
    assert (report.added, report.errors) == (3, [])
    _merged_expected(ledger)
