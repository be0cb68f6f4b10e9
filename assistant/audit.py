"""The audit trail: one record per answer, and the feedback people give on it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.answers import Answer
from assistant.errors import AuthError, NotFound
from assistant.permissions import UserContext
from assistant.records import AuditRow, ConversationRow, FeedbackRow, ModelFingerprintRow


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        user: UserContext,
        question: str,
        answer: Answer,
        chunks: list[dict[str, Any]],
        model_sha256: str,
    ) -> int:
        row = AuditRow(
            user_name=user.name,
            user_role=user.role,
            conversation_id=answer.conversation_id,
            question=question,
            agent=answer.agent,
            route_method=answer.route_method,
            chunks=chunks,
            tool_calls=[
                {"name": t.name, "args": t.args, "summary": t.summary, "ok": t.ok}
                for t in answer.tool_calls
            ],
            answer=answer.answer,
            model=answer.model,
            model_sha256=model_sha256,
            generated=answer.generated,
            no_basis=answer.no_basis,
            refused=answer.refused,
            llm_calls=answer.llm_calls,
            latency_ms=round(answer.latency_ms, 1),
            model_ms=round(answer.model_ms, 1),
        )
        with Session(self._engine) as s:
            s.add(row)
            s.commit()
            s.refresh(row)
            assert row.id is not None
            return row.id

    def get(self, audit_id: int) -> AuditRow:
        with Session(self._engine) as s:
            row = s.get(AuditRow, audit_id)
        if row is None:
            raise NotFound(f"沒有這筆紀錄 / no such audit record: {audit_id}")
        return row

    def recent(self, limit: int = 50, user_name: str | None = None) -> list[AuditRow]:
        with Session(self._engine) as s:
            q = select(AuditRow).order_by(col(AuditRow.id).desc()).limit(limit)
            if user_name:
                q = q.where(AuditRow.user_name == user_name)
            return list(s.exec(q))

    def feedback(self, user: UserContext, audit_id: int, rating: int, comment: str = "") -> int:
        if rating not in (1, -1):
            raise ValueError("rating must be +1 or -1")
        if user.user_id is None:
            raise AuthError(f"使用者未登記 / user is not registered: {user.name}")
        with Session(self._engine) as s:
            record = s.get(AuditRow, audit_id)
            conv = s.get(ConversationRow, record.conversation_id) if record else None
            # Feedback only on answers given to this user.
            if record is None or conv is None or conv.user_id != user.user_id:
                raise NotFound(f"沒有這則回答 / no such answer: {audit_id}")
            row = FeedbackRow(
                audit_id=audit_id, user_id=user.user_id, rating=rating, comment=comment.strip()
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            assert row.id is not None
            return row.id

    def feedback_for(self, audit_id: int) -> list[FeedbackRow]:
        with Session(self._engine) as s:
            return list(s.exec(select(FeedbackRow).where(FeedbackRow.audit_id == audit_id)))

    def fingerprint(self, path: Path) -> str:
        """sha256 of a model file, cached by (path, size, mtime): hashing GBs takes seconds."""
        stat = path.stat()
        key = str(path.resolve())
        with Session(self._engine) as s:
            row = s.get(ModelFingerprintRow, key)
            if row and row.size == stat.st_size and row.mtime_ns == stat.st_mtime_ns:
                return row.sha256
        with path.open("rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
        with Session(self._engine) as s:
            s.merge(
                ModelFingerprintRow(
                    path=key, size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha
                )
            )
            s.commit()
        return sha
