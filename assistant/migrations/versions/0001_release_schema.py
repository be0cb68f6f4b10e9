"""The schema of the release before migrations, reached from nothing or from any database that
release (or an earlier one) made.

A new database gets every table here. A database made by earlier code has no alembic_version
and tables as that code left them, so everything is conditional and idempotent:

- tables missing (the credit memo, model-evaluation or chain-head table of a later feature)
  are created with their indexes; tables present are left as they are;
- a ledger made before transfers had memos gets ``fraud_transfer.memo``;
- on PostgreSQL, ``model_fingerprint.size`` / ``mtime_ns`` made as 32-bit INTEGER (every insert
  of a multi-GB file overflowed) become BIGINT;
- an audit_record made before the hash chain gets the chain columns and the unique index on
  ``seq``; its rows are sealed into the chain once (the head row says through which seq and
  when); the triggers that refuse UPDATE and DELETE are put in place on SQLite and PostgreSQL.

The tables are written out here, not taken from the models, so this revision makes the same
schema however the models change later.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assistant import audit_schema

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sa.String
# SQLModel's datetime columns: aware, stored as UTC (TIMESTAMP WITH TIME ZONE on PostgreSQL).
UTC_TS = sa.DateTime(timezone=True)

meta = sa.MetaData()

sa.Table(
    "app_user",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", S(64), nullable=False),
    sa.Column("role", S(32), nullable=False),
    sa.Column("password_hash", S(), nullable=True),
    sa.Column("display_name", S(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTC_TS, nullable=False),
    sa.Index("ix_app_user_name", "name", unique=True),
)
sa.Table(
    "conversation",
    meta,
    sa.Column("id", S(36), primary_key=True),
    sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
    sa.Column("title", S(), nullable=False),
    sa.Column("created_at", UTC_TS, nullable=False),
    sa.Column("updated_at", UTC_TS, nullable=False),
    sa.Index("ix_conversation_user_id", "user_id"),
    sa.Index("ix_conversation_updated_at", "updated_at"),
)
audit = sa.Table(
    "audit_record",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("seq", sa.Integer(), nullable=True),
    sa.Column("prev_hash", S(64), nullable=True),
    sa.Column("hash", S(64), nullable=True),
    sa.Column("kind", S(16), nullable=True),
    sa.Column("created_at", UTC_TS, nullable=False),
    sa.Column("user_name", S(), nullable=False),
    sa.Column("user_role", S(), nullable=False),
    sa.Column("conversation_id", S(), nullable=False),
    sa.Column("question", sa.Text(), nullable=False),
    sa.Column("agent", S(), nullable=False),
    sa.Column("route_method", S(), nullable=False),
    sa.Column("chunks", sa.JSON(), nullable=True),
    sa.Column("tool_calls", sa.JSON(), nullable=True),
    sa.Column("answer", sa.Text(), nullable=False),
    sa.Column("model", S(), nullable=False),
    sa.Column("model_sha256", S(), nullable=False),
    sa.Column("generated", sa.Boolean(), nullable=False),
    sa.Column("no_basis", sa.Boolean(), nullable=False),
    sa.Column("refused", S(), nullable=True),
    sa.Column("llm_calls", sa.Integer(), nullable=False),
    sa.Column("latency_ms", sa.Float(), nullable=False),
    sa.Column("model_ms", sa.Float(), nullable=False),
    sa.Index(audit_schema.SEQ_INDEX, "seq", unique=True),
    sa.Index("ix_audit_record_created_at", "created_at"),
    sa.Index("ix_audit_record_user_name", "user_name"),
    sa.Index("ix_audit_record_conversation_id", "conversation_id"),
)
head = sa.Table(
    "audit_chain",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("hash", S(64), nullable=False),
    sa.Column("sealed_through", sa.Integer(), nullable=True),
    sa.Column("sealed_at", UTC_TS, nullable=True),
    sa.Column("created_at", UTC_TS, nullable=False),
)
sa.Table(
    "chat_message",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("conversation_id", S(), sa.ForeignKey("conversation.id"), nullable=False),
    sa.Column("role", S(16), nullable=False),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audit_record.id"), nullable=True),
    sa.Column("extra", sa.JSON(), nullable=False),
    sa.Column("created_at", UTC_TS, nullable=False),
    sa.Index("ix_chat_message_conversation_id", "conversation_id"),
)
sa.Table(
    "feedback",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audit_record.id"), nullable=False),
    sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
    sa.Column("rating", sa.Integer(), nullable=False),
    sa.Column("comment", S(), nullable=False),
    sa.Column("created_at", UTC_TS, nullable=False),
    sa.Index("ix_feedback_audit_id", "audit_id"),
)
sa.Table(
    "model_fingerprint",
    meta,
    sa.Column("path", S(), primary_key=True),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
    sa.Column("sha256", S(), nullable=False),
)
sa.Table(
    "login_attempt",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("at", UTC_TS, nullable=False),
    sa.Column("user_name", S(64), nullable=False),
    sa.Column("outcome", S(16), nullable=False),
    sa.Column("source", S(64), nullable=False),
    sa.Index("ix_login_attempt_at", "at"),
    sa.Index("ix_login_attempt_user_name", "user_name"),
)
sa.Table(
    "runtime_switch",
    meta,
    sa.Column("name", S(32), primary_key=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("reason", S(), nullable=False),
    sa.Column("changed_by", S(64), nullable=False),
    sa.Column("changed_at", UTC_TS, nullable=False),
)
sa.Table(
    "fraud_bank",
    meta,
    sa.Column("code", S(3), primary_key=True),
    sa.Column("name", S(64), nullable=False),
)
sa.Table(
    "fraud_account",
    meta,
    sa.Column("id", S(40), primary_key=True),
    sa.Column("bank_code", S(3), nullable=False),
    sa.Column("holder_ref", S(64), nullable=True),
    sa.Column("opened", sa.Date(), nullable=True),
    sa.Column("status", S(16), nullable=False),
    sa.Column("is_fraud", sa.Boolean(), nullable=True),
    sa.Column("pattern", S(64), nullable=True),
    sa.Index("ix_fraud_account_bank_code", "bank_code"),
)
sa.Table(
    "fraud_transfer",
    meta,
    sa.Column("id", S(64), primary_key=True),
    sa.Column("ts", sa.DateTime(), nullable=False),
    sa.Column("from_account", S(40), nullable=False),
    sa.Column("to_account", S(40), nullable=False),
    sa.Column("amount", sa.Float(), nullable=False),
    sa.Column("currency", S(3), nullable=False),
    sa.Column("channel", S(8), nullable=False),
    sa.Column("from_bank", S(3), nullable=False),
    sa.Column("to_bank", S(3), nullable=False),
    sa.Column("pattern", S(64), nullable=True),
    sa.Column("memo", sa.Text(), nullable=True),
    sa.Index("ix_fraud_transfer_to_ts", "to_account", "ts"),
    sa.Index("ix_fraud_transfer_from_ts", "from_account", "ts"),
    sa.Index("ix_fraud_transfer_ts", "ts"),
)
sa.Table(
    "fraud_action",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("kind", S(16), nullable=False),
    sa.Column("account", S(40), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("proposed_by", S(64), nullable=False),
    sa.Column("conversation_id", S(36), nullable=True),
    sa.Column("status", S(16), nullable=False),
    sa.Column("decided_by", S(64), nullable=True),
    sa.Column("decided_at", sa.DateTime(), nullable=True),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("result", sa.JSON(), nullable=False),
    sa.Index("ix_fraud_action_account", "account"),
    sa.Index("ix_fraud_action_status", "status"),
)
sa.Table(
    "fx_rate",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("source", S(32), nullable=False),
    sa.Column("rate_date", sa.Date(), nullable=False),
    sa.Column("currency", S(3), nullable=False),
    sa.Column("kind", S(8), nullable=False),
    sa.Column("bank_buys", S(24), nullable=True),
    sa.Column("bank_sells", S(24), nullable=True),
    sa.Column("imported_at", UTC_TS, nullable=False),
    sa.UniqueConstraint("source", "rate_date", "currency", "kind", name="uq_fx_rate"),
    sa.Index("ix_fx_rate_lookup", "currency", "kind", "rate_date"),
)
sa.Table(
    "credit_memo",
    meta,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("created_at", UTC_TS, nullable=False),
    sa.Column("created_by", S(64), nullable=False),
    sa.Column("file_name", S(255), nullable=False),
    sa.Column("file_sha256", S(64), nullable=False),
    sa.Column("company", S(255), nullable=True),
    sa.Column("inputs", sa.JSON(), nullable=False),
    sa.Column("markdown", sa.Text(), nullable=False),
    sa.Column("status", S(16), nullable=False),
    sa.Column("decided_by", S(64), nullable=True),
    sa.Column("decided_at", UTC_TS, nullable=True),
    sa.Column("final_markdown", sa.Text(), nullable=True),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Index("ix_credit_memo_created_at", "created_at"),
    sa.Index("ix_credit_memo_status", "status"),
)
sa.Table(
    "model_eval_run",
    meta,
    sa.Column("id", S(36), primary_key=True),
    sa.Column("key", S(64), nullable=False),
    sa.Column("status", S(16), nullable=False),
    sa.Column("suites", S(), nullable=False),
    sa.Column("created_at", UTC_TS, nullable=False),
    sa.Column("updated_at", UTC_TS, nullable=False),
    sa.Column("finished_at", UTC_TS, nullable=True),
    sa.Column("config", sa.JSON(), nullable=False),
    sa.Column("models", sa.JSON(), nullable=False),
    sa.Column("corpus", sa.JSON(), nullable=False),
    sa.Column("summary", sa.JSON(), nullable=False),
    sa.Column("report_dir", S(), nullable=False),
    sa.Index("ix_model_eval_run_key", "key"),
    sa.Index("ix_model_eval_run_created_at", "created_at"),
)
sa.Table(
    "model_eval_item",
    meta,
    sa.Column("run_id", S(36), sa.ForeignKey("model_eval_run.id"), primary_key=True),
    sa.Column("model_sha", S(64), primary_key=True),
    sa.Column("suite", S(32), primary_key=True),
    sa.Column("item_id", S(128), primary_key=True),
    sa.Column("result", sa.JSON(), nullable=False),
    sa.Column("created_at", UTC_TS, nullable=False),
)
sa.Table(
    "knowledge_chunk",
    meta,
    sa.Column("id", S(), primary_key=True),
    sa.Column("doc_key", S(), nullable=False),
    sa.Column("source", S(), nullable=False),
    sa.Column("law_zh", S(), nullable=False),
    sa.Column("law", S(), nullable=False),
    sa.Column("article", S(), nullable=False),
    sa.Column("lang", S(), nullable=False),
    sa.Column("hash", S(), nullable=False),
    sa.Column("tokens", S(), nullable=False),
    sa.Column("payload", S(), nullable=False),
    sa.Index("ix_knowledge_chunk_doc_key", "doc_key"),
    sa.Index("ix_knowledge_chunk_source", "source"),
    sa.Index("ix_knowledge_chunk_law_zh", "law_zh"),
    sa.Index("ix_knowledge_chunk_article", "article"),
)


def _columns(table: str) -> dict[str, sa.types.TypeEngine]:
    return {c["name"]: c["type"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    conn = op.get_bind()
    # Missing tables with their indexes; a table already there is not touched.
    meta.create_all(conn, checkfirst=True)

    if "memo" not in _columns("fraud_transfer"):
        op.add_column("fraud_transfer", sa.Column("memo", sa.Text(), nullable=True))

    if conn.dialect.name == "postgresql":
        cols = _columns("model_fingerprint")
        for name in ("size", "mtime_ns"):
            if not isinstance(cols[name], sa.BigInteger):
                op.alter_column("model_fingerprint", name, type_=sa.BigInteger())

    audit_schema.add_chain_columns(conn)
    if not audit_schema.has_head(conn, head):
        # Sealing writes the chain columns of old rows: the append-only triggers (if a head
        # row was lost after they were made) come off first and go back on just below.
        audit_schema.drop_triggers(conn)
        audit_schema.seal(conn, audit, head)
    audit_schema.create_triggers(conn)


def downgrade() -> None:
    # Below the first revision there is no schema to go back to, only data to lose: a bank's
    # audit trail is not dropped by a migration.
    raise NotImplementedError(
        "無法降級到第一版之前 / there is no downgrade below the first revision"
    )
