"""The FX desk service on real parts: SQLite files, the Bank of Taiwan CSV from ../shared/data,
the law corpus for the rules' wording and the articles' amendment dates, the CLI as a script
calls it. Expected figures are worked out by hand from the CSV lines quoted in the comments."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from assistant.cli import cli
from assistant.container import Container
from assistant.errors import AssistantError
from assistant.extract import cn_number
from assistant.fx.convert import convert, parse_amount
from assistant.fx.rates import HEADER, RateStore
from assistant.fx.records import FxRateRow
from assistant.fx.rules import ACT, REG, RULES, check
from assistant.fx.service import FxService
from assistant.schema import open_engine
from tests.conftest import ROOT, SHARED, make_settings

USD_CSV = SHARED / "fx" / "bot_usd_rates_20141001_20170930.csv"
CASES = ROOT / "evals" / "fx_cases.jsonl"
FX_LAWS = (ACT, REG)
HEAD = ",".join(HEADER)
# A JPY board written for these tests, in the download's shape (trailing comma included):
# 09-28 has no cash quote (0), there is no 09-30 line; ZAR has no cash at all.
JPY_LINES = [
    "20170927,JPY,本行買入,0.26050,0.26710,0.26700,0.26680,0.26630,0.26570,0.26510,0.26450,0.26390,"
    "本行賣出,0.27330,0.27110,0.27120,0.27100,0.27070,0.27020,0.26970,0.26920,0.26870,",
    "20170928,JPY,本行買入,0,0.26650,0.26640,0.26620,0.26570,0.26510,0.26450,0.26390,0.26330,"
    "本行賣出,0,0.27050,0.27060,0.27040,0.27010,0.26960,0.26910,0.26860,0.26810,",
    "20170929,JPY,本行買入,0.26110,0.26770,0.26760,0.26730,0.26680,0.26620,0.26560,0.26500,0.26440,"
    "本行賣出,0.27390,0.27170,0.27180,0.27160,0.27130,0.27080,0.27030,0.26980,0.26930,",
    "20170929,ZAR,本行買入,0,2.16000,,,,,,,,本行賣出,0,2.29000,,,,,,,,",
]
# 20170929,USD spot 30.26500 / 30.36500 — the line of the real file, for edits below.
USD_0929 = (
    "20170929,USD,本行買入,29.96500,30.26500,30.24800,30.21400,30.16900,30.11500,30.06500,"
    "30.01800,29.96700,本行賣出,30.50700,30.36500,30.35200,30.32600,30.28000,30.23100,30.18300,"
    "30.14500,30.10800,"
)


def write_csv(path: Path, lines: list[str], header: str = HEAD) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8-sig")
    return path


def count_rows(store: RateStore) -> int:
    with store._engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(FxRateRow)).scalar_one()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RateStore]:
    """USD (the real file) and the test JPY/ZAR board, read-only for the tests using it."""
    folder = tmp_path_factory.mktemp("fx")
    engine = open_engine(f"sqlite:///{folder / 'fx.db'}")
    s = RateStore(engine)
    assert not s.import_csv(USD_CSV).errors
    assert not s.import_csv(write_csv(folder / "jpy.csv", JPY_LINES)).errors
    yield s
    engine.dispose()


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[RateStore]:
    engine = open_engine(f"sqlite:///{tmp_path / 'fx.db'}")
    yield RateStore(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def fx_home(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Path]:
    """A data folder as the application builds it: the two FX laws ingested (real ingestor,
    real embedding model) and the rate tables imported."""
    folder = tmp_path_factory.mktemp("fx_home")
    data = json.loads((shared_data / "laws" / "ChLaw.json").read_text(encoding="utf-8-sig"))
    laws = folder / "fx_laws.json"
    subset = {"Laws": [law for law in data["Laws"] if law["LawName"] in FX_LAWS]}
    laws.write_text(json.dumps(subset, ensure_ascii=False), encoding="utf-8")
    c = Container(make_settings(folder / "data"))
    c.ingestor.ingest_laws(laws)
    c.fx.import_rates(USD_CSV)
    c.fx.import_rates(write_csv(folder / "jpy.csv", JPY_LINES))
    c.close()
    yield folder / "data"


@pytest.fixture(scope="module")
def law_text(shared_data: Path) -> dict[tuple[str, str], str]:
    from knowledge.articles import normalise_article

    data = json.loads((shared_data / "laws" / "ChLaw.json").read_text(encoding="utf-8-sig"))
    return {
        (law["LawName"], normalise_article(a["ArticleNo"])): a["ArticleContent"]
        for law in data["Laws"]
        if law["LawName"] in FX_LAWS
        for a in law["LawArticles"]
        if a["ArticleType"] == "A"
    }


# ---------------------------------------------------------------- import


def test_import_counts_and_idempotent_reimport(empty: RateStore) -> None:
    first = empty.import_csv(USD_CSV)
    assert (first.rows, first.currencies, first.errors) == (747, ["USD"], [])
    assert (first.first_date, first.last_date) == (date(2014, 10, 1), date(2017, 9, 30))
    assert (first.added, first.updated, first.unchanged) == (747, 0, 0)
    assert count_rows(empty) == 747 * 9  # cash, spot and seven forward tenors per day
    again = empty.import_csv(USD_CSV)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 747)
    assert count_rows(empty) == 747 * 9
    assert again.as_dict()["first_date"] == "2014-10-01"


def test_reimport_updates_a_changed_day_and_adds_a_new_one(
    empty: RateStore, tmp_path: Path
) -> None:
    empty.import_csv(USD_CSV)
    lines = USD_CSV.read_text(encoding="utf-8-sig").splitlines()[1:]
    lines = [
        USD_0929.replace("30.36500", "30.36600") if ln.startswith("20170929") else ln
        for ln in lines
    ]
    lines.append(USD_0929.replace("20170929", "20171002"))
    report = empty.import_csv(write_csv(tmp_path / "v2.csv", lines))
    assert (report.added, report.updated, report.unchanged, report.errors) == (1, 1, 746, [])
    assert empty.rate("USD", date(2017, 9, 29)).bank_sells == Decimal("30.36600")
    assert empty.rate("USD").rate_date == date(2017, 10, 2)


def test_malformed_lines_are_reported_and_left_out(empty: RateStore, tmp_path: Path) -> None:
    good = USD_0929
    lines = [
        good,  # line 2
        good.replace("20170929", "20170231"),  # 3: no such day
        good.replace("本行賣出", "本行賣"),  # 4: unknown marker
        good.replace("30.26500", "abc").replace("20170929", "20170928"),  # 5: not a number
        good.replace("20170929", "20170927").removesuffix(","),  # 6: trailing comma only: fine
        ",".join(good.split(",")[:10]).replace("20170929", "20170926"),  # 7: too few columns
        good.replace("20170929", "20170925").replace("30.36500", "30.00000"),  # 8: buys > sells
        good.replace("20170929", "20170922").replace("30.26500", "-30.26500"),  # 9: negative
        "",  # 10: blank, skipped
        good.replace("USD", "us$").replace("20170929", "20170921"),  # 11: not a code
        good.replace("36500", "36600"),  # 12: same day again, other rates
        good,  # 13: same day again, same rates: nothing to say
    ]
    report = empty.import_csv(write_csv(tmp_path / "bad.csv", lines))
    errors = {e.line: e.reason for e in report.errors}
    assert sorted(errors) == [3, 4, 5, 7, 8, 9, 11, 12]
    assert "bad date" in errors[3] and "日期錯誤" in errors[3]
    assert "unknown marker" in errors[4]
    assert "non-numeric" in errors[5] and "'abc'" in errors[5]
    assert "wrong column count 10" in errors[7]
    assert "bank-buys above bank-sells" in errors[8]
    assert "non-numeric" in errors[9]
    assert "bad currency" in errors[11]
    assert "line 2" in errors[12]
    assert (report.rows, report.added) == (2, 2)  # 09-29 and 09-27
    assert [r.rate_date for r in empty.history("USD")] == [date(2017, 9, 27), date(2017, 9, 29)]
    assert report.as_dict()["errors"][0] == {"line": 3, "reason": errors[3]}


def test_strict_import_refuses_the_whole_file(empty: RateStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one_bad.csv", [USD_0929, USD_0929.replace("20170929", "2017092")])
    with pytest.raises(AssistantError, match="line 3"):
        empty.import_csv(path, strict=True)
    assert count_rows(empty) == 0


@pytest.mark.parametrize(
    "content",
    [
        '{"Laws": []}',
        "date,currency,buy,sell\n2017-09-29,USD,30.265,30.365\n",
        "",
        "資料日期,幣別,匯率,現金,即期\n20170929,USD,本行買入,29.965,30.265\n",
    ],
    ids=["json", "other-csv", "empty", "short-header"],
)
def test_a_file_of_another_format_is_refused_and_nothing_written(
    empty: RateStore, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "other.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AssistantError) as exc:
        empty.import_csv(path)
    assert "不是臺灣銀行匯率 CSV" in str(exc.value) and "not a Bank of Taiwan rate CSV" in str(
        exc.value
    )
    assert count_rows(empty) == 0


def test_non_utf8_and_missing_files_are_refused(empty: RateStore, tmp_path: Path) -> None:
    big5 = tmp_path / "big5.csv"
    big5.write_bytes((HEAD + "\n" + USD_0929 + "\n").encode("big5"))
    with pytest.raises(AssistantError, match="UTF-8"):
        empty.import_csv(big5)
    with pytest.raises(AssistantError, match="no such file"):
        empty.import_csv(tmp_path / "nope.csv")
    assert count_rows(empty) == 0


def test_zero_or_empty_means_not_quoted(store: RateStore) -> None:
    # JPY cash on 09-28 is 0: the latest cash quote on or before 09-28 is 09-27's.
    cash = store.rate("JPY", date(2017, 9, 28), kind="cash")
    assert (cash.rate_date, cash.stale_days, cash.bank_sells) == (
        date(2017, 9, 27),
        1,
        Decimal("0.27330"),
    )
    assert store.rate("JPY", date(2017, 9, 28)).rate_date == date(2017, 9, 28)  # spot was quoted
    with pytest.raises(AssistantError, match="no rate for ZAR"):
        store.rate("ZAR", kind="cash")
    with pytest.raises(AssistantError, match="no rate for ZAR"):
        store.rate("ZAR", kind="fwd30")  # empty cells
    assert store.rate("ZAR").bank_buys == Decimal("2.16000")


# ---------------------------------------------------------------- lookup


def test_rate_on_a_weekend_or_holiday_is_the_previous_board(store: RateStore) -> None:
    # 20160108,USD,本行買入,32.97500,33.27500,… 本行賣出,33.51700,33.37500,…
    sunday = store.rate("USD", date(2016, 1, 10))
    assert (sunday.rate_date, sunday.stale_days) == (date(2016, 1, 8), 2)
    assert (sunday.bank_buys, sunday.bank_sells) == (Decimal("33.27500"), Decimal("33.37500"))
    assert str(sunday.bank_buys) == "33.27500"  # as quoted
    assert sunday.requested_date == date(2016, 1, 10)
    assert store.rate("USD", date(2016, 1, 8)).stale_days == 0
    # 2017-09-30 was a Saturday working day (補行上班): it has its own board.
    assert store.rate("USD", date(2017, 9, 30)).stale_days == 0
    # Lunar New Year 2017: no board from 01-27 to 02-01.
    lny = store.rate("USD", date(2017, 1, 30), kind="cash")
    assert (lny.rate_date, lny.stale_days, lny.bank_sells) == (
        date(2017, 1, 26),
        4,
        Decimal("31.53700"),
    )
    latest = store.rate("USD")
    assert (latest.rate_date, latest.requested_date, latest.stale_days) == (
        date(2017, 9, 30),
        None,
        0,
    )
    assert store.rate("usd", kind="fwd180").bank_sells == Decimal("30.05800")


def test_rate_errors_are_clear(store: RateStore) -> None:
    with pytest.raises(AssistantError) as exc:
        store.rate("USD", date(2014, 9, 30))
    msg = str(exc.value)
    assert "沒有 USD 的匯率" in msg and "no rate for USD" in msg and "2014-09-30" in msg
    with pytest.raises(AssistantError, match="no rate for EUR"):
        store.rate("EUR")
    with pytest.raises(AssistantError, match="not an ISO currency code"):
        store.rate("US")
    with pytest.raises(AssistantError, match="unknown rate kind"):
        store.rate("USD", kind="fwd45")
    with pytest.raises(AssistantError, match="from source MYBANK"):
        store.rate("USD", source="MYBANK")


def test_twd_is_the_base(store: RateStore) -> None:
    twd = store.rate("TWD", date(2017, 9, 29))
    assert (twd.bank_buys, twd.bank_sells, twd.stale_days) == (Decimal(1), Decimal(1), 0)


def test_history_and_currencies(store: RateStore) -> None:
    rows = store.history("USD", start=date(2016, 1, 4), end=date(2016, 1, 11))
    assert [r.rate_date.day for r in rows] == [4, 5, 6, 7, 8, 11]
    assert rows[0].bank_sells == Decimal("33.06000")
    assert len(store.history("USD")) == 747
    assert store.currencies() == ["JPY", "USD", "ZAR"]


def test_a_banks_own_table_wins_on_the_same_day(empty: RateStore, tmp_path: Path) -> None:
    empty.import_csv(USD_CSV)
    own = write_csv(tmp_path / "mybank.csv", [USD_0929.replace("30.36500", "30.35000")])
    report = empty.import_csv(own, source="MYBANK")
    assert (report.added, report.rows) == (1, 1)
    assert empty.rate("USD", date(2017, 9, 29)).source == "MYBANK"
    assert empty.rate("USD", date(2017, 9, 29)).bank_sells == Decimal("30.35000")
    assert empty.rate("USD", date(2017, 9, 29), source="BOT").bank_sells == Decimal("30.36500")
    assert empty.rate("USD", date(2017, 9, 30)).source == "BOT"  # a later BOT board
    assert [r.source for r in empty.history("USD", start=date(2017, 9, 28))] == [
        "BOT",
        "MYBANK",
        "BOT",
    ]


# ---------------------------------------------------------------- conversion


def test_customer_buys_pays_the_banks_selling_rate(store: RateStore) -> None:
    # 20170930 spot 本行賣出 30.31000: 700,000 × 30.31 = 21,217,000
    c = convert(store, Decimal(700_000), "USD", "TWD", side="customer-buys", on=date(2017, 9, 30))
    assert (c.amount, c.currency, c.rate, c.rate_side) == (
        Decimal(21_217_000),
        "TWD",
        Decimal("30.31"),
        "bank-sells",
    )
    assert (c.rate_kind, c.rate_date, c.stale_days, c.side_inferred) == (
        "spot",
        date(2017, 9, 30),
        0,
        False,
    )
    d = c.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert (d["amount"], d["rate"], d["rate_date"]) == ("21217000", "30.31000", "2017-09-30")
    # TWD → USD: the customer buys, 1,000,000 ÷ 30.365 (09-29 本行賣出) = 32,932.65
    c = convert(store, 1_000_000, "TWD", "USD", on=date(2017, 9, 29))
    assert (c.amount, c.rate_side, c.customer_side, c.side_inferred) == (
        Decimal("32932.65"),
        "bank-sells",
        "customer-buys",
        True,
    )


def test_customer_sells_gets_the_banks_buying_rate(store: RateStore) -> None:
    # 09-29 spot 本行買入 30.265: 10,000 × 30.265 = 302,650
    c = convert(store, 10_000, "USD", "TWD", on=date(2017, 9, 29))
    assert (c.amount, c.rate, c.rate_side, c.customer_side) == (
        Decimal(302_650),
        Decimal("30.265"),
        "bank-buys",
        "customer-sells",
    )
    # Selling TWD-denominated: how many USD must the customer sell to get NT$302,650?
    c = convert(store, 302_650, "TWD", "USD", side="customer-sells", on=date(2017, 9, 29))
    assert (c.amount, c.rate_side) == (Decimal("10000.00"), "bank-buys")


def test_cash_and_spot_differ(store: RateStore) -> None:
    on = date(2017, 9, 29)  # cash 29.965 / 30.507, spot 30.265 / 30.365
    cash = convert(store, 5000, "USD", "TWD", kind="cash", on=on)
    spot = convert(store, 5000, "USD", "TWD", kind="spot", on=on)
    assert (cash.amount, cash.rate, cash.rate_kind) == (Decimal(149_825), Decimal("29.965"), "cash")
    assert (spot.amount, spot.rate_kind) == (Decimal(151_325), "spot")
    buy_cash = convert(store, 100_000, "TWD", "USD", kind="cash", on=on)
    assert (buy_cash.amount, buy_cash.rate) == (Decimal("3277.94"), Decimal("30.507"))
    with pytest.raises(AssistantError, match="cash or spot"):
        convert(store, 5000, "USD", "TWD", kind="fwd30")  # type: ignore[arg-type]
    with pytest.raises(AssistantError, match="no rate for ZAR"):
        convert(store, 5000, "ZAR", "TWD", kind="cash")


def test_cross_rate_goes_through_twd(store: RateStore) -> None:
    on = date(2017, 9, 29)
    # Sells JPY at 本行買入 0.2677, buys USD at 本行賣出 30.365: 267,700 ÷ 30.365 = 8,816.07
    c = convert(store, 1_000_000, "JPY", "USD", on=on)
    assert (c.amount, c.rate, c.rate_side, c.customer_side) == (
        Decimal("8816.07"),
        Decimal("0.0088160711"),
        "cross",
        "customer-sells",
    )
    assert [(leg.currency, leg.rate_date) for leg in c.legs] == [("JPY", on), ("USD", on)]
    # USD → JPY in whole yen: 1,000 × 30.265 ÷ 0.2717 = 111,391.24… → 111,391
    assert convert(store, 1000, "USD", "JPY", on=on).amount == Decimal(111_391)
    # The customer receives 1,000,000 JPY (本行賣出 0.2717) paying USD (本行買入 30.265)
    bought = convert(store, 1_000_000, "JPY", "USD", side="customer-buys", on=on)
    assert (bought.amount, bought.customer_side) == (Decimal("8977.37"), "customer-buys")
    # On 09-30 JPY's board is still 09-29's: the older leg dates the conversion.
    stale = convert(store, 500_000, "JPY", "USD", on=date(2017, 9, 30))
    assert (stale.amount, stale.rate_date, stale.stale_days) == (Decimal("4416.03"), on, 1)


def test_rounding_as_a_bank_shows_it(store: RateStore) -> None:
    on = date(2017, 9, 30)
    assert convert(store, 50, "USD", "TWD", on=on).amount == Decimal(1511)  # 1510.5 half up
    assert convert(store, 100, "TWD", "USD", on=on).amount == Decimal("3.30")  # 3.2992
    # 10,000 ÷ 0.2733 (JPY cash 本行賣出 of 09-27) = 36,589.83 → 36,590 yen
    jpy = convert(store, 10_000, "TWD", "JPY", kind="cash", on=date(2017, 9, 28))
    assert (jpy.amount, jpy.rate_date, jpy.stale_days) == (Decimal(36_590), date(2017, 9, 27), 1)


def test_conversion_errors(store: RateStore) -> None:
    with pytest.raises(AssistantError, match="positive"):
        convert(store, 0, "USD", "TWD")
    with pytest.raises(AssistantError, match="nothing to convert"):
        convert(store, 10, "USD", "usd")
    with pytest.raises(AssistantError, match="no rate for USD"):
        convert(store, 10, "USD", "TWD", on=date(2014, 9, 30))
    with pytest.raises(AssistantError, match="side must be"):
        convert(store, 10, "USD", "TWD", side="bank-sells")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [("700000", "700000"), ("70萬", "700000"), ("1.5億", "150000000"), ("600,000", "600000"),
     ("三百萬", "3000000"), ("１２萬", "120000"), ("0.50", "0.50")],
)  # fmt: skip
def test_amounts_as_the_desk_types_them(text: str, value: str) -> None:
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize("text", ["-5", "1e5", "1,2345", "abc", ""])
def test_unreadable_amounts_are_refused(text: str) -> None:
    with pytest.raises(AssistantError, match="cannot read"):
        parse_amount(text)


# ---------------------------------------------------------------- rules

# Latest board 2017-09-30: USD spot mid (30.21 + 30.31) / 2 = 30.26; on 09-29 USD mid 30.315,
# JPY mid (0.2677 + 0.2717) / 2 = 0.2697.
RULE_CASES = [
    # id, customer, amount, currency, ytd, on, (declare, documents, approval, direct), 申報辦法 arts
    ("headline", "individual", "700000", "USD", "4500000", None, (1, 1, 1, 0), {"5", "6"}),
    ("ind-500k-ge", "individual", "500000", "USD", "0", None, (1, 1, 0, 0), {"4", "5"}),
    ("ind-below-500k", "individual", "499999.99", "USD", "0", None, (1, 0, 0, 1), {"4"}),
    ("ind-year-equal", "individual", "400000", "USD", "4600000", None, (1, 0, 0, 1), {"4"}),
    ("ind-year-over", "individual", "400000", "USD", "4600000.01", None, (1, 1, 1, 0), {"6"}),
    ("twd-500k-ge", "individual", "500000", "TWD", "0", None, (1, 0, 0, 1), {"4"}),
    ("twd-below", "individual", "499999", "TWD", "0", None, (0, 0, 0, 1), set()),
    ("usd-below-ntd", "individual", "16523", "USD", "0", None, (0, 0, 0, 1), set()),  # 499,986
    ("usd-above-ntd", "individual", "16524", "USD", "0", None, (1, 0, 0, 1), {"4"}),  # 500,016
    ("small-but-ytd-over", "individual", "10000", "USD", "4999000", None, (0, 0, 0, 1), set()),
    ("group-500k", "group", "500000", "USD", "0", None, (1, 1, 0, 0), {"4", "5"}),
    ("group-year-over", "group", "100000", "USD", "4950000", None, (1, 1, 1, 0), {"6"}),
    ("group-year-equal", "group", "100000", "USD", "4900000", None, (1, 0, 0, 1), {"4"}),
    ("co-1m-ge", "company", "1000000", "USD", "0", None, (1, 1, 0, 0), {"4", "5"}),
    ("co-below-1m", "company", "999999.99", "USD", "0", None, (1, 0, 0, 1), {"4"}),
    ("co-600k", "company", "600000", "USD", "0", None, (1, 0, 0, 1), {"4"}),
    ("co-year-equal", "company", "500000", "USD", "49500000", None, (1, 0, 0, 1), {"4"}),
    ("co-year-over", "company", "500000.01", "USD", "49500000", None, (1, 1, 1, 0), {"6"}),
    ("co-both", "company", "2000000", "USD", "49000000", None, (1, 1, 1, 0), {"5", "6"}),
    ("nr-100k", "nonresident", "100000", "USD", "0", None, (1, 0, 0, 1), {"4"}),
    ("nr-over-100k", "nonresident", "100000.01", "USD", "0", None, (1, 1, 1, 0), {"6"}),
    ("nr-below-ntd", "nonresident", "16000", "USD", "0", None, (0, 0, 0, 1), set()),
    ("nr-no-yearly", "nonresident", "100000", "USD", "10000000", None, (1, 0, 0, 1), {"4"}),
    ("minor-500k-ge", "minor", "500000", "TWD", "0", None, (1, 1, 1, 0), {"6"}),
    ("minor-below", "minor", "499999", "TWD", "0", None, (0, 0, 0, 1), set()),
    ("minor-usd", "minor", "20000", "USD", "0", None, (1, 1, 1, 0), {"6"}),  # 605,200
    ("jpy-ind", "individual", "2000000", "JPY", "0", "2017-09-29", (1, 0, 0, 1), {"4"}),
    ("jpy-below", "individual", "1800000", "JPY", "0", "2017-09-29", (0, 0, 0, 1), set()),
    ("jpy-co-docs", "company", "400000000", "JPY", "0", "2017-09-29", (1, 1, 0, 0), {"4", "5"}),
    ("jpy-minor", "minor", "1900000", "JPY", "0", "2017-09-29", (1, 1, 1, 0), {"6"}),
]


@pytest.mark.parametrize(
    ("customer", "amount", "currency", "ytd", "on", "duties", "articles"),
    [c[1:] for c in RULE_CASES],
    ids=[c[0] for c in RULE_CASES],
)
def test_every_rule_branch(
    store: RateStore,
    customer: str,
    amount: str,
    currency: str,
    ytd: str,
    on: str | None,
    duties: tuple[int, int, int, int],
    articles: set[str],
) -> None:
    r = check(
        store,
        customer=customer,  # type: ignore[arg-type]
        amount=Decimal(amount),
        currency=currency,
        ytd_usd=Decimal(ytd),
        on=date.fromisoformat(on) if on else None,
    )
    got = (r.declaration_required, r.documents_required, r.approval_required, r.direct_settlement)
    assert got == tuple(bool(d) for d in duties)
    cited = {(a.law, a.article) for a in r.articles}
    assert cited == {(ACT, "6-1"), (REG, "2")} | {(REG, a) for a in articles}
    assert all(" / " in line for line in r.reasons)  # Chinese first, then English
    assert re.match(r"[\u4e00-\u9fff]", r.reasons[0])
    d = r.to_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d


def test_headline_question_figures(store: RateStore) -> None:
    """「客戶（個人）今天要結購 70 萬美元匯出，今年已結購 450 萬美元」"""
    r = check(store, customer="individual", amount=700_000, currency="USD", ytd_usd=4_500_000)
    assert (r.amount_usd, r.amount_twd, r.accumulated_usd) == (
        Decimal(700_000),
        Decimal(21_182_000),
        Decimal(5_200_000),
    )
    assert (r.twd_basis, r.usd_basis) == ("spot-mid", "exact")
    assert "即期中價" in r.rate_basis and "spot mid-rate" in r.rate_basis
    assert set(r.fired) == {
        "act-6-1-declaration",
        "reg-2-declaration",
        "reg-5-individual-documents",
        "reg-6-individual-approval",
    }
    six = next(a for a in r.articles if a.article == "6")
    assert six.clause == "第1項第1款" and "超過等值五百萬美元" in six.quote
    assert "5,200,000" in six.reason and "4,500,000" in six.reason
    assert any("第4條第2項" in n for n in r.notes)  # trade flows do not accumulate


def test_documents_override_direct_settlement_is_said(store: RateStore) -> None:
    r = check(store, customer="individual", amount=500_000, currency="USD")
    four = next(a for a in r.articles if a.article == "4")
    assert "但書" in four.reason and "proviso" in four.reason


def test_side_gives_the_twd_the_customer_actually_pays(store: RateStore) -> None:
    on = date(2017, 9, 30)
    # 16,500 × 本行賣出 30.31 = 500,115 (declare); at the mid 30.26 = 499,290 (not)
    paid = check(
        store, customer="individual", amount=16_500, currency="USD", on=on, side="customer-buys"
    )
    mid = check(store, customer="individual", amount=16_500, currency="USD", on=on)
    assert (paid.amount_twd, paid.twd_basis, paid.declaration_required) == (
        Decimal(500_115),
        "spot-bank-sells",
        True,
    )
    assert (mid.amount_twd, mid.declaration_required) == (Decimal(499_290), False)


def test_non_usd_amounts_are_converted_and_a_missing_rate_is_named(store: RateStore) -> None:
    r = check(store, customer="individual", amount=2_000_000, currency="JPY", on=date(2017, 9, 29))
    # 2,000,000 × 0.2697 = 539,400; ÷ 30.315 = 17,793.17
    assert (r.amount_twd, r.amount_usd) == (Decimal(539_400), Decimal("17793.17"))
    assert [(x.currency, x.rate_date) for x in r.rates] == [
        ("JPY", date(2017, 9, 29)),
        ("USD", date(2017, 9, 29)),
    ]
    with pytest.raises(AssistantError) as exc:
        check(store, customer="individual", amount=100_000, currency="EUR")
    assert (
        "EUR" in str(exc.value)
        and "spot rate" in str(exc.value)
        and "no rate for EUR" in str(exc.value)
    )
    with pytest.raises(AssistantError, match="no rate table"):
        check(None, customer="individual", amount=700_000, currency="USD")
    # A minor's TWD amount needs no rate at all.
    minor = check(None, customer="minor", amount=600_000, currency="TWD")
    assert minor.approval_required and minor.amount_usd is None
    assert any("法定代理人" in n for n in minor.notes)


def test_check_input_errors(store: RateStore) -> None:
    with pytest.raises(AssistantError, match="unknown customer type"):
        check(store, customer="bank", amount=1, currency="USD")  # type: ignore[arg-type]
    with pytest.raises(AssistantError, match="positive"):
        check(store, customer="individual", amount=0, currency="USD")
    with pytest.raises(AssistantError, match="negative"):
        check(store, customer="individual", amount=1, currency="USD", ytd_usd=-1)


def test_old_dates_say_the_quoted_wording_is_later(store: RateStore) -> None:
    r = check(store, customer="individual", amount=700_000, currency="USD", on=date(2016, 1, 8))
    assert any("2021-06-29" in n and "2023-01-01" in n for n in r.notes)
    now = check(store, customer="individual", amount=700_000, currency="USD")
    assert not any("may differ" in n for n in now.notes)


_NUMERAL = re.compile(r"(新臺幣)?([一二三四五六七八九十百千萬]+)(?:元|美元)")


def test_rules_table_is_the_corpus_wording(law_text: dict[tuple[str, str], str]) -> None:
    """Each row's wording stands verbatim in its article, and its threshold, currency,
    comparison and customers are what that wording says."""
    who = {
        "公司、行號": {"company"},
        "團體、個人": {"individual", "group"},
        "非居住民": {"nonresident"},
    }
    who["未滿十八歲"] = {"minor"}
    for rule in RULES:
        text = law_text[(rule.law, rule.article)]
        assert rule.wording in text, rule.id
        m = _NUMERAL.search(rule.wording)
        assert m and cn_number(m.group(2)) == rule.threshold, rule.id
        assert rule.currency == ("TWD" if m.group(1) or "新臺幣" in rule.wording else "USD"), (
            rule.id
        )
        expected = "le" if "未超過" in rule.wording else "gt" if "超過" in rule.wording else "ge"
        assert rule.compare == expected and ("以上" in rule.wording) == (expected == "ge"), rule.id
        assert ("每年累積" in rule.wording) == (rule.scope == "yearly"), rule.id
        named = [
            c
            for key, cs in who.items()
            if rule.wording.startswith(key) or f"下列{key}" in rule.wording
            for c in cs
        ]
        if rule.consequence != "declaration":
            assert set(named) == rule.customers, rule.id
    # The consequences are those of the article's opening words.
    assert "逕行辦理新臺幣結匯申報" in law_text[(REG, "4")]
    assert "經銀行業確認與申報書記載事項相符後，始得辦理" in law_text[(REG, "5")]
    assert "向本行申請核准後，始得辦理" in law_text[(REG, "6")]
    assert "自一百十二年一月一日施行" in law_text[(REG, "19")]


def test_amendment_dates_come_from_the_knowledge_catalog(fx_home: Path) -> None:
    c = Container(make_settings(fx_home))
    try:
        assert isinstance(c.fx, FxService) and c.fx.catalog is c.catalog
        r = c.fx.check(customer="individual", amount=700_000, currency="USD", ytd_usd=4_500_000)
        amended = {(a.law, a.article): a.amended for a in r.articles}
        assert amended == {
            (ACT, "6-1"): "2009-04-29",
            (REG, "2"): "2022-12-26",
            (REG, "5"): "2022-12-26",
            (REG, "6"): "2022-12-26",
        }
    finally:
        c.close()
    # Without a catalog the dates are unknown, not guessed.
    bare = FxService(RateStore(open_engine(make_settings(fx_home).database_url)), None)
    assert {
        a.amended for a in bare.check(customer="company", amount=1, currency="USD").articles
    } == {None}


# ---------------------------------------------------------------- CLI


def run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_import_rates(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "fx", "import-rates", str(USD_CSV), "--json")
    report = json.loads(out)
    assert code == 0 and (report["rows"], report["added"], report["errors"]) == (747, 747, [])
    code, out, _ = run(tmp_path, "fx", "import-rates", str(USD_CSV), "--source", "BOT")
    assert code == 0 and "未變 unchanged 747" in out
    bad = write_csv(tmp_path / "bad.csv", [USD_0929.replace("20170929", "20170931")])
    code, out, err = run(tmp_path, "fx", "import-rates", str(bad))
    assert code == 0 and "錯誤 errors 1" in out and "line 2" in err
    code, _, err = run(tmp_path, "fx", "import-rates", str(bad), "--strict")
    assert code == 1 and "nothing imported" in err
    code, _, err = run(tmp_path, "fx", "import-rates", str(CASES))
    assert code == 1 and "not a Bank of Taiwan rate CSV" in err


def test_cli_rate_convert_check(fx_home: Path) -> None:
    code, out, _ = run(fx_home, "fx", "rate", "USD", "--date", "民國105年1月10日", "--json")
    rate = json.loads(out)
    assert code == 0 and (rate["rate_date"], rate["stale_days"], rate["bank_sells"]) == (
        "2016-01-08",
        2,
        "33.37500",
    )
    code, out, _ = run(fx_home, "fx", "rate", "USD", "--date", "105/01/10")
    assert code == 0 and "相隔 2 天" in out and "33.37500" in out
    code, out, _ = run(
        fx_home, "fx", "convert", "70萬", "USD", "--to", "TWD", "--side", "customer-buys", "--json"
    )
    conv = json.loads(out)
    assert code == 0
    assert (conv["amount"], conv["currency"], conv["rate"], conv["rate_kind"]) == (
        "21217000",
        "TWD",
        "30.31000",
        "spot",
    )
    assert (conv["rate_side"], conv["rate_date"]) == ("bank-sells", "2017-09-30")
    code, out, _ = run(
        fx_home,
        "fx",
        "convert",
        "600,000",
        "TWD",
        "--to",
        "USD",
        "--kind",
        "cash",
        "--date",
        "2017-09-29",
        "--json",
    )
    assert code == 0 and json.loads(out)["amount"] == "19667.62"  # 600,000 ÷ 30.507
    code, out, _ = run(fx_home, "fx", "convert", "1.5億", "TWD", "--to", "USD")
    assert code == 0 and "4,948,861.76 USD" in out and "本行賣出" in out
    code, out, _ = run(
        fx_home, "fx", "check", "--customer", "individual", "--amount", "70萬", "--currency", "USD",
        "--ytd-usd", "450萬", "--json",
    )  # fmt: skip
    result = json.loads(out)
    assert code == 0
    assert (
        result["declaration_required"],
        result["documents_required"],
        result["approval_required"],
    ) == (True, True, True)
    assert {(a["law"], a["article"]) for a in result["articles"]} == {
        (ACT, "6-1"),
        (REG, "2"),
        (REG, "5"),
        (REG, "6"),
    }
    assert all(a["amended"] for a in result["articles"])
    code, out, _ = run(
        fx_home, "fx", "check", "--customer", "minor", "--amount", "50萬", "--currency", "TWD"
    )
    assert (
        code == 0
        and "應經央行核准 approval required      : 是 yes" in out
        and "〔外匯收支或交易申報辦法第6條第1項第2款〕" in out
    )
    code, out, _ = run(fx_home, "fx", "rules", "--json")
    assert code == 0 and len(json.loads(out)) == len(RULES)
    code, out, _ = run(
        fx_home, "fx", "carry", "--cash", "1.5萬 USD", "--cash", "15萬 TWD", "--json"
    )
    carried = json.loads(out)
    assert code == 0 and carried["declare"] and carried["foreign_usd"] == "15000.00"
    assert carried["fired"] == ["carry-3-foreign-cash", "carry-3-twd-cash"]


@pytest.mark.parametrize(
    "args",
    [
        ("fx", "rate", "USD", "--date", "2017-02-30"),
        ("fx", "rate", "USD", "--date", "yesterday"),
        ("fx", "rate", "EUR"),
        ("fx", "convert", "seventy", "USD", "--to", "TWD"),
        ("fx", "convert", "100", "USD", "--to", "TWD", "--date", "2014-09-30"),
        ("fx", "check", "--customer", "individual", "--amount", "100", "--currency", "EUR"),
        ("fx", "carry", "--cash", "5000 EUR"),
    ],
    ids=[
        "no-such-day",
        "not-a-date",
        "no-eur",
        "bad-amount",
        "before-first",
        "check-no-eur",
        "carry-no-eur",
    ],
)
def test_cli_user_errors_exit_1(fx_home: Path, args: tuple[str, ...]) -> None:
    code, out, err = run(fx_home, *args, "--json")
    assert code == 1 and out == "" and " / " in err
    assert "Traceback" not in err


def test_cli_usage_errors_exit_2(fx_home: Path) -> None:
    code, _, _ = run(
        fx_home, "fx", "check", "--customer", "alien", "--amount", "1", "--currency", "USD"
    )
    assert code == 2


def test_eval_fx_on_the_case_file(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "eval", "fx", str(CASES), "--json", "--details")
    report = json.loads(out)
    assert code == 0 and report["accuracy"] == 1.0, [c for c in report["cases"] if not c["ok"]]
    assert report["by_kind"]["convert"]["n"] >= 20 and report["by_kind"]["check"]["n"] >= 30
    assert report["rates"] == "case file"


def test_eval_fx_counts_a_wrong_answer(tmp_path: Path) -> None:
    lines = CASES.read_text(encoding="utf-8").splitlines()
    tables = [ln for ln in lines if '"rates' in ln]
    wrong = {
        "id": "wrong",
        "kind": "convert",
        "amount": "700000",
        "from": "USD",
        "to": "TWD",
        "side": "customer-buys",
        "on": "2017-09-30",
        "expect": {"amount": "21147000", "rate_side": "bank-buys"},  # the wrong side's figure
    }
    right = {"id": "right", "kind": "check", "customer": "minor", "amount": "1", "currency": "TWD",
             "expect": {"declaration_required": False}}  # fmt: skip
    path = tmp_path / "cases.jsonl"
    path.write_text(
        "\n".join([*tables, json.dumps(wrong), json.dumps(right)]) + "\n", encoding="utf-8"
    )
    code, out, _ = run(tmp_path, "eval", "fx", str(path), "--details")
    assert code == 0 and "1 correct" in out and "✗ wrong" in out and "rate_side" in out
    path.write_text('{"kind": "convert"}\n', encoding="utf-8")
    code, _, err = run(tmp_path, "eval", "fx", str(path))
    assert code == 1 and "expect" in err
