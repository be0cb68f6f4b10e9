"""Importers into the ledger: IBM AMLSim output and a generic transfer CSV.

Nothing is guessed: a row that does not fit is reported with its line number and reason and
left out; a file or folder not in the expected shape at all is refused before anything is
written; the write is one transaction, so a failure part-way (a transfer id already in the
ledger) leaves the ledger as it was.

AMLSim timestamps: a transfer at step ``s`` happens on day ``base + s`` (``base`` default
2024-01-01, so step 0 is that day), Taiwan time; the transfers of one step are spread evenly
over 09:00–21:00 in file order (the k-th of n at 09:00 + k × 12 h / n), then stored as UTC.
Node ``n`` becomes account ``AML{n:08d}`` in bank ``AMLSIM_BANKS[n % 5]``; transfer on data
line ``L`` (the header is line 1) gets id ``AMLT{L:07d}``; a transfer between banks has channel
跨行, within one bank 網銀. Fraud nodes get ``is_fraud`` True and ``pattern`` ``"amlsim:fan_in"``
(the output names the pattern type, not which pattern a node belongs to).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fraud.generator import BANKS
from assistant.fraud.ledger import Ledger, normalize_account

TAIPEI = timezone(timedelta(hours=8))
AMLSIM_BANKS = ("004", "007", "008", "013", "822")
NODES_HEADER = ("nodeid", "isFraud", "init_balance", "fraudStep")
TX_HEADER = ("sourceNodeId", "targetNodeId", "value", "time")
FIELDS = ("id", "ts", "from_account", "to_account", "amount", "currency", "channel")
FIELDS += ("from_bank", "to_bank", "memo")
MEMO_CHARS = 200  # longer notes are cut: a memo is a line, not a document
REQUIRED = ("ts", "from_account", "to_account", "amount")


@dataclass
class ImportReport:
    """``rows``: data rows read; ``added``: transfers written; ``skipped``: rows left out,
    each with its (line, reason) in ``errors``. ``accounts``: accounts added."""

    path: str
    rows: int = 0
    added: int = 0
    skipped: int = 0
    accounts: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def bad(self, line: int, reason: str) -> None:
        self.errors.append((line, reason))
        self.skipped += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "added": self.added,
            "skipped": self.skipped,
            "accounts": self.accounts,
            "errors": [{"line": n, "reason": r} for n, r in self.errors],
        }


def _read_csv(path: Path, header: tuple[str, ...] | None, what: str) -> list[list[str]]:
    if not path.is_file():
        raise AssistantError(f"找不到檔案 / no such file: {path}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AssistantError(
            f"{path.name} 不是 UTF-8 編碼 / not UTF-8: {exc.reason} at byte {exc.start}"
        ) from exc
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise AssistantError(f"{path.name} 是空檔 / empty file; nothing was imported")
    if header is not None and tuple(h.strip() for h in rows[0]) != header:
        raise AssistantError(
            f"{path.name} 不是 {what} 格式（第 1 行應為 {','.join(header)}） / not {what}: line 1 "
            f"must be {','.join(header)}; nothing was imported"
        )
    return rows


def _amount(raw: str) -> float:
    text = raw.strip().replace(",", "").removeprefix("NT$").removeprefix("$")
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError
    return value


def _bank_rows(codes: set[str]) -> list[dict[str, Any]]:
    return [{"code": c, "name": BANKS.get(c, ("", 0))[0]} for c in sorted(codes) if c]


def import_amlsim(ledger: Ledger, folder: Path, *, base: date = date(2024, 1, 1)) -> ImportReport:
    folder = Path(folder)
    if not folder.is_dir():
        raise AssistantError(f"找不到資料夾 / no such folder: {folder}")
    nodes = _read_csv(folder / "nodes.csv", NODES_HEADER, "AMLSim nodes.csv")
    txs = _read_csv(folder / "transactions.csv", TX_HEADER, "AMLSim transactions.csv")
    report = ImportReport(path=str(folder))
    accounts: dict[int, dict[str, Any]] = {}
    for n, row in enumerate(nodes[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 4:
            report.errors.append((n, f"nodes.csv: 欄位數 {len(row)}，應為 4 / wrong column count"))
            continue
        node_raw, fraud = row[0].strip(), row[1].strip()
        if not node_raw.isdigit() or fraud not in ("0", "1"):
            report.errors.append(
                (n, f"nodes.csv: nodeid 或 isFraud 錯誤 / bad nodeid or isFraud: {row[:2]}")
            )
            continue
        node = int(node_raw)
        if node in accounts:
            report.errors.append((n, f"nodes.csv: 重複的 nodeid / duplicate nodeid {node}"))
            continue
        accounts[node] = {
            "id": f"AML{node:08d}",
            "bank_code": AMLSIM_BANKS[node % len(AMLSIM_BANKS)],
            "holder_ref": f"amlsim:{node}",
            "is_fraud": fraud == "1",
            "pattern": "amlsim:fan_in" if fraud == "1" else None,
        }
    parsed: list[tuple[int, int, int, float, int]] = []  # (line, src, dst, amount, step)
    for n, row in enumerate(txs[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        report.rows += 1
        if len(row) != 4:
            report.bad(n, f"欄位數 {len(row)}，應為 4 / wrong column count {len(row)}, expected 4")
            continue
        try:
            src, dst = int(row[0]), int(row[1])
        except ValueError:
            report.bad(n, f"帳戶編號不是整數 / node id not an integer: {row[0]!r}, {row[1]!r}")
            continue
        try:
            amount = _amount(row[2])
        except ValueError:
            report.bad(n, f"金額錯誤 / bad amount {row[2].strip()!r}")
            continue
        try:
            step = int(row[3])
            if step < 0:
                raise ValueError
        except ValueError:
            report.bad(n, f"時間步錯誤 / bad time step {row[3].strip()!r}")
            continue
        missing = [x for x in (src, dst) if x not in accounts]
        if missing:
            report.bad(n, f"nodes.csv 沒有帳戶 {missing} / unknown node(s) {missing}")
            continue
        parsed.append((n, src, dst, amount, step))
    per_step: dict[int, int] = {}
    for *_, step in parsed:
        per_step[step] = per_step.get(step, 0) + 1
    seen: dict[int, int] = {}
    day0 = datetime(base.year, base.month, base.day, 9, tzinfo=TAIPEI)
    transfers = []
    for n, src, dst, amount, step in parsed:
        k = seen.get(step, 0)
        seen[step] = k + 1
        local = day0 + timedelta(days=step, seconds=(12 * 3600 * k) // per_step[step])
        fb, tb = accounts[src]["bank_code"], accounts[dst]["bank_code"]
        transfers.append(
            {
                "id": f"AMLT{n:07d}",
                "ts": local.astimezone(UTC).replace(tzinfo=None),
                "from_account": accounts[src]["id"],
                "to_account": accounts[dst]["id"],
                "amount": amount,
                "channel": "跨行" if fb != tb else "網銀",
                "from_bank": fb,
                "to_bank": tb,
            }
        )
    report.skipped = len(report.errors)
    existing = ledger.existing_ids("account", (a["id"] for a in accounts.values()))
    new_accounts = [a for a in accounts.values() if a["id"] not in existing]
    counts = ledger.bulk_insert(_bank_rows(set(AMLSIM_BANKS)), new_accounts, transfers)
    report.added, report.accounts = counts["transfers"], counts["accounts"]
    return report


def import_csv(
    ledger: Ledger,
    path: Path,
    mapping: dict[str, str],
    *,
    default_currency: str = "TWD",
    date_format: str | None = None,
    tz: timezone = TAIPEI,
) -> ImportReport:
    """A transfer CSV with a header line. ``mapping``: our field → their column name; fields
    ``ts``, ``from_account``, ``to_account`` and ``amount`` are required, ``id``, ``currency``,
    ``channel``, ``from_bank``, ``to_bank`` and ``memo`` optional (without ``id`` a transfer gets
    ``"<file stem>:<line>"``). Times without a zone are read in ``tz`` (Taiwan time) and
    stored as UTC; ``date_format`` is a ``strptime`` format, else ISO 8601 (also with ``/``).
    Accounts met for the first time are added with the bank given on the row."""
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise AssistantError(
            f"未知欄位 {unknown}，可用 {', '.join(FIELDS)} / unknown field(s) {unknown}"
        )
    lacking = [f for f in REQUIRED if f not in mapping]
    if lacking:
        raise AssistantError(f"欄位對應缺少 {lacking} / mapping lacks required field(s) {lacking}")
    path = Path(path)
    rows = _read_csv(path, None, "CSV")
    header = [h.strip() for h in rows[0]]
    absent = [c for c in mapping.values() if c not in header]
    if absent:
        raise AssistantError(
            f"{path.name} 沒有欄位 {absent} / columns {absent} not in the header; nothing was "
            "imported"
        )
    col = {f: header.index(c) for f, c in mapping.items()}
    report = ImportReport(path=str(path))
    transfers: list[dict[str, Any]] = []
    banks: dict[str, str] = {}
    ids: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        report.rows += 1
        if len(row) < len(header):
            report.bad(n, f"欄位數 {len(row)}，應為 {len(header)} / too few columns")
            continue
        get = {f: row[i].strip() for f, i in col.items()}
        try:
            ts = _when(get["ts"], date_format, tz)
        except ValueError:
            report.bad(n, f"時間錯誤 / bad time {get['ts']!r}")
            continue
        try:
            frm, to = normalize_account(get["from_account"]), normalize_account(get["to_account"])
        except AssistantError as exc:
            report.bad(n, str(exc))
            continue
        try:
            amount = _amount(get["amount"])
        except ValueError:
            report.bad(n, f"金額錯誤 / bad amount {get['amount']!r}")
            continue
        tid = get.get("id") or f"{path.stem}:{n}"
        if tid in ids:
            report.bad(n, f"交易編號與第 {ids[tid]} 行重複 / id {tid!r} repeats line {ids[tid]}")
            continue
        fb, tb = get.get("from_bank", ""), get.get("to_bank", "")
        if any(b and not (b.isdigit() and len(b) == 3) for b in (fb, tb)):
            report.bad(n, f"銀行代碼應為 3 位數字 / bank code must be 3 digits: {fb!r}, {tb!r}")
            continue
        ids[tid] = n
        banks.setdefault(frm, fb)
        banks.setdefault(to, tb)
        transfers.append(
            {
                "id": tid,
                "ts": ts,
                "from_account": frm,
                "to_account": to,
                "amount": amount,
                "currency": (get.get("currency") or default_currency).upper(),
                "channel": get.get("channel", "") or ("跨行" if fb and tb and fb != tb else ""),
                "from_bank": fb,
                "to_bank": tb,
                "memo": (get.get("memo") or "").strip()[:MEMO_CHARS] or None,
            }
        )
    existing = ledger.existing_ids("account", banks)
    accounts = [{"id": a, "bank_code": b} for a, b in banks.items() if a not in existing]
    counts = ledger.bulk_insert(_bank_rows(set(banks.values())), accounts, transfers)
    report.added, report.accounts = counts["transfers"], counts["accounts"]
    return report


def _when(raw: str, date_format: str | None, tz: timezone) -> datetime:
    if date_format:
        value = datetime.strptime(raw, date_format)
    else:
        value = datetime.fromisoformat(raw.replace("/", "-"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC).replace(tzinfo=None)
