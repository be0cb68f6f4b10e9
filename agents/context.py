"""What one request carries through the graph: who asks, and the model metered for them.

Passed as LangGraph's run-time context, never stored in the checkpoint: a resumed conversation
is answered with the permissions of whoever resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from langgraph.runtime import Runtime

from agents.promptguard import Fence
from assistant.llm.base import LLM
from assistant.llm.pipeline import Call, Stage
from assistant.permissions import UserContext

if TYPE_CHECKING:
    from agents.deps import AgentDeps
    from agents.router import Router


class MeteredLLM(Stage):
    """Counts one request's model calls and the time spent in them: the benchmark's split
    between time in the model and time everywhere else comes from here."""

    def __init__(self, inner: LLM) -> None:
        super().__init__(inner)
        self.calls = 0
        self.seconds = 0.0
        self.first_token_at: float | None = None  # when the turn's first streamed text came

    def on_piece(self, call: Call, piece: str) -> str:
        if piece and self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        return piece

    def before(self, call: Call) -> Call:
        self.calls += 1
        return call

    @contextmanager
    def inside(self, call: Call) -> Iterator[None]:
        # Only the time inside the model counts, not the time the consumer holds a token.
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started


@dataclass
class RunContext:
    user: UserContext
    llm: MeteredLLM
    started: float = field(default_factory=time.perf_counter)
    conversation_id: str | None = None  # for what a tool files against the conversation
    # Marks the data (retrieved text, tool results) in this turn's prompts as data.
    fence: Fence = field(default_factory=Fence)
    # What the graph was built with (desks, settings, telemetry; the router of the top graph).
    # The channel says who asks; ``agents.graph.AgentGraph`` adds these to every run, so the
    # nodes are plain functions that read typed dependencies here instead of closing over them.
    deps: AgentDeps | None = None
    router: Router | None = None

    @property
    def services(self) -> AgentDeps:
        if self.deps is None:
            raise RuntimeError(
                "執行環境缺少助理依賴（請經由 AgentGraph 執行）/ no agent dependencies in the run "
                "context: run the graph through agents.graph.AgentGraph"
            )
        return self.deps


def deps_of(runtime: Runtime[RunContext]) -> AgentDeps:
    """The typed dependencies of the graph this node runs in."""
    return runtime.context.services
