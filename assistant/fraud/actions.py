"""Decisions on an account: the agent proposes, an investigator confirms or rejects.

Flagging an account (setting its status to 警示 or 衍生管制) and exporting the evidence of a
trace are a person's decisions. The fraud agent may only *propose* one (a ``fraud_action`` row
with status ``proposed``; the chat turn's audit record names the proposal as a tool call).
Confirming or rejecting is done by a person, through the fraud desk (``assistant.desks.fraud``),
which checks the role and appends each decision to the audit trail with what was done (the
status before and after, or the evidence file with its sha256). This store knows no users: it
keeps the proposals and carries decisions out.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from assistant.errors import AssistantError, NotFound
from assistant.fraud.ledger import normalize_account
from assistant.fraud.records import AccountRow, ActionRow
from assistant.fraud.service import FraudService

KINDS = ("flag", "export")
FLAG_STATUSES = ("警示", "衍生管制")
STATUSES = ("proposed", "confirmed", "rejected")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ActionStore:
    def __init__(self, fraud: FraudService, export_dir: Path) -> None:
        self._fraud = fraud
        self._engine = fraud.ledger.engine
        self._export_dir = export_dir
        # Two investigators pressing "confirm" at once must not both carry the action out.
        self._lock = threading.Lock()

    # ---- proposing (the agent) --------------------------------------------------------------

    def propose(
        self,
        proposed_by: str,
        kind: str,
        account: str,
        *,
        params: dict[str, Any] | None = None,
        reason: str = "",
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        if kind not in KINDS:
            raise AssistantError(f"未知的動作 / unknown action {kind!r}: flag | export")
        acct = normalize_account(account)
        info = self._fraud.account(acct)  # unknown account: a clear error, nothing stored
        params = dict(params or {})
        if kind == "flag":
            status = params.setdefault("status", "警示")
            if status not in FLAG_STATUSES:
                raise AssistantError(
                    f"標記只能是 {'、'.join(FLAG_STATUSES)} / flag status {status!r}"
                )
            if info.get("status") == status:
                raise AssistantError(
                    f"帳戶 {acct} 已是「{status}」狀態，無需再標記 / account {acct} is already "
                    f"flagged {status}"
                )
        else:
            params.setdefault("directions", ["up", "down"])
            params.setdefault("hops", 3)
        with Session(self._engine) as s:
            pending = s.exec(
                select(ActionRow).where(
                    ActionRow.account == acct,
                    ActionRow.kind == kind,
                    ActionRow.status == "proposed",
                )
            ).first()
            if pending is not None:  # asked twice: the same proposal, not a second one
                return _as_dict(pending)
            row = ActionRow(
                created_at=_now(),
                kind=kind,
                account=acct,
                params=params,
                reason=reason[:2000],
                proposed_by=proposed_by,
                conversation_id=conversation_id,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return _as_dict(row)

    # ---- reading ----------------------------------------------------------------------------

    def get(self, action_id: int) -> dict[str, Any]:
        with Session(self._engine) as s:
            row = s.get(ActionRow, action_id)
        if row is None:
            raise NotFound(f"沒有這個待辦動作 / no such action: #{action_id}")
        return _as_dict(row)

    def list(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Proposals and decisions, newest first."""
        if status is not None and status not in STATUSES:
            raise AssistantError(f"狀態須為 {'|'.join(STATUSES)} / status {status!r}")
        with Session(self._engine) as s:
            q = select(ActionRow).order_by(col(ActionRow.id).desc()).limit(limit)
            if status:
                q = q.where(ActionRow.status == status)
            return [_as_dict(r) for r in s.exec(q)]

    # ---- deciding (a person) ----------------------------------------------------------------

    def decide(
        self, action_id: int, decided_by: str, *, confirm: bool, note: str = ""
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Carry out (``confirm``) or turn down a proposal: the proposal as it was, and as
        decided."""
        with self._lock:
            action = self.get(action_id)
            if action["status"] != "proposed":
                raise AssistantError(
                    f"動作 #{action_id} 已{_zh_status(action['status'])}，不能再決定 / action "
                    f"#{action_id} was already {action['status']}"
                )
            result: dict[str, Any] = {}
            if confirm:
                result = self._flag(action) if action["kind"] == "flag" else self._export(action)
            status = "confirmed" if confirm else "rejected"
            with Session(self._engine) as s:
                # Only a row still 'proposed' changes: another process deciding at the same
                # moment leaves this update with nothing to do.
                done = s.execute(
                    update(ActionRow)
                    .where(col(ActionRow.id) == action_id, col(ActionRow.status) == "proposed")
                    .values(
                        status=status,
                        decided_by=decided_by,
                        decided_at=_now(),
                        note=note.strip(),
                        result=result,
                    )
                )
                s.commit()
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise AssistantError(f"動作 #{action_id} 已被他人決定 / decided by someone else")
        return action, self.get(action_id)

    def _flag(self, action: dict[str, Any]) -> dict[str, Any]:
        status = action["params"]["status"]
        with Session(self._engine) as s:
            row = s.get(AccountRow, action["account"])
            before = row.status if row is not None else None
            if row is None:  # known to the ledger only as a transfer endpoint
                row = AccountRow(id=action["account"], status=status)
            else:
                row.status = status
            s.add(row)
            s.commit()
        return {"status_before": before, "status_after": status}

    def _export(self, action: dict[str, Any]) -> dict[str, Any]:
        p = action["params"]
        self._export_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        files = []
        for direction in p.get("directions", ["up", "down"]):
            trace = self._fraud.trace(
                action["account"],
                direction,
                int(p.get("hops", 3)),
                since=_day(p.get("since")),
                until=_day(p.get("until")),
            )
            path = (
                self._export_dir
                / f"action-{action['id']}-{action['account']}-{direction}-{stamp}.csv"
            )
            trace.to_csv(path, self._fraud.evidence([t.id for t in trace.transfers]))
            with path.open("rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
            files.append(
                {
                    "direction": direction,
                    "file": str(path),
                    "sha256": digest,
                    "transfers": len(trace.transfers),
                }
            )
        return {"files": files}


def _day(value: Any) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) and value else None


def _zh_status(status: str) -> str:
    return {"confirmed": "確認", "rejected": "駁回"}.get(status, status)


def _as_dict(row: ActionRow) -> dict[str, Any]:
    d = row.model_dump()
    for key in ("created_at", "decided_at"):
        if d.get(key) is not None:
            d[key] = d[key].isoformat()
    return d
