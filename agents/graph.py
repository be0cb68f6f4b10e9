"""The one graph: guard → route → agent → answer → audit.

Built from the agents' specs; the nodes (``agents.nodes``) read the dependencies the graph was
built with from the run's context, which :class:`AgentGraph` fills in. The checkpointer keeps
one thread per conversation, so a restarted server resumes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from langgraph.graph import END, START, StateGraph

from agents import nodes
from agents.context import RunContext
from agents.deps import AgentDeps
from agents.registry import AgentSpec
from agents.router import Router
from agents.state import GraphState
from agents.turns import record_turn, to_answer

__all__ = ["AgentGraph", "build_graph", "record_turn", "to_answer"]


class AgentGraph:
    """The compiled graph with what it was built with. Every run's context gets the
    dependencies and the router, so the channel that runs it says only who asks (user, model,
    conversation) and the nodes need no closure over a bag of services. Everything else
    (``get_state``, ``update_state``…) is the compiled graph's own."""

    def __init__(self, compiled: Any, deps: AgentDeps, router: Router) -> None:
        self.compiled = compiled
        self.deps = deps
        self.router = router

    def bind(self, context: RunContext) -> RunContext:
        """The run's context with this graph's dependencies (the caller's object is left as
        it was; the model meter and the fence are shared, so the counts reach the caller)."""
        return replace(
            context,
            deps=context.deps or self.deps,
            router=context.router or self.router,
        )

    def stream(
        self, input: Any, config: Any = None, *, context: RunContext, **kwargs: Any
    ) -> Iterator[Any]:
        return self.compiled.stream(input, config, context=self.bind(context), **kwargs)

    def invoke(self, input: Any, config: Any = None, *, context: RunContext, **kwargs: Any) -> Any:
        return self.compiled.invoke(input, config, context=self.bind(context), **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled, name)


def build_graph(deps: AgentDeps, specs: Sequence[AgentSpec], checkpointer: Any) -> AgentGraph:
    router = Router(specs, deps.embedder, deps.settings.route_margin)
    g = StateGraph(GraphState, context_schema=RunContext)
    g.add_node("guard", nodes.guard)
    g.add_node("route", nodes.route)
    for spec in specs:
        g.add_node(spec.name, spec.compile())
    g.add_node("answer", nodes.answer)
    g.add_node("audit", nodes.audit)
    g.add_edge(START, "guard")
    g.add_conditional_edges("guard", nodes.after_guard, ["route", "answer"])
    g.add_conditional_edges("route", nodes.after_route, [*(s.name for s in specs), "answer"])
    for spec in specs:
        g.add_edge(spec.name, "answer")
    g.add_edge("answer", "audit")
    g.add_edge("audit", END)
    return AgentGraph(g.compile(checkpointer=checkpointer), deps, router)
