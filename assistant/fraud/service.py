"""The fraud desk's API: what the CLI, the agent and the UI call.

The trace index lives in memory, built from the ledger on first use and rebuilt when the ledger
has changed: every import through this service drops it, and an import by another process is
noticed within ``stale_s`` seconds (a cheap check of the transfer count).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fraud.generator import generate
from assistant.fraud.importers import ImportReport, import_amlsim, import_csv
from assistant.fraud.ledger import Ledger, normalize_account
from assistant.fraud.trace import TraceResult, TransferIndex

TAIPEI_OFFSET = timedelta(hours=8)


@dataclass
class _Built:
    index: TransferIndex
    transfers: int
    checked: float
    latest: int  # epoch seconds of the newest transfer


class FraudService:
    def __init__(self, ledger: Ledger, stale_s: float = 30.0) -> None:
        self.ledger = ledger
        self._stale_s = stale_s
        self._built: _Built | None = None
        self._lock = threading.Lock()

    # ---- the ledger ---------------------------------------------------------------------

    def import_amlsim(self, folder: Path) -> ImportReport:
        report = import_amlsim(self.ledger, folder)
        self._built = None
        return report

    def import_csv(self, path: Path, mapping: dict[str, str], **kwargs: Any) -> ImportReport:
        report = import_csv(self.ledger, path, mapping, **kwargs)
        self._built = None
        return report

    def generate(
        self,
        *,
        accounts: int,
        transfers: int,
        seed: int,
        start: date,
        days: int,
        rings: int,
    ) -> dict[str, Any]:
        g = generate(accounts, transfers, seed=seed, start=start, days=days, fraud_rings=rings)
        written = g.write_to(self.ledger)
        self._built = None
        return {**written, "patterns": len(g.patterns), "seed": seed}

    def counts(self) -> dict[str, int]:
        return self.ledger.counts()

    def account(self, account: str) -> dict[str, Any]:
        acct_id = normalize_account(account)
        row = self.ledger.account(acct_id)
        index = self.index()
        pos = index.position(acct_id) if self._known(index, acct_id) else None
        if row is None and pos is None:
            raise AssistantError(f"查無帳戶 {account} / unknown account {account}")
        info: dict[str, Any] = {"id": acct_id}
        if row is not None:
            info.update(
                bank_code=row.bank_code,
                holder_ref=row.holder_ref,
                opened=row.opened.isoformat() if row.opened else None,
                status=row.status,
            )
        return info

    # ---- tracing ------------------------------------------------------------------------

    def index(self) -> TransferIndex:
        with self._lock:
            now = time.monotonic()
            built = self._built
            if built is not None and now - built.checked < self._stale_s:
                return built.index
            count = self.ledger.counts()["transfers"]
            if built is not None and built.transfers == count:
                built.checked = now
                return built.index
            arrays = self.ledger.arrays()
            index = TransferIndex.from_arrays(
                arrays.transfer_ids,
                arrays.src,
                arrays.dst,
                arrays.ts,
                arrays.amount,
                list(arrays.account_ids),
            )
            latest = int(arrays.ts.max()) if len(arrays) else 0
            self._built = _Built(index, len(arrays), now, latest)
            return index

    def latest(self) -> datetime | None:
        """When the newest transfer happened (UTC): "the last 7 days" of a historical ledger."""
        self.index()
        assert self._built is not None
        return datetime.fromtimestamp(self._built.latest, UTC) if self._built.latest else None

    def trace(
        self,
        account: str,
        direction: str = "down",
        hops: int = 3,
        *,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        window_hours: float | None = None,
        min_amount: float = 0.0,
        per_hop_limit: int = 50,
        order: str = "amount",
        attribution: str = "proportional",
    ) -> TraceResult:
        """``since``/``until`` as dates are Taiwan calendar days (until inclusive)."""
        index = self.index()
        acct_id = normalize_account(account)
        if not self._known(index, acct_id):
            raise AssistantError(f"查無帳戶 {account} / unknown account {account}")
        return index.trace(
            acct_id,
            direction,  # type: ignore[arg-type]
            hops,
            since=_epoch(since, end=False),
            until=_epoch(until, end=True),
            window_s=int(window_hours * 3600) if window_hours else None,
            min_amount=min_amount,
            per_hop_limit=per_hop_limit,
            order=order,  # type: ignore[arg-type]
            attribution=attribution,  # type: ignore[arg-type]
        )

    @staticmethod
    def _known(index: TransferIndex, acct_id: str) -> bool:
        try:
            index.position(acct_id)
        except AssistantError:
            return False
        return True


def _epoch(value: date | datetime | None, *, end: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp())
    # A calendar day in Taiwan: from its 00:00 (+08:00); an end date includes the whole day.
    day = value + timedelta(days=1) if end else value
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - TAIPEI_OFFSET
    return int(midnight.timestamp()) - (1 if end else 0)
