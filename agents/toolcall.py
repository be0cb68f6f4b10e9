"""One tool call as every agent records it: timed, in a span, kept for the audit trail, and a
refusal from the desk turned into a problem the answer states instead of a crash."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from agents.tools import Tool
from assistant.errors import AssistantError, AuthError
from assistant.permissions import UserContext
from assistant.telemetry import Telemetry
from knowledge.errors import KnowledgeError

if TYPE_CHECKING:
    from agents.context import RunContext

A = TypeVar("A", bound=BaseModel)
R = TypeVar("R")


def call_tool(
    t: Telemetry,
    ctx: RunContext,
    tool: Tool[A, R],
    args: dict[str, Any],
    calls: list[dict[str, Any]],
    problems: list[str],
) -> R | None:
    """``tool``'s result, or None when it was refused (the reason goes to ``problems``).
    Arguments are recorded as given, as text, without the unset ones.

    The caller's role is checked here against the tool's desk operation, before the arguments
    are even read: a call the role does not allow is recorded as refused and never reaches the
    desk (which checks the same table again and audits the refusal)."""
    user = ctx.user

    def run() -> R:
        if not user.may(tool.operation):
            raise _refused(user, tool.name)
        try:
            valid = tool.validate(args)
        except ValidationError as exc:
            raise AssistantError(
                f"工具 {tool.name} 的參數無效 / invalid arguments for {tool.name}: "
                f"{exc.error_count()} error(s), {exc.errors()[0]['msg']}"
            ) from exc
        return tool.run(ctx, valid)

    shown = {k: v for k, v in args.items() if k not in tool.unshown}
    return _recorded(t, calls, problems, tool.name, shown, run, tool.describe)


def _refused(user: UserContext, name: str) -> AuthError:
    return AuthError(f"你的角色（{user.role}）不能使用工具 {name} / your role may not call {name}")


def _recorded(
    t: Telemetry,
    calls: list[dict[str, Any]],
    problems: list[str],
    name: str,
    args: dict[str, Any],
    run: Callable[[], Any],
    summarise: Callable[[Any], str],
) -> Any:
    started = time.perf_counter()
    shown = {
        k: (v if isinstance(v, (int, float, str)) else str(v))
        for k, v in args.items()
        if v is not None
    }
    with t.span(f"tool.{name}"):
        try:
            out = run()
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
