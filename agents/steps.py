"""Small helpers every node uses: report a step to the stream and time it in a span."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from langgraph.config import get_stream_writer

from assistant.telemetry import Telemetry


def emit(kind: str, payload: Any) -> None:
    """Send an event to whoever streams the graph (the UI shows steps and tokens as they come)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run, e.g. a node tested on its own
        return
    writer({kind: payload})


@contextmanager
def node_span(
    telemetry: Telemetry, node: str, steps: list[dict[str, Any]]
) -> Iterator[Callable[[str], None]]:
    """A span for a graph node; the yielded function records the node's one-line outcome."""
    started = time.perf_counter()
    detail: list[str] = []
    with telemetry.span(f"graph.node.{node}", **{"graph.node": node}) as span:
        yield detail.append
        seconds = time.perf_counter() - started
        step = {"node": node, "detail": "; ".join(detail), "seconds": round(seconds, 4)}
        span.set_attribute("graph.detail", step["detail"])
        steps.append(step)
        emit("step", step)


def composed_result(
    answer: str,
    cited: list[dict[str, Any]],
    tool_calls: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An agent's Result for an answer composed in code (no model): its citations, and the
    chunks the audit records with their amendment dates."""
    return {
        "answer": answer,
        "citations": cited,
        "generated": False,
        "no_basis": False,
        "thinking": "",
        "tool_calls": tool_calls,
        "steps": steps,
        "chunks": [{k: h.get(k) for k in ("chunk_id", "law", "article", "amended")} for h in cited],
        "data": data or {},
    }
