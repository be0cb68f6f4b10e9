"""Account statements (調閱的交易明細) into the ledger, as investigators receive them: one account's
movements with 支出／存入 columns or a signed amount, title lines above the header, cash told by
its 摘要, and the same transfer in both parties' statements counted once."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from assistant.errors import AssistantError
from assistant.fraud.account_statement import (
    ALREADY,
    BANK_CHARGE,
    NO_AMOUNT,
    NO_COUNTERPARTY,
    import_statement,
)
from assistant.fraud.importers import IMPORTED_BEFORE, import_csv
from assistant.fraud.ledger import Ledger
from assistant.fraud.records import OUTSIDE_ACCOUNT
from assistant.schema import open_engine
from tests.test_fraud_cli import run

A, B = "00742512076092", "00812345678901"
A_MAP = {
    "ts": "交易日期+交易時間",
    "summary": "摘要",
    "out_amount": "支出",
    "in_amount": "存入",
    "counterparty": "對方帳號",
    "memo": "備註",
}
B_MAP = {"ts": "日期時間", "summary": "摘要", "amount": "金額", "counterparty": "對方帳號"}


def _ledger(path: Path) -> Ledger:
    path.mkdir(parents=True, exist_ok=True)
    return Ledger(open_engine(f"sqlite:///{path / 'x.db'}"))


LIST_MAP = {
    "id": "交易序號",
    "ts": "時間",
    "from_account": "轉出帳號",
    "to_account": "轉入帳號",
    "amount": "金額",
}


def _transfer_list(path: Path, *rows: str) -> Path:
    """A bank's transfer list (id, time, payer, payee, amount), one row a line."""
    path.write_text("交易序號,時間,轉出帳號,轉入帳號,金額\n" + "".join(rows), encoding="utf-8")
    return path


def _statement_of_days(path: Path, *rows: str) -> Path:
    """A statement that prints the day only (date, summary, amount, counterparty)."""
    path.write_text("日期,摘要,金額,對方帳號\n" + "".join(rows), encoding="utf-8")
    return path


def _statements(tmp: Path) -> tuple[Path, Path]:
    a = tmp / "a.csv"
    a.write_text(
        "帳號：0074-2512-076092 存款交易明細\n"
        "查詢期間：113/05/01~113/05/31\n"
        "\n"
        "交易日期,交易時間,摘要,支出,存入,餘額,對方帳號,備註\n"  # line 4
        "113/05/01,09:00:00,上期餘額,,,1000,,\n"
        '113/05/01,10:00:00,跨行轉入,0,"50,000",51000,004-5555-6666-7777,\n'
        "113/05/01,10:05:12,網銀轉出,20000,0,31000,0081-2345-678901,借款\n"
        "113/05/01,10:05:40,網銀轉出,20000,0,11000,0081-2345-678901,借款\n"
        "113/05/01,10:20:00,ATM提款,10000,,1000,,\n"
        "113/05/02,09:00:00,現金存款,,5000,6000,,\n"
        "113/05/02,11:00:00,轉帳支出,3000,,3000,,\n"  # no counterparty: OUTSIDE
        "113/05/02,12:00:00,沖正,100,200,3100,1234,\n"  # line 12: both columns
        "113/05/03,08:00:00,網銀轉出,abc,,3100,0081-2345-678901,\n",  # line 13
        encoding="utf-8",
    )
    # B's own bank prints minutes only, newest first, and one signed amount column.
    b = tmp / "b.csv"
    b.write_text(
        "日期時間,摘要,金額,對方帳號\n"
        "2024/05/02 13:00,轉出,-19000,0099-8877-6655\n"
        "2024/05/01 10:06,轉入,(20000),0074-2512-076092\n"  # parentheses: money out of B
        "2024/05/01 10:05,轉入,20000,0074-2512-076092\n"
        "2024/05/01 10:05,轉入,20000,0074-2512-076092\n",
        encoding="utf-8",
    )
    return a, b


def test_a_statement_becomes_the_accounts_flows(tmp_path: Path) -> None:
    a, _ = _statements(tmp_path)
    ledger = _ledger(tmp_path / "db")
    report = import_statement(ledger, a, A_MAP, account="0074-2512-076092", bank="822")
    assert (report.rows, report.added, report.cash, report.skipped) == (9, 6, 2, 2)
    assert [n for n, _ in report.errors] == [12, 13]
    assert "both a withdrawal and a deposit" in report.errors[0][1]
    assert (report.omitted, report.noted) == ({NO_AMOUNT: 1}, {NO_COUNTERPARTY: 1})
    out = ledger.transfers_out(A)
    assert sorted((t.to_account, t.amount, t.kind) for t in out) == [
        (B, 20_000, "transfer"),
        (B, 20_000, "transfer"),
        ("CASH822", 10_000, "cash_out"),
        (OUTSIDE_ACCOUNT, 3_000, "transfer"),
    ]
    first = min((t for t in out if t.to_account == B), key=lambda t: t.ts)
    assert first.ts == datetime(2024, 5, 1, 2, 5, 12) and first.memo == "借款"
    got = {(t.from_account, t.amount, t.kind) for t in ledger.transfers_in(A)}
    assert got == {("004555566667777", 50_000, "transfer"), ("CASH822", 5_000, "cash_in")}


def test_the_other_partys_statement_adds_only_what_is_new(tmp_path: Path) -> None:
    a, b = _statements(tmp_path)
    ledger = _ledger(tmp_path / "db")
    import_statement(ledger, a, A_MAP, account=A, bank="822")
    report = import_statement(ledger, b, B_MAP, account=B)
    # The two NT$20,000 of 1 May are A's rows again (times to the minute, newest first); the
    # one B sent back at 10:06 and its payment on 2 May are new.
    assert (report.added, report.omitted) == (2, {ALREADY: 2})
    assert len([t for t in ledger.transfers_out(A) if t.to_account == B]) == 2
    assert {(t.to_account, t.amount) for t in ledger.transfers_out(B)} == {
        (A, 20_000),
        ("009988776655", 19_000),
    }
    # Read again, a statement adds nothing.
    again = import_statement(ledger, b, B_MAP, account=B)
    assert (again.added, again.omitted) == (0, {ALREADY: 4})


def test_mappings_that_cannot_work_are_refused_before_anything_is_read(tmp_path: Path) -> None:
    a, b = _statements(tmp_path)
    ledger = _ledger(tmp_path / "db")
    # B's statement has no title line to name its account
    with pytest.raises(AssistantError, match="give the statement's account"):
        import_statement(ledger, b, B_MAP)
    cases = [
        ({**A_MAP, "amount": "金額"}, A, "not both and not neither"),
        ({**A_MAP, "payee": "x"}, A, "unknown field"),
        (A_MAP, "CASH822", "not a customer account"),
    ]
    for mapping, account, words in cases:
        with pytest.raises(AssistantError, match=words):
            import_statement(ledger, a, mapping, account=account)
    with pytest.raises(AssistantError, match="not in the header"):
        import_statement(ledger, a, {**A_MAP, "counterparty": "轉入帳號"}, account=A)
    bare = tmp_path / "bare.csv"
    bare.write_text("摘要,支出,存入\n轉帳,5,\n", encoding="utf-8")
    with pytest.raises(AssistantError, match=r"which column is \['ts'\]"):
        import_statement(ledger, bare, {}, account=A)
    assert ledger.counts()["transfers"] == 0


def test_without_a_mapping_the_header_names_the_columns(tmp_path: Path) -> None:
    a, b = _statements(tmp_path)
    ledger = _ledger(tmp_path / "db")
    report = import_statement(ledger, a, {}, account=A, bank="822")
    assert report.mapping == A_MAP and (report.added, report.skipped) == (6, 2)
    report = import_statement(ledger, b, {}, account=B)
    assert report.mapping == B_MAP and report.added == 2


def test_the_cli_imports_a_statement(tmp_path: Path) -> None:
    a, b = _statements(tmp_path)
    data = tmp_path / "data"
    maps = [x for f, c in A_MAP.items() for x in ("--map", f"{f}={c}")]
    code, out = run(data, "fraud", "import-statement", str(a), *maps, "--account", A, "--json")
    assert code == 0, out
    assert (json.loads(out)["added"], json.loads(out)["skipped"]) == (6, 2)
    code, out = run(data, "fraud", "import-statement", str(b), "--account", B, "--json")
    assert code == 0 and json.loads(out)["added"] == 2, out  # the mapping from the header
    assert json.loads(out)["mapping"] == B_MAP
    code, out = run(data, "fraud", "trace", A, "--direction", "down", "--hops", "2", "--json")
    assert code == 0, out
    # A's money reaches B (A's statement), and from B the payment only B's statement shows.
    assert {(t["to"], t["hop"]) for t in json.loads(out)["transfers"]} >= {
        (B, 1),
        ("009988776655", 2),
    }
    code, out = run(
        data, "fraud", "import-statement", str(b), "--map", "ts=日期時間", "--map", "amount=金額"
    )
    assert code == 1 and "give the statement's account" in out


def test_a_statement_given_as_transfers_is_refused_with_the_way_to_import_it(
    tmp_path: Path,
) -> None:
    a, b = _statements(tmp_path)
    ledger = _ledger(tmp_path / "db")
    # 支出／存入 below title lines, and one signed amount with the other party's account
    for statement in (a, b):
        with pytest.raises(AssistantError) as refused:
            import_csv(ledger, statement, {})
        said = str(refused.value)
        assert said.index("交易明細") < said.index("statement")  # Chinese first
        assert "import-statement" in said and "nothing was imported" in said
    assert ledger.counts()["transfers"] == 0
    data = tmp_path / "data"
    code, out = run(data, "fraud", "import-csv", str(b))
    assert code == 1 and "import-statement FILE --account ACCOUNT" in out
    # A transfer file whose columns are not told keeps its own refusal: no statement hint.
    other = tmp_path / "transfers.csv"
    other.write_text("時間,甲方,乙方,金額\n2024/05/01 10:00,1,2,300\n", encoding="utf-8")
    with pytest.raises(AssistantError) as refused:
        import_csv(ledger, other, {})
    assert "import-statement" not in str(refused.value)
    assert "from_account" in str(refused.value)


def test_one_file_of_several_accounts_names_each_rows_account(tmp_path: Path) -> None:
    path = tmp_path / "several.csv"
    path.write_text(
        "帳號,交易日期,摘要,支出,存入,對方帳號\n"
        f"{A},2024/05/01,轉出,700,,{B}\n"
        f"{B},2024/05/01,轉入,,700,{A}\n"  # the same transfer, from B's side
        f",2024/05/02,轉出,5,,{B}\n",  # no account on the row
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path / "db")
    report = import_statement(ledger, path, {"account": "帳號"})
    assert (report.added, report.omitted, [n for n, _ in report.errors]) == (1, {ALREADY: 1}, [4])
    assert [(t.to_account, t.amount) for t in ledger.transfers_out(A)] == [(B, 700)]


def test_an_excel_statement_keeps_its_identifiers_or_says_why_not(tmp_path: Path) -> None:
    from datetime import date, time

    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append([f"帳號 {A} 交易明細"])
    ws.append(["交易日期", "交易時間", "摘要", "支出", "存入", "對方帳號"])  # row 2
    ws.append([date(2024, 5, 1), time(10, 0), "轉出", 700, 0, B])
    ws.append([date(2024, 5, 1), time(11, 0), "轉出", 800, None, 812345678901])  # zeros lost
    ws.append([date(2024, 5, 1), time(12, 0), "ATM提款", 1000.0, None, None])
    path = tmp_path / "statement.xlsx"
    book.save(path)
    ledger = _ledger(tmp_path / "db")
    report = import_statement(ledger, path, {}, account=A, bank="822")
    assert (report.added, report.cash, [n for n, _ in report.errors]) == (2, 1, [4])
    assert "leading zeros" in report.errors[0][1]
    assert sorted((t.to_account, t.amount) for t in ledger.transfers_out(A)) == [
        (B, 700),
        ("CASH822", 1000),
    ]


def test_an_online_banking_statement_reads_its_cash_charges_and_bank_codes(
    tmp_path: Path,
) -> None:
    """A statement as online banking exports it: a title line, 說明 for the summary, a
    12-hour clock, the other party's bank code in front of its account, and a fee line."""
    f = tmp_path / "stmt.csv"
    f.write_text(
        "帳號：0071112223334 存款交易明細\n"
        "交易日期,交易時間,說明,提款金額,存款金額,餘額,轉出入帳號,備註\n"
        '2024/05/01,下午 03:20:11,跨行轉入,,"49,000","52,000",812-8129876543210,\n'
        '2024/05/01,下午 03:40:00,ATM提款,"20,000",,"32,000",,台北車站\n'
        '2024/05/02,上午 10:00:00,網銀轉出,"9,000",,"23,000",(013)0131234567890,\n'
        '2024/05/02,上午 10:00:30,跨行轉帳手續費,15,,"22,985",,\n'
        '2024/05/02,上午 10:05:00,網銀轉出,"1,000",,"21,985",004-12-345678-9,\n',
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_statement(ledger, f, {}, account="0071112223334")
    assert report.mapping["summary"] == "說明"
    assert (report.added, report.cash, report.skipped) == (4, 1, 0)
    assert report.omitted == {BANK_CHARGE: 1}
    with ledger.engine.connect() as conn:
        got = conn.exec_driver_sql(
            "SELECT from_account, to_account, kind, from_bank, to_bank FROM fraud_transfer "
            "ORDER BY ts"
        ).all()
    # the bank's code stays the account's first digits, as the product numbers accounts
    assert [tuple(r) for r in got] == [
        ("8128129876543210", "0071112223334", "transfer", "812", ""),
        ("0071112223334", "CASH", "cash_out", "", ""),
        ("0071112223334", "0130131234567890", "transfer", "", "013"),
        # an account's own dashes are not a bank code
        ("0071112223334", "004123456789", "transfer", "", ""),
    ]


def test_a_transfer_list_with_bank_codes_before_the_accounts(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text(
        "交易時間,轉出帳號,轉入帳號,金額\n"
        "2024-05-01 09:00,(004)0041234567890,812-8129876543210,100\n"
        "2024-05-01 10:00,8128129876543210,0071112223334,90\n",
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, f, {})
    assert (report.added, report.accounts) == (2, 3)  # 812-8129876543210 is 8128129876543210
    with ledger.engine.connect() as conn:
        got = conn.exec_driver_sql(
            "SELECT from_account, to_account, from_bank, to_bank FROM fraud_transfer ORDER BY ts"
        ).all()
    assert [tuple(r) for r in got] == [
        ("0040041234567890", "8128129876543210", "004", "812"),
        ("8128129876543210", "0071112223334", "", ""),
    ]
    assert ledger.account("(812)8129876543210").bank_code == "812"  # type: ignore[union-attr]


def test_a_statement_after_a_transfer_list_of_the_same_transfers(tmp_path: Path) -> None:
    """A bank's transfer list brought in first, then the payer's statement: the transfers the
    list holds (the same accounts, time and amount) are not counted twice."""
    a, _ = _statements(tmp_path)
    ledger = _ledger(tmp_path / "db")
    listed = _transfer_list(
        tmp_path / "list.csv",
        f"T1,2024-05-01 10:05:12,{A},{B},20000\n",
        f"T2,2024-05-01 10:05:40,{A},{B},20000\n",
    )
    assert import_csv(ledger, listed, LIST_MAP).added == 2
    report = import_statement(ledger, a, A_MAP, account=A, bank="822")
    assert (report.added, report.omitted[ALREADY]) == (4, 2)
    assert len([t for t in ledger.transfers_out(A) if t.to_account == B]) == 2


def test_a_statement_of_days_after_a_transfer_list_with_times(tmp_path: Path) -> None:
    """B's bank prints the day only: its two NT$20,000 from A that day are the two the list
    gave (by day, accounts and amount, counted), and a third that day would be new."""
    ledger = _ledger(tmp_path / "db")
    listed = _transfer_list(
        tmp_path / "list.csv",
        f"T1,2024-05-01 10:05:12,{A},{B},20000\n",
        f"T2,2024-05-01 23:55:40,{A},{B},20000\n",  # late at night: still 1 May in Taiwan
    )
    assert import_csv(ledger, listed, LIST_MAP).added == 2
    days = _statement_of_days(
        tmp_path / "b_days.csv",
        f"2024/05/01,轉入,20000,{A}\n",
        f"2024/05/01,轉入,20000,{A}\n",
        f"2024/05/01,轉入,20000,{A}\n",
        f"2024/05/02,轉入,20000,{A}\n",
    )
    report = import_statement(ledger, days, {}, account=B)
    assert (report.added, report.omitted[ALREADY]) == (2, 2)
    assert len(ledger.transfers_out(A)) == 4


def test_a_transfer_list_with_times_after_a_statement_of_days(tmp_path: Path) -> None:
    """The other order: B's statement of days first, then the bank's list with times. The
    list's rows the statement already holds (same day, accounts and amount, counted) are left
    out; a fourth that day, and one of another day, are new; the list again adds nothing."""
    ledger = _ledger(tmp_path / "db")
    days = _statement_of_days(
        tmp_path / "b_days.csv",
        f"2024/05/01,轉入,20000,{A}\n",
        f"2024/05/01,轉入,20000,{A}\n",
        f"2024/05/01,轉入,20000,{A}\n",
        f"2024/05/01,轉入,5000,{A}\n",
    )
    assert import_statement(ledger, days, {}, account=B).added == 4
    listed = _transfer_list(
        tmp_path / "list.csv",
        f"T1,2024-05-01 10:05:12,{A},{B},20000\n",
        f"T2,2024-05-01 23:55:40,{A},{B},20000\n",  # late at night: still 1 May in Taiwan
        f"T3,2024-05-01 08:00:00,{A},{B},20000\n",
        f"T4,2024-05-01 09:00:00,{A},{B},20000\n",  # the statement has three: a fourth is new
        f"T5,2024-05-02 00:10:00,{A},{B},5000\n",  # another day in Taiwan
        f"T6,2024-05-01 12:00:00,{B},{A},5000\n",  # the other way round
    )
    report = import_csv(ledger, listed, LIST_MAP)
    assert (report.added, report.omitted) == (3, {IMPORTED_BEFORE: 3})
    out = ledger.transfers_out(A)
    assert sorted(t.amount for t in out) == [5000, 5000, 20000, 20000, 20000, 20000]
    assert {t.id for t in out if not t.id.startswith("stmt:")} == {"T4", "T5"}
    again = import_csv(ledger, listed, LIST_MAP)
    assert (again.added, again.omitted) == (0, {IMPORTED_BEFORE: 6})


def test_full_width_empty_marks_and_the_banks_interest(tmp_path: Path) -> None:
    """Empty amount cells printed as －, —— or N/A are empty, and the bank's own interest and
    the tax it withholds are its entries (counted with the fees), not money from a party."""
    f = tmp_path / "stmt.csv"
    f.write_text(
        "交易日期,摘要,支出金額,存入金額,餘額,對方帳號\n"
        '2024/05/01,跨行轉入,－,"50,000.00","51,000.00",(004)555566667777\n'
        '2024/05/02,網路轉帳,"10,000.00",——,"41,000.00",812-8129876543210\n'
        '2024/06/21,存款利息,N/A,12,"41,012.00",\n'
        '2024/06/21,利息所得扣繳,1,—,"41,011.00",\n',
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_statement(ledger, f, {}, account=A, bank="822")
    assert (report.added, report.errors) == (2, [])
    assert report.omitted == {BANK_CHARGE: 2}
    assert {t.amount for t in ledger.transfers_out(A)} == {10_000}


@pytest.mark.parametrize(
    ("written", "out"),
    [
        ("-1,000", True),
        ("(1,000)", True),
        ("1,000-", True),  # a trailing sign, as core banking prints it
        ("1,000.00 DR", True),
        ("1,000.00Dr", True),
        ("1,000 CR", False),
        ("1,000", False),
    ],
)
def test_signed_amounts_as_statements_print_them(tmp_path: Path, written: str, out: bool) -> None:
    f = tmp_path / "signed.csv"
    f.write_text(
        f'日期時間,摘要,金額,對方帳號\n2024/05/02 13:00,轉帳,"{written}",0099-8877-6655\n',
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_statement(ledger, f, B_MAP, account=B)
    assert (report.added, report.errors) == (1, [])
    moved = ledger.transfers_out(B) if out else ledger.transfers_in(B)
    assert [t.amount for t in moved] == [1000.0]


def test_a_sign_and_a_credit_mark_together_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "signed.csv"
    f.write_text(
        '日期時間,摘要,金額,對方帳號\n2024/05/02 13:00,轉帳,"-1,000 CR",0099-8877-6655\n',
        encoding="utf-8",
    )
    report = import_statement(_ledger(tmp_path), f, B_MAP, account=B)
    assert report.added == 0 and "unclear sign" in report.errors[0][1]


def test_the_title_line_names_the_statements_account(tmp_path: Path) -> None:
    """帳號：0074-2512-076092 above the header is the statement's account when none is given
    (said in the report); a title naming two accounts is refused with both."""
    a, _ = _statements(tmp_path)
    ledger = _ledger(tmp_path / "db")
    report = import_statement(ledger, a, A_MAP, bank="822")
    assert report.added == 6
    assert any(A in word and "title" in word for word in report.noted)
    assert len(ledger.transfers_out(A)) == 4
    two = tmp_path / "two.csv"
    two.write_text(
        "轉出帳號：0074-2512-076092　轉入帳號：0081-2345-678901\n"
        + a.read_text("utf-8").split("\n", 1)[1],
        encoding="utf-8",
    )
    with pytest.raises(AssistantError, match=f"more than one: {A}, {B}"):
        import_statement(_ledger(tmp_path / "db2"), two, A_MAP)
