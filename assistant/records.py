"""The assistant's own tables: users, conversations, messages, feedback and the audit trail.

JSON columns hold the parts whose shape belongs to the agents (citations, tool calls), so a new
agent adds no migration. The same tables work on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Text
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
    """One answer, or one decision a person took (``kind``), in an append-only hash chain.

    ``seq`` numbers the chain without gaps; ``hash`` is sha256 over the canonical form of every
    column but ``id`` and ``hash`` (see ``assistant.audit_chain``), ``prev_hash`` the hash of
    ``seq - 1``. The chain columns are nullable only because rows written before the chain
    existed get them when the first migration seals them; every row written since has them.
    """

    __tablename__ = "audit_record"

    id: int | None = Field(default=None, primary_key=True)
    # Unique: two appenders that both read the same head cannot both commit, so the chain
    # cannot fork even if the serialising lock were ever bypassed by a bug.
    seq: int | None = Field(default=None, unique=True, index=True)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)
    kind: str | None = Field(default="answer", max_length=16, description="answer | action")
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


class AuditChainRow(SQLModel, table=True):
    """The chain's head: one row (id 1), locked by every append and moved in the same
    transaction as the record it points at.

    On PostgreSQL ``SELECT … FOR UPDATE`` on this row is what serialises appenders; on SQLite
    ``BEGIN IMMEDIATE`` does, and the row is still read and moved. Keeping the head apart from
    the records also shows a deleted tail: the head still names the last record written.
    """

    __tablename__ = "audit_chain"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, description="The last record's seq; 0 for an empty chain.")
    hash: str = Field(max_length=64, description="The last record's hash, or the genesis hash.")
    sealed_through: int | None = Field(
        default=None,
        description="Records up to this seq existed before the chain and were chained when it "
        "was introduced: the chain attests them from sealed_at on, not from when they were written.",
    )
    sealed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


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
    # BIGINT: nanoseconds since 1970 (~1.8e18) and multi-GB sizes overflow PostgreSQL's 32-bit
    # INTEGER, which is what a plain int maps to; SQLite's INTEGER is 64-bit either way.
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    mtime_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str


class LoginAttemptRow(SQLModel, table=True):
    """Every login attempt, kept for the security officer and for the lockout rule."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_name: str = Field(index=True, max_length=64)
    outcome: str = Field(max_length=16, description="ok, failed, locked (refused unchecked)")
    source: str = Field(default="", max_length=64, description="Client address, when known.")


class SwitchRow(SQLModel, table=True):
    """An administrator's switch that takes effect for everyone at once (e.g. model features
    off); read by every turn, so no restart is needed."""

    __tablename__ = "runtime_switch"

    name: str = Field(primary_key=True, max_length=32)
    enabled: bool = True
    reason: str = ""
    changed_by: str = Field(default="", max_length=64)
    changed_at: datetime = Field(default_factory=utcnow)


class CliSessionRow(SQLModel, table=True):
    """A command-line login (`assistant login`): the token's sha256 only, never the token, so a
    copy of the database cannot be used to act as anyone. Ends like a page login: after the
    session lifetime or when idle too long."""

    __tablename__ = "cli_session"

    token_sha256: str = Field(primary_key=True, max_length=64)
    user_name: str = Field(index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
