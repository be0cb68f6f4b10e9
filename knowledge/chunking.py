"""Article-level chunks. A long article is split at its paragraphs (項) or items (款),
every part keeping the article number and the lead-in sentence that gives the items meaning."""

from __future__ import annotations

from knowledge.laws import Law
from knowledge.models import Chunk

_LEAD_IN_CHARS = 120


def split_article(text: str, max_chars: int) -> list[str]:
    """Split at line breaks (each line of MOJ data is one 項 or 款), packing lines up to max_chars."""
    if len(text) <= max_chars:
        return [text]
    lines = text.split("\n")
    lead = lines[0][:_LEAD_IN_CHARS]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        # A single line longer than the budget stays whole: cutting mid-sentence loses meaning.
        if current and size + len(line) > max_chars:
            parts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        parts.append("\n".join(current))
    return [parts[0]] + [p if p.startswith(lead) else f"{lead}……\n{p}" for p in parts[1:]]


def law_chunks(law: Law, source: str, max_chars: int, doc_class: str) -> list[Chunk]:
    doc_key = f"law:{law.lang}:{law.name_zh}"
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for art in law.articles:
        # Rarely an article number repeats in the data; keep both rather than lose one.
        n = seen.get(art.article, 0)
        seen[art.article] = n + 1
        for i, part in enumerate(split_article(art.text, max_chars)):
            chunks.append(
                Chunk(
                    doc_key=doc_key,
                    source=source,
                    law=law.name,
                    law_zh=law.name_zh,
                    law_en=law.name_en,
                    level=law.level,
                    category=law.category,
                    article=art.article,
                    part=n * 1000 + i,
                    chapter=art.chapter,
                    text=part,
                    amended=law.amended,
                    url=law.url,
                    lang=law.lang,
                    doc_class=doc_class,
                )
            )
    return chunks
