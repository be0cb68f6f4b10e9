"""A stage of the model pipeline: an LLM that delegates to an inner one, with hooks.

The stages around a backend (pseudonymising, tracing, the prompt guard, the per-turn meter)
each used to restate the whole protocol. :class:`Stage` implements it once, by passing every
call to ``inner``; a stage overrides only the hooks it needs:

- :meth:`Stage.around` — the whole call, from start to end of the stream (a span);
- :meth:`Stage.before` — the call on its way in: may rewrite messages or arguments, or refuse
  it by raising;
- :meth:`Stage.inside` — each stretch of time spent in the inner model (the complete call, the
  start of a stream and every piece pulled from it), never the time a reader holds a piece;
- :meth:`Stage.after` — a whole completion on its way out: may rewrite it, or raise;
- :meth:`Stage.on_piece` — each streamed piece: may rewrite it, or hold it back by returning
  less (what it holds it returns with a later piece or from :meth:`Stage.on_end`);
- :meth:`Stage.on_thinking` — reasoning passed to the caller's ``on_thinking``;
- :meth:`Stage.on_end` — the end of a stream: what is still held back.

A stage may serve many calls at once (one model serves every user), so what a stage keeps for
one call lives in that call's :attr:`Call.notes`, never on the stage. The order of the stages is
set in one place, ``assistant.model_pipeline``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.llm.base import LLM, Completion, Message

_END = object()


@dataclass
class Call:
    """One call as it passes one stage. ``notes`` is that stage's own state for this call; a
    copy made with ``dataclasses.replace`` shares it."""

    kind: Literal["complete", "stream"]
    messages: list[Message]
    max_tokens: int = 512
    temperature: float = 0.0
    json_schema: dict[str, Any] | None = None  # complete only
    notes: dict[str, Any] = field(default_factory=dict)


class Stage:
    """Passes every call to ``inner``; subclasses override the hooks they need."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        # Plain attributes, as the protocol has them: a backend's name and window never change.
        self.name = inner.name
        self.context_size = inner.context_size

    @property
    def available(self) -> bool:
        return self.inner.available

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    # -- hooks --------------------------------------------------------------------------------

    def around(self, call: Call) -> AbstractContextManager[Any]:
        return nullcontext()

    def before(self, call: Call) -> Call:
        return call

    def inside(self, call: Call) -> AbstractContextManager[Any]:
        return nullcontext()

    def after(self, call: Call, out: Completion) -> Completion:
        return out

    def on_piece(self, call: Call, piece: str) -> str:
        return piece

    def on_thinking(self, call: Call, text: str) -> str:
        return text

    def on_end(self, call: Call) -> str:
        return ""

    # -- the protocol, once -------------------------------------------------------------------

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        call = Call("complete", list(messages), max_tokens, temperature, json_schema)
        with self.around(call):
            call = self.before(call)
            with self.inside(call):
                out = self.inner.complete(
                    call.messages,
                    max_tokens=call.max_tokens,
                    temperature=call.temperature,
                    json_schema=call.json_schema,
                )
            return self.after(call, out)

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_thinking: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        call = Call("stream", list(messages), max_tokens, temperature)
        with self.around(call):
            call = self.before(call)

            # Always passed down, so every stage sees the reasoning (the guard scans it, the
            # trace keeps it) even when the caller does not ask for it.
            def thinking(text: str) -> None:
                text = self.on_thinking(call, text)
                if text and on_thinking is not None:
                    on_thinking(text)

            with self.inside(call):
                pieces = iter(
                    self.inner.stream(
                        call.messages,
                        max_tokens=call.max_tokens,
                        temperature=call.temperature,
                        on_thinking=thinking,
                    )
                )
            try:
                while True:
                    with self.inside(call):
                        piece = next(pieces, _END)
                    if not isinstance(piece, str):  # the end mark: the model is done
                        break
                    shown = self.on_piece(call, piece)
                    if shown:
                        yield shown
                tail = self.on_end(call)
                if tail:
                    yield tail
            finally:
                # A reader that stops early, or a stage that refuses a piece, ends the model's
                # stream now: a llama.cpp stream holds the model's lock until it is closed.
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()
