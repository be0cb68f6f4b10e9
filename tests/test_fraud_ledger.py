"""The fraud ledger: tables, bulk writes, importers (AMLSim, generic CSV) and the generator."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import inspect

from assistant.errors import AssistantError
from assistant.fraud.generator import BANKS, generate
from assistant.fraud.importers import (
    REPEATED_HEADER,
    SAME_ACCOUNT,
    TOTAL_LINE,
    import_amlsim,
    import_csv,
)
from assistant.fraud.ledger import Ledger, normalize_account
from assistant.schema import open_engine
from benchmarks.ledger_import import MAPPING
from tests.conftest import SHARED

AMLSIM = SHARED / "aml" / "amlsim_fanin200"


def _ledger(path: Path, **kw: int) -> Ledger:
    return Ledger(open_engine(f"sqlite:///{path / 'x.db'}"), **kw)


@pytest.fixture(scope="module")
def aml(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ledger, object]:
    if not (AMLSIM / "nodes.csv").is_file():
        pytest.skip("AMLSim sample not in ../shared/data")
    ledger = _ledger(tmp_path_factory.mktemp("aml"))
    return ledger, import_amlsim(ledger, AMLSIM)


@pytest.fixture(scope="module")
def small() -> object:
    return generate(3000, 30_000, seed=7, start=date(2024, 3, 1), days=45, fraud_rings=8)


# ---------------------------------------------------------------------- AMLSim


def test_amlsim_import_counts(aml: tuple[Ledger, object]) -> None:
    ledger, report = aml
    assert (report.rows, report.added, report.skipped, report.errors) == (118_250, 118_250, 0, [])
    assert ledger.counts() == {
        "banks": 5,
        "accounts": 20_000,
        "transfers": 118_250,
        "fraud_accounts": 954,
    }
    acct = ledger.account("AML00000018")
    assert acct is not None and acct.is_fraud and acct.pattern == "amlsim:fan_in"
    assert acct.bank_code == "013"  # 18 % 5 == 3 → AMLSIM_BANKS[3]


def test_amlsim_timestamps_follow_the_stated_rule(aml: tuple[Ledger, object]) -> None:
    ledger, _ = aml
    # line 2 of transactions.csv: 360 → 18984, step 1, the first of its step: 09:00 Taipei
    first = ledger.transfers_out("AML00000360")[0]
    assert first.id == "AMLT0000002" and first.to_account == "AML00018984"
    assert first.ts == datetime(2024, 1, 2, 1, 0)  # 2024-01-02 09:00 UTC+8, stored as UTC
    assert first.from_bank == "004" and first.to_bank == "822" and first.channel == "跨行"
    arr = ledger.arrays()
    # within a step, file order is time order; every time lies in 09:00–21:00 Taipei
    local_hour = ((arr.ts + 8 * 3600) % 86400) // 3600
    assert local_hour.min() >= 9 and local_hour.max() < 21
    lines = np.array([int(t[4:]) for t in arr.transfer_ids])
    order = np.argsort(lines)
    days = (arr.ts[order] + 8 * 3600) // 86400
    same_day = np.diff(days) == 0
    assert np.all(np.diff(arr.ts[order])[same_day] >= 0)


def test_arrays_shapes_and_dtypes(aml: tuple[Ledger, object]) -> None:
    ledger, _ = aml
    arr = ledger.arrays()
    assert len(arr) == 118_250 and len(arr.account_ids) == 20_000
    assert arr.src.dtype == np.int64 and arr.dst.dtype == np.int64
    assert arr.ts.dtype == np.int64 and arr.amount.dtype == np.float64
    assert arr.transfer_ids.dtype == object and arr.account_ids.dtype == object
    assert arr.src.shape == arr.dst.shape == arr.ts.shape == arr.amount.shape == (118_250,)
    i = int(np.flatnonzero(arr.transfer_ids == "AMLT0000002")[0])
    assert arr.account_ids[arr.src[i]] == "AML00000360"
    assert arr.index["AML00018984"] == arr.dst[i]
    assert arr.ts[i] == int(datetime(2024, 1, 2, 1, 0, tzinfo=UTC).timestamp())
    assert arr.amount[i] == pytest.approx(103.55)
    early = ledger.arrays(until=date(2024, 1, 5))
    assert 0 < len(early) < len(arr)
    assert early.ts.max() < datetime(2024, 1, 5, tzinfo=UTC).timestamp()


def _write_aml(folder: Path, nodes: str, txs: str) -> Path:
    folder.mkdir()
    (folder / "nodes.csv").write_text(nodes, encoding="utf-8")
    (folder / "transactions.csv").write_text(txs, encoding="utf-8")
    return folder


def test_malformed_amlsim_reports_lines_and_skips_only_bad_rows(tmp_path: Path) -> None:
    folder = _write_aml(
        tmp_path / "bad",
        "nodeid,isFraud,init_balance,fraudStep\n0,0,1,-1\n1,1,1,3\n2,0,1,-1\nx,0,1,-1\n",
        "sourceNodeId,targetNodeId,value,time\n"
        "0,1,100.5,1\n"  # 2 ok
        "0,1,abc,1\n"  # 3 bad amount
        "0,9,10,1\n"  # 4 unknown node
        "1,2,10\n"  # 5 column count
        "1,2,10,-3\n"  # 6 bad step
        "1,2,50,2\n",  # 7 ok
    )
    ledger = _ledger(tmp_path)
    report = import_amlsim(ledger, folder)
    assert report.rows == 6 and report.added == 2
    assert [n for n, _ in report.errors] == [5, 3, 4, 5, 6]  # nodes.csv line 5, then transfers
    assert report.errors[0][1].startswith("nodes.csv")
    assert "amount" in report.errors[1][1] and "unknown node" in report.errors[2][1]
    assert report.skipped == len(report.errors)
    assert ledger.counts()["transfers"] == 2 and ledger.counts()["accounts"] == 3
    assert [t.id for t in ledger.transfers_in("AML00000002")] == ["AMLT0000007"]


def test_wrong_shape_folder_is_refused_and_nothing_written(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    with pytest.raises(AssistantError, match="nothing was imported"):
        import_amlsim(ledger, _write_aml(tmp_path / "w", "id,label\n0,1\n", "a,b,c,d\n0,0,1,1\n"))
    with pytest.raises(AssistantError, match="no such"):
        import_amlsim(ledger, tmp_path / "missing")
    good_nodes = "nodeid,isFraud,init_balance,fraudStep\n0,0,1,-1\n"
    with pytest.raises(AssistantError, match="nothing was imported"):
        import_amlsim(ledger, _write_aml(tmp_path / "w2", good_nodes, "src,dst,amt,t\n0,0,1,1\n"))
    assert ledger.counts() == {"banks": 0, "accounts": 0, "transfers": 0, "fraud_accounts": 0}


# ---------------------------------------------------------------------- generic CSV

# A bank's names for the product's fields: the layout the import benchmark writes too.
HEADER = ",".join(MAPPING.values()) + "\n"
# A bank export's layout: the date and the time in two columns, a memo.
SPLIT_TIME = {
    "id": "交易序號",
    "ts": "交易日期+交易時間",
    "from_account": "轉出帳號",
    "to_account": "轉入帳號",
    "amount": "金額",
    "memo": "備註",
}


def test_generic_csv_import_with_mapping(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text(
        HEADER + 'A1,2024/05/01 10:00:00,822-1234-5678-9012,004-5555 6666 7777,"12,000",822,004\n'
        "A2,2024-05-01T11:30:00,0045555 66667777,700-0001112223334,11800,004,700\n"
        "A3,not a time,1,2,3,004,004\n"
        "A4,2024-05-02 09:00,0045555 66667777,8221234-56789012,-5,004,822\n"
        "A1,2024-05-03 09:00,0045555 66667777,8221234-56789012,100,004,822\n",
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, MAPPING)
    assert (report.rows, report.added, report.skipped) == (5, 2, 3)
    assert [n for n, _ in report.errors] == [4, 5, 6]
    assert "repeats line 2" in report.errors[2][1]
    assert ledger.counts()["accounts"] == 3 and ledger.counts()["banks"] == 3
    t = ledger.transfers_out("822 1234 5678 9012")[0]
    assert t.to_account == "004555566667777" and t.amount == 12_000
    assert t.ts == datetime(2024, 5, 1, 2, 0)  # 10:00 Taipei
    assert t.channel == "跨行" and t.currency == "TWD"
    assert ledger.account("004-5555-6666-7777").bank_code == "004"  # type: ignore[union-attr]
    assert ledger.bank("700").name == "中華郵政"  # type: ignore[union-attr]
    with pytest.raises(AssistantError, match="not in the header"):
        import_csv(ledger, path, {**MAPPING, "channel": "通路"})


def test_the_mapping_is_told_from_the_header_when_not_given(tmp_path: Path) -> None:
    """Without --map (or with part of it) the columns are told from their names, the mapping
    read is reported, and what the names do not settle is refused with the header."""

    def load(name: str, text: str, mapping: dict[str, str] | None = None) -> object:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return import_csv(_ledger(tmp_path / name.split(".")[0]), path, mapping or {})

    report = load(
        "en.csv",
        "Transaction ID,Timestamp,Sender,Receiver,Amount,Currency\n"
        "T1,2024-05-01 10:00,A100,B200,500,TWD\n",
    )
    assert report.added == 1 and report.mapping == {
        "id": "Transaction ID",
        "ts": "Timestamp",
        "from_account": "Sender",
        "to_account": "Receiver",
        "amount": "Amount",
        "currency": "Currency",
    }
    report = load(
        "zh.csv", "交易日期,交易時間,付款帳號,收款帳號,交易金額\n113/05/01,10:00,A1,B2,500\n"
    )
    assert report.added == 1 and report.mapping["ts"] == "交易日期+交易時間"
    # 時間 alone, with no date column beside it, holds the whole time
    report = load("t.csv", "時間,轉出帳號,轉入帳號,金額\n2024/05/01 10:00,A1,B2,5\n")
    assert report.added == 1 and report.mapping["ts"] == "時間"
    with pytest.raises(AssistantError, match=r"which column is \['ts'\].*處理日"):
        load("p.csv", "處理日,轉出帳號,轉入帳號,金額\n2024-05-01,A1,B2,5\n")
    report = load("p2.csv", "處理日,轉出帳號,轉入帳號,金額\n2024-05-01,A1,B2,5\n", {"ts": "處理日"})
    assert report.added == 1 and report.mapping["ts"] == "處理日"
    with pytest.raises(AssistantError, match=r"ambiguous: amount: 金額 / 交易金額"):
        load("a.csv", "交易時間,轉出帳號,轉入帳號,金額,交易金額\n2024-05-01,A1,B2,5,5\n")
    # A name used twice: the second is Account.1; each is read by its place, the account of
    # the bank column before it (AMLworld's layout), or named in --map.
    text = "Timestamp,From Bank,Account,To Bank,Account,Amount Paid\n2024-05-01,004,X9,822,Y8,7\n"
    report = load("d.csv", text)
    assert report.added == 1
    assert (report.mapping["from_account"], report.mapping["to_account"]) == (
        "Account",
        "Account.1",
    )
    with pytest.raises(AssistantError, match=r"Account\.1"):  # no bank column to tell the sides
        load("d0.csv", "Timestamp,Account,Account,Amount\n2024-05-01,X9,Y8,7\n")
    mapping = {"from_account": "Account", "to_account": "Account.1", "amount": "Amount Paid"}
    report = load("d2.csv", text, mapping)
    assert report.added == 1 and report.mapping["ts"] == "Timestamp"
    # Another country's bank numbers are kept; a bank column holding something else (a bank's
    # name) spoils its rows, reported, until `from_bank=` keeps the column from being read.
    assert load("d3.csv", text.replace("004", "3208"), mapping).skipped == 0
    text = text.replace("004", "Bank #4")
    assert load("d3b.csv", text, mapping).skipped == 1
    report = load("d4.csv", text, {**mapping, "from_bank": "", "to_bank": ""})
    assert report.added == 1 and "from_bank" not in report.mapping


def test_title_lines_above_the_header_are_skipped(tmp_path: Path) -> None:
    """Exports often begin with what was asked (the account, the period): the header is the
    first line that holds every mapped column, and bad rows keep the file's line numbers."""
    path = tmp_path / "statement.csv"
    path.write_text(
        "存款交易明細查詢\n查詢期間：113/05/01~113/05/31\n\n"
        + HEADER
        + "T1,2024-05-01 10:00,8221234567890120,0045555666677770,500,822,004\n"
        + "T2,bad,8221234567890120,0045555666677770,500,822,004\n",
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, MAPPING)
    assert (report.added, [n for n, _ in report.errors]) == (1, [6])
    assert ledger.transfers_out("8221234567890120")[0].id == "T1"
    # A mapping the file does not fit still names what the first line lacks.
    with pytest.raises(AssistantError, match=r"not in the header.*存款交易明細查詢"):
        import_csv(ledger, path, {**MAPPING, "channel": "通路"})


def test_a_big5_export_split_by_semicolons_with_date_and_time_apart(tmp_path: Path) -> None:
    """What Excel and older core systems write in Taiwan: Big5 text, semicolons, the date and
    the time in two columns, amounts with NT$ / 元 / full-width digits. Read through the same
    mapping (``ts`` from two columns joined by ``+``); a US$ amount is reported, not read as
    NT$."""
    path = tmp_path / "匯出.csv"
    path.write_bytes(
        (
            "交易序號;交易日期;交易時間;轉出帳號;轉入帳號;金額;備註\n"
            "E1;113/05/01;10:00;822-1234-5678-9012;004-5555-6666-7777;NT$12,000;薪資\n"
            "E2;2024/05/01;11:30:15;0045555 66667777;7000001112223334;１２，３４５元;房租\n"
            "E3;113/05/02;09:00;0045555 66667777;8221234-56789012;新臺幣 500;\n"
            "E4;113/05/02;09:05;0045555 66667777;8221234-56789012;US$100;外幣\n"
        ).encode("cp950")
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, SPLIT_TIME)
    assert (report.rows, report.added, report.skipped) == (4, 3, 1)
    assert report.errors[0][0] == 5 and "US$100" in report.errors[0][1]
    got = {t.id: t for t in ledger.transfers_out("0045555 66667777")}
    assert got["E2"].amount == 12_345 and got["E2"].memo == "房租"
    assert got["E2"].ts == datetime(2024, 5, 1, 3, 30, 15)  # 11:30:15 Taipei
    assert got["E3"].amount == 500
    first = ledger.transfers_out("822-1234-5678-9012")[0]
    assert (first.amount, first.ts, first.memo) == (12_000, datetime(2024, 5, 1, 2, 0), "薪資")
    with pytest.raises(AssistantError, match=r"not in the header.*交易日期"):
        import_csv(ledger, path, {**SPLIT_TIME, "ts": "交易日期+時間"})


def test_a_file_is_read_in_batches_and_loaded_whole_or_not_at_all(tmp_path: Path) -> None:
    """Batches of two rows: accounts met in several batches, or already in the ledger, are
    added once; progress is told after each batch; a file whose encoding changes after the
    first batches were written loads nothing."""
    ledger = _ledger(tmp_path)
    ledger.bulk_insert([{"code": "004", "name": "臺灣銀行"}], [{"id": "111", "bank_code": "004"}])
    path = tmp_path / "many.csv"
    lines = [f"M{i},2024-05-0{1 + i % 5} 10:00,111,22{i % 3},{100 + i},004,004\n" for i in range(7)]
    path.write_text(HEADER + "".join(lines) + "M2,2024-05-09 10:00,111,220,5,004,004\n", "utf-8")
    seen: list[int] = []
    report = import_csv(ledger, path, MAPPING, batch=2, progress=seen.append)
    assert (report.rows, report.added, report.skipped, report.accounts) == (8, 7, 1, 3)
    assert "repeats line 4" in report.errors[0][1]  # the repeat is found across batches
    assert seen == [2, 4, 6, 8]
    assert ledger.counts()["accounts"] == 4 and ledger.counts()["transfers"] == 7

    # past the megabyte the encoding is told from, so four batches are written first
    broken = tmp_path / "broken.csv"
    good = "".join(f"B{i},2024-05-01 10:00,333,444,{i + 1},004,004\n" for i in range(40_000))
    broken.write_bytes((HEADER + good).encode() + b"B,2024-05-01 10:00,333,\xff\xfe,5,004,004\n")
    before = ledger.counts()
    with pytest.raises(AssistantError, match=r"after line \d+.*nothing was imported") as err:
        import_csv(ledger, broken, MAPPING, batch=10_000)
    # text is decoded a block at a time: the line named is at most one block before the bad one
    assert 39_000 < int(str(err.value).split("after line ")[1].split()[0]) <= 40_001
    assert ledger.counts() == before and ledger.account("333") is None


def test_a_parquet_export_through_the_same_mapping(tmp_path: Path) -> None:
    """A Parquet file, typed as a warehouse writes it (times as timestamps, amounts as
    numbers, a missing value as null): read through the same mapping and checks, bad rows
    reported by their row number; a file that is not Parquet is refused whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "export.parquet"
    table = pa.table(
        {
            "交易序號": ["P1", "P2", "P3", "P4"],
            "交易時間": pa.array(
                [
                    datetime(2024, 5, 1, 10, 0),
                    datetime(2024, 5, 1, 11, 0),
                    None,
                    datetime(2024, 5, 2, 9, 0),
                ],
                pa.timestamp("s"),
            ),
            "轉出帳號": ["822-1234-5678-9012", "0045555666677770", "1", "0045555666677770"],
            "轉入帳號": ["004-5555-6666-7777", "8221234567890120", "2", "8221234567890120"],
            "金額": [12000.0, 1500.5, 3.0, -5.0],
        }
    )
    pq.write_table(table, path, row_group_size=2)
    ledger = _ledger(tmp_path)
    mapping = {k: v for k, v in MAPPING.items() if k not in ("from_bank", "to_bank")}
    report = import_csv(ledger, path, mapping, batch=1)
    assert (report.rows, report.added, report.skipped) == (4, 2, 2)
    assert [n for n, _ in report.errors] == [3, 4]  # rows counted from 1: no header line
    first = ledger.transfers_out("822-1234-5678-9012")[0]
    assert (first.amount, first.ts) == (12_000, datetime(2024, 5, 1, 2, 0))  # Taipei → UTC
    assert ledger.transfers_out("0045555666677770")[0].amount == 1500.5

    fake = tmp_path / "fake.parquet"
    fake.write_text("交易序號,交易時間\n", encoding="utf-8")
    with pytest.raises(AssistantError, match="not a readable Parquet file"):
        import_csv(ledger, fake, mapping)


def test_a_file_in_neither_utf8_nor_big5_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + b"\xff\xfe\xfa,2024-05-01 10:00,1,2,3,004,004\n")
    ledger = _ledger(tmp_path)
    with pytest.raises(AssistantError, match=r"無法辨識編碼.*not UTF-8, Big5 or UTF-16"):
        import_csv(ledger, path, MAPPING)
    assert ledger.counts()["transfers"] == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_its_mark_as_excel_saves_unicode_text(tmp_path: Path, encoding: str) -> None:
    """Excel's "Unicode text" is tab-separated UTF-16 with a byte-order mark: read as text,
    whichever byte order (the mark written by hand where the codec writes none)."""
    text = "交易時間\t轉出帳號\t轉入帳號\t金額\n2024/05/01 10:00\t00742512076092\tB2\t5萬\n"
    mark = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    path = tmp_path / "unicode.txt"
    path.write_bytes(mark + text.encode(encoding))
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, {})
    assert (report.added, report.errors) == (1, [])
    assert ledger.transfers_out("00742512076092")[0].amount == 50_000


def test_dates_as_bank_exports_write_them(tmp_path: Path) -> None:
    """A bank's export writes 民國 dates and short times; without --date-format they are read,
    and an impossible one is reported with its reason."""
    path = tmp_path / "roc.csv"
    path.write_text(
        HEADER + "B1,113/05/01 10:00:00,8221234567890120,0045555666677770,100,822,004\n"
        "B2,2024/5/1 9:30,8221234567890120,0045555666677770,200,822,004\n"
        "B3,民國113年5月2日 08:05,8221234567890120,0045555666677770,300,822,004\n"
        "B4,113/05/02,8221234567890120,0045555666677770,400,822,004\n"
        "B5,113/13/02 10:00,8221234567890120,0045555666677770,500,822,004\n"
        "B6,113/05/02 25:00,8221234567890120,0045555666677770,600,822,004\n"
        "B7,113/05/03 10:00,8221234567890120,,700,822,004\n"
        "B8,113/05/03 11:00,8221234567890120,822-1234567890120,800,822,822\n",
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, MAPPING)
    assert (report.added, report.skipped) == (4, 3)
    assert "no such date" in report.errors[0][1] and "no such time" in report.errors[1][1]
    assert "mark such rows with a kind column" in report.errors[2][1]
    # one account on both sides (its number written two ways): counted as left out, with why
    assert report.omitted == {SAME_ACCOUNT: 1} and "payer and payee are one account" in SAME_ACCOUNT
    times = sorted(t.ts for t in ledger.transfers_out("8221234567890120"))
    assert times == [  # stored in UTC: Taipei minus eight hours
        datetime(2024, 5, 1, 1, 30),
        datetime(2024, 5, 1, 2, 0),
        datetime(2024, 5, 1, 16, 0),
        datetime(2024, 5, 2, 0, 5),
    ]


def test_failure_mid_import_rolls_back(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, chunk_size=2)
    first = tmp_path / "a.csv"
    first.write_text(HEADER + "X9,2024-05-01 10:00,111111,222222,100,004,004\n", encoding="utf-8")
    assert import_csv(ledger, first, MAPPING).added == 1
    before = ledger.counts()
    second = tmp_path / "b.csv"
    rows = [f"N{i},2024-05-02 10:00,33333{i},444444,100,005,004\n" for i in range(5)]
    second.write_text(HEADER + "".join(rows) + "X9,2024-05-03 10:00,1,2,5,004,004\n", "utf-8")
    with pytest.raises(AssistantError, match="duplicate"):
        import_csv(ledger, second, MAPPING)  # the duplicate is in the last chunk of three
    assert ledger.counts() == before
    assert ledger.account("333330") is None and ledger.bank("005") is None


def test_account_number_normalisation(tmp_path: Path) -> None:
    assert normalize_account(" 822-1234 5678-9012 ") == "822123456789012"
    assert normalize_account("８２２－１２３４") == "8221234"  # full-width
    assert normalize_account("aml_0000 0001") == "AML00000001"
    # a bank's code before the number, as online banking prints it, stays its first digits
    assert normalize_account("(812)8129876543210") == "8128129876543210"
    assert normalize_account("（８１２）８１２９８７６５４３２１０") == "8128129876543210"
    # what spreadsheets wrap a number in to keep its leading zeros (and BankSim's quotes)
    assert normalize_account("'0041234567890") == "0041234567890"
    assert normalize_account('="0041234567890"') == "0041234567890"
    assert normalize_account("'C1093826151'") == "C1093826151"
    for bad in ("", " - ", "12#34", "帳號123", "'", "O'Brien"):
        with pytest.raises(AssistantError):
            normalize_account(bad)
    ledger = _ledger(tmp_path)
    ledger.bulk_insert([{"code": "822", "name": "中國信託"}], [{"id": "822123456789012"}])
    assert ledger.account("822-1234-5678-9012").id == "822123456789012"  # type: ignore[union-attr]
    assert ledger.account("822-0000") is None


# ---------------------------------------------------------------------- generator


def test_generator_is_reproducible(small: object) -> None:
    again = generate(3000, 30_000, seed=7, start=date(2024, 3, 1), days=45, fraud_rings=8)
    other = generate(3000, 30_000, seed=8, start=date(2024, 3, 1), days=45, fraud_rings=8)
    a, b = small.transfers, again.transfers  # type: ignore[attr-defined]
    for name in ("id", "ts", "from_account", "to_account", "amount", "channel", "pattern"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert small.accounts == again.accounts  # type: ignore[attr-defined]
    assert not np.array_equal(a.from_account, other.transfers.from_account)
    assert len(a) == 30_000 and np.all(np.diff(a.ts) >= 0)
    codes = {x["bank_code"] for x in small.accounts}  # type: ignore[attr-defined]
    assert codes == set(BANKS)
    person = [x for x in small.accounts if x["holder_ref"] != "cash"]  # type: ignore[attr-defined]
    assert all(x["id"][:3] in BANKS and 14 <= len(x["id"]) <= 17 for x in person)
    assert set(a.channel) >= {"ATM", "網銀", "跨行", "行動", "臨櫃"}


def test_planted_patterns_are_what_they_claim(small: object) -> None:
    t = small.transfers  # type: ignore[attr-defined]
    patterns = small.patterns  # type: ignore[attr-defined]
    assert len(patterns) == 8
    assert {p.kind for p in patterns} == {"chain", "scatter_gather", "cycle", "fan_in"}
    labels = small.labels  # type: ignore[attr-defined]
    into, out = defaultdict(list), defaultdict(list)
    for i, (f, to) in enumerate(zip(t.from_account, t.to_account, strict=True)):
        into[to].append(i)
        out[f].append(i)
    cross_hops = 0
    for p in patterns:
        assert all(labels[m] is True for m in p.fraud_accounts)
        assert all(labels[v] is False for v in p.victims)
        for m in p.mules:
            victims = {t.from_account[i] for i in into[m] if t.from_account[i] in p.victims}
            assert len(victims) >= 3, (p.id, m)
            got = sum(t.amount[i] for i in into[m] if t.from_account[i] in victims)
            passed = 0.0
            for i in into[m]:
                if t.from_account[i] in victims:
                    later = [
                        j for j in out[m] if 0 <= t.ts[j] - t.ts[i] <= 6 * 3600 and t.pattern[j]
                    ]
                    passed += min(t.amount[i], sum(t.amount[j] for j in later))
            assert passed >= 0.8 * got, (p.id, m)
        for path in p.paths:
            ts = t.ts[path]
            if p.kind != "scatter_gather":
                assert np.all(np.diff(ts) > 0), (p.id, path)
            assert t.channel[path[-1]] == "ATM" and t.to_account[path[-1]].startswith("CASH")
            assert t.to_account[path[0]] in p.mules and t.from_account[path[0]] in p.victims
            assert all(t.pattern[i] == f"{p.id}:{p.kind}" for i in path)
            cross_hops += sum(t.from_bank[i] != t.to_bank[i] for i in path[1:])
            if p.kind == "chain":
                hops = path[1 : 1 + len(p.layer) + 1]
                assert 3 <= len(hops) <= 5
                assert all(t.to_account[a] == t.from_account[b] for a, b in pairwise(hops))
                assert any(t.from_bank[i] != t.to_bank[i] for i in hops)
            if p.kind == "cycle":
                assert any(t.to_account[i] == t.from_account[path[1]] for i in path[2:])
    assert cross_hops > 0
    assert sum(pd is not None for pd in t.pattern) == sum(len(p) for p in _paths(patterns))


def test_rented_mules_and_shared_hubs_on_request() -> None:
    """人頭帳戶 rented from people with years of history, and laundering hubs that serve several
    rings: what a ledger of another generator (or a bank's) shows and a model should see."""
    kw = {"start": date(2024, 3, 1), "days": 45, "fraud_rings": 12}
    plain = generate(3000, 30_000, seed=5, **kw)
    varied = generate(3000, 30_000, seed=5, rented_share=1.0, reuse_share=0.6, **kw)
    opened = {a["id"]: a["opened"] for a in varied.accounts}
    fresh = {a["id"]: a["opened"] for a in plain.accounts}
    start = kw["start"]
    mules_plain = [m for p in plain.patterns for m in p.mules]
    mules_varied = [m for p in varied.patterns for m in p.mules]
    assert all((start - fresh[m]).days < 90 for m in mules_plain)  # recently opened
    assert all((start - opened[m]).days >= 30 for m in mules_varied)  # rented: kept their age
    assert sum((start - opened[m]).days >= 90 for m in mules_varied) > len(mules_varied) / 2

    def hubs_in_several(g: object) -> int:
        seen: dict[str, set[str]] = defaultdict(set)
        for p in g.patterns:  # type: ignore[attr-defined]
            for a in [*p.layer, *p.cashout]:
                seen[a].add(p.id)
        return sum(len(v) > 1 for v in seen.values())

    assert hubs_in_several(plain) == 0 and hubs_in_several(varied) >= 3
    assert all(varied.labels[a] is True for p in varied.patterns for a in p.fraud_accounts)
    with pytest.raises(ValueError, match="shares"):
        generate(3000, 30_000, seed=5, reuse_share=1.5, **kw)


def _paths(patterns: list) -> list:
    return [sorted({i for path in p.paths for i in path}) for p in patterns]


def test_generated_ledger_round_trips_through_the_database(tmp_path: Path, small: object) -> None:
    ledger = _ledger(tmp_path)
    counts = small.write_to(ledger)  # type: ignore[attr-defined]
    assert counts["transfers"] == 30_000
    assert ledger.counts()["fraud_accounts"] == sum(small.labels.values())  # type: ignore
    p = small.patterns[0]  # type: ignore[attr-defined]
    mule = ledger.account(p.mules[0])
    assert mule is not None and mule.is_fraud and mule.pattern == f"{p.id}:{p.kind}/mule"
    ins = ledger.transfers_in(p.mules[0])
    assert [x.ts for x in ins] == sorted(x.ts for x in ins)
    start = ins[len(ins) // 2].ts
    assert all(x.ts >= start for x in ledger.transfers_in(p.mules[0], since=start))
    arr = ledger.arrays()
    t = small.transfers  # type: ignore[attr-defined]
    assert np.array_equal(arr.ts, t.ts) and np.array_equal(arr.transfer_ids, t.id)
    assert np.array_equal(arr.account_ids[arr.src], t.from_account)
    with pytest.raises(AssistantError, match="duplicate"):
        small.write_to(ledger)  # type: ignore[attr-defined]
    assert ledger.counts()["transfers"] == 30_000


def test_generation_scales(tmp_path: Path) -> None:
    g = generate(20_000, 200_000, seed=1, start=date(2024, 1, 1), days=60, fraud_rings=20)
    t = g.transfers
    assert len(t) == 200_000 and len(set(t.id.tolist())) == 200_000
    assert t.ts.min() >= datetime(2024, 1, 1, tzinfo=UTC).timestamp() - 8 * 3600
    assert t.ts.max() < (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=60)).timestamp()
    # salaries arrive on paydays: the monthly rhythm shows in the daily counts of 網銀 from
    # employers; the weekly rhythm in P2P (fewer on Sundays than on Wednesdays)
    local_day = (t.ts + 8 * 3600) // 86400
    dow = (local_day + 3) % 7  # 1970-01-01 was a Thursday → Monday = 0
    p2p = (t.channel == "跨行") & (t.pattern == None)  # noqa: E711
    assert (p2p & (dow == 6)).sum() < (p2p & (dow == 2)).sum()
    ledger = _ledger(tmp_path)  # ≥ 100k: the load that drops and rebuilds the indexes
    g.write_to(ledger)
    names = {ix["name"] for ix in inspect(ledger.engine).get_indexes("fraud_transfer")}
    assert {"ix_fraud_transfer_to_ts", "ix_fraud_transfer_from_ts", "ix_fraud_transfer_ts"} <= names
    assert ledger.counts()["transfers"] == 200_000
    # the same transfers again: refused in the first chunk, after the indexes were dropped;
    # the rollback brings them back
    with pytest.raises(AssistantError, match="duplicate"):
        ledger.bulk_insert(transfers=t)
    after = {ix["name"] for ix in inspect(ledger.engine).get_indexes("fraud_transfer")}
    assert after == names and ledger.counts()["transfers"] == 200_000


def test_a_row_longer_than_the_header_is_reported_not_misread(tmp_path: Path) -> None:
    """An amount written 1,000 without quotes splits into two columns: the row is reported
    (its amount could be read as 1), while a trailing separator (an empty last cell) is fine."""
    path = tmp_path / "bare.csv"
    path.write_text(
        "交易時間,轉出帳號,轉入帳號,金額\n"
        "2024/05/01 10:00,A1,B1,1,000\n"  # line 2
        "2024/05/01 11:00,A1,B2,500,\n"
        '2024/05/01 12:00,A1,B3,"2,000"\n',
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, {})
    assert (report.added, [n for n, _ in report.errors]) == (2, [2])
    assert "more than the header" in report.errors[0][1]
    assert sorted(t.amount for t in ledger.transfers_out("A1")) == [500.0, 2000.0]


def test_an_export_in_pages_repeats_its_header_and_totals(tmp_path: Path) -> None:
    """An export printed in pages repeats the header and ends each page with a subtotal:
    those lines are counted as what they are, not reported as bad transfers."""
    path = tmp_path / "pages.csv"
    path.write_text(
        "交易時間,轉出帳號,轉入帳號,金額\n"
        "2024/05/01 10:00,A1,B1,100\n"
        "本頁小計,,,100\n"
        "交易時間,轉出帳號,轉入帳號,金額\n"
        "2024/05/01 11:00,A1,B2,200\n"
        "Total,,,300\n"
        "2024/05/01 12:00,A1,,50\n",  # line 7: a transfer without its payee is still bad
        encoding="utf-8",
    )
    ledger = _ledger(tmp_path)
    report = import_csv(ledger, path, {})
    assert (report.added, [n for n, _ in report.errors]) == (2, [7])
    assert report.omitted == {REPEATED_HEADER: 1, TOTAL_LINE: 2}
