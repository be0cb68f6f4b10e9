"""Customer identifiers never reach a model outside this process.

``PseudonymisingLLM`` wraps a backend that sends text elsewhere (the ``openai`` backend: a
server that may sit on another machine, run by another team). Every message is pseudonymised
before it leaves (``A123456789`` → ``[身分證#3f9a2c1b]``, a keyed token: the same customer gets
the same token within the call, so the model can still tell two customers apart), and the
tokens in the answer are put back before anyone reads it. The key is random per process and
the originals live only in the call's own table.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from assistant.llm.base import LLM, Completion, Message
from assistant.pii import Pseudonymizer

# The longest token the pseudonymiser writes ("[電子郵件#" + 8 hex + "]"), with room to spare:
# a stream holds back at most this much while a token may still be arriving in pieces.
_HOLD = 24


class PseudonymisingLLM:
    def __init__(self, inner: LLM, key: bytes | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.context_size = inner.context_size
        self._key = key or secrets.token_bytes(32)

    @property
    def available(self) -> bool:
        return self.inner.available

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _outgoing(self, messages: list[Message]) -> tuple[Pseudonymizer, list[Message]]:
        p = Pseudonymizer(self._key)
        return p, [replace(m, content=p.pseudonymise(m.content)) for m in messages]

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        p, sent = self._outgoing(messages)
        out = self.inner.complete(
            sent, max_tokens=max_tokens, temperature=temperature, json_schema=json_schema
        )
        return replace(
            out,
            text=p.unmask(out.text),
            thinking=p.unmask(out.thinking),
            data=_unmask_data(out.data, p.unmask),
        )

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_thinking: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        p, sent = self._outgoing(messages)
        thinking = (lambda s: on_thinking(p.unmask(s))) if on_thinking else None
        held = ""
        for piece in self.inner.stream(
            sent, max_tokens=max_tokens, temperature=temperature, on_thinking=thinking
        ):
            held = p.unmask(held + piece)
            # Hold back an unfinished "[…" that may be the start of a token.
            cut = held.rfind("[")
            if cut != -1 and "]" not in held[cut:] and len(held) - cut <= _HOLD:
                ready, held = held[:cut], held[cut:]
            else:
                ready, held = held, ""
            if ready:
                yield ready
        if held:
            yield p.unmask(held)


def _unmask_data(data: Any, unmask: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return unmask(data)
    if isinstance(data, list):
        return [_unmask_data(x, unmask) for x in data]
    if isinstance(data, dict):
        return {k: _unmask_data(v, unmask) for k, v in data.items()}
    return data
