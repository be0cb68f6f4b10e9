"""Span exporters chosen by setting: console (stderr, leaving stdout to --json) and OTLP/HTTP
to a collector, here a real HTTP listener on loopback."""

from __future__ import annotations

import http.server
import threading

import pytest

from assistant.settings import TelemetrySettings
from assistant.telemetry import make_telemetry


def test_console_exporter_writes_spans_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    t = make_telemetry(TelemetrySettings(exporter="console"))
    with t.span("graph.node.guard", **{"graph.node": "guard"}):
        pass
    t.shutdown()
    out = capsys.readouterr()
    assert out.out == "" and '"name": "graph.node.guard"' in out.err


def test_otlp_exporter_posts_spans_to_a_collector() -> None:
    received: list[tuple[str, str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        t = make_telemetry(TelemetrySettings(exporter="otlp", otlp_endpoint=endpoint))
        with t.span("llm.stream", **{"llm.model": "tiny.gguf"}):
            pass
        t.shutdown()  # flushes the batch
    finally:
        server.shutdown()
    assert received and received[0][0] == "/v1/traces"
    assert received[0][1] == "application/x-protobuf"
    assert b"llm.stream" in received[0][2] and b"twfin-assistant" in received[0][2]


def test_no_exporter_is_the_default() -> None:
    assert TelemetrySettings().exporter == "none" and not TelemetrySettings().record_content
