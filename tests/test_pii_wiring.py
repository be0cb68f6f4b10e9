"""Customer identifiers kept in: masked on every exported span, pseudonymised before text goes
to a remote (OpenAI-compatible) model and put back in its answer."""

from __future__ import annotations

import json

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from assistant.llm.base import Message
from assistant.llm.factory import make_llm
from assistant.llm.masked import PseudonymisingLLM
from assistant.llm.openai import OpenAICompatibleLLM
from assistant.llm.traditional import TraditionalStage
from assistant.model_pipeline import ModelPipeline, stages
from assistant.settings import LLMSettings, TelemetrySettings
from assistant.telemetry import make_telemetry

NATIONAL_ID = "A123456789"
CARD = "4111 1111 1111 1111"
QUESTION = f"客戶{NATIONAL_ID}的信用卡{CARD}被盜刷，帳號0123456789012轉出，該怎麼處理？"


def test_spans_are_masked_before_any_exporter_sees_them() -> None:
    memory = InMemorySpanExporter()
    t = make_telemetry(TelemetrySettings(record_content=True), memory)
    with t.span("tool.fraud_trace", account="帳號0123456789012") as span:
        t.content(span, "question", QUESTION)
    t.shutdown()
    (exported,) = memory.get_finished_spans()
    text = json.dumps(dict(exported.attributes), ensure_ascii=False)
    for secret in (NATIONAL_ID, CARD, "0123456789012"):
        assert secret not in text
    assert "被盜刷" in text and "A12****789" in text  # the rest of the text is kept


def _server(
    seen: list[dict], reply: str | None = None, stream: bool = False
) -> httpx.MockTransport:
    """An OpenAI-compatible server on httpx's transport seam: records what it was sent and
    answers by quoting the user message's first token back (as a model would name it)."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        user = body["messages"][-1]["content"]
        token = user[user.index("[身分證#") : user.index("]", user.index("[身分證#")) + 1]
        text = reply if reply is not None else f"客戶 {token} 應先辦理掛失。"
        if not stream:
            return httpx.Response(
                200,
                json={
                    "choices": [{"message": {"content": text}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                },
            )
        # Split the token across server-sent events, as a tokenizer would.
        cut = text.index("#") + 3
        events = [text[:cut], text[cut:]]
        lines = "".join(
            f"data: {json.dumps({'choices': [{'delta': {'content': e}}]})}\n\n" for e in events
        )
        return httpx.Response(200, text=lines + "data: [DONE]\n\n")

    return httpx.MockTransport(handle)


def test_the_remote_model_never_sees_identifiers_and_the_answer_gets_them_back() -> None:
    seen: list[dict] = []
    remote = OpenAICompatibleLLM("http://model.internal", "twfin-r", transport=_server(seen))
    llm = PseudonymisingLLM(remote)
    out = llm.complete([Message("system", "你是銀行助理"), Message("user", QUESTION)])
    sent = json.dumps(seen[0], ensure_ascii=False)
    for secret in (NATIONAL_ID, CARD, "0123456789012"):
        assert secret not in sent
    assert "被盜刷" in sent
    assert out.text == f"客戶 {NATIONAL_ID} 應先辦理掛失。"


def test_a_streamed_answer_is_unmasked_even_when_a_token_arrives_in_pieces() -> None:
    seen: list[dict] = []
    remote = OpenAICompatibleLLM(
        "http://model.internal", "twfin-r", transport=_server(seen, stream=True)
    )
    pieces = list(PseudonymisingLLM(remote).stream([Message("user", QUESTION)]))
    assert "".join(pieces) == f"客戶 {NATIONAL_ID} 應先辦理掛失。"
    assert not any("#" in p for p in pieces)  # no half token ever reaches the reader
    assert NATIONAL_ID not in json.dumps(seen[0], ensure_ascii=False)


def test_the_openai_backend_is_wrapped_unless_switched_off() -> None:
    # The factory builds the backend alone; the pipeline wraps it, as the container builds it.
    settings = LLMSettings(backend="openai", base_url="http://model.internal")
    on = ModelPipeline(make_llm(settings), mask_remote=settings.mask_remote).llm
    off = ModelPipeline(make_llm(settings), mask_remote=False).llm
    # Converted to Traditional above the pseudonymiser, which is the last stage before the server.
    assert [type(s) for s in stages(on)] == [
        TraditionalStage,
        PseudonymisingLLM,
        OpenAICompatibleLLM,
    ]
    assert [type(s) for s in stages(off)] == [TraditionalStage, OpenAICompatibleLLM]


def test_the_server_loggers_mask_identifiers() -> None:
    """What `assistant serve` installs: every handler of the web stack's loggers masks."""
    import io
    import logging

    from assistant.pii.logs import install_log_masking

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    try:
        assert install_log_masking() >= 1
        assert install_log_masking() == 0  # idempotent
        access.warning("POST /ask 客戶%s查詢", NATIONAL_ID)
        assert NATIONAL_ID not in out.getvalue() and "客戶" in out.getvalue()
    finally:
        access.removeHandler(handler)
