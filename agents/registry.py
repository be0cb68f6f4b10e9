"""An agent as the top graph sees it: a name, what routes to it, and how to build it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.interrupts import ReviewContract


@dataclass(frozen=True)
class AgentSpec:
    name: str
    title_zh: str
    title_en: str
    # Words that point to this agent at once; the router's first, fastest signal.
    keywords: tuple[str, ...]
    # Typical questions; the router compares a new question with them by embedding.
    examples: tuple[str, ...]
    # Builds the agent's compiled subgraph from the shared dependencies.
    build: Callable[[Any], Any]
    # The agent's human step, when it pauses for a person's decision (the credit review).
    review: ReviewContract | None = None
