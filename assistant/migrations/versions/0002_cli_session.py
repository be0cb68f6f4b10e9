"""cli_session: command-line logins (`assistant login`), the token's sha256 only.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The code between this table's model and the migrations made it with create_all on any
    # start: such a database reaches here with the table already there, and keeps it.
    if sa.inspect(op.get_bind()).has_table("cli_session"):
        return
    op.create_table(
        "cli_session",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("ix_cli_session_user_name", "cli_session", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_cli_session_user_name", table_name="cli_session")
    op.drop_table("cli_session")
