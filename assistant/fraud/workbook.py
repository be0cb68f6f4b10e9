"""An Excel workbook (.xlsx, or the old binary .xls, or a web page's tables saved as .xls) as
a table of text, for the mapped ledger import.

Bank staff keep transfer lists in Excel, and Excel changes identifiers it takes for numbers: an
account typed as 00742512076092 is stored as 742512076092, and a number of more than 15 digits
keeps only its first 15. Nothing here guesses the digits back: a cell of an identifier column
(account, bank code, transaction id) stored as a number is read only when its own display
format pads it with zeros (「00000000000000」, the usual way to show leading zeros), or, for a
transaction id, when it is a whole number below 10^15 (exact, and an id only has to be
unique). Any other such cell is an ``Unreadable`` value that the importer reports with its row,
so the row is left out and said why, never stored under another account.

The header is the first row, among the first ``HEADER_ROWS``, that holds every mapped column:
an export's title lines above it are skipped. Without ``sheet`` the first worksheet that has
such a row is read. Dates and times stored as Excel dates are written as ISO text (a date
alone as the date, a time alone as the time, so a date and a time in two columns join as
staff would write them); they carry no zone and are read as Taiwan time, as a CSV's are. A
value merged over several rows (a day's date, an account written once for its rows), or an
HTML cell spanning them, holds for each row it covers.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

HEADER_ROWS = 50
SUFFIXES = (".xlsx", ".xlsm")
# Excel keeps integers exactly up to 15 significant digits.
EXACT_DIGITS = 15
_ZERO_PAD = re.compile(r"^0+$")


class Unreadable(str):
    """A cell the import must not read: the text says why, Chinese first."""


LEGACY = ".xls"  # Excel 97–2003's binary format, read with xlrd
_OLE2 = b"\xd0\xcf\x11\xe0"  # the binary .xls
_ZIP = b"PK"  # an .xlsx, whatever its name


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(512)


def _is_html(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def is_workbook(path: Path) -> bool:
    """An .xlsx, or an .xls that is a workbook or a web page's tables (what banks' web pages
    offer as Excel often is). An .xls of plain text (a CSV or tab-separated table) is read as
    the text it is (False)."""
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return True
    if suffix != LEGACY:
        return False
    head = _head(path)
    return head.startswith((_OLE2, _ZIP)) or _is_html(head)


@dataclass
class _Cell:
    value: Any
    number_format: str


class _LegacyUnreadable(Exception):
    """An .xls that xlrd cannot read (damaged, cut short, encrypted)."""


class _LegacySheet:
    """An .xls worksheet with the openpyxl calls ``read_table`` makes: rows of cells, each
    with its value (dates as datetimes) and its display format."""

    def __init__(self, book: Any, sheet: Any) -> None:
        self.book, self.sheet, self.max_row = book, sheet, sheet.nrows

    def _value(self, cell: Any) -> Any:
        import xlrd

        if cell.ctype == xlrd.XL_CELL_DATE:
            moment = xlrd.xldate.xldate_as_datetime(cell.value, self.book.datemode)
            return moment.time() if cell.value < 1 else moment
        if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
            return None
        return cell.value

    def _format(self, cell: Any) -> str:
        xf = self.book.xf_list[cell.xf_index]
        fmt = self.book.format_map.get(xf.format_key)
        return fmt.format_str if fmt is not None else "General"

    def merged(self) -> list[tuple[int, int, int, int]]:
        """Merged ranges as (first row, first column, last row, last column), from 1."""
        return [(r0 + 1, c0 + 1, r1, c1) for r0, r1, c0, c1 in self.sheet.merged_cells]

    def iter_rows(self, min_row: int = 1, max_row: int | None = None) -> Iterator[list[_Cell]]:
        last = self.sheet.nrows if max_row is None else min(max_row, self.sheet.nrows)
        for r in range(min_row - 1, last):
            yield [_Cell(self._value(c), self._format(c)) for c in self.sheet.row(r)]


class _LegacyBook:
    """An .xls workbook as far as ``read_table`` uses one."""

    def __init__(self, path: Path) -> None:
        import xlrd

        self.book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
        self.sheetnames = self.book.sheet_names()

    def __getitem__(self, name: str) -> _LegacySheet:
        return _LegacySheet(self.book, self.book.sheet_by_name(name))

    def close(self) -> None:
        self.book.release_resources()


_MAX_SPAN = 100  # columns one HTML cell may span
_MAX_ROWS = 100_000  # rows it may span (it fills only rows that are there)


class _HtmlSheet:
    """One table of a web page: its rows' cells as text (a cell spanning columns fills them)."""

    def __init__(self, rows: list[list[str]]) -> None:
        self.rows, self.max_row = rows, len(rows)

    def iter_rows(self, min_row: int = 1, max_row: int | None = None) -> Iterator[list[_Cell]]:
        for row in self.rows[min_row - 1 : max_row]:
            yield [_Cell(v, "General") for v in row]


class _HtmlBook:
    """A web page saved as .xls: each of its tables a sheet, named 表格1, 表格2 …"""

    def __init__(self, path: Path) -> None:
        from lxml import html

        from assistant.textfiles import read_text

        text = re.sub(r"^\s*<\?xml[^>]*>", "", read_text(path))
        doc = html.document_fromstring(text or "<html></html>")
        self.tables: dict[str, _HtmlSheet] = {}
        for n, table in enumerate(doc.iter("table"), start=1):
            rows = []
            # cells spanning rows from above: column → (rows still to fill, value)
            below: dict[int, tuple[int, str]] = {}
            for tr in table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr"):
                row: list[str] = []
                for cell in tr.xpath("./td|./th"):
                    _fill_from_above(row, below)
                    value = " ".join(cell.text_content().split())
                    # a span is a layout hint: capped, so a hostile file cannot fill memory
                    across = _span(cell, "colspan", _MAX_SPAN)
                    down = _span(cell, "rowspan", _MAX_ROWS)
                    if down > 1:
                        # a date or an account written once for the rows it covers holds
                        # for each of them; a wide cell's filler columns stay empty
                        # (parked below zero, as _fill_from_above does, until the row ends)
                        for k in range(across):
                            below[-(len(row) + k) - 1] = (down - 1, value if k == 0 else "")
                    row += [value] + [""] * (across - 1)
                _fill_from_above(row, below, to_end=True)
                rows.append(row)
            self.tables[f"表格{n}"] = _HtmlSheet(rows)
        self.sheetnames = list(self.tables)

    def __getitem__(self, name: str) -> _HtmlSheet:
        return self.tables[name]

    def close(self) -> None:
        pass


def _span(cell: Any, attr: str, cap: int) -> int:
    raw = cell.get(attr, "1").strip()
    return min(max(int(raw), 1), cap) if raw.isdigit() else 1


def _fill_from_above(
    row: list[str], below: dict[int, tuple[int, str]], to_end: bool = False
) -> None:
    """Put into ``row`` the values of cells above that span down into it, at the row's next
    columns (``to_end``: every such column left after the row's own cells, and a span the
    row's own cells overlapped, in a malformed table, counted as used by this row)."""
    while below and (len(row) in below or (to_end and max(below) >= len(row))):
        col = len(row)
        if col not in below:
            row.append("")
            continue
        left, value = below.pop(col)
        if left > 1:
            below[-col - 1] = (left - 1, value)  # parked below zero until the row ends
        row.append(value)
    if to_end:
        for col in list(below):
            left, value = below.pop(col)
            if col < 0:
                below[-col - 1] = (left, value)
            elif left > 1:  # overlapped, so passed over in this row
                below[col] = (left - 1, value)


def _open(path: Path) -> Any:
    """The workbook, read-only: xlrd for the binary .xls, lxml for a web page's tables,
    openpyxl for the rest."""
    try:
        head = _head(path)
        if path.suffix.lower() == LEGACY and _is_html(head):
            return _HtmlBook(path)
        if head.startswith(_OLE2):
            try:
                return _LegacyBook(path)
            except ImportError:
                raise
            except Exception as exc:  # xlrd fails on a cut file with any of several errors
                raise _LegacyUnreadable(str(exc)) from exc
        from openpyxl import load_workbook

        return load_workbook(path, read_only=True, data_only=True)
    except ImportError as exc:
        raise AssistantError(
            f"讀取 Excel 需要 openpyxl 與 xlrd / reading Excel needs openpyxl and xlrd: {exc}"
        ) from exc


def read_table(
    path: Path,
    columns: Callable[[list[str]], bool],
    identifiers: Callable[[list[str]], dict[int, bool]],
    *,
    sheet: str | None = None,
    rename: Callable[[list[str]], list[str]] = lambda h: h,
    unfit: Callable[[list[str]], object] | None = None,
) -> tuple[list[str], int, int, Iterator[list[str]], list[str]]:
    """The sheet's header, the row number of its first data row, how many rows follow (as the
    sheet declares; an estimate for the writer), its rows as text, and the title lines above
    the header (each row's cells joined). ``columns(header)``
    says whether a row is the header (it holds every mapped column); ``identifiers(header)``
    gives the positions of the identifier columns, each with whether a whole number is
    exact there as it is (a transaction id: yes; an account or a bank code: only padded)."""
    try:
        book = _open(path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, _LegacyUnreadable) as exc:
        raise AssistantError(
            f"{path.name} 不是可讀的 Excel 活頁簿（可能已加密或損毀），未匯入任何資料 / "
            f"{path.name} is not a readable Excel workbook (encrypted or damaged?); nothing "
            f"was imported ({type(exc.__cause__ or exc).__name__})"
        ) from None
    names = [sheet] if sheet else list(book.sheetnames)
    if sheet and sheet not in book.sheetnames:
        book.close()
        raise AssistantError(
            f"{path.name} 沒有工作表 {sheet!r}（有：{'、'.join(book.sheetnames)}） / no sheet "
            f"{sheet!r} in {path.name} (it has: {', '.join(book.sheetnames)})"
        )
    seen: list[str] = []
    for name in names:
        ws = book[name]
        above: list[str] = []
        for number, cells in enumerate(ws.iter_rows(max_row=HEADER_ROWS), start=1):
            header = [_plain(c.value) for c in cells]
            if any(header) and not seen:
                seen = header
            if any(header) and columns(header):
                header = rename(header)
                ids = identifiers(header)
                total = max((ws.max_row or number) - number, 0)
                rows = _rows(book, ws, number + 1, len(header), ids)
                return header, number + 1, total, rows, above
            if any(header):
                above.append(" ".join(h for h in header if h))
    book.close()
    if unfit is not None and seen:
        unfit(rename(seen))
    where = f"工作表 {sheet!r}" if sheet else "任何工作表"
    raise AssistantError(
        f"{path.name} 的{where}前 {HEADER_ROWS} 列中找不到含所有對應欄位的標題列，未匯入任何"
        f"資料（第一個非空列：{', '.join(seen)}） / no row among the first {HEADER_ROWS} of "
        f"{'sheet ' + repr(sheet) if sheet else 'any sheet'} holds every mapped column; "
        f"nothing was imported (the first non-empty row: {', '.join(seen)})"
    )


def _rows(book: Any, ws: Any, first: int, width: int, ids: dict[int, bool]) -> Iterator[list[str]]:
    try:
        # Merged cells that begin in the data, by their top-left cell: (row, column) → last row
        down = {(r0, c0 - 1): r1 for r0, c0, r1, _ in _merged(book, ws) if r1 > r0 >= first}
        above: dict[int, tuple[int, str]] = {}  # column → (last row it fills, value)
        for number, cells in enumerate(ws.iter_rows(min_row=first), start=first):
            row = [
                _identifier(c.value, c.number_format, ids[i]) if i in ids else _plain(c.value)
                for i, c in enumerate(cells)
            ]
            # A row's empty cells at the end may be left out of the file: they are empty.
            row += [""] * (width - len(row))
            if down or above:
                _fill_merged(row, number, down, above)
            yield row
    finally:
        book.close()


def _fill_merged(
    row: list[str], number: int, down: dict[tuple[int, int], int], above: dict[int, tuple[int, str]]
) -> None:
    """A value Excel shows once over merged rows (a day's date, an account) holds for each
    row of the merge; the merge's other columns stay empty, as a wide title's do."""
    for col, (last, value) in list(above.items()):
        if number > last:
            del above[col]
        elif col < len(row) and not row[col]:
            row[col] = value
    for (r0, col), last in list(down.items()):
        if r0 == number:
            del down[(r0, col)]
            if col < len(row):
                above[col] = (last, row[col])


def _merged(book: Any, ws: Any) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges (first row, first column, last row, last column; from 1):
    an .xls's from xlrd; an .xlsx's read from the sheet's XML, which openpyxl's row-by-row
    reader does not give (one pass over the compressed part, its cells not parsed)."""
    if hasattr(ws, "merged"):
        return ws.merged()
    path, archive = getattr(ws, "_worksheet_path", None), getattr(book, "_archive", None)
    if path is None or archive is None:
        return []
    from openpyxl.utils.cell import range_boundaries

    found: list[tuple[int, int, int, int]] = []
    tail = b""
    with archive.open(path) as part:
        while chunk := part.read(1 << 20):
            text = tail + chunk
            # a reference cut at the chunk's end is read with the next chunk
            cut = text.rfind(b"<")
            if b"mergeCell" not in text:  # the cells' chunks, most of the part: no regex
                tail = text[cut:] if cut > 0 else b""
                continue
            for ref in _MERGE_REF.findall(text, 0, cut if cut > 0 else len(text)):
                c0, r0, c1, r1 = range_boundaries(ref.decode("ascii"))
                if r0 is not None and r1 is not None and c0 is not None and c1 is not None:
                    found.append((r0, c0, r1, c1))
            tail = text[cut:] if cut > 0 else b""
    return found


_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _plain(value: Any) -> str:
    """A cell as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):  # a time of day typed as a duration
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if isinstance(value, float) and value.is_integer() and abs(value) < 10**EXACT_DIGITS:
        return str(int(value))
    return str(value).strip()


def _identifier(value: Any, number_format: str | None, whole_ok: bool) -> str:
    """An account, bank code or transaction id: text as it is; a number only when its digits
    are certain."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return _plain(value)
    if isinstance(value, float) and not value.is_integer():
        return Unreadable(f"識別碼為小數 {value} / an identifier stored as a fraction: {value}")
    number = int(value)
    if number < 0:
        return Unreadable(f"識別碼為負數 {number} / an identifier stored as a negative number")
    if number >= 10**EXACT_DIGITS:
        return Unreadable(
            f"識別碼 {number} 以數值儲存且超過 {EXACT_DIGITS} 位，Excel 已改動其末幾位；請將該欄設為"
            f"文字格式後重新匯出 / identifier {number} is stored as a number of more than "
            f"{EXACT_DIGITS} digits, whose last digits Excel has changed; format the column as "
            "text and export again"
        )
    fmt = (number_format or "").strip()
    if _ZERO_PAD.match(fmt):
        return str(number).zfill(len(fmt))
    if whole_ok:
        return str(number)
    return Unreadable(
        f"帳號或銀行代碼 {number} 以數值儲存，開頭的 0 可能已被 Excel 去掉；請將該欄設為文字格式"
        f"（或以 0 補位的數字格式）後重新匯出 / account or bank code {number} is stored as a "
        "number, so Excel may have dropped its leading zeros; format the column as text (or as "
        "a number padded with zeros) and export again"
    )
