"""The assistant's own tables: users, conversations, messages, feedback and the audit trail.

JSON columns hold the parts whose shape belongs to the agents (citations, tool calls), so a new
agent adds no migration. The same tables work on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UserRow(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    role: str = Field(max_length=32)
    password_hash: str | None = Field(
        default=None, description="argon2id; None for accounts that cannot log in (the CLI's)."
    )
    display_name: str = ""
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversation"

    id: str = Field(primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    title: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class MessageRow(SQLModel, table=True):
    __tablename__ = "chat_message"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    role: str = Field(max_length=16)
    content: str = Field(sa_column=Column(Text, nullable=False))
    audit_id: int | None = Field(default=None, foreign_key="audit_record.id")
    # Citations and steps, so a reopened conversation shows its sources again.
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_record"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    user_name: str = Field(index=True)
    user_role: str
    conversation_id: str = Field(index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    agent: str = ""
    route_method: str = ""
    # [{"id", "law", "article", "amended"}]: what the answer could rest on, as of that day.
    chunks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    model: str = ""
    model_sha256: str = ""
    generated: bool = False
    no_basis: bool = False
    refused: str | None = None
    llm_calls: int = 0
    latency_ms: float = 0.0
    model_ms: float = 0.0


class FeedbackRow(SQLModel, table=True):
    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(foreign_key="audit_record.id", index=True)
    user_id: int = Field(foreign_key="app_user.id")
    rating: int = Field(description="+1 helpful, -1 not helpful.")
    comment: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class ModelFingerprintRow(SQLModel, table=True):
    """sha256 of a model file, computed once per (path, size, mtime): GGUF files run to GBs."""

    __tablename__ = "model_fingerprint"

    path: str = Field(primary_key=True)
    size: int
    mtime_ns: int
    sha256: str
