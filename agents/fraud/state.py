"""The fraud agent's own state; only ``result`` goes back to the top graph."""

from __future__ import annotations

from typing import Any, TypedDict

from agents.state import Result, Turn


class FraudInput(TypedDict, total=False):
    question: str
    history: list[Turn]


class FraudOutput(TypedDict, total=False):
    result: Result


class FraudState(FraudInput, FraudOutput, total=False):
    request: dict[str, Any]
    traces: list[dict[str, Any]]  # TraceResult.to_dict() per direction
    score: dict[str, Any] | None
    account_info: dict[str, Any] | None  # the account's own record (bank, opened, status)
    top: dict[str, Any] | None  # 「風險最高的帳戶」: the highest scores and the model behind them
    alert: dict[str, Any] | None  # the monitor's alert the question named (「警示 #12 …」)
    ring: dict[str, Any] | None  # rings.RingResult.as_dict() when the ring was asked for
    proposals: list[dict[str, Any]]  # decisions proposed for an investigator to confirm
    hits: list[dict[str, Any]]  # articles, when the question is about the rules
    problems: list[str]
    tool_calls: list[dict[str, Any]]
    steps: list[dict[str, Any]]
