"""A transfer list imported again, under another name, or overlapping one imported before adds
only what is new (on SQLite, and on PostgreSQL in the suite's PostgreSQL mode)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assistant.container import Container
from assistant.errors import AssistantError
from assistant.fraud.importers import IMPORTED_BEFORE, import_csv
from assistant.fraud.ledger import Ledger

HEADER = ["時間", "轉出帳號", "轉入帳號", "金額"]
MAP = {"ts": "時間", "from_account": "轉出帳號", "to_account": "轉入帳號", "amount": "金額"}
ROWS = [
    ["2024-05-01 09:00:00", "111", "222", "50000"],
    ["2024-05-01 09:00:00", "111", "222", "50000"],  # two alike: two transfers
    ["2024-05-01 10:00:00", "222", "CASH", "30000"],  # a withdrawal
    ["2024-05-02 11:00:00", "222", "333", "19000"],
]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def _count(ledger: Ledger) -> int:
    return ledger.counts()["transfers"]


def test_the_same_file_again_or_renamed_adds_nothing(fresh: Container, tmp_path: Path) -> None:
    ledger = Ledger(fresh.engine)
    first = import_csv(ledger, _write(tmp_path / "may.csv", ROWS), MAP)
    assert (first.added, first.cash, first.omitted) == (4, 1, {})
    again = import_csv(ledger, tmp_path / "may.csv", MAP)
    assert (again.added, again.cash, again.skipped) == (0, 0, 0)
    assert again.omitted == {IMPORTED_BEFORE: 4}
    renamed = import_csv(ledger, _write(tmp_path / "may (1).csv", ROWS), MAP)
    assert (renamed.added, renamed.omitted) == (0, {IMPORTED_BEFORE: 4})
    assert _count(ledger) == 4


def test_an_overlapping_export_adds_only_the_new_rows(fresh: Container, tmp_path: Path) -> None:
    ledger = Ledger(fresh.engine)
    import_csv(ledger, _write(tmp_path / "a.csv", ROWS[:3]), MAP)
    later = [*ROWS[2:], ["2024-05-03 08:00:00", "333", "444", "18000"]]
    report = import_csv(ledger, _write(tmp_path / "b.csv", later), MAP)
    assert (report.added, report.cash, report.omitted) == (2, 0, {IMPORTED_BEFORE: 1})
    assert _count(ledger) == 5


def test_identical_rows_are_counted_not_merged(fresh: Container, tmp_path: Path) -> None:
    """The ledger holding one of two identical transfers gets the second from a file of both;
    a row differing in time, amount or payee is another transfer."""
    ledger = Ledger(fresh.engine)
    import_csv(ledger, _write(tmp_path / "one.csv", ROWS[:1]), MAP)
    near = [
        ["2024-05-01 09:00:01", "111", "222", "50000"],
        ["2024-05-01 09:00:00", "111", "222", "50000.5"],
        ["2024-05-01 09:00:00", "111", "223", "50000"],
    ]
    report = import_csv(ledger, _write(tmp_path / "both.csv", ROWS[:2] + near), MAP)
    assert (report.added, report.omitted) == (4, {IMPORTED_BEFORE: 1})
    assert _count(ledger) == 5


def test_a_file_edited_and_imported_again_under_its_name(fresh: Container, tmp_path: Path) -> None:
    """A row put between old ones moves the lines below it: its made-up id (``may:3``) is the
    id of another stored transfer, so it gets a free one; the moved rows are recognised as
    imported before, and every transfer keeps its own id."""
    ledger = Ledger(fresh.engine)
    import_csv(ledger, _write(tmp_path / "may.csv", ROWS), MAP)
    new = ["2024-05-01 09:30:00", "111", "555", "7000"]
    edited = [*ROWS[:2], new, *ROWS[2:]]
    report = import_csv(ledger, _write(tmp_path / "may.csv", edited), MAP)
    assert (report.added, report.skipped, report.omitted) == (1, 0, {IMPORTED_BEFORE: 4})
    with fresh.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, to_account FROM fraud_transfer ORDER BY id"
        ).fetchall()
    assert len(rows) == 5 and len({r[0] for r in rows}) == 5
    assert dict(rows)["may:4~2"] == "555"  # line 4 of the edited file (line 1 the header)
    # the same edit again: nothing new, and no third name for it
    again = import_csv(ledger, _write(tmp_path / "may.csv", edited), MAP)
    assert (again.added, again.omitted) == (0, {IMPORTED_BEFORE: 5})


def test_an_id_the_file_gives_is_still_a_conflict(fresh: Container, tmp_path: Path) -> None:
    """Only ids the import made up are renamed: a bank's own transaction id given to another
    transfer refuses the file, and the ledger keeps what it had."""
    ledger = Ledger(fresh.engine)
    header = [*HEADER, "交易序號"]
    mapping = {**MAP, "id": "交易序號"}
    path = tmp_path / "ids.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, [*ROWS[0], "T1"]])
    import_csv(ledger, path, mapping)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, ["2024-05-09 09:00:00", "111", "999", "1000", "T1"]])
    with pytest.raises(AssistantError, match="重複"):
        import_csv(ledger, path, mapping)
    assert _count(ledger) == 1
