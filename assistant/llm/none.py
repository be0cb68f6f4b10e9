"""No model at all: the assistant answers from retrieval and tools, and says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from assistant.llm.base import Completion, LLMError, Message


class NoLLM:
    name = "none"
    context_size = 0

    @property
    def available(self) -> bool:
        return False

    def count_tokens(self, text: str) -> int:
        return len(text)

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        raise LLMError(
            "未載入語言模型 / no language model is configured (ASSISTANT_LLM_BACKEND=none)"
        )

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_thinking: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        raise LLMError(
            "未載入語言模型 / no language model is configured (ASSISTANT_LLM_BACKEND=none)"
        )
