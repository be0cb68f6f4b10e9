"""The assistant on the shared knowledge base with a model of the test's choice, wired by the
production composition root (``Container``) through its override points.

Qdrant local mode lets one client open a folder per process, so tests that need another model
borrow the session's knowledge base (``Container.KNOWLEDGE``) instead of ingesting a second copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from agents.compliance.graph import SPEC as COMPLIANCE
from agents.registry import AgentSpec
from assistant.container import Container
from assistant.llm.base import LLM, Completion, Message
from assistant.model_pipeline import ModelPipeline
from assistant.service import AssistantService
from assistant.settings import AgentSettings, TelemetrySettings
from assistant.telemetry import Telemetry, make_telemetry


def make_container(
    kb: Container,
    llm: LLM,
    *,
    telemetry: Telemetry | None = None,
    agents: AgentSettings | None = None,
    specs: list[AgentSpec] | None = None,
    checkpointer: Any = None,
) -> Container:
    """A container on the kb's database and knowledge base, with this test's model, telemetry,
    agent settings and agents (the compliance agent alone unless told)."""
    t = telemetry or make_telemetry(TelemetrySettings())
    settings = kb.settings if agents is None else kb.settings.model_copy(update={"agents": agents})
    lent = {name: getattr(kb, name) for name in ("engine", *Container.KNOWLEDGE)}
    lent["_checkpointer"] = (checkpointer, None) if checkpointer else kb._checkpointer
    return Container(
        settings,
        llm=llm,  # the container's pipeline adds the stages, as in production
        telemetry=t,
        agent_specs=specs or [COMPLIANCE],
        lent=lent,
    )


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
    c = make_container(
        kb, llm, telemetry=telemetry, agents=agents, specs=specs, checkpointer=checkpointer
    )
    if model_enabled is None:
        return c.service
    # The administrators' switch as this test reads it.
    return c.service_with(ModelPipeline(c.llm, telemetry=c.telemetry, enabled=model_enabled))


class ScriptedLLM:
    """A fake model that returns scripted replies: for testing graph control flow only."""

    def __init__(self, replies: list[Any], name: str = "scripted") -> None:
        self.replies = list(replies)
        self.name = name
        self.context_size = 4096
        self.prompts: list[list[Message]] = []
        self.pulled: list[int] = []  # pieces each stream gave before it was closed

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
        # A list is the stream's pieces as they come; a string comes four characters a piece.
        pieces = (
            reply
            if isinstance(reply, list)
            else [reply[i : i + 4] for i in range(0, len(reply), 4)]
        )
        self.pulled.append(0)
        for piece in pieces:
            self.pulled[-1] += 1
            yield piece
