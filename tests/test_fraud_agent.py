"""The fraud agent in the graph, on a generated ledger with planted rings: traces by chat,
a follow-up score on the same account, and a clear, audited refusal for other roles."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.container import Container
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = Container(make_settings(tmp_path_factory.mktemp("fraud_agent") / "data"))
    from datetime import date

    c.fraud.generate(
        accounts=3000, transfers=30000, seed=3, start=date(2024, 1, 1), days=30, rings=8
    )
    c.fraud.train()
    yield c
    c.close()


def _mule(c: Container) -> str:
    db = sqlite3.connect(Path(c.settings.data_dir) / "assistant.db")
    try:
        return db.execute(
            "SELECT id FROM fraud_account WHERE pattern LIKE '%/mule' ORDER BY id LIMIT 1"
        ).fetchone()[0]
    finally:
        db.close()


def test_investigator_traces_then_asks_for_a_score(desk: Container) -> None:
    investigator = desk.users.ensure("investigator", "fraud")
    mule = _mule(desk)
    first = desk.service.ask(investigator, f"追查帳戶 {mule} 的前兩層金流")
    assert first.agent == "fraud" and first.route_method == "keywords"
    traces = first.data["traces"]
    assert [t["direction"] for t in traces] == ["up", "down"]
    assert all(t["hops"] == 2 for t in traces)
    # The evidence table names real transfers of the trace, by id.
    ids = {x["id"] for t in traces for x in t["transfers"]}
    shown = [
        line.split("|")[2].strip()
        for line in first.answer.splitlines()
        if line.startswith("| 1 ") or line.startswith("| 2 ")
    ]
    assert shown and set(shown) <= ids
    assert [c.name for c in first.tool_calls] == ["fraud_trace", "fraud_trace"]
    # 「這個帳戶」: the account of the conversation, scored with its reasons.
    second = desk.service.ask(investigator, "這個帳戶像水房嗎？", first.conversation_id)
    assert [c.name for c in second.tool_calls] == ["fraud_score"]
    assert second.tool_calls[0].args["account"] == mule
    score = second.data["score"]
    assert score["score"] > 0.5 and len(score["reasons"]) >= 3
    assert "風險分數" in second.answer and "由調查人員決定" in second.answer
    assert desk.audit.get(second.audit_id).tool_calls[0]["name"] == "fraud_score"


def test_other_roles_are_refused_and_the_attempt_is_recorded(desk: Container) -> None:
    officer = desk.users.ensure("fx-officer", "fx")
    ans = desk.service.ask(officer, f"追查帳戶 {_mule(desk)} 的前三層金流")
    assert ans.agent == "fraud" and ans.refused and "不能使用防詐助理" in ans.answer
    assert ans.tool_calls == [] and ans.data == {}
    record = desk.audit.get(ans.audit_id)
    assert record.refused and record.user_name == "fx-officer"


def test_unknown_account_and_missing_account_are_said(desk: Container) -> None:
    investigator = desk.users.ensure("investigator2", "fraud")
    ans = desk.service.ask(investigator, "追查帳戶 9999-999-999999 的金流")
    assert "查無帳戶" in ans.answer and ans.tool_calls and not ans.tool_calls[0].ok
    ans = desk.service.ask(investigator, "幫我追查金流")
    assert "請提供帳號" in ans.answer and ans.tool_calls == []


def test_the_flow_is_drawn_beside_the_answer(desk: Container) -> None:
    from playwright.sync_api import expect

    from tests.browser import logged_in
    from tests.test_ui import PASSWORD, _free_port
    from ui.app import serve_ui

    user = desk.users.add("flow-viewer", "fraud", PASSWORD)
    mule = _mule(desk)
    demo = serve_ui(desk, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        with logged_in(demo.local_url, user.name, PASSWORD) as page:
            box = page.locator("#twfin-question textarea")
            box.fill(f"追查帳戶 {mule} 的前兩層金流")
            box.press("Enter")
            expect(page.locator("#twfin-chatbot")).to_contain_text("交易序號")
            flow = page.locator("#twfin-flow")
            expect(flow).to_be_visible()
            expect(flow.locator(".sankey").first).to_be_attached()
            expect(flow).to_contain_text(mule)
    finally:
        demo.close()
