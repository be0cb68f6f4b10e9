"""Mask personal data on spans before they leave the process.

What the SDK allows: a span's attributes are frozen once it ends, and a SpanProcessor's
``on_end`` receives that frozen ``ReadableSpan``, so a processor cannot rewrite them (and
``on_start`` runs before most attributes are set). The one place to change what is exported is
between the processor and the exporter: ``MaskingSpanExporter`` wraps any exporter and hands it
copies of the spans with string attributes — on the span, its events and links, and the status
description — masked. Spans with nothing to mask are passed on as they are.

    provider.add_span_processor(BatchSpanProcessor(MaskingSpanExporter(OTLPSpanExporter(...))))
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from assistant.pii.masking import MaskStyle, mask


def mask_attributes(
    attributes: Mapping[str, Any] | None,
    masker: Callable[[str], str],
    keys: Collection[str] | None = None,
) -> dict[str, Any] | None:
    """A masked copy of ``attributes``, or None when nothing changed (or there are none).
    Strings and sequences of strings are masked; ``keys`` limits which attributes are."""
    if not attributes:
        return None
    out: dict[str, Any] = {}
    changed = False
    for name, value in attributes.items():
        new = value
        if keys is None or name in keys:
            if isinstance(value, str):
                new = masker(value)
            elif isinstance(value, tuple | list) and any(isinstance(v, str) for v in value):
                new = tuple(masker(v) if isinstance(v, str) else v for v in value)
        changed = changed or new != value
        out[name] = new
    return out if changed else None


class MaskingSpanExporter(SpanExporter):
    def __init__(
        self,
        inner: SpanExporter,
        *,
        style: MaskStyle = "partial",
        keep: int = 4,
        key: bytes | None = None,
        keys: Collection[str] | None = None,
    ) -> None:
        self.inner = inner
        self._keys = None if keys is None else frozenset(keys)
        self._mask = lambda text: mask(text, style=style, keep=keep, key=key)

    def masked(self, span: ReadableSpan) -> ReadableSpan:
        attributes = mask_attributes(span.attributes, self._mask, self._keys)
        events = [(e, mask_attributes(e.attributes, self._mask, self._keys)) for e in span.events]
        links = [(k, mask_attributes(k.attributes, self._mask, self._keys)) for k in span.links]
        description = span.status.description
        new_description = self._mask(description) if description else description
        if (
            attributes is None
            and all(a is None for _, a in events)
            and all(a is None for _, a in links)
            and new_description == description
        ):
            return span
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=span.attributes if attributes is None else attributes,
            events=[e if a is None else Event(e.name, a, e.timestamp) for e, a in events],
            links=[k if a is None else Link(k.context, a) for k, a in links],
            kind=span.kind,
            status=Status(span.status.status_code, new_description),
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self.masked(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
