"""The fraud agent in the graph, on a generated ledger with planted rings: traces by chat,
a follow-up score on the same account, and a clear, audited refusal for other roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

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


def _mule(c: Container, status: str | None = None) -> str:
    # The app's own database (SQLite file or PostgreSQL), read beside the app.
    with c.engine.connect() as db:
        return db.execute(
            text(
                "SELECT id FROM fraud_account WHERE pattern LIKE '%/mule' AND status = "
                "COALESCE(CAST(:status AS VARCHAR), status) ORDER BY id LIMIT 1"
            ),
            {"status": status},
        ).scalar_one()


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
    assert [c.name for c in first.tool_calls] == ["fraud_account", "fraud_trace", "fraud_trace"]
    assert f"帳戶 {mule}" in first.answer and "狀態" in first.answer  # the account lookup
    # 「這個帳戶」: the account of the conversation, scored with its reasons.
    second = desk.service.ask(investigator, "這個帳戶像水房嗎？", first.conversation_id)
    assert [c.name for c in second.tool_calls] == ["fraud_account", "fraud_score", "fraud_explain"]
    assert all(c.args["account"] == mule for c in second.tool_calls)
    score = second.data["score"]
    assert score["score"] > 0.5 and len(score["reasons"]) >= 3
    assert "風險分數" in second.answer and "由調查人員決定" in second.answer
    assert desk.audit.get(second.audit_id).tool_calls[1]["name"] == "fraud_score"


def test_the_longest_account_numbers_are_read(desk: Container) -> None:
    """The generator's (and a bank export's) ids run to 17 digits: 中華郵政 700 + 14."""
    with desk.engine.connect() as db:
        longest = db.execute(
            text("SELECT id FROM fraud_account WHERE LENGTH(id) = 17 ORDER BY id LIMIT 1")
        ).scalar_one()
    investigator = desk.users.ensure("investigator-17", "fraud")
    ans = desk.service.ask(investigator, f"追查帳戶 {longest} 的前兩層金流")
    assert [c.name for c in ans.tool_calls][:2] == ["fraud_account", "fraud_trace"]
    assert ans.tool_calls[1].args["account"] == longest and "請提供帳號" not in ans.answer
    deep = desk.service.ask(investigator, f"追查帳戶 {longest} 的前 99 層金流")
    assert all(t["hops"] == 6 for t in deep.data["traces"])
    assert "一次最多追查 6 層，已查 6 層 / at most 6 hops a trace" in deep.answer


def test_an_account_pasted_with_invisible_characters_or_grouped_is_read(desk: Container) -> None:
    """Text pasted from a chat app or a spreadsheet carries zero-width characters; staff group
    digits with spaces and say 「往下追兩層」."""
    mule = _mule(desk)
    investigator = desk.users.ensure("investigator-paste", "fraud")
    pasted = f"帳戶 {mule[:3]}\u200b{mule[3:]}\ufeff 的前兩層金流"
    ans = desk.service.ask(investigator, pasted)
    assert ans.agent == "fraud" and ans.tool_calls[0].args["account"] == mule
    grouped = " ".join(mule[i : i + 4] for i in range(0, len(mule), 4))
    down = desk.service.ask(investigator, f"帳號:{grouped} 往下追兩層")
    assert down.agent == "fraud" and down.route_method == "keywords"
    assert [t["direction"] for t in down.data["traces"]] == ["down"]
    assert down.data["traces"][0]["hops"] == 2


def test_the_highest_scored_accounts_by_chat(desk: Container) -> None:
    investigator = desk.users.ensure("investigator-top", "fraud")
    ans = desk.service.ask(investigator, "目前風險最高的前 5 名帳戶是哪些？")
    assert ans.agent == "fraud" and [c.name for c in ans.tool_calls] == ["fraud_top"]
    rows = ans.data["top"]["accounts"]
    assert [r["account"] for r in rows] == [
        r["account"] for r in desk.fraud_desk.top(investigator, 5)
    ]
    assert "人頭／水房風險分數最高的 5 個帳戶" in ans.answer and rows[0]["account"] in ans.answer
    assert "由調查人員決定" in ans.answer and ans.data["top"]["model"]["kind"] == "local"
    english = desk.service.ask(investigator, "Which are the top 3 riskiest accounts?")
    assert english.agent == "fraud" and len(english.data["top"]["accounts"]) == 3
    # another role asking the same is refused, as for any fraud question
    refused = desk.service.ask(desk.users.ensure("fx-top", "fx"), "風險最高的帳戶是哪些？")
    assert refused.refused and refused.tool_calls == []
    # one account's score, asked with its number: the fraud desk, not the regulations
    first = rows[0]["account"]
    one = desk.service.ask(investigator, f"{first} 這個帳戶的風險分數")
    assert one.agent == "fraud" and "人頭／水房風險分數" in one.answer


def test_other_roles_are_refused_and_the_attempt_is_recorded(desk: Container) -> None:
    officer = desk.users.ensure("fx-officer", "fx")
    events = list(desk.service.stream(officer, f"追查帳戶 {_mule(desk)} 的前三層金流"))
    ans = events[-1].answer
    assert ans.agent == "fraud" and ans.refused and "不能使用防詐助理" in ans.answer
    # The refusal is streamed too: the CLI prints the stream, not the final answer.
    assert "".join(e.text for e in events if e.kind == "token") == ans.answer
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


def _account_status(c: Container, account: str) -> str:
    with c.engine.connect() as db:
        return db.execute(
            text("SELECT status FROM fraud_account WHERE id = :id"), {"id": account}
        ).scalar_one()


def test_the_agent_proposes_a_flag_and_only_a_person_carries_it_out(desk: Container) -> None:
    from assistant.errors import AuthError

    investigator = desk.users.ensure("investigator3", "fraud")
    mule = _mule(desk, status="normal")
    before = _account_status(desk, mule)
    ans = desk.service.ask(investigator, f"請把帳戶 {mule} 列為警示帳戶")
    assert ans.agent == "fraud"
    assert [c.name for c in ans.tool_calls] == ["fraud_account", "fraud_propose"]
    proposal = ans.data["proposals"][0]
    assert proposal["status"] == "proposed" and proposal["params"]["status"] == "警示"
    assert f"已提出建議 #{proposal['id']}" in ans.answer and "尚未執行" in ans.answer
    assert _account_status(desk, mule) == before  # proposing changed nothing
    assert desk.audit.get(ans.audit_id).tool_calls[1]["name"] == "fraud_propose"
    # Asking again does not file a second proposal.
    again = desk.service.ask(investigator, f"請把帳戶 {mule} 列為警示帳戶")
    assert again.data["proposals"][0]["id"] == proposal["id"]

    # Decisions are the fraud desk's, taken by a person with the role for it.
    actions = desk.fraud_desk
    with pytest.raises(AuthError):
        actions.decide(desk.users.ensure("fx-officer2", "fx"), proposal["id"], confirm=True)
    decided = actions.decide(investigator, proposal["id"], confirm=True, note="被害人報案")
    assert decided["status"] == "confirmed" and decided["decided_by"] == "investigator3"
    assert decided["result"] == {"status_before": before, "status_after": "警示"}
    assert _account_status(desk, mule) == "警示"
    record = desk.audit.recent(1)[0]
    assert record.user_name == "investigator3" and record.agent == "fraud"
    assert record.tool_calls[0]["name"] == "fraud.flag.confirm"
    assert record.tool_calls[0]["args"]["action_id"] == proposal["id"]
    with pytest.raises(Exception, match="已確認"):  # decided once only
        actions.decide(investigator, proposal["id"], confirm=False)
    # Now flagged: asking again is answered with the fact, and nothing is proposed.
    again = desk.service.ask(investigator, f"請把帳戶 {mule} 列為警示帳戶")
    assert again.data["proposals"] == [] and "已是「警示」狀態" in again.answer


def test_an_evidence_export_is_proposed_then_rejected_or_confirmed(desk: Container) -> None:
    import csv
    import hashlib

    investigator = desk.users.ensure("investigator4", "fraud")
    mule = _mule(desk)
    ans = desk.service.ask(investigator, f"匯出帳戶 {mule} 前兩層金流的證據")
    kinds = [p["kind"] for p in ans.data["proposals"]]
    assert kinds == ["export"] and "fraud_propose" in [c.name for c in ans.tool_calls]
    pid = ans.data["proposals"][0]["id"]
    rejected = desk.fraud_desk.decide(investigator, pid, confirm=False, note="先不匯出")
    assert rejected["status"] == "rejected" and rejected["result"] == {}
    assert desk.audit.recent(1)[0].tool_calls[0]["name"] == "fraud.export.reject"

    ans = desk.service.ask(investigator, f"匯出帳戶 {mule} 前兩層金流的證據")
    pid2 = ans.data["proposals"][0]["id"]
    assert pid2 != pid  # the rejected one is closed; this is a new proposal
    done = desk.fraud_desk.decide(investigator, pid2, confirm=True)
    files = done["result"]["files"]
    assert [f["direction"] for f in files] == ["up", "down"]
    for f in files:
        data = Path(f["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
        assert rows[0][:3] == ["hop", "transfer_id", "ts"] and len(rows) - 1 == f["transfers"]
        assert {int(r[0]) for r in rows[1:]} <= {1, 2}
    assert desk.audit.recent(1)[0].tool_calls[0]["name"] == "fraud.export.confirm"


def test_unknown_action_and_unknown_account_proposals_are_clear(desk: Container) -> None:
    from assistant.errors import AssistantError, NotFound

    investigator = desk.users.ensure("investigator5", "fraud")
    with pytest.raises(NotFound):
        desk.fraud_desk.decide(investigator, 999_999, confirm=True)
    with pytest.raises(AssistantError, match="查無帳戶"):
        desk.fraud_desk.propose(investigator, "flag", "9999-999-999999")
    with pytest.raises(AssistantError, match="未知的動作"):
        desk.fraud_desk.propose(investigator, "close", _mule(desk))


def test_one_question_from_an_alert_to_its_accounts_prior_flows(desk: Container) -> None:
    """「警示 #N 的前期金流」: the monitor's alert names the account; the agent traces where its
    money came from, and the answer says which alert it started from."""
    mule = _mule(desk)
    monitor = desk.fraud_monitor_desk
    investigator = desk.users.ensure("investigator3", "fraud")
    rows = [
        {
            "id": f"M{i}",
            "ts": f"2024-01-31T10:{i:02d}:00",
            "from_account": f"V{i}",
            "to_account": mule,
            "amount": "150000",
        }
        for i in range(4)
    ] + [
        {
            "id": "M9",
            "ts": "2024-01-31T10:20:00",
            "from_account": mule,
            "to_account": "X1",
            "amount": "590000",
        }
    ]
    result = monitor.score_batch(investigator, enumerate(rows, start=1))
    ours = [a for a in monitor.alerts(investigator, "open", 50, mule)]
    assert result.alerts and ours, result.counts()
    alert_id = ours[0]["id"]
    ans = desk.service.ask(investigator, f"警示 #{alert_id} 的前期金流")
    assert ans.agent == "fraud"
    names = [c.name for c in ans.tool_calls]
    assert names[:2] == ["fraud_alert", "fraud_account"] and names[2:] == ["fraud_trace"]
    assert ans.tool_calls[2].args == {**ans.tool_calls[2].args, "account": mule, "direction": "up"}
    assert f"警示 #{alert_id}" in ans.answer and mule in ans.answer
    assert [t["direction"] for t in ans.data["traces"]] == ["up"]
    # An alert that does not exist is said, and nothing else is looked at.
    missing = desk.service.ask(investigator, "警示 #999999 的前期金流")
    assert "沒有這筆警示" in missing.answer and [c.name for c in missing.tool_calls] == [
        "fraud_alert"
    ]
    # Another role may not read the alert: refused by the desk, and recorded.
    officer = desk.users.ensure("fx-officer2", "fx")
    refused = desk.service.ask(officer, f"警示 #{alert_id} 的前期金流")
    assert refused.refused and desk.audit.get(refused.audit_id).refused


@pytest.mark.parametrize("question", ["What about account {mule}?", "5c0r3 4cc0un7 {mule} pl34s3"])
def test_an_account_with_no_request_gets_its_score_not_a_trace(
    desk: Container, question: str
) -> None:
    """An account named with nothing asked of it (or asked in words the desk does not read):
    the account's own score, and how to ask for its flows; a trace reads other customers'
    transfers and is run only when the flows are asked for."""
    investigator = desk.users.ensure("investigator-bare", "fraud")
    mule = _mule(desk)
    ans = desk.service.ask(investigator, question.format(mule=mule))
    assert ans.agent == "fraud"
    assert [c.name for c in ans.tool_calls] == ["fraud_account", "fraud_score", "fraud_explain"]
    assert "往上追" in ans.answer and "trace up or down" in ans.answer
    down = desk.service.ask(investigator, "往下追兩層", ans.conversation_id)
    assert [c.name for c in down.tool_calls] == ["fraud_account", "fraud_trace"]
