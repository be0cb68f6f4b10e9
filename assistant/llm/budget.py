"""Fit a prompt into the context window by a token budget, never by crashing: retrieved text
(trimmable messages) is shortened first, then the oldest turns of the conversation go."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from assistant.llm.base import LLMError, Message

TRIM_MARK = "……（內容過長，已截斷 / truncated）"
# The closing mark of fenced data (agents.promptguard): kept when the text before it is cut,
# so a shortened article still ends inside its fence.
_FENCE_CLOSE = re.compile(r"\n⟦/資料 [0-9a-f]+⟧$")


def fit_messages(
    messages: list[Message], budget: int, count: Callable[[str], int], framing: int = 4
) -> tuple[list[Message], bool]:
    """Messages whose total tokens fit in ``budget``; True when anything was cut. ``framing``:
    the tokens the chat template adds around each message (the backend measures its own)."""

    def total(ms: list[Message]) -> int:
        return sum(count(m.content) + framing for m in ms)

    msgs = list(messages)
    if total(msgs) <= budget:
        return msgs, False
    # 1. Shorten retrieved context, the last (least relevant) trimmable message first.
    for i in reversed([i for i, m in enumerate(msgs) if m.trimmable]):
        excess = total(msgs) - budget
        if excess <= 0:
            break
        text = msgs[i].content
        close = m.group(0) if (m := _FENCE_CLOSE.search(text)) else ""
        text = text[: len(text) - len(close)]
        mark = TRIM_MARK + close
        keep = max(0, len(text) - _chars_for(text, excess + count(mark), count))
        msgs[i] = replace(msgs[i], content=(text[:keep] + mark) if keep else "")
    msgs = [m for m in msgs if m.content or not m.trimmable]
    # 2. Drop the oldest turns between the system prompt and the last question.
    while total(msgs) > budget:
        droppable = [i for i, m in enumerate(msgs[:-1]) if m.role != "system"]
        if not droppable:
            break
        del msgs[droppable[0]]
    if total(msgs) > budget:
        raise LLMError(
            f"問題本身超過模型的上下文長度（{total(msgs)} > {budget} tokens）/ the question alone "
            "is longer than the model's context; shorten it"
        )
    return msgs, True


def _chars_for(text: str, tokens: int, count: Callable[[str], int]) -> int:
    """About how many trailing characters of text hold this many tokens."""
    n = count(text)
    if n == 0:
        return len(text)
    return min(len(text), int(len(text) * tokens / n) + 1)
