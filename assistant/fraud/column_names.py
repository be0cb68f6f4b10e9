"""The column mapping of a transfer file told from its header, when staff give none.

Exports name their columns in a handful of ways (轉出帳號 or 付款帳號 or from_account, 金額 or
交易金額 or amount); ``guess`` matches each of our fields against the names it is known by,
ignoring case, spaces, underscores and hyphens. Nothing is guessed from values. A required
field that no column names, or that two columns could be, is refused with the header and the
``--map`` that settles it; the mapping found is reported, so the import says what it read.

A date and a time in two columns (交易日期, 交易時間) are joined, as ``--map ts=交易日期+交易時間``
would. A header that repeats a name (``Account`` twice) has its later copies named ``.1``,
``.2`` (``Account.1``), as pandas names them; such columns are guessed only by place: a bare
``Account`` right after a bank column is that side's account (From Bank, Account, To Bank,
Account), when no column names the side outright.
"""

from __future__ import annotations

import re

from assistant.errors import AssistantError

# Our field → the names exports give it, compared after ``_fold``.
TRANSFER_NAMES: dict[str, tuple[str, ...]] = {
    "ts": (
        "交易時間",
        "交易日期時間",
        "日期時間",
        "交易日時",
        "timestamp",
        "datetime",
        "transaction time",
        "tx time",
        "txn time",
        "ts",
    ),
    "from_account": (
        "轉出帳號",
        "轉出帳戶",
        "付款帳號",
        "付款人帳號",
        "匯款帳號",
        "匯款人帳號",
        "扣款帳號",
        "from account",
        "from",
        "sender",
        "sender account",
        "payer",
        "payer account",
        "originator",
        "orig account",
        "name orig",
        "source account",
        "debit account",
    ),
    "to_account": (
        "轉入帳號",
        "轉入帳戶",
        "收款帳號",
        "收款人帳號",
        "受款帳號",
        "受款人帳號",
        "入帳帳號",
        "to account",
        "to",
        "receiver",
        "receiver account",
        "payee",
        "payee account",
        "beneficiary",
        "beneficiary account",
        "name dest",
        "destination account",
        "credit account",
    ),
    "amount": (
        "金額",
        "交易金額",
        "轉帳金額",
        "匯款金額",
        "amount",
        "amt",
        "transaction amount",
        # a file that gives both sides' amounts (IBM's AMLworld: Amount Paid, Amount Received):
        # the payer's, in the payer's currency
        "amount paid",
        "paid amount",
        "payment amount",
    ),
    "id": (
        "交易序號",
        "交易編號",
        "交易流水號",
        "流水號",
        "序號",
        "id",
        "transaction id",
        "tx id",
        "txn id",
        "tran id",
    ),
    "currency": ("幣別", "幣種", "currency", "ccy", "payment currency", "paid currency"),
    "from_bank": ("轉出銀行", "轉出銀行代碼", "轉出行", "付款銀行", "from bank", "sender bank"),
    "to_bank": ("轉入銀行", "轉入銀行代碼", "轉入行", "收款銀行", "to bank", "receiver bank"),
    "memo": ("備註", "附言", "摘要", "memo", "note", "remark", "remarks"),
    "kind": (
        "交易種類",
        "交易類別",
        "交易類型",
        "交易型態",
        "kind",
        "type",
        "payment type",
        "payment format",
        "transaction type",
        "txn type",
        "tx type",
    ),
    "channel": ("通路", "交易通路", "交易管道", "channel"),
    "place": ("交易地點", "地點", "place", "location"),
    # Ground truth in a labelled file (a generator's output, a bank's confirmed cases).
    "label": (
        "is laundering",
        "is sar",
        "issar",
        "is fraud",
        "isfraud",
        "label",
        "洗錢註記",
        "詐騙註記",
        "可疑交易註記",
    ),
    # which scheme a labelled transfer belongs to (SAML-D's Laundering_type)
    "typology": (
        "laundering type",
        "typology",
        "pattern",
        "fraud type",
        "洗錢態樣",
        "詐騙態樣",
        "態樣",
    ),
}
# One account's statement (``account_statement``).
STATEMENT_NAMES: dict[str, tuple[str, ...]] = {
    "ts": TRANSFER_NAMES["ts"] + ("記帳時間", "帳務時間"),
    "out_amount": (
        "支出",
        "支出金額",
        "提款",
        "提款金額",
        "提出",
        "轉出金額",
        "借方",
        "借方金額",
        "withdrawal",
        "withdrawals",
        "debit",
        "debit amount",
    ),
    "in_amount": (
        "存入",
        "存入金額",
        "存款",
        "存款金額",
        "收入",
        "轉入金額",
        "貸方",
        "貸方金額",
        "deposit",
        "deposits",
        "credit",
        "credit amount",
    ),
    "amount": TRANSFER_NAMES["amount"],
    "counterparty": (
        "對方帳號",
        "對方帳戶",
        "轉出入帳號",
        "轉入轉出帳號",
        "對方",
        "counterparty",
        "counterparty account",
    ),
    "counterparty_bank": ("對方銀行", "對方行", "對方銀行代碼", "counterparty bank"),
    "summary": (
        "摘要",
        "交易摘要",
        "說明",
        "交易說明",
        "交易類別",
        "交易項目",
        "交易內容",
        "交易種類",
        "summary",
        "description",
    ),
    "memo": ("備註", "附言", "memo", "note", "remark", "remarks"),
    "id": TRANSFER_NAMES["id"],
    "channel": TRANSFER_NAMES["channel"],
    "place": TRANSFER_NAMES["place"],
    "currency": TRANSFER_NAMES["currency"],
}
# A column that names an account without saying whose: the side of the bank column before it
# (AMLworld: From Bank, Account, To Bank, Account).
BARE_ACCOUNT = ("account", "account number", "account no", "acct", "帳號", "帳戶")
SIDES = {"from_bank": "from_account", "to_bank": "to_account"}
DATE_NAMES = (
    "交易日期",
    "日期",
    "交易日",
    "記帳日",
    "記帳日期",
    "date",
    "transaction date",
    "tx date",
)
TIME_NAMES = ("交易時間", "時間", "time", "transaction time", "tx time")
_DUPLICATE = re.compile(r"\.\d+$")


def _fold(name: str) -> str:
    # camelCase is two words as well (nameOrig, isFraud: a simulator's names)
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return re.sub(r"[\s_\-]+", " ", name).strip().lower()


def mapping_pairs(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``field=column`` items (the CLI's ``--map``, the page's lines) as a mapping; ``field=``
    with no column keeps that field from being read or told from the header."""
    pairs = {}
    for item in items:
        field, sep, column = item.partition("=")
        if not sep or not field.strip():
            raise AssistantError(f"欄位對應格式為 欄位=欄名 / a mapping is field=column: {item!r}")
        pairs[field.strip()] = column.strip()
    return pairs


def unique_header(header: list[str]) -> list[str]:
    """The header with repeated names told apart: the second ``Account`` is ``Account.1``."""
    seen: dict[str, int] = {}
    out = []
    for name in header:
        k = seen.get(name, 0)
        seen[name] = k + 1
        out.append(f"{name}.{k}" if k else name)
    return out


def columns(spec: str, header: list[str]) -> list[int] | None:
    """The header positions a mapping names: one column, or several joined by ``+`` (交易日期+交易時間,
    as many bank exports split the time); None when the header lacks one. A column whose own
    name holds a ``+`` is taken whole."""
    if spec in header:
        return [header.index(spec)]
    parts = [p.strip() for p in spec.split("+")]
    if len(parts) > 1 and all(p in header for p in parts):
        return [header.index(p) for p in parts]
    return None


def try_guess(
    header: list[str],
    names: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    given: dict[str, str] | None = None,
) -> dict[str, str] | None:
    try:
        return guess(header, names, required, given)
    except AssistantError:
        return None


def guess(
    header: list[str],
    names: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    given: dict[str, str] | None = None,
) -> dict[str, str]:
    """Our field → the header's column, for every field a column names unambiguously, with
    the fields ``given`` as given (their columns are not guessed for another field); an error
    when a required one is missing or ambiguous, or a given column is not in the header."""
    # ``field=`` (no column) keeps a field from being guessed: a column named like ours that
    # holds something else (a bank number that is not a 3-digit code).
    skipped = {f for f, c in (given or {}).items() if not c}
    given = {f: c for f, c in (given or {}).items() if c}
    taken = {part.strip() for c in given.values() for part in (c, *c.split("+"))}
    absent = [c for c in given.values() if columns(c, header) is None]
    if absent:
        raise AssistantError(
            f"沒有欄位 {absent} / columns {absent} not in the header (the header: "
            f"{', '.join(header)})"
        )
    folded = {h: _fold(h) for h in header if h and not _DUPLICATE.search(h) and h not in taken}
    mapping: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for field, known in names.items():
        wanted = {_fold(n) for n in known}
        hits = [h for h, f in folded.items() if f in wanted]
        if len(hits) == 1:
            mapping[field] = hits[0]
        elif len(hits) > 1:
            ambiguous[field] = hits
    for field in (*given, *skipped):
        mapping.pop(field, None)
        ambiguous.pop(field, None)
    if "ts" in names and "ts" not in given and "ts" not in skipped:
        _date_and_time(folded, mapping)
    _accounts_after_banks(header, names, mapping, taken, {*given, *skipped})
    mapping.update(given)
    missing = [f for f in required if f not in mapping]
    if missing or any(f in ambiguous for f in required):
        parts = [f"{f}: {' / '.join(ambiguous[f])}" for f in required if f in ambiguous]
        said = (f"；欄名不明確 / ambiguous: {'; '.join(parts)}") if parts else ""
        raise AssistantError(
            f"無法由標題列判斷欄位 {missing or list(ambiguous)}{said}；請以 --map 指定，例如 --map "
            f"ts=交易時間 / the header does not say which column is {missing or list(ambiguous)}; "
            f"give --map field=column (the header: {', '.join(header)})"
        )
    return mapping


def _accounts_after_banks(
    header: list[str],
    names: dict[str, tuple[str, ...]],
    mapping: dict[str, str],
    taken: set[str],
    settled: set[str],
) -> None:
    """A bare account column (``Account``, its copy ``Account.1``) right after a bank column is
    that side's account, when no column names the side outright."""
    bare = {_fold(n) for n in BARE_ACCOUNT}
    for bank, side in SIDES.items():
        if side not in names or side in mapping or side in settled or bank not in mapping:
            continue
        at = header.index(mapping[bank]) if mapping[bank] in header else -1
        if 0 <= at < len(header) - 1:
            nxt = header[at + 1]
            if _fold(_DUPLICATE.sub("", nxt)) in bare and nxt not in taken:
                mapping[side] = nxt


def _date_and_time(folded: dict[str, str], mapping: dict[str, str]) -> None:
    """A date column and a time column apart are the time, joined, unless one column already
    holds both."""
    dates = [h for h, f in folded.items() if f in {_fold(n) for n in DATE_NAMES}]
    times = [h for h, f in folded.items() if f in {_fold(n) for n in TIME_NAMES}]
    if len(dates) == 1 and len(times) == 1:
        mapping["ts"] = f"{dates[0]}+{times[0]}"
    elif "ts" not in mapping and len(dates) == 1:
        mapping["ts"] = dates[0]
    elif "ts" not in mapping and not dates and len(times) == 1:
        # a 時間 column with no date column beside it holds the whole time
        mapping["ts"] = times[0]
