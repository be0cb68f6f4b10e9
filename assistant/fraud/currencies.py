"""The currency of a ledger row as a code (``TransferRow.currency``: three letters).

Bank exports write ISO 4217 codes (USD) or Chinese names (美金); simulators and other countries'
files write English names (IBM's AMLworld: US Dollar, Euro, Yuan, UK Pound, Bitcoin). The names
a text can carry are the extractor's (``assistant.extract.currency_code``); the ones only a
ledger writes are here, apart, so that prose such as "file a SAR" never reads as a currency.
"""

from __future__ import annotations

import functools
import re

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
