"""The audit desk: reading and exporting the trail, for auditors and administrators.

The trail holds what staff asked about customers, so reading it is itself a read of customer
data: checked here and recorded like any other.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from assistant.audit import AuditLog, ExportFormat, export_record, mask_record
from assistant.audit_chain import VerifyReport
from assistant.desks.base import Desk
from assistant.permissions import UserContext


class AuditDesk(Desk):
    area = "audit"

    def __init__(self, audit: AuditLog) -> None:
        super().__init__(audit)
        self._log = audit

    def verify(self, user: UserContext | None) -> VerifyReport:
        u = self.allow(user, "audit.read")
        report = self._log.verify()
        self.record(u, "audit.verify", {}, "intact" if report.ok else "broken")
        return report

    def export(
        self,
        user: UserContext | None,
        out: Path,
        start: date,
        end: date,
        *,
        fmt: ExportFormat = "jsonl",
        unmasked: bool = False,
    ) -> dict[str, Any]:
        """Records of a date range written for a regulator; unmasked only for the roles that
        may read identifiers as written. The export is itself a decision on the trail."""
        args = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "format": fmt,
            "unmasked": unmasked,
            "file": Path(out).name,
        }
        u = self.allow(user, "audit.read", args)
        if unmasked:
            self.allow(u, "audit.unmasked", args)
        manifest = self._log.export(out, start, end, user=u, fmt=fmt, unmasked=unmasked)
        self.record(
            u, "audit_export", args, f"{manifest['count']} records, sha256 {manifest['sha256']}"
        )
        return manifest

    def _shown(self, user: UserContext, row: Any) -> dict[str, Any]:
        record = export_record(row.model_dump(), masked=False)
        return record if user.may("audit.unmasked") else mask_record(record)

    def show(self, user: UserContext | None, record_id: int) -> dict[str, Any]:
        u = self.allow(user, "audit.read", {"record": record_id})
        record = self._shown(u, self._log.get(record_id))
        self.record(u, "audit.show", {"record": record_id}, "shown")
        return record

    def recent(
        self, user: UserContext | None, limit: int = 50, user_name: str | None = None
    ) -> list[dict[str, Any]]:
        args = {"limit": limit, "user": user_name}
        u = self.allow(user, "audit.read", args)
        # Read before this read is recorded, so the list shows what was there when asked.
        rows = self._log.recent(limit=limit, user_name=user_name)
        self.record(u, "audit.list", args, f"{len(rows)} records")
        return [self._shown(u, r) for r in rows]
