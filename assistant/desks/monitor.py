"""The fraud desk's transfer monitor: scoring transfers on arrival, the alert queue, the rules.

Part of the fraud desk (its audit records carry the ``fraud`` area): every channel scores a
transfer, lists or decides an alert and changes the rules through here, with the calling user.
Each call checks the permission table and is recorded: a transfer scored alone is one record
with its decision; a batch (a file, a replay, an API body) is one record that counts its
decisions and names the alerts it stored (each alert row carries its transfer and reasons); a
confirm / dismiss names the alert, its account and the outcome; a change of rules names the
version before and after and what changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.desks.base import AuditTrail, Desk
from assistant.fraud.service import FraudService
from assistant.fraud.trace import TraceResult
from assistant.monitor.service import BatchResult, MonitorService
from assistant.monitor.transfers import Transfer
from assistant.permissions import UserContext


@dataclass(frozen=True)
class MonitorStart:
    """How the monitor started: warmed on ``warmed`` ledger transfers, or from its saved state
    (``restored``) and then caught up on the ledger (None: the snapshot did not say where it
    stopped)."""

    warmed: int | None = None
    restored: bool = False
    caught_up: BatchResult | None = None


class FraudMonitorDesk(Desk):
    area = "fraud"

    def __init__(self, monitor: MonitorService, fraud: FraudService, audit: AuditTrail) -> None:
        super().__init__(audit)
        self._monitor = monitor
        self._fraud = fraud

    # ---- scoring ------------------------------------------------------------------------------

    def score(self, user: UserContext | None, row: Mapping[str, Any]) -> dict[str, Any]:
        """One transfer on arrival: its decision with reasons (and the alert's id, if stored)."""
        args = {"transfer": _field(row, "id")}
        u = self.allow(user, "fraud.monitor", args)
        decision, alert_id = self._monitor.score(row)
        out = {**decision.to_dict(), "alert_id": alert_id}
        self.record(
            u,
            "fraud.monitor.score",
            {**args, "rules_version": decision.rules_version},
            f"{decision.action} {decision.account}"
            + (f" #{alert_id}: " + "; ".join(r.rule for r in decision.reasons) if alert_id else ""),
        )
        return out

    def score_batch(
        self,
        user: UserContext | None,
        rows: Iterable[tuple[int, Mapping[str, Any] | Transfer]],
        *,
        source: str = "batch",
        keep_passes: bool = True,
    ) -> BatchResult:
        """Rows in arrival order as (row number, row): a bad row is reported with its number and
        reason, the rest are scored."""
        u = self.allow(user, "fraud.monitor", {"source": source})
        result = self._monitor.score_batch(rows, keep_passes=keep_passes)
        counts = result.counts()
        ids = result.alerts
        self.record(
            u,
            "fraud.monitor.batch",
            {
                "source": source,
                **counts,
                "rules_version": self._monitor.monitor().rules.version,
                "alert_ids": [ids[0], ids[-1]] if ids else [],
                "bad_rows": [e["row"] for e in result.errors[:100]],
            },
            ", ".join(f"{k}={v}" for k, v in counts.items())
            + (f"; alerts #{ids[0]}–#{ids[-1]}" if ids else ""),
        )
        return result

    def replay_ledger(self, user: UserContext | None, *, keep_passes: bool = False) -> BatchResult:
        """The stored ledger's transfers, in time order, through the monitor (a warm start for
        its state, or a look at what the rules would have said)."""
        from assistant.monitor.transfers import from_arrays

        self.allow(user, "fraud.monitor", {"source": "ledger"})
        arrays = self._fraud.ledger.arrays()
        rows = enumerate(from_arrays(arrays), start=1)
        return self.score_batch(user, rows, source="ledger", keep_passes=keep_passes)

    def warm(
        self,
        user: UserContext | None,
        *,
        days: int | None = None,
        only_cold: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int | None:
        """The stored ledger (its last ``days`` only, if given) fed through the monitor to
        build its state, without alerts: a warm start before scoring new transfers.
        ``only_cold``: not when the monitor started from its saved state (returns None; the
        server's warm at start, a command's ``--warm``). The ledger is read under the monitor's
        lock, so a transfer scored meanwhile waits and is judged on the warmed state."""
        from assistant.monitor.transfers import from_arrays

        args: dict[str, Any] = {"source": "ledger", "days": days}
        if only_cold:
            args["only_cold"] = True
        u = self.allow(user, "fraud.monitor", args)

        def history() -> Iterator[Transfer]:  # read when the monitor first asks, under its lock
            since = None
            if days is not None:
                latest = self._fraud.latest()
                since = latest - timedelta(days=days) if latest is not None else None
            yield from from_arrays(self._fraud.ledger.arrays(since=since))

        n = self._monitor.warm(history(), only_cold=only_cold, progress=progress)
        self.record(
            u,
            "fraud.monitor.warm",
            args,
            f"{n} 筆 transfers"
            if n is not None
            else "已由已存狀態開始，未暖機 / started from the saved state: not warmed",
        )
        return n

    def catch_up(
        self,
        user: UserContext | None,
        *,
        days: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> BatchResult | None:
        """After a start from the saved state: the stored ledger's transfers since the last
        one the monitor saw (at most its last ``days``), scored in time order with their
        alerts stored. None: the monitor started cold, or from a snapshot that does not say
        where it stopped."""
        from assistant.monitor.transfers import from_arrays

        args: dict[str, Any] = {"source": "ledger", "days": days}
        u = self.allow(user, "fraud.monitor", args)

        def since(ts: int) -> Iterator[Transfer]:  # read when the monitor asks, under its lock
            start = datetime.fromtimestamp(ts, UTC)
            if days is not None:
                latest = self._fraud.latest()
                if latest is not None:
                    start = max(start, latest - timedelta(days=days))
            yield from from_arrays(self._fraud.ledger.arrays(since=start))

        result = self._monitor.catch_up(since, progress=progress)
        if result is None:
            return None
        counts = result.counts()
        ids = result.alerts
        self.record(
            u,
            "fraud.monitor.catch_up",
            {**args, "rules_version": self._monitor.monitor().rules.version},
            f"{counts['rows']} 筆 transfers: pass={counts['pass']}, alert={counts['alert']}, "
            f"hold={counts['hold']}" + (f"; alerts #{ids[0]}–#{ids[-1]}" if ids else ""),
        )
        return result

    def start(
        self,
        user: UserContext | None,
        *,
        days: int,
        progress: Callable[[int], None] | None = None,
    ) -> MonitorStart:
        """The monitor ready for live transfers: warmed on the ledger's last ``days`` when it
        starts without saved state, or, from its saved state, caught up on what the ledger got
        while it was down (each step recorded). Checked here first, so a refused start touches
        nothing; each step checks again as it is also called alone."""
        self.allow(user, "fraud.monitor", {"source": "ledger", "days": days})
        warmed = self.warm(user, days=days, only_cold=True, progress=progress)
        if warmed is not None:
            return MonitorStart(warmed=warmed)
        caught = self.catch_up(user, days=days, progress=progress)
        return MonitorStart(restored=True, caught_up=caught)

    # ---- the alert queue ----------------------------------------------------------------------

    def alerts(
        self,
        user: UserContext | None,
        status: str | None = "open",
        limit: int = 50,
        account: str | None = None,
    ) -> list[dict[str, Any]]:
        args = {"status": status, "limit": limit, "account": account}
        u = self.allow(user, "fraud.read", args)
        rows = self._monitor.alerts(status, limit, account)
        self.record(u, "fraud.monitor.alerts", args, f"{len(rows)} 筆 alerts")
        return rows

    def alert_accounts(
        self, user: UserContext | None, status: str | None = "open", limit: int = 50
    ) -> list[dict[str, Any]]:
        """The alert queue by account (``MonitorService.alert_accounts``)."""
        args = {"status": status, "limit": limit}
        u = self.allow(user, "fraud.read", args)
        rows = self._monitor.alert_accounts(status, limit)
        self.record(u, "fraud.monitor.alert_accounts", args, f"{len(rows)} accounts")
        return rows

    def alert(
        self, user: UserContext | None, alert_id: int, *, conversation_id: str | None = None
    ) -> dict[str, Any]:
        """One alert with its account, transfer and reasons (the chat's 「警示 #12 的前期金流」
        starts here)."""
        args = {"alert_id": alert_id}
        u = self.allow(user, "fraud.read", args, conversation_id=conversation_id)
        out = self._monitor.alert(alert_id)
        self.record(
            u,
            "fraud.monitor.alert",
            {**args, "account": out["account"]},
            f"警示 #{alert_id} {out['status']} ({out['account']})",
            conversation_id=conversation_id,
        )
        return out

    def alert_trace(
        self,
        user: UserContext | None,
        alert_id: int,
        direction: str = "up",
        hops: int = 3,
        **options: Any,
    ) -> tuple[dict[str, Any], TraceResult]:
        """The alert and the money-flow trace of its account (``up``: 前期金流, where the money
        came from; ``down``: where it went), by the fraud service's own trace."""
        args = {"alert_id": alert_id, "direction": direction, "hops": hops}
        u = self.allow(user, "fraud.read", args)
        alert = self._monitor.alert(alert_id)
        result = self._fraud.trace(alert["account"], direction, hops, **options)
        self.record(
            u,
            "fraud.trace",
            {**args, "account": alert["account"]},
            f"{len(result.accounts)} 帳戶 accounts, {len(result.transfers)} 筆 transfers",
        )
        return alert, result

    def decide(
        self, user: UserContext | None, alert_id: int, *, confirm: bool, note: str = ""
    ) -> dict[str, Any]:
        """Confirm (fraud) or dismiss (not fraud) an alert; the outcome feeds the evaluation."""
        args = {"alert_id": alert_id, "confirm": confirm, "note": note.strip()}
        u = self.allow(user, "fraud.decide", args)
        out = self._monitor.decide(alert_id, u.name, confirm=confirm, note=note)
        self.record(
            u,
            f"fraud.monitor.{'confirm' if confirm else 'dismiss'}",
            {**args, "account": out["account"], "transfer": out["transfer_id"]},
            f"警示 #{alert_id} {'確認為詐騙' if confirm else '排除'} / alert "
            f"{'confirmed' if confirm else 'dismissed'} ({out['account']})",
        )
        return out

    def decide_account(
        self,
        user: UserContext | None,
        account: str,
        *,
        confirm: bool,
        note: str = "",
        up_to: int | None = None,
    ) -> dict[str, Any]:
        """Confirm or dismiss the account's open alerts, up to the newest the investigator saw
        (``MonitorService.decide_account``): one decision, one audit record naming each."""
        args = {"account": account, "confirm": confirm, "note": note.strip(), "up_to": up_to}
        u = self.allow(user, "fraud.decide", args)
        out = self._monitor.decide_account(account, u.name, confirm=confirm, note=note, up_to=up_to)
        word = ("確認為詐騙", "confirmed") if confirm else ("排除", "dismissed")
        self.record(
            u,
            f"fraud.monitor.{'confirm' if confirm else 'dismiss'}_account",
            {**args, "account": out["account"], "alert_ids": out["decided"]},
            f"帳戶 {out['account']} 的 {len(out['decided'])} 則警示{word[0]} / "
            f"{len(out['decided'])} alerts of the account {word[1]}",
        )
        return out

    def outcomes(self, user: UserContext | None) -> dict[str, Any]:
        u = self.allow(user, "fraud.read")
        out = self._monitor.outcomes()
        self.record(u, "fraud.monitor.outcomes", {}, f"{len(out)} rules")
        return out

    # ---- outside lists ----------------------------------------------------------------------

    def signals(self, user: UserContext | None) -> list[dict[str, Any]]:
        """The outside lists the monitor reads: source, licence, date, counts, version."""
        u = self.allow(user, "fraud.read")
        out = self._monitor.signal_tables()
        self.record(u, "fraud.monitor.signals", {}, f"{len(out)} 份 lists")
        return out

    def import_signals(
        self,
        user: UserContext | None,
        path: Path,
        *,
        name: str,
        kind: str,
        fmt: str,
        source: str,
        licence: str,
        as_of: str | None = None,
    ) -> dict[str, Any]:
        """A list from outside (165 open data, scam wallets) as a versioned table: it changes
        what the monitor holds, so it is recorded like a change of rules, with its source,
        licence, date and counts."""
        args = {
            "file": str(path),
            "name": name,
            "kind": kind,
            "format": fmt,
            "source": source,
            "licence": licence,
        }
        u = self.allow(user, "fraud.rules", args)
        meta, errors = self._monitor.import_signals(
            path, name=name, kind=kind, fmt=fmt, source=source, licence=licence, as_of=as_of
        )
        self.record(
            u,
            "fraud.monitor.signals_import",
            {**args, **{k: meta[k] for k in ("as_of", "rows", "bad", "entries", "version")}},
            f"{meta['name']} v{meta['version']}: {meta['entries']} entries from {meta['rows']} "
            f"rows ({meta['bad']} bad), as of {meta['as_of']}",
        )
        return {**meta, "errors": errors}

    # ---- the rules ----------------------------------------------------------------------------

    def rules(self, user: UserContext | None) -> dict[str, Any]:
        u = self.allow(user, "fraud.read")
        rs = self._monitor.rules()
        self.record(u, "fraud.monitor.rules", {}, rs.version)
        return {
            **rs.to_dict(),
            "history": self._monitor.rule_versions(),
            "mule_model": self._monitor.mule_model(),
        }

    def set_rules(
        self, user: UserContext | None, doc: Mapping[str, Any], note: str = ""
    ) -> dict[str, Any]:
        """A new version of the rules, in force from the next transfer: itself a decision,
        audited with the versions before and after and what changed."""
        args = {"version": _field(doc, "version")[:40], "note": note.strip()[:500]}
        u = self.allow(user, "fraud.rules", args)
        old, new = self._monitor.set_rules(doc, u.name, note)
        changes = new.diff(old)
        self.record(
            u,
            "fraud.monitor.rules_change",
            {**args, "from": old.version, "to": new.version, "changes": changes},
            f"規則 {old.version} → {new.version} / rules changed: {', '.join(changes) or '-'}",
        )
        return {"from": old.version, "to": new.version, "changes": changes}


def _field(doc: Any, key: str) -> str:
    """A field for the audit record's arguments, read before the document is checked."""
    return str(doc.get(key, ""))[:64] if isinstance(doc, Mapping) else ""
