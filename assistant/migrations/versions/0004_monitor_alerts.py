"""monitor_alerts: the transfer monitor's alert queue and its versioned rule sets.

``fraud_monitor_alert``: one row per transfer the monitor alerted on or held, with its reasons
and the rules version that fired; an investigator's outcome (confirmed / dismissed) is stored on
it. ``fraud_monitor_rules``: every version of the rules; the newest is in force.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    have = sa.inspect(op.get_bind())
    if not have.has_table("fraud_monitor_alert"):
        op.create_table(
            "fraud_monitor_alert",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("transfer_id", sa.String(64), nullable=False),
            sa.Column("ts", sa.DateTime(), nullable=False),
            sa.Column("account", sa.String(40), nullable=False),
            sa.Column("from_account", sa.String(40), nullable=False),
            sa.Column("to_account", sa.String(40), nullable=False),
            sa.Column("amount", sa.Float(), nullable=False),
            sa.Column("action", sa.String(8), nullable=False),
            sa.Column("score", sa.Float(), nullable=False),
            sa.Column("reasons", sa.JSON(), nullable=False),
            sa.Column("rules_version", sa.String(40), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("decided_by", sa.String(64), nullable=True),
            sa.Column("decided_at", sa.DateTime(), nullable=True),
            sa.Column("note", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            "ix_fraud_monitor_alert_transfer_id", "fraud_monitor_alert", ["transfer_id"]
        )
        op.create_index("ix_fraud_monitor_alert_account", "fraud_monitor_alert", ["account"])
        op.create_index("ix_fraud_monitor_alert_status", "fraud_monitor_alert", ["status"])
    if not have.has_table("fraud_monitor_rules"):
        op.create_table(
            "fraud_monitor_rules",
            sa.Column("version", sa.String(40), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("created_by", sa.String(64), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.Column("body", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("version"),
        )


def downgrade() -> None:
    op.drop_table("fraud_monitor_rules")
    op.drop_index("ix_fraud_monitor_alert_status", table_name="fraud_monitor_alert")
    op.drop_index("ix_fraud_monitor_alert_account", table_name="fraud_monitor_alert")
    op.drop_index("ix_fraud_monitor_alert_transfer_id", table_name="fraud_monitor_alert")
    op.drop_table("fraud_monitor_alert")
