"""bank_codes: banks of other countries in the ledger.

A bank column held Taiwan's 3-digit 銀行代碼 only, so a ledger of another country's layout (IBM's
AMLworld numbers its banks with up to 5 digits) lost every row naming such a bank. The bank
columns (``fraud_bank.code``, ``fraud_account.bank_code``, ``fraud_transfer.from_bank`` and
``to_bank``) now hold up to 11 characters: a 3-digit code, another country's bank number or a
SWIFT BIC (``assistant.fraud.records.is_bank_code``). Every existing value stays as it was.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "fraud_bank": ("code",),
    "fraud_account": ("bank_code",),
    "fraud_transfer": ("from_bank", "to_bank"),
}


def _resize(width: int, was: int) -> None:
    have = sa.inspect(op.get_bind())
    for table, names in COLUMNS.items():
        if not have.has_table(table):
            continue
        found = {c["name"]: c["type"] for c in have.get_columns(table)}
        # A database made from today's models (create_all) is already wide.
        todo = [c for c in names if getattr(found.get(c), "length", None) == was]
        if not todo:
            continue
        # SQLite cannot alter a column's type: batch mode copies the table (once).
        with op.batch_alter_table(table) as batch:
            for name in todo:
                batch.alter_column(
                    name,
                    existing_type=sa.String(was),
                    type_=sa.String(width),
                    existing_nullable=False,
                )


def upgrade() -> None:
    _resize(11, 3)


def downgrade() -> None:
    # Going back cuts nothing silently: a code longer than 3 characters makes PostgreSQL refuse.
    _resize(3, 11)
