"""`assistant fraud …` as an investigator scripts it, on real SQLite files and the real AMLSim
sample: import, generate, trace with evidence export, clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import AssistantError
from tests.cli_users import login_env
from tests.conftest import SHARED, make_settings

USD_BOARD = "bot_usd_rates_20141001_20170930.csv"


def run(data: Path, *args: str, role: str = "fraud") -> tuple[int, str]:
    env = login_env(data, role) if role else {}
    result = CliRunner().invoke(cli, ["--data-dir", str(data), *args], env=env)
    return result.exit_code, result.stdout if "--json" in args else result.output


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("fraud")
    code, out = run(
        data,
        "fraud",
        "generate",
        "--accounts",
        "3000",
        "--transfers",
        "30000",
        "--rings",
        "6",
        "--days",
        "30",
        "--json",
    )
    assert code == 0, out
    assert json.loads(out)["transfers"] == 30000
    return data


def _query_one(data: Path, sql: str) -> str:
    """One value from the database the CLI wrote for this data dir (SQLite or PostgreSQL)."""
    from sqlalchemy import text

    from assistant.db import make_engine

    engine = make_engine(make_settings(data).database_url)
    try:
        with engine.connect() as db:
            return db.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def _transfers(data: Path, ids: tuple[str, ...]) -> dict[str, tuple[object, ...]]:
    """(amount, currency, orig_amount, orig_currency) per transfer id, as stored."""
    from sqlalchemy import bindparam, text

    from assistant.db import make_engine

    engine = make_engine(make_settings(data).database_url)
    try:
        with engine.connect() as db:
            got = db.execute(
                text(
                    "SELECT id, amount, currency, orig_amount, orig_currency FROM fraud_transfer "
                    "WHERE id IN :ids"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": list(ids)},
            ).all()
    finally:
        engine.dispose()
    return {r[0]: tuple(r[1:]) for r in got}


def _mule(data: Path) -> str:
    return _query_one(
        data, "SELECT id FROM fraud_account WHERE pattern LIKE '%/mule' ORDER BY id LIMIT 1"
    )


def test_upstream_trace_finds_the_victims_in_time_order(ledger_dir: Path, tmp_path: Path) -> None:
    mule = _mule(ledger_dir)
    evidence = tmp_path / "evidence.csv"
    code, out = run(
        ledger_dir,
        "fraud",
        "trace",
        mule,
        "--direction",
        "up",
        "--hops",
        "2",
        "--json",
        "--csv",
        str(evidence),
    )
    assert code == 0, out
    result = json.loads(out)
    assert result["root"] == mule and result["direction"] == "up"
    hop1 = [t for t in result["transfers"] if t["hop"] == 1]
    assert len({t["from"] for t in hop1}) >= 3  # a mule is paid by several victims
    assert all(t["to"] == mule for t in hop1)
    # Evidence: one row per transfer, ids included, as the JSON says.
    rows = list(csv.DictReader(evidence.open(encoding="utf-8-sig")))
    assert {r["transfer_id"] for r in rows} == {t["id"] for t in result["transfers"]}


def test_downstream_trace_is_time_respecting(ledger_dir: Path) -> None:
    code, out = run(ledger_dir, "fraud", "trace", _mule(ledger_dir), "--hops", "3", "--json")
    assert code == 0, out
    result = json.loads(out)
    by_to: dict[str, list[dict]] = {}
    for t in result["transfers"]:
        by_to.setdefault(t["to"], []).append(t)
    for t in result["transfers"]:
        if t["hop"] > 1:
            fed = [f for f in by_to.get(t["from"], []) if f["hop"] == t["hop"] - 1]
            assert fed and min(f["ts"] for f in fed) <= t["ts"]


def test_errors_are_clear(ledger_dir: Path) -> None:
    code, out = run(ledger_dir, "fraud", "trace", "0000-000-000000")
    assert code == 1 and "unknown account" in out
    code, out = run(ledger_dir, "fraud", "trace", _mule(ledger_dir), "--since", "113/02/30")
    assert code == 1 and "no such date" in out
    code, out = run(ledger_dir, "fraud", "trace", _mule(ledger_dir), "--hops", "9")
    assert code == 2


def test_amlsim_and_csv_imports(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = run(
        data, "fraud", "import-amlsim", str(SHARED / "aml" / "amlsim_fanin200"), "--json"
    )
    assert code == 0, out
    assert json.loads(out)["added"] == 118_250
    transfers = tmp_path / "t.csv"
    transfers.write_text(
        "交易序號,交易時間,轉出帳號,轉入帳號,金額\n"
        'X1,2024-03-01 10:00:00,822-1234567890123,004-0000111122223,"50,000"\n'
        "X2,not a time,822-1234567890123,004-0000111122223,100\n",
        encoding="utf-8",
    )
    code, out = run(
        data,
        "fraud",
        "import-csv",
        str(transfers),
        "--map",
        "id=交易序號",
        "--map",
        "ts=交易時間",
        "--map",
        "from_account=轉出帳號",
        "--map",
        "to_account=轉入帳號",
        "--map",
        "amount=金額",
        "--json",
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["added"] == 1 and [e["line"] for e in report["errors"]] == [3]
    code, out = run(data, "fraud", "trace", "8221234567890123", "--json")
    assert code == 0 and json.loads(out)["transfers"][0]["id"] == "X1"
    code, out = run(data, "fraud", "import-csv", str(transfers), "--map", "nonsense")
    assert code == 1 and "field=column" in out
    # a simulator's step column, read as hours from --start
    steps = tmp_path / "steps.csv"
    steps.write_text("step,nameOrig,nameDest,amount\n3,C1,C2,10\n", encoding="utf-8")
    code, out = run(data, "fraud", "import-csv", str(steps), "--step-unit", "hour", "--json")
    assert code == 0 and json.loads(out)["time"].startswith("step × 1 hour from 2024-01-01")
    code, out = run(data, "fraud", "trace", "C1", "--direction", "down", "--json")
    assert json.loads(out)["transfers"][0]["ts"] == "2024-01-01T03:00:00+08:00"
    code, out = run(
        data, "fraud", "import-csv", str(steps), "--step-unit", "hour", "--start", "someday"
    )
    assert code == 1 and "步數起點時間錯誤 / bad start of the steps 'someday'" in out


def test_train_score_and_eval_commands(ledger_dir: Path) -> None:
    # No model of its own yet: the reference scorer scores, and says so.
    code, out = run(ledger_dir, "fraud", "score", "--top", "3")
    assert code == 0 and "參考模型" in out and "reference model" in out, out
    # Without the reference, the ledger is not scored and the message says what to do.
    env = {**login_env(ledger_dir, "fraud"), "ASSISTANT_FRAUD_USE_REFERENCE": "false"}
    result = CliRunner().invoke(
        cli, ["--data-dir", str(ledger_dir), "fraud", "score", "--top", "3"], env=env
    )
    assert result.exit_code == 1 and "assistant fraud train" in result.output
    code, out = run(ledger_dir, "fraud", "train", "--json")
    assert code == 0, out
    assert json.loads(out)["fraud"] > 0
    code, out = run(ledger_dir, "fraud", "score", _mule(ledger_dir), "--json")
    assert code == 0, out
    scored = json.loads(out)
    assert scored["score"] > 0.5 and scored["reasons"][0]["zh"]
    assert scored["model"]["kind"] == "local"  # the bank's own model takes precedence
    code, out = run(ledger_dir, "fraud", "score", "--top", "3", "--json")
    assert code == 0 and len(json.loads(out)) == 3


def test_proposals_are_listed_and_decided_from_the_cli(ledger_dir: Path) -> None:
    from assistant.container import Container
    from tests.conftest import make_settings

    # a mule not yet flagged: flagging a 警示 account again is refused
    mule = _query_one(
        ledger_dir,
        "SELECT id FROM fraud_account WHERE pattern LIKE '%/mule' AND status = 'normal' "
        "ORDER BY id LIMIT 1",
    )
    c = Container(make_settings(ledger_dir))
    try:
        investigator = c.users.ensure("cli-investigator", "fraud")
        proposal = c.fraud_desk.propose(investigator, "flag", mule, reason="test")
    finally:
        c.close()
    code, out = run(ledger_dir, "fraud", "actions", "--status", "proposed", "--json")
    assert code == 0 and proposal["id"] in [a["id"] for a in json.loads(out)]
    code, out = run(
        ledger_dir, "fraud", "reject", str(proposal["id"]), "--note", "查無被害", "--json"
    )
    assert code == 0, out
    decided = json.loads(out)
    assert decided["status"] == "rejected" and decided["note"] == "查無被害"
    code, out = run(ledger_dir, "fraud", "confirm", str(proposal["id"]))
    assert code == 1 and "已駁回" in out
    code, out = run(ledger_dir, "fraud", "confirm", "424242")
    assert code == 1 and "沒有這個待辦動作" in out


def test_a_trace_needs_a_user_the_right_role_and_is_audited(ledger_dir: Path) -> None:
    """Who looked at which account, and who was refused, as a regulator asks."""
    from assistant.container import Container

    account = _query_one(ledger_dir, "SELECT from_account FROM fraud_transfer LIMIT 1")
    before = _query_one(ledger_dir, "SELECT count(*) FROM audit_record")
    # No user: a clear message, Chinese first, and nothing written.
    code, out = run(ledger_dir, "fraud", "trace", account, role="")
    assert code == 1 and "需要登入" in out and "needs a user" in out
    assert _query_one(ledger_dir, "SELECT count(*) FROM audit_record") == before
    # A wrong password is refused as such.
    bad = CliRunner().invoke(
        cli,
        ["--data-dir", str(ledger_dir), "fraud", "trace", account],
        env={"ASSISTANT_USER": "cli-fraud", "ASSISTANT_PASSWORD": "not-the-password"},
    )
    assert bad.exit_code == 1 and "密碼錯誤" in bad.output
    # A compliance officer may not read the ledger: refused, and the refusal is on the trail.
    code, out = run(ledger_dir, "fraud", "trace", account, role="compliance")
    assert code == 1 and "fraud.read" in out
    # The investigator traces, through a login session this time (`assistant login`).
    code, out = run(ledger_dir, "fraud", "trace", account, "--hops", "2", "--json")
    assert code == 0, out
    code, out = run(ledger_dir, "audit", "list", "--limit", "5", "--json", role="auditor")
    assert code == 0, out
    records = json.loads(out)
    traced = [r for r in records if r["question"].startswith("fraud.trace")]
    denied = [r for r in records if r["question"].startswith("access_denied")]
    assert traced and traced[0]["user_name"] == "cli-fraud" and account in traced[0]["question"]
    assert denied and denied[0]["user_name"] == "cli-compliance"
    assert "fraud.read" in denied[0]["question"]
    c = Container(make_settings(ledger_dir))
    try:
        assert c.audit.verify().ok
    finally:
        c.close()


def test_login_session_acts_as_the_user_until_logout(ledger_dir: Path, tmp_path: Path) -> None:
    from tests.cli_users import PASSWORD, add_user

    name = add_user(ledger_dir, "fraud")
    env = {"ASSISTANT_UI_CLI_SESSION_FILE": str(tmp_path / "sessions.json")}
    base = ["--data-dir", str(ledger_dir)]
    login = CliRunner().invoke(
        cli, [*base, "login", "--user", name, "--password-stdin"], input=PASSWORD + "\n", env=env
    )
    assert login.exit_code == 0 and "已登入" in login.output, login.output
    assert (tmp_path / "sessions.json").stat().st_mode & 0o077 == 0  # this OS user's only
    who = CliRunner().invoke(cli, [*base, "whoami", "--json"], env=env)
    assert json.loads(who.output) == {"user": name, "role": "fraud"}
    status = CliRunner().invoke(cli, [*base, "fraud", "actions", "--json"], env=env)
    assert status.exit_code == 0, status.output
    out = CliRunner().invoke(cli, [*base, "logout"], env=env)
    assert "已登出" in out.output
    after = CliRunner().invoke(cli, [*base, "fraud", "actions"], env=env)
    assert after.exit_code == 1 and "需要登入" in after.output


def test_amounts_in_another_currency_are_stored_in_nt_at_the_days_board_rate(
    tmp_path: Path,
) -> None:
    """The FX desk's board rates (the Bank of Taiwan's real USD board, 2014–2017) value a
    ledger's USD transfers in NT$ at the mid of their day's spot quote, the file's amount and
    currency kept beside; a rate staff give (--rate) serves a currency the board lacks; a day
    the board does not reach within a week, and a currency with no rate, stay as they were and
    are counted in the report."""
    data = tmp_path / "data"
    from assistant.container import Container
    from assistant.permissions import UserContext

    inv = UserContext("inv", "fraud", None)
    usd = {"ts": "2017-09-29 14:00", "from_account": "FXA1", "to_account": "FXB1"}
    usd |= {"amount": "10", "currency": "USD"}
    monitor = Container(make_settings(data))
    with pytest.raises(AssistantError, match="no NT\\$ rate for USD on 2017-09-29"):
        monitor.fraud_monitor_desk.score(inv, {**usd, "id": "FXM1"})  # no board yet
    code, out = run(data, "fx", "import-rates", str(SHARED / "fx" / USD_BOARD), "--json", role="")
    assert code == 0, out
    f = tmp_path / "fx_transfers.csv"
    f.write_text(
        "交易序號,交易時間,轉出帳號,轉入帳號,金額,幣別\n"
        "FX1,2017-09-29 10:00,FXA1,FXB1,1000,USD\n"
        "FX2,2017-09-30 23:30,FXA1,FXB1,100,美金\n"
        "FX3,2017-10-20 10:00,FXA1,FXB1,100,USD\n"
        "FX4,2017-09-29 11:00,FXA1,FXB1,100,EUR\n"
        "FX5,2017-09-29 12:00,FXA1,FXB1,500,\n"
        "FX6,2017-09-29 13:00,FXA1,FXB1,2,JPY\n",
        encoding="utf-8",
    )
    code, out = run(data, "fraud", "import-csv", str(f), "--rate", "EUR=35.5", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["added"] == 6 and report["converted"] == {"USD": 2, "EUR": 1}
    assert report["currencies"] == {"USD": 3, "EUR": 1, "TWD": 1, "JPY": 1}
    unconverted = {k: v for k, v in report["noted"].items() if "no rate for" in k}
    assert sorted(unconverted.values()) == [1, 1]
    assert any("no rate for USD" in k for k in unconverted)
    assert any("no rate for JPY" in k for k in unconverted)
    rows = _transfers(data, ("FX1", "FX2", "FX3", "FX4", "FX5", "FX6"))
    # 2017-09-29 spot: 30.265 / 30.365 → 30.315; 2017-09-30 (Taiwan time): 30.21 / 30.31 → 30.26
    assert rows["FX1"] == (30315.0, "TWD", 1000.0, "USD")
    assert rows["FX2"] == (3026.0, "TWD", 100.0, "USD")
    assert rows["FX3"] == (100.0, "USD", None, None)  # the board ends 20 days before
    assert rows["FX4"] == (3550.0, "TWD", 100.0, "EUR")
    assert rows["FX5"] == (500.0, "TWD", None, None)
    assert rows["FX6"] == (2.0, "JPY", None, None)
    # the evidence table of a trace says what the file gave beside the NT$ amount
    evidence = tmp_path / "evidence.csv"
    code, out = run(
        data, "fraud", "trace", "FXA1", "--direction", "down", "--hops", "1", "--csv", str(evidence)
    )
    assert code == 0, out
    with evidence.open(encoding="utf-8-sig") as fh:
        table = {r["transfer_id"]: r for r in csv.DictReader(fh)}
    assert (table["FX1"]["amount"], table["FX1"]["orig_amount"]) == ("30315.0", "1000.0")
    assert (table["FX1"]["orig_currency"], table["FX5"]["orig_currency"]) == ("USD", "")
    # and so does the assistant's answer (the evidence rows read through the desk)
    from agents.fraud.nodes import _compose, _with_evidence

    container = Container(make_settings(data))
    try:
        trace = container.fraud_desk.trace(inv, "FXA1", "down", 1)
        shown = _with_evidence(container.fraud_desk, inv, trace.to_dict())
    finally:
        container.close()
    text = _compose({"traces": [shown]}, english=False)  # type: ignore[typeddict-item]
    assert "30,315（USD 1,000.00）" in text and "3,550（EUR 100.00）" in text
    # the running monitor (started before the board was imported) values a USD transfer on
    # arrival with the same board, through its desk
    try:
        decided = monitor.fraud_monitor_desk.score(inv, {**usd, "id": "FXM2"})
    finally:
        monitor.close()
    assert decided["amount"] == 303.15
    # a rate that is not a positive number is refused before anything is read
    code, out = run(data, "fraud", "import-csv", str(f), "--rate", "EUR=0")
    assert code == 1 and "CUR=NT$ per unit" in out
