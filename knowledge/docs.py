"""Internal policies, FSC letters and other documents: PDF (with page numbers), Markdown, text.

A document written in articles (第 N 條) is chunked by article like a law; otherwise it is
chunked by paragraphs up to the size limit, under its nearest heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from knowledge.articles import normalise_article
from knowledge.chunking import split_article
from knowledge.errors import IngestError
from knowledge.models import Chunk

SUPPORTED = {".pdf", ".md", ".markdown", ".txt"}
_ARTICLE_HEAD = re.compile(
    r"^\s*(第\s*[\d一二三四五六七八九十百零〇]+\s*條(?:\s*之\s*[\d一二三四五六七八九十]+)?)\s*(.*)$"
)
_MD_HEAD = re.compile(r"^\s*#{1,6}\s+(.*)$")


@dataclass
class Page:
    number: int | None
    text: str


def read_pdf(path: Path) -> list[Page]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            # Many "protected" PDFs only restrict printing and open with an empty password.
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # pypdf raises several kinds for unsupported ciphers
                raise IngestError(
                    path, f"PDF 已加密，無法開啟 / the PDF is encrypted: {exc}"
                ) from exc
            if not ok:
                raise IngestError(
                    path, "PDF 已加密，需要密碼 / the PDF is encrypted with a password"
                )
        pages = [Page(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise IngestError(path, f"PDF 檔損毀或無法解析 / corrupt or unreadable PDF: {exc}") from exc
    if not pages:
        raise IngestError(path, "PDF 沒有任何頁面 / the PDF has no pages")
    if not any(p.text.strip() for p in pages):
        raise IngestError(
            path,
            "PDF 沒有文字層（可能是掃描影像），請先以 OCR 轉成文字 / the PDF has no text layer "
            "(an image-only scan); run OCR first",
        )
    return pages


def read_text(path: Path) -> list[Page]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "big5", "cp950"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise IngestError(
            path, "無法辨識文字編碼（支援 UTF-8、Big5）/ unknown encoding (UTF-8, Big5)"
        )
    if not text.strip():
        raise IngestError(path, "檔案是空的 / the file is empty")
    return [Page(None, text)]


def read_document(path: Path) -> list[Page]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(
            path, f"不支援的檔案類型 {suffix} / unsupported file type (PDF, Markdown, text)"
        )
    if path.stat().st_size == 0:
        raise IngestError(path, "檔案是空的 / the file is empty")
    return read_pdf(path) if suffix == ".pdf" else read_text(path)


def doc_chunks(
    path: Path,
    pages: list[Page],
    *,
    title: str | None,
    level: str,
    category: str,
    doc_class: str,
    amended: str | None,
    max_chars: int,
) -> list[Chunk]:
    lines = [(p.number, ln.strip()) for p in pages for ln in p.text.splitlines() if ln.strip()]
    name = title or next((_MD_HEAD.sub(r"\1", ln) for _, ln in lines[:1]), path.stem)
    has_articles = sum(1 for _, ln in lines if _ARTICLE_HEAD.match(ln)) >= 2
    base = dict(
        doc_key=f"doc:{path.name}",
        source=path.name,
        law=name,
        law_zh=name,
        level=level,
        category=category,
        amended=amended,
        url=None,
        lang="zh-TW",
        doc_class=doc_class,
    )
    sections: list[tuple[str, str, int | None, list[str]]] = []  # (article, heading, page, lines)
    heading = ""
    for page, line in lines:
        md = _MD_HEAD.match(line)
        art = _ARTICLE_HEAD.match(line) if has_articles else None
        if md:
            heading = md.group(1)
            continue
        if art:
            sections.append((normalise_article(art.group(1)), heading, page, [art.group(2)]))
        elif has_articles and sections:
            sections[-1][3].append(line)
        else:
            # Paragraph documents: a new section at each page, or when the current one is full.
            if (
                not sections
                or sections[-1][2] != page
                or sections[-1][0]
                or sum(len(x) for x in sections[-1][3]) + len(line) > max_chars
            ):
                sections.append(("", heading, page, []))
            sections[-1][3].append(line)
    chunks: list[Chunk] = []
    for n, (article, head, page, body) in enumerate(sections):
        text = "\n".join(x for x in body if x)
        if not text:
            continue
        for i, part in enumerate(split_article(text, max_chars)):
            chunks.append(
                Chunk(
                    **base, article=article, part=n * 1000 + i, chapter=head, text=part, page=page
                )
            )
    if not chunks:
        raise IngestError(path, "找不到可索引的文字 / no text to index")
    return chunks
