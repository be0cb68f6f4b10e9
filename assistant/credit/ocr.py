"""Text for statement pages that are scanned images: OCR into the lines the text layer gives.

Some MOPS reports carry their auditor's report and statements as scanned page images with no
text layer (the notes after them are text). This module reads such a page with RapidOCR
(PP-OCR detection and recognition as ONNX models bundled in the package, so nothing is fetched;
Apache-2.0) and lays the recognised boxes out as the lines ``statements`` already reads:
「1100 現金及約當現金 2,629,909 2,693,184 2,985,237」. The statement finder, the column header
reader, the row parser and the balance checks then run unchanged on it.

What the layout does, and why:
- Boxes are grouped into lines by their vertical centres, and each line is written left to
  right, as the text layer of a typeset statement is.
- The amount columns are found from where figures with thousands separators end (amounts are
  right-aligned). Only figures in an amount column are written; the percentage columns and
  stray marks between them (a printed 「-」 read as 「二」) are left out, so a row carries one
  figure per period. A dash read inside an amount column is a nil (「-」). A figure the OCR did
  not see is not invented: the row then has too few figures and the extractor leaves it out.
- The recogniser's output is in simplified characters for some glyphs (现, 负, 资); it is
  converted to traditional (OpenCC, already a dependency) so labels match the schema.
- The stylised statement titles are often unreadable under the seals. A page whose title
  cannot be read is named by the account codes printed beside its lines (1xxx–3xxx: balance
  sheet; 4xxx–9xxx: income statement; A10000-style: cash flow statement), and a page of rows
  that fits none of them (the statement of changes in equity) is named as such, so it never
  runs on as a continuation of the income statement.

Every figure read this way still has to pass the statement's arithmetic checks before it counts
as balanced; ``statements.extract`` marks each statement read from OCR.

Speed: 12.7 s a page on two shared cores over the 23 scanned pages of the MOPS corpus (the
recogniser runs once per text box, some 300 on a statement page), against milliseconds for a
page with text; it only ever runs on pages without text, only after the report failed to read
from its text layer, and on at most ``pdftext.MAX_OCR_PAGES`` pages of a report.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from assistant.credit.pdftext import NoTextLayer
from assistant.credit.schema import BALANCE_SHEET, CASH_FLOW, INCOME_STATEMENT, TITLES

# A figure as the recogniser reads it: 「$2,629,909」「$_8,204.829」「S_700,948,150」「(79)」
# 「79)」「12.361」.
_FIGURE = re.compile(r"^(?:[$＄S]?[_\s]*)[(（]?[-−]?\d[\d,.，]*[)）]?[$＄_\s]*$")
# A date of the column header: 「112.3.31」「113年3月31日」「112年1月至3月」.
_HEADER_DATE = re.compile(r"\d{2,4}[./]\d{1,2}[./]\d{1,2}|\d{2,4}\s*年|[一二三四五六七八九〇○]+年")
# A printed dash (nil) as read: 「-」 and the strokes it is mistaken for.
_DASH = re.compile(r"^[-–—－一二_~～]+$")
# Account codes as read, with the usual confusions of the code column (l/I for 1, O for 0).
_CODE_READ = re.compile(r"^[0-9lIOXx]{4}$|^[A-H][0-9O]{5}$|^[A-H]{4}$")


_GARBLED_CODE = re.compile(r"^[0-9A-Za-z]{3,6}$")
_VALID_CODE = re.compile(r"^(?:\d{4}|\d{3}X|\d{2}XX|\dXXX|\dXXXX|[A-H]\d{5}|[A-H]{4})$")


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def h(self) -> float:
        return self.y1 - self.y0


class OcrUnavailable(NoTextLayer):
    """Scanned pages, and no OCR to read them with (a broken install)."""


@cache
def _engine() -> Any:
    """The recogniser, built once per process (loading the models takes about a second)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # a dependency of the package: only a broken install lacks it
        raise OcrUnavailable(
            "未安裝 OCR 套件 rapidocr_onnxruntime，無法讀取掃描頁 / the OCR package "
            "rapidocr_onnxruntime is not installed; scanned pages cannot be read"
        ) from exc
    return RapidOCR()


@cache
def _to_traditional() -> Callable[[str], str]:
    import opencc

    return opencc.OpenCC("s2t").convert


def page_image(page: Any) -> Any | None:
    """The scan on a PDF page as a PIL image, upright: the largest image drawn on the page,
    turned by the page's /Rotate, and a quarter-turn more when its shape does not fit the
    page's (a landscape statement scanned onto a portrait page)."""
    try:
        images = list(page.images)
    except Exception:  # an image pypdf cannot decode: the page stays unread
        return None
    if not images:
        return None
    image = max((i.image for i in images), key=lambda im: im.size[0] * im.size[1])
    rotate = int(page.get("/Rotate", 0) or 0) % 360
    if rotate:
        image = image.rotate(-rotate, expand=True)  # /Rotate is clockwise, PIL's is not
    box = page.mediabox
    width, height = float(box.width), float(box.height)
    if rotate in (90, 270):
        width, height = height, width
    if (image.size[0] > image.size[1]) != (width > height):
        image = image.rotate(-90, expand=True)
    return image.convert("RGB")


def read_boxes(image: Any) -> list[Box]:
    """The text boxes the recogniser finds on an image, as read."""
    # Statement pages are upright: the per-box orientation classifier would only cost time.
    result, _ = _engine()(image, use_cls=False)
    out: list[Box] = []
    for quad, text, _score in result or []:
        xs = [p[0] for p in quad]
        ys = [p[1] for p in quad]
        out.append(Box(min(xs), min(ys), max(xs), max(ys), text.strip()))
    return out


def _lines(boxes: list[Box]) -> list[list[Box]]:
    """Boxes grouped into printed lines by their vertical centres, each line left to right."""
    if not boxes:
        return []
    tolerance = 0.45 * statistics.median(b.h for b in boxes)
    lines: list[list[Box]] = []
    centres: list[float] = []
    for b in sorted(boxes, key=lambda b: b.yc):
        if lines and abs(b.yc - centres[-1]) <= tolerance:
            lines[-1].append(b)
            centres[-1] = statistics.fmean(x.yc for x in lines[-1])
        else:
            lines.append([b])
            centres.append(b.yc)
    return [sorted(line, key=lambda b: b.x0) for line in lines]


def _is_amount(text: str) -> bool:
    """A figure with a thousands separator or a currency sign: an amount, not a percentage."""
    return bool(_FIGURE.match(text)) and bool(re.search(r"\d[,.，]\d{3}|^[$＄S]", text))


def _amount_columns(boxes: list[Box], width: float) -> list[float]:
    """The right edges of the amount columns: where at least three amounts end together."""
    edges = sorted(b.x1 for b in boxes if _is_amount(b.text))
    tolerance = 0.02 * width
    clusters: list[list[float]] = []
    for x in edges:
        if clusters and x - clusters[-1][-1] <= tolerance:
            clusters[-1].append(x)
        else:
            clusters.append([x])
    return [statistics.median(c) for c in clusters if len(c) >= 3]


def _figure(text: str) -> str:
    """A figure as the text layer would print it: separators as commas, parentheses closed."""
    s = re.sub(r"^S|[$＄_\s]", "", text).replace("，", ",").replace("（", "(").replace("）", ")")
    digits = s.strip("()-−")
    # 「8,204.829」「12.361」: a point between groups of three is a misread comma (amounts in
    # a statement are whole units; per-share figures have two decimals, never three).
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", digits):
        digits = digits.replace(".", ",")
    negative = s.startswith("(") or s.endswith(")") or s.startswith(("-", "−"))
    return f"({digits})" if negative and digits else digits


# Glyphs the recogniser confuses in these statements' typefaces, in words where the misread
# makes no sense: 資座 (資產), 不動座, 負價 (負債), 應付恨款 (帳款), and 凈 for 淨.
_REPAIRS = (
    ("資座", "資產"),
    ("動座", "動產"),
    ("負價", "負債"),
    ("恨款", "帳款"),
    ("悵款", "帳款"),
    ("凈", "淨"),
)


def _unit_repair(text: str) -> str:
    for wrong, right in _REPAIRS:
        text = text.replace(wrong, right)
    # 「單位：新台仟元」: the 幣 under a seal or misread.
    return re.sub(r"(單位[：:]?)新[台臺]幣?(?=(?:百萬|萬|仟|千)?元)", r"\1新台幣", text)


def _panel_edge(columns: list[float]) -> float | None:
    """Where the right-hand panel of a two-panel page starts (assets on the left, liabilities
    and equity on the right, on one landscape page): after a gap between amount columns far
    wider than the others. None for a page of one panel."""
    gaps = [b - a for a, b in itertools.pairwise(columns)]
    if len(gaps) < 3:
        return None
    widest = max(range(len(gaps)), key=lambda i: gaps[i])
    if gaps[widest] < 2.5 * statistics.median(gaps):
        return None
    # Past the left panel's last percentage column, before the right panel's codes.
    return columns[widest] + 0.1 * gaps[widest]


def layout(boxes: list[Box], width: float) -> list[str]:
    """The boxes of one page as text lines in traditional characters, amounts one per amount
    column (see the module). A two-panel page gives the left panel's lines, then the right
    one's, as if printed one under the other: a line then holds one row, so a subtotal printed
    without a label in one panel is never read as more figures of the other's row."""
    convert = _to_traditional()
    boxes = [Box(b.x0, b.y0, b.x1, b.y1, convert(b.text)) for b in boxes]
    columns = _amount_columns(boxes, width)
    edge = _panel_edge(columns)
    if edge is None:
        return _layout(boxes, columns, width)
    # The heading and the column header span both panels and stay whole lines: the subtitle
    # 「民國…三月三十一日、…十二月三十一日及三月三十一日」 split in two would read as a period.
    first_amount = min(b.yc for b in boxes if _is_amount(b.text))
    dates = [b.y1 for b in boxes if b.yc < first_amount and _HEADER_DATE.search(b.text)]
    top = max(dates, default=0.0)
    head = [b for b in boxes if b.yc <= top]
    body = [b for b in boxes if b.yc > top]
    left = [b for b in body if b.x0 < edge]
    right = [b for b in body if b.x0 >= edge]
    return (
        _layout(head, columns, width)
        + _layout(left, [c for c in columns if c < edge], width)
        + _layout(right, [c for c in columns if c >= edge], width)
    )


def _layout(boxes: list[Box], columns: list[float], width: float) -> list[str]:
    slack = 0.01 * width
    # Everything right of this is the figures' area: only amounts and longer text (the labels
    # of a right-hand panel) are kept there.
    figures_from = min(columns) - 0.12 * width if columns else width
    out: list[str] = []
    for line in _lines(boxes):
        words: list[str] = []
        for b in line:
            text = b.text.strip()
            if not text:
                continue
            # An amount ends at its column's right edge; a percentage starts right of it.
            in_column = any(b.x0 < c <= b.x1 + slack and b.x1 <= c + slack for c in columns)
            if _VALID_CODE.match(text):
                words.append(text)  # an account code (amounts of 1,000 or more have commas)
                continue
            if _FIGURE.match(text) and re.search(r"\d", text):
                if in_column and b.x1 > figures_from:
                    words.append(_figure(text))
                elif b.x1 <= figures_from:
                    words.append(text)  # a figure among the labels: a note reference
                continue
            if _DASH.match(text) and b.x0 > figures_from:
                # A nil dash sits at the right of its amount column, narrower than a figure.
                if any(c - 3.5 * slack <= b.x1 <= c + slack and b.x0 < c for c in columns):
                    words.append("-")
                continue
            if b.x0 > figures_from and len(text) <= 2 and not re.search(r"[^\W\d_]{2}", text):
                continue  # 「%」, a stray mark between the columns
            words.append(_code(text) if _CODE_READ.match(text) else text)
        if len(words) > 1 and _GARBLED_CODE.match(words[0]) and not _VALID_CODE.match(words[0]):
            # A code misread past repair (「XXXL」 for 1XXX): dropped, so the row is found by
            # its label rather than under a wrong code.
            words = words[1:]
        if words:
            out.append(_unit_repair(" ".join(words)))
    return out


def _code(text: str) -> str:
    return text.upper().replace("L", "1").replace("I", "1").replace("O", "0")


# Account codes that name the statement a page belongs to.
_BS_CODE = re.compile(r"^[123](?:\d{3}|\d{2}X|\dXX|XXX)$")
_IS_CODE = re.compile(r"^[4-9](?:\d{3}|\d{2}X|\dXX|XXX)$")
_CF_CODE = re.compile(r"^(?:[A-H]\d{5}|[A-H]{4})$")


# Line labels that only one statement prints, for statements printed without codes.
_MARKERS = {
    BALANCE_SHEET: ("流動資產", "非流動資產", "資產總計", "流動負債", "負債總計", "負債及權益總計"),
    INCOME_STATEMENT: ("營業收入", "營業成本", "營業毛利", "營業費用", "稅前淨利", "每股盈餘"),
    CASH_FLOW: (
        "營業活動之現金流量",
        "營業活動之淨現金",
        "支付之所得稅",
        "投資活動之現金流量",
        "籌資活動之現金流量",
        "期初現金及約當現金餘額",
        "期末現金及約當現金餘額",
    ),
}


def statement_kind(lines: list[str]) -> str | None:
    """balance_sheet, income_statement or cash_flow by the codes that start the lines (five
    at least of one statement's), else by the line labels only that statement prints (two at
    least); None when neither names one."""
    counts = {BALANCE_SHEET: 0, INCOME_STATEMENT: 0, CASH_FLOW: 0}
    for line in lines:
        first = line.split(" ", 1)[0]
        if _BS_CODE.match(first):
            counts[BALANCE_SHEET] += 1
        elif _IS_CODE.match(first):
            counts[INCOME_STATEMENT] += 1
        elif _CF_CODE.match(first):
            counts[CASH_FLOW] += 1
    kind, n = max(counts.items(), key=lambda kv: kv[1])
    if n >= 5:
        return kind
    labels = {"".join(re.findall(r"[^\W\d_]+", line)) for line in lines}
    hits = {
        k: sum(any(lab.startswith(m) for lab in labels) for m in ms) for k, ms in _MARKERS.items()
    }
    kind, n = max(hits.items(), key=lambda kv: kv[1])
    return kind if n >= 2 else None


def title_for(kind: str, lines: list[str]) -> str:
    """The statement title to put on a page whose printed title could not be read:
    consolidated when the page names subsidiaries or says 合併, else the plain title."""
    consolidated = any("子公司" in line or "合併" in line for line in lines)
    titles = TITLES[kind]
    return next(t for t in titles if t.startswith("合併")) if consolidated else titles[-1]
