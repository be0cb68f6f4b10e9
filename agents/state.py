"""The top graph's state. Everything in it is plain data: it is checkpointed per conversation."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class Turn(TypedDict):
    question: str
    answer: str
    agent: str
    citations: list[str]  # labels, so a follow-up can be read against what was cited


class Result(TypedDict, total=False):
    """What an agent hands to the answer and audit nodes."""

    answer: str
    citations: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    chunks: list[dict[str, Any]]
    generated: bool
    no_basis: bool
    thinking: str
    data: dict[str, Any]
    # What the citation filter took out of the model's text (agents.cite): "refusal", "loop",
    # "uncited 公司法第999條". The answer stands on code's choice; the trace says why.
    dropped: list[str]


class GraphState(TypedDict, total=False):
    question: str  # in Taiwan Traditional: what routing, search and the parsers read
    asked: str  # as the user typed it (Simplified included): what the audit records
    conversation_id: str
    history: Annotated[list[Turn], operator.add]  # grows by one turn per answer
    agent: str
    route_method: str
    refused: str | None
    result: Result
    steps: list[dict[str, Any]]  # guard and route steps of this turn
    audit_id: int | None
    # Reports (PDF paths under data_dir/uploads) the user uploaded: this turn's, and every one
    # of the conversation, so a follow-up works on the last report without uploading it again.
    attachment: str | None
    attachments: Annotated[list[str], operator.add]
