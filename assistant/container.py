"""The composition root: the one place that turns settings into services.

Services are built on first use, so a command pays only for what it touches (``search --help``
never loads torch). Everything else receives its collaborators through its constructor.
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.engine import Engine

from assistant.db import make_engine
from assistant.llm import LLM, make_llm
from assistant.settings import Settings
from knowledge.analyzer import Analyzer
from knowledge.catalog import Catalog
from knowledge.embedder import SentenceTransformerEmbedder
from knowledge.ingest import Ingestor
from knowledge.lexical import LexicalIndex
from knowledge.search import Retriever
from knowledge.vectorstore import QdrantStore


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def engine(self) -> Engine:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.database_url, self.settings.database.busy_timeout_ms)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.engine)

    @cached_property
    def analyzer(self) -> Analyzer:
        return Analyzer()

    @cached_property
    def embedder(self) -> SentenceTransformerEmbedder:
        e = self.settings.embedding
        return SentenceTransformerEmbedder(
            e.model, device=e.device, batch_size=e.batch_size, max_seq_length=e.max_seq_length
        )

    @cached_property
    def vector_store(self) -> QdrantStore:
        q = self.settings.qdrant
        return QdrantStore(
            q.collection,
            path=self.settings.qdrant_path,
            url=q.url,
            api_key=q.api_key,
            timeout_s=q.timeout_s,
        )

    @cached_property
    def lexical(self) -> LexicalIndex | None:
        # With a Qdrant server the lexical side lives in Qdrant as sparse vectors.
        if self.settings.qdrant.url:
            return None
        return LexicalIndex(
            self.settings.lexical_path, char_weight=self.settings.retrieval.char_weight
        )

    @cached_property
    def ingestor(self) -> Ingestor:
        i = self.settings.ingest
        return Ingestor(
            self.catalog,
            self.vector_store,
            self.lexical,
            self.embedder,
            self.analyzer,
            max_chunk_chars=i.max_chunk_chars,
            max_chunk_chars_en=i.max_chunk_chars_en,
            max_file_mb=i.max_file_mb,
            default_doc_class=i.default_doc_class,
        )

    @cached_property
    def retriever(self) -> Retriever:
        r = self.settings.retrieval
        return Retriever(
            self.catalog,
            self.vector_store,
            self.lexical,
            self.embedder,
            self.analyzer,
            fusion=r.fusion,
            dense_weight_zh=r.dense_weight_zh,
            dense_weight_en=r.dense_weight_en,
            rrf_k=r.rrf_k,
            act_prior=r.act_prior,
            sector_penalty=r.sector_penalty,
            candidates=r.candidates,
            max_query_chars=r.max_query_chars,
        )

    @cached_property
    def llm(self) -> LLM:
        return make_llm(self.settings.llm)

    def close(self) -> None:
        if "vector_store" in self.__dict__:
            self.vector_store.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
