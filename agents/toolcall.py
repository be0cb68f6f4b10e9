"""One tool call as every agent records it: timed, in a span, kept for the audit trail, and a
refusal from the service turned into a problem the answer states instead of a crash."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from assistant.errors import AssistantError, AuthError
from assistant.permissions import UserContext
from assistant.telemetry import Telemetry
from knowledge.errors import KnowledgeError


def call_tool(
    t: Telemetry,
    user: UserContext,
    calls: list[dict[str, Any]],
    problems: list[str],
    name: str,
    args: dict[str, Any],
    fn: Callable[[dict[str, Any]], Any],
    summarise: Callable[[Any], str],
) -> Any:
    """``fn(args)``'s result, or None when the service refused (the reason goes to ``problems``).
    Arguments are recorded as text, without the unset ones.

    The permission table is checked here, with the calling user, before the tool runs: a call
    the user's role does not allow is recorded as refused and never reaches the service."""
    started = time.perf_counter()
    shown = {
        k: (v if isinstance(v, (int, float, str)) else str(v))
        for k, v in args.items()
        if v is not None
    }
    with t.span(f"tool.{name}"):
        try:
            if not user.may_call(name):
                raise AuthError(
                    f"你的角色（{user.role}）不能使用工具 {name} / your role may not call {name}"
                )
            out = fn(args)
            ok, summary = True, summarise(out)
        except (AssistantError, KnowledgeError) as exc:
            out, ok, summary = None, False, str(exc)
            problems.append(str(exc))
    calls.append(
        {
            "name": name,
            "args": shown,
            "summary": summary,
            "seconds": round(time.perf_counter() - started, 4),
            "ok": ok,
        }
    )
    return out
