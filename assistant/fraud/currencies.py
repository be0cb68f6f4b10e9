"""The currency of a ledger row as a code (``TransferRow.currency``: three letters).

Bank exports write ISO 4217 codes (USD) or Chinese names (美金); simulators and other countries'
files write English names (IBM's AMLworld: US Dollar, Euro, Yuan, UK Pound, Bitcoin). The names
a text can carry are the extractor's (``assistant.extract.currency_code``); the ones only a
ledger writes are here, apart, so that prose such as "file a SAR" never reads as a currency.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import date

from assistant.errors import AssistantError
from assistant.extract import currency_code

LEDGER_NAMES = {
    "uk pound": "GBP",
    "british pound": "GBP",
    "pound sterling": "GBP",
    "canadian dollar": "CAD",
    "australian dollar": "AUD",
    "new zealand dollar": "NZD",
    "hong kong dollar": "HKD",
    "singapore dollar": "SGD",
    "new taiwan dollar": "TWD",
    "swiss franc": "CHF",
    "chinese yuan": "CNY",
    "korean won": "KRW",
    "thai baht": "THB",
    "philippine peso": "PHP",
    "indonesian rupiah": "IDR",
    "vietnamese dong": "VND",
    "malaysian ringgit": "MYR",
    "south african rand": "ZAR",
    "swedish krona": "SEK",
    "norwegian krone": "NOK",
    "danish krone": "DKK",
    "polish zloty": "PLN",
    "ruble": "RUB",
    "rouble": "RUB",
    "russian ruble": "RUB",
    "盧布": "RUB",
    "rupee": "INR",
    "indian rupee": "INR",
    "pakistani rupee": "PKR",
    "mexican peso": "MXN",
    "brazil real": "BRL",
    "brazilian real": "BRL",
    "巴西幣": "BRL",
    "saudi riyal": "SAR",
    "沙烏地里亞爾": "SAR",
    "dirham": "AED",
    "uae dirham": "AED",
    "moroccan dirham": "MAD",
    "albanian lek": "ALL",
    "naira": "NGN",
    "nigerian naira": "NGN",
    "turkish lira": "TRY",
    "shekel": "ILS",
    "israeli shekel": "ILS",
    "bitcoin": "BTC",
    "比特幣": "BTC",
    "ether": "ETH",
    "ethereum": "ETH",
    "以太幣": "ETH",
}
# ISO 4217's code for "no currency": what a row keeps when its currency cannot be named
UNNAMED = "XXX"
_CODE = re.compile(r"[A-Za-z]{3}")


@functools.lru_cache(maxsize=256)
def currency_of(value: str, default: str = "TWD") -> str | None:
    """``value``'s code: empty is ``default``, a name is looked up (English plurals too: UK
    pounds), other three letters are a code (upper-cased); None when it names none."""
    text = " ".join(value.split())
    if not text:
        return default
    # a name first: Yen is three letters but not a code
    for name in (text, text[:-1] if text.lower().endswith("s") else ""):
        code = name and (currency_code(name) or LEDGER_NAMES.get(name.lower()))
        if code:
            return code
    return text.upper() if _CODE.fullmatch(text) else None


def unnamed_note(value: str) -> str:
    """The import report's caveat for a row kept with a currency no code names."""
    return (
        f"幣別 {value.strip()[:40]} 無法辨識，記為 {UNNAMED} / currency {value.strip()[:40]!r} "
        f"not recognised, kept as {UNNAMED}"
    )


BoardRate = Callable[[str, date], "float | None"]


class Rates:
    """NT$ per unit of a currency on a day, for an import to store amounts in NT$: the rates
    staff give (``given``, one per currency, e.g. the day's board for a file of one day) win;
    else ``board`` (the FX desk's board rates: the mid of the latest quote of that day or the
    days just before, None when there is none). Asked once per currency and day."""

    def __init__(self, given: dict[str, float] | None = None, board: BoardRate | None = None):
        self.given = {k.upper(): float(v) for k, v in (given or {}).items()}
        bad = [k for k, v in self.given.items() if not (math.isfinite(v) and v > 0)]
        if bad:
            raise AssistantError(
                f"匯率須為正數 / a rate must be a positive number: {', '.join(bad)}"
            )
        self.board = board
        self._asked: dict[tuple[str, date], float | None] = {}

    def __bool__(self) -> bool:
        return bool(self.given) or self.board is not None

    def twd(self, currency: str, day: date) -> float | None:
        if currency == "TWD":
            return 1.0
        if currency in self.given:
            return self.given[currency]
        if self.board is None:
            return None
        key = (currency, day)
        if key not in self._asked:
            self._asked[key] = self.board(currency, day)
        return self._asked[key]


def rate_pairs(items: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``CUR=VALUE`` items (the CLI's ``--rate USD=31.5``: NT$ per unit) as a mapping."""
    out: dict[str, float] = {}
    for item in items:
        cur, sep, value = item.partition("=")
        code = currency_of(cur.strip(), "") if cur.strip() else None
        try:
            rate = float(value.replace(",", "")) if sep else float("nan")
        except ValueError:
            rate = float("nan")
        if not code or not (math.isfinite(rate) and rate > 0):
            raise AssistantError(
                f"匯率格式為 幣別=新臺幣金額（如 USD=31.5） / a rate is CUR=NT$ per unit "
                f"(USD=31.5): {item!r}"
            )
        out[code] = rate
    return out
