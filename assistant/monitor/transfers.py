"""One transfer as the monitor sees it on arrival, read from a row of a file, an API body or the
ledger.

Times are int epoch seconds (UTC): the monitor compares and subtracts them millions of times, and
an int does that without time-zone questions. A time written without a zone is Taiwan time
(UTC+8), as the ledger's importers read it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

from assistant.dates import TAIPEI, parse_datetime
from assistant.errors import AssistantError
from assistant.fraud.column_names import TRANSFER_NAMES, guess, unique_header
from assistant.fraud.currencies import Rates, currency_of
from assistant.fraud.importers import kind_of
from assistant.fraud.ledger import LedgerArrays, normalize_account
from assistant.fraud.records import KINDS, is_reserved
from assistant.textfiles import NotPositive, delimiter, open_text, parse_amount

REQUIRED = ("id", "ts", "from_account", "to_account", "amount")


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    ts: int  # epoch seconds, UTC
    from_account: str
    to_account: str
    amount: float
    kind: str = "transfer"  # transfer | cash_in | cash_out
    channel: str = ""
    memo: str | None = None
    label: str | None = None  # ground truth (a replayed ledger's pattern); never read by rules

    @property
    def customer(self) -> str:
        """The customer's side of a cash event (the other side is the bank's CASH account)."""
        return self.to_account if self.kind == "cash_in" else self.from_account

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": iso(self.ts),
            "from_account": self.from_account,
            "to_account": self.to_account,
            "amount": self.amount,
            "kind": self.kind,
            "channel": self.channel,
        }


def iso(ts: int) -> str:
    """Epoch seconds as Taiwan time, ISO with its offset (what an investigator reads)."""
    return datetime.fromtimestamp(ts, TAIPEI).isoformat()


def _epoch(raw: Any) -> int:
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        if not math.isfinite(raw):
            raise ValueError(f"不是有限的數字 / not a finite number: {raw!r}")
        return int(raw)
    else:
        text = str(raw).strip()
        if text.isdigit():
            return int(text)
        value = parse_datetime(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=TAIPEI)
    return int(value.astimezone(UTC).timestamp())


def parse_transfer(row: Mapping[str, Any], rates: Rates | None = None) -> Transfer:
    """A transfer from a mapping (a CSV row, a JSON body); AssistantError, in both languages,
    naming what is wrong. An amount in another currency (``currency``) is scored in NT$ at
    the rate of its day (``rates``: the FX desk's board); without one it is refused, not
    scored as if NT$."""
    if not isinstance(row, Mapping):
        raise AssistantError(
            "一筆轉帳須為含欄位的物件（JSON object）/ a transfer must be an object with fields"
        )
    missing = [k for k in REQUIRED if row.get(k) in (None, "")]
    if missing:
        raise AssistantError(f"缺少欄位 {', '.join(missing)} / missing {', '.join(missing)}")
    try:
        ts = _epoch(row["ts"])
    except ValueError as exc:  # its own words say which part is wrong (no such date …)
        raise AssistantError(f"時間格式錯誤 / bad time: {row['ts']!r} ({exc})") from None
    except (TypeError, OverflowError):
        raise AssistantError(f"時間格式錯誤 / bad time: {row['ts']!r}") from None
    raw_amount = row["amount"]
    try:
        amount = parse_amount(raw_amount)
    except NotPositive:
        raise AssistantError(
            f"金額須為正數 / the amount must be positive: {raw_amount!r}"
        ) from None
    except (ValueError, TypeError):
        raise AssistantError(f"金額錯誤 / bad amount: {raw_amount!r}") from None
    said = row.get("currency")
    if said not in (None, ""):
        amount = _in_twd(amount, str(said), ts, rates)
    # the words the ledger's CSV import takes (轉帳, 存款, 提款, deposit, withdrawal …)
    word = str(row.get("kind") or "transfer").strip()
    kind = kind_of(word)
    if kind is None:
        raise AssistantError(f"未知的交易種類 / unknown kind {word!r}: {' | '.join(KINDS)}")
    frm = normalize_account(row["from_account"])
    to = normalize_account(row["to_account"])
    if frm == to:
        raise AssistantError(f"轉出與轉入帳號相同 / payer and payee are the same: {frm}")
    memo = row.get("memo")
    return Transfer(
        id=str(row["id"]).strip()[:64],
        ts=ts,
        from_account=frm,
        to_account=to,
        amount=amount,
        kind=kind,
        channel=str(row.get("channel") or "")[:8],
        memo=str(memo) if memo else None,
        label=row.get("pattern") or None,
    )


def _in_twd(amount: float, said: str, ts: int, rates: Rates | None) -> float:
    code = currency_of(said)
    if code is None:
        raise AssistantError(
            f"無法辨識的幣別 {said!r}（請用 ISO 4217 代碼，例如 TWD、USD） / unknown currency "
            f"{said!r} (give an ISO 4217 code such as TWD or USD)"
        )
    if code == "TWD":
        return amount
    day = datetime.fromtimestamp(ts, TAIPEI).date()
    rate = rates.twd(code, day) if rates else None
    if rate is None:
        raise AssistantError(
            f"沒有 {code} 在 {day.isoformat()} 的新臺幣匯率，無法評分（請先匯入牌告匯率：assistant fx "
            f"import-rates） / no NT$ rate for {code} on {day.isoformat()}: the transfer cannot be "
            "scored (import the board rates: assistant fx import-rates)"
        )
    return round(amount * rate, 2)


# A feed names its kind column as the API does: a payment-type column (ACH, Wire …) is not
# read as one, where the ledger import reads it (its words are transfers there, counted).
FEED_NAMES = {**TRANSFER_NAMES, "kind": ("交易種類", "交易類別", "kind")}


def renamer(header: list[str]) -> Callable[[list[str]], dict[str, str]]:
    """How a file's rows (lists of values) become ours: by the header's own names when it
    names ``REQUIRED`` (id, ts, from_account …); otherwise through the mapping told from its
    names (交易序號, 交易日期 + 交易時間, 轉出帳號 … as the ledger import tells them), or an
    error naming what is missing."""
    names = unique_header([h.strip() for h in header])
    if all(c in names for c in REQUIRED):
        return lambda values: dict(zip(names, values, strict=False))
    mapping = guess(names, FEED_NAMES, ())  # what the names settle; never raises
    absent = [c for c in REQUIRED if c not in mapping]
    if absent:
        raise AssistantError(
            f"CSV 標題列缺少（或無法判斷）欄位 {', '.join(absent)}，請以 {', '.join(REQUIRED)} 或銀行"
            f"慣用欄名為標題 / the CSV header lacks {', '.join(absent)} (or names it ambiguously): "
            f"head it {', '.join(REQUIRED)}, or with a bank's usual names (the header: "
            f"{', '.join(header)})"
        )
    where = {n: i for i, n in enumerate(names)}
    parts = {f: [where[p.strip()] for p in c.split("+")] for f, c in mapping.items()}

    def rename(values: list[str]) -> dict[str, str]:
        return {
            f: " ".join(v for i in idx if i < len(values) and (v := values[i].strip()))
            for f, idx in parts.items()
        }

    return rename


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file whose header names ``REQUIRED`` or lets them be told
    (``renamer``): UTF-8 or Big5, its separator told from the header, read row by row (a
    file of any size)."""
    with open_text(path) as handle:
        head = handle.readline()
        reader = csv.reader(chain([head], handle), delimiter=delimiter(head))
        ours = renamer(next(reader, []))
        line = 1
        try:
            for values in reader:
                line = reader.line_num
                if values:
                    yield line, ours(values)
        except UnicodeDecodeError:
            raise AssistantError(
                f"{path.name} 第 {line} 行之後編碼不一致 / {path.name}: the text after line {line} "
                "is not in the encoding of the lines before it"
            ) from None


def from_arrays(
    arrays: LedgerArrays, labels: Iterable[str | None] | None = None
) -> Iterator[Transfer]:
    """The ledger's transfers in time order (stable for equal times), as the monitor gets them."""
    import numpy as np

    order = np.argsort(arrays.ts, kind="stable")
    ids = arrays.account_ids
    kinds = arrays.kinds()
    label_list = list(labels) if labels is not None else None
    for i in order.tolist():
        yield Transfer(
            id=arrays.transfer_ids[i],
            ts=int(arrays.ts[i]),
            from_account=ids[arrays.src[i]],
            to_account=ids[arrays.dst[i]],
            amount=float(arrays.amount[i]),
            kind=KINDS[kinds[i]],
            label=label_list[i] if label_list is not None else None,
        )


__all__ = [
    "Transfer",
    "from_arrays",
    "is_reserved",
    "iso",
    "parse_transfer",
    "read_csv",
    "renamer",
]
