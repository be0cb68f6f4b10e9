"""The records the knowledge base stores and returns."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from pydantic import BaseModel, Field

from knowledge.articles import article_label

DENSE_ZH_CHARS = 48
_NAMESPACE = uuid.UUID("7b6f2c1e-3f4e-4d8a-9a51-0c5f2b1d7e90")


class Chunk(BaseModel):
    """One retrievable piece: a whole article, or one part of a long article."""

    doc_key: str = Field(description="What the chunk belongs to, e.g. 'law:zh-TW:銀行法'.")
    source: str = Field(description="File the chunk was read from (file name).")
    law: str = Field(description="Law or document title, in the document's own language.")
    law_zh: str = Field(description="Chinese law name; scoring and citations use it.")
    law_en: str | None = None
    level: str = Field(description="法律 / 命令 / 內規 …")
    category: str = ""
    article: str = Field(description="Normalised article number ('12-1'); '' when none.")
    part: int = Field(0, description="Index of this part within a split article.")
    chapter: str = Field("", description="Chapter headings in force where the article stands.")
    text: str
    amended: str | None = Field(None, description="Amendment date, ISO (YYYY-MM-DD).")
    url: str | None = None
    lang: str = "zh-TW"
    page: int | None = Field(None, description="1-based page, for PDFs.")
    doc_class: str = "public"

    @property
    def id(self) -> str:
        """Stable across re-ingestion, so an unchanged article keeps its id and vector."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.doc_key}\x1f{self.article}\x1f{self.part}"))

    @property
    def content_hash(self) -> str:
        # The dense text is part of the hash: a change in what gets embedded re-embeds.
        body = self.model_dump_json(exclude={"source"}) + self.dense_text()
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]

    @property
    def label(self) -> str:
        return article_label(self.law, self.article, self.lang)

    def lexical_text(self) -> str:
        """What the lexical index reads: the law name and headings give each article context."""
        return f"{self.law} {self.law_zh if self.law_zh != self.law else ''} {self.chapter}\n{self.text}"

    def dense_text(self, zh_chars: int = DENSE_ZH_CHARS) -> str:
        # A Chinese article is cut to what the embedding model can use (its ``zh_chars``).
        text = self.text if self.lang == "en" else self.text[:zh_chars]
        return f"{self.label} {self.chapter}\n{text}"

    def payload(self) -> dict[str, Any]:
        data = self.model_dump()
        data["chunk_id"] = self.id
        data["hash"] = self.content_hash
        # Dates as integers make range filters work the same in local mode and on a server.
        data["amended_int"] = int(self.amended.replace("-", "")) if self.amended else 0
        return data


class Hit(BaseModel):
    """A search result, best first. ``law``/``article`` are the Chinese law and normalised article."""

    chunk_id: str
    law: str
    article: str
    text: str
    score: float
    amended: str | None
    url: str | None
    source: str
    lang: str
    title: str = Field(description="Law name in the hit's own language.")
    level: str = ""
    category: str = ""
    chapter: str = ""
    page: int | None = None
    doc_class: str = "public"
    law_en: str | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any], score: float) -> Hit:
        return cls(
            chunk_id=payload["chunk_id"],
            law=payload["law_zh"],
            article=payload["article"],
            text=payload["text"],
            score=round(float(score), 6),
            amended=payload.get("amended"),
            url=payload.get("url"),
            source=payload.get("source", ""),
            lang=payload.get("lang", "zh-TW"),
            title=payload["law"],
            level=payload.get("level", ""),
            category=payload.get("category", ""),
            chapter=payload.get("chapter", ""),
            page=payload.get("page"),
            doc_class=payload.get("doc_class", "public"),
            law_en=payload.get("law_en"),
        )

    @property
    def label(self) -> str:
        return article_label(self.law, self.article)


class SearchFilters(BaseModel):
    """Payload filters; every field is optional and they combine with AND."""

    laws: list[str] | None = Field(None, description="Chinese or English law names.")
    levels: list[str] | None = None
    categories: list[str] | None = Field(
        None, description="Category prefixes, e.g. '行政＞金融監督管理委員會'."
    )
    amended_from: str | None = Field(None, description="ISO date; amended on or after.")
    amended_to: str | None = Field(None, description="ISO date; amended on or before.")
    doc_classes: list[str] | None = Field(None, description="Document classes the caller may see.")
    langs: list[str] | None = None
