"""The credit agent's own state; only ``result`` goes back to the top graph.

Everything here is plain data: the subgraph is checkpointed while it waits for the analyst's
sign-off, so a restarted server resumes the review from these fields.
"""

from __future__ import annotations

from typing import Any, TypedDict

from agents.interrupts import ReviewContract
from agents.state import Result, Turn

# The maker-checker review the agent pauses for: a role that may ``credit.decide`` approves,
# approves an edited text or rejects with a note (checked by the service through the desk).
CREDIT_REVIEW = ReviewContract(
    kind="credit_review",
    operation="credit.decide",
    area="credit",
    subject_zh="徵信報告草稿",
    subject_en="memo draft",
)


class CreditInput(TypedDict, total=False):
    question: str
    history: list[Turn]
    attachment: str | None  # the report uploaded with this question
    attachments: list[str]  # every report uploaded in this conversation, oldest first


class CreditOutput(TypedDict, total=False):
    result: Result


class CreditState(CreditInput, CreditOutput, total=False):
    request: dict[str, Any]  # parse.CreditRequest as a dict
    mode: str  # draft | figures | rules | need_report
    report: str | None  # the PDF this turn works on
    draft: dict[str, Any] | None  # the stored draft: id, docx, markdown, company, flags
    figures: dict[str, Any] | None  # a report's key ratios with their pages, no draft asked
    pending: dict[str, Any] | None  # the review as the analyst is shown it (interrupt value)
    decision: dict[str, Any] | None  # the analyst's decision and its outcome
    hits: list[dict[str, Any]]  # articles, when the question is about the rules
    problems: list[str]
    tool_calls: list[dict[str, Any]]
    steps: list[dict[str, Any]]
