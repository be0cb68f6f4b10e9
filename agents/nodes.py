"""The top graph's nodes: guard → route → (agent) → answer → audit.

Module-level functions of the state and the run's context, which carries who asks, the metered
model, and what the graph was built with (``RunContext.deps``, ``RunContext.router``).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.context import RunContext, deps_of
from agents.router import Router, Routing
from agents.state import GraphState
from agents.steps import emit, node_span
from agents.turns import record_turn, to_answer
from assistant.llm.script import normalise_question


def _router(runtime: Runtime[RunContext]) -> Router:
    router = runtime.context.router
    if router is None:
        raise RuntimeError("執行環境缺少路由 / no router in the run context")
    return router


def guard(state: GraphState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    steps: list[dict[str, Any]] = []
    user = runtime.context.user
    asked = (state.get("question") or "").strip()
    # The knowledge base, the law names and the agents' words are Taiwan Traditional: a question
    # typed or pasted in Simplified (洗钱防制法第5条) is read in Traditional, runs of Simplified
    # characters only, and without the invisible characters pasted text carries; the record
    # keeps what was typed.
    question = normalise_question(asked)
    refused = None
    with node_span(deps.telemetry, "guard", steps) as note:
        if question != asked:
            note(
                "簡體字轉為正體、去除不可見字元 / read as Traditional, invisible characters removed"
            )
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
        "asked": asked,
        "refused": refused,
        "steps": steps,
        "agent": "",
        "route_method": "",
        "result": {},
        "audit_id": None,
    }


def route(state: GraphState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    deps = deps_of(runtime)
    router = _router(runtime)
    steps = list(state.get("steps", []))
    user = runtime.context.user
    with node_span(deps.telemetry, "route", steps) as note:
        if state.get("attachment") and "credit" in router.agents:
            # An uploaded report is work for the credit agent whatever the words; a role
            # without it is refused below, like any other question for that agent.
            r = Routing("credit", "attachment")
        else:
            r = router.route(state["question"], runtime.context.llm)
        if not user.may_use(r.agent) and r.method not in ("keywords", "attachment"):
            # Only a weak signal (similarity to example questions, or the model's pick among
            # close ones) points at an agent this role may not use: the question named nothing
            # of it, so it goes to the closest agent the role may use, instead of a refusal
            # for an agent the user never asked for. Words of that agent still get the refusal.
            mine = [a for a in sorted(r.scores, key=lambda a: -r.scores[a]) if user.may_use(a)]
            if mine:
                r = Routing(mine[0], f"{r.method}, within the role", r.scores)
        refused = None
        if not user.may_use(r.agent):
            # Decided here, in code: the model never grants access.
            zh, en = router.titles(r.agent)
            refused = f"你的角色（{user.role}）不能使用{zh} / your role may not use the {en} agent"
        note(f"{r.agent} by {r.method}" + (" (refused)" if refused else ""))
    return {"agent": r.agent, "route_method": r.method, "refused": refused, "steps": steps}


def answer(state: GraphState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    steps = list(state.get("steps", []))
    with node_span(deps_of(runtime).telemetry, "answer", steps) as note:
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
    deps = deps_of(runtime)
    steps = list(state.get("steps", []))
    ctx = runtime.context
    with node_span(deps.telemetry, "audit", steps):
        audit_id = record_turn(
            deps.audit,
            deps.conversations,
            ctx.user,
            state["conversation_id"],
            state.get("asked") or state["question"],
            to_answer(state, ctx),
            state["result"].get("chunks", []),
            deps.model_sha256(),
        )
    return {"audit_id": audit_id, "steps": steps}


def after_guard(state: GraphState) -> str:
    return "answer" if state.get("refused") else "route"


def after_route(state: GraphState) -> str:
    return "answer" if state.get("refused") else state["agent"]
