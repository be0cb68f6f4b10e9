"""Administrators' switches, stored in the database so that every server process and worker
sees a change on its next turn.

``model``: when off, every answer is composed without the language model (the no-model mode:
retrieval, tools and deterministic composition) and says so, whatever backend is configured.
For a model that misbehaves, a leak being investigated, or a regulator's instruction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from assistant.errors import AuthError
from assistant.permissions import UserContext
from assistant.records import SwitchRow, utcnow

SWITCHES = ("model",)


class Switches:
    def __init__(self, engine: Engine, audit: Any | None = None) -> None:
        self._engine = engine
        self._audit = audit

    def enabled(self, name: str) -> bool:
        with Session(self._engine) as s:
            row = s.get(SwitchRow, name)
        return True if row is None else row.enabled

    def state(self, name: str) -> dict[str, Any]:
        with Session(self._engine) as s:
            row = s.get(SwitchRow, name)
        if row is None:
            return {
                "name": name,
                "enabled": True,
                "reason": "",
                "changed_by": "",
                "changed_at": None,
            }
        return {
            "name": name,
            "enabled": row.enabled,
            "reason": row.reason,
            "changed_by": row.changed_by,
            "changed_at": row.changed_at.isoformat(),
        }

    def set(self, user: UserContext, name: str, enabled: bool, reason: str = "") -> dict[str, Any]:
        if not user.is_admin:
            raise AuthError(f"僅限系統管理員 / admins only (role {user.role})")
        if name not in SWITCHES:
            raise AuthError(f"未知的開關 / unknown switch {name!r}: {', '.join(SWITCHES)}")
        with Session(self._engine) as s:
            row = s.get(SwitchRow, name) or SwitchRow(name=name)
            row.enabled, row.reason = enabled, reason.strip()
            row.changed_by, row.changed_at = user.name, utcnow()
            s.add(row)
            s.commit()
        if self._audit is not None:
            self._audit.record_action(
                user,
                conversation_id=None,
                action=f"admin.{name}.{'on' if enabled else 'off'}",
                args={"switch": name, "enabled": enabled, "reason": reason.strip()},
                outcome=f"{name} {'開啟 on' if enabled else '關閉 off'}",
            )
        return self.state(name)
