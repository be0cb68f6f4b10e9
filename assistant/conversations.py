"""Conversations and their messages, as the UI lists and reopens them.

The agents' own working state lives in the LangGraph checkpointer (one thread per
conversation); these rows are what people see: who asked what, and what was answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from assistant.errors import NotFound
from assistant.permissions import UserContext
from assistant.records import ConversationRow, MessageRow, utcnow

TITLE_CHARS = 40


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str
    updated_at: datetime


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    audit_id: int | None
    extra: dict[str, Any]
    created_at: datetime


class ConversationStore:
    def __init__(
        self, engine: Engine, on_denied: Callable[[UserContext, str], None] | None = None
    ) -> None:
        self._engine = engine
        # Told of every attempt at someone else's conversation (the audit trail records it).
        self._on_denied = on_denied

    def open(self, user: UserContext, conversation_id: str | None, question: str) -> str:
        """The conversation to continue (it must be the user's), or a new one titled by the
        question."""
        if conversation_id:
            self._owned(user, conversation_id)
            return conversation_id
        new_id = str(uuid.uuid4())
        title = " ".join(question.split())[:TITLE_CHARS]
        with Session(self._engine) as s:
            s.add(ConversationRow(id=new_id, user_id=self._user_id(user), title=title))
            s.commit()
        return new_id

    def _user_id(self, user: UserContext) -> int:
        if user.user_id is None:
            raise NotFound(f"使用者未登記 / user is not registered: {user.name}")
        return user.user_id

    def _owned(self, user: UserContext, conversation_id: str) -> ConversationRow:
        with Session(self._engine) as s:
            row = s.get(ConversationRow, conversation_id)
        # Someone else's conversation reads as missing: its existence is not the caller's to know.
        # An admin too: conversations hold customer questions, and oversight reads them through
        # the audit trail (auditors, audited), not by opening or continuing a colleague's chat.
        if row is not None and row.user_id != user.user_id:
            if self._on_denied is not None:
                self._on_denied(user, conversation_id)
            row = None
        if row is None:
            raise NotFound(f"找不到這段對話 / no such conversation: {conversation_id}")
        return row

    def add_turn(
        self,
        conversation_id: str,
        question: str,
        answer: str,
        audit_id: int | None,
        extra: dict[str, Any],
    ) -> None:
        with Session(self._engine) as s:
            s.add(MessageRow(conversation_id=conversation_id, role="user", content=question))
            s.add(
                MessageRow(
                    conversation_id=conversation_id,
                    role="assistant",
                    content=answer,
                    audit_id=audit_id,
                    extra=extra,
                )
            )
            row = s.get(ConversationRow, conversation_id)
            if row is not None:
                row.updated_at = utcnow()
                s.add(row)
            s.commit()

    def list(self, user: UserContext, limit: int = 50) -> list[ConversationSummary]:
        with Session(self._engine) as s:
            rows = s.exec(
                select(ConversationRow)
                .where(ConversationRow.user_id == user.user_id)
                .order_by(col(ConversationRow.updated_at).desc())
                .limit(limit)
            )
            return [ConversationSummary(r.id, r.title, r.updated_at) for r in rows]

    def messages(self, user: UserContext, conversation_id: str) -> list[StoredMessage]:
        self._owned(user, conversation_id)
        with Session(self._engine) as s:
            rows = s.exec(
                select(MessageRow)
                .where(MessageRow.conversation_id == conversation_id)
                .order_by(col(MessageRow.id))
            )
            return [
                StoredMessage(r.role, r.content, r.audit_id, r.extra, r.created_at) for r in rows
            ]
