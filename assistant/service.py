"""The assistant's API: what the CLI, the UI and the evals call. One graph run per question."""

from __future__ import annotations

import contextvars
import queue
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agents.context import MeteredLLM, RunContext
from agents.graph import to_answer
from assistant.answers import Answer, Event, Step
from assistant.audit import AuditLog
from assistant.conversations import ConversationStore, ConversationSummary, StoredMessage
from assistant.errors import AssistantError
from assistant.llm.base import LLM
from assistant.permissions import UserContext
from assistant.telemetry import Telemetry

_DONE = object()


class AssistantService:
    def __init__(
        self,
        graph: Any,
        llm: LLM,
        conversations: ConversationStore,
        audit: AuditLog,
        telemetry: Telemetry,
        workers: int = 8,
    ) -> None:
        self._graph = graph
        self._llm = llm
        self._conversations = conversations
        self._audit = audit
        self._t = telemetry
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="turn")

    @property
    def model_name(self) -> str:
        return self._llm.name if self._llm.available else "none"

    @property
    def model_loaded(self) -> bool:
        return self._llm.available

    def ask(self, user: UserContext, question: str, conversation_id: str | None = None) -> Answer:
        answer: Answer | None = None
        for event in self.stream(user, question, conversation_id):
            if event.kind == "answer":
                answer = event.answer
        assert answer is not None
        return answer

    def stream(
        self, user: UserContext, question: str, conversation_id: str | None = None
    ) -> Iterator[Event]:
        """Steps and answer text as they happen, then the whole answer (with its audit id).

        The turn runs on one worker thread from start to end. A web server may advance this
        iterator from whichever thread is free (Gradio does), yet an OpenTelemetry span must
        end in the context it began in; and a caller that goes away mid-answer does not cut the
        turn short: it is answered, stored and audited all the same. The workers are kept, not
        started per turn: torch pays a per-thread start-up of 50–200 ms on its first call in a
        new thread, which the benchmark showed on every English question.
        """
        if not (question or "").strip():
            raise AssistantError("問題是空的 / the question is empty")
        conv = self._conversations.open(user, conversation_id, question)
        events: queue.Queue[Any] = queue.Queue()

        def run() -> None:
            try:
                for event in self._turn(user, question, conv):
                    events.put(event)
            except BaseException as exc:  # handed to the consumer, raised there
                events.put(exc)
            finally:
                events.put(_DONE)

        self._workers.submit(contextvars.copy_context().run, run)
        while (item := events.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _turn(self, user: UserContext, question: str, conv: str) -> Iterator[Event]:
        ctx = RunContext(user=user, llm=MeteredLLM(self._llm), conversation_id=conv)
        config = {"configurable": {"thread_id": conv}, "recursion_limit": 40}
        with self._t.span(
            "assistant.ask", **{"user.role": user.role, "conversation.id": conv}
        ) as span:
            self._t.content(span, "question", question)
            final: dict[str, Any] = {}
            for _ns, mode, chunk in self._graph.stream(
                {"question": question, "conversation_id": conv},
                config,
                context=ctx,
                stream_mode=["custom", "values"],
                subgraphs=True,
                # One checkpoint per turn, written when the turn ends: a conversation resumes
                # from its last answer, and a turn costs one write instead of one per node.
                durability="exit",
            ):
                if mode == "values" and not _ns:
                    final = chunk
                elif mode == "custom":
                    event = _event(chunk)
                    if event is not None:
                        yield event
            answer = to_answer(final, ctx)  # type: ignore[arg-type]
            span.set_attribute("answer.agent", answer.agent)
            span.set_attribute("answer.llm_calls", answer.llm_calls)
            span.set_attribute("answer.citations", len(answer.citations))
            self._t.content(span, "answer", answer.answer)
        yield Event("answer", answer=answer)

    def close(self) -> None:
        self._workers.shutdown(wait=True)

    def conversations(self, user: UserContext) -> list[ConversationSummary]:
        return self._conversations.list(user)

    def messages(self, user: UserContext, conversation_id: str) -> list[StoredMessage]:
        return self._conversations.messages(user, conversation_id)

    def feedback(self, user: UserContext, audit_id: int, rating: int, comment: str = "") -> int:
        return self._audit.feedback(user, audit_id, rating, comment)


def _event(chunk: Any) -> Event | None:
    if not isinstance(chunk, dict):
        return None
    if "token" in chunk:
        return Event("token", text=str(chunk["token"]))
    if "step" in chunk:
        s = chunk["step"]
        return Event("step", step=Step(s["node"], s["detail"], s.get("seconds", 0.0)))
    return None
