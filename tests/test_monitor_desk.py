"""The monitor through the fraud desk and the command line, on a real SQLite data dir: a batch
with a bad row reports it and keeps the rest, alerts persist and are confirmed or dismissed,
roles that may not use the monitor are refused and recorded, every decision is audited, and from
an alert the account's trace is one command away."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.container import Container
from assistant.errors import AssistantError, AuthError
from assistant.permissions import UserContext
from tests.cli_users import login_env
from tests.conftest import make_settings

INV = UserContext("inv", "fraud")
ROWS = [
    {
        "id": "A1",
        "ts": "2024-03-04T10:00:00",
        "from_account": "V1",
        "to_account": "MULE1",
        "amount": "150000",
    },
    {
        "id": "A2",
        "ts": "2024-03-04T10:05:00",
        "from_account": "V2",
        "to_account": "MULE1",
        "amount": "not-money",
    },
    {
        "id": "A3",
        "ts": "2024-03-04T10:20:00",
        "from_account": "MULE1",
        "to_account": "L1",
        "amount": "140000",
    },
    {
        "id": "A4",
        "ts": "2024-03-04T11:00:00",
        "from_account": "ALICE",
        "to_account": "SHOP",
        "amount": "450",
    },
]


@pytest.fixture
def c(tmp_path: Path) -> Iterator[Container]:
    container = Container(make_settings(tmp_path / "data"))
    yield container
    container.close()


def _last(c: Container):
    return c.audit.recent(1)[0].tool_calls[0]


def test_a_batch_with_a_bad_row_reports_it_and_keeps_the_rest(c: Container) -> None:
    desk = c.fraud_monitor_desk
    result = desk.score_batch(INV, enumerate(ROWS, start=2), source="test.csv")
    counts = result.counts()
    assert counts == {"rows": 4, "bad": 1, "pass": 2, "alert": 0, "hold": 1}
    assert result.errors == [{"row": 3, "reason": "金額錯誤 / bad amount: 'not-money'"}]
    held = [d for d in result.decisions if d["action"] == "hold"]
    assert [d["transfer_id"] for d in held] == ["A3"]
    assert held[0]["reasons"][0]["zh"].startswith("帳戶 MULE1 收到 NT$150,000")
    # the hold is in the queue, with its reasons and the rules version
    queue = desk.alerts(INV)
    assert [(a["id"], a["transfer_id"], a["account"], a["status"]) for a in queue] == [
        (result.alerts[0], "A3", "MULE1", "open")
    ]
    assert queue[0]["rules_version"] == "2026-12-06.1" and queue[0]["reasons"][0]["en"]
    batch = c.audit.recent(2)[1].tool_calls[0]  # before the listing
    assert batch["name"] == "fraud.monitor.batch"
    assert batch["args"]["bad_rows"] == [3] and batch["args"]["hold"] == 1


def test_alerts_persist_and_are_confirmed_or_dismissed_once(c: Container, tmp_path: Path) -> None:
    desk = c.fraud_monitor_desk
    desk.score_batch(INV, enumerate(ROWS, start=2))
    one = desk.score(
        INV,
        {
            "id": "B1",
            "ts": "2024-03-04T10:40:00",
            "from_account": "MULE1",
            "to_account": "L2",
            "amount": "9000",
        },
    )
    assert one["action"] == "hold" and one["alert_id"] is not None
    assert _last(c)["name"] == "fraud.monitor.score"
    first, second = sorted(a["id"] for a in desk.alerts(INV))
    done = desk.decide(INV, first, confirm=True, note="ring seen in trace")
    assert (done["status"], done["decided_by"], done["note"]) == (
        "confirmed",
        "inv",
        "ring seen in trace",
    )
    assert _last(c)["name"] == "fraud.monitor.confirm" and _last(c)["args"]["account"] == "MULE1"
    desk.decide(INV, second, confirm=False)
    with pytest.raises(AssistantError, match=r"已處理.*already dismissed"):
        desk.decide(INV, second, confirm=True)
    # stored: a second container on the same data dir sees the outcomes
    other = Container(make_settings(tmp_path / "data"))
    try:
        rows = other.fraud_monitor_desk.alerts(INV, status=None)
        assert sorted(a["status"] for a in rows) == ["confirmed", "dismissed"]
        assert other.fraud_monitor_desk.outcomes(INV)["pass_through_2h"] == {
            "confirmed": 1,
            "dismissed": 1,
            "precision": 0.5,
        }
    finally:
        other.close()


def test_the_queue_by_account_counts_each_accounts_alerts_and_rules(c: Container) -> None:
    desk = c.fraud_monitor_desk
    rows = [
        {"id": f"P{i}", "ts": f"2024-03-04T1{i}:00", "from_account": f"V{i}", "to_account": "MULE9",
         "amount": "200000"}
        for i in range(3)
    ] + [
        {"id": f"Q{i}", "ts": f"2024-03-04T1{i}:20", "from_account": "MULE9", "to_account": f"L{i}",
         "amount": "190000"}
        for i in range(3)
    ]  # fmt: skip
    rows.sort(key=lambda r: r["ts"])
    desk.score_batch(INV, enumerate(rows, start=2))
    listed = desk.alerts(INV, status=None, limit=500)
    groups = desk.alert_accounts(INV, status=None)
    assert _last(c)["name"] == "fraud.monitor.alert_accounts"
    assert sum(g["alerts"] for g in groups) == len(listed) > 0
    top = groups[0]
    mine = [a for a in listed if a["account"] == top["account"]]
    assert top["account"] == "MULE9" and top["alerts"] == len(mine)
    assert top["holds"] == sum(a["action"] == "hold" for a in mine)
    assert top["latest_id"] == max(a["id"] for a in mine)
    assert top["first"] <= top["last"] and top["max_amount"] == max(a["amount"] for a in mine)
    assert top["rules"] and all(n > 0 for n in top["rules"].values())
    assert list(top["rules"].values()) == sorted(top["rules"].values(), reverse=True)
    assert [g["alerts"] for g in groups] == sorted((g["alerts"] for g in groups), reverse=True)
    desk.decide(INV, top["latest_id"], confirm=False)
    assert desk.alert_accounts(INV)[0]["alerts"] == top["alerts"] - 1  # open ones only
    with pytest.raises(AuthError):
        desk.alert_accounts(UserContext("someone", "credit"))
    with pytest.raises(AssistantError, match="status"):
        desk.alert_accounts(INV, status="closed")


def test_an_accounts_alerts_are_decided_together_up_to_the_newest_seen(c: Container) -> None:
    desk = c.fraud_monitor_desk
    rows = [
        {"id": f"R{i}", "ts": f"2024-03-05T1{i}:{m}", "from_account": a, "to_account": b,
         "amount": amount}
        for i in range(3)
        for m, a, b, amount in (("00", f"W{i}", "MULE7", "200000"), ("20", "MULE7", f"K{i}", "190000"))
    ]  # fmt: skip
    desk.score_batch(INV, enumerate(rows, start=2))
    mine = sorted(a["id"] for a in desk.alerts(INV, limit=500) if a["account"] == "MULE7")
    assert len(mine) >= 2
    out = desk.decide_account(INV, "mule7", confirm=True, note="照會", up_to=mine[-2])
    assert out == {"account": "MULE7", "status": "confirmed", "decided": mine[:-1]}
    rec = _last(c)
    assert rec["name"] == "fraud.monitor.confirm_account"
    assert (rec["args"]["alert_ids"], rec["args"]["note"]) == (mine[:-1], "照會")
    left = [a for a in desk.alerts(INV, limit=500) if a["account"] == "MULE7"]
    assert [a["id"] for a in left] == mine[-1:]
    decided = desk.alerts(INV, status="confirmed", limit=500, account="MULE7")
    assert {a["decided_by"] for a in decided} == {INV.name}
    out = desk.decide_account(INV, "MULE7", confirm=False)
    assert out["decided"] == mine[-1:] and out["status"] == "dismissed"
    with pytest.raises(AssistantError, match="沒有待處理的警示 / account MULE7 has no open alerts"):
        desk.decide_account(INV, "MULE7", confirm=False)
    with pytest.raises(AuthError):
        desk.decide_account(UserContext("someone-fx", "fx"), "MULE7", confirm=True)
    assert _last(c)["name"] == "access_denied"


def test_roles_that_may_not_use_the_monitor_are_refused_and_recorded(c: Container) -> None:
    desk = c.fraud_monitor_desk
    for role in ("credit", "fx", "compliance", "auditor"):
        user = UserContext(f"someone-{role}", role)
        with pytest.raises(AuthError):
            desk.score_batch(user, enumerate(ROWS))
        assert _last(c)["name"] == "access_denied"
        with pytest.raises(AuthError):
            desk.alerts(user)
        with pytest.raises(AuthError):
            desk.set_rules(user, {"version": "x"})
    assert desk.alerts(INV) == []  # nothing was scored for them
    assert c.audit.verify().ok


def test_a_rules_change_is_an_audited_decision_with_a_version(c: Container) -> None:
    desk = c.fraud_monitor_desk
    doc = desk.rules(INV)
    doc.pop("history")
    doc["version"] = "2026-12-07.1"
    for r in doc["rules"]:
        if r["kind"] == "watchlist":
            r["params"]["accounts"] = ["SCAM001"]
    out = desk.set_rules(INV, doc, note="165 list of the week")
    assert out == {"from": "2026-12-06.1", "to": "2026-12-07.1", "changes": ["~watchlist"]}
    rec = _last(c)
    assert rec["name"] == "fraud.monitor.rules_change" and rec["args"]["from"] == "2026-12-06.1"
    assert rec["args"]["to"] == "2026-12-07.1" and rec["args"]["note"] == "165 list of the week"
    d = desk.score(
        INV,
        {
            "id": "W1",
            "ts": "2024-03-05T09:00",
            "from_account": "BOB",
            "to_account": "SCAM001",
            "amount": "3000",
        },
    )
    assert d["action"] == "hold" and d["rules_version"] == "2026-12-07.1"
    with pytest.raises(AssistantError, match=r"已存在.*rules version 2026-12-07\.1 exists"):
        desk.set_rules(INV, doc)
    bad = {**doc, "version": "2026-12-07.1", "rules": [{"id": "x", "kind": "magic"}]}
    with pytest.raises(AssistantError, match="unknown kind"):
        desk.set_rules(INV, bad)
    history = [h["version"] for h in desk.rules(INV)["history"]]
    assert history == ["2026-12-07.1"]


def test_an_engine_switch_reaches_the_monitor_desk(c: Container) -> None:
    """The monitor's trace from an alert runs on the engine the command chose, like the fraud
    desk's own (the Spark service is only built here: no session starts)."""
    assert c.fraud_monitor_desk._fraud is c.fraud
    local = c.fraud
    c.use_fraud_engine("spark")
    assert c.fraud is not local and c.fraud_monitor_desk._fraud is c.fraud


def run(data: Path, *args: str, role: str = "fraud") -> tuple[int, str]:
    env = login_env(data, role)
    result = CliRunner().invoke(cli, ["--data-dir", str(data), *args], env=env)
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_cli_monitor_a_csv_then_the_alert_queue_and_the_trace_of_an_alert(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = run(
        data,
        "fraud",
        "generate",
        "--accounts",
        "300",
        "--transfers",
        "3000",
        "--rings",
        "2",
        "--days",
        "10",
        "--json",
    )
    assert code == 0, out
    feed = tmp_path / "feed.csv"
    with feed.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(ROWS[0]))
        w.writeheader()
        w.writerows(ROWS)
    code, out = run(data, "fraud", "monitor", str(feed), "--json")
    assert code == 0, out
    got = json.loads(out)
    assert (got["rows"], got["bad"], got["hold"]) == (4, 1, 1)
    assert got["errors"][0]["row"] == 3
    code, out = run(data, "fraud", "monitor", str(feed))
    assert code == 0 and "line 3: 金額錯誤" in out and "快進快出" in out
    # the queue on the console shows the transfer's time as the feed wrote it (Taiwan time),
    # not the database's UTC
    held = next(d for d in got["decisions"] if d["action"] == "hold")
    assert held["ts"].endswith("+08:00")
    code, out = run(data, "fraud", "alerts", "--limit", "50")
    line = next(x for x in out.splitlines() if f"({held['transfer_id']}," in x)
    assert held["ts"][:16].replace("T", " ") in line, line
    # the stored ledger replayed in time order: its planted rings raise alerts
    code, out = run(data, "fraud", "monitor", "--ledger", "--json")
    assert code == 0, out
    replay = json.loads(out)
    assert replay["rows"] == 3000 and replay["hold"] > 0 and replay["alert_ids"]
    code, out = run(data, "fraud", "alerts", "--limit", "3", "--json")
    assert code == 0 and len(json.loads(out)) == 3
    alert_id = replay["alert_ids"][0]
    code, out = run(data, "fraud", "alerts", "trace", str(alert_id), "--hops", "2", "--json")
    assert code == 0, out
    traced = json.loads(out)
    assert (
        traced["alert"]["id"] == alert_id and traced["trace"]["root"] == traced["alert"]["account"]
    )
    code, out = run(data, "fraud", "alerts", "confirm", str(alert_id), "--note", "mule")
    assert code == 0 and f"#{alert_id} confirmed" in out
    code, out = run(data, "fraud", "alerts", "list", "--status", "confirmed", "--json")
    assert [a["id"] for a in json.loads(out)] == [alert_id]
    # an account's open alerts at once, up to the newest looked at
    code, out = run(data, "fraud", "alerts", "accounts", "--limit", "1", "--json")
    busiest = json.loads(out)[0]
    code, out = run(
        data, "fraud", "alerts", "dismiss-account", busiest["account"], "--up-to",
        str(busiest["latest_id"]), "--note", "正常往來",
    )  # fmt: skip
    assert code == 0 and f"帳戶 account {busiest['account']}：{busiest['alerts']} 則警示" in out
    assert f"#{busiest['latest_id']})" in out
    code, out = run(data, "fraud", "alerts", "confirm-account", busiest["account"])
    assert code == 1 and "has no open alerts" in out
    # the queue by account, on the console: the most alerted account first, its rules counted
    code, out = run(data, "fraud", "alerts", "accounts", "--limit", "5")
    assert code == 0, out
    first = out.splitlines()[0]
    assert "筆警示 alerts" in first and "暫停 holds" in first and "×" in first, first
    # another role: refused, nothing listed
    code, out = run(data, "fraud", "alerts", role="credit")
    assert code != 0 and "fraud.read" in out
    code, out = run(data, "fraud", "monitor", role="fraud")
    assert code != 0 and "擇一" in out


def test_cli_follow_reads_complete_lines_as_they_come(tmp_path: Path) -> None:
    data = tmp_path / "data"
    feed = tmp_path / "tail.csv"
    lines = ["id,ts,from_account,to_account,amount"] + [
        f"{r['id']},{r['ts']},{r['from_account']},{r['to_account']},{r['amount']}" for r in ROWS
    ]
    # the last line is still being written: no newline yet, so it is not read
    feed.write_text("\n".join(lines) + "\nA5,2024-03-04T11:01:00,BOB,SH", encoding="utf-8")
    code, out = run(
        data,
        "fraud",
        "monitor",
        str(feed),
        "--follow",
        "--interval",
        "0.05",
        "--idle-exit",
        "0.2",
        "--json",
    )
    assert code == 0, out
    got = json.loads(out)
    assert (got["rows"], got["bad"], got["hold"], got["pass"]) == (4, 1, 1, 2)


def test_a_warm_start_knows_the_ledger_payees(tmp_path: Path) -> None:
    """Warmed on the stored ledger, the monitor has each account's state; nothing is alerted
    while warming, and the warm-up is audited."""
    c = Container(make_settings(tmp_path / "data"))
    try:
        from datetime import date

        c.fraud_desk.generate(
            INV, accounts=300, transfers=3000, seed=1, start=date(2024, 1, 1), days=10, rings=1
        )
        n = c.fraud_monitor_desk.warm(INV, days=3)
        assert 0 < n < 3000
        assert _last(c)["name"] == "fraud.monitor.warm" and _last(c)["args"]["days"] == 3
        assert c.fraud_monitor.monitor().seen == n
        assert c.fraud_monitor_desk.alerts(INV, status=None) == []
    finally:
        c.close()


def test_a_feed_with_a_banks_own_header_is_read_by_its_names(tmp_path: Path) -> None:
    """交易序號, 交易日期 + 交易時間, 轉出帳號 …: the columns told from the header as the ledger
    import tells them, in a file and in a followed file alike; a header that names no amount
    is refused with what it lacks."""
    data = tmp_path / "data"
    # a payment-type column (type: ONLINE) is not a kind to a feed: its rows stay transfers
    lines = ["交易序號,交易日期,交易時間,轉出帳號,轉入帳號,交易金額,type"] + [
        f"{r['id']},{r['ts'][:10]},{r['ts'][11:]},{r['from_account']},{r['to_account']},"
        f"{r['amount']},ONLINE"
        for r in ROWS
    ]
    feed = tmp_path / "銀行.csv"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for extra in ([], ["--follow", "--interval", "0.05", "--idle-exit", "0.2"]):
        code, out = run(data / str(len(extra)), "fraud", "monitor", str(feed), *extra, "--json")
        assert code == 0, out
        got = json.loads(out)
        assert (got["rows"], got["bad"], got["hold"], got["pass"]) == (4, 1, 1, 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("交易序號,交易時間,轉出帳號,轉入帳號\nX,2024-03-04,A,B\n", encoding="utf-8")
    code, out = run(data / "0", "fraud", "monitor", str(bad))
    assert code == 1 and "the CSV header lacks amount" in out
