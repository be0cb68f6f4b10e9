"""The board-rate table: one row per (source, date, currency, kind), buy and sell as quoted.

Rates are stored as the text the bank published ("30.21000"), not as floats: SQLite has no
exact decimal type, and a rate must come back exactly as it was quoted. None means the bank did
not quote that side (the Bank of Taiwan writes 0 or leaves the cell empty).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from assistant.records import utcnow


class FxRateRow(SQLModel, table=True):
    __tablename__ = "fx_rate"
    __table_args__ = (
        UniqueConstraint("source", "rate_date", "currency", "kind", name="uq_fx_rate"),
        Index("ix_fx_rate_lookup", "currency", "kind", "rate_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32, description="'BOT' or the name of a bank's own table.")
    rate_date: date
    currency: str = Field(max_length=3, description="ISO 4217 code, e.g. USD.")
    kind: str = Field(max_length=8, description="cash, spot, fwd10 … fwd180.")
    bank_buys: str | None = Field(
        default=None, max_length=24, description="本行買入, exact decimal text; None: not quoted."
    )
    bank_sells: str | None = Field(
        default=None, max_length=24, description="本行賣出, exact decimal text; None: not quoted."
    )
    imported_at: datetime = Field(default_factory=utcnow)
