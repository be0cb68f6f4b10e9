"""The 警示 tab and its API end to end: `serve_ui` over the 防詐 tabs' container (a small generated
ledger, tests/test_ui_panels.py), alerts made by scoring transfers through the monitor desk,
then worked through the tab's own handlers (found by the button that triggers them) and through
gradio_client against the real server.

What is checked is the desk's behaviour reaching the page: the queue lists the alert, a
confirmation changes its status and leaves an audit record naming the investigator, a role
without ``fraud.decide`` is refused in both languages and the refusal recorded, a bad transfer
body is said clearly (never a traceback), and from an alert the trace is its account's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import gradio as gr
import pytest
from gradio_client import Client
from sqlalchemy import text

from assistant.audit import AuditRow
from assistant.container import Container
from assistant.permissions import UserContext
from tests.test_ui import PASSWORD, Served
from tests.test_ui_panels import desk, runs, served  # noqa: F401  (fixtures)
from ui import alerts_panel
from ui.app import build_app

# ---- helpers -------------------------------------------------------------------------------


def _user(c: Container, role: str) -> UserContext:
    return c.users.add(f"al-{role}-{uuid.uuid4().hex[:8]}", role, PASSWORD)


def _client(served: Served, user: UserContext) -> Client:  # noqa: F811
    return Client(served.url, auth=(user.name, PASSWORD), verbose=False)


def _request(user: UserContext | None) -> gr.Request:
    return gr.Request(username=user.name if user is not None else None)


def _last(c: Container, user: UserContext) -> AuditRow:
    (row,) = c.audit.recent(1, user_name=user.name)
    return row


def _synthetic(prefix: str) -> str:
    """An account the ledger does not hold: a payer or payee of the made-up transfers."""
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


def busy_account(c: Container, skip: int) -> str:
    """A ledger account that received many transfers: its upstream trace has something in it."""
    with c.engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT to_account, COUNT(*) AS n FROM fraud_transfer WHERE kind = 'transfer' "
                "GROUP BY to_account ORDER BY n DESC, to_account LIMIT 1 OFFSET :skip"
            ),
            {"skip": skip},
        ).fetchall()
    return rows[0][0]


def transfer(tid: str, ts: str, frm: str, to: str, amount: object) -> dict[str, Any]:
    return {"id": tid, "ts": ts, "from_account": frm, "to_account": to, "amount": amount}


def open_alert(c: Container, account: str | None = None) -> dict[str, Any]:
    """Money into ``account`` and straight out again, scored through the desk by an
    investigator: the monitor holds the second transfer, an open alert about ``account``."""
    account = account or _synthetic("MULE")
    scorer = UserContext("monitor-feed", "fraud")
    tag = uuid.uuid4().hex[:8]
    monitor = c.fraud_monitor_desk
    first = monitor.score(
        scorer,
        transfer(f"IN-{tag}", "2024-03-04T10:00:00", _synthetic("V"), account, 150_000),
    )
    assert first["action"] == "pass"
    held = monitor.score(
        scorer,
        transfer(f"OUT-{tag}", "2024-03-04T10:20:00", account, _synthetic("L"), 140_000),
    )
    assert held["action"] == "hold" and held["alert_id"] is not None, held
    assert held["account"] == account
    return held


def _on(demo: gr.Blocks, elem_id: str, event: str = "click") -> Callable[..., Any]:
    """The handler the page runs when the component ``elem_id`` fires ``event``."""
    for fn in demo.fns.values():
        for block_id, name in fn.targets:
            block = demo.blocks.get(block_id) if block_id is not None else None
            if name == event and getattr(block, "elem_id", None) == elem_id and fn.fn:
                return fn.fn
    raise AssertionError(f"no {event} handler on #{elem_id}")


def _by_id(demo: gr.Blocks, elem_id: str) -> Any:
    (block,) = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id]
    return block


def _frame(demo: gr.Blocks, out: dict[Any, Any], elem_id: str) -> Any:
    """The table a handler put on the page (with whether it is shown)."""
    update = out[_by_id(demo, elem_id)]
    return update["value"]


def _text(out: dict[Any, Any]) -> str:
    return " ".join(str(v) for v in out.values())


def _state(c: Container, alert_id: int) -> str:
    with c.engine.connect() as db:
        return db.execute(
            text("SELECT status FROM fraud_monitor_alert WHERE id = :id"), {"id": alert_id}
        ).scalar_one()


# ---- the page --------------------------------------------------------------------------------


def test_the_tab_is_labelled_hidden_and_there_only_with_the_monitor_desk(
    desk: Container,  # noqa: F811
) -> None:
    def ids(demo: gr.Blocks) -> dict[str, dict[str, Any]]:
        comps = demo.get_config_file()["components"]
        return {c["props"]["elem_id"]: c["props"] for c in comps if c["props"].get("elem_id")}

    extra = {"fraud": desk.fraud_desk, "monitor": desk.fraud_monitor_desk}
    zh = ids(build_app(desk.service, desk.users, **extra))
    en = ids(build_app(desk.service, desk.users, language="en", **extra))
    assert (zh["twfin-tab-alerts"]["label"], en["twfin-tab-alerts"]["label"]) == ("警示", "Alerts")
    assert (zh["twfin-alerts-confirm"]["value"], en["twfin-alerts-confirm"]["value"]) == (
        "確認為詐騙",
        "Confirm fraud",
    )
    assert zh["twfin-alerts-up"]["value"] == "追查前期金流"
    assert zh["twfin-alerts-dismiss"]["value"] == "排除"
    # Hidden until the page's load asks the permission table; the ring needs the fraud desk.
    assert zh["twfin-tab-alerts"]["visible"] is False
    assert zh["twfin-alerts-ring"].get("visible", True) is not False
    alone = ids(build_app(desk.service, desk.users, monitor=desk.fraud_monitor_desk))
    assert alone["twfin-alerts-ring"]["visible"] is False
    assert "twfin-tab-alerts" not in ids(build_app(desk.service, desk.users))


def test_an_investigator_lists_confirms_and_is_recorded(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    demo = served.demo
    read = _on(demo, "twfin-alerts-refresh")
    confirm = _on(demo, "twfin-alerts-confirm")
    shown = _on(demo, "twfin-tab-alerts", "select")
    assert shown is read  # opening the tab reads the queue
    inv, officer = _user(desk, "fraud"), _user(desk, "compliance")
    alert = open_alert(desk)
    alert_id, account = alert["alert_id"], alert["account"]

    # The page's load shows the tab to who may read the queue, and to no one else.
    (load,) = [
        fn.fn
        for fn in demo.fns.values()
        if fn.fn is not None
        and fn.fn.__module__ == "ui.alerts_panel"
        and fn.fn.__name__ == "on_page_load"
    ]
    assert [u["visible"] for u in load(_request(inv)).values()] == [True]
    assert [u["visible"] for u in load(_request(officer)).values()] == [False]

    out = read("open", "zh-TW", _request(inv))
    grid = _frame(demo, out, "twfin-alerts-table")
    (row,) = grid[grid["編號"] == str(alert_id)].to_dict("records")
    assert row["帳戶"] == account and row["狀態"] == "待處理" and row["處置"] == "暫停待審"
    assert "快進快出" in row["理由"] and alert["transfer_id"] in row["轉帳"]
    assert alert_id in [v for _, v in out[_by_id(demo, "twfin-alerts-pick")]["choices"]]
    assert _last(desk, inv).tool_calls[0]["name"] == "fraud.monitor.alerts"
    en = _frame(demo, read("open", "en", _request(inv)), "twfin-alerts-table")
    (row_en,) = en[en["ID"] == str(alert_id)].to_dict("records")
    assert row_en["Action"] == "hold" and "money in, then straight out" in row_en["Reasons"]

    out = confirm(alert_id, "已照會，確認為人頭帳戶", "open", "zh-TW", _request(inv))
    assert f"已將警示 #{alert_id}" in out[_by_id(demo, "twfin-alerts-status")]
    assert _state(desk, alert_id) == "confirmed"
    # The decision is the investigator's, in the audit trail with the note and the account
    # (then the queue the handler re-read).
    listing, decision = desk.audit.recent(2, user_name=inv.name)
    assert listing.tool_calls[0]["name"] == "fraud.monitor.alerts"
    call = decision.tool_calls[0]
    assert call["name"] == "fraud.monitor.confirm"
    assert (call["args"]["alert_id"], call["args"]["account"]) == (alert_id, account)
    assert call["args"]["note"] == "已照會，確認為人頭帳戶"
    (decided,) = desk.fraud_monitor_desk.alerts(inv, "confirmed", 10, account)
    assert decided["decided_by"] == inv.name
    # The open queue the handler re-read no longer holds it; decided once only.
    assert str(alert_id) not in _frame(demo, out, "twfin-alerts-table")["編號"].tolist()
    again = confirm(alert_id, "", "all", "en", _request(inv))
    assert "already confirmed" in again[_by_id(demo, "twfin-alerts-status")]
    assert "請先選擇" in _text(confirm(None, "", "open", "zh-TW", _request(inv)))


def test_by_account_the_queue_groups_an_account_s_alerts_and_works_its_latest(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    demo = served.demo
    read = _on(demo, "twfin-alerts-refresh")
    switched = _on(demo, "twfin-alerts-view", "change")
    dismiss = _on(demo, "twfin-alerts-dismiss")
    up = _on(demo, "twfin-alerts-up")
    assert switched is read
    inv = _user(desk, "fraud")
    account = _synthetic("MULE")
    first, second = open_alert(desk, account), open_alert(desk, account)
    lone = open_alert(desk)

    out = read("open", "zh-TW", _request(inv), "accounts")
    assert out[_by_id(demo, "twfin-alerts-table")]["visible"] is False
    assert out[_by_id(demo, "twfin-alerts-accounts")]["visible"] is True
    grid = _frame(demo, out, "twfin-alerts-accounts")
    (row,) = grid[grid["帳戶"] == account].to_dict("records")
    assert (row["警示數"], row["暫停待審"]) == ("2", "2")
    assert row["最新警示"] == f"#{second['alert_id']}"
    assert row["觸發規則"] == "pass\\_through\\_2h × 2"  # Markdown: shown as written
    assert row["最大金額"] == "140,000"
    # The account with two alerts is listed before the one with one.
    listed = grid["帳戶"].tolist()
    assert listed.index(account) < listed.index(lone["account"])
    picks = dict((v, label) for label, v in out[_by_id(demo, "twfin-alerts-pick")]["choices"])
    assert first["alert_id"] not in picks
    assert account in picks[second["alert_id"]] and "2 則警示" in picks[second["alert_id"]]
    (record,) = desk.audit.recent(1, user_name=inv.name)
    assert record.tool_calls[0]["name"] == "fraud.monitor.alert_accounts"
    en = _frame(demo, read("open", "en", _request(inv), "accounts"), "twfin-alerts-accounts")
    assert {"Account", "Alerts", "Holds", "Rules fired", "Latest alert"} <= set(en.columns)

    # From the account's row, the pick traces the account (its latest alert's) ...
    traced = up(second["alert_id"], 2, "zh-TW", _request(inv))
    assert f"帳戶 {account}" in traced[_by_id(demo, "twfin-alerts-detail")]
    # ... and dismissing it dismisses the account's alerts up to the one listed: an alert that
    # came after the list was read stays open for a look of its own.
    known = next(v for k, v in out.items() if isinstance(k, gr.State))
    assert known[second["alert_id"]] == account
    third = open_alert(desk, account)
    done = dismiss(second["alert_id"], "正常", "open", "zh-TW", _request(inv), "accounts", known)
    said = done[_by_id(demo, "twfin-alerts-status")]
    assert f"已排除帳戶 {account} 的 2 則警示" in said and f"#{first['alert_id']}" in said
    after = _frame(demo, done, "twfin-alerts-accounts")
    (row,) = after[after["帳戶"] == account].to_dict("records")
    assert (row["警示數"], row["最新警示"]) == ("1", f"#{third['alert_id']}")
    assert [_state(desk, a["alert_id"]) for a in (first, second, third)] == [
        "dismissed",
        "dismissed",
        "open",
    ]
    (record,) = desk.audit.recent(2, user_name=inv.name)[1:]
    call = record.tool_calls[0]
    assert call["name"] == "fraud.monitor.dismiss_account"
    assert call["args"]["alert_ids"] == [first["alert_id"], second["alert_id"]]
    assert (call["args"]["up_to"], call["args"]["note"]) == (second["alert_id"], "正常")


def test_a_role_without_fraud_decide_is_refused_and_recorded(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    demo = served.demo
    dismiss = _on(demo, "twfin-alerts-dismiss")
    officer = _user(desk, "fx")
    assert not officer.may("fraud.decide")
    alert_id = open_alert(desk)["alert_id"]

    out = dismiss(alert_id, "不是詐騙", "open", "en", _request(officer))
    said = out[_by_id(demo, "twfin-alerts-status")]
    assert "你的角色（fx）不能執行 fraud.decide / your role (fx) may not perform" in said
    row = _last(desk, officer)
    assert row.tool_calls[0]["name"] == "access_denied" and row.user_role == "fx"
    assert row.tool_calls[0]["args"] == {
        "operation": "fraud.decide",
        "alert_id": alert_id,
        "confirm": False,
        "note": "不是詐騙",
    }
    assert _state(desk, alert_id) == "open"  # nothing changed

    # The API says the same words, with no traceback, and records the refusal too.
    client = _client(served, officer)
    with pytest.raises(Exception, match=r"你的角色（fx）不能執行 fraud\.decide / your") as err:
        client.predict(alert_id, True, "", api_name="/fraud_alert_decide")
    assert "Traceback" not in str(err.value)
    assert _last(desk, officer).tool_calls[0]["args"]["operation"] == "fraud.decide"
    with pytest.raises(Exception, match=r"不能執行 fraud\.read"):
        client.predict("open", 10, "", api_name="/fraud_alerts")
    assert _state(desk, alert_id) == "open"


def test_from_an_alert_the_trace_and_the_ring_of_its_account(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    demo = served.demo
    read = _on(demo, "twfin-alerts-refresh")
    up = _on(demo, "twfin-alerts-up")
    down = _on(demo, "twfin-alerts-down")
    ring = _on(demo, "twfin-alerts-ring")
    inv = _user(desk, "fraud")
    account = busy_account(desk, 0)
    alert_id = open_alert(desk, account)["alert_id"]
    expected = desk.fraud_desk.trace(inv, account, "up", 2)
    assert expected.transfers  # the account received money in the ledger

    out = up(alert_id, 2, "zh-TW", _request(inv))
    # Markdown with the record data escaped: read as the page renders it.
    summary = out[_by_id(demo, "twfin-alerts-detail")].replace("\\", "")
    assert f"警示 #{alert_id}" in summary and account in summary
    assert f"{len(expected.accounts)} 個帳戶、{len(expected.transfers)} 筆轉帳" in summary
    shown = out[_by_id(demo, "twfin-alerts-detail-table")]["value"]
    assert len(shown) == min(len(expected.transfers), alerts_panel.TRACE_ROWS)
    assert set(shown["轉入"]) <= {a.id for a in expected.accounts}
    assert shown["交易編號"].iloc[0] == expected.transfers[0].id
    assert out[_by_id(demo, "twfin-alerts-flow")]["visible"] is True
    call = _last(desk, inv).tool_calls[0]
    assert call["name"] == "fraud.trace"
    assert (call["args"]["alert_id"], call["args"]["account"]) == (alert_id, account)
    assert call["args"]["direction"] == "up"

    out = down(alert_id, 1, "en", _request(inv))
    assert "downstream 1 hops" in out[_by_id(demo, "twfin-alerts-detail")]
    assert _last(desk, inv).tool_calls[0]["args"]["direction"] == "down"
    out = up(999_999, 2, "zh-TW", _request(inv))
    assert "沒有這筆警示" in out[_by_id(demo, "twfin-alerts-detail")]

    # The ring: of the account the desk listed for the alert, through the fraud desk.
    listed = read("all", "zh-TW", _request(inv))
    # The tab keeps, on the server, which account each listed alert is about (a gr.State).
    (known,) = [v for k, v in listed.items() if isinstance(k, gr.State)]
    assert known[alert_id] == account
    expected_ring = desk.fraud_desk.ring(inv, account)
    out = ring(alert_id, known, "zh-TW", _request(inv))
    assert f"{len(expected_ring['members'])} 個" in out[_by_id(demo, "twfin-alerts-detail")]
    members = out[_by_id(demo, "twfin-alerts-detail-table")]["value"]
    assert members["帳戶"].tolist() == [m["account"] for m in expected_ring["members"]]
    call = _last(desk, inv).tool_calls[0]
    assert (call["name"], call["args"]["account"]) == ("fraud.ring", account)
    # An alert the page did not list for this session names no account: nothing is asked.
    assert "請先選擇" in _text(ring(alert_id, {}, "zh-TW", _request(inv)))


# ---- the API through the real server ---------------------------------------------------------


def test_the_api_scores_lists_traces_and_decides(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    inv = _user(desk, "fraud")
    client = _client(served, inv)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {
        "/fraud_alerts",
        "/fraud_alert_decide",
        "/fraud_alert_trace",
        "/fraud_monitor_score",
    } <= set(endpoints)

    account = busy_account(desk, 1)
    tag = uuid.uuid4().hex[:8]
    payer, payee = _synthetic("V"), _synthetic("L")
    first = client.predict(
        transfer(f"API-IN-{tag}", "2024-03-05T09:00:00", payer, account, "200,000"),
        api_name="/fraud_monitor_score",
    )
    assert (first["action"], first["alert_id"]) == ("pass", None)
    held = client.predict(
        transfer(f"API-OUT-{tag}", "2024-03-05T09:10:00", account, payee, 190_000),
        api_name="/fraud_monitor_score",
    )
    assert held["action"] == "hold" and held["account"] == account
    assert held["reasons"][0]["rule"] == "pass_through_2h" and held["reasons"][0]["zh"]
    assert _last(desk, inv).tool_calls[0]["name"] == "fraud.monitor.score"
    alert_id = held["alert_id"]

    (listed,) = client.predict("open", 10, account, api_name="/fraud_alerts")
    assert (listed["id"], listed["transfer_id"], listed["status"]) == (
        alert_id,
        f"API-OUT-{tag}",
        "open",
    )
    traced = client.predict(alert_id, "up", 2, api_name="/fraud_alert_trace")
    expected = desk.fraud_desk.trace(inv, account, "up", 2)
    assert traced["alert"]["id"] == alert_id and traced["trace"]["root"] == account
    assert [x["id"] for x in traced["trace"]["transfers"]] == [t.id for t in expected.transfers]

    decided = client.predict(alert_id, False, "正常商業往來", api_name="/fraud_alert_decide")
    assert (decided["status"], decided["decided_by"]) == ("dismissed", inv.name)
    call = _last(desk, inv).tool_calls[0]
    assert call["name"] == "fraud.monitor.dismiss" and call["args"]["note"] == "正常商業往來"
    assert alert_id in [
        a["id"] for a in client.predict("dismissed", 50, "", api_name="/fraud_alerts")
    ]
    assert alert_id not in [
        a["id"] for a in client.predict("open", 50, "", api_name="/fraud_alerts")
    ]
    # The outcome counts toward the rule's measured precision.
    assert desk.fraud_monitor_desk.outcomes(inv)["pass_through_2h"]["dismissed"] >= 1


def test_the_api_scores_a_batch_keeping_the_good_items_and_warms_the_monitor(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    inv = _user(desk, "fraud")
    client = _client(served, inv)
    warmed = client.predict(30, api_name="/fraud_monitor_warm")
    assert warmed["days"] == 30 and warmed["transfers"] > 0
    assert _last(desk, inv).tool_calls[0]["name"] == "fraud.monitor.warm"
    account, tag = busy_account(desk, 2), uuid.uuid4().hex[:8]
    payer, payee = _synthetic("V"), _synthetic("L")
    batch = [
        transfer(f"B-IN-{tag}", "2024-03-07T09:00:00", payer, account, "200,000"),
        {"id": f"B-BAD-{tag}", "ts": "2024-03-07T09:05:00", "from_account": payer},
        transfer(f"B-OUT-{tag}", "2024-03-07T09:10:00", account, payee, 190_000),
    ]
    out = client.predict(batch, api_name="/fraud_monitor_batch")
    assert (out["rows"], out["bad"]) == (3, 1)
    assert out["errors"] == [{"row": 2, "reason": out["errors"][0]["reason"]}]
    assert "缺少欄位" in out["errors"][0]["reason"] and "missing" in out["errors"][0]["reason"]
    (held,) = [d for d in out["decisions"] if d["action"] != "pass"]
    assert held["transfer_id"] == f"B-OUT-{tag}" and held["account"] == account
    assert len(out["alert_ids"]) == 1
    call = _last(desk, inv).tool_calls[0]
    assert call["name"] == "fraud.monitor.batch" and call["args"]["bad_rows"] == [2]
    listed = client.predict("open", 10, account, api_name="/fraud_alerts")
    assert out["alert_ids"][0] in [a["id"] for a in listed]


@pytest.mark.parametrize(
    ("route", "args", "said"),
    [
        (
            "/fraud_monitor_score",
            ({"id": "X1", "ts": "2024-03-05T09:00:00", "from_account": "A1", "to_account": "B1"},),
            "缺少欄位 amount / missing amount",
        ),
        (
            "/fraud_monitor_score",
            (transfer("X2", "2024-03-05T09:00:00", "A1", "B1", "lots"),),
            "金額錯誤 / bad amount: 'lots'",
        ),
        (
            "/fraud_monitor_score",
            (transfer("X3", "yesterday", "A1", "B1", 100),),
            "時間格式錯誤 / bad time",
        ),
        ("/fraud_monitor_score", ("not a transfer",), "一筆轉帳須為含欄位的物件（JSON object）"),
        ("/fraud_monitor_score", ("[1, 2]",), "a transfer must be an object with fields"),
        ("/fraud_monitor_batch", ("[]",), "請送出轉帳的 JSON 陣列 / send the transfers"),
        ("/fraud_monitor_batch", ({"id": "X"},), "請送出轉帳的 JSON 陣列"),
        ("/fraud_monitor_warm", (0,), "days 須介於 1 到 400"),
        ("/fraud_alert_decide", (999_999, True, ""), "沒有這筆警示 / no such alert: #999999"),
        ("/fraud_alert_decide", ("seven", True, ""), "alert_id 須為整數 / alert_id must be"),
        ("/fraud_alert_decide", (1, "maybe", ""), "confirm 須為 true 或 false / confirm must"),
        ("/fraud_alert_trace", (999_999, "up", 2), "沒有這筆警示 / no such alert"),
        ("/fraud_alerts", ("weird", 10, ""), "狀態須為 open|confirmed|dismissed / status"),
        ("/fraud_alerts", ("open", 0, ""), "limit 須介於 1 到 1000 / limit must be between"),
    ],
)
def test_bad_input_is_said_in_both_languages(
    route: str,
    args: tuple[Any, ...],
    said: str,
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    client = _client(served, _user(desk, "fraud"))
    with pytest.raises(Exception) as err:
        client.predict(*args, api_name=route)
    assert said in str(err.value)
    assert "Traceback" not in str(err.value)


def test_a_bad_trace_request_is_the_trace_s_own_words(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    client = _client(served, _user(desk, "fraud"))
    alert_id = open_alert(desk, busy_account(desk, 2))["alert_id"]
    with pytest.raises(Exception, match="方向須為 up 或 down / direction must be up or down"):
        client.predict(alert_id, "sideways", 2, api_name="/fraud_alert_trace")
    with pytest.raises(Exception, match="層數須介於 1 到 6 / hops must be between 1 and 6"):
        client.predict(alert_id, "up", 9, api_name="/fraud_alert_trace")
    # The monitor alerts on accounts the stored ledger does not hold yet: the trace says so.
    unknown = open_alert(desk)
    with pytest.raises(Exception, match=rf"查無帳戶 {unknown['account']} / unknown account"):
        client.predict(unknown["alert_id"], "up", 2, api_name="/fraud_alert_trace")


# ---- the page in a browser -------------------------------------------------------------------


def test_browser_investigator_traces_and_dismisses_an_alert(
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    from tests.browser import logged_in

    inv = _user(desk, "fraud")
    account = busy_account(desk, 3)
    alert_id = open_alert(desk, account)["alert_id"]
    with logged_in(served.url, inv.name, PASSWORD) as page:
        page.get_by_role("tab", name="警示").click()
        grid = page.locator("#twfin-alerts-table")
        expect(grid).to_contain_text(account)
        expect(grid).to_contain_text("快進快出")
        # The newest alert is the one chosen; choose it explicitly all the same.
        page.locator("#twfin-alerts-pick input").click()
        page.get_by_role("option", name=f"#{alert_id} 待處理 暫停待審 {account}").click()
        page.locator("#twfin-alerts-up").click()
        detail = page.locator("#twfin-alerts-detail")
        expect(detail).to_contain_text(f"警示 #{alert_id} 帳戶 {account} 上游（前期金流）")
        expect(page.locator("#twfin-alerts-detail-table")).to_be_visible()
        page.locator("#twfin-alerts-note textarea, #twfin-alerts-note input").first.fill("正常")
        page.locator("#twfin-alerts-dismiss").click()
        expect(page.locator("#twfin-alerts-status")).to_contain_text(f"已排除警示 #{alert_id}")
        expect(grid).not_to_contain_text(account)  # no longer open
        # A new alert on the same account; the queue by account lists the account once.
        later = open_alert(desk, account)["alert_id"]
        page.locator("#twfin-alerts-view").get_by_text("依帳戶").click()
        by_account = page.locator("#twfin-alerts-accounts")
        expect(by_account).to_contain_text(account)
        expect(by_account).to_contain_text(f"#{later}")
        expect(grid).to_be_hidden()
    assert _state(desk, alert_id) == "dismissed"


def test_the_ring_line_says_which_walk_ranked_the_members() -> None:
    ring: dict[str, Any] = {"seed": "A1", "members": [{}], "considered": 9, "scored": True}
    alert = {"id": 7}
    assert "人頭分數加權" in alerts_panel.ring_summary(alert, ring, "zh")
    paths = {**ring, "walk": "paths"}
    assert "連結模型路徑機率" in alerts_panel.ring_summary(alert, paths, "zh")
    assert "path probability over the link model" in alerts_panel.ring_summary(alert, paths, "en")
    steps = {**paths, "steps": True}
    assert "連結與步進模型路徑機率" in alerts_panel.ring_summary(alert, steps, "zh")
    assert "link and step models" in alerts_panel.ring_summary(alert, steps, "en")
    judged = {**steps, "member_model": True}
    assert "成員模型判定" in alerts_panel.ring_summary(alert, judged, "zh")
    assert "judged by the member model" in alerts_panel.ring_summary(alert, judged, "en")
    assert "label-free" in alerts_panel.ring_summary(alert, {**ring, "scored": False}, "en")
