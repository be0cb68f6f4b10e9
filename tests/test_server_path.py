"""The Qdrant-server code path, run for real on qdrant-client's local mode, which speaks the same
API (no server can run here): the same collection layout, BM25 weighting and fusion as Qdrant
Edge, so a bank that moves to a server keeps its ranking."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from assistant.container import Container
from knowledge.errors import KnowledgeError
from knowledge.models import SearchFilters
from knowledge.search import Retriever
from knowledge.server_store import ServerStore, collection_layout
from tests.conftest import make_settings
from tests.test_edge_store import one_answer_reads_one_version, searches_never_mix
from tests.test_ingest import AML, BANK, write

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


# ---- versions behind the alias: what Edge's tests require of Edge ----


@pytest.fixture
def versioned(tmp_path: Path) -> Iterator[Container]:
    c = _container(tmp_path, ())
    yield c
    c.vector_store.close()
    c.close()


def _labels(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{h.law}:{h.article}" for h in hits]


def test_each_ingestion_is_a_version_behind_the_alias(versioned: Container, tmp_path: Path) -> None:
    store = versioned.vector_store
    assert isinstance(store, ServerStore)
    versioned.ingestor.ingest_laws(write(tmp_path / "ChLaw.json", [BANK]))
    first = store.version
    assert first == "regulations__v000001" and store.count() == 3
    aliases = {a.alias_name: a.collection_name for a in store._client.get_aliases().aliases}
    assert aliases == {"regulations": first}
    unchanged = versioned.ingestor.ingest_laws(tmp_path / "ChLaw.json")
    assert not unchanged.changed and store.versions() == [first]  # nothing copied
    with store.pinned():
        # An ingestion publishes while a search is under way: the search stays on its version.
        versioned.ingestor.ingest_laws(write(tmp_path / "Other.json", [AML]))
        assert store.count() == 3
        assert "測試洗錢防制法:14" not in _labels(versioned.retriever.search("攜帶黃金出境", k=5))
    assert store.version == "regulations__v000002" and store.count() == 4
    assert _labels(versioned.retriever.search("攜帶黃金出境", k=1)) == ["測試洗錢防制法:14"]
    # Removal goes through a version too; older versions go, the last two stay.
    shorter = {**BANK, "LawArticles": BANK["LawArticles"][1:]}
    assert versioned.ingestor.ingest_laws(write(tmp_path / "ChLaw.json", [shorter])).removed == 1
    assert store.count() == 3
    assert store.versions() == ["regulations__v000002", "regulations__v000003"]


def test_a_failed_ingestion_leaves_the_live_version_as_it_was(
    versioned: Container, tmp_path: Path
) -> None:
    store = versioned.vector_store
    assert isinstance(store, ServerStore)
    versioned.ingestor.ingest_laws(write(tmp_path / "ChLaw.json", [BANK]))
    live = store.version
    with pytest.raises(RuntimeError, match="cut"), store.batch():
        versioned.ingestor.ingest_laws(write(tmp_path / "Other.json", [AML]))
        assert store.count() == 3  # searches read the live version meanwhile
        raise RuntimeError("cut")
    assert store.version == live and store.versions() == [live] and store.count() == 3


def test_one_answer_reads_one_version_across_its_searches(
    versioned: Container, tmp_path: Path
) -> None:
    """As on Edge: a re-ingest published between an answer's first search and its rewrite's
    second search is not seen by that answer; the next answer sees it."""
    one_answer_reads_one_version(versioned, tmp_path)


def test_a_collection_made_before_versions_becomes_the_first_version(
    versioned: Container, tmp_path: Path
) -> None:
    """A collection an earlier release made under the configured name itself: read as it is,
    then copied into the first version at the next ingestion, the name becoming the alias."""
    store = versioned.vector_store
    assert isinstance(store, ServerStore)
    versioned.ingestor.ingest_laws(write(tmp_path / "ChLaw.json", [BANK]))
    client = store._client
    size, _ = collection_layout(client, "regulations__v000001")
    store._create("plain", size)  # what an earlier release left: a collection, no alias
    store._copy("regulations__v000001", "plain")
    old = ServerStore(client, "plain")
    assert old.version == "plain" and old.count() == 3
    settings = make_settings(tmp_path / "other", qdrant={"url": "http://qdrant.invalid:6333"})
    c = Container(settings, lent={"vector_store": old})
    try:
        c.ingestor.ingest_laws(write(tmp_path / "ChLaw.json", [BANK, AML]))
        assert old.version == "plain__v000001" and old.count() == 4
        assert "plain" not in [x.name for x in client.get_collections().collections]
    finally:
        c.close()


def test_searches_during_reingests_never_mix_versions(versioned: Container, tmp_path: Path) -> None:
    """As on Edge (the alias moves once per ingestion). qdrant-client's local mode is pure
    Python: a reader that never pauses holds the GIL from the ingestion for minutes (a server
    does its work in its own process), so this reader pauses between searches."""
    searches_never_mix(versioned, tmp_path / "ChLaw.json", pause=0.05)


def test_an_ingestion_overtaken_by_another_is_refused_clearly(
    versioned: Container, tmp_path: Path
) -> None:
    """Two processes ingesting into one server: the one that would publish over a version
    published since it began is refused, and the other's version stays live."""
    store = versioned.vector_store
    assert isinstance(store, ServerStore)
    versioned.ingestor.ingest_laws(write(tmp_path / "ChLaw.json", [BANK]))
    other = ServerStore(store._client, "regulations")
    second = Container(
        make_settings(tmp_path / "other", qdrant={"url": "http://qdrant.invalid:6333"}),
        lent={"vector_store": other},
    )
    try:
        with (
            pytest.raises(KnowledgeError, match=r"另一個匯入已發布.*another ingestion published"),
            store.batch(),
        ):
            store.ensure_collection(versioned.embedder.dim or 384)  # this one's copy: v2
            points, _ = store._client.scroll(store.version, limit=1)
            store.delete([str(points[0].id)])
            second.ingestor.ingest_laws(write(tmp_path / "Other.json", [BANK, AML]))  # v3
        assert store.version == "regulations__v000003" and store.count() == 4
        assert "regulations__v000002" not in store.versions()
        # Two that pick the same name: the later one is told as well.
        size, _ = collection_layout(store._client, "regulations__v000003")
        store._create("regulations__v000004", size)
        store._next_name = lambda: "regulations__v000004"  # type: ignore[method-assign]
        with (
            pytest.raises(KnowledgeError, match=r"另一個匯入正在寫入.*another ingestion"),
            store.batch(),
        ):
            store.ensure_collection(size)
    finally:
        second.close()
