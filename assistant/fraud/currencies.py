"""The currency of a ledger row as a code (``TransferRow.currency``: three letters).

Bank exports write ISO 4217 codes (USD) or Chinese names (美金); simulators and other countries'
files write English names (IBM's AMLworld: US Dollar, Euro, Yuan, UK Pound, Bitcoin). The names
a text can carry are the extractor's (``assistant.extract.currency_code``); the ones only a
ledger writes are here, apart, so that prose such as "file a SAR" never reads as a currency.
"""

from __future__ import annotations

import functools
import re

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
    "swiss franc": "CHF",
    "ruble": "RUB",
    "rouble": "RUB",
    "盧布": "RUB",
    "rupee": "INR",
    "indian rupee": "INR",
    "mexican peso": "MXN",
    "brazil real": "BRL",
    "brazilian real": "BRL",
    "巴西幣": "BRL",
    "saudi riyal": "SAR",
    "沙烏地里亞爾": "SAR",
    "shekel": "ILS",
    "israeli shekel": "ILS",
    "new taiwan dollar": "TWD",
    "bitcoin": "BTC",
    "比特幣": "BTC",
}
_CODE = re.compile(r"[A-Za-z]{3}")


@functools.lru_cache(maxsize=256)
def read_currency(value: str, default: str = "TWD") -> str:
    """``value``'s code: empty is ``default``, a name is looked up, other three letters are a
    code (upper-cased); anything else is an error (the row is reported, not guessed)."""
    text = " ".join(value.split())
    if not text:
        return default
    # a name first: Yen is three letters but not a code
    code = currency_code(text) or LEDGER_NAMES.get(text.lower())
    if code is None and _CODE.fullmatch(text):
        code = text.upper()
    if code is None:
        raise AssistantError(
            f"無法辨識的幣別 {value!r}（請用 ISO 4217 代碼，例如 TWD、USD） / unknown currency "
            f"{value!r} (give an ISO 4217 code such as TWD or USD)"
        )
    return code
