"""The FX agent's own state; only ``result`` goes back to the top graph."""

from __future__ import annotations

from typing import Any, TypedDict

from agents.state import Result, Turn


class FxInput(TypedDict, total=False):
    question: str
    history: list[Turn]


class FxOutput(TypedDict, total=False):
    result: Result


class FxState(FxInput, FxOutput, total=False):
    request: dict[str, Any]  # the parsed FxRequest, as plain data
    conversion: dict[str, Any] | None
    check: dict[str, Any] | None
    carry: dict[str, Any] | None  # cash carried across the border: the customs duties
    rate: dict[str, Any] | None
    problems: list[str]  # what could not be computed, said in the answer
    hits: list[dict[str, Any]]  # the articles cited
    tool_calls: list[dict[str, Any]]
    steps: list[dict[str, Any]]
