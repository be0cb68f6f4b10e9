"""The catalog of indexed chunks: the source of truth for incremental ingestion.

The vector store and the lexical index are both rebuilt from it, so it is written last, in one
transaction, after the vectors are safely stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert
from sqlmodel import Field, Session, SQLModel, col, select

from knowledge.models import Chunk


class ChunkRow(SQLModel, table=True):
    __tablename__ = "knowledge_chunk"

    id: str = Field(primary_key=True)
    doc_key: str = Field(index=True)
    source: str = Field(index=True)
    law_zh: str = Field(index=True)
    law: str = Field(description="Title in the document's own language.")
    article: str = Field(index=True)
    lang: str
    hash: str
    tokens: str = Field(description="Space-joined lexical terms, cached so rebuilds are fast.")
    payload: str = Field(description="The chunk's payload as JSON.")


@dataclass(frozen=True)
class StoredChunk:
    id: str
    hash: str
    tokens: list[str]
    payload: dict[str, Any]


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def hashes(self, doc_keys: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        """chunk id → (hash, doc_key), for the given documents or all."""
        stmt = select(ChunkRow.id, ChunkRow.hash, ChunkRow.doc_key)
        if doc_keys is not None:
            stmt = stmt.where(col(ChunkRow.doc_key).in_(list(doc_keys)))
        with Session(self._engine) as s:
            return {i: (h, d) for i, h, d in s.exec(stmt)}

    def doc_keys_from(self, source: str) -> set[str]:
        with Session(self._engine) as s:
            stmt = select(ChunkRow.doc_key).where(ChunkRow.source == source).distinct()
            return set(s.exec(stmt))

    def apply(
        self,
        upserts: list[tuple[Chunk, list[str]]],
        deletes: Iterable[str],
        embedded_with: str = "",
    ) -> None:
        """One transaction: either the whole change is recorded or none of it. The stored hash
        is the content's, then ``@`` and the embedding model's tag, so that a change of model
        re-embeds unchanged text."""
        suffix = f"@{embedded_with}" if embedded_with else ""
        rows = [
            {
                "id": chunk.id,
                "doc_key": chunk.doc_key,
                "source": chunk.source,
                "law_zh": chunk.law_zh,
                "law": chunk.law,
                "article": chunk.article,
                "lang": chunk.lang,
                "hash": chunk.content_hash + suffix,
                "tokens": " ".join(tokens),
                "payload": json.dumps(chunk.payload(), ensure_ascii=False),
            }
            for chunk, tokens in upserts
        ]
        # Replaced rows are deleted and inserted again: one bulk statement each, not a
        # select-then-update per row.
        gone = list(deletes) + [r["id"] for r in rows]
        with Session(self._engine) as s:
            for i in range(0, len(gone), 500):
                s.exec(delete(ChunkRow).where(col(ChunkRow.id).in_(gone[i : i + 500])))  # type: ignore[call-overload]
            if rows:
                s.exec(insert(ChunkRow), params=rows)  # type: ignore[call-overload]
            s.commit()

    def count(self) -> int:
        with Session(self._engine) as s:
            return s.exec(select(func.count()).select_from(ChunkRow)).one()

    def iter_all(self) -> Iterator[StoredChunk]:
        with Session(self._engine) as s:
            for row in s.exec(select(ChunkRow).order_by(ChunkRow.id)):
                yield StoredChunk(row.id, row.hash, row.tokens.split(), json.loads(row.payload))

    def get(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(ids)
        with Session(self._engine) as s:
            rows = s.exec(select(ChunkRow).where(col(ChunkRow.id).in_(ids)))
            return {r.id: json.loads(r.payload) for r in rows}

    def laws(self) -> list[tuple[str, str, int]]:
        """(law, lang, chunk count) of everything indexed."""
        with Session(self._engine) as s:
            stmt = select(ChunkRow.law_zh, ChunkRow.lang, func.count()).group_by(
                ChunkRow.law_zh, ChunkRow.lang
            )
            return [(law, lang, n) for law, lang, n in s.exec(stmt)]

    def law_names(self) -> list[tuple[str, str, str]]:
        """(Chinese name, name in its own language, lang) of every indexed document."""
        with Session(self._engine) as s:
            stmt = select(ChunkRow.law_zh, ChunkRow.law, ChunkRow.lang).distinct()
            return [(zh, own, lang) for zh, own, lang in s.exec(stmt)]

    def find(self, laws: list[str], articles: list[str]) -> list[str]:
        """Chunk ids of the named articles of the named laws, in article order asked."""
        with Session(self._engine) as s:
            stmt = select(ChunkRow.id, ChunkRow.article).where(
                col(ChunkRow.law_zh).in_(laws), col(ChunkRow.article).in_(articles)
            )
            rows = list(s.exec(stmt))
        rank = {a: i for i, a in enumerate(articles)}
        return [i for i, a in sorted(rows, key=lambda r: rank[r[1]])]
