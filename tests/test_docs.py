"""Internal documents: PDF with page numbers, Markdown and text; broken PDFs refused cleanly."""

from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from assistant.container import Container
from knowledge.docs import read_document
from knowledge.errors import IngestError


def text_pdf(path: Path, pages: list[str]) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for body in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, body)
    pdf.output(str(path))
    return path


def test_pdf_chunks_carry_their_page(fresh: Container, tmp_path: Path) -> None:
    pdf = text_pdf(
        tmp_path / "policy.pdf",
        [
            "Credit Policy\nCollateral must be appraised by an independent appraiser before any secured loan.",
            "Foreign exchange desk: any remittance above USD 500,000 requires a second officer review.",
        ],
    )
    report = fresh.ingestor.apply(
        fresh.ingestor.prepare_doc(pdf, title="Credit Policy", doc_class="internal")
    )
    assert report.added >= 2
    fresh.retriever.refresh()
    hit = fresh.retriever.search("remittance second officer review", k=1)[0]
    assert (hit.law, hit.page, hit.source, hit.doc_class) == (
        "Credit Policy",
        2,
        "policy.pdf",
        "internal",
    )


def test_markdown_policy_is_chunked_by_article(fresh: Container, tmp_path: Path) -> None:
    md = tmp_path / "授信政策.md"
    md.write_text(
        "# 本行授信作業要點\n## 第一章 總則\n第 1 條 本要點依銀行法訂定。\n"
        "第 2 條 對利害關係人之授信，應經董事會三分之二以上董事出席及出席董事四分之三以上同意。\n"
        "第 3 條 房屋貸款之擔保品應由本行估價。\n",
        encoding="utf-8",
    )
    fresh.ingestor.apply(fresh.ingestor.prepare_doc(md))
    fresh.retriever.refresh()
    hit = fresh.retriever.search("利害關係人授信要董事會幾成同意", k=1)[0]
    assert (hit.law, hit.article, hit.chapter) == ("本行授信作業要點", "2", "第一章 總則")


def test_corrupt_pdf(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.pdf"
    bad.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    with pytest.raises(IngestError, match=r"corrupt|no pages"):
        read_document(bad)


def test_encrypted_pdf(tmp_path: Path) -> None:
    plain = text_pdf(tmp_path / "plain.pdf", ["secret policy"])
    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt(user_password="s3cret", algorithm="AES-256")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(IngestError, match="encrypted"):
        read_document(locked)


def test_image_only_pdf(tmp_path: Path) -> None:
    from PIL import Image

    img = tmp_path / "scan.png"
    Image.new("RGB", (200, 100), "white").save(img)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(img), x=10, y=10, w=100)
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(IngestError, match="no text layer"):
        read_document(path)


def test_empty_and_unsupported_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(IngestError, match="empty"):
        read_document(empty)
    other = tmp_path / "sheet.xlsx"
    other.write_bytes(b"PK")
    with pytest.raises(IngestError, match="unsupported"):
        read_document(other)


def test_real_chinese_report_keeps_page_numbers(shared_data: Path) -> None:
    pages = read_document(shared_data / "statements" / "2301_202404_AI1.pdf")
    assert len(pages) > 100
    assert [p.number for p in pages[:3]] == [1, 2, 3]
    assert any("資產負債表" in p.text for p in pages)
