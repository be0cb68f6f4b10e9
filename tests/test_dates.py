"""Times as Taiwanese bank exports write them: ROC years, no separators, a 12-hour clock."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from assistant.dates import parse_date, parse_datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("113年05月01日 上午 09:15:02", datetime(2024, 5, 1, 9, 15, 2)),
        ("2024年5月1日 下午 03:20:11", datetime(2024, 5, 1, 15, 20, 11)),
        ("2024/5/2 下午 3:05", datetime(2024, 5, 2, 15, 5)),
        ("2024/5/2 上午9:15", datetime(2024, 5, 2, 9, 15)),
        ("2024/5/2 上午 12:05", datetime(2024, 5, 2, 0, 5)),  # half past midnight
        ("2024/5/2 下午 12:05", datetime(2024, 5, 2, 12, 5)),  # noon stays noon
        ("2024/5/2 下午 15:20", datetime(2024, 5, 2, 15, 20)),  # a 24-hour time kept
        ("2024/5/2 3:05 PM", datetime(2024, 5, 2, 15, 5)),
        ("2024/5/2 12:05 a.m.", datetime(2024, 5, 2, 0, 5)),
        ("1130501 091502", datetime(2024, 5, 1, 9, 15, 2)),  # ROC, no separators
        ("20240501 0915", datetime(2024, 5, 1, 9, 15)),
        ("民國113/01/05 09:30", datetime(2024, 1, 5, 9, 30)),
        ("2024-05-01 09:15:02.5", datetime(2024, 5, 1, 9, 15, 2, 500000)),
    ],
)
def test_datetimes_as_exports_write_them(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


def test_compact_dates() -> None:
    assert parse_date("1130501") == date(2024, 5, 1)
    assert parse_date("20240501") == date(2024, 5, 1)
    assert parse_date("０９９１２３１") == date(2010, 12, 31)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2024/5/2 9", "not a time of day"),
        ("2024/5/2 下午", "not a time of day"),
        ("2024/5/2 中午 12:00", "not a time of day"),
        ("2024/5/2 25:00", "no such time"),
        ("1131301", "no such date"),
        ("11305", "not a date"),
    ],
)
def test_what_is_not_a_time_is_refused_with_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_datetime(text)


def test_a_taiwanese_export_with_a_title_and_a_12_hour_clock_imports(tmp_path: Path) -> None:
    from assistant.fraud.importers import import_csv
    from assistant.fraud.ledger import Ledger
    from assistant.schema import open_engine

    f = tmp_path / "明細.csv"
    f.write_text(
        "某銀行 交易明細查詢\n查詢期間：113/05/01 ~ 113/05/31\n"
        "交易日期,交易時間,轉出帳號,轉入帳號,交易金額,摘要\n"
        '113/05/01,上午 09:15:02,0041234567890,8129876543210,"50,000",網銀轉帳\n'
        '1130501,下午 03:20:11,8129876543210,0071112223334,"49,000",ATM轉帳\n',
        encoding="utf-8",
    )
    ledger = Ledger(open_engine(f"sqlite:///{tmp_path / 'l.db'}"))
    report = import_csv(ledger, f, {})
    assert (report.added, report.skipped) == (2, 0)
    with ledger.engine.connect() as conn:
        ts = [r[0] for r in conn.exec_driver_sql("SELECT ts FROM fraud_transfer ORDER BY ts")]
    # stored in UTC: 09:15 and 15:20 Taiwan time
    assert [str(t)[:19] for t in ts] == ["2024-05-01 01:15:02", "2024-05-01 07:20:11"]
