"""The review contract on its own: which interrupts it reads, what a decision must hold, and a
refusal recorded by the desk. The whole review in the graph is in test_credit_agent."""

from __future__ import annotations

from typing import Any

import pytest

from agents.credit.graph import SPEC
from agents.credit.state import CREDIT_REVIEW
from agents.interrupts import ReviewGate
from assistant.desks.base import Desk
from assistant.errors import AssistantError, AuthError
from assistant.permissions import UserContext

ANALYST = UserContext("analyst", "credit", 1)
FX = UserContext("fx-officer", "fx", 2)


class Trail:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record_action(self, user: UserContext, **kwargs: Any) -> int:
        self.records.append({"user": user.name, **kwargs})
        return len(self.records)


def test_the_credit_spec_declares_its_review() -> None:
    assert SPEC.review is CREDIT_REVIEW
    assert CREDIT_REVIEW.operation == "credit.decide" and CREDIT_REVIEW.area == "credit"


def test_payload_round_trips_as_plain_data_and_other_kinds_are_not_read() -> None:
    value = CREDIT_REVIEW.payload(draft_id=7, summary="s", docx=None, markdown="# m", result={})
    assert isinstance(value, dict) and value["actions"] == ["approve", "edit", "reject"]
    read = CREDIT_REVIEW.read(value)
    assert read is not None and read.pending() == {
        "kind": "credit_review",
        "draft_id": 7,
        "actions": ["approve", "edit", "reject"],
        "docx": None,
        "summary": "s",
        "markdown": "# m",
        "error": None,
    }
    assert CREDIT_REVIEW.read({**value, "kind": "fraud_review"}) is None
    assert CREDIT_REVIEW.read({"kind": "credit_review"}) is None  # no id under review
    assert CREDIT_REVIEW.read("credit_review") is None


def test_decisions_are_checked_before_they_reach_the_run() -> None:
    d = CREDIT_REVIEW.check({"action": " Approve ", "markdown": "ignored", "note": " ok "}, ANALYST)
    assert (d.action, d.markdown, d.note, d.user) == ("approve", None, "ok", "analyst")
    assert CREDIT_REVIEW.check({"action": "edit", "markdown": "# new"}, ANALYST).markdown == "# new"
    with pytest.raises(AssistantError, match="修改後"):
        CREDIT_REVIEW.check({"action": "edit", "markdown": "  "}, ANALYST)
    with pytest.raises(AssistantError, match="理由"):
        CREDIT_REVIEW.check({"action": "reject", "note": ""}, ANALYST)
    with pytest.raises(AssistantError, match="approve"):
        CREDIT_REVIEW.check({"action": "delete"}, ANALYST)


def test_a_role_that_may_not_decide_is_refused_and_recorded_by_the_desk() -> None:
    trail = Trail()
    desk = Desk(trail)
    desk.area = "credit"
    gate = ReviewGate(CREDIT_REVIEW, desk)
    assert gate.may_decide(ANALYST) and not gate.may_decide(FX)
    assert gate.authorise(ANALYST, {"review": "approve"}) is ANALYST
    assert trail.records == []
    with pytest.raises(AuthError, match=r"credit\.decide"):
        gate.authorise(FX, {"review": "approve"}, conversation_id="c1")
    [denied] = trail.records
    assert denied["action"] == "access_denied" and denied["agent"] == "credit"
    assert denied["args"] == {"operation": "credit.decide", "review": "approve"}
    assert denied["conversation_id"] == "c1"
