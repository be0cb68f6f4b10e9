"""Render a ``memo_doc.Document`` to Markdown (``to_markdown``) or DOCX (``to_docx``).

Chinese fonts in DOCX. Word picks a run's font per script from ``w:rFonts``: ``w:ascii`` /
``w:hAnsi`` for Latin text, ``w:eastAsia`` for CJK. python-docx's ``font.name`` sets only the
Latin ones, so Chinese text falls back to whatever the reader's Word maps East Asian text to
(often a Simplified-Chinese or Japanese face, or tofu on a machine without one). We therefore
set ``w:eastAsia`` explicitly on every style we use *and* on every run, and remove the
``*Theme`` attributes (``w:asciiTheme``, ``w:eastAsiaTheme`` …) that the default template's
heading styles carry: a theme attribute overrides the explicit name, so leaving it would
silently undo the setting. ``w:lang w:eastAsia="zh-TW"`` tells Word the text is Traditional
Chinese (glyph variants, proofing).

The font is configurable. The default, "Noto Sans CJK TC", is free and ships with most Linux
desktops and LibreOffice installs (what an on-premise server renders with); Word users on
Windows have "Microsoft JhengHei" (微軟正黑體) instead: pass ``east_asia_font=JHENGHEI`` for a
file meant for them. A reader without the named font substitutes another CJK font, so the
text still renders either way; the name only decides which face is preferred.

Tables use the built-in "Table Grid" style (every cell bordered), a bold header row, and
right-aligned cells wherever the text reads as a number, so columns of figures line up.
"""

from __future__ import annotations

import re
from pathlib import Path

from docx import Document as new_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from assistant.credit.memo_doc import Citation, Document, Table

NOTO_TC = "Noto Sans CJK TC"
JHENGHEI = "Microsoft JhengHei"
DEFAULT_EAST_ASIA_FONT = NOTO_TC

# a figure as code formats it: optional currency/sign, digits with thousands separators,
# decimals, a trailing % or 倍/元/千元 unit, or an accounting negative in parentheses
_NUMERIC = re.compile(
    r"^\s*(NT\$|US\$|\$)?\s*[(（]?[+\-−]?\d[\d,]*(\.\d+)?[)）]?\s*(%|‰|倍|元|千元|萬元|億元|x)?\s*$"
)


def is_numeric(text: str) -> bool:
    return bool(_NUMERIC.match(text))


# ------------------------------------------------------------------ Markdown


def _md_cell(text: str) -> str:
    # a pipe would end the cell and a newline the row: escape both
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def markdown_table(table: Table) -> str:
    # a column is right-aligned when every non-blank body cell in it is a number
    right = []
    for j in range(len(table.header)):
        cells = [row[j] for row in table.rows if row[j].strip()]
        right.append(bool(cells) and all(is_numeric(c) for c in cells))
    lines = [
        "| " + " | ".join(_md_cell(h) for h in table.header) + " |",
        "| " + " | ".join("---:" if r else "---" for r in right) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.caption:
        lines.insert(0, f"**{table.caption}**\n")
    return "\n".join(lines)


def _md_citation(c: Citation) -> str:
    return f"[{c.text}]({c.url})" if c.url else c.text


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    if doc.status:
        out += [f"> **狀態 Status**：{doc.status}", ""]
    if doc.metadata:
        out += [f"- **{k}**：{v}" for k, v in doc.metadata] + [""]
    for section in doc.sections:
        out += [f"## {section.heading}", ""]
        for paragraph in section.paragraphs:
            out += [paragraph, ""]
        for table in section.tables:
            out += [markdown_table(table), ""]
        if section.bullets:
            out += [f"- {b}" for b in section.bullets] + [""]
        if section.citations:
            out += ["**依據 Sources**", ""] + [f"- {_md_citation(c)}" for c in section.citations]
            out += [""]
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------ DOCX


def _set_fonts(rpr_parent: object, east_asia: str, latin: str) -> None:
    """Set ``w:rFonts`` (Latin and East Asian, theme attributes removed) and the East Asian
    language on the ``w:rPr`` of a style or run element."""
    rpr = rpr_parent.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-TW")


def _run(paragraph: Paragraph, text: str, east_asia: str, latin: str, *, bold: bool = False):
    run = paragraph.add_run(text)
    run.bold = bold or None
    _set_fonts(run._r, east_asia, latin)
    return run


def _hyperlink(paragraph: Paragraph, text: str, url: str, east_asia: str, latin: str) -> None:
    # python-docx has no hyperlink API: a w:hyperlink element pointing at an external
    # relationship, holding an ordinary (blue, underlined) run
    rid = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rid)
    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "0563C1")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    rpr.append(color)
    rpr.append(underline)
    run.append(rpr)
    _set_fonts(run, east_asia, latin)
    t = OxmlElement("w:t")
    t.text = text
    t.set(qn("xml:space"), "preserve")
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


STYLES = ("Normal", "Title", "Heading 1", "Heading 2", "List Bullet", "Table Grid")


def to_docx(
    doc: Document,
    path: str | Path,
    *,
    east_asia_font: str = DEFAULT_EAST_ASIA_FONT,
    latin_font: str | None = None,
) -> Path:
    """Write ``doc`` as a DOCX file at ``path``; ``latin_font`` defaults to the East Asian
    font (Noto Sans CJK TC and 微軟正黑體 both carry Latin glyphs, so one face reads evenly)."""
    latin = latin_font or east_asia_font
    d = new_docx()
    for name in STYLES:
        _set_fonts(d.styles[name].element, east_asia_font, latin)

    _run(d.add_heading(level=0), doc.title, east_asia_font, latin)
    if doc.status:
        p = d.add_paragraph()
        _run(p, "狀態 Status：", east_asia_font, latin, bold=True)
        _run(p, doc.status, east_asia_font, latin)
    for key, value in doc.metadata:
        p = d.add_paragraph()
        _run(p, f"{key}：", east_asia_font, latin, bold=True)
        _run(p, value, east_asia_font, latin)
    for section in doc.sections:
        heading = d.add_heading(level=1)
        _run(heading, section.heading, east_asia_font, latin)
        for text in section.paragraphs:
            _run(d.add_paragraph(), text, east_asia_font, latin)
        for table in section.tables:
            if table.caption:
                _run(d.add_paragraph(), table.caption, east_asia_font, latin, bold=True)
            _docx_table(d, table, east_asia_font, latin)
        for text in section.bullets:
            _run(d.add_paragraph(style="List Bullet"), text, east_asia_font, latin)
        if section.citations:
            _run(d.add_paragraph(), "依據 Sources", east_asia_font, latin, bold=True)
            for c in section.citations:
                p = d.add_paragraph(style="List Bullet")
                if c.url:
                    _hyperlink(p, c.text, c.url, east_asia_font, latin)
                else:
                    _run(p, c.text, east_asia_font, latin)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(str(path))
    return path


def _docx_table(d: object, table: Table, east_asia: str, latin: str) -> None:
    t = d.add_table(rows=1 + len(table.rows), cols=len(table.header))  # type: ignore[attr-defined]
    t.style = "Table Grid"
    for i, row in enumerate([table.header, *table.rows]):
        for j, text in enumerate(row):
            cell = t.cell(i, j)
            p = cell.paragraphs[0]
            _run(p, text, east_asia, latin, bold=i == 0)
            if i > 0 and is_numeric(text):
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            elif i == 0:
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
