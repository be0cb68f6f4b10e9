"""The one graph: guard → route → agent → answer → audit.

Built from the agents' specs and the shared dependencies; the checkpointer keeps one thread per
conversation, so a restarted server resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents.context import RunContext
from agents.deps import AgentDeps
from agents.registry import AgentSpec
from agents.router import Router, Routing
from agents.state import GraphState
from agents.steps import emit, node_span
from assistant.answers import Answer, Citation, Step, ToolCall


def build_graph(deps: AgentDeps, specs: Sequence[AgentSpec], checkpointer: Any) -> Any:
    t = deps.telemetry
    router = Router(specs, deps.embedder, deps.settings.route_margin)
    titles = {s.name: (s.title_zh, s.title_en) for s in specs}

    def guard(state: GraphState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        user = runtime.context.user
        question = (state.get("question") or "").strip()
        refused = None
        with node_span(t, "guard", steps) as note:
            limit = deps.settings.max_question_chars
            if not question:
                refused = "問題是空的 / the question is empty"
            elif len(question) > limit:
                refused = (
                    f"問題過長（{len(question)} 字，上限 {limit} 字），請縮短或分段提問 / "
                    f"question too long ({len(question)} > {limit} characters)"
                )
            elif not user.agents:
                refused = f"角色 {user.role} 沒有任何助理的使用權限 / role has no access"
            note("refused" if refused else f"ok ({len(question)} chars, role {user.role})")
        # Each turn starts clean: only history carries over from the checkpoint.
        return {
            "question": question,
            "refused": refused,
            "steps": steps,
            "agent": "",
            "route_method": "",
            "result": {},
            "audit_id": None,
        }

    def route(state: GraphState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        steps = list(state.get("steps", []))
        user = runtime.context.user
        with node_span(t, "route", steps) as note:
            if state.get("attachment") and "credit" in titles:
                # An uploaded report is work for the credit agent whatever the words; a role
                # without it is refused below, like any other question for that agent.
                r = Routing("credit", "attachment")
            else:
                r = router.route(state["question"], runtime.context.llm)
            refused = None
            if not user.may_use(r.agent):
                # Decided here, in code: the model never grants access.
                zh, en = titles[r.agent]
                refused = (
                    f"你的角色（{user.role}）不能使用{zh} / your role may not use the {en} agent"
                )
            note(f"{r.agent} by {r.method}" + (" (refused)" if refused else ""))
        return {"agent": r.agent, "route_method": r.method, "refused": refused, "steps": steps}

    def answer(state: GraphState) -> dict[str, Any]:
        steps = list(state.get("steps", []))
        with node_span(t, "answer", steps) as note:
            result = dict(state.get("result") or {})
            if state.get("refused"):
                result = {"answer": state["refused"], "citations": [], "generated": False}
                # Streamed like any answer, or a client that prints the stream shows nothing.
                emit("token", state["refused"])
            labels = [c["label"] for c in result.get("citations", [])]
            note(f"{len(labels)} citations")
        turn = {
            "question": state["question"],
            "answer": result.get("answer", ""),
            "agent": state.get("agent", ""),
            "citations": labels,
        }
        return {"result": result, "steps": steps, "history": [] if state.get("refused") else [turn]}

    def audit(state: GraphState, runtime: Runtime[RunContext]) -> dict[str, Any]:
        steps = list(state.get("steps", []))
        ctx = runtime.context
        with node_span(t, "audit", steps):
            audit_id = record_turn(
                deps.audit,
                deps.conversations,
                ctx.user,
                state["conversation_id"],
                state["question"],
                to_answer(state, ctx),
                state["result"].get("chunks", []),
                deps.model_sha256(),
            )
        return {"audit_id": audit_id, "steps": steps}

    def after_guard(state: GraphState) -> str:
        return "answer" if state.get("refused") else "route"

    def after_route(state: GraphState) -> str:
        return "answer" if state.get("refused") else state["agent"]

    g = StateGraph(GraphState, context_schema=RunContext)
    g.add_node("guard", guard)
    g.add_node("route", route)
    for spec in specs:
        g.add_node(spec.name, spec.build(deps))
    g.add_node("answer", answer)
    g.add_node("audit", audit)
    g.add_edge(START, "guard")
    g.add_conditional_edges("guard", after_guard, ["route", "answer"])
    g.add_conditional_edges("route", after_route, [*(s.name for s in specs), "answer"])
    for spec in specs:
        g.add_edge(spec.name, "answer")
    g.add_edge("answer", "audit")
    g.add_edge("audit", END)
    return g.compile(checkpointer=checkpointer)


def record_turn(
    audit: Any,
    conversations: Any,
    user: Any,
    conversation_id: str,
    question: str,
    ans: Answer,
    chunks: list[dict[str, Any]],
    model_sha256: str,
    extra: dict[str, Any] | None = None,
) -> int:
    """One turn into the audit trail and the conversation (with what a reopened conversation
    shows again: agent, citations, tool calls); the audit record's id."""
    audit_id = audit.record(user, question, ans, chunks, model_sha256)
    conversations.add_turn(
        conversation_id,
        question,
        ans.answer,
        audit_id,
        {
            "agent": ans.agent,
            "citations": [c.__dict__ for c in ans.citations],
            "tool_calls": [c.__dict__ for c in ans.tool_calls],
            **(extra or {}),
        },
    )
    return audit_id


def to_answer(state: GraphState, ctx: RunContext) -> Answer:
    """The graph's state at the end of a turn, as the Answer the callers receive."""
    result = state.get("result") or {}
    steps = [*state.get("steps", []), *result.get("steps", [])]
    return Answer(
        answer=result.get("answer", ""),
        agent=state.get("agent", ""),
        citations=[
            Citation(
                law=c["law"],
                article=c["article"],
                label=c["label"],
                chunk_id=c["chunk_id"],
                text=c.get("text", ""),
                amended=c.get("amended"),
                url=c.get("url"),
                lang=c.get("lang", "zh-TW"),
            )
            for c in result.get("citations", [])
        ],
        tool_calls=[
            ToolCall(
                name=c["name"],
                args=c["args"],
                summary=c.get("summary", ""),
                seconds=c.get("seconds", 0.0),
                ok=c.get("ok", True),
            )
            for c in result.get("tool_calls", [])
        ],
        steps=[Step(s["node"], s["detail"], s.get("seconds", 0.0)) for s in steps],
        model=ctx.llm.name,
        generated=bool(result.get("generated")),
        no_basis=bool(result.get("no_basis")),
        refused=state.get("refused"),
        conversation_id=state.get("conversation_id", ""),
        audit_id=state.get("audit_id"),
        route_method=state.get("route_method", ""),
        llm_calls=ctx.llm.calls,
        latency_ms=(time.perf_counter() - ctx.started) * 1000,
        model_ms=ctx.llm.seconds * 1000,
        thinking=result.get("thinking", ""),
        data=result.get("data") or {},
    )
