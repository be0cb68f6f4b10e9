"""The transfer monitor's state outlives the process: a monitor that scored, closed and was
opened again decides the next transfers exactly as one that never stopped (rules that look back,
and the anomaly model's scores); periodic saves are there after a crash; a damaged snapshot is
set aside and the monitor starts cold with a warning; a snapshot of other rules keeps its
accounts; the server's warm at start builds the state from the ledger, through the desk and
recorded, and a transfer scored during a warm waits for it. Real SQLite data folders, real
river models, real threads."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from assistant.cli_chat import start_lines
from assistant.container import Container
from assistant.monitor.state import FILE_NAME
from assistant.monitor.transfers import Transfer
from assistant.permissions import UserContext
from tests.conftest import make_settings

INV = UserContext("inv", "fraud")
T0 = int(datetime(2024, 3, 4, 1, 0, tzinfo=UTC).timestamp())  # 09:00 Taiwan time
MIN, HOUR = 60, 3600
SERVICE = "assistant.monitor.service"


def _container(data: Path, **monitor: object) -> Container:
    return Container(make_settings(data, monitor=monitor) if monitor else make_settings(data))


def _fast_model(c: Container) -> None:
    """The product's rules with an anomaly model that scores after 200 transfers (the product's
    waits for 2,000), so the model's scores are compared too."""
    desk = c.fraud_monitor_desk
    doc = desk.rules(INV)
    doc.pop("history")
    doc["version"] = "test-fast-model"
    doc["anomaly"].update(warmup=200, window_size=100)
    desk.set_rules(INV, doc)


def _stream() -> tuple[list[Transfer], list[Transfer]]:
    """Ordinary daytime payments, with the first halves of three patterns before the cut and
    their second halves after it: each fires only for a monitor that remembers the first."""
    before: list[Transfer] = []
    for i in range(400):
        ts = T0 + (i // 40) * 86400 + (i % 40) * 10 * MIN
        before.append(Transfer(f"N{i}", ts, f"C{i % 60}", f"SHOP{i % 7}", 300.0 + (i % 13) * 150))
    end = before[-1].ts
    # four new payees for PAYER within the day, the fifth comes after the restart
    before += [
        Transfer(f"P{k}", end + k * MIN, "PAYER", f"NEWPAYEE{k}", 1_000.0) for k in range(1, 5)
    ]
    # money in to MULE; out again minutes after the restart
    before.append(Transfer("IN1", end + 10 * MIN, "VICTIM", "MULE", 180_000.0))
    after = [
        Transfer("P5", end + 20 * MIN, "PAYER", "NEWPAYEE5", 1_000.0),
        Transfer("OUT1", end + 25 * MIN, "MULE", "LAYER", 175_000.0),
    ]
    for i in range(60):
        ts = end + HOUR + i * 5 * MIN
        after.append(Transfer(f"M{i}", ts, f"C{i % 60}", f"SHOP{i % 7}", 300.0 + (i % 11) * 170))
    after.append(Transfer("ODD", end + 19 * HOUR, "C5", "NEVERSEEN", 2_900_000.0))
    return before, after


def _decisions(c: Container, transfers: list[Transfer]) -> list[dict]:
    result = c.fraud_monitor_desk.score_batch(INV, enumerate(transfers, start=1))
    return [{k: v for k, v in d.items() if k != "latency_ms"} for d in result.decisions]


def never_stopped(data: Path) -> list[dict]:
    """What a monitor that never stopped decides on the stream's second half."""
    before, after = _stream()
    never = _container(data)
    try:
        _fast_model(never)
        _decisions(never, before)
        return _decisions(never, after)
    finally:
        never.close()


def test_a_restarted_monitor_decides_as_one_that_never_stopped(tmp_path: Path) -> None:
    before, after = _stream()
    expected = never_stopped(tmp_path / "never")

    first = _container(tmp_path / "restart")
    try:
        _fast_model(first)
        _decisions(first, before)
    finally:
        first.close()  # a clean stop writes the snapshot
    assert (tmp_path / "restart" / "fraud" / FILE_NAME).is_file()
    second = _container(tmp_path / "restart")
    try:
        got = _decisions(second, after)
        assert second.fraud_monitor.restored()
        assert second.fraud_monitor.monitor().seen == len(before) + len(after)
    finally:
        second.close()

    assert got == expected
    fired = {d["transfer_id"]: {r["rule"] for r in d["reasons"]} for d in got}
    assert "new_payees_24h" in fired["P5"]  # the four new payees before the restart counted
    assert "pass_through_2h" in fired["OUT1"]  # the money in before the restart remembered
    assert any(d["score"] > 0 for d in got)  # the model's scores, equal to the last digit

    # the same transfers on a monitor without the history: none of it fires
    cold = _container(tmp_path / "cold", persist=False)
    try:
        _fast_model(cold)
        blank = {d["transfer_id"]: d for d in _decisions(cold, after)}
    finally:
        cold.close()
    assert blank["P5"]["action"] == "pass" and blank["OUT1"]["action"] == "pass"
    assert not (tmp_path / "cold" / "fraud" / FILE_NAME).exists()


def test_saves_while_scoring_survive_a_crash_and_a_second_process_does_not_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every 100 transfers a save; the process then dies without closing. Another process on
    the folder starts from the last save, and while the first one holds the file it reads it
    and never writes it back."""
    before, _ = _stream()
    data = tmp_path / "data"
    running = _container(data, save_every=100, save_every_s=0)
    try:
        for k in range(0, 250, 50):
            _decisions(running, before[k : k + 50])
            running.fraud_monitor.wait_saved()  # the save runs beside the scoring call
        path = data / "fraud" / FILE_NAME
        assert path.is_file()
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
        # what a crash leaves: the saves made so far, the process never closed
        with caplog.at_level(logging.WARNING, logger=SERVICE):
            other = _container(data)
            try:
                # the last save (200) and the owner's journal since (50)
                assert other.fraud_monitor.monitor().seen == 250
                saved = path.read_bytes()
                _decisions(other, before[250:260])
            finally:
                other.close()
        assert path.read_bytes() == saved  # the owner's file, untouched by the other process
        assert "另一個程序持有監控狀態檔" in caplog.text and "another process owns" in caplog.text
    finally:
        running.close()
    reopened = _container(data)
    try:
        assert reopened.fraud_monitor.monitor().seen == 250  # the owner's clean stop
    finally:
        reopened.close()


@pytest.mark.parametrize(
    "damage",
    ["cut", "not_gzip", "other_format", "newer_version", "missing_field"],
)
def test_a_damaged_snapshot_is_set_aside_and_the_monitor_starts_cold(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    before, after = _stream()
    data = tmp_path / "data"
    c = _container(data)
    try:
        _decisions(c, before)
    finally:
        c.close()
    path = data / "fraud" / FILE_NAME
    good = path.read_bytes()
    doc = json.loads(gzip.decompress(good))
    bad = {
        "cut": good[: len(good) // 2],  # a write that stopped half-way, had it not been atomic
        "not_gzip": b"\x00\x01 not a snapshot",
        "other_format": gzip.compress(json.dumps({"format": "something", "version": 1}).encode()),
        "newer_version": gzip.compress(json.dumps({**doc, "version": 99}).encode()),
        "missing_field": gzip.compress(
            json.dumps({k: v for k, v in doc.items() if k != "accounts"}).encode()
        ),
    }[damage]
    path.write_bytes(bad)

    with caplog.at_level(logging.WARNING, logger=SERVICE):
        c = _container(data)
        try:
            got = {d["transfer_id"]: d for d in _decisions(c, after)}
            assert not c.fraud_monitor.restored()
            assert c.fraud_monitor.monitor().seen == len(after)  # cold, then these
        finally:
            c.close()
    assert got["OUT1"]["action"] == "pass"  # no memory of the money in
    warning = next(r.getMessage() for r in caplog.records if "監控由零開始" in r.getMessage())
    zh, en = warning.index("監控由零開始"), warning.index("the monitor starts cold")
    assert zh < en  # Chinese first, then English
    kept = [p for p in path.parent.iterdir() if p.name.startswith(FILE_NAME + ".bad-")]
    assert len(kept) == 1 and kept[0].read_bytes() == bad
    assert kept[0].name in warning
    # and the clean stop wrote a good snapshot of the cold run
    reopened = _container(data)
    try:
        assert reopened.fraud_monitor.restored()
        assert reopened.fraud_monitor.monitor().seen == len(after)
    finally:
        reopened.close()


def test_a_snapshot_of_other_rules_keeps_its_accounts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rules changed while the server was down: the accounts are kept (a rule change on a
    running monitor keeps them too), the anomaly model only if its settings are the same."""
    before, after = _stream()
    data = tmp_path / "data"
    c = _container(data)
    try:
        _decisions(c, before)
    finally:
        c.close()
    c = _container(data)
    try:
        _fast_model(c)  # a new version, with other anomaly settings, before the monitor loads
        with caplog.at_level(logging.WARNING, logger=SERVICE):
            got = {d["transfer_id"]: d for d in _decisions(c, after)}
        assert got["OUT1"]["action"] == "hold" and got["OUT1"]["rules_version"] == "test-fast-model"
        assert "2026-12-06.1" in caplog.text and "test-fast-model" in caplog.text
        assert "保留帳戶狀態" in caplog.text and "the account state is kept" in caplog.text
        assert "模型重新學習" in caplog.text and "starts learning again" in caplog.text
    finally:
        c.close()


def test_the_server_start_warms_from_the_ledger_through_the_desk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    c = _container(data, warm_days=3)
    try:
        c.fraud_desk.generate(
            INV, accounts=300, transfers=3000, seed=1, start=date(2024, 1, 1), days=10, rings=1
        )
        lines: list[int] = []
        n = c.start_monitor(lines.append).warmed
        assert n is not None and 0 < n < 3000
        rec = c.audit.recent(1)[0]
        call = rec.tool_calls[0]
        assert rec.user_name == "system-monitor" and rec.user_role == "fraud"
        assert call["name"] == "fraud.monitor.warm" and call["summary"] == f"{n} 筆 transfers"
        assert call["args"] == {"source": "ledger", "days": 3, "only_cold": True}
        assert c.fraud_monitor.monitor().seen == n and len(c.fraud_monitor.monitor().accounts) > 50
        assert c.fraud_monitor_desk.alerts(INV, status=None) == []  # a warm raises no alert
        assert c.users.authenticate("system-monitor", "") is None  # nobody logs in as it
        # a warm is written at once: a crash right after it does not throw it away
        assert (data / "fraud" / FILE_NAME).is_file()
    finally:
        c.close()
    again = _container(data, warm_days=3)
    try:
        got = again.start_monitor()  # the saved state, no second warm, nothing new to catch up
        assert got.restored and got.warmed is None
        assert got.caught_up is not None and got.caught_up.counts()["rows"] == 0
        assert again.fraud_monitor.monitor().seen == n
        warm, catch = (r.tool_calls[0] for r in reversed(again.audit.recent(2)))
        assert warm["name"] == "fraud.monitor.warm"
        assert "started from the saved state" in warm["summary"]
        assert catch["name"] == "fraud.monitor.catch_up" and catch["summary"].startswith("0 筆")
    finally:
        again.close()


def _to_ledger(c: Container, transfers: list[Transfer]) -> None:
    c.fraud.ledger.bulk_insert(
        transfers=[
            {
                "id": t.id,
                "ts": datetime.fromtimestamp(t.ts, UTC).replace(tzinfo=None),
                "from_account": t.from_account,
                "to_account": t.to_account,
                "amount": t.amount,
            }
            for t in transfers
        ]
    )


def test_a_restart_scores_what_the_ledger_got_while_the_monitor_was_down(
    tmp_path: Path,
) -> None:
    """The server stopped; the ledger kept receiving transfers (a nightly load, another
    channel). At the next start the monitor goes on from its saved place: each transfer after
    the last one it saw is scored once, in time order, with its alerts stored, as a monitor
    that never stopped would have scored it, and recorded as the system's catch-up."""
    before, after = _stream()
    # one more transfer in the very second of the last one seen: equal times are common in
    # exports, and neither that one nor this one may be skipped or counted twice
    last = before[-1]
    after.insert(0, Transfer("SAMESEC", last.ts, "C7", "SHOP3", 800.0))
    data = tmp_path / "data"
    c = _container(data, warm_days=30)
    try:
        _to_ledger(c, before)
        assert c.start_monitor().warmed == len(before)
    finally:
        c.close()
    down = _container(data, warm_days=30)  # the ledger grows while no monitor runs
    try:
        _to_ledger(down, after)
    finally:
        down.close()

    c = _container(data, warm_days=30)
    try:
        got = c.start_monitor()
        assert got.restored and got.caught_up is not None
        counts = got.caught_up.counts()
        assert counts["rows"] == len(after) and counts["bad"] == 0
        assert c.fraud_monitor.monitor().seen == len(before) + len(after)
        caught = {d["transfer_id"]: d for d in got.caught_up.decisions}
        # the patterns begun before the stop finish after it, and are caught
        assert "new_payees_24h" in {r["rule"] for r in caught["P5"]["reasons"]}
        assert "pass_through_2h" in {r["rule"] for r in caught["OUT1"]["reasons"]}
        rec = c.audit.recent(1)[0]
        call = rec.tool_calls[0]
        assert rec.user_name == "system-monitor" and call["name"] == "fraud.monitor.catch_up"
        assert call["summary"].startswith(f"{len(after)} 筆 transfers")
        assert f"#{min(got.caught_up.alerts)}" in call["summary"]
        queue = {a["transfer_id"]: a for a in c.fraud_monitor_desk.alerts(INV, status=None)}
        assert set(queue) == set(caught) and {"P5", "OUT1"} <= set(queue)
    finally:
        c.close()

    # the same decisions as a monitor that warmed on the first part and then saw the rest live
    never = _container(tmp_path / "never", persist=False)
    try:
        _decisions(never, before)
        live = [d for d in _decisions(never, after) if d["action"] != "pass"]
    finally:
        never.close()
    strip = [{k: v for k, v in d.items() if k != "latency_ms"} for d in caught.values()]
    assert strip == live

    # a third start finds nothing new: nothing is scored twice
    c = _container(data, warm_days=30)
    try:
        third = c.start_monitor()
        assert third.caught_up is not None and third.caught_up.counts()["rows"] == 0
        assert c.fraud_monitor.monitor().seen == len(before) + len(after)
        assert "無新交易" in start_lines(third, 30)[-1]
    finally:
        c.close()
    caught_lines = start_lines(got, 30)
    assert (
        f"新增 {len(after)} 筆" in caught_lines[-1]
        and f"{len(after)} transfers" in caught_lines[-1]
    )


def test_a_snapshot_that_does_not_say_where_it_stopped_is_not_caught_up(tmp_path: Path) -> None:
    """A snapshot written before the monitor kept its place: restored, and the console says
    the ledger was not caught up instead of guessing where to begin."""
    data = tmp_path / "data"
    before, _ = _stream()
    c = _container(data, warm_days=30)
    try:
        _decisions(c, before)
    finally:
        c.close()
    path = data / "fraud" / FILE_NAME
    doc = json.loads(gzip.decompress(path.read_bytes()))
    doc.pop("last_ts"), doc.pop("last_ids")
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    c = _container(data, warm_days=30)
    try:
        got = c.start_monitor()
        assert got.restored and got.caught_up is None
        assert c.fraud_monitor.monitor().seen == len(before)
        lines = start_lines(got, 30)
        assert "未補算帳本" in lines[-1] and "was not caught up" in lines[-1]
    finally:
        c.close()


def test_a_transfer_scored_during_a_warm_waits_for_it(tmp_path: Path) -> None:
    """The history is read under the monitor's lock: a transfer that comes in half-way through
    is judged after the whole history, so the money in at its very end is remembered."""
    c = _container(tmp_path / "data")
    try:
        service = c.fraud_monitor
        before, _ = _stream()
        out: dict[str, object] = {}

        def score_now() -> None:
            d, _ = service.score(Transfer("LIVE", before[-1].ts + 5 * MIN, "MULE", "L", 175_000.0))
            out["decision"] = d
            out["seen"] = service.monitor().seen

        def history() -> Iterator[Transfer]:
            for i, t in enumerate(before):
                if i == 10:
                    threading.Thread(target=score_now, name="live-transfer").start()
                    time.sleep(0.3)  # room for the live transfer to get in, were it let in
                yield t

        assert service.warm(history()) == len(before)
        for _ in range(100):
            if "decision" in out:
                break
            time.sleep(0.05)
        d = out["decision"]
        assert out["seen"] == len(before) + 1
        assert d.action == "hold" and "pass_through_2h" in {r.rule for r in d.reasons}  # type: ignore[attr-defined]
    finally:
        c.close()
