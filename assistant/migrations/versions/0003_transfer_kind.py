"""transfer_kind: cash deposits and withdrawals as ledger events.

``fraud_transfer.kind`` says what a row is: ``transfer`` (account to account, every row made
before this revision), ``cash_in`` (a deposit) or ``cash_out`` (a withdrawal); the cash side's
counterparty is the reserved account ``CASH`` (see ``assistant.fraud.records``).
``fraud_transfer.place`` is where a cash event happened (branch, ATM) when the export says.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("fraud_transfer")}


def upgrade() -> None:
    # A database whose tables were made from the current models (create_all) has the columns
    # already; only an older one gets them added.
    have = _columns()
    if "kind" not in have:
        op.add_column(
            "fraud_transfer",
            sa.Column("kind", sa.String(8), nullable=False, server_default="transfer"),
        )
    if "place" not in have:
        op.add_column("fraud_transfer", sa.Column("place", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fraud_transfer") as batch:
        batch.drop_column("place")
        batch.drop_column("kind")
