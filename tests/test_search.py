"""Hybrid search over a real slice of the corpus (Chinese and English)."""

import pytest

from assistant.container import Container
from knowledge.errors import IndexNotReady, SearchError
from knowledge.models import SearchFilters


def labels(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{h.law}:{h.article}" for h in hits]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("銀行法第12條之1", "銀行法:12-1"),
        ("洗錢防制法§5", "洗錢防制法:5"),
        ("個資法第20條在講什麼", "個人資料保護法:20"),
        ("管理外匯條例第二條", "管理外匯條例:2"),
    ],
)
def test_named_article_comes_first(kb: Container, question: str, expected: str) -> None:
    assert labels(kb.retriever.search(question, k=3))[0] == expected


def test_articles_of_two_laws_are_each_taken_with_their_own_law(kb: Container) -> None:
    hits = kb.retriever.search("洗錢防制法第5條及銀行法33有何不同", k=5)
    assert {(h.law, h.article) for h in hits[:2]} == {("洗錢防制法", "5"), ("銀行法", "33")}
    assert ("銀行法", "5") not in [(h.law, h.article) for h in hits[:2]]


def test_hits_carry_citation_fields(kb: Container) -> None:
    hit = kb.retriever.search("行員可以收客戶的佣金嗎", k=5)[0]
    assert (hit.law, hit.article) == ("銀行法", "35")
    assert hit.amended and len(hit.amended) == 10
    assert hit.url and hit.url.startswith("https://law.moj.gov.tw/")
    assert hit.source == "ChLaw.json" and hit.lang == "zh-TW" and hit.level == "法律"
    assert "佣金" in hit.text


def test_one_hit_per_article_best_first(kb: Container) -> None:
    """An article and its English translation are one source: shown once, in the question's
    language, so they never take two of the five places."""
    for question, lang in (("銀行經營哪些業務", "zh-TW"), ("What business may a bank run?", "en")):
        hits = kb.retriever.search(question, k=10)
        keys = [(h.law, h.article) for h in hits]
        assert len(keys) == len(set(keys))
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].lang == lang
    # an English question about an article held in both languages gets the English text
    en = kb.retriever.search("Banking Act Article 12-1 joint guarantor", k=5)
    assert [h.lang for h in en if (h.law, h.article) == ("銀行法", "12-1")] == ["en"]


def test_english_question_finds_the_english_translation(kb: Container) -> None:
    hits = kb.retriever.search("Can a bank require a joint guarantor for a consumer loan?", k=5)
    assert "銀行法:12-1" in labels(hits)
    hit = next(h for h in hits if h.article == "12-1")
    assert hit.lang == "en" and "Banking Act" in hit.title


def test_filters_by_law_and_language(kb: Container) -> None:
    hits = kb.retriever.search(
        "確認客戶身分", k=5, filters=SearchFilters(laws=["金融機構防制洗錢辦法"])
    )
    assert hits and {h.law for h in hits} == {"金融機構防制洗錢辦法"}
    hits = kb.retriever.search("customer due diligence", k=5, filters=SearchFilters(langs=["en"]))
    assert hits and {h.lang for h in hits} == {"en"}
    assert (
        kb.retriever.search("確認客戶身分", k=5, filters=SearchFilters(amended_to="1900-01-01"))
        == []
    )


def test_each_mode_returns_ranked_hits(kb: Container) -> None:
    for mode in ("dense", "sparse", "hybrid"):
        hits = kb.retriever.search("anti-money laundering financial institutions", k=5, mode=mode)
        assert len(hits) == 5, mode


def test_bad_questions_get_clear_errors(kb: Container) -> None:
    with pytest.raises(SearchError, match="empty"):
        kb.retriever.search("   ")
    with pytest.raises(SearchError, match="too long"):
        kb.retriever.search("銀" * 5000)
    with pytest.raises(SearchError, match="k must"):
        kb.retriever.search("銀行", k=0)


def test_empty_knowledge_base_says_so(fresh: Container) -> None:
    with pytest.raises(IndexNotReady, match="ingest"):
        fresh.retriever.search("銀行")
