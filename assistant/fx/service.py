"""The FX desk service: what the CLI, the FX agent and the UI call."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from assistant.fx.border import CarryResult, check_carry
from assistant.fx.convert import Conversion, Side, convert
from assistant.fx.rates import ImportReport, Rate, RateStore
from assistant.fx.rules import RULES, CheckResult, Customer, Rule, check

if TYPE_CHECKING:
    from knowledge.catalog import Catalog


class FxService:
    def __init__(self, store: RateStore, catalog: Catalog | None = None) -> None:
        self.store = store
        self.catalog = catalog

    @property
    def rules(self) -> tuple[Rule, ...]:
        return RULES

    def import_rates(
        self, path: Path, source: str = "BOT", *, strict: bool = False
    ) -> ImportReport:
        return self.store.import_csv(Path(path), source, strict=strict)

    def rate(
        self,
        currency: str,
        on: date | None = None,
        kind: str = "spot",
        source: str | None = None,
    ) -> Rate:
        return self.store.rate(currency, on, kind, source)

    def history(
        self,
        currency: str,
        kind: str = "spot",
        start: date | None = None,
        end: date | None = None,
        source: str | None = None,
    ) -> list[Rate]:
        return self.store.history(currency, kind, start, end, source)

    def currencies(self) -> list[str]:
        return self.store.currencies()

    def convert(
        self,
        amount: Decimal | int | str,
        from_currency: str,
        to_currency: str,
        *,
        side: Side | None = None,
        kind: Literal["cash", "spot"] = "spot",
        on: date | None = None,
        source: str | None = None,
    ) -> Conversion:
        return convert(
            self.store,
            amount,
            from_currency,
            to_currency,
            side=side,
            kind=kind,
            on=on,
            source=source,
        )

    def check(
        self,
        *,
        customer: Customer,
        amount: Decimal | int | str,
        currency: str,
        ytd_usd: Decimal | int | str = Decimal(0),
        on: date | None = None,
        side: Side | None = None,
        source: str | None = None,
        kind: Literal["cash", "spot"] = "spot",
    ) -> CheckResult:
        return check(
            self.store,
            customer=customer,
            amount=amount,
            currency=currency,
            ytd_usd=ytd_usd,
            on=on,
            catalog=self.catalog,
            side=side,
            source=source,
            kind=kind,
        )

    def check_carry(
        self,
        *,
        amounts: list[tuple[Decimal | int | str, str]],
        on: date | None = None,
        source: str | None = None,
    ) -> CarryResult:
        """What one traveller must declare to customs for the cash carried on one trip."""
        return check_carry(self.store, amounts, on=on, catalog=self.catalog, source=source)
