"""The ledger tables: banks, accounts and transfers between them.

Timestamps are stored as naive UTC (a plain ``DateTime`` column), everywhere the same; the
importers turn Taiwan local times (UTC+8) into UTC on the way in. Amounts are floats: a trace
and a score add and compare them in bulk, and a float64 holds any TWD amount to the cent.
There are no foreign keys, so a transfer may name an account of another bank that the ledger
knows only by number; the importers add such accounts as they meet them.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy import JSON, Column, DateTime, Index, String, Text
from sqlmodel import Field, SQLModel

# What a ledger row is. Cash is kept as a row of the same table rather than a table of its own:
# a deposit is ``cash_in`` from the bank's reserved cash account ``CASH<bank code>`` (``CASH``
# when the bank is unknown), a withdrawal ``cash_out`` to it, the convention the synthetic
# generator already used for ATM withdrawals.
# So every row still has two endpoints, and the trace index, the evidence export, the Sankey and
# every query by account work unchanged; ``kind`` (and the reserved endpoint) is what tells the
# trace to stop there (the money left or entered the banking system) and the features to count
# it as cash rather than as a counterparty. The bank where the cash moved is the row's bank on
# the CASH side, the channel (ATM, 臨櫃) and the place (branch, ATM) are the row's own.
KINDS = ("transfer", "cash_in", "cash_out")
CASH_ACCOUNT = "CASH"
# A party outside the ledger that the export does not name (AMLGentex's source and sink accounts
# behind salaries and bills paid by transfer): like CASH, an endpoint a trace stops at.
OUTSIDE_ACCOUNT = "OUTSIDE"
KIND_CODE = {k: i for i, k in enumerate(KINDS)}  # the int8 codes of ``LedgerArrays.kind``
CHANNEL_CODE = {"ATM": 1, "臨櫃": 2}  # ``LedgerArrays.channel``; anything else is 0


# A bank as a ledger names it: Taiwan's 3-digit 銀行代碼 (822), another country's bank number
# (IBM's AMLworld files number banks 1 to 5 digits; routing and sort codes run to 9), or a
# SWIFT BIC (8 or 11 characters). Anything else in a bank column is a column mapped wrongly.
BANK_CODE_CHARS = 11
# [0-9], not \d: the same pattern is Spark SQL's (``spark_engine``), whose literals eat "\"
BANK_CODE_PATTERN = "[0-9]{1,11}|[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?"
_BANK_CODE = re.compile(BANK_CODE_PATTERN)
BANK_CODE_RULE = (
    "銀行代碼應為 3 位數字（他國銀行代號至多 11 位數字，或 SWIFT 代碼） / a bank code is 3 digits "
    "(another country's bank number up to 11 digits, or a SWIFT BIC)"
)


def is_bank_code(code: str) -> bool:
    return bool(_BANK_CODE.fullmatch(code))


def cash_account(bank_code: str = "") -> str:
    """The reserved counterparty of a cash deposit or withdrawal at ``bank_code``."""
    return CASH_ACCOUNT + (bank_code or "")


def is_reserved(account_id: str) -> bool:
    """A reserved endpoint (cash at a bank, or an unnamed outside party), not a customer's
    account: ``CASH``, ``CASH`` + a bank code, ``OUTSIDE``."""
    if account_id == OUTSIDE_ACCOUNT:
        return True
    rest = account_id.removeprefix(CASH_ACCOUNT)
    return rest != account_id and (rest == "" or is_bank_code(rest))


class BankRow(SQLModel, table=True):
    __tablename__ = "fraud_bank"

    code: str = Field(
        primary_key=True,
        max_length=BANK_CODE_CHARS,
        description="3-digit bank code (822), another country's bank number or a SWIFT BIC.",
    )
    name: str = Field(default="", max_length=64)


class AccountRow(SQLModel, table=True):
    __tablename__ = "fraud_account"

    id: str = Field(
        primary_key=True,
        max_length=40,
        description="Normalised account number (digits and letters, no dashes or spaces).",
    )
    bank_code: str = Field(
        default="", max_length=BANK_CODE_CHARS, index=True, description="'' when unknown."
    )
    holder_ref: str | None = Field(default=None, max_length=64)
    opened: date | None = None
    status: str = Field(default="normal", max_length=16, description="normal, 警示, 衍生管制, …")
    is_fraud: bool | None = Field(default=None, description="Ground-truth label; None: unknown.")
    pattern: str | None = Field(
        default=None, max_length=64, description="Ground truth: planted pattern and role."
    )


class TransferRow(SQLModel, table=True):
    __tablename__ = "fraud_transfer"
    __table_args__ = (
        Index("ix_fraud_transfer_to_ts", "to_account", "ts"),
        Index("ix_fraud_transfer_from_ts", "from_account", "ts"),
        Index("ix_fraud_transfer_ts", "ts"),
    )

    id: str = Field(primary_key=True, max_length=64)
    ts: datetime = Field(sa_column=Column(DateTime, nullable=False), description="Naive UTC.")
    from_account: str = Field(max_length=40)
    to_account: str = Field(max_length=40)
    amount: float
    currency: str = Field(default="TWD", max_length=3)
    channel: str = Field(default="", max_length=8, description="ATM, 網銀, 臨櫃, 跨行, 行動, …")
    from_bank: str = Field(default="", max_length=BANK_CODE_CHARS)
    to_bank: str = Field(default="", max_length=BANK_CODE_CHARS)
    pattern: str | None = Field(
        default=None, max_length=64, description="Ground truth: the planted pattern, if any."
    )
    kind: str = Field(
        default="transfer",
        sa_column=Column(String(8), nullable=False, server_default="transfer"),
        description="transfer | cash_in (deposit, from CASH) | cash_out (withdrawal, to CASH).",
    )
    place: str | None = Field(
        default=None, max_length=64, description="Where a cash event happened (branch, ATM)."
    )
    # A transfer in another currency is stored in NT$ at the rate of its day (``amount``,
    # ``currency`` TWD) when the import had one; what the file said is kept here.
    orig_amount: float | None = Field(default=None, description="The amount as the file gave it.")
    orig_currency: str | None = Field(
        default=None, max_length=3, description="The file's currency of a converted amount."
    )
    # The payer's note (附言) as the bank's system holds it: free text written by whoever paid,
    # so it is shown quoted as data, never read as an instruction.
    memo: str | None = Field(default=None, sa_column=Column(Text))


class ActionRow(SQLModel, table=True):
    """A proposed decision on an account (flag it, export the evidence) and what a person made
    of it. The agent only ever writes ``proposed`` rows; ``confirmed`` / ``rejected`` are set by
    an investigator through the CLI or the UI, and both steps go into the audit trail."""

    __tablename__ = "fraud_action"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    kind: str = Field(max_length=16, description="flag | export")
    account: str = Field(max_length=40, index=True)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    proposed_by: str = Field(max_length=64)
    conversation_id: str | None = Field(default=None, max_length=36)
    status: str = Field(default="proposed", max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime))
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    result: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
