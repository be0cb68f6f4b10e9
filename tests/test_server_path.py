"""The Qdrant-server code path (sparse vectors in the collection, fusion in Qdrant's query API),
run for real on Qdrant local mode, which speaks the same API: no server can run here."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.schema import open_engine
from knowledge.analyzer import Analyzer
from knowledge.catalog import Catalog
from knowledge.embedder import SentenceTransformerEmbedder
from knowledge.ingest import Ingestor
from knowledge.models import SearchFilters
from knowledge.search import Retriever
from knowledge.vectorstore import QdrantStore


@pytest.fixture(scope="module")
def server_like(
    tmp_path_factory: pytest.TempPathFactory, small_law_files: tuple[Path, Path]
) -> Iterator[Retriever]:
    root = tmp_path_factory.mktemp("server")
    catalog = Catalog(open_engine(f"sqlite:///{root / 'a.db'}"))
    store = QdrantStore("regulations", path=root / "qdrant", sparse_in_qdrant=True)
    embedder = SentenceTransformerEmbedder()
    analyzer = Analyzer()
    ingestor = Ingestor(
        catalog,
        store,
        None,
        embedder,
        analyzer,
        max_chunk_chars=600,
        max_chunk_chars_en=1800,
        max_file_mb=50,
        default_doc_class="public",
    )
    for path in small_law_files:
        ingestor.ingest_laws(path)
    yield Retriever(catalog, store, None, embedder, analyzer, dense_weight_en=0.5)
    store.close()


def test_chinese_question_through_qdrant_sparse_vectors(server_like: Retriever) -> None:
    hits = server_like.search("疑似不法的存款帳戶可以暫停提領嗎", k=5)
    assert ("銀行法", "45-2") in [(h.law, h.article) for h in hits]


def test_english_question_fused_by_qdrant(server_like: Retriever) -> None:
    hits = server_like.search("Can a bank require a joint guarantor for a consumer loan?", k=5)
    assert ("銀行法", "12-1") in [(h.law, h.article) for h in hits]


def test_filters_apply_in_qdrant(server_like: Retriever) -> None:
    hits = server_like.search("確認客戶身分", k=5, filters=SearchFilters(laws=["洗錢防制法"]))
    assert hits and {h.law for h in hits} == {"洗錢防制法"}
