import pytest

from knowledge.articles import cn_to_int, find_article_refs, normalise_article
from knowledge.query import int_to_cn, numeral_expansions


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("第 12 條", "12"),
        ("第 12-1 條", "12-1"),
        ("第十二條之一", "12-1"),
        ("第 12 條之 1", "12-1"),
        ("第一百零五條", "105"),
        ("第１２條", "12"),
        ("Article 12-1", "12-1"),
        ("Article 739", "739"),
        ("§8", "8"),
        ("45-2", "45-2"),
    ],
)
def test_normalise_article(raw: str, expected: str) -> None:
    assert normalise_article(raw) == expected


def test_chinese_numerals() -> None:
    assert cn_to_int("十二") == 12
    assert cn_to_int("二十") == 20
    assert cn_to_int("一百零五") == 105
    assert cn_to_int("兩千") == 2000
    assert cn_to_int("abc") is None
    # digit by digit, as people write in a hurry
    assert cn_to_int("四五") == 45
    assert cn_to_int("一〇五") == 105
    assert int_to_cn(5) == "五"
    assert int_to_cn(10) == "十"
    assert int_to_cn(105) == "一百零五"
    assert int_to_cn(30000) == "三萬"
    assert int_to_cn(500000) == "五十萬"


def test_article_refs_in_questions() -> None:
    assert find_article_refs("銀行法第12條之1和第33條之3") == ["12-1", "33-3"]
    assert find_article_refs("洗錢防制法§8 規定什麼") == ["8"]
    assert find_article_refs("沒有條號的問題") == []
    assert find_article_refs("銀行法第四十五之二條") == ["45-2"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("銀行法45條之2", ["45-2"]),
        ("銀行法45-2", ["45-2"]),
        ("依銀行法33，可以嗎", ["33"]),
        ("個資法20條怎麼說", ["20"]),
        ("銀行法33有何不同", ["33"]),
        ("銀行法33和35", ["33"]),
        ("銀行法第33條", ["33"]),
        # an amount, a year or a count after the name is not an article
        ("銀行法100萬以上要申報嗎", []),
        ("洗錢防制法2024年修正了什麼", []),
        ("銀行法 3 種業務", []),
    ],
)
def test_an_article_written_right_after_the_law(kb, question: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert kb.retriever.analyse(question).articles == expected


def test_numerals_are_spelled_as_statutes_spell_them() -> None:
    assert "百分之五" in numeral_expansions("持股超過5%")
    assert "十日" in numeral_expansions("要在10天內申報")
    assert "五十萬" in numeral_expansions("50萬元以上")
    assert numeral_expansions("NT$600,000") == ["六十萬"]


def test_dates_as_staff_write_them() -> None:
    from datetime import date

    from assistant.dates import parse_date

    assert parse_date("2024-01-05") == date(2024, 1, 5)
    assert parse_date("113/01/05") == date(2024, 1, 5)
    assert parse_date("民國113年1月5日") == date(2024, 1, 5)
    assert parse_date("１１３．１．５") == date(2024, 1, 5)
    for bad in ("2024-13-45", "昨天", "113/02/30", ""):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_definition_questions_look_for_the_defining_words() -> None:
    from knowledge.query import definition_expansions

    assert "稱保證者" in definition_expansions("保證契約的定義是什麼？")
    assert "所稱警示帳戶" in definition_expansions("何謂警示帳戶？")
    assert definition_expansions("銀行可以經營哪些業務？") == []


def test_other_industries_are_lowered_unless_named() -> None:
    from knowledge.search import _other_sector

    assert _other_sector("農業金融機構防制洗錢辦法", "客戶拒絕提供身分文件怎麼辦")
    assert not _other_sector("農業金融機構防制洗錢辦法", "農會信用部客戶拒絕提供身分文件")
    assert not _other_sector("金融機構防制洗錢辦法", "客戶拒絕提供身分文件怎麼辦")
    assert not _other_sector("保險法", "壽險保單可以質借嗎")
