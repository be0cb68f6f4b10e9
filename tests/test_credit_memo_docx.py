"""Credit memo rendering: Markdown and DOCX from one neutral document, Chinese fonts set."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document as open_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn

from assistant.credit.memo_doc import DRAFT_STATUS, Citation, Document, Section, Table
from assistant.credit.memo_docx import JHENGHEI, NOTO_TC, is_numeric, to_docx, to_markdown

URL = "https://law.moj.gov.tw/LawClass/LawSingle.aspx?pcode=G0380001&flno=33"


def memo() -> Document:
    return Document(
        title="徵信報告：臺灣測試股份有限公司",
        metadata=[("借款戶", "臺灣測試股份有限公司"), ("申請額度", "NT$50,000,000")],
        sections=[
            Section(
                heading="財務分析",
                paragraphs=["營收成長，負債比率下降。"],
                tables=[
                    Table(
                        header=["項目", "2023", "2024"],
                        rows=[
                            ["流動比率", "1.52倍", "1.68倍"],
                            ["負債比率", "62.1%", "(3.5)"],
                            ["備註", "含|管線", "—"],
                        ],
                        caption="主要比率",
                    )
                ],
                bullets=["現金流量穩定"],
                citations=[Citation("銀行法第 33 條", URL), Citation("內部授信政策 4.2")],
            )
        ],
    )


def test_markdown_is_well_formed() -> None:
    md = to_markdown(memo())
    lines = md.splitlines()
    assert lines[0] == "# 徵信報告：臺灣測試股份有限公司"
    assert f"> **狀態 Status**：{DRAFT_STATUS}" in lines
    assert "- **申請額度**：NT$50,000,000" in lines
    table = [ln for ln in lines if ln.startswith("|")]
    assert table[0] == "| 項目 | 2023 | 2024 |"
    # every row has as many cells as the header (an escaped pipe does not split a cell)
    count = [ln.replace("\\|", "").count("|") for ln in table]
    assert len(set(count)) == 1 and count[0] == 4
    assert table[1] == "| --- | --- | --- |"  # the 備註 row makes both year columns mixed
    assert "含\\|管線" in md
    assert f"- [銀行法第 33 條]({URL})" in lines
    assert "- 內部授信政策 4.2" in lines


def test_markdown_right_aligns_numeric_columns() -> None:
    doc = Document(
        "t",
        sections=[
            Section("s", tables=[Table(["項目", "金額"], [["現金", "1,234"], ["存貨", "(56)"]])])
        ],
    )
    assert "| --- | ---: |" in to_markdown(doc)


def test_ragged_table_refused() -> None:
    with pytest.raises(ValueError):
        Table(["a", "b"], [["1"]])


def test_is_numeric() -> None:
    for text in ("1,234", "-5.2", "62.1%", "(3.5)", "NT$50,000,000", "1.52倍", "12千元"):
        assert is_numeric(text), text
    for text in ("流動比率", "2023年度", "", "N/A"):
        assert not is_numeric(text), text


def _east_asia(rpr) -> str | None:
    fonts = rpr.find(qn("w:rFonts")) if rpr is not None else None
    return None if fonts is None else fonts.get(qn("w:eastAsia"))


def test_docx_round_trip(tmp_path: Path) -> None:
    path = to_docx(memo(), tmp_path / "memo.docx")
    d = open_docx(str(path))
    text = "\n".join(p.text for p in d.paragraphs)
    assert "徵信報告：臺灣測試股份有限公司" in text
    assert DRAFT_STATUS in text
    assert "借款戶：臺灣測試股份有限公司" in text
    assert "營收成長，負債比率下降。" in text
    assert "銀行法第 33 條" in text  # the hyperlink's text
    assert URL in [r.target_ref for r in d.part.rels.values() if r.is_external]

    (table,) = d.tables
    assert table.style.name == "Table Grid"
    cells = [[c.text for c in row.cells] for row in table.rows]
    assert cells[0] == ["項目", "2023", "2024"]
    assert cells[1] == ["流動比率", "1.52倍", "1.68倍"]
    assert cells[2][2] == "(3.5)"
    assert table.cell(1, 1).paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert table.cell(1, 0).paragraphs[0].alignment != WD_ALIGN_PARAGRAPH.RIGHT

    # the East Asian font is on the styles (theme attributes gone) and on every run
    for name in ("Normal", "Title", "Heading 1", "Table Grid"):
        rpr = d.styles[name].element.rPr
        assert _east_asia(rpr) == NOTO_TC, name
        assert rpr.find(qn("w:rFonts")).get(qn("w:eastAsiaTheme")) is None
    runs = [r for p in d.paragraphs for r in p.runs]
    runs += [r for row in table.rows for c in row.cells for p in c.paragraphs for r in p.runs]
    assert runs and all(_east_asia(r._r.rPr) == NOTO_TC for r in runs if r.text)


def test_docx_font_configurable(tmp_path: Path) -> None:
    d = open_docx(
        str(to_docx(memo(), tmp_path / "m.docx", east_asia_font=JHENGHEI, latin_font="Calibri"))
    )
    fonts = d.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == JHENGHEI
    assert fonts.get(qn("w:ascii")) == "Calibri"
