"""A neutral document structure for a credit memo (徵信報告): what to say, not how to print it.

The credit agent fills a ``Document``; ``memo_docx`` renders it to Markdown (the chat answer,
the UI) or DOCX (what the analyst edits and files). Cells and values are plain text: numbers
are formatted by whoever computed them (in code), so the renderers never round or reformat a
figure. A cell that reads as a number is right-aligned by the renderers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DRAFT_STATUS = "草稿，待授信人員覆核 / draft awaiting analyst approval"


@dataclass(frozen=True)
class Citation:
    """A source: the text shown (e.g. 銀行法第 33 條) and, when there is one, its link."""

    text: str
    url: str | None = None


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str | None = None

    def __post_init__(self) -> None:
        # a ragged table is a bug in whoever built it: better to fail here than print a
        # shifted column in a credit memo
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(
                    f"表格第 {i + 1} 列有 {len(row)} 欄，表頭 {len(self.header)} 欄 / "
                    f"row {i + 1} has {len(row)} cells, header has {len(self.header)}"
                )


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)


@dataclass
class Document:
    """Rendered in this order: title, status, metadata, sections (each: paragraphs, tables,
    bullets, citations)."""

    title: str
    metadata: list[tuple[str, str]] = field(default_factory=list)  # ordered (key, value)
    sections: list[Section] = field(default_factory=list)
    status: str = DRAFT_STATUS
