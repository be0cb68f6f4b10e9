"""Typed contracts for an agent's human step: what the paused run shows, who may decide, and
what a decision must hold.

An agent that pauses for a person (the credit agent's maker-checker review) declares a
:class:`ReviewContract` on its :class:`~agents.registry.AgentSpec`. The node pauses with
``interrupt(contract.payload(...))``; the assistant service finds the paused interrupt whose
``kind`` matches a registered contract, checks the caller's role through the contract's desk (a
refusal is audited there, as ``access_denied``), validates the decision and resumes the run. A
second agent with a human step declares its own contract instead of changing the service.

The payload and the decision cross the checkpoint as plain dicts (a restarted server resumes a
review paused by an older build); the models here validate them on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.desks.base import Desk
from assistant.errors import AssistantError
from assistant.permissions import UserContext

ACTION_ZH: dict[str, str] = {"approve": "核准", "edit": "修改後核准", "reject": "退回"}


class ReviewPayload(BaseModel):
    """What a paused run shows the person who decides (the interrupt's value)."""

    model_config = ConfigDict(extra="ignore")

    kind: str
    # The id of what is under review (a memo draft); named as the UI and CLI read it.
    draft_id: int
    summary: str = ""
    actions: list[str]
    docx: str | None = None
    markdown: str = ""
    # Why the last decision was refused (four eyes: the maker may not approve their own draft).
    error: str | None = None
    # The answer the service gives while the review waits (agents.state.Result as a dict).
    result: dict[str, Any] = Field(default_factory=dict)

    def pending(self) -> dict[str, Any]:
        """The review as ``Answer.pending`` carries it to the UI and the CLI."""
        return {
            "kind": self.kind,
            "draft_id": self.draft_id,
            "actions": list(self.actions),
            "docx": self.docx,
            "summary": self.summary,
            "markdown": self.markdown,
            "error": self.error,
        }


class ReviewDecision(BaseModel):
    """A decision as the paused run receives it on resume."""

    model_config = ConfigDict(extra="ignore")

    action: str
    markdown: str | None = None
    note: str = ""
    # Who decided: a replay of the run on resume decides as the same person.
    user: str = ""


@dataclass(frozen=True)
class ReviewContract:
    """One kind of human step: its payload's ``kind``, the decisions it allows, the desk
    operation whose roles may decide, and what each decision must carry."""

    kind: str
    # The desk operation (assistant.permissions.OPERATIONS) a role needs to decide, and the
    # desk (its ``Desk.area``) that checks it and records a refusal.
    operation: str
    area: str
    # What is under review, for the messages: 「徵信報告草稿」 / "memo draft".
    subject_zh: str
    subject_en: str
    actions: tuple[str, ...] = ("approve", "edit", "reject")
    # Decisions that are meaningless without an edited text / without a reason.
    needs_text: frozenset[str] = field(default_factory=lambda: frozenset({"edit"}))
    needs_note: frozenset[str] = field(default_factory=lambda: frozenset({"reject"}))

    # ---- the paused run's side ------------------------------------------------------------

    def payload(self, **fields: Any) -> dict[str, Any]:
        """The interrupt value, validated, as plain data for the checkpoint."""
        return ReviewPayload(kind=self.kind, actions=list(self.actions), **fields).model_dump()

    def decision(self, value: Any) -> ReviewDecision:
        """The decision a resumed run received (checked by :meth:`check` before it was sent)."""
        return ReviewDecision.model_validate(value)

    # ---- the service's side ---------------------------------------------------------------

    def read(self, value: Any) -> ReviewPayload | None:
        """The payload of a paused interrupt when it is this contract's, else None."""
        if not isinstance(value, Mapping) or value.get("kind") != self.kind:
            return None
        try:
            return ReviewPayload.model_validate(value)
        except ValidationError:
            return None

    def check(self, decision: Mapping[str, Any], user: UserContext) -> ReviewDecision:
        """The decision as the paused run will receive it, refused here when it cannot be
        carried out: a decision that reached the run is kept by it (a malformed one would be
        replayed on every resume)."""
        action = str(decision.get("action") or "").strip().lower()
        if action not in self.actions:
            allowed = "、".join(self.actions)
            raise AssistantError(
                f"覆核動作須為 {allowed} / the action must be one of {', '.join(self.actions)}: "
                f"{action!r}"
            )
        markdown = decision.get("markdown")
        note = str(decision.get("note") or "").strip()
        if action in self.needs_text and not (markdown or "").strip():
            raise AssistantError(
                f"修改後核准需附修改後的{self.subject_zh} / an edit needs the edited "
                f"{self.subject_en} text"
            )
        if action in self.needs_note and not note:
            raise AssistantError("退回需註明理由 / a rejection needs a note saying why")
        return ReviewDecision(
            action=action,
            markdown=markdown if action in self.needs_text else None,
            note=note,
            user=user.name,
        )

    def question(self, waiting: ReviewPayload, decision: ReviewDecision) -> str:
        """The resumed turn's question: the audit record and the conversation say what was
        decided."""
        zh = ACTION_ZH.get(decision.action, decision.action)
        note = f"（{decision.note}）" if decision.note else ""
        return f"覆核{self.subject_zh} #{waiting.draft_id}：{zh} / review: {decision.action}{note}"

    def still_waiting(self, waiting: ReviewPayload) -> str:
        """Why a new question is refused while the review waits."""
        return (
            f"此對話的{self.subject_zh} #{waiting.draft_id} 待覆核，請先核准、修改後核准或退回，"
            f"或開新對話提問 / {self.subject_en} #{waiting.draft_id} awaits review in this "
            "conversation: decide on it first, or ask in a new conversation"
        )


@dataclass(frozen=True)
class ReviewGate:
    """A contract with the desk that checks who may decide and records a refusal."""

    contract: ReviewContract
    desk: Desk

    def may_decide(self, user: UserContext) -> bool:
        return user.may(self.contract.operation)

    def authorise(
        self,
        user: UserContext,
        args: dict[str, Any],
        *,
        conversation_id: str | None = None,
    ) -> UserContext:
        """The user, when their role may decide; otherwise the desk records the refusal
        (``access_denied``) and raises :class:`~assistant.errors.AuthError`."""
        return self.desk.allow(user, self.contract.operation, args, conversation_id=conversation_id)
