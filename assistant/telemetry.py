"""OpenTelemetry: a span for every graph node, model call, retrieval and tool call.

The tracer provider is built here from settings and passed down; nothing sets the global
provider, so two assistants in one process (the tests) never share spans. Message content stays
off spans unless ``telemetry.record_content`` is on.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
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

from assistant.llm.base import Completion
from assistant.llm.pipeline import Call, Stage

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


class TracedLLM(Stage):
    """One span per model call, with tokens in and out and time to first token."""

    def __init__(self, inner: LLM, telemetry: Telemetry) -> None:
        super().__init__(inner)
        self._t = telemetry

    @contextmanager
    def around(self, call: Call) -> Iterator[None]:
        attributes: dict[str, Any] = {"llm.model": self.name}
        if call.kind == "complete":
            attributes["llm.structured"] = call.json_schema is not None
        with self._t.span(f"llm.{call.kind}", **attributes) as span:
            call.notes["span"], call.notes["started"] = span, time.perf_counter()
            call.notes["pieces"] = []
            yield

    def before(self, call: Call) -> Call:
        last = call.messages[-1].content if call.messages else ""
        self._t.content(call.notes["span"], "llm.prompt", last)
        return call

    def after(self, call: Call, out: Completion) -> Completion:
        span: Span = call.notes["span"]
        span.set_attribute("llm.tokens_in", out.tokens_in)
        span.set_attribute("llm.tokens_out", out.tokens_out)
        span.set_attribute("llm.seconds", round(out.seconds, 4))
        span.set_attribute("llm.trimmed", out.trimmed)
        self._t.content(span, "llm.completion", out.text)
        self._t.content(span, "llm.thinking", out.thinking)
        return out

    def on_thinking(self, call: Call, text: str) -> str:
        self._t.content(call.notes["span"], "llm.thinking", text)
        return text

    def on_piece(self, call: Call, piece: str) -> str:
        if not call.notes["pieces"]:
            first = time.perf_counter() - call.notes["started"]
            call.notes["span"].set_attribute("llm.first_token_s", round(first, 4))
        call.notes["pieces"].append(piece)
        return piece

    def on_end(self, call: Call) -> str:
        span: Span = call.notes["span"]
        text = "".join(call.notes["pieces"])
        span.set_attribute("llm.seconds", round(time.perf_counter() - call.notes["started"], 4))
        span.set_attribute("llm.tokens_in", sum(self._tokens(m.content) for m in call.messages))
        span.set_attribute("llm.tokens_out", self._tokens(text))
        self._t.content(span, "llm.completion", text)
        return ""

    def _tokens(self, text: str) -> int:
        try:
            return self.inner.count_tokens(text) if self.inner.available else 0
        except Exception:  # a count is telemetry, never a reason to fail an answer
            return 0
