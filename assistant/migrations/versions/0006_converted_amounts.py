"""converted_amounts: a transfer in another currency kept in NT$ with what the file said.

An import that knows the rate of a transfer's day (the FX desk's board rates, or a rate staff
give) stores the amount in NT$, so every feature, trace and report reads one unit; the
amount and currency as the file gave them are kept in ``fraud_transfer.orig_amount`` and
``orig_currency`` (NULL for a transfer that was in NT$ already, every row made before this
revision).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns("fraud_transfer")}


def upgrade() -> None:
    # A database made from today's models (create_all) has them already.
    have = _columns()
    if "orig_amount" not in have:
        op.add_column("fraud_transfer", sa.Column("orig_amount", sa.Float(), nullable=True))
    if "orig_currency" not in have:
        op.add_column("fraud_transfer", sa.Column("orig_currency", sa.String(3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fraud_transfer") as batch:
        batch.drop_column("orig_currency")
        batch.drop_column("orig_amount")
