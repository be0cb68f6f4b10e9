"""Cash as ledger events: imported from a CSV kind column, AMLSim source/sink nodes and an
AMLGentex transaction log; the cash features; a trace that ends where the money left the
banking system; the eval's figures on a small AMLGentex-format ledger."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from agents.fraud.nodes import _compose
from assistant.errors import AssistantError
from assistant.extract import find_currencies
from assistant.fraud.account_statement import import_statement
from assistant.fraud.currencies import Rates, currency_of, rate_pairs, unnamed_note
from assistant.fraud.features import CashRules, account_features
from assistant.fraud.importers import (
    CASH_BETWEEN,
    CASH_BY_MEMO,
    CASH_BY_PARTY,
    ImportReport,
    Steps,
    import_amlgentex,
    import_amlsim,
    import_csv,
)
from assistant.fraud.ledger import Ledger
from assistant.fraud.records import TransferRow, is_reserved
from assistant.fraud.trace import TransferIndex
from assistant.schema import open_engine
from ui.flow import flow_figure

RULES = CashRules(report_threshold=500_000.0, structuring_band=0.1)


def _ledger(tmp_path: Path) -> Ledger:
    return Ledger(open_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))


def _write(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _rows(ledger: Ledger) -> dict[str, tuple[str, str, str, str, str | None]]:
    with ledger.engine.connect() as conn:
        got = conn.exec_driver_sql(
            "SELECT id, kind, from_account, to_account, channel, place FROM fraud_transfer"
        ).all()
    return {r[0]: tuple(r[1:]) for r in got}


def test_reserved_accounts() -> None:
    assert is_reserved("CASH") and is_reserved("CASH822") and is_reserved("OUTSIDE")
    # cash at another country's bank (numbered 82, or a SWIFT BIC) is reserved too
    assert is_reserved("CASH82") and is_reserved("CASHCTCBTWTP")
    assert not is_reserved("CASHFLOW1") and not is_reserved("CASHX") and not is_reserved("822")


# ---------------------------------------------------------------- CSV


def test_csv_kind_column_keeps_cash_and_reports_bad_rows(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "ledger.csv",
        [
            ["時間", "轉出", "轉入", "金額", "種類", "通路", "地點", "轉出行", "轉入行"],
            ["2024-03-01 10:00", "111", "222", "50000", "轉帳", "網銀", "", "822", "822"],
            ["2024-03-01 10:30", "", "222", "30000", "存款", "臨櫃", "信義分行", "", "822"],
            ["2024-03-01 11:00", "222", "", "79000", "提款", "ATM", "台北車站", "822", ""],
            ["2024-03-01 12:00", "222", "333", "100", "refund", "", "", "822", "822"],
            ["2024-03-01 13:00", "222", "444", "100", "cash_out", "ATM", "", "822", "822"],
            ["2024-03-01 14:00", "", "", "100", "deposit", "ATM", "", "", "822"],
        ],
    )
    ledger = _ledger(tmp_path)
    mapping = {
        "ts": "時間",
        "from_account": "轉出",
        "to_account": "轉入",
        "amount": "金額",
        "kind": "種類",
        "channel": "通路",
        "place": "地點",
        "from_bank": "轉出行",
        "to_bank": "轉入行",
    }
    report = import_csv(ledger, f, mapping)
    assert (report.rows, report.added, report.cash, report.skipped) == (6, 5, 2, 1)
    lines = {line: reason for line, reason in report.errors}
    assert set(lines) == {7}
    assert lines[7].startswith("現金交易缺少客戶帳號") or lines[7].startswith("帳號格式錯誤")
    rows = _rows(ledger)
    assert rows["ledger:2"] == ("transfer", "111", "222", "網銀", None)
    assert rows["ledger:3"] == ("cash_in", "CASH822", "222", "臨櫃", "信義分行")
    assert rows["ledger:4"] == ("cash_out", "222", "CASH822", "ATM", "台北車站")
    # Money between two named accounts moved between them, whatever the kind column says:
    # kept as a transfer, and the report says so for each such row.
    assert rows["ledger:5"][:3] == ("transfer", "222", "333")
    assert rows["ledger:6"][:3] == ("transfer", "222", "444")
    assert report.noted == {
        "交易種類 refund 讀作轉帳 / kind refund read as a transfer": 1,
        "兩個帳戶間的現金交易記為轉帳 / a cash row between two accounts kept as a transfer": 1,
    }


def test_csv_payment_type_columns_tell_cash_as_exports_write_it(tmp_path: Path) -> None:
    """Exports of other systems and generators name the kind in a payment-type column, write
    a cash row of one account with it in both columns, and use words of their own."""
    f = _write(
        tmp_path / "payments.csv",
        [
            ["Date", "Time", "Sender_account", "Receiver_account", "Amount", "Payment_type"],
            ["2024-03-01", "10:00:00", "111", "111", "9000", "Cash Deposit"],
            ["2024-03-01", "10:05:00", "111", "222", "8500", "Cross-border"],
            ["2024-03-01", "11:00:00", "222", "222", "8000", "Cash Withdrawal"],
            ["2024-03-01", "12:00:00", "333", "", "700", "CASH_OUT"],
            ["2024-03-01", "12:30:00", "", "333", "300", "cash"],
            ["2024-03-01", "13:00:00", "333", "333", "100", "Cash"],
            ["2024-03-01", "14:00:00", "", "444", "100", "refund"],
            ["2024-03-01", "15:00:00", "444", "555", "100", "ACH"],
        ],
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, f, {})
    assert report.mapping["kind"] == "Payment_type"
    assert (report.rows, report.added, report.cash, report.skipped) == (8, 6, 4, 2)
    rows = _rows(ledger)
    assert rows["payments:2"][:3] == ("cash_in", rows["payments:2"][1], "111")
    assert rows["payments:2"][1].startswith("CASH")
    assert rows["payments:3"][:3] == ("transfer", "111", "222")
    assert rows["payments:4"][:2] == ("cash_out", "222")
    assert rows["payments:5"][:2] == ("cash_out", "333")
    assert rows["payments:6"][0] == "cash_in" and rows["payments:6"][2] == "333"
    lines = {line: reason for line, reason in report.errors}
    # cash on one account with no direction, and an unknown word on a row of one account
    assert lines[7].startswith("現金交易方向不明") and "cash_in" in lines[7]
    assert lines[8].startswith("交易種類不明") and "'refund'" in lines[8]
    assert report.noted == {
        "交易種類 Cross-border 讀作轉帳 / kind Cross-border read as a transfer": 1,
        "交易種類 ACH 讀作轉帳 / kind ACH read as a transfer": 1,
    }


def test_csv_time_in_steps_from_a_start_as_simulators_write_it(tmp_path: Path) -> None:
    """PaySim's layout: hours counted from the start, camelCase names, the kind in ``type``."""
    f = _write(
        tmp_path / "sim.csv",
        [
            ["step", "type", "amount", "nameOrig", "nameDest", "isFraud"],
            ["1", "TRANSFER", "181.0", "C1305486145", "C553264065", "1"],
            ["25", "CASH_OUT", "181.0", "C553264065", "", "1"],
            ["26", "PAYMENT", "9839.64", "C1231006815", "M1979787155", "0"],
            ["x", "TRANSFER", "1.0", "C1", "C2", "0"],
        ],
    )
    with pytest.raises(AssistantError) as refused:
        import_csv(_ledger(tmp_path), f, {})
    assert "--step-unit" in str(refused.value) and "時間欄是步數" in str(refused.value)
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, f, {}, steps=Steps("hour", datetime(2024, 3, 1)))
    assert report.mapping == {
        "ts": "step",
        "from_account": "nameOrig",
        "to_account": "nameDest",
        "amount": "amount",
        "kind": "type",
        "label": "isFraud",
    }
    assert (report.added, report.cash, report.skipped) == (3, 1, 1)
    assert report.errors[0][0] == 5 and "step count" in report.errors[0][1]
    assert report.time == "step × 1 hour from 2024-03-01T00:00:00+08:00"
    with ledger.engine.connect() as conn:
        times = dict(conn.exec_driver_sql("SELECT id, ts FROM fraud_transfer").all())
    # step 1 is 01:00 on 1 March in Taiwan, stored as UTC (17:00 the day before)
    assert str(times["sim:2"]).startswith("2024-02-29 17:00")
    assert str(times["sim:3"]).startswith("2024-03-01 17:00")
    assert report.labelled == {"fraud": 2, "normal": 2}
    with pytest.raises(AssistantError, match="step unit"):
        Steps("fortnight", datetime(2024, 3, 1))


def test_csv_of_another_countrys_layout_keeps_its_banks_and_currencies(tmp_path: Path) -> None:
    """IBM's AMLworld layout, read with no mapping: both account columns are named Account (the
    side told by the bank column before it), banks are numbered up to 5 digits, both sides'
    amounts are given (the payer's is read), currencies are named in English, and money moved
    within one account (Reinvestment) is not an event between two parties."""
    lines = [
        "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
        "Amount Paid,Payment Currency,Payment Format,Is Laundering",
        "2022/09/01 00:20,010,8000EBD30,010,8000EBD30,3697.34,US Dollar,3697.34,US Dollar,"
        "Reinvestment,0",
        "2022/09/01 00:20,03208,8000F4580,001,8000F5340,0.01,US Dollar,0.01,US Dollar,Cheque,0",
        "2022/09/01 00:30,001,8000F5340,0112,80A1B2C3D,9100.50,Euro,10001.20,US Dollar,Wire,1",
        "2022/09/01 01:00,0112,80A1B2C3D,070,80B000001,1200000,Yen,1200000,Yen,Cash,1",
        "2022/09/01 02:00,070,80B000001,CTCBTWTP,80C000002,0.051,Bitcoin,0.051,Bitcoin,Bitcoin,0",
        "2022/09/01 03:00,070,80B000001,001,8000F5340,5,Dogecoin,5,Dogecoin,Wire,0",
        "2022/09/01 04:00,Bank of X,80B000001,001,8000F5340,5,US Dollar,5,US Dollar,Wire,0",
    ]
    f = _write(tmp_path / "HI-Tiny_Trans.csv", [line.split(",") for line in lines])
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, f, {})
    assert report.mapping["from_account"] == "Account"
    assert report.mapping["to_account"] == "Account.1"
    assert (report.mapping["amount"], report.mapping["currency"]) == (
        "Amount Paid",
        "Payment Currency",
    )
    assert (report.rows, report.added, report.skipped) == (7, 5, 1)
    assert list(report.omitted.values()) == [1] and "one account" in next(iter(report.omitted))
    assert report.currencies == {"USD": 2, "JPY": 1, "BTC": 1, "XXX": 1}
    assert report.as_dict()["currencies"] == report.currencies
    # a currency no code names is kept as XXX (ISO 4217's "no currency"), said in the report
    assert report.noted[unnamed_note("Dogecoin")] == 1
    assert "Dogecoin" in unnamed_note("Dogecoin") and "XXX" in unnamed_note("Dogecoin")
    lines = {line: reason for line, reason in report.errors}
    assert list(lines) == [8]
    assert lines[8].startswith("銀行代碼應為 3 位數字") and "SWIFT" in lines[8]
    t = TransferRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        got = {
            r.id: r
            for r in conn.execute(
                select(t.c.id, t.c.from_bank, t.c.to_bank, t.c.currency, t.c.amount, t.c.channel)
            )
        }
    assert (got["HI-Tiny_Trans:3"].from_bank, got["HI-Tiny_Trans:3"].to_bank) == ("03208", "001")
    assert got["HI-Tiny_Trans:3"].channel == "跨行"
    assert (got["HI-Tiny_Trans:4"].amount, got["HI-Tiny_Trans:4"].currency) == (10001.20, "USD")
    assert got["HI-Tiny_Trans:6"].to_bank == "CTCBTWTP"
    assert report.labelled == {"fraud": 3, "normal": 2}
    # cash a simulator writes between two accounts is their transfer, said in the report
    assert report.noted[CASH_BETWEEN] == 1


def test_currency_names_a_ledger_writes() -> None:
    assert [currency_of(v) for v in ("usd", "US Dollar", "美金", "Yen", "UK Pound")] == [
        "USD",
        "USD",
        "USD",
        "JPY",
        "GBP",
    ]
    assert (currency_of("", "TWD"), currency_of("Bitcoin"), currency_of("新台幣")) == (
        "TWD",
        "BTC",
        "TWD",
    )
    # names as simulators write them, plurals too (SAML-D: UK pounds, Dirham, Naira)
    assert [currency_of(v) for v in ("UK pounds", "Swiss Francs", "Dirham", "Naira", "ARS")] == [
        "GBP",
        "CHF",
        "AED",
        "NGN",
        "ARS",
    ]
    assert currency_of("Dogecoin") is None and currency_of("US Dollars!") is None
    # the names only a ledger writes are not currencies in prose
    assert find_currencies("請申報 SAR，並以 bitcoin 追查") == []


def test_rates_ask_the_board_once_a_currency_and_day_and_given_rates_win() -> None:
    asked: list[tuple[str, date]] = []

    def board(cur: str, day: date) -> float | None:
        asked.append((cur, day))
        return 31.0 if cur == "USD" else None

    rates = Rates({"eur": 35.0}, board)
    day = date(2024, 3, 1)
    assert [rates.twd("USD", day), rates.twd("USD", day), rates.twd("EUR", day)] == [
        31.0,
        31.0,
        35.0,
    ]
    assert rates.twd("JPY", day) is None and rates.twd("TWD", day) == 1.0
    assert asked == [("USD", day), ("JPY", day)]
    assert not Rates() and Rates({"USD": 31.0})
    assert rate_pairs(["USD=31.5", "歐元=35", "UK pounds=40.1"]) == {
        "USD": 31.5,
        "EUR": 35.0,
        "GBP": 40.1,
    }
    for bad in ("USD", "USD=0", "USD=-3", "Dogecoin=2", "USD=inf", "=3"):
        with pytest.raises(AssistantError, match="CUR=NT\\$ per unit"):
            rate_pairs([bad])
    with pytest.raises(AssistantError, match="positive"):
        Rates({"USD": 0.0})


def test_a_statement_in_another_currency_is_stored_in_nt(tmp_path: Path) -> None:
    f = tmp_path / "usd_statement.csv"
    f.write_text(
        "交易日期,摘要,支出,存入,對方帳號,幣別\n"
        "2024/03/01,跨行轉出,100,,ST2,USD\n"
        "2024/03/02,ATM提款,50,,,美金\n"
        "2024/03/03,轉入,,10,ST3,CHF\n",
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_statement(ledger, f, {}, account="ST1", rates=Rates({"USD": 30.0}))
    assert (report.added, report.converted, report.currencies) == (
        3,
        {"USD": 2},
        {"USD": 2, "CHF": 1},
    )
    with ledger.engine.connect() as conn:
        got = conn.exec_driver_sql(
            "SELECT kind, amount, currency, orig_amount, orig_currency FROM fraud_transfer "
            "ORDER BY ts"
        ).all()
    assert [tuple(r) for r in got] == [
        ("transfer", 3000.0, "TWD", 100.0, "USD"),
        ("cash_out", 1500.0, "TWD", 50.0, "USD"),
        ("transfer", 10.0, "CHF", None, None),
    ]


def test_csv_kind_words_past_the_first_ten_are_counted_together(tmp_path: Path) -> None:
    rows = [["ts", "from", "to", "amount", "type"]]
    rows += [[f"2024-03-01 10:{i:02d}", "111", "222", "100", f"means{i}"] for i in range(13)]
    report = import_csv(_ledger(tmp_path), _write(tmp_path / "m.csv", rows), {})
    assert report.added == 13 and len(report.noted) == 11
    assert report.noted["交易種類 其他 讀作轉帳 / kind (other words) read as a transfer"] == 3


def _import_plain(tmp_path: Path, *rows: list[str]) -> tuple[Ledger, ImportReport]:
    """Rows of time, payer, payee and amount, no kind column, imported into a new ledger."""
    f = _write(tmp_path / "t.csv", [["ts", "from", "to", "amount"], *rows])
    mapping = {"ts": "ts", "from_account": "from", "to_account": "to", "amount": "amount"}
    ledger = _ledger(tmp_path)
    return ledger, import_csv(ledger, f, mapping)


def test_csv_rows_paying_or_paid_by_cash_are_cash_without_a_kind_column(tmp_path: Path) -> None:
    """A transfer list that writes a withdrawal as a payment to CASH (or CASH822) and a deposit
    as one from CASH has said what it is: read as cash, counted, never dropped."""
    ledger, report = _import_plain(
        tmp_path,
        ["2024-03-01 10:00", "111", "CASH822", "100"],
        ["2024-03-01 11:00", "CASH", "222", "200"],
        ["2024-03-01 12:00", "111", "222", "300"],
    )
    assert (report.added, report.cash, report.skipped) == (3, 2, 0)
    assert report.noted == {CASH_BY_PARTY: 2}
    with ledger.engine.connect() as conn:
        got = conn.exec_driver_sql(
            "SELECT from_account, to_account, kind, from_bank FROM fraud_transfer ORDER BY ts"
        ).all()
    assert [tuple(r) for r in got] == [
        ("111", "CASH822", "cash_out", "822"),  # the bank whose cash it was
        ("CASH", "222", "cash_in", ""),
        ("111", "222", "transfer", ""),
    ]


def test_csv_memo_tells_cash_only_when_no_kind_is_given(tmp_path: Path) -> None:
    rows = [
        ["ts", "from", "to", "amount", "memo"],
        ["2024-03-01 10:00", "111", "", "100", "ATM提款"],
        ["2024-03-01 11:00", "", "222", "200", "現金存款"],
        ["2024-03-01 12:00", "111", "222", "300", "ATM轉帳"],  # a transfer by ATM: not cash
        ["2024-03-01 13:00", "", "222", "400", "ATM提款"],  # a withdrawal paid to someone?
    ]
    report = import_csv(_ledger(tmp_path), _write(tmp_path / "m.csv", rows), {})
    assert (report.added, report.cash) == (3, 2)
    assert report.noted == {CASH_BY_MEMO: 2}
    assert [line for line, _ in report.errors] == [5]
    assert "帳號空白" in report.errors[0][1]
    # a kind column that says transfer is believed over the memo
    kinds = [["ts", "from", "to", "amount", "memo", "type"]]
    kinds += [["2024-03-02 10:00", "111", "", "100", "ATM提款", "轉帳"]]
    report = import_csv(_ledger(tmp_path / "k"), _write(tmp_path / "k.csv", kinds), {})
    assert report.added == 0 and "帳號空白" in report.errors[0][1]


def test_csv_outside_party_is_kept_and_two_reserved_sides_refused(tmp_path: Path) -> None:
    _, report = _import_plain(
        tmp_path,
        ["2024-03-01 10:00", "OUTSIDE", "222", "100"],  # a salary from another bank
        ["2024-03-01 11:00", "222", "OUTSIDE", "50"],
        ["2024-03-01 12:00", "OUTSIDE", "CASH", "300"],
        ["2024-03-01 13:00", "CASH", "CASH822", "300"],
    )
    assert (report.added, report.cash, report.accounts) == (2, 0, 1)  # OUTSIDE is no account
    assert [line for line, _ in report.errors] == [4, 5]
    assert all(r.startswith("保留帳號只用於現金交易") for _, r in report.errors)


# ---------------------------------------------------------------- AMLSim


def test_amlsim_source_and_sink_nodes_are_cash(tmp_path: Path) -> None:
    folder = tmp_path / "amlsim"
    folder.mkdir()
    _write(
        folder / "nodes.csv",
        [["nodeid", "isFraud", "init_balance", "fraudStep"], [0, 0, 1, -1], [1, 1, 1, 3]],
    )
    _write(
        folder / "transactions.csv",
        [
            ["sourceNodeId", "targetNodeId", "value", "time"],
            [-2, 1, 900.0, 1],  # deposit into node 1
            [1, 0, 850.0, 1],
            [0, -1, 800.0, 2],  # withdrawal by node 0
            [-3, 0, 10.0, 2],  # not a node, not the source
            [-2, -1, 10.0, 2],
        ],
    )
    ledger = _ledger(tmp_path)
    report = import_amlsim(ledger, folder)
    assert (report.added, report.cash, report.skipped) == (3, 2, 2)
    assert [n for n, _ in report.errors] == [5, 6]
    rows = _rows(ledger)
    assert rows["AMLT0000002"][:3] == ("cash_in", "CASH007", "AML00000001")  # node 1: bank 007
    assert rows["AMLT0000004"][:3] == ("cash_out", "AML00000000", "CASH004")


# ---------------------------------------------------------------- AMLGentex

GENTEX_HEADER = [
    "step",
    "type",
    "amount",
    "nameOrig",
    "nameDest",
    "bankOrig",
    "bankDest",
    "daysInBankOrig",
    "isSAR",
    "patternID",
    "modelType",
]


def _gentex(
    step: int, kind: str, amt: float, a: int, b: int, sar: int = 0, pid: int = -1, model: int = 0
) -> list[object]:
    banks = {-2: "source", -1: "sink"}
    return [
        step,
        kind,
        amt,
        a,
        b,
        banks.get(a, "bank_a" if a % 2 else "bank_b"),
        banks.get(b, "bank_a" if b % 2 else "bank_b"),
        0,
        sar,
        pid,
        model,
    ]


def _gentex_log(path: Path) -> Path:
    """A small log in AMLGentex's format: a fan-in (pattern 7) into account 5 that withdraws
    the money in cash, everyday salaries from the source and bills to the sink."""
    rows: list[list[object]] = [GENTEX_HEADER]
    rows += [_gentex(0, "INITALBALANCE", 1000.0, -2, n) for n in range(8)]
    for step in range(1, 6):
        for n in range(8):
            rows.append(_gentex(step, "TRANSFER", 2000.0, -2, n))  # salary in
            rows.append(_gentex(step, "TRANSFER", 900.0, n, -1))  # bills out
        rows.append(_gentex(step, "TRANSFER", 150.0, 6, 7))
    for sender in (1, 2, 3):
        rows.append(_gentex(2, "TRANSFER", 480.0, sender, 5, sar=1, pid=7, model=2))
    rows.append(_gentex(3, "CASH", 1400.0, 5, -1))
    rows.append(_gentex(3, "CASH", 50.0, 4, 4))  # cash between two accounts: not the format
    rows.append(_gentex(3, "TRANSFER", -5.0, 1, 2))
    return _write(path, rows)


def test_amlgentex_log_keeps_cash_outside_and_patterns(tmp_path: Path) -> None:
    log = _gentex_log(tmp_path / "tx_log.csv")
    ledger = _ledger(tmp_path)
    report = import_amlgentex(ledger, tmp_path)
    assert report.omitted == {next(iter(report.omitted)): 8}
    assert next(iter(report.omitted)).startswith("期初餘額")
    assert report.skipped == 2 and report.cash == 1
    assert report.added == report.rows - 8 - 2 == 5 * 17 + 3 + 1
    bad = dict(report.errors)
    assert bad[log.read_text().count("\n") - 1].startswith("無法對應的交易")
    assert bad[log.read_text().count("\n")].startswith("金額錯誤")
    rows = _rows(ledger)
    kinds = [r[0] for r in rows.values()]
    assert kinds.count("cash_out") == 1
    out = next(r for r in rows.values() if r[0] == "cash_out")
    assert out[1:3] == ("AGX00000005", "CASH004")  # bank_a is the first name: 004
    assert sum(r[1] == "OUTSIDE" for r in rows.values()) == 40
    with ledger.engine.connect() as conn:
        fraud = conn.exec_driver_sql(
            "SELECT id, pattern FROM fraud_account WHERE is_fraud ORDER BY id"
        ).all()
    assert [tuple(r) for r in fraud] == [
        (f"AGX0000000{n}", "amlgentex:fan_in:7") for n in (1, 2, 3, 5)
    ]


def test_amlgentex_refuses_a_file_of_another_shape(tmp_path: Path) -> None:
    f = _write(tmp_path / "tx_log.csv", [["step", "amount"], [1, 2]])
    with pytest.raises(AssistantError, match="不是 AMLGentex 交易紀錄"):
        import_amlgentex(_ledger(tmp_path), f)


# ---------------------------------------------------------------- features and trace


def _cash_ledger(tmp_path: Path) -> Ledger:
    """M receives two transfers and withdraws most at an ATM two hours later; S structures
    deposits just under NT$500,000; N is an everyday account."""
    ledger = _ledger(tmp_path)
    rows = [
        ("T1", datetime(2024, 1, 1, 1), "A", "M", 30_000.0, "transfer", ""),
        ("T2", datetime(2024, 1, 1, 2), "B", "M", 20_000.0, "transfer", ""),
        ("T3", datetime(2024, 1, 1, 4), "M", "CASH822", 40_000.0, "cash_out", "ATM"),
        ("T4", datetime(2024, 1, 1, 5), "M", "N", 9_000.0, "transfer", ""),
        ("T5", datetime(2024, 1, 2, 1), "CASH822", "S", 480_000.0, "cash_in", "臨櫃"),
        ("T6", datetime(2024, 1, 3, 1), "CASH822", "S", 495_000.0, "cash_in", "臨櫃"),
        ("T7", datetime(2024, 1, 4, 1), "S", "N", 10_000.0, "transfer", ""),
        ("T8", datetime(2024, 1, 5, 1), "N", "CASH822", 3_000.0, "cash_out", "ATM"),
        ("T9", datetime(2024, 1, 5, 2), "CASH822", "A", 1_000.0, "cash_in", "ATM"),
    ]
    ledger.bulk_insert(
        [],
        [{"id": a} for a in ("A", "B", "M", "N", "S")],
        [
            {
                "id": i,
                "ts": t,
                "from_account": f,
                "to_account": d,
                "amount": x,
                "kind": k,
                "channel": c,
                "from_bank": "822",
                "to_bank": "822",
            }
            for i, t, f, d, x, k, c in rows
        ],
    )
    return ledger


def test_cash_features(tmp_path: Path) -> None:
    arrays = _cash_ledger(tmp_path).arrays()
    names, X = account_features(arrays, rules=RULES)
    f = {n: X[:, j] for j, n in enumerate(names)}
    row = arrays.index
    m, s, n = row["M"], row["S"], row["N"]
    assert f["cash_out_total"][m] == 40_000 and f["cash_out_count"][m] == 1
    assert f["cash_out_share"][m] == pytest.approx(40_000 / 50_000)
    assert f["exit_share"][m] == pytest.approx(49_000 / 50_000)
    # T1 at 01:00 and T2 at 02:00 → the withdrawal at 04:00: 3 h and 2 h, median 2.5
    assert f["cash_out_dwell_median_h"][m] == pytest.approx(2.5)
    assert f["atm_share"][m] == 1.0 and f["counter_share"][s] == 1.0
    assert np.isnan(f["atm_share"][row["B"]])  # no cash at all
    assert f["near_threshold_count"][s] == 2 and f["near_threshold_share"][s] == pytest.approx(
        2 / 3
    )
    assert f["near_threshold_count"][m] == 0
    # the CASH account is not a counterparty: M has one recipient (N), N two senders
    assert f["out_degree"][m] == 1 and f["in_degree"][n] == 2 and f["fan_out"][m] == 1
    assert f["to_mean_cash_out_share"][row["A"]] == pytest.approx(40_000 / 50_000)
    # the threshold is the setting's, not the code's
    _, X2 = account_features(arrays, rules=CashRules(400_000.0, 0.1))
    assert X2[s, names.index("near_threshold_count")] == 0
    _, X3 = account_features(arrays)
    assert np.isnan(X3[s, names.index("near_threshold_share")])


def test_trace_ends_at_cash_out(tmp_path: Path) -> None:
    arrays = _cash_ledger(tmp_path).arrays()
    index = TransferIndex.from_ledger(arrays)
    down = index.trace("A", "down", 4)
    roles = {a.id: a.role for a in down.accounts}
    assert roles["CASH822"] == "cash"
    # N's later ATM withdrawal is reached through M → N, but nothing goes on from CASH822 to
    # S or A, whose cash deposits are other people's money
    assert "S" not in roles and {t.id for t in down.transfers} == {"T1", "T3", "T4", "T8"}
    cash = down.to_dict()["cash"]
    assert cash == [
        {
            "account": "CASH822",
            "bank": "822",
            "kind": "cash_out",
            "count": 2,
            "amount": 43_000.0,
            "attributed": cash[0]["attributed"],
            "hops": [2, 3],
        }
    ]
    up = index.trace("S", "up", 3)
    assert {a.id: a.role for a in up.accounts}["CASH822"] == "cash"
    assert {t.id for t in up.transfers} == {"T5", "T6"}  # not on into the ATM withdrawals
    with pytest.raises(AssistantError, match="保留帳號"):
        index.trace("CASH822", "down", 2)

    d = down.to_dict()
    text = _compose({"traces": [d]}, english=False)  # type: ignore[typeddict-item]
    assert "款項在此離開銀行體系" in text and "CASH822" in text
    assert "the money left the banking system" in _compose({"traces": [d]}, english=True)  # type: ignore[typeddict-item]
    fig = flow_figure([d])
    assert fig is not None
    labels = list(fig.data[0].node.label)
    assert any(lab.startswith("現金提領 822") for lab in labels)


# ---------------------------------------------------------------- the desk, the CLI, the eval


def test_import_amlgentex_from_the_cli_and_cash_in_the_trace(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from assistant.cli import cli
    from tests.cli_users import login_env

    _gentex_log(tmp_path / "tx_log.csv")
    data = tmp_path / "data"
    env = login_env(data, "fraud")
    base = ["--data-dir", str(data), "fraud"]
    out = CliRunner().invoke(cli, [*base, "import-amlgentex", str(tmp_path), "--json"], env=env)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert (report["cash"], report["skipped"]) == (1, 2) and len(report["errors"]) == 2
    out = CliRunner().invoke(
        cli,
        [*base, "trace", "AGX00000001", "--direction", "down", "--hops", "3", "--json"],
        env=env,
    )
    assert out.exit_code == 0, out.output
    trace = json.loads(out.stdout)
    assert trace["cash"][0]["account"] == "CASH004" and trace["cash"][0]["amount"] == 1400.0
    roles = {a["id"]: a["role"] for a in trace["accounts"]}
    assert roles["CASH004"] == "cash"
    # Read as text, the trace says where the money left the banking system.
    out = CliRunner().invoke(
        cli, [*base, "trace", "AGX00000001", "--direction", "down", "--hops", "3"], env=env
    )
    assert out.exit_code == 0, out.output
    assert "於 CASH004 現金提領" in out.output and "款項在此離開銀行體系" in out.output
    assert "the money left the banking system here" in out.output


def test_eval_across_generators_reports_every_view() -> None:
    from evals.fraud import evaluate_generators, load_product

    small = {"accounts": 1500, "transfers": 15_000, "rings": 8, "days": 30}
    ledgers = [load_product(s, RULES, **small) for s in (0, 1)]
    r = evaluate_generators(ledgers, folds=3, seed=0)
    assert [x["ledger"] for x in r["ledgers"]] == ["product_s0", "product_s1"]
    for x in r["ledgers"]:
        assert 0.5 < x["auc"] <= 1 and 0 < x["degree_amount_auc"] <= 1
        assert x["n_cash"] > 0 and set(x["typologies"]) <= {
            "chain",
            "scatter_gather",
            "cycle",
            "fan_in",
        }
        assert 0 < x["trace_recall"] <= 1
        # the rings end in ATM withdrawals: the CASH accounts are not scored as customers
        assert x["n_accounts"] == 1500
    assert [(c["train"], c["test"]) for c in r["cross"]] == [
        ("product_s0", "product_s1"),
        ("product_s1", "product_s0"),
    ]
    assert len(r["held_out"]) == 2 and set(r["pooled"]["per_ledger"]) == {
        "product_s0",
        "product_s1",
    }
    assert isinstance(r["never_below_baseline"], bool)
