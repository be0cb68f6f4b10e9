from datetime import date
from decimal import Decimal

import pytest

from assistant.extract import (
    check_dates,
    cn_number,
    find_accounts,
    find_amounts,
    find_currencies,
    find_date_range,
    find_dates,
    find_hops,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("十五", 15),
        ("一百零五", 105),
        ("兩千三百", 2300),
        ("三萬五千", 35000),
        ("3千5百", 3500),
        ("2億3千萬", 230_000_000),
        ("一千零五十", 1050),
        ("三萬五", 35000),  # spoken shorthand for 三萬五千
        ("壹拾萬", 100_000),  # 大寫 numerals on cheques and forms
        ("二〇二四", 2024),
        ("１２", 12),
        ("千萬", None),  # 千萬不要: "by all means", not ten million
        ("abc", None),
        ("1.5", None),
    ],
)
def test_cn_number(text: str, expected: int | None) -> None:
    assert cn_number(text) == expected


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("轉帳600,000元", "600000", "TWD"),
        ("金額 600，000", "600000", None),
        ("６０萬", "600000", None),
        ("60萬美元", "600000", "USD"),
        ("1.5億", "150000000", None),
        ("3千萬", "30000000", None),
        ("2億3千萬", "230000000", None),
        ("5萬3千", "53000", None),
        ("5 萬 3 千", "53000", None),
        ("五十萬", "500000", None),
        ("一百二十萬", "1200000", None),
        ("三千五百元", "3500", "TWD"),
        ("兩百萬", "2000000", None),
        ("600k", "600000", None),
        ("1.2 million", "1200000", None),
        ("USD 600,000", "600000", "USD"),
        ("NT$50,000", "50000", "TWD"),
        ("$1,000", "1000", None),
        ("USD 1.2m", "1200000", "USD"),
        ("新台幣60萬元", "600000", "TWD"),
        ("美金60萬元", "600000", "USD"),  # the named currency beats the generic 元
        ("100萬日圓", "1000000", "JPY"),
        ("一萬五千塊美金", "15000", "USD"),  # spoken: the generic unit, then the currency
        ("三千元日幣現鈔", "3000", "JPY"),
        ("50萬台幣", "500000", "TWD"),
        ("港幣 10萬", "100000", "HKD"),
        ("5,000 US dollars", "5000", "USD"),
        ("€5,000", "5000", "EUR"),
        ("人民幣 3 萬元", "30000", "CNY"),
        ("新台幣壹拾萬元整", "100000", "TWD"),
        ("1,234.50美元", "1234.5", "USD"),
        ("匯款USD600000", "600000", "USD"),
        ("轉入帳戶 50萬", "500000", None),  # an account label does not hide an amount with 萬
        ("匯款 3萬5 給對方", "35000", None),
        ("Show transfers above $10k", "10000", None),
        ("5 millions", "5000000", None),
    ],
)
def test_single_amount(text: str, value: str, currency: str | None) -> None:
    (amount,) = find_amounts(text)
    assert amount.value == Decimal(value)
    assert amount.currency == currency
    assert text[amount.span[0] : amount.span[1]] == amount.raw


@pytest.mark.parametrize(
    "text",
    [
        "依銀行法第32條",
        "第三十二條",
        "2024-03-01",
        "113/03/01",
        "民國113年3月1日",
        "2024年的交易",
        "利率2.5%",
        "百分之五十",
        "帳號 1234567890",
        "ACC000123",
        "打電話 0912-345-678",
        "前三層",
        "查 3 筆交易、最近 30 天",
        "top 5 customers",
        "千萬不要匯款給陌生人",
        "兆豐銀行",
        "USD/TWD 30.5",
        "十五",
    ],
)
def test_not_amounts(text: str) -> None:
    assert find_amounts(text) == []


def test_amounts_in_a_question() -> None:
    q = "帳號 0123-456-789012 在 2024-01-01 到 2024-03-31 之間匯出 5,000 歐元與 3000 英鎊，共 3 筆"
    found = [(a.value, a.currency) for a in find_amounts(q)]
    assert found == [(Decimal(5000), "EUR"), (Decimal(3000), "GBP")]


def test_a_term_word_after_an_amount_does_not_make_it_a_count() -> None:
    """年, 月 and 期 count (12 期, 3000 年) except where they begin the next word."""
    for text, raw in (
        ("額度 3000萬 期限 2 年", "3000萬"),
        ("貸款 500萬 年利率 2%", "500萬"),
        ("3萬 月付", "3萬"),
        ("5000萬 期間一年", "5000萬"),
    ):
        assert [a.raw for a in find_amounts(text)] == [raw], text
    for text in ("分 12 期", "3 萬期", "20000 個月"):
        assert find_amounts(text) == [], text


def test_amount_span_indexes_the_original_text() -> None:
    text = "ＵＳＤ　６００，０００ please"
    (amount,) = find_amounts(text)
    assert amount.raw == "ＵＳＤ　６００，０００"
    assert amount.currency == "USD"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("USD/TWD 匯率", ["USD", "TWD"]),
        ("美元兌新台幣", ["USD", "TWD"]),
        ("我要換日幣和歐元，再換回日圓", ["JPY", "EUR"]),
        ("usd and eur", ["USD", "EUR"]),
        ("匯款USD", ["USD"]),
        ("HK$100 與 港幣", ["HKD"]),
        ("60萬元", ["TWD"]),  # bare 元 next to an amount is TWD
        ("元旦前", []),  # …but 元 alone is a word
        ("$100", []),  # US or NT dollars: the text does not say
        ("瑞士法郎、新加坡幣、南非幣、泰銖、韓元", ["CHF", "SGD", "ZAR", "THB", "KRW"]),
        ("businessday", []),
    ],
)
def test_find_currencies(text: str, expected: list[str]) -> None:
    assert find_currencies(text) == expected


@pytest.mark.parametrize(
    ("text", "number", "bank_code"),
    [
        ("帳號 0123-456-789012", "0123456789012", None),
        ("822-1234567890123", "1234567890123", "822"),
        ("822 1234567890123", "1234567890123", "822"),
        ("銀行代碼 822，帳號 12345678901", "12345678901", "822"),
        ("0123 456 789012", "0123456789012", None),
        ("帳戶1234567890轉60萬", "1234567890", None),
        ("帳號 1234567890 60萬元", "1234567890", None),
        ("ACC000123", "ACC000123", None),
        ("a0001234 的交易", "A0001234", None),
        ("帳號１２３４５６７８９０", "1234567890", None),
        # 中華郵政 700 + 14 digits as one number, as a ledger export writes it
        ("追查帳戶 70000069525793037 的金流", "00069525793037", "700"),
    ],
)
def test_find_accounts(text: str, number: str, bank_code: str | None) -> None:
    (account,) = find_accounts(text)
    assert (account.number, account.bank_code) == (number, bank_code)
    assert text[account.span[0] : account.span[1]] == account.raw


@pytest.mark.parametrize(
    "text",
    [
        "0912-345-678",
        "0800-123-456 是客服電話",
        "手機 0912345678",
        "電話 02-2345-6789",
        "2024-03-01",
        "2024-03-01-2024-03-31",
        "600,000",
        "1000000000元",
        "USD600000",
        "FY2024",
        "A123456789",  # national ID shape
        "信用卡號 1234-5678-9012-3456",
        "+886912345678",
        "TX000123",
    ],
)
def test_not_accounts(text: str) -> None:
    assert find_accounts(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", [date(2024, 3, 1)]),
        ("2024/3/1 的交易", [date(2024, 3, 1)]),
        ("2024年3月1日", [date(2024, 3, 1)]),
        ("113/3/1", [date(2024, 3, 1)]),
        ("民國113年3月1日", [date(2024, 3, 1)]),
        ("113年3月1日", [date(2024, 3, 1)]),
        ("民國一一三年三月五日", [date(2024, 3, 5)]),
        ("March 1, 2024", [date(2024, 3, 1)]),
        ("1 March 2024", [date(2024, 3, 1)]),
        ("2024年3月1日至3月31日", [date(2024, 3, 1), date(2024, 3, 31)]),
        ("2024/02/29", [date(2024, 2, 29)]),
        ("3月5日", []),  # no year anywhere to borrow
        ("version 10.5.3", []),
        ("IP 192.168.1.1", []),
        ("最近3個月", []),
        ("30年期房貸", []),
    ],
)
def test_find_dates(text: str, expected: list[date]) -> None:
    assert find_dates(text) == expected


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024-03-01", date(2024, 3, 1), date(2024, 3, 1)),
        ("2024年3月", date(2024, 3, 1), date(2024, 3, 31)),
        ("113年2月", date(2024, 2, 1), date(2024, 2, 29)),
        ("2024年的交易", date(2024, 1, 1), date(2024, 12, 31)),
        ("113年第一季", date(2024, 1, 1), date(2024, 3, 31)),
        ("從2024/3/1到2024/3/31", date(2024, 3, 1), date(2024, 3, 31)),
        ("2024-03-01至2024-03-31", date(2024, 3, 1), date(2024, 3, 31)),
        ("2024/03/01~2024/03/31", date(2024, 3, 1), date(2024, 3, 31)),
        ("2024-03-01-2024-03-31", date(2024, 3, 1), date(2024, 3, 31)),
        ("between 2024-01-01 and 2024-02-01", date(2024, 1, 1), date(2024, 2, 1)),
        ("from March 1 to March 31, 2024", date(2024, 3, 1), date(2024, 3, 31)),
        ("113年1月至3月", date(2024, 1, 1), date(2024, 3, 31)),
        ("2024/3/1~3/31", date(2024, 3, 1), date(2024, 3, 31)),
        ("since 2024-01-01", date(2024, 1, 1), None),
        ("自113年1月1日起", date(2024, 1, 1), None),
        ("2024/1/1以後", date(2024, 1, 1), None),
        ("2024/6/30以前", None, date(2024, 6, 30)),
        ("2024年3月之前", None, date(2024, 3, 31)),
        ("截至2024年6月30日", None, date(2024, 6, 30)),
        ("between 2023 and 2024", date(2023, 1, 1), date(2024, 12, 31)),
        ("2023 Q4 large transfers", date(2023, 10, 1), date(2023, 12, 31)),
        ("2024年下半年", date(2024, 7, 1), date(2024, 12, 31)),
        ("民國 112 年 12 月 31 日前的交易", None, date(2023, 12, 31)),
        ("2024 年 3 月 15 日至今", date(2024, 3, 15), None),
        ("Trace A0001234 up to 3 hops from 2024-01-01", date(2024, 1, 1), None),
        ("沒有日期", None, None),
    ],
)
def test_find_date_range(text: str, start: date | None, end: date | None) -> None:
    assert find_date_range(text) == (start, end)


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("2024-13-45", "2024-13-45"),
        ("113/02/30", "113/02/30"),
        ("2023/02/29", "2023/02/29"),
        ("2024年2月30日", "2024年2月30日"),
        ("2024年13月", "2024年13月"),
    ],
)
def test_invalid_dates_are_reported_not_returned(text: str, bad: str) -> None:
    assert find_dates(text) == []
    assert find_date_range(text) == (None, None)
    (message,) = check_dates(text)
    assert message == f"日期不存在 / no such date: {bad!r}"


def test_invalid_end_of_range_does_not_leave_an_open_range() -> None:
    text = "A0001234 從 113/01/05 至 113/02/30 的交易"
    assert find_dates(text) == [date(2024, 1, 5)]
    assert find_date_range(text) == (None, None)
    assert check_dates(text) == ["日期不存在 / no such date: '113/02/30'"]


def test_malformed_and_valid_dates() -> None:
    assert check_dates("2024/03-01") == ["日期格式錯誤 / malformed date: '2024/03-01'"]
    assert check_dates("2024-03-01 到 113/3/31") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("追查前三層", 3),
        ("3 層", 3),
        ("三跳", 3),
        ("兩層以內", 2),
        ("追查第二層", 2),
        ("3 hops", 3),
        ("two levels", 2),
        ("up to a 4-hop chain", 4),
        ("2nd degree contacts", 2),
        ("max_hops=5", 5),
        ("深度：4", 4),
        ("二階段驗證", None),
        ("查詢資金流向", None),
    ],
)
def test_find_hops(text: str, expected: int | None) -> None:
    assert find_hops(text) == expected
