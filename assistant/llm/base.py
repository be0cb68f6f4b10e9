"""Types shared by every backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


class LLMError(Exception):
    """The model cannot answer (not loaded, unreachable, misconfigured); the message says why."""


@dataclass
class Message:
    role: Role
    content: str
    # Retrieved text and tool results may be shortened to fit the context; questions may not.
    trimmable: bool = False


@dataclass
class Completion:
    text: str
    thinking: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    first_token_s: float | None = None
    model: str = ""
    trimmed: bool = False
    data: Any = field(default=None, repr=False)  # the parsed object, for schema-constrained calls


class LLM(Protocol):
    name: str
    context_size: int

    @property
    def available(self) -> bool: ...

    def count_tokens(self, text: str) -> int: ...

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion: ...

    def stream(
        self, messages: list[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[str]: ...
