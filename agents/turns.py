"""A turn as the callers receive it (:class:`Answer`) and as the audit trail and the
conversation keep it: used by the top graph's audit node and by the service for a turn paused
for review."""

from __future__ import annotations

import time
from typing import Any

from agents.context import RunContext
from agents.state import GraphState
from assistant.answers import Answer, Citation, Step, ToolCall


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
        first_token_ms=(
            (ctx.llm.first_token_at - ctx.started) * 1000
            if ctx.llm.first_token_at is not None
            else None
        ),
        dropped=list(result.get("dropped", [])),
        thinking=result.get("thinking", ""),
        data=result.get("data") or {},
    )
