"""One account's statement (存摺／交易明細) into the ledger: the layout investigators receive when
they ask a bank for an account's transactions (調閱), one row per movement of that account,
with its withdrawals (支出) and deposits (存入) in two columns or as one signed amount, the
counterparty's account where the bank gives it, and a summary (摘要) such as 跨行轉帳 or
ATM提款.

Each row becomes a ledger event of the statement's account: money out is a transfer to the
counterparty, money in a transfer from it; a withdrawal or deposit of cash (摘要 saying so:
提款、提領、領現、現金支出 out, 現金存、存現、現金存款 in) is a cash event at the account's bank.
A transfer without a counterparty is tied to the unnamed ``OUTSIDE`` party and counted in the
report (``noted``), so the money is not lost from the account's flows. A
line without an amount (a balance line, 上期餘額), or the bank's own charge without another
party (手續費, 年費, 利息), is counted, not imported. The other party's account may carry its bank's
code in front of it, as online banking shows it ((812)8129876543210, 812-8129876543210).

The same transfer appears in both parties' statements. Without a transaction id column a row's
id is made from what both statements show alike: the day (Taiwan time; banks print the time to
the second, to the minute or not at all), the two accounts, the amount, and which occurrence
of that combination it is in the file (two NT$20,000 transfers to one payee on one day are two
events, in both statements). A transfer already in the ledger, read from the
other party's statement, is left out and counted (``already``), not refused as a duplicate;
so is one a transfer list brought in before holds under its own id (the same accounts and
amount on the same day, the k-th such row left out while the ledger holds k).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, timezone
from pathlib import Path
from typing import Any

from assistant.dates import TAIPEI
from assistant.errors import AssistantError
from assistant.fraud.column_names import STATEMENT_NAMES, guess
from assistant.fraud.currencies import UNNAMED, Rates, currency_of, unnamed_note
from assistant.fraud.importers import (
    CASH_IN_WORDS,
    CASH_OUT_WORDS,
    MEMO_CHARS,
    OTHER_CURRENCIES,
    PLACE_CHARS,
    UNNAMED_NOTE,
    ImportReport,
    MappedRows,
    Options,
    Table,
    cash_row,
    fits_mapping,
    note_word,
    open_table,
)
from assistant.fraud.ledger import STATEMENT_ID, Ledger, bank_prefix, normalize_account
from assistant.fraud.records import BANK_CODE_RULE, OUTSIDE_ACCOUNT, is_bank_code, is_reserved
from assistant.textfiles import NotPositive, parse_amount

FIELDS = ("ts", "out_amount", "in_amount", "amount", "counterparty", "counterparty_bank")
FIELDS += ("account", "summary", "memo", "id", "channel", "place", "currency")
# Fields whose Excel cells must keep their digits; a transaction id is exact as a whole number.
IDENTIFIERS = {"id": True, "account": False, "counterparty": False, "counterparty_bank": False}
NO_COUNTERPARTY = "轉帳無對方帳號，記為行外 / transfers without a counterparty, tied to OUTSIDE"
NO_AMOUNT = "無金額（餘額或註記列） / no amount (a balance or note line)"
BANK_CHARGE = (
    "銀行本身的入出帳（手續費、利息等，非與他人間的款項） / the bank's own entries (fees, "
    "interest): no other party"
)
# a line the bank charged the account for (a transfer's fee, a card's annual fee) or paid it
# (interest, and the tax withheld on it)
_CHARGE = re.compile(
    r"手續費|服務費|年費|管理費|利息|結息|扣繳|\bfees?\b|\bcharges?\b|\binterest\b",
    re.IGNORECASE,
)
# What statements print in an empty amount cell, full-width forms included (－, ——, ―)
_EMPTY = {"", "-", "--", "—", "——", "－", "－－", "―", "−", "─", "N/A", "n/a"}
_MINUS = ("-", "−", "－")
TITLED_ACCOUNT = "明細帳號取自標題列 / the statement's account read from its title"
# an account named in a title line: 帳號：0074-2512-076092, 存款帳號: (822)1234…, Account No.: …
_TITLE_ACCOUNT = re.compile(
    r"(?:帳\s*號|帳\s*戶|account(?:\s*(?:no\.?|number))?)\s*[:：]\s*"
    r"((?:\(\d{3}\)\s*)?\d[\d\-]{4,}\d)",  # no spaces: a date may follow
    re.IGNORECASE,
)
# a debit or credit mark after the amount (1,000.00 DR), as statements in English print it
_DEBIT_CREDIT = re.compile(r"\s*(?<![A-Za-z])(DR|CR|Dr|Cr|dr|cr)\.?$")
_NONZERO = re.compile(r"[1-9１-９]")


def import_statement(
    ledger: Ledger,
    path: Path,
    mapping: dict[str, str],
    *,
    account: str | None = None,
    bank: str = "",
    default_currency: str = "TWD",
    date_format: str | None = None,
    tz: timezone = TAIPEI,
    sheet: str | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 50_000,
    rates: Rates | None = None,
) -> ImportReport:
    """An account statement (CSV, Parquet or Excel) through a column mapping. ``mapping``: our
    field → their column: ``ts`` and either ``out_amount`` / ``in_amount`` (支出 / 存入) or a
    signed ``amount`` (negative, or in parentheses, is money out) are required;
    ``counterparty``, ``counterparty_bank``, ``summary`` (摘要, which tells cash from
    transfers), ``memo``, ``id``, ``channel``, ``place`` and ``currency`` optional. The
    statement's account is ``account`` (its bank ``bank``), or a column mapped as ``account``
    when one file holds several accounts' rows. ``rates``: as ``importers.import_csv``'s."""
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise AssistantError(
            f"未知欄位 {unknown}，可用 {', '.join(FIELDS)} / unknown field(s) {unknown}"
        )
    given, mapping = mapping, {f: c for f, c in mapping.items() if c}  # field=: not read
    split = "out_amount" in mapping or "in_amount" in mapping
    if split and "amount" in mapping:
        raise _amounts_error()
    bank = bank.upper()
    if bank and not is_bank_code(bank):
        raise AssistantError(f"{BANK_CODE_RULE}: {bank!r}")
    owner = normalize_account(account) if account else ""
    if account and (not owner or is_reserved(owner)):
        raise AssistantError(f"帳號不正確 / not a customer account: {account!r}")
    path = Path(path)
    report = ImportReport(path=str(path))
    # What is not given is told from the header (``column_names``); what is given stands.
    complete = "ts" in mapping and (split or "amount" in mapping)
    fits = fits_mapping(mapping) if complete else (lambda h: _guess(h, given, quiet=True))
    unfit = None if complete else (lambda h: _guess(h, given) or {})
    with open_table(path, fits, IDENTIFIERS, sheet=sheet, batch=batch, unfit=unfit) as table:
        if not owner and "account" not in mapping:
            # the statement's title names its account (帳號：0074-2512-076092), as banks print
            owner = _titled_account(table.above)
            report.noted[f"{TITLED_ACCOUNT}: {owner}"] = 1
        options = Options(table.mapping or mapping, default_currency, date_format, tz, rates=rates)
        report.mapping = dict(options.mapping)
        rows = StatementRows(path, table, options, owner, bank)
        counts = ledger.insert_batches(
            rows.batches(report, batch, progress),
            expected=table.expected,
            keep_stored_accounts=True,
            keep_stored_transfers=True,
            # a transfer list imported before holds the same transfer under the list's id:
            # the same accounts and amount on the same day are the same transfer, as they are
            # between two statements (banks print the time to the second, the minute or not
            # at all)
            keep_stored_events=ledger.has_transfers(),
            events_by_day=True,
        )
    report.added, report.accounts = counts["transfers"], counts["accounts"]
    report.cash = rows.cash - counts["already_cash"]
    if counts["already"]:
        report.omitted[ALREADY] = counts["already"]
    return report


def _guess(header: list[str], given: dict[str, str], quiet: bool = False) -> dict[str, str] | None:
    """The statement's mapping told from its header: the time, and its amounts as two
    columns (支出／存入, preferred) or one signed column."""
    try:
        found = guess(header, STATEMENT_NAMES, ("ts",), given)
        if "out_amount" in found or "in_amount" in found:
            if "amount" in given:
                raise _amounts_error()
            found.pop("amount", None)
        elif "amount" not in found:
            raise _amounts_error(header)
        return found
    except AssistantError:
        if quiet:
            return None
        raise


def _titled_account(above: list[str]) -> str:
    """The one account the lines above the header name (帳號：…, Account No.: …), or an error
    saying how to give it."""
    named = {normalize_account(m) for line in above for m in _TITLE_ACCOUNT.findall(line)}
    named = {a for a in named if a and not is_reserved(a)}
    if len(named) == 1:
        return named.pop()
    zh = "請以 --account 指定明細所屬帳號，或對應帳號欄（account）"
    en = "give the statement's account (--account) or map its account column (account)"
    if named:
        zh += f"；標題列所列帳號不只一個：{'、'.join(sorted(named))}"
        en += f"; the title names more than one: {', '.join(sorted(named))}"
    raise AssistantError(f"{zh} / {en}")


def _amounts_error(header: list[str] | None = None) -> AssistantError:
    seen = f" (the header: {', '.join(header)})" if header else ""
    return AssistantError(
        "請對應支出／存入兩欄（out_amount、in_amount），或一個帶正負號的金額欄（amount），擇一 / map "
        "the withdrawals and deposits columns (out_amount, in_amount) or one signed amount "
        f"column (amount), not both and not neither{seen}"
    )


ALREADY = "已在帳務中（對方明細已匯入） / already in the ledger (from the other party's statement)"


class StatementRows(MappedRows):
    """A statement's rows as ledger events of its account."""

    def __init__(self, path: Path, table: Table, options: Options, owner: str, bank: str) -> None:
        super().__init__(path, table, options)
        self.owner, self.bank = owner, bank
        self._seen: dict[tuple[Any, ...], int] = {}  # event → occurrences so far in the file

    def row(
        self, n: int, row: list[str], report: ImportReport
    ) -> tuple[dict[str, Any], list[tuple[str, str]]] | None:
        get = self.fields(n, row, report)
        if get is None:
            return None
        try:
            owner = normalize_account(get["account"]) if get.get("account") else self.owner
            raw_cp = get.get("counterparty", "")
            if not get.get("counterparty_bank") and (split := bank_prefix(raw_cp)):
                get["counterparty_bank"] = split[0]  # (812)8129876543210: its bank's code
            counterparty = normalize_account(raw_cp) if raw_cp else ""
        except AssistantError as exc:
            report.bad(n, str(exc))
            return None
        if not owner or is_reserved(owner):
            report.bad(n, f"帳號空白或不正確 / no customer account: {get.get('account')!r}")
            return None
        ts = self.time(n, get, report)
        if ts is None:
            return None
        try:
            out, amount = self._amount(get)
        except ValueError as exc:
            report.bad(n, str(exc))
            return None
        if amount is None:
            report.omitted[NO_AMOUNT] = report.omitted.get(NO_AMOUNT, 0) + 1
            return None
        summary = get.get("summary", "")
        if not counterparty and _CHARGE.search(summary):
            report.omitted[BANK_CHARGE] = report.omitted.get(BANK_CHARGE, 0) + 1
            return None
        cp_bank = get.get("counterparty_bank", "").upper()
        if cp_bank and not is_bank_code(cp_bank):
            report.bad(n, f"{BANK_CODE_RULE}: {cp_bank!r}")
            return None
        if counterparty == owner:
            report.bad(n, f"對方帳號與本帳號相同 / the counterparty is the account itself: {owner}")
            return None
        if counterparty and is_reserved(counterparty):
            report.bad(
                n, f"保留帳號不是對方帳號 / a reserved account as counterparty: {counterparty}"
            )
            return None
        said = get.get("currency", "")
        currency = currency_of(said, self.currency)
        if currency is None:  # kept, as the transfer import keeps it, and said in the report
            currency = UNNAMED
            note_word(report, unnamed_note(said), UNNAMED_NOTE, OTHER_CURRENCIES)
        report.currencies[currency] = report.currencies.get(currency, 0) + 1
        amount, currency, orig = self.in_twd(amount, currency, ts, report)
        cash = bool((CASH_OUT_WORDS if out else CASH_IN_WORDS).search(summary)) and not counterparty
        memo = (get.get("memo") or summary).strip()[:MEMO_CHARS] or None
        place = (get.get("place") or "")[:PLACE_CHARS] or None
        channel = get.get("channel", "")
        if cash:
            event = cash_row("", ts, owner, self.bank, amount, not out, channel, place)
            event.update(currency=currency, memo=memo, **orig)
            event["id"] = get.get("id") or self._id(event, owner)
            return event, [(owner, self.bank)]
        if not counterparty:
            counterparty = OUTSIDE_ACCOUNT
            report.noted[NO_COUNTERPARTY] = report.noted.get(NO_COUNTERPARTY, 0) + 1
        frm, to = (owner, counterparty) if out else (counterparty, owner)
        fb, tb = (self.bank, cp_bank) if out else (cp_bank, self.bank)
        event = {
            "id": "",
            "ts": ts,
            "from_account": frm,
            "to_account": to,
            "amount": amount,
            "currency": currency,
            "channel": channel or ("跨行" if fb and tb and fb != tb else ""),
            "from_bank": fb,
            "to_bank": tb,
            "memo": memo,
            "place": place,
            **orig,
        }
        event["id"] = get.get("id") or self._id(event, owner)
        named = [(owner, self.bank)]
        if counterparty != OUTSIDE_ACCOUNT:
            named.append((counterparty, cp_bank))
        return event, named

    def _amount(self, get: dict[str, str]) -> tuple[bool, float | None]:
        """(money out?, amount), amount None on a line without one."""
        if "amount" in self.cols:
            raw = get.get("amount", "").strip()
            if raw in _EMPTY:
                return False, None
            # Money out is written -1,000, (1,000), 1,000- (a trailing sign, as core banking
            # prints it) or 1,000 DR; money in 1,000 or 1,000 CR.
            side = _DEBIT_CREDIT.search(raw)
            text = raw[: side.start()].strip() if side else raw
            negative = (
                text.startswith(_MINUS)
                or text.endswith(_MINUS)
                or (text.startswith("(") and text.endswith(")"))
            )
            if side and negative:  # -1,000 CR: which is it?
                raise ValueError(f"金額正負不明 / unclear sign of amount {raw!r}")
            negative = negative or bool(side and side.group(1).upper() == "DR")
            text = text.strip("()").strip("".join(_MINUS)).strip()
            value = _positive(text, raw)
            return negative, value
        out_raw = get.get("out_amount", "").strip()
        in_raw = get.get("in_amount", "").strip()
        out = None if out_raw in _EMPTY else _positive(out_raw, out_raw, zero_empty=True)
        inn = None if in_raw in _EMPTY else _positive(in_raw, in_raw, zero_empty=True)
        if out is not None and inn is not None:
            raise ValueError(
                f"同一列既有支出也有存入 / both a withdrawal and a deposit on one line: "
                f"{out_raw!r}, {in_raw!r}"
            )
        if out is not None:
            return True, out
        return False, inn

    def _id(self, event: dict[str, Any], owner: str) -> str:
        # The day (Taiwan), not the time: banks print times to the second, the minute or not
        # at all, and the k-th such event of a day is the same one in both statements.
        key = (
            event["ts"].replace(tzinfo=UTC).astimezone(TAIPEI).date().isoformat(),
            event["from_account"],
            event["to_account"],
            f"{event['amount']:.2f}",
        )
        # Counted per statement account: in a file of several accounts, A's k-th such
        # transfer to B and B's k-th such transfer from A are the same event.
        seen = (*key, owner)
        k = self._seen.get(seen, 0) + 1
        self._seen[seen] = k
        digest = hashlib.sha256("|".join((*key, str(k))).encode()).hexdigest()[:20]
        return f"{STATEMENT_ID}{digest}"


def _positive(text: str, raw: str, *, zero_empty: bool = False) -> float | None:
    """The amount; a zero is an empty cell where ``zero_empty`` (statements print 0 in the
    column a line does not use)."""
    try:
        return parse_amount(text)
    except NotPositive:
        if zero_empty and not _NONZERO.search(text):
            return None
        raise ValueError(f"金額錯誤 / bad amount {raw!r}") from None
    except ValueError:
        raise ValueError(f"金額錯誤 / bad amount {raw!r}") from None
