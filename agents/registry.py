"""An agent as the top graph sees it: a name, what routes to it, its tools, and the function
of its graph module that builds it.

What the specs declare is also where the table of tools comes from (:class:`ToolTable`): each
tool names the desk operation it performs, so a role may call a tool exactly when it may use the
agent and perform that operation; nothing keeps a list of tool names in sync by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.interrupts import ReviewContract
from agents.tools import Tool
from assistant.permissions import OPERATIONS, ROLE_AGENTS, UserContext, may


@dataclass(frozen=True)
class AgentSpec:
    name: str
    title_zh: str
    title_en: str
    # Words that point to this agent at once; the router's first, fastest signal.
    keywords: tuple[str, ...]
    # Typical questions; the router compares a new question with them by embedding.
    examples: tuple[str, ...]
    # The agent graph module's ``build()``: wiring only, the nodes read their dependencies
    # from the run's context.
    build: Callable[[], Any]
    # The tools the agent may call; a role that may use the agent may call them when its role
    # may perform each one's desk operation.
    tools: tuple[Tool[Any, Any], ...] = ()
    # The agent's human step, when it pauses for a person's decision (the credit review).
    review: ReviewContract | None = None

    def compile(self) -> Any:
        return self.build()

    @property
    def tool_operations(self) -> dict[str, str]:
        """Each tool's name and the desk operation it performs."""
        return {t.name: t.operation for t in self.tools}


def agent_tools(specs: Iterable[AgentSpec]) -> dict[str, dict[str, str]]:
    """Per agent, its tools and their desk operations."""
    return {s.name: s.tool_operations for s in specs}


@dataclass(frozen=True)
class ToolTable:
    """Agent → tool → desk operation, as the specs declare it. Built by the composition root
    with the graph, so a tool naming an operation that does not exist stops the start-up."""

    agents: Mapping[str, Mapping[str, str]]

    @classmethod
    def of(cls, specs: Iterable[AgentSpec]) -> ToolTable:
        declared = agent_tools(specs)
        seen: dict[str, str] = {}
        for agent, tools in declared.items():
            for tool, operation in tools.items():
                if operation not in OPERATIONS:
                    raise ValueError(f"tool {tool} of agent {agent}: unknown operation {operation}")
                if seen.setdefault(tool, operation) != operation:
                    raise ValueError(f"tool {tool}: operation {seen[tool]} or {operation}")
        return cls(declared)

    def operation(self, tool: str) -> str | None:
        for tools in self.agents.values():
            if tool in tools:
                return tools[tool]
        return None

    def role_tools(self, role: str) -> frozenset[str]:
        """The tools a role may call: its agents' tools whose operation it may perform."""
        agents = ROLE_AGENTS.get(role, frozenset())
        return frozenset(
            tool
            for agent, tools in self.agents.items()
            if agent in agents
            for tool, operation in tools.items()
            if may(role, operation)
        )

    def may_call(self, user: UserContext, tool: str) -> bool:
        return tool in self.role_tools(user.role)
