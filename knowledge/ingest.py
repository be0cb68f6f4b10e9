"""Incremental ingestion: unchanged chunks are skipped by content hash, changed ones replaced,
removed ones deleted. The whole input is parsed and validated before anything is written."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.analyzer import Analyzer
from knowledge.catalog import Catalog
from knowledge.chunking import law_chunks
from knowledge.docs import doc_chunks, read_document
from knowledge.edge_store import EdgeStore
from knowledge.embedder import Embedder
from knowledge.errors import IngestError
from knowledge.laws import read_laws
from knowledge.lexical import LexicalIndex
from knowledge.models import Chunk
from knowledge.server_store import ServerStore
from knowledge.vectorstore import QdrantStore

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): long steps report as they go."""


@dataclass
class Prepared:
    """A parsed, validated input, ready to apply."""

    source: str
    chunks: list[Chunk]
    documents: int
    replace_source: bool
    words: set[str]


@dataclass
class DocChange:
    doc: str
    added: int = 0
    amended: int = 0
    removed: int = 0


@dataclass
class IngestReport:
    source: str
    documents: int = 0
    chunks: int = 0
    added: int = 0
    amended: int = 0
    removed: int = 0
    unchanged: int = 0
    # Unchanged text embedded again because the embedding model changed.
    reembedded: int = 0
    seconds: float = 0.0
    changes: list[DocChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.amended or self.removed)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "documents": self.documents,
            "chunks": self.chunks,
            "added": self.added,
            "amended": self.amended,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "reembedded": self.reembedded,
            "seconds": round(self.seconds, 2),
            "changes": [c.__dict__ for c in self.changes],
        }


class Ingestor:
    def __init__(
        self,
        catalog: Catalog,
        store: QdrantStore | EdgeStore | ServerStore,
        lexical: LexicalIndex | None,
        embedder: Embedder,
        analyzer: Analyzer,
        *,
        max_chunk_chars: int,
        max_chunk_chars_en: int,
        max_file_mb: int,
        default_doc_class: str,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._lexical = lexical
        self._embedder = embedder
        self._analyzer = analyzer
        self._max_chars = max_chunk_chars
        self._max_chars_en = max_chunk_chars_en
        self._max_bytes = max_file_mb * 1024 * 1024
        self._doc_class = default_doc_class

    def embedding_tag(self) -> str:
        """Which model embedded a chunk, and how much of it: kept beside its content hash."""
        return f"{self._embedder.name}:{self._embedder.zh_chars}"

    def _check_file(self, path: Path) -> None:
        if not path.exists():
            raise IngestError(path, "找不到檔案 / file not found")
        if not path.is_file():
            raise IngestError(path, "不是檔案 / not a file")
        if path.stat().st_size > self._max_bytes:
            raise IngestError(
                path, f"檔案超過 {self._max_bytes // 2**20} MiB 上限 / file larger than the limit"
            )

    def prepare_laws(self, path: Path) -> Prepared:
        """Read and validate a law file; nothing is written."""
        self._check_file(path)
        laws = read_laws(path)
        chunks = [
            c
            for law in laws
            for c in law_chunks(
                law,
                path.name,
                self._max_chars_en if law.lang == "en" else self._max_chars,
                self._doc_class,
            )
        ]
        return Prepared(
            path.name, chunks, len(laws), replace_source=True, words={law.name_zh for law in laws}
        )

    def prepare_doc(
        self,
        path: Path,
        *,
        title: str | None = None,
        level: str = "內規",
        category: str = "",
        doc_class: str | None = None,
        amended: str | None = None,
    ) -> Prepared:
        """Read and validate a PDF, Markdown or text document; nothing is written."""
        self._check_file(path)
        pages = read_document(path)
        chunks = doc_chunks(
            path,
            pages,
            title=title,
            level=level,
            category=category,
            doc_class=doc_class or self._doc_class,
            amended=amended,
            max_chars=self._max_chars,
        )
        return Prepared(path.name, chunks, 1, replace_source=False, words={chunks[0].law_zh})

    def ingest_laws(self, path: Path, progress: Progress | None = None) -> IngestReport:
        return self.apply(self.prepare_laws(path), progress)

    def apply(self, prepared: Prepared, progress: Progress | None = None) -> IngestReport:
        # Law names are the most telling words a question can contain: teach them to jieba.
        self._analyzer.add_words(prepared.words)
        return self._apply(
            prepared.source, prepared.chunks, prepared.documents, progress, prepared.replace_source
        )

    def _apply(
        self,
        source: str,
        chunks: list[Chunk],
        documents: int,
        progress: Progress | None,
        replace_source: bool,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(source=source, documents=documents, chunks=len(chunks))
        doc_keys = {c.doc_key for c in chunks}
        if replace_source:
            # A document the source used to hold but no longer does was repealed: remove it.
            doc_keys |= self._catalog.doc_keys_from(source)
        existing = self._catalog.hashes(doc_keys)
        new_ids = {c.id for c in chunks}
        per_doc: dict[str, DocChange] = defaultdict(lambda: DocChange(""))
        todo: list[Chunk] = []
        model = self.embedding_tag()
        for c in chunks:
            old = existing.get(c.id)
            content, _, embedded_with = old[0].partition("@") if old else ("", "", "")
            if old is None:
                per_doc[c.doc_key].added += 1
                todo.append(c)
            elif content != c.content_hash:
                per_doc[c.doc_key].amended += 1
                todo.append(c)
            elif embedded_with != model:
                # Vectors of two models cannot be compared: the text stays, the vector is new.
                report.reembedded += 1
                todo.append(c)
            else:
                report.unchanged += 1
        removed = [cid for cid in existing if cid not in new_ids]
        for cid in removed:
            per_doc[existing[cid][1]].removed += 1
        for key, change in sorted(per_doc.items()):
            change.doc = key.split(":", 2)[-1]
            report.changes.append(change)
        report.added = sum(c.added for c in report.changes)
        report.amended = sum(c.amended for c in report.changes)
        report.removed = len(removed)

        if todo or removed:
            tokens = []
            for i, c in enumerate(todo):
                tokens.append(self._analyzer.tokens(c.lexical_text()))
                if progress and (i % 500 == 0 or i == len(todo) - 1):
                    progress("analyse", i + 1, len(todo))
            done = 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                if progress:
                    progress("embed", done, len(todo))

            vectors = self._embedder.embed(
                [c.dense_text(self._embedder.zh_chars) for c in todo], progress=tick
            )
            # The store's token list: the analyzer's terms, then single characters marked "#"
            # (Edge and a server split them into their two sparse fields, knowledge.bm25).
            sparse = [
                t + [f"#{ch}" for ch in Analyzer.chars(c.lexical_text())]
                for c, t in zip(todo, tokens, strict=True)
            ]
            # Qdrant Edge builds the change into a new version and publishes it at the end of
            # the batch, while a running server keeps searching the one before; Edge and a
            # Qdrant server re-weight BM25 at the end of the batch if the average length moved.
            batch = getattr(self._store, "batch", None)
            with batch() if batch is not None else contextlib.nullcontext():
                self._store.ensure_collection(self._embedder.dim or vectors.shape[1])
                ids = [c.id for c in todo]
                self._store.upsert(ids, vectors, [c.payload() for c in todo], sparse)
                self._store.delete(removed)
            # The catalog is written last: if anything above failed, the next run redoes it.
            self._catalog.apply(list(zip(todo, tokens, strict=True)), removed, embedded_with=model)
            if self._lexical is not None:
                if progress:
                    progress("index", 0, 1)
                self._lexical.rebuild(self._catalog.iter_all())
                if progress:
                    progress("index", 1, 1)
        report.seconds = time.perf_counter() - started
        return report
