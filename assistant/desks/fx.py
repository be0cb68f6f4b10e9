"""The FX desk: board rates, conversions and declaration duties for every role.

Rates and the declaration rules are public; nothing here reads a customer's data, so the desk
checks the role (every role may) and leaves the record to the chat turn that asked.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from assistant.desks.base import AuditTrail, Desk
from assistant.fx.rates import Rate
from assistant.fx.service import FxService
from assistant.permissions import UserContext


class FxDesk(Desk):
    area = "fx"

    def __init__(self, fx: FxService, audit: AuditTrail) -> None:
        super().__init__(audit)
        self._fx = fx

    def currencies(self) -> list[str]:
        """The currencies with board rates: what the page offers to choose from (public)."""
        return self._fx.currencies()

    def history(
        self,
        user: UserContext | None,
        currency: str,
        kind: str = "spot",
        start: date | None = None,
        end: date | None = None,
        source: str | None = None,
    ) -> list[Rate]:
        """A currency's board rates over a period (the FX tab's chart)."""
        self.allow(user, "fx.read")
        return self._fx.history(currency, kind, start, end, source)

    def rate(self, user: UserContext | None, *args: Any, **kwargs: Any) -> Any:
        self.allow(user, "fx.read")
        return self._fx.rate(*args, **kwargs)

    def convert(self, user: UserContext | None, *args: Any, **kwargs: Any) -> Any:
        self.allow(user, "fx.read")
        return self._fx.convert(*args, **kwargs)

    def check(self, user: UserContext | None, **kwargs: Any) -> Any:
        self.allow(user, "fx.read")
        return self._fx.check(**kwargs)

    def check_carry(self, user: UserContext | None, **kwargs: Any) -> Any:
        self.allow(user, "fx.read")
        return self._fx.check_carry(**kwargs)
