"""The assistant's API: what the CLI, the UI and the evals call. One graph run per question."""

from __future__ import annotations

import contextvars
import hashlib
import queue
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from langgraph.types import Command

from agents.context import RunContext
from agents.graph import record_turn, to_answer
from agents.interrupts import ReviewGate, ReviewPayload
from assistant.answers import Answer, Event, Step
from assistant.audit import AuditLog
from assistant.conversations import ConversationStore, ConversationSummary, StoredMessage
from assistant.errors import AssistantError
from assistant.model_pipeline import ModelPipeline
from assistant.permissions import UserContext
from assistant.telemetry import Telemetry

_DONE = object()
MAX_UPLOAD_MB = 50  # a MOPS annual report is 2-10 MB; anything far larger is not one


class AssistantService:
    def __init__(
        self,
        graph: Any,
        model: ModelPipeline,
        conversations: ConversationStore,
        audit: AuditLog,
        telemetry: Telemetry,
        workers: int = 8,
        *,
        uploads_dir: Path | None = None,
        model_sha256: Callable[[], str] | None = None,
        max_upload_mb: int = MAX_UPLOAD_MB,
        reviews: Sequence[ReviewGate] = (),
        pin: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self._graph = graph
        # Around each turn: the knowledge base's version every search of the turn reads, so an
        # ingestion published mid-answer is seen by the next answer, never by half of this one.
        self._pin = pin or nullcontext
        self._model = model
        self._conversations = conversations
        self._audit = audit
        self._t = telemetry
        self._uploads = uploads_dir
        self._model_sha256 = model_sha256 or (lambda: "")
        self._max_upload_bytes = max_upload_mb * 1024 * 1024
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="turn")
        # The human steps of the registered agents (their specs' review contracts), each with
        # the desk that decides who may take the decision: nothing here knows a kind by name.
        self._reviews = tuple(reviews)

    @property
    def canary(self) -> str:
        """This process's prompt canary: for the security suite, which checks that no answer,
        stream, audit record or stored message ever holds it."""
        return self._model.canary

    @property
    def model_name(self) -> str:
        return self._model.name if self.model_loaded else "none"

    @property
    def model_loaded(self) -> bool:
        return self._model.available and self._model.enabled()

    @property
    def model_switched_off(self) -> bool:
        """A model is configured but an administrator has switched model features off."""
        return self._model.available and not self._model.enabled()

    def ask(
        self,
        user: UserContext,
        question: str,
        conversation_id: str | None = None,
        attachments: list[Path] | None = None,
    ) -> Answer:
        return _last_answer(self.stream(user, question, conversation_id, attachments))

    def stream(
        self,
        user: UserContext,
        question: str,
        conversation_id: str | None = None,
        attachments: list[Path] | None = None,
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
        # Files are checked and stored before anything else, so a refused file starts nothing.
        stored = [str(self.store_upload(user, Path(p))) for p in attachments or []]
        conv = self._conversations.open(user, conversation_id, question)
        waiting = self._waiting(conv) if conversation_id else None
        if waiting is not None:
            # A new question would start a new run over the paused one and lose the review:
            # the analyst decides first, or asks in a new conversation.
            gate, payload = waiting
            raise AssistantError(gate.contract.still_waiting(payload))
        inputs = {
            "question": question,
            "conversation_id": conv,
            # Always set, so an earlier turn's upload is not taken as this turn's.
            "attachment": stored[-1] if stored else None,
            "attachments": stored,
        }
        yield from self._run(user, question, conv, inputs)

    def resume(self, user: UserContext, conversation_id: str, decision: dict[str, Any]) -> Answer:
        """The decision on the review a conversation waits on: ``{"action": "approve" | "edit" |
        "reject", "markdown": str | None, "note": str}``. Only a role that may perform the
        review contract's desk operation decides; the answer says what was decided and where
        the final text is."""
        return _last_answer(self.stream_resume(user, conversation_id, decision))

    def stream_resume(
        self, user: UserContext, conversation_id: str, decision: dict[str, Any]
    ) -> Iterator[Event]:
        if not any(g.may_decide(user) for g in self._reviews):
            # Decided in code before the conversation is opened or the paused run touched: a
            # role that may decide no review learns nothing of the conversation. The desk
            # records the refusal (access_denied).
            args = {"conversation": conversation_id, "review": decision.get("action")}
            for gate in self._reviews:
                gate.authorise(user, args)
            raise AssistantError("沒有可覆核的項目 / no agent here pauses for a review")
        conv = self._conversations.open(user, conversation_id, "")  # must be the user's
        waiting = self._waiting(conv)
        if waiting is None:
            raise AssistantError(
                "這段對話沒有待覆核的項目 / nothing in this conversation awaits review"
            )
        gate, payload = waiting
        # The review waiting here may need another operation than the one the role has.
        gate.authorise(
            user, {"conversation": conv, "review": decision.get("action")}, conversation_id=conv
        )
        d = gate.contract.check(decision, user)
        question = gate.contract.question(payload, d)
        # The turn's question becomes the decision, so the audit record and the conversation
        # written by the audit node when the run ends say what was decided.
        command = Command(resume=d.model_dump(), update={"question": question, "asked": question})
        yield from self._run(user, question, conv, command)

    def pending(self, user: UserContext, conversation_id: str) -> dict[str, Any] | None:
        """The review a conversation waits on (draft id, allowed actions, DOCX, the draft's
        Markdown to edit), or None."""
        conv = self._conversations.open(user, conversation_id, "")
        waiting = self._waiting(conv)
        return waiting[1].pending() if waiting is not None else None

    def store_upload(self, user: UserContext, path: Path) -> Path:
        """Keep an uploaded report under ``uploads/<user>/<sha256>.pdf``: checked (a PDF, at
        most the size limit), named by its content so the same file uploaded twice is one."""
        if self._uploads is None:
            raise AssistantError("未設定上傳資料夾 / uploads are not configured")
        path = Path(path)
        if not path.is_file():
            raise AssistantError(f"找不到上傳的檔案 / uploaded file not found: {path.name}")
        size = path.stat().st_size
        if size > self._max_upload_bytes:
            limit = self._max_upload_bytes // (1024 * 1024)
            raise AssistantError(
                f"檔案過大（{size / 1024 / 1024:.1f} MB，上限 {limit} MB）/ file too large "
                f"({size / 1024 / 1024:.1f} MB > {limit} MB)"
            )
        with path.open("rb") as fh:
            head = fh.read(1024)
        if path.suffix.lower() != ".pdf" or b"%PDF" not in head:
            raise AssistantError(f"只接受 PDF 財報 / only PDF reports are accepted: {path.name}")
        with path.open("rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
        folder = self._uploads / re.sub(r"[^\w.-]", "_", user.name)
        target = folder / f"{sha}.pdf"
        if target.resolve() != path.resolve() and not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            shutil.copyfile(path, tmp)
            tmp.replace(target)  # never a half-copied file under the final name
        return target

    def _waiting(self, conv: str) -> tuple[ReviewGate, ReviewPayload] | None:
        """The review a conversation's paused run waits on, with its gate, or None."""
        snapshot = self._graph.get_state({"configurable": {"thread_id": conv}})
        return self._matching(it.value for it in snapshot.interrupts)

    def _matching(self, values: Iterable[Any]) -> tuple[ReviewGate, ReviewPayload] | None:
        """The first interrupt value that a registered review contract reads as its own."""
        for value in values:
            for gate in self._reviews:
                payload = gate.contract.read(value)
                if payload is not None:
                    return gate, payload
        return None

    def _run(self, user: UserContext, question: str, conv: str, inputs: Any) -> Iterator[Event]:
        events: queue.Queue[Any] = queue.Queue()

        def run() -> None:
            try:
                for event in self._turn(user, question, conv, inputs):
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

    def _turn(self, user: UserContext, question: str, conv: str, inputs: Any) -> Iterator[Event]:
        # Metered for this turn, guarded, no model while switched off (assistant.model_pipeline).
        llm = self._model.for_turn()
        # The graph adds its dependencies to the context (agents.graph.AgentGraph).
        ctx = RunContext(user=user, llm=llm, conversation_id=conv)
        config = {"configurable": {"thread_id": conv}, "recursion_limit": 40}
        with (
            self._pin(),
            self._t.span(
                "assistant.ask", **{"user.role": user.role, "conversation.id": conv}
            ) as span,
        ):
            self._t.content(span, "question", question)
            final: dict[str, Any] = {}
            for _ns, mode, chunk in self._graph.stream(
                inputs,
                config,
                context=ctx,
                stream_mode=["custom", "values"],
                subgraphs=True,
                # One checkpoint per turn, written when the turn ends: a conversation resumes
                # from its last answer, and a turn costs one write instead of one per node.
                # A run paused by an interrupt (the credit review) ends too, so the paused
                # state, the credit subgraph's included, is written then: a restarted server
                # resumes it.
                durability="exit",
            ):
                if mode == "values" and not _ns:
                    final = chunk
                elif mode == "custom":
                    event = _event(chunk)
                    if event is not None:
                        yield event
            paused = self._matching(i.value for i in final.get("__interrupt__", ()))
            if paused is not None:
                answer = self._paused(user, question, conv, final, paused[1], ctx)
            else:
                answer = to_answer(final, ctx)  # type: ignore[arg-type]
            span.set_attribute("answer.agent", answer.agent)
            span.set_attribute("answer.llm_calls", answer.llm_calls)
            span.set_attribute("answer.citations", len(answer.citations))
            self._t.content(span, "answer", answer.answer)
        yield Event("answer", answer=answer)

    def _paused(
        self,
        user: UserContext,
        question: str,
        conv: str,
        state: dict[str, Any],
        waiting: ReviewPayload,
        ctx: RunContext,
    ) -> Answer:
        """The answer of a turn paused for review. The graph's answer and audit nodes do not run
        while it waits, so the turn is audited and stored here, as the audit node would; when
        the run resumes the audit node records the decided turn as usual."""
        result = waiting.result
        answer = to_answer({**state, "result": result}, ctx)  # type: ignore[arg-type]
        if waiting.error:
            answer.answer = f"⚠ {waiting.error}\n\n{answer.answer}"
        answer.pending = waiting.pending()
        answer.audit_id = record_turn(
            self._audit,
            self._conversations,
            user,
            conv,
            question,
            answer,
            result.get("chunks", []),
            self._model_sha256(),
            {"pending": {k: v for k, v in answer.pending.items() if k != "markdown"}},
        )
        return answer

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


def _last_answer(events: Iterator[Event]) -> Answer:
    answer: Answer | None = None
    for event in events:
        if event.kind == "answer":
            answer = event.answer
    assert answer is not None
    return answer
