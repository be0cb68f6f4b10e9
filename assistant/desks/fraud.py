"""The fraud desk: every read of the ledger and every decision on an account, for every channel.

Investigators reach the ledger through here only: the chat agent's tools, ``assistant fraud …``,
the 防詐 tab and its HTTP API call these methods with the calling user. Each one checks the
permission table and records who looked at which account (or why they were refused).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from assistant.desks.base import AuditTrail, Desk
from assistant.fraud.actions import ActionStore
from assistant.fraud.importers import ImportReport
from assistant.fraud.ledger import normalize_account
from assistant.fraud.service import FraudService
from assistant.fraud.trace import TraceResult
from assistant.permissions import UserContext


def _day(value: Any) -> Any:
    """Dates as ISO text, so the audit record's arguments are plain JSON."""
    return value.isoformat() if isinstance(value, (date, datetime)) else value


class FraudDesk(Desk):
    area = "fraud"

    def __init__(self, fraud: FraudService, actions: ActionStore, audit: AuditTrail) -> None:
        super().__init__(audit)
        self._fraud = fraud
        self._actions = actions

    # ---- open: no customer data ----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many banks, accounts and transfers the ledger holds (no customer data)."""
        return self._fraud.counts()

    def latest(self) -> datetime | None:
        """When the newest transfer happened: what "the last 7 days" counts back from."""
        return self._fraud.latest()

    # ---- reading the ledger -------------------------------------------------------------

    def account(
        self, user: UserContext | None, account: str, *, conversation_id: str | None = None
    ) -> dict[str, Any]:
        args = {"account": normalize_account(account)}
        u = self.allow(user, "fraud.read", args, conversation_id=conversation_id)
        info = self._fraud.account(account)
        self.record(
            u,
            "fraud.account",
            args,
            f"帳戶 {info['id']} / account looked up",
            conversation_id=conversation_id,
        )
        return info

    def trace(
        self,
        user: UserContext | None,
        account: str,
        direction: str = "down",
        hops: int = 3,
        *,
        conversation_id: str | None = None,
        **options: Any,
    ) -> TraceResult:
        """A money-flow trace (see :meth:`FraudService.trace` for the options)."""
        args = {
            "account": normalize_account(account),
            "direction": direction,
            "hops": hops,
            **{k: _day(v) for k, v in options.items() if v is not None},
        }
        u = self.allow(user, "fraud.read", args, conversation_id=conversation_id)
        result = self._fraud.trace(account, direction, hops, **options)
        self.record(
            u,
            "fraud.trace",
            args,
            f"{len(result.accounts)} 帳戶 accounts, {len(result.transfers)} 筆 transfers",
            conversation_id=conversation_id,
        )
        return result

    def evidence(self, user: UserContext | None, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The memos (附言) and original amounts of transfers a trace returned: part of that
        trace's read."""
        self.allow(user, "fraud.read", {"transfers": len(ids)})
        return self._fraud.evidence(ids)

    def score(
        self,
        user: UserContext | None,
        account: str,
        reasons: int = 5,
        *,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        args = {"account": normalize_account(account)}
        u = self.allow(user, "fraud.read", args, conversation_id=conversation_id)
        out = self._fraud.score(account, reasons=reasons)
        self.record(
            u, "fraud.score", args, f"score {out['score']:.3f}", conversation_id=conversation_id
        )
        return out

    def explain(
        self,
        user: UserContext | None,
        account: str,
        reasons: int = 5,
        *,
        conversation_id: str | None = None,
    ) -> list[dict[str, Any]]:
        args = {"account": normalize_account(account)}
        u = self.allow(user, "fraud.read", args, conversation_id=conversation_id)
        out = self._fraud.explain(account, reasons=reasons)
        self.record(
            u,
            "fraud.explain",
            args,
            ", ".join(r["feature"] for r in out) or "-",
            conversation_id=conversation_id,
        )
        return out

    def ring(
        self,
        user: UserContext | None,
        account: str,
        *,
        conversation_id: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """這個帳戶的同夥有哪些：the accounts of the pattern around ``account``, ranked, with
        the transfers that tie them (see :meth:`FraudService.ring` for the options)."""
        args = {
            "account": normalize_account(account),
            **{k: v for k, v in options.items() if v is not None},
        }
        u = self.allow(user, "fraud.read", args, conversation_id=conversation_id)
        out = self._fraud.ring(account, **options)
        self.record(
            u,
            "fraud.ring",
            args,
            f"{len(out['members'])} 帳戶 accounts of {out['considered']} considered",
            conversation_id=conversation_id,
        )
        return out

    def model(self, user: UserContext | None) -> dict[str, str]:
        """Which scorer scores this ledger: the bank's own, a federated one, or the reference
        (no labels here to train on); what a list of scores is read with."""
        self.allow(user, "fraud.read")
        return self._fraud.model_info()

    def top(self, user: UserContext | None, n: int = 20) -> list[dict[str, Any]]:
        u = self.allow(user, "fraud.read", {"top": n})
        rows = self._fraud.top(n)
        self.record(u, "fraud.top", {"top": n}, f"{len(rows)} 帳戶 accounts")
        return rows

    # ---- changing the ledger and the scorer -----------------------------------------------

    def import_amlsim(self, user: UserContext | None, folder: Path) -> ImportReport:
        args = {"folder": str(folder)}
        u = self.allow(user, "fraud.ledger", args)
        report = self._fraud.import_amlsim(folder)
        self.record(u, "fraud.import", args, _imported(report))
        return report

    def import_amlgentex(self, user: UserContext | None, path: Path) -> ImportReport:
        args = {"path": str(path)}
        u = self.allow(user, "fraud.ledger", args)
        report = self._fraud.import_amlgentex(path)
        self.record(u, "fraud.import", args, _imported(report))
        return report

    def import_csv(
        self, user: UserContext | None, path: Path, mapping: dict[str, str], **kwargs: Any
    ) -> ImportReport:
        args = {"file": str(path), "mapping": mapping, **_given_rates(kwargs)}
        u = self.allow(user, "fraud.ledger", args)
        report = self._fraud.import_csv(path, mapping, **kwargs)
        self.record(u, "fraud.import", args, _imported(report))
        return report

    def import_statement(
        self, user: UserContext | None, path: Path, mapping: dict[str, str], **kwargs: Any
    ) -> ImportReport:
        """One account's statement (調閱的交易明細) into the ledger."""
        args = {
            "file": str(path),
            "mapping": mapping,
            "account": kwargs.get("account"),
            **_given_rates(kwargs),
        }
        u = self.allow(user, "fraud.ledger", args)
        report = self._fraud.import_statement(path, mapping, **kwargs)
        self.record(u, "fraud.import", args, _imported(report))
        return report

    def generate(self, user: UserContext | None, **kwargs: Any) -> dict[str, Any]:
        args = {k: _day(v) for k, v in kwargs.items()}
        u = self.allow(user, "fraud.ledger", args)
        out = self._fraud.generate(**kwargs)
        self.record(u, "fraud.generate", args, f"{out.get('transfers', 0)} transfers")
        return out

    def train(self, user: UserContext | None) -> dict[str, Any]:
        u = self.allow(user, "fraud.ledger")
        out = self._fraud.train()
        self.record(u, "fraud.train", {}, ", ".join(f"{k}={v}" for k, v in out.items())[:300])
        return out

    # ---- proposals and decisions --------------------------------------------------------

    def actions(
        self, user: UserContext | None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Proposals and decisions, newest first (they name accounts and why they are
        suspected)."""
        args = {"status": status, "limit": limit}
        u = self.allow(user, "fraud.read", args)
        rows = self._actions.list(status, limit)
        self.record(u, "fraud.actions", args, f"{len(rows)} 筆 actions")
        return rows

    def propose(
        self,
        user: UserContext | None,
        kind: str,
        account: str,
        *,
        params: dict[str, Any] | None = None,
        reason: str = "",
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        """Propose a flag or an evidence export: nothing changes until a person decides."""
        args = {"kind": kind, "account": normalize_account(account), **(params or {})}
        u = self.allow(user, "fraud.propose", args, conversation_id=conversation_id)
        out = self._actions.propose(
            u.name, kind, account, params=params, reason=reason, conversation_id=conversation_id
        )
        self.record(
            u,
            "fraud.propose",
            args,
            f"#{out['id']} {out['kind']} {out['status']}",
            conversation_id=conversation_id,
        )
        return out

    def decide(
        self, user: UserContext | None, action_id: int, *, confirm: bool, note: str = ""
    ) -> dict[str, Any]:
        """Carry out (``confirm``) or turn down a proposal; the decision is recorded with what
        was done (the account's status before and after, or the evidence files)."""
        args = {"action_id": action_id, "confirm": confirm, "note": note.strip()}
        u = self.allow(user, "fraud.decide", args)
        action, decided = self._actions.decide(action_id, u.name, confirm=confirm, note=note)
        self._audit.record_action(
            u,
            conversation_id=action["conversation_id"],
            action=f"fraud.{action['kind']}.{'confirm' if confirm else 'reject'}",
            args={
                "action_id": action_id,
                "account": action["account"],
                "params": action["params"],
                "proposed_by": action["proposed_by"],
                "note": note.strip(),
            },
            outcome=_outcome(decided),
            agent=self.area,
        )
        return decided


def _imported(report: ImportReport) -> str:
    d = report.as_dict()
    return ", ".join(f"{k}={v}" for k, v in d.items() if k != "errors")[:300]


def _outcome(a: dict[str, Any]) -> str:
    if a["status"] == "rejected":
        return f"駁回 #{a['id']} {a['kind']} {a['account']} / rejected"
    if a["kind"] == "flag":
        r = a["result"]
        return (
            f"帳戶 {a['account']} 狀態 {r.get('status_before')} → {r.get('status_after')} / "
            f"account status changed"
        )
    files = "; ".join(f"{f['file']} sha256={f['sha256']}" for f in a["result"].get("files", []))
    return f"已匯出證據 / evidence exported: {files}"


def _given_rates(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The rates staff gave for an import, for its audit record (none: nothing added)."""
    return {"rates": kwargs["rates"]} if kwargs.get("rates") else {}
