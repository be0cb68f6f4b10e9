"""Text files as Taiwanese banks write them: UTF-8, or Big5 (code page 950) from Excel and older
core systems; columns split by commas, or by tabs, semicolons or bars; amounts written as staff
write them (NT$1,234、１２，３４５元、新臺幣 500).

One place for what every importer reads, so a ledger, a file of transfers to score, an outside
list and a rate table are read alike.
"""

from __future__ import annotations

import codecs
import io
import math
import re
import unicodedata
from pathlib import Path
from typing import Any, TextIO

from assistant.errors import AssistantError
from assistant.extract import _parse_number

ENCODINGS = ("utf-8-sig", "cp950")
DELIMITERS = (",", "\t", ";", "|")
_HEAD = 1 << 20  # bytes read to tell the encoding of a file streamed row by row


# Excel's "Unicode text" (.txt, tab-separated) and some bank exports are UTF-16 with a
# byte-order mark; without the mark UTF-16 is not told from other bytes, so it is not guessed.
_UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _candidates(head: bytes) -> tuple[str, ...]:
    return ("utf-16",) if head.startswith(_UTF16_MARKS) else ENCODINGS


def decode(data: bytes, source: str) -> str:
    """The text of ``data``: UTF-16 with its byte-order mark, UTF-8 (a byte-order mark
    dropped), else Big5 (cp950)."""
    for encoding in _candidates(data):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssistantError(
        f"{source} 無法辨識編碼（須為 UTF-8、Big5 或帶 BOM 的 UTF-16）/ {source} is not UTF-8, "
        "Big5 or UTF-16 (with its byte-order mark) text"
    )


def read_text(path: Path) -> str:
    """A whole file's text (see :func:`decode`); a missing or unreadable file is an
    AssistantError in both languages."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AssistantError(f"找不到檔案 / no such file: {path}") from None
    except OSError as exc:
        raise AssistantError(f"無法讀取檔案 / cannot read {path}: {exc.strerror}") from None
    return decode(data, Path(path).name)


def open_text(path: Path) -> TextIO:
    """A file opened for reading row by row (``newline=""`` as ``csv`` wants), its encoding
    told from its first megabyte: a file too big to hold in memory is never read twice."""
    try:
        raw = Path(path).open("rb")  # noqa: SIM115 - handed to the caller, who closes it
    except FileNotFoundError:
        raise AssistantError(f"找不到檔案 / no such file: {path}") from None
    except OSError as exc:
        raise AssistantError(f"無法讀取檔案 / cannot read {path}: {exc.strerror}") from None
    head = raw.read(_HEAD)
    raw.seek(0)
    encoding = _encoding_of(head, final=len(head) < _HEAD)
    if encoding is None:
        raw.close()
        raise AssistantError(
            f"{Path(path).name} 無法辨識編碼（須為 UTF-8、Big5 或帶 BOM 的 UTF-16）/ "
            f"{Path(path).name} is not UTF-8, Big5 or UTF-16 (with its byte-order mark) text"
        )
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def _encoding_of(head: bytes, *, final: bool) -> str | None:
    for encoding in _candidates(head):
        try:
            # Not final unless the file ends here: a character cut at the megabyte's edge is
            # not an error.
            codecs.getincrementaldecoder(encoding)().decode(head, final=final)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def delimiter(header: str) -> str:
    """The column separator of a table, told from its header line: the candidate it holds
    most often (a comma when it holds none)."""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


# Marks of New Taiwan dollars around a figure; another currency's mark is not stripped, so
# "US$100" stays an error rather than becoming NT$100.
_TWD = re.compile(r"^(?:NT\$|NTD|TWD|新臺幣|新台幣|台幣|臺幣|\$)|(?:元|圓|NTD|TWD)$", re.IGNORECASE)


# Thousands as they are grouped: 1,234,567 (or 1,2345,6789 by 萬), 1.234.567 or 1.234,56
# where the comma is the decimal mark (European exports)
_COMMA_GROUPS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d{1,4}(?:,\d{4})+(?:\.\d+)?")
_DOT_GROUPS = re.compile(r"[-+]?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d{1,2}")


def _spreadsheet_text(text: str) -> str:
    """A cell without the marks spreadsheets keep text with: '1,000 or ="1000"."""
    if text.startswith('="') and text.endswith('"') and len(text) > 3:
        return text[2:-1]
    return text[1:] if text.startswith("'") else text


def _digits(text: str) -> str:
    """The figure with its thousands separators taken out and a decimal comma made a point;
    a comma that is neither is refused, not dropped ("1,50" is not 150)."""
    if "," not in text and text.count(".") <= 1:
        return text
    if _COMMA_GROUPS.fullmatch(text):
        return text.replace(",", "")
    if _DOT_GROUPS.fullmatch(text) and (text.count(".") > 1 or "," in text):
        return text.replace(".", "").replace(",", ".")
    if _DECIMAL_COMMA.fullmatch(text):
        return text.replace(",", ".")
    raise ValueError(f"千分位或小數點不明 / unclear thousands or decimal marks: {text!r}")


# Chinese numerals and units a hand-kept list writes amounts with: 5萬, 1.5萬, 三萬五千, 2億
_NUMERAL_WORD = re.compile("[十拾百佰千仟萬億兆〇零一二兩三四五六七八九壹貳參叁肆伍陸柒捌玖]")


def _in_words(text: str) -> float:
    """5萬 → 50000, 1.5億 → 150000000, 三萬五千 → 35000: the number grammar the desks read
    questions with (``extract._parse_number``), so a figure reads the same in a ledger."""
    value = _parse_number(text)
    if value is None:
        raise ValueError(f"金額看不懂 / cannot read the amount: {text!r}")
    return float(value)


class NotPositive(ValueError):
    """A number, but zero, negative or not finite."""


def parse_amount(raw: object) -> float:
    """A positive, finite amount from a number or text as staff write it: thousands commas (or
    dots, with a decimal comma: 1.234,56), full-width digits, NT$ / TWD / 新臺幣 before it or 元
    after it, spaces, a spreadsheet's text marks ('1,000), Chinese units and numerals (5萬,
    1.5萬, 三萬五千). ValueError otherwise (zero,
    negative, not a number, another currency's mark, commas that group nothing: 1,50,0)."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = _spreadsheet_text(unicodedata.normalize("NFKC", str(raw)).replace(" ", ""))
        for _ in range(2):  # a mark on each side: NT$1,000元
            text = _TWD.sub("", text)
        value = _in_words(text) if _NUMERAL_WORD.search(text) else float(_digits(text))
    if not math.isfinite(value) or value <= 0:
        raise NotPositive(raw)
    return value


# What a spreadsheet runs as a formula when a cell begins with it (CSV injection): =, +, -, @,
# and a tab or carriage return before one of them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that Excel or LibreOffice shows as text, not runs: text beginning as a
    formula does gets an apostrophe before it (numbers are left as they are). Text from
    outside (a ledger's memo, a user's question) reaches exported files through this."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
