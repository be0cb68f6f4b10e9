"""The Qdrant-server code path, run for real on qdrant-client's local mode, which speaks the same
API (no server can run here): the same collection layout, BM25 weighting and fusion as Qdrant
Edge, so a bank that moves to a server keeps its ranking."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from assistant.container import Container
from knowledge.models import SearchFilters
from knowledge.search import Retriever
from knowledge.server_store import ServerStore
from tests.conftest import make_settings

QUESTIONS = [
    "疑似不法的存款帳戶可以暫停提領嗎",
    "銀行可以對自己的董事辦理無擔保授信嗎",
    "銀行法第33條",
    "行員可以收客戶的佣金嗎",
    "Can a bank require a joint guarantor for a consumer loan?",
    "What must a bank report about suspicious transactions?",
]


def _container(root: Path, law_files: tuple[Path, ...], fusion: str = "code") -> Container:
    settings = make_settings(
        root / "data", qdrant={"url": "http://qdrant.invalid:6333", "edge_fusion": fusion}
    )
    r = settings.retrieval
    client = QdrantClient(path=str(root / "qdrant"))
    store = ServerStore(
        client, "regulations", fusion=fusion, char_weight=r.char_weight, rrf_k=r.rrf_k
    )
    c = Container(settings, lent={"vector_store": store})
    for path in law_files:
        c.ingestor.ingest_laws(path)
    c.retriever.refresh()
    return c


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, small_law_files: tuple[Path, Path]
) -> Iterator[Retriever]:
    c = _container(tmp_path_factory.mktemp("server"), small_law_files)
    yield c.retriever
    c.vector_store.close()
    c.close()


def ranked(r: Retriever, q: str, **kw: object) -> list[tuple[str, str, float]]:
    return [(h.law, h.article, round(h.score, 4)) for h in r.search(q, k=5, **kw)]  # type: ignore[arg-type]


def test_a_server_ranks_as_edge_does(server: Retriever, kb: Container) -> None:
    """Same corpus, ingested in the same two steps: the same articles with the same scores."""
    for q in QUESTIONS:
        assert ranked(server, q) == ranked(kb.retriever, q), q
    aml = SearchFilters(laws=["洗錢防制法"])
    assert ranked(server, "確認客戶身分", filters=aml) == ranked(
        kb.retriever, "確認客戶身分", filters=aml
    )


def test_chinese_question_through_qdrant_sparse_vectors(server: Retriever) -> None:
    hits = server.search("疑似不法的存款帳戶可以暫停提領嗎", k=5)
    assert ("銀行法", "45-2") in [(h.law, h.article) for h in hits]


def test_english_question(server: Retriever) -> None:
    hits = server.search("Can a bank require a joint guarantor for a consumer loan?", k=5)
    assert ("銀行法", "12-1") in [(h.law, h.article) for h in hits]


def test_filters_apply_in_qdrant(server: Retriever) -> None:
    hits = server.search("確認客戶身分", k=5, filters=SearchFilters(laws=["洗錢防制法"]))
    assert hits and {h.law for h in hits} == {"洗錢防制法"}


@pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
def test_fusion_in_the_server(
    tmp_path: Path, small_law_files: tuple[Path, Path], fusion: str
) -> None:
    c = _container(tmp_path, (small_law_files[1],), fusion)
    hits = c.retriever.search("Can a bank require a joint guarantor for a consumer loan?", k=5)
    assert ("銀行法", "12-1") in [(h.law, h.article) for h in hits]
    c.vector_store.close()
    c.close()


def test_an_old_layout_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    from qdrant_client import models as m

    client = QdrantClient(path=str(tmp_path / "q"))
    client.create_collection(
        "regulations",
        vectors_config={"dense": m.VectorParams(size=384, distance=m.Distance.COSINE)},
        sparse_vectors_config={"lexical": m.SparseVectorParams(modifier=m.Modifier.IDF)},
    )
    with pytest.raises(Exception, match="new collection"):
        ServerStore(client, "regulations").ensure_collection(384)
    client.close()
