"""A tool an agent may call: its name, the desk operation it performs, what it does (zh/en),
the arguments it takes, and the function that performs it.

The operation is the permission: ``call_tool`` allows a tool exactly when the caller's role may
perform its operation (``assistant.permissions.OPERATIONS``), the same table the desk checks
again. Nothing keeps a tool name and a permission in sync by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from agents.context import RunContext

A = TypeVar("A", bound=BaseModel)
R = TypeVar("R")


class ToolArgs(BaseModel):
    """Base of the tools' argument schemas: unknown arguments are refused, dates and amounts
    keep their Python types (a tool receives what its desk method takes)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


@dataclass(frozen=True)
class Tool(Generic[A, R]):
    name: str
    operation: str  # a key of assistant.permissions.OPERATIONS
    summary_zh: str
    summary_en: str
    args: type[A]
    # Performs the call: the run's context (user, conversation, dependencies), validated args.
    run: Callable[[RunContext, A], R]
    # One line on the result, for the turn's tool calls and the audit trail.
    describe: Callable[[R], str] = str  # type: ignore[assignment]
    # Arguments left out of the turn's record: free text the question already holds.
    unshown: frozenset[str] = frozenset()

    def __call__(self, ctx: RunContext, args: A) -> R:
        return self.run(ctx, args)

    def validate(self, args: dict[str, Any]) -> A:
        return self.args.model_validate(args)
