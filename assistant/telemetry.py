"""OpenTelemetry: a span for every graph node, model call, retrieval and tool call.

The tracer provider is built here from settings and passed down; nothing sets the global
provider, so two assistants in one process (the tests) never share spans. Message content stays
off spans unless ``telemetry.record_content`` is on.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, Status, StatusCode

from assistant.llm.base import Completion, Message

if TYPE_CHECKING:
    from assistant.llm.base import LLM
    from assistant.settings import TelemetrySettings

CONTENT_CHARS = 4000  # longest text put on a span when content recording is on


class Telemetry:
    def __init__(self, provider: TracerProvider, record_content: bool = False) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("twfin-assistant")
        self.record_content = record_content

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Span]:
        with self._tracer.start_as_current_span(name) as span:
            for key, value in attributes.items():
                if value is not None:
                    span.set_attribute(key, value)
            try:
                yield span
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    def content(self, span: Span, key: str, text: str) -> None:
        """Attach message text to a span only when the deployment allows it."""
        if self.record_content and text:
            span.set_attribute(key, text[:CONTENT_CHARS])

    def shutdown(self) -> None:
        self._provider.shutdown()


def make_telemetry(settings: TelemetrySettings, exporter: SpanExporter | None = None) -> Telemetry:
    """``exporter`` overrides the setting (tests pass an in-memory one)."""
    from assistant.pii import MaskingSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    # Every exporter sees spans with customer identifiers masked (record_content may put
    # questions and answers on them; tool arguments carry account numbers).
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(MaskingSpanExporter(exporter)))
    elif settings.exporter == "console":
        # stderr: stdout belongs to `assistant ask --json`.
        provider.add_span_processor(
            SimpleSpanProcessor(MaskingSpanExporter(ConsoleSpanExporter(out=sys.stderr)))
        )
    elif settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(
                MaskingSpanExporter(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
            )
        )
    return Telemetry(provider, settings.record_content)


class TracedLLM:
    """Wraps any backend: one span per call with tokens in and out and time to first token."""

    def __init__(self, inner: LLM, telemetry: Telemetry) -> None:
        self.inner = inner
        self._t = telemetry
        self.name = inner.name
        self.context_size = inner.context_size

    @property
    def available(self) -> bool:
        return self.inner.available

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        with self._t.span(
            "llm.complete", **{"llm.model": self.name, "llm.structured": json_schema is not None}
        ) as span:
            self._t.content(span, "llm.prompt", messages[-1].content if messages else "")
            out = self.inner.complete(
                messages, max_tokens=max_tokens, temperature=temperature, json_schema=json_schema
            )
            span.set_attribute("llm.tokens_in", out.tokens_in)
            span.set_attribute("llm.tokens_out", out.tokens_out)
            span.set_attribute("llm.seconds", round(out.seconds, 4))
            span.set_attribute("llm.trimmed", out.trimmed)
            self._t.content(span, "llm.completion", out.text)
            self._t.content(span, "llm.thinking", out.thinking)
            return out

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_thinking: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        with self._t.span("llm.stream", **{"llm.model": self.name}) as span:
            self._t.content(span, "llm.prompt", messages[-1].content if messages else "")
            started = time.perf_counter()
            first: float | None = None
            pieces: list[str] = []

            def thinking(text: str) -> None:
                self._t.content(span, "llm.thinking", text)
                if on_thinking is not None:
                    on_thinking(text)

            for piece in self.inner.stream(
                messages, max_tokens=max_tokens, temperature=temperature, on_thinking=thinking
            ):
                if first is None:
                    first = time.perf_counter() - started
                    span.set_attribute("llm.first_token_s", round(first, 4))
                pieces.append(piece)
                yield piece
            text = "".join(pieces)
            span.set_attribute("llm.seconds", round(time.perf_counter() - started, 4))
            span.set_attribute("llm.tokens_in", sum(self._tokens(m.content) for m in messages))
            span.set_attribute("llm.tokens_out", self._tokens(text))
            self._t.content(span, "llm.completion", text)

    def _tokens(self, text: str) -> int:
        try:
            return self.inner.count_tokens(text) if self.inner.available else 0
        except Exception:  # a count is telemetry, never a reason to fail an answer
            return 0
