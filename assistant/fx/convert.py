"""Conversion on the side of the board a bank would use.

A customer who BUYS foreign currency (結購, paying TWD) pays the bank's SELLING rate (本行賣出);
a customer who SELLS foreign currency (結售, getting TWD) gets the bank's BUYING rate (本行買入).
``side`` names what the customer does with the foreign currency, whichever of the two
currencies the amount is written in: "客戶結購 70 萬美元要付多少台幣" is
``convert(700000, "USD", "TWD", side="customer-buys")`` and uses 本行賣出 even though the
amount is in USD. Without ``side``: TWD → foreign is a purchase, foreign → TWD a sale.

Between two foreign currencies the bank crosses through TWD: by default the customer sells the
from-currency (本行買入) and buys the to-currency (本行賣出); with ``side="customer-buys"`` the
amount is what the customer receives in the from-currency (本行賣出) and pays with the
to-currency (本行買入).

Rounding as a bank shows it: TWD to whole 元, JPY/KRW/VND to whole units, others to cents, all
ROUND_HALF_UP; the result is computed from the unrounded product, rates stay as quoted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import TYPE_CHECKING, Any, Literal

from assistant.errors import AssistantError
from assistant.extract import MAX_AMOUNT
from assistant.fx.rates import BASE, KIND_ZH, Rate, check_currency

if TYPE_CHECKING:
    from assistant.fx.rates import RateStore

Side = Literal["customer-buys", "customer-sells"]
SIDES: tuple[str, ...] = ("customer-buys", "customer-sells")
CONVERT_KINDS: tuple[str, ...] = ("cash", "spot")
WHOLE_UNITS = frozenset({"TWD", "JPY", "KRW", "VND"})
_CROSS = Context(prec=8, rounding=ROUND_HALF_UP)  # an effective cross rate, 8 significant digits


def quantize(amount: Decimal, currency: str) -> Decimal:
    """An amount as the bank shows it: whole units for TWD (元), JPY, KRW, VND; else cents."""
    step = Decimal(1) if currency in WHOLE_UNITS else Decimal("0.01")
    return amount.quantize(step, rounding=ROUND_HALF_UP)


def to_decimal(value: Decimal | int | str | float, what: str = "金額 amount") -> Decimal:
    """Decimal, int, float or text (700000, "70萬", "1.5億", "600,000") → Decimal."""
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, bool):
        raise AssistantError(f"{what} 不是數字 / not a number: {value!r}")
    elif isinstance(value, int | float):
        out = Decimal(str(value))
    else:
        out = parse_amount(value, what)
    if not out.is_finite():
        raise AssistantError(f"{what} 不是數字 / not a number: {value!r}")
    # 10^20 is no transaction: refused here, before the product with a rate runs past the
    # 28-digit Decimal context or an absurd declaration duty is reported as if it were real.
    if abs(out) >= MAX_AMOUNT:
        zh, _, en = what.partition(" ")
        raise AssistantError(
            f"{zh}過大（上限 1,000 兆）/ the {en or zh} is implausibly large (limit 10^15): {out}"
        )
    return out


def parse_amount(text: str, what: str = "金額 amount") -> Decimal:
    """Amounts as the desk types them: 700000, 600,000, 70萬, 1.5億, 三百萬, 5萬3千."""
    from assistant.extract import _norm, _parse_number  # one number grammar for the project

    raw = unicodedata.normalize("NFKC", str(text)).strip().replace(" ", "")
    value = Decimal(raw) if re.fullmatch(r"\d+(?:\.\d+)?", raw) else None
    if value is None and raw:
        value = _parse_number(_norm(raw))
        if value is not None and value == value.to_integral_value():
            value = value.to_integral_value()  # 1.5億 → 150000000, not 150000000.0
    if value is None:
        zh, _, en = what.partition(" ")
        raise AssistantError(
            f"{zh}看不懂 / cannot read the {en or zh}: {text!r} (e.g. 700000, 600,000, 70萬, 1.5億)"
        )
    return value


@dataclass(frozen=True)
class Conversion:
    amount: Decimal  # the result, rounded as the bank shows it
    currency: str  # the result's currency
    from_amount: Decimal
    from_currency: str
    rate: Decimal  # the quoted rate applied; for a cross, the effective rate (8 digits)
    rate_kind: str  # cash | spot
    rate_side: str  # bank-sells | bank-buys | cross
    rate_date: date  # the quote's date (for a cross, the older leg's)
    requested_date: date | None
    stale_days: int
    legs: list[Rate] = field(default_factory=list)
    customer_side: str = "customer-buys"  # what the customer does with the foreign currency
    side_inferred: bool = False
    formula: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Decimals as strings (exact), dates ISO."""
        return {
            "amount": str(self.amount),
            "currency": self.currency,
            "from_amount": str(self.from_amount),
            "from_currency": self.from_currency,
            "rate": str(self.rate),
            "rate_kind": self.rate_kind,
            "rate_side": self.rate_side,
            "rate_date": self.rate_date.isoformat(),
            "requested_date": self.requested_date.isoformat() if self.requested_date else None,
            "stale_days": self.stale_days,
            "customer_side": self.customer_side,
            "side_inferred": self.side_inferred,
            "legs": [leg.to_dict() for leg in self.legs],
            "formula": self.formula,
        }


def fmt(amount: Decimal) -> str:
    """1234567.5 → '1,234,567.5' (as many decimals as the amount has)."""
    return f"{amount:,}"


def _quote(leg: Rate, bank_side: str) -> Decimal:
    value = leg.bank_sells if bank_side == "bank-sells" else leg.bank_buys
    if value is None:
        zh = "賣出" if bank_side == "bank-sells" else "買入"
        raise AssistantError(
            f"{leg.currency} 於 {leg.rate_date.isoformat()} 沒有{KIND_ZH[leg.kind]}{zh}匯率 / "
            f"no {leg.kind} {bank_side} rate for {leg.currency} on {leg.rate_date.isoformat()}"
        )
    return value


def convert(
    store: RateStore,
    amount: Decimal | int | str,
    from_currency: str,
    to_currency: str,
    *,
    side: Side | None = None,
    kind: Literal["cash", "spot"] = "spot",
    on: date | None = None,
    source: str | None = None,
) -> Conversion:
    value = to_decimal(amount)
    if value <= 0:
        raise AssistantError(f"金額須大於 0 / the amount must be positive: {value}")
    src, dst = check_currency(from_currency), check_currency(to_currency)
    if src == dst:
        raise AssistantError(f"相同幣別無須換算 / {src} to {dst}: nothing to convert")
    if kind not in CONVERT_KINDS:
        raise AssistantError(f"換算只用現金或即期匯率 / convert uses cash or spot, not {kind!r}")
    if side is not None and side not in SIDES:
        raise AssistantError(f"方向錯誤 / side must be customer-buys or customer-sells: {side!r}")
    inferred = side is None
    if src != BASE and dst != BASE:
        return _cross(store, value, src, dst, side or "customer-sells", kind, on, source, inferred)
    foreign = dst if src == BASE else src
    customer = side or ("customer-buys" if src == BASE else "customer-sells")
    bank_side = "bank-sells" if customer == "customer-buys" else "bank-buys"
    leg = store.rate(foreign, on, kind, source)
    rate = _quote(leg, bank_side)
    raw = value * rate if src == foreign else value / rate
    result = quantize(raw, dst)
    op = "×" if src == foreign else "÷"
    zh_side = "本行賣出" if bank_side == "bank-sells" else "本行買入"
    formula = (
        f"{fmt(value)} {src} {op} {rate}（{zh_side}{KIND_ZH[kind]} {leg.rate_date.isoformat()}）"
        f" = {fmt(result)} {dst}"
    )
    return Conversion(
        amount=result,
        currency=dst,
        from_amount=value,
        from_currency=src,
        rate=rate,
        rate_kind=kind,
        rate_side=bank_side,
        rate_date=leg.rate_date,
        requested_date=on,
        stale_days=leg.stale_days,
        legs=[leg],
        customer_side=customer,
        side_inferred=inferred,
        formula=formula,
    )


def _cross(
    store: RateStore,
    value: Decimal,
    src: str,
    dst: str,
    side: str,
    kind: str,
    on: date | None,
    source: str | None,
    inferred: bool,
) -> Conversion:
    a, b = store.rate(src, on, kind, source), store.rate(dst, on, kind, source)
    if side == "customer-sells":  # sells src to the bank, buys dst from it
        ra, rb = _quote(a, "bank-buys"), _quote(b, "bank-sells")
        za, zb = "本行買入", "本行賣出"
    else:  # buys src (the amount) from the bank, pays with dst
        ra, rb = _quote(a, "bank-sells"), _quote(b, "bank-buys")
        za, zb = "本行賣出", "本行買入"
    result = quantize(value * ra / rb, dst)
    rate = _CROSS.divide(ra, rb)
    older = min((a, b), key=lambda r: r.rate_date)
    formula = (
        f"{fmt(value)} {src} × {ra}（{src} {za}{KIND_ZH[kind]} {a.rate_date.isoformat()}）"
        f" ÷ {rb}（{dst} {zb}{KIND_ZH[kind]} {b.rate_date.isoformat()}）= {fmt(result)} {dst}"
    )
    return Conversion(
        amount=result,
        currency=dst,
        from_amount=value,
        from_currency=src,
        rate=rate,
        rate_kind=kind,
        rate_side="cross",
        rate_date=older.rate_date,
        requested_date=on,
        stale_days=max(a.stale_days, b.stale_days),
        legs=[a, b],
        customer_side=side,
        side_inferred=inferred,
        formula=formula,
    )
