"""The compliance agent's own state; only ``result`` goes back to the top graph."""

from __future__ import annotations

from typing import Any, TypedDict

from agents.state import Result, Turn


class ComplianceInput(TypedDict, total=False):
    question: str
    history: list[Turn]


class ComplianceOutput(TypedDict, total=False):
    result: Result


class ComplianceState(ComplianceInput, ComplianceOutput, total=False):
    query: str  # the question to search: a follow-up carries the law of the turn before
    searched: str  # the query of the last search, so an unchanged rewrite is not searched again
    rewrite_next: bool
    searches: list[list[dict[str, Any]]]  # hits of each search, first search first
    hits: list[dict[str, Any]]  # merged, best first
    coverage: float  # share of the question's key terms found in the best-covering hit
    rewritten: bool
    steps_used: int
    tool_calls: list[dict[str, Any]]
    steps: list[dict[str, Any]]
