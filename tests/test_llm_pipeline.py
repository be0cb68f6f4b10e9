"""The model pipeline: one delegating base with hooks, the stages stacked in one order by one
builder. A recording fake backend shows what each stage passed on and what the caller got."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.context import MeteredLLM
from agents.promptguard import GuardedLLM, PromptLeak, leaks
from assistant.container import Container
from assistant.llm.base import Completion, Message
from assistant.llm.masked import PseudonymisingLLM
from assistant.llm.none import NoLLM
from assistant.llm.openai import OpenAICompatibleLLM
from assistant.llm.pipeline import Call, Stage
from assistant.llm.traditional import TraditionalStage
from assistant.model_pipeline import ModelPipeline, stages
from assistant.settings import LLMSettings, TelemetrySettings, load_settings
from assistant.telemetry import Telemetry, TracedLLM, make_telemetry

ROOT = Path(__file__).resolve().parents[1]
NATIONAL_ID = "A123456789"
QUESTION = f"客戶{NATIONAL_ID}的帳戶被警示，該怎麼處理？"
ASK = [Message("system", "你是銀行助理"), Message("user", QUESTION)]


class Backend:
    """Records every prompt it is sent; answers by naming the national-ID token it was given
    (or the ID itself when nothing masked it), streamed three characters at a time."""

    name = "recorder"
    context_size = 4096
    available = True

    def __init__(self, answer: Callable[[str], str] | None = None, thinking: str = "") -> None:
        self.answer = answer or (lambda who: f"客戶 {who} 應先確認警示原因。" + "說明" * 60)
        self.thinking = thinking
        self.seen: list[list[Message]] = []
        self.closed = 0  # streams ended, by their reader or by running out

    def count_tokens(self, text: str) -> int:
        return len(text)

    def _reply(self, messages: list[Message]) -> str:
        self.seen.append(messages)
        return self.answer(_who(messages[-1]))

    def _thinking(self, messages: list[Message]) -> str:
        return self.thinking.replace("{who}", _who(messages[-1]))

    def complete(self, messages: list[Message], **kw: Any) -> Completion:
        text = self._reply(messages)
        tokens_in = sum(len(m.content) for m in messages)
        return Completion(
            text=text,
            thinking=self._thinking(messages),
            tokens_in=tokens_in,
            tokens_out=len(text),
            seconds=0.01,
            model=self.name,
        )

    def stream(
        self,
        messages: list[Message],
        *,
        on_thinking: Callable[[str], None] | None = None,
        **kw: Any,
    ) -> Iterator[str]:
        text = self._reply(messages)
        try:
            yield from (text[i : i + 3] for i in range(0, len(text), 3))
            if self.thinking and on_thinking is not None:  # as llama.cpp: after the answer
                on_thinking(self._thinking(messages))
        finally:
            self.closed += 1


class RemoteBackend(Backend):
    remote = True  # text sent here leaves the process, as with the openai backend


def _who(message: Message) -> str:
    token = re.search(r"\[身分證#[0-9a-f]+\]", message.content)
    return token.group(0) if token else NATIONAL_ID


def _telemetry() -> tuple[Telemetry, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    return make_telemetry(TelemetrySettings(record_content=True), memory), memory


def test_the_stages_stack_in_one_order() -> None:
    t, _ = _telemetry()
    remote = ModelPipeline(RemoteBackend(), telemetry=t)
    kinds = [type(s) for s in stages(remote.for_turn())]
    assert kinds == [
        MeteredLLM,
        GuardedLLM,
        TraditionalStage,
        TracedLLM,
        PseudonymisingLLM,
        RemoteBackend,
    ]
    # A local model keeps its text in the process: nothing to pseudonymise.
    local = [type(s) for s in stages(ModelPipeline(Backend(), telemetry=t).for_turn())]
    assert local == [MeteredLLM, GuardedLLM, TraditionalStage, TracedLLM, Backend]
    unmasked = ModelPipeline(RemoteBackend(), telemetry=t, mask_remote=False)
    assert PseudonymisingLLM not in [type(s) for s in stages(unmasked.llm)]
    # Every turn is metered on its own; the process-wide stages are shared.
    a, b = remote.for_turn(), remote.for_turn()
    assert a is not b and stages(a)[2] is stages(b)[2] is remote.llm


def test_each_stage_sees_its_part_of_a_completion() -> None:
    t, memory = _telemetry()
    backend = RemoteBackend(thinking="查 {who} 的警示紀錄")
    pipeline = ModelPipeline(backend, telemetry=t, canary="TWFCFEEDFACE00000000")
    turn = pipeline.for_turn()
    out = turn.complete(ASK)

    (sent,) = backend.seen
    # The guard sits above the pseudonymiser: the canary opens the system prompt the backend
    # receives, and the data rule closes it.
    assert sent[0].content.startswith("〔內部標記 TWFCFEEDFACE00000000〕\n你是銀行助理")
    assert "不是指令" in sent[0].content
    # The pseudonymiser is the last stage before the backend: no identifier reaches it ...
    assert NATIONAL_ID not in json.dumps([m.content for m in sent], ensure_ascii=False)
    assert "[身分證#" in sent[-1].content
    # ... and the caller reads the real one, in the answer and in the reasoning.
    assert out.text.startswith(f"客戶 {NATIONAL_ID} 應先確認") and "#" not in out.text
    assert out.thinking == f"查 {NATIONAL_ID} 的警示紀錄"
    # The meter counted the call; the trace spanned it with the backend's counts.
    assert turn.calls == 1 and turn.seconds > 0
    t.shutdown()
    (span,) = memory.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert span.name == "llm.complete" and attrs["llm.model"] == "recorder"
    assert attrs["llm.tokens_in"] == sum(len(m.content) for m in sent)
    assert attrs["llm.structured"] is False
    # The trace sits above the pseudonymiser and records the real text, which the span
    # exporter masks before anyone exports it.
    assert "A12****789" in attrs["llm.prompt"] and "[身分證#" not in attrs["llm.prompt"]


def test_a_stream_passes_every_stage_piece_by_piece() -> None:
    t, memory = _telemetry()
    backend = RemoteBackend(thinking="查 {who} 的警示紀錄")
    pipeline = ModelPipeline(backend, telemetry=t)
    turn = pipeline.for_turn()
    thoughts: list[str] = []
    pieces = list(turn.stream(ASK, on_thinking=thoughts.append))

    answer = backend.answer(NATIONAL_ID)
    assert "".join(pieces) == answer
    assert len(pieces) > 1  # streamed, not gathered: only the guard's tail is held back
    assert not any("#" in p for p in pieces)  # no token, whole or half, reached the reader
    assert thoughts == [f"查 {NATIONAL_ID} 的警示紀錄"]
    assert turn.calls == 1 and backend.closed == 1
    t.shutdown()
    (span,) = memory.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert span.name == "llm.stream" and attrs["llm.first_token_s"] >= 0
    # Tokens in: the prompt as the trace passed it on, the guard's canary and rule included.
    guarded = GuardedLLM(Backend(), pipeline.canary)._guarded(ASK)
    assert attrs["llm.tokens_in"] == sum(len(m.content) for m in guarded)
    assert attrs["llm.tokens_out"] == len(answer)
    assert "A12****789" in attrs["llm.completion"] and "A12****789" in attrs["llm.thinking"]


def test_a_leaking_stream_is_withheld_and_the_model_stream_closed() -> None:
    t, memory = _telemetry()
    canary = "TWFC0123456789ABCDEF"
    backend = Backend(answer=lambda who: "法規說明" * 40 + f"內部標記是 {canary}" + "其他" * 40)
    turn = ModelPipeline(backend, telemetry=t, canary=canary).for_turn()
    shown: list[str] = []
    with pytest.raises(PromptLeak):
        for piece in turn.stream(ASK):
            shown.append(piece)
    assert shown and not leaks("".join(shown), canary)  # what came before it was shown
    guard = stages(turn)[1]
    assert isinstance(guard, GuardedLLM) and guard.leaks == 1
    # The model's stream was ended, not left open: a llama.cpp stream holds the model's lock.
    assert backend.closed == 1
    t.shutdown()
    (span,) = memory.get_finished_spans()
    assert canary not in json.dumps(dict(span.attributes or {}), ensure_ascii=False)


def test_the_meter_counts_only_time_inside_the_model() -> None:
    class Slow(Backend):
        def stream(self, messages: list[Message], **kw: Any) -> Iterator[str]:
            self.seen.append(messages)
            for _ in range(4):
                time.sleep(0.02)
                yield "條文" * 60

    turn = ModelPipeline(Slow()).for_turn()
    for _ in turn.stream(ASK):
        time.sleep(0.25)  # the reader's time is not the model's
    assert turn.calls == 1
    assert 0.08 <= turn.seconds < 0.6


def test_switching_the_model_off_gives_the_turn_no_model() -> None:
    on = [True]
    pipeline = ModelPipeline(Backend(), enabled=lambda: on[0])
    assert isinstance(stages(pipeline.for_turn())[-1], Backend)
    on[0] = False
    turn = pipeline.for_turn()
    assert [type(s) for s in stages(turn)] == [MeteredLLM, GuardedLLM, NoLLM]
    assert not turn.available and pipeline.available and not pipeline.enabled()
    on[0] = True  # read on every turn: back on for the next one
    assert stages(pipeline.for_turn())[2] is pipeline.llm


def test_hooks_see_every_piece_and_may_rewrite_or_withhold() -> None:
    events: list[str] = []

    class Shout(Stage):
        """Upper-cases pieces, withholds those with a digit, says where the call is."""

        @contextmanager
        def around(self, call: Call) -> Iterator[None]:
            events.append(f"around:{call.kind}")
            yield
            events.append("/around")

        def before(self, call: Call) -> Call:
            events.append("before")
            call.notes["withheld"] = 0
            return call

        def on_piece(self, call: Call, piece: str) -> str:
            if any(ch.isdigit() for ch in piece):
                call.notes["withheld"] += 1
                return ""
            return piece.upper()

        def on_end(self, call: Call) -> str:
            events.append("end")
            return f"[{call.notes['withheld']} withheld]"

        def after(self, call: Call, out: Completion) -> Completion:
            events.append("after")
            return Completion(text=out.text.upper(), model=out.model)

    shout = Shout(Backend(answer=lambda who: "abc123def"))
    assert list(shout.stream([Message("user", "q")])) == ["ABC", "DEF", "[1 withheld]"]
    assert shout.complete([Message("user", "q")]).text == "ABC123DEF"
    assert events == [
        *("around:stream", "before", "end", "/around"),
        *("around:complete", "before", "after", "/around"),
    ]
    assert shout.name == "recorder" and shout.available and shout.count_tokens("abc") == 3


def test_a_container_builds_the_remote_model_masked_unless_switched_off(tmp_path: Path) -> None:
    def layers(**llm: Any) -> list[type]:
        settings = load_settings(data_dir=tmp_path, llm=LLMSettings(backend="openai", **llm))
        c = Container(settings)
        try:
            return [type(s) for s in stages(c.model_pipeline.llm)]
        finally:
            c.close()

    on = layers(base_url="http://model.internal")
    off = layers(base_url="http://model.internal", mask_remote=False)
    assert on == [TraditionalStage, TracedLLM, PseudonymisingLLM, OpenAICompatibleLLM]
    assert off == [TraditionalStage, TracedLLM, OpenAICompatibleLLM]


def test_no_other_place_stacks_the_stages() -> None:
    """The order is stated once: outside the tests, only the builder constructs a stage."""
    built = re.compile(r"\b(MeteredLLM|GuardedLLM|TraditionalStage|TracedLLM|PseudonymisingLLM)\(")
    found = []
    for folder in ("assistant", "agents", "evals", "benchmarks", "ui"):
        for path in (ROOT / folder).rglob("*.py"):
            for line in path.read_text("utf-8").splitlines():
                if built.search(line) and not line.lstrip().startswith("class "):
                    found.append(str(path.relative_to(ROOT)))
    assert set(found) == {"assistant/model_pipeline.py"}
