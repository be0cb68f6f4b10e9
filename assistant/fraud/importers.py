"""Importers into the ledger: IBM AMLSim output, AMLGentex output and a generic transfer CSV.

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
(the output names the pattern type, not which pattern a node belongs to). Cash: AMLSim-style
outputs mark money from outside the bank with a source node and money leaving it with a sink
node, written as negative node ids (``-2`` source, ``-1`` sink, the convention AMLGentex keeps);
a transaction from one is a deposit (``cash_in`` from ``CASH<bank>``), to one a withdrawal
(``cash_out``). The shared fan-in sample has none.

AMLGentex (``import_amlgentex``): its transaction log (``tx_log.parquet``, or the same columns
as CSV, which ``make amlgentex`` writes), one row per transaction with ``step``, ``type``
(``TRANSFER``, ``CASH``, ``INITALBALANCE``), ``amount``, ``nameOrig`` / ``nameDest`` (account
numbers; ``-2`` the source and ``-1`` the sink outside the bank), ``bankOrig`` / ``bankDest``
(bank names), ``isSAR``, ``patternID`` (the laundering pattern's instance, ``-1`` none) and
``modelType`` (its type: 1 fan-out, 2 fan-in, 3 cycle, 4 bipartite, 5 stack, 6 random,
7 scatter-gather, 8 gather-scatter). ``CASH`` from the source is a deposit, to the sink a
withdrawal; a ``TRANSFER`` from the source or to the sink (salaries in, bills out) is a transfer
with the unnamed ``OUTSIDE`` party; ``INITALBALANCE`` rows are the simulation's opening balances,
not events, and are counted in ``omitted``. Account ``n`` becomes ``AGX{n:08d}``, bank names map
in sorted order onto ``AMLGENTEX_BANKS``, times as for AMLSim. An account is fraud if it takes
part in a SAR transaction; its ``pattern`` is ``amlgentex:<type>:<patternID>`` of the first.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from assistant.dates import TAIPEI, parse_datetime
from assistant.errors import AssistantError
from assistant.fraud import workbook
from assistant.fraud.column_names import (
    SIDES,
    STATEMENT_NAMES,
    columns,
    guess,
    try_guess,
    unique_header,
)
from assistant.fraud.column_names import TRANSFER_NAMES as NAMES
from assistant.fraud.currencies import UNNAMED, Rates, currency_of, unnamed_note
from assistant.fraud.generator import BANKS
from assistant.fraud.ledger import Ledger, bank_prefix, normalize_account
from assistant.fraud.records import (
    BANK_CODE_RULE,
    KINDS,
    OUTSIDE_ACCOUNT,
    cash_account,
    is_bank_code,
    is_reserved,
)
from assistant.fraud.workbook import Unreadable
from assistant.textfiles import delimiter, first_line, open_text, parse_amount, read_text

AMLSIM_BANKS = ("004", "007", "008", "013", "822")
NODES_HEADER = ("nodeid", "isFraud", "init_balance", "fraudStep")
TX_HEADER = ("sourceNodeId", "targetNodeId", "value", "time")
FIELDS = ("id", "ts", "from_account", "to_account", "amount", "currency", "channel")
FIELDS += ("from_bank", "to_bank", "memo", "kind", "place", "label", "typology")
# A label column's words for "not laundering" (and empty); anything else marks the transfer,
# its value kept as the pattern's name unless it is a plain yes.
LABEL_NO = {"0", "0.0", "false", "f", "no", "n", "否", "無", "正常", "none", "normal"}
LABEL_YES = {"1", "1.0", "true", "t", "yes", "y", "是", "有", "sar"}
MEMO_CHARS = 200  # longer notes are cut: a memo is a line, not a document
REQUIRED = ("ts", "from_account", "to_account", "amount")
SOURCE_NODE, SINK_NODE = -2, -1
AMLGENTEX_BANKS = ("004", "005", "006", "007", "008", "009", "012", "013", "017", "700", "808")
AMLGENTEX_BANKS += ("822",)
AMLGENTEX_COLUMNS = ("step", "type", "amount", "nameOrig", "nameDest", "bankOrig", "bankDest")
AMLGENTEX_COLUMNS += ("isSAR", "patternID", "modelType")
AMLGENTEX_TYPES = {
    1: "fan_out",
    2: "fan_in",
    3: "cycle",
    4: "bipartite",
    5: "stack",
    6: "random",
    7: "scatter_gather",
    8: "gather_scatter",
}
# What a kind column says, folded (lower case; spaces, underscores and hyphens dropped). Exports
# name the kind of a row in a payment-type column (Payment_type, Payment Format, type) whose
# other words (ACH, Cheque, Wire, PAYMENT …) are transfers by one means or another.
KIND_WORDS = {
    "transfer": "transfer",
    "轉帳": "transfer",
    "匯款": "transfer",
    "cashin": "cash_in",
    "deposit": "cash_in",
    "cashdeposit": "cash_in",
    "存款": "cash_in",
    "存入": "cash_in",
    "現金存款": "cash_in",
    "現金存入": "cash_in",
    "cashout": "cash_out",
    "withdrawal": "cash_out",
    "cashwithdrawal": "cash_out",
    "提款": "cash_out",
    "提領": "cash_out",
    "現金提款": "cash_out",
    "現金提領": "cash_out",
    "取款": "cash_out",
    "atm提款": "cash_out",
    "臨櫃提款": "cash_out",
    "無卡提款": "cash_out",
    "atm存款": "cash_in",
    "臨櫃存款": "cash_in",
    # Cash without a direction: the row's accounts tell it (``read_kind``).
    "cash": "cash",
    "現金": "cash",
}
OTHER_KIND = "交易種類 {word} 讀作轉帳 / kind {word} read as a transfer"
OTHER_KINDS = "交易種類 其他 讀作轉帳 / kind (other words) read as a transfer"
MAX_KIND_WORDS = 10
IMPORTED_BEFORE = (
    "已在帳務中（同一時間、帳戶與金額的交易，或存摺明細同日、同帳戶、同金額的一筆，先前已匯入） / "
    "already in the ledger (a transfer of the same time, accounts and amount, or a statement's "
    "entry of the same day, accounts and amount, imported before)"
)
REPEATED_HEADER = "重複的標題列（分頁匯出） / the header repeated (an export in pages)"
TOTAL_LINE = "小計或合計列 / a subtotal or total line"
# the first cell of a total line: 小計, 本頁合計, 總計：, Total, Subtotal, Grand total
_TOTAL = re.compile(r"^(本頁|本期|當日|每日)?(小計|合計|總計|總額)|^(grand\s*)?(sub)?total\b", re.I)
CASH_BETWEEN = "兩個帳戶間的現金交易記為轉帳 / a cash row between two accounts kept as a transfer"
CASH_BY_PARTY = "對方為現金帳戶（CASH），讀作現金存提 / the other side is CASH: read as a cash deposit or withdrawal"
CASH_BY_MEMO = "未註明種類，依摘要讀作現金存提 / no kind given: read as cash from the memo"
# what a memo or a statement's summary says of cash (a withdrawal, a deposit)
CASH_OUT_WORDS = re.compile(r"提款|提領|領現|現金支出|現金提|cash withdrawal", re.IGNORECASE)
CASH_IN_WORDS = re.compile(r"現金存|存現|現金存款|現存|cash deposit", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _kind_key(word: str) -> str:
    # asked on every row of an import: a file holds a handful of words
    return re.sub(r"[\s_\-]+", "", word or "").lower() or "transfer"


def kind_of(word: str) -> str | None:
    """The ledger kind a word names on its own (transfer, cash_in, cash_out), or None: a word
    not known, or cash without its direction (a feed names the kind, not a guess)."""
    kind = KIND_WORDS.get(_kind_key(word))
    return kind if kind in KINDS else None


def _account(raw: str) -> str:
    return normalize_account(raw) if raw.strip() else ""


def _is_cash(account: str) -> bool:
    """A bank's CASH account (``CASH``, ``CASH822``), not the OUTSIDE party."""
    return bool(account) and account != OUTSIDE_ACCOUNT and is_reserved(account)


def _cash_by_party(frm_raw: str, to_raw: str) -> str | None:
    """cash_out for a customer paying a CASH account, cash_in for CASH paying a customer:
    the only reading such a row has (None: neither)."""
    frm, to = _account(frm_raw), _account(to_raw)
    if _is_cash(to) and frm and not is_reserved(frm):
        return "cash_out"
    if _is_cash(frm) and to and not is_reserved(to):
        return "cash_in"
    return None


def _cash_by_memo(frm_raw: str, to_raw: str, memo: str) -> str | None:
    """The kind of a row of one account whose memo says cash (ATM提款 from the payer, 現金存款
    to the payee); None where the memo says nothing of cash or the other way round."""
    frm, to = _account(frm_raw), _account(to_raw)
    if frm and not to and not is_reserved(frm) and CASH_OUT_WORDS.search(memo):
        return "cash_out"
    if to and not frm and not is_reserved(to) and CASH_IN_WORDS.search(memo):
        return "cash_in"
    return None


def read_kind(word: str, frm_raw: str, to_raw: str, memo: str = "") -> tuple[str, str | None]:
    """The ledger kind of a row from its kind column and its accounts, with the caveat the
    import report counts (None: none). A deposit names the customer in ``to`` (or in both
    columns, as payment-type exports write a cash row of one account); a withdrawal in
    ``from``. Cash naming two different accounts moved money between them: a transfer. Any
    word that is not cash is a transfer by that means (ACH, Cheque, Wire …), unless the
    other side is a bank's CASH account; with no word at all, a row of one account whose memo
    says cash (ATM提款) is that cash."""
    kind = KIND_WORDS.get(_kind_key(word))
    if kind is None:
        if not (frm_raw.strip() and to_raw.strip()):
            # One account and a word we do not know: a cash row mistyped, not a transfer.
            raise AssistantError(
                f"交易種類不明 / unknown kind {word!r} on a row of one account (use "
                f"{', '.join(KINDS)}, 存款 or 提款)"
            )
        if by_party := _cash_by_party(frm_raw, to_raw):
            return by_party, CASH_BY_PARTY
        return "transfer", OTHER_KIND.format(word=word.strip()[:40])
    if kind == "transfer":
        if by_party := _cash_by_party(frm_raw, to_raw):
            return by_party, CASH_BY_PARTY
        if not word.strip() and (by_memo := _cash_by_memo(frm_raw, to_raw, memo)):
            return by_memo, CASH_BY_MEMO
        return kind, None
    frm = normalize_account(frm_raw) if frm_raw.strip() else ""
    to = normalize_account(to_raw) if to_raw.strip() else ""
    frm, to = ("" if is_reserved(frm) else frm), ("" if is_reserved(to) else to)
    if frm and to and frm != to:
        return "transfer", CASH_BETWEEN
    if kind == "cash":
        if frm == to:
            raise AssistantError(
                f"現金交易方向不明 / cash {word!r} on one account without saying deposit or "
                "withdrawal: mark it 存款 (cash_in) or 提款 (cash_out)"
            )
        kind = "cash_in" if to else "cash_out"
    return kind, None


OTHER_CURRENCIES = "幣別 其他無法辨識者記為 XXX / other unrecognised currencies kept as XXX"
NO_RATE = (
    "{cur} 當日無匯率，金額未換算為新臺幣（可匯入牌告匯率或以 --rate {cur}=… 指定） / no rate for "
    "{cur} on the day: amounts kept in {cur} (import the board rates, or give --rate {cur}=…)"
)
UNNAMED_NOTE = unnamed_note("")[:3]  # the family's first words: "幣別 " …


def note_word(report: ImportReport, caveat: str, family: str, overflow: str) -> None:
    """Count a row's caveat in the report; a caveat naming a word of a free-text column (a
    kind, a currency) is listed for the first ``MAX_KIND_WORDS`` words, the rest together."""
    if caveat not in report.noted and caveat.startswith(family):
        others = sum(1 for k in report.noted if k.startswith(family) and k != overflow)
        caveat = overflow if others >= MAX_KIND_WORDS else caveat
    report.noted[caveat] = report.noted.get(caveat, 0) + 1


PLACE_CHARS = 64


@dataclass
class ImportReport:
    """``rows``: data rows read; ``added``: ledger rows written (``cash`` of them deposits and
    withdrawals); ``skipped``: bad rows left out, each with its (line, reason) in ``errors``;
    ``omitted``: rows that are not events (e.g. a simulation's opening balances), counted by
    reason; ``noted``: rows imported with a caveat (a transfer tied to the unnamed outside
    party), counted by caveat; ``accounts``: accounts added."""

    path: str
    rows: int = 0
    added: int = 0
    skipped: int = 0
    accounts: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    cash: int = 0  # of ``added``: deposits and withdrawals
    omitted: dict[str, int] = field(default_factory=dict)  # rows left out by rule, by reason
    noted: dict[str, int] = field(default_factory=dict)  # rows imported with a caveat, by caveat
    mapping: dict[str, str] = field(default_factory=dict)  # our field → the column read
    labelled: dict[str, int] = field(default_factory=dict)  # accounts labelled, fraud / normal
    time: str = ""  # how the time column was read, when not as written (steps from a start)
    # rows kept per currency as the file gave it (a statement's before matching the other
    # party's), and of them those stored in NT$ at the rate of their day
    currencies: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)

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
            "cash": self.cash,
            "omitted": dict(self.omitted),
            **({"noted": dict(self.noted)} if self.noted else {}),
            **({"mapping": dict(self.mapping)} if self.mapping else {}),
            **({"labelled": dict(self.labelled)} if self.labelled else {}),
            **({"time": self.time} if self.time else {}),
            **({"currencies": dict(self.currencies)} if set(self.currencies) - {"TWD"} else {}),
            **({"converted": dict(self.converted)} if self.converted else {}),
            "errors": [{"line": n, "reason": r} for n, r in self.errors],
        }


def _read_csv(path: Path, header: tuple[str, ...] | None, what: str) -> list[list[str]]:
    """The rows of a table: UTF-8 or Big5, its separator (comma, tab, semicolon, bar) told
    from the header line."""
    if not path.is_file():
        raise AssistantError(f"找不到檔案 / no such file: {path}")
    text = read_text(path)
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter(first_line(text))))
    if not rows:
        raise AssistantError(f"{path.name} 是空檔 / empty file; nothing was imported")
    if header is not None and tuple(h.strip() for h in rows[0]) != header:
        raise AssistantError(
            f"{path.name} 不是 {what} 格式（第 1 行應為 {','.join(header)}） / not {what}: line 1 "
            f"must be {','.join(header)}; nothing was imported"
        )
    return rows


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
            amount = parse_amount(row[2])
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
        if src < 0 and dst < 0:
            report.bad(n, f"來源與去向都不是帳戶 / neither end is an account: {src}, {dst}")
            continue
        missing = [x for x in (src, dst) if x >= 0 and x not in accounts]
        missing += [x for x in (src, dst) if x < 0 and x not in (SOURCE_NODE, SINK_NODE)]
        if missing:
            report.bad(n, f"nodes.csv 沒有帳戶 {missing} / unknown node(s) {missing}")
            continue
        parsed.append((n, src, dst, amount, step))
    times = _step_times([p[-1] for p in parsed], base)
    transfers = []
    for (n, src, dst, amount, step), ts in zip(parsed, times, strict=True):
        del step
        if src < 0 or dst < 0:
            own = accounts[dst if src < 0 else src]
            row = cash_row(f"AMLT{n:07d}", ts, own["id"], own["bank_code"], amount, src < 0)
        else:
            fb, tb = accounts[src]["bank_code"], accounts[dst]["bank_code"]
            row = {
                "id": f"AMLT{n:07d}",
                "ts": ts,
                "from_account": accounts[src]["id"],
                "to_account": accounts[dst]["id"],
                "amount": amount,
                "channel": "跨行" if fb != tb else "網銀",
                "from_bank": fb,
                "to_bank": tb,
            }
        transfers.append(row)
    report.skipped = len(report.errors)
    existing = ledger.existing_ids("account", (a["id"] for a in accounts.values()))
    new_accounts = [a for a in accounts.values() if a["id"] not in existing]
    counts = ledger.bulk_insert(_bank_rows(set(AMLSIM_BANKS)), new_accounts, transfers)
    report.added, report.accounts = counts["transfers"], counts["accounts"]
    report.cash = sum(t.get("kind", "transfer") != "transfer" for t in transfers)
    return report


def _step_times(steps: list[int], base: date) -> list[datetime]:
    """Naive UTC times for simulation steps: day ``base + step``, the k-th of a step's n rows at
    09:00 + k × 12 h / n Taiwan time (see the module docstring)."""
    per_step: dict[int, int] = {}
    for step in steps:
        per_step[step] = per_step.get(step, 0) + 1
    seen: dict[int, int] = {}
    day0 = datetime(base.year, base.month, base.day, 9, tzinfo=TAIPEI)
    out = []
    for step in steps:
        k = seen.get(step, 0)
        seen[step] = k + 1
        local = day0 + timedelta(days=step, seconds=(12 * 3600 * k) // per_step[step])
        out.append(local.astimezone(UTC).replace(tzinfo=None))
    return out


def cash_row(
    tid: str,
    ts: datetime,
    account: str,
    bank: str,
    amount: float,
    deposit: bool,
    channel: str = "",
    place: str | None = None,
) -> dict[str, Any]:
    """A deposit (``deposit``: from the bank's CASH account) or a withdrawal (to it)."""
    cash = cash_account(bank)
    return {
        "id": tid,
        "ts": ts,
        "from_account": cash if deposit else account,
        "to_account": account if deposit else cash,
        "amount": amount,
        "channel": channel,
        "from_bank": bank,
        "to_bank": bank,
        "kind": "cash_in" if deposit else "cash_out",
        "place": place,
    }


def import_csv(
    ledger: Ledger,
    path: Path,
    mapping: dict[str, str],
    *,
    default_currency: str = "TWD",
    date_format: str | None = None,
    tz: timezone = TAIPEI,
    progress: Callable[[int], None] | None = None,
    batch: int = 50_000,
    sheet: str | None = None,
    steps: Steps | None = None,
    rates: Rates | None = None,
) -> ImportReport:
    """A transfer CSV with a header line (or a Parquet file, or an Excel workbook: ``sheet``,
    else the first sheet holding the mapped columns; see ``workbook``). ``mapping``: our field
    → their column name; fields ``ts``, ``from_account``, ``to_account`` and ``amount`` are
    required, ``id``, ``currency``, ``channel``, ``from_bank``, ``to_bank``, ``memo``, ``kind``,
    ``place`` and ``label`` optional (without ``id`` a transfer gets ``"<file stem>:<line>"``);
    a field the mapping leaves out is told from the header's names (``column_names``), one
    given no column (``field=""``) is not read. ``label``: the column that marks laundering
    transfers; every account of a labelled file is labelled (``Ledger.label``). ``kind``
    names the column that tells a cash deposit or withdrawal from a transfer (``read_kind``:
    transfer / 轉帳, cash_in / deposit / 存款 / Cash Deposit, cash_out / withdrawal / 提款 …;
    empty means transfer, another word on a row of two accounts a transfer, counted in
    ``noted``); a cash row names the customer's account (to_account of a deposit, from_account
    of a withdrawal), its other account column empty, a reserved CASH account or the same
    account, and its bank is that account's bank.
    ``place``: where the cash moved (branch, ATM), kept up to 64 characters. Times without a
    zone are read in ``tz`` (Taiwan time) and stored as UTC; ``date_format`` is a ``strptime``
    format, else ISO 8601 or a date as staff write it with an optional time (民國 113/01/05
    09:30, 2024/1/5 9:30; ``parse_datetime``). Accounts met for the first time are added with
    the bank given on the row.

    ``steps``: the time column counts steps (hours, days …) from a start, as simulators write
    it (``step``); without ``ts`` in the mapping a column named step is read. ``rates``: an
    amount in another currency is stored in NT$ at the rate of its day, with the file's
    amount and currency kept (``orig_amount``, ``orig_currency``); without a rate it stays in
    its currency, counted in the report.

    The file is read row by row and written ``batch`` rows at a time inside one transaction:
    memory stays bounded whatever the file's size, and the load is still whole or nothing.
    ``progress`` is told the rows read after each batch."""
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise AssistantError(
            f"未知欄位 {unknown}，可用 {', '.join(FIELDS)} / unknown field(s) {unknown}"
        )
    report = ImportReport(path=str(path))
    # What is not given is told from the header (``column_names``); what is given stands, and
    # a field given no column (``field=``) is not read.
    given, mapping = mapping, {f: c for f, c in mapping.items() if c}
    complete = all(f in mapping for f in REQUIRED)
    names = {**NAMES, "ts": NAMES["ts"] + STEP_NAMES} if steps else NAMES
    fits: Fits = (
        fits_mapping(mapping) if complete else (lambda h: try_guess(h, names, REQUIRED, given))
    )
    unfit = None if complete else (lambda h: guess(h, names, REQUIRED, given))
    if unfit is not None:
        fits, unfit = _statement_said(fits, unfit)
        if steps is None:
            unfit = _steps_said(unfit)
    with open_table(Path(path), fits, _IDENTIFIERS, sheet=sheet, batch=batch, unfit=unfit) as t:
        options = Options(t.mapping or mapping, default_currency, date_format, tz, steps, rates)
        report.mapping = dict(options.mapping)
        if steps is not None:
            start = steps.start if steps.start.tzinfo else steps.start.replace(tzinfo=tz)
            report.time = f"{options.mapping['ts']} × 1 {steps.unit} from {start.isoformat()}"
        return MappedRows(Path(path), t, options).load(ledger, report, batch, progress)


STATEMENT_HINT = (
    "這份檔案看起來是單一帳戶的交易明細（有支出／存入或對方帳號欄，沒有轉出與轉入帳號）：請改以交易明細匯入"
    "（assistant fraud import-statement 檔案 --account 帳號），未匯入任何資料 / this looks like one "
    "account's statement (withdrawals and deposits or the other party's account, no payer and "
    "payee accounts): import "
    "it as a statement (assistant fraud import-statement FILE --account ACCOUNT); nothing was "
    "imported."
)


def _statement_said(
    fits: Fits, unfit: Callable[[list[str]], dict[str, str]]
) -> tuple[Fits, Callable[[list[str]], dict[str, str]]]:
    """The header search of a transfer import, noting any line that reads as an account
    statement's header: when no line is a transfer header, the refusal says to import the
    file as a statement instead of naming the transfer columns it lacks."""
    statement: list[list[str]] = []

    def noting(h: list[str]) -> dict[str, str] | None:
        found = fits(h)
        if found is None and _statement_header(h):
            statement.append(h)
        return found

    def refusing(h: list[str]) -> dict[str, str]:
        try:
            return unfit(h)
        except AssistantError as exc:
            if statement or _statement_header(h):
                raise AssistantError(f"{STATEMENT_HINT} ({exc})") from None
            raise

    return noting, refusing


def _statement_header(header: list[str]) -> bool:
    """A header with a time, withdrawal or deposit columns (or an amount and the other
    party's account), and no payer or payee column."""
    found = set(try_guess(header, STATEMENT_NAMES, ("ts",)) or ())
    if not ({"out_amount", "in_amount"} & found or {"amount", "counterparty"} <= found):
        return False
    return not {"from_account", "to_account"} & set(try_guess(header, NAMES, ()) or {})


# A simulator's time column: steps from the start (PaySim counts hours, others days).
STEP_NAMES = ("step", "time step", "timestep", "tick")
STEP_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def steps_from(unit: str | None, start: str) -> Steps | None:
    """A step unit and the time of step 0 as staff give them (``--step-unit``, ``--start``):
    None without a unit (times as written)."""
    if not unit:
        return None
    try:
        return Steps(unit, parse_datetime(start))
    except ValueError as exc:
        raise AssistantError(
            f"步數起點時間錯誤 / bad start of the steps {start!r}: {exc}"
        ) from None


@dataclass(frozen=True)
class Steps:
    """A time column that counts ``unit`` steps from ``start`` (Taiwan time unless it says)."""

    unit: str
    start: datetime

    def __post_init__(self) -> None:
        if self.unit not in STEP_UNITS:
            raise AssistantError(
                f"步數單位須為 {'、'.join(STEP_UNITS)} / the step unit must be one of "
                f"{', '.join(STEP_UNITS)}: {self.unit!r}"
            )

    def at(self, raw: str, tz: timezone) -> datetime:
        """The time of a step, stored as UTC like every other time."""
        try:
            count = float(raw.replace(",", ""))
        except ValueError:
            raise ValueError(f"not a step count: {raw!r}") from None
        if count != count or count < 0 or count > 10**9:
            raise ValueError(f"not a step count: {raw!r}")
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=tz)
        value = start + timedelta(seconds=count * STEP_UNITS[self.unit])
        return value.astimezone(UTC).replace(tzinfo=None)


def _steps_said(
    unfit: Callable[[list[str]], dict[str, str]],
) -> Callable[[list[str]], dict[str, str]]:
    """A header whose only time is a step column is told how to read it."""

    def refusing(h: list[str]) -> dict[str, str]:
        try:
            return unfit(h)
        except AssistantError as exc:
            told = try_guess(h, NAMES, ())
            if try_guess(h, {"ts": STEP_NAMES}, ("ts",)) and not (told and "ts" in told):
                raise AssistantError(
                    f"{exc}；時間欄是步數時請加 --step-unit（hour、day …）與 --start 日期 / a step "
                    "column counts time from a start: give --step-unit (hour, day …) and --start "
                    "DATE"
                ) from None
            raise

    return refusing


@dataclass
class Table:
    """A file's rows as text under its header: ``first`` is the number (line or sheet row) of
    the first row after the header, ``expected`` about how many rows follow (for the writer's
    index choice), ``cells_checked`` False where a cell may be ``workbook.Unreadable``.
    ``mapping``: the mapping that fits the header (given, or told from the header)."""

    header: list[str]
    first: int
    rows: Iterator[list[str]]
    expected: int
    mapping: dict[str, str]
    cells_checked: bool = True
    delimited: bool = False  # text split at a separator: a row longer than the header is suspect
    above: list[str] = field(default_factory=list)  # title lines above the header


# Given a header: the mapping that reads it, or None when it does not fit (not the header).
Fits = Callable[[list[str]], dict[str, str] | None]


def fits_mapping(mapping: dict[str, str]) -> Fits:
    """A mapping given by staff fits a header that holds every column it names."""
    return lambda h: mapping if all(columns(c, h) is not None for c in mapping.values()) else None


@contextmanager
def open_table(
    path: Path,
    fits: Fits,
    identifiers: dict[str, bool],
    *,
    sheet: str | None = None,
    batch: int = 50_000,
    unfit: Callable[[list[str]], dict[str, str]] | None = None,
) -> Iterator[Table]:
    """A CSV (UTF-8 or Big5, any of the usual separators, title lines above the header
    skipped), a Parquet file or an Excel workbook as a ``Table``. The header is the first row
    ``fits`` reads (a repeated name's later copies named ``.1``, ``.2``); when none does,
    the first row, with the mapping ``unfit`` makes of it (it raises what is wrong).
    ``identifiers``: the mapped fields whose Excel cells must keep their digits (see
    ``workbook``), each with whether a whole number is exact there."""
    if not path.is_file():
        raise AssistantError(f"找不到檔案 / no such file: {path}")
    if workbook.is_workbook(path):

        def positions(h: list[str]) -> dict[int, bool]:
            mapping = fits(h) or {}
            return {
                i: whole_ok
                for f, whole_ok in identifiers.items()
                if f in mapping
                for i in columns(mapping[f], h) or []
            }

        header, first, count, cells, above = workbook.read_table(
            path,
            lambda h: fits(unique_header(h)) is not None,
            positions,
            sheet=sheet,
            rename=unique_header,
            unfit=unfit,
        )
        yield Table(
            header, first, cells, count, fits(header) or {}, cells_checked=False, above=above
        )
        return
    if sheet:
        raise AssistantError(
            f"--sheet 只適用於 Excel 活頁簿 / --sheet applies to an Excel workbook, not {path.name}"
        )
    if path.suffix.lower() == ".parquet":
        header, count, rows = _parquet_table(path, batch)
        header = unique_header(header)
        mapping = fits(header) or (unfit(header) if unfit else {})
        yield Table(header, 1, rows, count, mapping)
        return
    with open_text(path) as handle:
        header, sep, first, above = _csv_header(handle, fits)
        if not "".join(header):
            raise AssistantError(f"{path.name} 是空檔 / empty file; nothing was imported")
        mapping = fits(header) or (unfit(header) if unfit else {})
        # About 80 bytes a row: how many transfers come.
        rows = csv.reader(handle, delimiter=sep)
        size = path.stat().st_size // 80
        yield Table(header, first, rows, size, mapping, delimited=True, above=above)


def _csv_header(handle: Any, fits: Fits) -> tuple[list[str], str, int, list[str]]:
    """The header line, its separator, the number of the line after it, and the non-empty
    lines above it. Exports often put
    title lines above the header (the account, the period asked for): the header is the first
    line among the first ``workbook.HEADER_ROWS`` that ``fits`` reads. When none does, the
    first line stands and the mapping's check names what it lacks; the handle is then past the
    lines read, which is fine: nothing is imported."""
    first: tuple[list[str], str] | None = None
    above: list[str] = []
    for number in range(1, workbook.HEADER_ROWS + 1):
        line = handle.readline()
        if not line:
            break
        sep = delimiter(line)
        header = unique_header([h.strip() for h in next(csv.reader([line], delimiter=sep), [])])
        if first is None and "".join(header):
            first = (header, sep)
        if fits(header) is not None:
            return header, sep, number + 1, above
        if line.strip():
            above.append(line.strip())
    header, sep = first or ([], ",")
    return header, sep, 2, []


@dataclass(frozen=True)
class Options:
    """How a mapped import reads a row: the mapping and the defaults it was given."""

    mapping: dict[str, str]
    currency: str
    date_format: str | None
    tz: timezone
    steps: Steps | None = None
    rates: Rates | None = None  # NT$ per unit by day: amounts in another currency stored in NT$


# Fields whose values identify: Excel must not have changed their digits (``workbook``). A
# transaction id only has to be unique, so a whole number is exact as it is.
_IDENTIFIERS = {"id": True, "from_account": False, "to_account": False}
_IDENTIFIERS |= {"from_bank": False, "to_bank": False}


def _parquet_table(path: Path, batch: int) -> tuple[list[str], int, Iterator[list[str]]]:
    """A Parquet file as a table of text: its column names, its row count, and its rows read
    ``batch`` at a time (values as text, as a CSV would hold them; a time without a zone
    stays without one, read as Taiwan time like a CSV's)."""
    try:
        import pyarrow.parquet as pq

        table = pq.ParquetFile(path)
    except ImportError as exc:
        raise AssistantError(
            f"讀取 Parquet 需要 pyarrow / reading Parquet needs pyarrow: {exc}"
        ) from exc
    except Exception as exc:  # pyarrow's own errors: not Parquet, cut short
        raise AssistantError(
            f"{path.name} 不是可讀的 Parquet 檔，未匯入任何資料 / {path.name} is not a readable "
            f"Parquet file; nothing was imported ({type(exc).__name__})"
        ) from None
    header = [str(n) for n in table.schema_arrow.names]

    def rows() -> Iterator[list[str]]:
        for chunk in table.iter_batches(batch_size=batch):
            columns = [[_text(v) for v in col.to_pylist()] for col in chunk.columns]
            yield from (list(r) for r in zip(*columns, strict=True))

    return header, table.metadata.num_rows, rows()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class MappedRows:
    """A table's rows through a column mapping, as ledger batches: each row checked, a bad one
    reported by its line (CSV), row (Parquet, counted from 1) or the sheet's row number
    (Excel). ``row`` makes one row's transfer; a subclass reads another layout."""

    def __init__(self, path: Path, table: Table, options: Options) -> None:
        header = table.header
        absent = [c for c in options.mapping.values() if columns(c, header) is None]
        if absent:
            raise AssistantError(
                f"{path.name} 沒有欄位 {absent} / columns {absent} not in the header; nothing "
                f"was imported (the header: {', '.join(header)})"
            )
        self.cols = {f: columns(c, header) or [] for f, c in options.mapping.items()}
        self.path, self.width, self.first, self.reader = path, len(header), table.first, table.rows
        self.header = header
        self.expected = table.expected
        self.currency, self.date_format, self.tz = options.currency, options.date_format, options.tz
        self.steps = options.steps
        self.rates = options.rates
        # A workbook's cells may be unreadable (``workbook.Unreadable``); a text file's never.
        self.cells_checked = table.cells_checked
        self.delimited = table.delimited
        self.cash = 0
        self._ids: dict[str, int] = {}  # transfer id → line, for repeats within the file
        self._accounts: set[str] = set()  # accounts already in an earlier batch
        # With a label column: the accounts of labelled transfers, with the first one's pattern.
        self.positive: dict[str, str] = {}

    def load(
        self,
        ledger: Ledger,
        report: ImportReport,
        batch: int,
        progress: Callable[[int], None] | None,
    ) -> ImportReport:
        """Everything into the ledger in one transaction, ``batch`` rows at a time."""
        labelled = "label" in self.cols
        counts = ledger.insert_batches(
            self.batches(report, batch, progress),
            expected=self.expected,
            keep_stored_accounts=True,
            # a file imported again, or overlapping one imported before, adds only what is new
            # (an empty ledger has nothing to look up: a first import is not slowed)
            keep_stored_events=ledger.has_transfers(),
            # Every account of a labelled file is labelled: fraud if it took part in a
            # labelled transfer, otherwise normal (unless an earlier label said fraud).
            finish=(lambda conn: ledger.label(conn, self.positive, self._accounts))
            if labelled
            else None,
        )
        if labelled:
            fraud = len(self.positive)
            report.labelled = {"fraud": fraud, "normal": len(self._accounts) - fraud}
        report.added, report.accounts = counts["transfers"], counts["accounts"]
        report.cash = self.cash - counts.get("already_cash", 0)
        if counts.get("already"):
            report.omitted[IMPORTED_BEFORE] = counts["already"]
        return report

    def batches(
        self, report: ImportReport, size: int, progress: Callable[[int], None] | None
    ) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
        transfers: list[dict[str, Any]] = []
        banks: dict[str, str] = {}  # this batch's new accounts → bank
        n = 1
        try:
            for n, row in enumerate(self.reader, start=self.first):
                got = self.row(n, row, report)
                if got is None:
                    continue
                transfer, owners = got
                transfers.append(transfer)
                for account, bank in owners:
                    if account not in self._accounts:
                        self._accounts.add(account)
                        banks[account] = bank
                if len(transfers) >= size:
                    yield self._batch(banks, transfers)
                    transfers, banks = [], {}
                    if progress is not None:
                        progress(report.rows)
        except UnicodeDecodeError:
            raise AssistantError(
                f"{self.path.name} 第 {n} 行之後編碼不一致，未匯入任何資料 / {self.path.name}: the "
                f"text after line {n} is not in the encoding of the lines before it; nothing "
                "was imported"
            ) from None
        yield self._batch(banks, transfers)
        if progress is not None:
            progress(report.rows)

    def _batch(
        self, banks: dict[str, str], transfers: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        self.cash += sum(t.get("kind", "transfer") != "transfer" for t in transfers)
        accounts = [{"id": a, "bank_code": b} for a, b in banks.items()]
        return _bank_rows(set(banks.values())), accounts, transfers

    def fields(self, n: int, row: list[str], report: ImportReport) -> dict[str, str] | None:
        """Line ``n``'s mapped fields as text (a field read from two columns, a date and a
        time apart, is their values joined), or None: blank, or bad and reported."""
        if not row or not "".join(row).strip():
            return None
        report.rows += 1
        if (
            str(row[0]).strip() == self.header[0]  # cheap first: most rows stop here
            and unique_header([str(c).strip() for c in row[: self.width]]) == self.header
        ):
            report.omitted[REPEATED_HEADER] = report.omitted.get(REPEATED_HEADER, 0) + 1
            return None
        if _TOTAL.match(next((str(c).strip() for c in row if str(c).strip()), "")):
            report.omitted[TOTAL_LINE] = report.omitted.get(TOTAL_LINE, 0) + 1
            return None
        if len(row) < self.width:
            report.bad(n, f"欄位數 {len(row)}，應為 {self.width} / too few columns")
            return None
        if self.delimited and len(row) > self.width and "".join(row[self.width :]).strip():
            # A separator inside a value that was not quoted (1,000 written bare) moves every
            # value after it one column on: read anyway, the amount could be 1 instead of
            # 1,000. Empty cells after the last column (a trailing separator) are harmless.
            report.bad(
                n,
                f"欄位數 {len(row)}，多於標題的 {self.width}：可能有值含未加引號的分隔符號（如 "
                f"1,000）/ {len(row)} columns, more than the header's {self.width}: a value "
                "may hold its separator unquoted (such as 1,000)",
            )
            return None
        if not self.cells_checked:
            for f, idx in self.cols.items():
                bad = next((row[i] for i in idx if isinstance(row[i], Unreadable)), None)
                if bad is not None:
                    report.bad(n, f"{f}: {bad}")
                    return None
        return {
            f: " ".join(v for i in idx if (v := row[i].strip())) for f, idx in self.cols.items()
        }

    def time(self, n: int, get: dict[str, str], report: ImportReport) -> datetime | None:
        """Line ``n``'s time as stored (UTC), or None: bad and reported."""
        try:
            if self.steps is not None:
                return self.steps.at(get["ts"], self.tz)
            return when(get["ts"], self.date_format, self.tz)
        except ValueError as exc:
            report.bad(n, f"時間錯誤 / bad time {get['ts']!r}: {exc}")
            return None

    def row(
        self, n: int, row: list[str], report: ImportReport
    ) -> tuple[dict[str, Any], list[tuple[str, str]]] | None:
        """The ledger row of line ``n`` and the customer accounts it names with their banks,
        or None (blank, or bad and reported)."""
        get = self.fields(n, row, report)
        if get is None:
            return None
        ts = self.time(n, get, report)
        if ts is None:
            return None
        for bank, side in SIDES.items():  # (812)8129876543210: the bank said with the account
            if not get.get(bank) and (split := bank_prefix(get.get(side, ""))):
                get[bank] = split[0]
        try:
            kind, caveat = read_kind(
                get.get("kind", ""), get["from_account"], get["to_account"], get.get("memo", "")
            )
            frm, to = _endpoints(kind, get["from_account"], get["to_account"])
            if frm and frm == to:
                # money moved within one account (a reinvestment, an internal posting): no
                # second party, so not a ledger event; counted, as an opening balance is
                report.omitted[SAME_ACCOUNT] = report.omitted.get(SAME_ACCOUNT, 0) + 1
                return None
        except AssistantError as exc:
            report.bad(n, str(exc))
            return None
        try:
            amount = parse_amount(get["amount"])
        except ValueError:
            report.bad(n, f"金額錯誤 / bad amount {get['amount']!r}")
            return None
        made = not get.get("id")
        tid = get.get("id") or f"{self.path.stem}:{n}"
        if tid in self._ids:
            report.bad(
                n,
                f"交易編號與第 {self._ids[tid]} 行重複 / id {tid!r} repeats line {self._ids[tid]}",
            )
            return None
        fb, tb = get.get("from_bank", "").upper(), get.get("to_bank", "").upper()
        if any(b and not is_bank_code(b) for b in (fb, tb)):
            report.bad(n, f"{BANK_CODE_RULE}: {fb!r}, {tb!r}")
            return None
        self._ids[tid] = n
        said = get.get("currency", "")
        currency = currency_of(said, self.currency)
        if currency is None:
            # kept, not refused: the amount is real whatever its unit; the report says which
            currency = UNNAMED
            note_word(report, unnamed_note(said), UNNAMED_NOTE, OTHER_CURRENCIES)
        report.currencies[currency] = report.currencies.get(currency, 0) + 1
        amount, currency, orig = self.in_twd(amount, currency, ts, report)
        memo = (get.get("memo") or "").strip()[:MEMO_CHARS] or None
        place = (get.get("place") or "")[:PLACE_CHARS] or None
        if kind != "transfer":
            own, bank = (to, tb) if kind == "cash_in" else (frm, fb)
            cash_side = _account(get["from_account" if kind == "cash_in" else "to_account"])
            if not bank and _is_cash(cash_side) and cash_side != "CASH":
                bank = cash_side[4:]  # the bank whose cash it was (CASH822)
            if caveat:
                report.noted[caveat] = report.noted.get(caveat, 0) + 1
            out = cash_row(tid, ts, own, bank, amount, kind == "cash_in", get.get("channel", ""))
            out.update(place=place, currency=currency, memo=memo, id_made=made, **orig)
            pattern = self._label(get)
            if pattern:
                out["pattern"] = pattern
                self.positive.setdefault(own, pattern)
            return out, [(own, bank)]
        transfer = {
            "id": tid,
            "ts": ts,
            "from_account": frm,
            "to_account": to,
            "amount": amount,
            "currency": currency,
            "channel": get.get("channel", "") or ("跨行" if fb and tb and fb != tb else ""),
            "from_bank": fb,
            "to_bank": tb,
            "memo": memo,
            "place": place,
            "id_made": made,
            **orig,
        }
        named = [(a, b) for a, b in ((frm, fb), (to, tb)) if a != OUTSIDE_ACCOUNT]
        pattern = self._label(get)
        if pattern:
            transfer["pattern"] = pattern
            for account, _ in named:
                self.positive.setdefault(account, pattern)
        if caveat:
            note_word(report, caveat, OTHER_KIND[:5], OTHER_KINDS)
        return transfer, named

    def in_twd(
        self, amount: float, currency: str, ts: datetime, report: ImportReport
    ) -> tuple[float, str, dict[str, Any]]:
        """(amount, currency, what the file said) as stored: an amount in another currency in
        NT$ at the rate of its day (Taiwan) when there is one, the file's amount and currency
        kept beside it; without a rate it stays as it was, counted in the report."""
        if currency in ("TWD", UNNAMED):
            return amount, currency, {}
        day = ts.replace(tzinfo=UTC).astimezone(TAIPEI).date()
        rate = self.rates.twd(currency, day) if self.rates else None
        if rate is None:
            note = NO_RATE.format(cur=currency)
            report.noted[note] = report.noted.get(note, 0) + 1
            return amount, currency, {}
        report.converted[currency] = report.converted.get(currency, 0) + 1
        return (
            round(amount * rate, 2),
            "TWD",
            {"orig_amount": amount, "orig_currency": currency},
        )

    def _label(self, get: dict[str, str]) -> str | None:
        """The pattern a labelled transfer belongs to (``label:<value>``), or None."""
        raw = get.get("label", "").strip()
        if raw.lower() in LABEL_NO or not raw:
            return None
        # the scheme, where the file names it (Structuring, Fan_Out), else the label's word
        typology = get.get("typology", "").strip()
        if typology:
            return f"label:{typology[:40]}"
        return "label:laundering" if raw.lower() in LABEL_YES else f"label:{raw[:40]}"


OPENING = "期初餘額，不是交易 / opening balance of the simulation, not an event"


def _amlgentex_rows(path: Path) -> tuple[Path, list[tuple[int, list[str]]]]:
    """The log's data rows as (line, values in ``AMLGENTEX_COLUMNS`` order), from a folder
    (``temporal/tx_log.csv`` or ``.parquet``, or ``tx_log.*`` in it) or a file."""
    if path.is_dir():
        found = [
            path / sub / f"tx_log.{ext}"
            for ext in ("csv", "parquet")
            for sub in ("temporal", ".")
            if (path / sub / f"tx_log.{ext}").is_file()
        ]
        if not found:
            raise AssistantError(
                f"{path} 沒有 tx_log.csv 或 tx_log.parquet / no AMLGentex transaction log in {path}"
            )
        path = found[0]
    if path.suffix == ".parquet":
        return path, _parquet_rows(path)
    rows = _read_csv(path, None, "AMLGentex tx_log")
    header = [h.strip() for h in rows[0]]
    lacking = [c for c in AMLGENTEX_COLUMNS if c not in header]
    if lacking:
        raise AssistantError(
            f"{path.name} 不是 AMLGentex 交易紀錄（缺少欄位 {lacking}） / not an AMLGentex "
            f"transaction log: columns {lacking} missing; nothing was imported"
        )
    cols = [header.index(c) for c in AMLGENTEX_COLUMNS]
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < len(header):
            out.append((n, []))
            continue
        out.append((n, [row[i].strip() for i in cols]))
    return path, out


def _parquet_rows(path: Path) -> list[tuple[int, list[str]]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path, columns=list(AMLGENTEX_COLUMNS))
    except ImportError as exc:
        raise AssistantError(
            "讀取 Parquet 需要 pyarrow；或將交易紀錄存成 CSV（make amlgentex 即是） / reading "
            f"Parquet needs pyarrow; or give the log as CSV (make amlgentex writes one): {exc}"
        ) from exc
    except (KeyError, ValueError) as exc:
        raise AssistantError(
            f"{path.name} 不是 AMLGentex 交易紀錄 / not an AMLGentex transaction log: {exc}"
        ) from exc
    values = frame.astype(str).to_numpy().tolist()
    return [(i + 2, v) for i, v in enumerate(values)]


def import_amlgentex(ledger: Ledger, path: Path, *, base: date = date(2024, 1, 1)) -> ImportReport:
    """An AMLGentex transaction log (see the module docstring for the format and mapping)."""
    path = Path(path)
    if not path.exists():
        raise AssistantError(f"找不到檔案或資料夾 / no such file or folder: {path}")
    path, rows = _amlgentex_rows(path)
    report = ImportReport(path=str(path))
    parsed: list[tuple[int, int, str, float, int, int, str, str, str | None]] = []
    names: set[str] = set()
    for n, row in rows:
        report.rows += 1
        if not row:
            report.bad(n, "欄位數不足 / too few columns")
            continue
        step_raw, kind, amount_raw, orig_raw, dest_raw, bo, bd, sar, pid, mtype = row
        if kind == "INITALBALANCE":
            report.omitted[OPENING] = report.omitted.get(OPENING, 0) + 1
            continue
        try:
            step, orig, dest = int(step_raw), int(orig_raw), int(dest_raw)
            sar_flag, pattern_id, model = int(sar), int(pid), int(mtype)
            if step < 0 or sar_flag not in (0, 1):
                raise ValueError
        except ValueError:
            report.bad(n, f"數值欄位錯誤 / bad step, account, isSAR or pattern: {row}")
            continue
        try:
            amount = parse_amount(amount_raw)
        except ValueError:
            report.bad(n, f"金額錯誤 / bad amount {amount_raw!r}")
            continue
        what = _amlgentex_kind(kind, orig, dest)
        if what is None:
            report.bad(
                n,
                f"無法對應的交易 / not a transaction of the format: type {kind!r} from {orig} "
                f"to {dest} (-2 source, -1 sink)",
            )
            continue
        pattern = None
        if sar_flag and pattern_id >= 0:
            pattern = f"amlgentex:{AMLGENTEX_TYPES.get(model, model)}:{pattern_id}"
        names.update(b for b, a in ((bo, orig), (bd, dest)) if a >= 0)
        parsed.append((n, step, what, amount, orig, dest, bo, bd, pattern))
    if len(names) > len(AMLGENTEX_BANKS):
        raise AssistantError(
            f"銀行數 {len(names)} 超過 {len(AMLGENTEX_BANKS)} / too many banks; nothing was imported"
        )
    code = dict(zip(sorted(names), AMLGENTEX_BANKS, strict=False))
    times = _step_times([p[1] for p in parsed], base)
    accounts: dict[str, dict[str, Any]] = {}
    transfers = []
    for (n, _, what, amount, orig, dest, bo, bd, pattern), ts in zip(parsed, times, strict=True):
        for node, bank in ((orig, bo), (dest, bd)):
            if node >= 0 and (a := f"AGX{node:08d}") not in accounts:
                accounts[a] = {
                    "id": a,
                    "bank_code": code[bank],
                    "holder_ref": f"amlgentex:{node}",
                    "is_fraud": False,
                    "pattern": None,
                }
            if node >= 0 and pattern and not accounts[f"AGX{node:08d}"]["is_fraud"]:
                accounts[f"AGX{node:08d}"].update(is_fraud=True, pattern=pattern)
        tid = f"AGXT{n:08d}"
        if what in ("cash_in", "cash_out"):
            node, bank = (dest, bd) if what == "cash_in" else (orig, bo)
            row = cash_row(tid, ts, f"AGX{node:08d}", code[bank], amount, what == "cash_in")
        else:
            fb = code[bo] if orig >= 0 else ""
            tb = code[bd] if dest >= 0 else ""
            row = {
                "id": tid,
                "ts": ts,
                "from_account": f"AGX{orig:08d}" if orig >= 0 else OUTSIDE_ACCOUNT,
                "to_account": f"AGX{dest:08d}" if dest >= 0 else OUTSIDE_ACCOUNT,
                "amount": amount,
                "channel": "跨行" if fb and tb and fb != tb else "網銀",
                "from_bank": fb,
                "to_bank": tb,
            }
        row["pattern"] = pattern
        transfers.append(row)
    existing = ledger.existing_ids("account", accounts)
    new_accounts = [a for a in accounts.values() if a["id"] not in existing]
    counts = ledger.bulk_insert(_bank_rows(set(code.values())), new_accounts, transfers)
    report.added, report.accounts = counts["transfers"], counts["accounts"]
    report.cash = sum(t.get("kind", "transfer") != "transfer" for t in transfers)
    return report


def _amlgentex_kind(kind: str, orig: int, dest: int) -> str | None:
    """cash_in / cash_out / transfer for a row, None if the row does not fit the format."""
    ends = (orig == SOURCE_NODE or orig >= 0) and (dest == SINK_NODE or dest >= 0)
    if not ends or (orig < 0 and dest < 0):
        return None
    if kind == "CASH":
        if orig == SOURCE_NODE:
            return "cash_in"
        return "cash_out" if dest == SINK_NODE else None
    return "transfer" if kind == "TRANSFER" else None


SAME_ACCOUNT = (
    "轉出與轉入為同一帳戶（如再投資），不是兩方間的交易 / payer and payee are one account (a "
    "reinvestment, an internal posting): not a movement between two parties"
)


def _endpoints(kind: str, frm_raw: str, to_raw: str) -> tuple[str, str]:
    """The two accounts of a row. A transfer needs both (the same one twice is returned as it
    is: no movement between parties); a deposit only ``to``, a withdrawal only ``from`` (its
    cash side, empty or a reserved CASH account, is filled in later)."""
    if kind == "transfer":
        empty = [side for side, raw in (("轉出 payer", frm_raw), ("轉入 payee", to_raw)) if not raw]
        if empty:
            raise AssistantError(
                f"{'、'.join(empty)} 帳號空白 / empty account; a cash deposit or withdrawal names one "
                "account: mark such rows with a kind column (存款 cash_in, 提款 cash_out)"
            )
        frm, to = normalize_account(frm_raw), normalize_account(to_raw)
        if frm == to:
            return frm, to  # one account on both sides: the caller leaves it out, counted
        # OUTSIDE (a party the ledger does not name, as a statement or AMLGentex writes it)
        # may pay or be paid by a customer; CASH rows were read as cash by ``read_kind``
        if (is_reserved(frm) or is_reserved(to)) and (
            (is_reserved(frm) and is_reserved(to)) or OUTSIDE_ACCOUNT not in (frm, to)
        ):
            raise AssistantError(
                f"保留帳號只用於現金交易 / reserved account in a transfer: {frm_raw!r}, {to_raw!r}"
                f" (mark cash rows with a kind column)"
            )
        return frm, to
    own_raw, cash_raw = (to_raw, frm_raw) if kind == "cash_in" else (frm_raw, to_raw)
    cash_side = normalize_account(cash_raw) if cash_raw.strip() else ""
    # A payment-type export writes a cash row of one account with it in both columns.
    if cash_side and not is_reserved(cash_side) and cash_side != normalize_account(own_raw):
        raise AssistantError(
            f"現金交易不應有對方帳戶 / a {kind} row names a counterparty account {cash_raw!r}"
        )
    own = normalize_account(own_raw)
    if is_reserved(own):
        raise AssistantError(f"現金交易缺少客戶帳號 / a {kind} row needs the customer's account")
    return ("", own) if kind == "cash_in" else (own, "")


def when(raw: str, date_format: str | None, tz: timezone) -> datetime:
    value = datetime.strptime(raw, date_format) if date_format else parse_datetime(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC).replace(tzinfo=None)
