"""The credit memo drafts and the decisions on them (maker-checker).

A draft keeps the text as generated (``markdown``) and, once decided, the text as approved
(``final_markdown``, which the checker may have edited): what the model-free composer wrote and
what a person signed off stay side by side. ``inputs`` holds the analyst's facility facts as
JSON, so a draft can be regenerated from the same file and inputs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from assistant.records import utcnow

MEMO_STATUSES = ("draft", "approved", "rejected")


class CreditMemoRow(SQLModel, table=True):
    __tablename__ = "credit_memo"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    created_by: str = Field(max_length=64, description="The analyst who made the draft.")
    file_name: str = Field(max_length=255, description="The statement PDF's file name.")
    file_sha256: str = Field(max_length=64, description="sha256 of the statement PDF.")
    company: str | None = Field(default=None, max_length=255)
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False),
        description="The analyst's facility facts.",
    )
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="draft", max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = None
    final_markdown: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))

    def to_dict(self, *, text: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "created_by": self.created_by,
            "file_name": self.file_name,
            "file_sha256": self.file_sha256,
            "company": self.company,
            "inputs": self.inputs,
            "status": self.status,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat(timespec="seconds")
            if self.decided_at
            else None,
            "note": self.note,
        }
        if text:
            out["markdown"] = self.markdown
            out["final_markdown"] = self.final_markdown
        return out
