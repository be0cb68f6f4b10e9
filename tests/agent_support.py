"""Assemble the assistant's graph on the shared knowledge base with a model of the test's choice.

Qdrant local mode lets one client open a folder per process, so tests that need another model
reuse the session's knowledge base instead of ingesting a second copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from agents.compliance.graph import SPEC as COMPLIANCE
from agents.deps import AgentDeps
from agents.graph import build_graph
from agents.registry import AgentSpec
from assistant.container import Container
from assistant.llm.base import LLM, Completion, Message
from assistant.service import AssistantService
from assistant.settings import AgentSettings, TelemetrySettings
from assistant.telemetry import Telemetry, TracedLLM, make_telemetry


def make_service(
    kb: Container,
    llm: LLM,
    *,
    telemetry: Telemetry | None = None,
    agents: AgentSettings | None = None,
    specs: list[AgentSpec] | None = None,
    checkpointer: Any = None,
    model_enabled: Any = None,
) -> AssistantService:
    t = telemetry or make_telemetry(TelemetrySettings())
    traced = TracedLLM(llm, t)
    deps = AgentDeps(
        retriever=kb.retriever,
        analyzer=kb.analyzer,
        telemetry=t,
        settings=agents or kb.settings.agents,
        audit=kb.audit,
        conversations=kb.conversations,
        model_sha256=lambda: "test-sha",
        embedder=kb.embedder if specs and len(specs) > 1 else None,
    )
    graph = build_graph(deps, specs or [COMPLIANCE], checkpointer or kb._checkpointer[0])
    return AssistantService(
        graph, traced, kb.conversations, kb.audit, t, model_enabled=model_enabled
    )


class ScriptedLLM:
    """A fake model that returns scripted replies: for testing graph control flow only."""

    def __init__(self, replies: list[Any], name: str = "scripted") -> None:
        self.replies = list(replies)
        self.name = name
        self.context_size = 4096
        self.prompts: list[list[Message]] = []

    @property
    def available(self) -> bool:
        return True

    def count_tokens(self, text: str) -> int:
        return len(text)

    def _next(self, messages: list[Message]) -> Any:
        self.prompts.append(messages)
        return self.replies.pop(0)

    def complete(self, messages: list[Message], **kwargs: Any) -> Completion:
        reply = self._next(messages)
        if isinstance(reply, dict):
            return Completion(text=json.dumps(reply), data=reply, model=self.name)
        return Completion(text=str(reply), model=self.name)

    def stream(self, messages: list[Message], **kwargs: Any) -> Iterator[str]:
        reply = self._next(messages)
        if isinstance(reply, tuple):  # (thinking, answer), as a backend splits them
            thinking, reply = reply
            if kwargs.get("on_thinking"):
                kwargs["on_thinking"](thinking)
        yield from (reply[i : i + 4] for i in range(0, len(reply), 4))
