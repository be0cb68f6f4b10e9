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

from assistant.errors import AssistantError
from assistant.records import SwitchRow, utcnow

SWITCHES = ("model",)


class Switches:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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

    def set(self, changed_by: str, name: str, enabled: bool, reason: str = "") -> dict[str, Any]:
        """Flip a switch (the admin desk checks who may, and records it)."""
        if name not in SWITCHES:
            raise AssistantError(f"未知的開關 / unknown switch {name!r}: {', '.join(SWITCHES)}")
        with Session(self._engine) as s:
            row = s.get(SwitchRow, name) or SwitchRow(name=name)
            row.enabled, row.reason = enabled, reason.strip()
            row.changed_by, row.changed_at = changed_by, utcnow()
            s.add(row)
            s.commit()
        return self.state(name)
