"""The monitor's tables: the alert queue and the rule sets, each version kept.

Made by migration 0004 (``assistant/migrations/versions/0004_monitor_alerts.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel


class AlertRow(SQLModel, table=True):
    """A transfer the monitor alerted on or held, and what an investigator made of it."""

    __tablename__ = "fraud_monitor_alert"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    transfer_id: str = Field(max_length=64, index=True)
    ts: datetime = Field(sa_column=Column(DateTime, nullable=False), description="Naive UTC.")
    account: str = Field(max_length=40, index=True, description="Whom the alert is about.")
    from_account: str = Field(max_length=40)
    to_account: str = Field(max_length=40)
    amount: float
    action: str = Field(max_length=8, description="alert | hold")
    score: float = Field(default=0.0, description="The anomaly model's score.")
    reasons: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rules_version: str = Field(max_length=40)
    status: str = Field(default="open", max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime))
    note: str = Field(default="", sa_column=Column(Text, nullable=False))


class RuleSetRow(SQLModel, table=True):
    """A version of the monitor's rules; the newest is the one in force."""

    __tablename__ = "fraud_monitor_rules"

    version: str = Field(primary_key=True, max_length=40)
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    created_by: str = Field(max_length=64)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
