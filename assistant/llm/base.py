"""Types shared by every backend."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
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


def to_completion(
    out: dict[str, Any], structured: bool, started: float, model: str, trimmed: bool
) -> Completion:
    """A chat-completion response (llama-cpp-python and OpenAI share its shape) as a Completion:
    thinking split off the answer, JSON parsed for schema-constrained calls."""
    from assistant.llm.thinking import split_thinking

    raw = out["choices"][0]["message"].get("content") or ""
    answer, thinking = (raw.strip(), "") if structured else split_thinking(raw)
    data = None
    if structured:
        try:
            data = json.loads(answer)
        except json.JSONDecodeError as exc:
            raise LLMError(
                f"模型輸出不是完整的 JSON / the model's output was cut off: {exc}"
            ) from exc
    usage = out.get("usage") or {}
    return Completion(
        text=answer,
        thinking=thinking,
        tokens_in=usage.get("prompt_tokens", 0),
        tokens_out=usage.get("completion_tokens", 0),
        seconds=time.perf_counter() - started,
        first_token_s=None,
        model=model,
        trimmed=trimmed,
        data=data,
    )


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
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_thinking: Callable[[str], None] | None = None,
    ) -> Iterator[str]: ...
