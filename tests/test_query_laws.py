"""Laws a question names: the ones the corpus holds, and the ones it does not."""

from __future__ import annotations

import pytest

from knowledge.analyzer import Analyzer
from knowledge.query import QueryAnalyser

NAMES = {
    "銀行法": "銀行法",
    "期貨交易法": "期貨交易法",
    "管理外匯條例": "管理外匯條例",
    "個人資料保護法": "個人資料保護法",
    "Banking Act of The Republic of China": "銀行法",
    "Foreign Exchange Regulation Act": "管理外匯條例",
    "Futures Trading Act": "期貨交易法",
}


@pytest.fixture(scope="module")
def analyser() -> QueryAnalyser:
    return QueryAnalyser(Analyzer(), NAMES)


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("勞工加班費依勞動基準法要怎麼計算？", ["勞動基準法"]),
        ("醫院病歷依醫療法至少要保存幾年？", ["醫療法"]),
        ("《食品安全衛生管理法》對標示不實罰多少？", ["食品安全衛生管理法"]),
        ("違反建築法與醫療法各罰多少？", ["建築法", "醫療法"]),
        ("Under the US Dodd-Frank Act, what are the limits?", ["Dodd-Frank Act"]),
        ("What does Taiwan's Labor Standards Act say about leave?", ["Labor Standards Act"]),
    ],
)
def test_laws_the_corpus_lacks(analyser: QueryAnalyser, question: str, missing: list[str]) -> None:
    assert analyser.analyse(question).unknown_laws == missing


@pytest.mark.parametrize(
    "question",
    [
        "依銀行法第33條，利害關係人授信有什麼限制？",  # held
        "依期交法，期貨商要怎麼保管保證金？",  # 期交法 shortens 期貨交易法
        "Under the Foreign Exchange Control Act, who supervises FX business?",  # a variant name
        "依相關辦法，銀行要怎麼做？",  # rules in general
        "依主管機關規則辦理即可嗎？",
        "依國內外期貨交易所或其他期貨市場之規則交易",
        "客戶可以依法要求刪除個人資料嗎？",  # 依法: by law, no name
        "銀行可以用什麼方法確認客戶身分？",  # 方法 is a word, not a law
    ],
)
def test_held_laws_variants_and_generic_phrases_are_not_missing(
    analyser: QueryAnalyser, question: str
) -> None:
    assert analyser.analyse(question).unknown_laws == []
