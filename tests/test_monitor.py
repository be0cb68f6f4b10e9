"""The transfer monitor on its own: each rule fires on the pattern it is for and not on ordinary
traffic, decisions carry reasons in both languages, rules are data that is checked, and the
anomaly model (real river HalfSpaceTrees) scores an odd transfer above ordinary ones."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from assistant.errors import AssistantError
from assistant.fraud.currencies import Rates
from assistant.monitor.monitor import TransferMonitor
from assistant.monitor.rules import DEFAULT_RULES, load_rules, parse_rules
from assistant.monitor.transfers import Transfer, parse_transfer

T0 = int(datetime(2024, 3, 4, 2, 0, tzinfo=UTC).timestamp())  # 10:00 Taiwan time
MIN, HOUR, DAY = 60, 3600, 86400


def _doc() -> dict:
    return json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))


def _monitor(anomaly: bool = False, **watch: list[str]) -> TransferMonitor:
    doc = _doc()
    doc["anomaly"]["enabled"] = anomaly
    for r in doc["rules"]:
        if r["kind"] == "watchlist":
            r["params"].update(watch)
    return TransferMonitor(parse_rules(doc))


class Feed:
    """Transfers with made-up ids, fed in time order; the last decision kept."""

    def __init__(self, monitor: TransferMonitor) -> None:
        self.m = monitor
        self.n = 0
        self.decisions: list = []

    def __call__(self, dt: int, frm: str, to: str, amount: float, **kw: object):
        self.n += 1
        t = Transfer(f"T{self.n}", T0 + dt, frm, to, amount, **kw)  # type: ignore[arg-type]
        d = self.m.process(t)
        self.decisions.append(d)
        return d

    def fired(self) -> set[str]:
        return {r.rule for d in self.decisions for r in d.reasons}


def _rules(d) -> list[str]:
    return [r.rule for r in d.reasons]


def test_pass_through_within_minutes_is_held_with_reasons_in_both_languages() -> None:
    feed = Feed(_monitor())
    assert feed(0, "VICTIM1", "MULE", 180_000).action == "pass"
    d = feed(12 * MIN, "MULE", "LAYER1", 175_000)
    assert d.action == "hold" and _rules(d) == ["pass_through_2h"]
    r = d.reasons[0]
    assert r.account == "MULE" and "快進快出" in r.zh and "straight out" in r.en
    assert "NT$180,000" in r.zh and "12 分鐘" in r.zh and "12 minutes" in r.en
    out = d.to_dict()
    assert out["decision"] == "暫停待審 / hold" and out["reasons"][0]["rule"] == "pass_through_2h"
    # The same money moved on after the window: no pass-through.
    feed2 = Feed(_monitor())
    feed2(0, "VICTIM1", "SAVER", 180_000)
    assert feed2(3 * HOUR, "SAVER", "LANDLORD", 175_000).action == "pass"


def test_cash_out_after_incoming_transfers_is_held() -> None:
    feed = Feed(_monitor())
    for i in range(3):
        feed(i * 20 * MIN, f"V{i}", "MULE", 20_000)
    assert feed(2 * HOUR, "MULE", "CASH822", 20_000, kind="cash_out").action == "pass"
    d = feed(2 * HOUR + 5 * MIN, "MULE", "CASH822", 20_000, kind="cash_out")
    assert d.action == "hold" and _rules(d) == ["cash_out_after_in_24h"]
    assert (
        "提領現金 NT$40,000" in d.reasons[0].zh and "leaves the banking system" in d.reasons[0].en
    )


def test_structuring_just_under_the_reporting_threshold() -> None:
    feed = Feed(_monitor())
    assert feed(0, "CASH822", "SHOP", 480_000, kind="cash_in").action == "pass"  # one alone
    d = feed(2 * DAY, "CASH822", "SHOP", 495_000, kind="cash_in")
    assert d.action == "alert" and _rules(d) == ["structuring_7d"]
    assert d.account == "SHOP" and "NT$500,000" in d.reasons[0].zh
    # At or over the threshold is reported anyway: not structuring.
    feed2 = Feed(_monitor())
    feed2(0, "CASH822", "SHOP", 500_000, kind="cash_in")
    assert feed2(DAY, "CASH822", "SHOP", 600_000, kind="cash_in").action == "pass"
    # Two just under, eight days apart: outside the 7-day window.
    feed3 = Feed(_monitor())
    feed3(0, "CASH822", "SHOP", 480_000, kind="cash_in")
    assert feed3(8 * DAY, "CASH822", "SHOP", 480_000, kind="cash_in").action == "pass"


def test_velocity_fan_in_and_new_payees_and_amount_windows() -> None:
    feed = Feed(_monitor())
    for i in range(6):
        feed(i * 5 * MIN, f"P{i}", "COLLECTOR", 3_000)
    assert "velocity_in_1h" in _rules(feed.decisions[-1])  # 6 payers in 25 minutes
    feed = Feed(_monitor())
    for i in range(7):
        feed(i * 5 * MIN, "SPRAYER", f"R{i}", 1_000)
    last = _rules(feed.decisions[-1])
    assert "velocity_out_1h" in last and "new_payees_24h" in last
    # velocity, new payees and amount together: three alert-level reasons make it a hold
    feed = Feed(_monitor())
    for i in range(7):
        d = feed(i * 5 * MIN, "DRAINER", f"R{i}", 400_000)
    assert {"velocity_out_1h", "new_payees_24h", "amount_out_24h"} <= set(_rules(d))
    assert d.action == "hold"


def test_watchlist_hits_on_an_account_or_a_memo_term() -> None:
    feed = Feed(_monitor(accounts=["822-000111222"], memo_terms=["保證獲利"]))
    d = feed(0, "ALICE", "822000111222", 5_000)
    assert d.action == "hold" and d.account == "822000111222" and "觀察名單" in d.reasons[0].zh
    d = feed(MIN, "BOB", "CAROL", 5_000, memo="投資保證獲利群組")
    assert d.action == "hold" and "保證獲利" in d.reasons[0].zh


def test_ordinary_traffic_passes() -> None:
    """Three weeks of a household and a shop: salary in, rent and bills out spread over days,
    everyday card-like payments into a shop, cash from an ATM now and then."""
    feed = Feed(_monitor())
    for week in range(3):
        base = week * 7 * DAY
        feed(base, "EMPLOYER", "ALICE", 48_000)
        feed(base + 2 * DAY, "ALICE", "LANDLORD", 15_000)
        feed(base + 3 * DAY, "ALICE", "TELECOM", 899)
        feed(base + 4 * DAY, "ALICE", "CASH822", 3_000, kind="cash_out")
        for day in range(7):
            for k in range(3):
                feed(base + day * DAY + k * 2 * HOUR, f"BUYER{(day * 3 + k) % 40}", "SHOP", 450)
        feed(base + 6 * DAY, "SHOP", "SUPPLIER", 8_000)
    assert feed.fired() == set()
    assert all(d.action == "pass" for d in feed.decisions)


def test_rules_are_data_checked_before_use_and_versions_diff() -> None:
    base = load_rules()
    assert base.version == "2026-12-06.1" and {r.kind for r in base.rules} >= {
        "velocity_out",
        "pass_through",
        "cash_out_after_in",
        "structuring",
        "watchlist",
        "new_payee_burst",
    }
    doc = _doc()
    doc["rules"][0]["kind"] = "telepathy"
    with pytest.raises(AssistantError, match=r"規則錯誤.*unknown kind 'telepathy'"):
        parse_rules(doc)
    doc = _doc()
    del doc["rules"][4]["params"]["min_in"]
    with pytest.raises(AssistantError, match="pass_through_2h: missing parameter min_in"):
        parse_rules(doc)
    doc = _doc()
    doc["version"] = ""
    with pytest.raises(AssistantError, match="version"):
        parse_rules(doc)
    changed = copy.deepcopy(_doc())
    changed["version"] = "2026-12-07.1"
    changed["rules"][4]["params"]["window_s"] = 1800
    changed["rules"] = [r for r in changed["rules"] if r["id"] != "new_payees_24h"]
    assert parse_rules(changed).diff(base) == ["-new_payees_24h", "~pass_through_2h"]
    # a tighter window now misses what the old one caught, from the next transfer on
    m = TransferMonitor(base)
    m.process(Transfer("a", T0, "V", "MULE", 100_000))
    m.replace_rules(parse_rules(changed))
    d = m.process(Transfer("b", T0 + 40 * MIN, "MULE", "X", 95_000))
    assert d.action == "pass" and d.rules_version == "2026-12-07.1"


def test_a_transfer_row_is_read_or_refused_in_both_languages() -> None:
    t = parse_transfer(
        {
            "id": "X1",
            "ts": "2024-03-04 10:00:00",
            "from_account": "822-1234 5678",
            "to_account": "700 99",
            "amount": "1,200",
        }
    )
    assert (t.ts, t.from_account, t.amount, t.kind) == (T0, "82212345678", 1200.0, "transfer")
    roc = parse_transfer(
        {"id": "X2", "ts": "113/03/04 10:00", "from_account": "A1", "to_account": "B1", "amount": 5}
    )
    assert roc.ts == T0  # 民國 dates as exports write them
    with pytest.raises(AssistantError, match="no such date"):
        parse_transfer(
            {
                **{"id": "X3", "from_account": "A1", "to_account": "B1", "amount": 5},
                "ts": "113/13/04 10:00",
            }
        )
    bad = {"id": "X", "ts": "2024-03-04T10:00", "from_account": "A1", "to_account": "B1"}
    for change, words in (
        ({"amount": "abc"}, "金額錯誤 / bad amount"),
        ({"amount": "-5"}, "金額須為正數"),
        ({"amount": "5", "ts": "yesterday"}, "時間格式錯誤 / bad time"),
        ({"amount": "5", "kind": "gift"}, "未知的交易種類"),
        ({"amount": "5", "kind": "cash"}, "未知的交易種類"),  # a feed says which way
        ({"amount": "5", "to_account": "A1"}, "相同 / payer and payee are the same"),
        ({}, "缺少欄位 amount / missing amount"),
    ):
        with pytest.raises(AssistantError, match=words):
            parse_transfer({**bad, **change})
    for written in ("NT$1,500", "１，５００元", "新臺幣 1500", 1500):
        assert parse_transfer({**bad, "amount": written}).amount == 1500
    with pytest.raises(AssistantError, match="bad amount: 'US\\$15'"):
        parse_transfer({**bad, "amount": "US$15"})
    for word, kind in (
        ("提款", "cash_out"),
        ("Deposit", "cash_in"),
        ("轉帳", "transfer"),
        ("cash_out", "cash_out"),
        ("cash_in", "cash_in"),
        ("Cash Withdrawal", "cash_out"),
        ("CASH_IN", "cash_in"),
    ):
        assert parse_transfer({**bad, "amount": "5", "kind": word}).kind == kind
    for not_an_object in (["X", 5], "X,5", 5, None):
        with pytest.raises(AssistantError, match=r"須為含欄位的物件.*must be an object"):
            parse_transfer(not_an_object)  # type: ignore[arg-type]


def test_a_transfer_in_another_currency_is_scored_in_nt_or_refused() -> None:
    """The monitor's rules and scores count NT$: a transfer naming another currency is taken at
    the rate of its day (Taiwan time), one with no rate is refused rather than read as NT$."""
    asked: list[tuple[str, date]] = []

    def board(cur: str, day: date) -> float | None:
        asked.append((cur, day))
        return 31.0 if cur == "USD" else None

    rates = Rates(None, board)
    row = {"id": "F1", "ts": "2024-03-04 23:30", "from_account": "A1", "to_account": "B1"}
    assert parse_transfer({**row, "amount": "1,000", "currency": "US Dollar"}, rates).amount == (
        31_000.0
    )
    assert asked == [("USD", date(2024, 3, 4))]  # 23:30 Taiwan time is still the 4th there
    assert parse_transfer({**row, "amount": 500, "currency": "新台幣"}, rates).amount == 500.0
    assert parse_transfer({**row, "amount": 500, "currency": ""}).amount == 500.0
    with pytest.raises(AssistantError, match=r"沒有 JPY 在 2024-03-04.*no NT\$ rate for JPY"):
        parse_transfer({**row, "amount": 500, "currency": "JPY"}, rates)
    with pytest.raises(AssistantError, match="no NT\\$ rate for USD"):
        parse_transfer({**row, "amount": 500, "currency": "USD"})  # no board at all
    with pytest.raises(AssistantError, match="unknown currency 'Dogecoin'"):
        parse_transfer({**row, "amount": 500, "currency": "Dogecoin"}, rates)


def test_the_anomaly_model_scores_an_odd_transfer_above_ordinary_ones() -> None:
    doc = _doc()
    doc["anomaly"].update(enabled=True, warmup=1500, threshold=0.99)
    m = TransferMonitor(parse_rules(doc))
    payers = [f"C{i}" for i in range(300)]
    scores = []
    for i in range(2000):
        # daytime payments of a few hundred to a few thousand to known shops
        ts = T0 + (i // 40) * DAY + (i % 40) * 15 * MIN
        d = m.process(
            Transfer(f"N{i}", ts, payers[i % 300], f"SHOP{i % 7}", 300.0 + (i % 17) * 200)
        )
        if i >= 1500:
            scores.append(d.score)
    assert m.seen == 2000 and min(scores) >= 0
    ordinary = sorted(scores)[len(scores) // 2]
    odd = m.process(
        Transfer("ODD", T0 + 50 * DAY + 19 * HOUR, "C5", "NEVERSEEN", 2_900_000.0)
    )  # 03:00 Taiwan time, a new payee, a thousand times the usual amount
    assert odd.score > ordinary
    assert m.features("C5")["n_out"] >= 7  # the running totals kept per account


def test_the_product_ledger_rules_for_money_moving_fire_on_planted_rings() -> None:
    """On the product's own generator (a small ledger), the pass-through, cash-out and
    structuring rules name planted transfers almost only."""
    import tempfile
    from pathlib import Path

    from sqlalchemy import text

    from assistant.fraud.generator import generate
    from assistant.fraud.ledger import Ledger
    from assistant.monitor.transfers import from_arrays
    from assistant.schema import open_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'l.db'}")
        try:
            ledger = Ledger(engine)
            generate(2000, 20000, seed=3, start=date(2024, 1, 1), days=20, fraud_rings=6).write_to(
                ledger
            )
            arrays = ledger.arrays()
            with engine.connect() as conn:
                pattern = dict(conn.execute(text("SELECT id, pattern FROM fraud_transfer")).all())
        finally:
            engine.dispose()
    m = TransferMonitor(load_rules())
    hits = {"planted": 0, "other": 0}
    planted = 0
    for t in from_arrays(arrays, [pattern[i] for i in arrays.transfer_ids.tolist()]):
        d = m.process(t)
        planted += t.label is not None
        if {"pass_through_2h", "cash_out_after_in_24h"} & set(_rules(d)):
            hits["planted" if t.label else "other"] += 1
    assert hits["planted"] >= 0.3 * planted
    assert hits["other"] <= 0.02 * hits["planted"]


def test_a_late_transfer_is_scored_not_crashed() -> None:
    """Feeds deliver out of order, and history is fed after newer transfers were scored (a
    warm-up on a running server): an earlier transfer moves the account's first sighting back
    and is scored like any other."""
    doc = _doc()
    doc["anomaly"].update(enabled=True, warmup=5)
    m = TransferMonitor(parse_rules(doc))
    for i in range(10):
        m.process(Transfer(f"N{i}", T0 + i * HOUR, "C1", f"SHOP{i % 3}", 500.0))
    late = m.process(Transfer("LATE", T0 - 30 * DAY, "C1", "SHOP1", 800.0))
    assert late.action in {"pass", "alert", "hold"} and late.score >= 0
    assert m.accounts["C1"].first_ts == T0 - 30 * DAY
    after = m.process(Transfer("NEXT", T0 + 11 * HOUR, "C1", "SHOP2", 500.0))
    assert after.action in {"pass", "alert", "hold"}


def test_a_file_of_transfers_in_big5_with_tabs_is_read_row_by_row(tmp_path: Path) -> None:
    from assistant.monitor.transfers import read_csv

    path = tmp_path / "today.tsv"
    path.write_bytes(
        (
            "id\tts\tfrom_account\tto_account\tamount\tmemo\n"
            "T1\t113/03/04 10:00\tA1\tB1\tNT$1,200\t投資獲利出金\n"
            "T2\t113/03/04 10:05\tB1\tC1\t１，１００元\t\n"
        ).encode("cp950")
    )
    rows = list(read_csv(path))
    assert [n for n, _ in rows] == [2, 3]
    first, second = (parse_transfer(r) for _, r in rows)
    assert first.memo == "投資獲利出金" and first.amount == 1200 and second.amount == 1100

    # UTF-8 for more than the megabyte the encoding is told from, then other bytes: the rows
    # before are read, then the file is refused at the line where it changed
    mixed = tmp_path / "mixed.csv"
    body = "".join(f"U{i},2024-03-04T10:00,A{i},B1,100\n" for i in range(40_000))
    mixed.write_bytes(
        b"id,ts,from_account,to_account,amount\n"
        + body.encode()
        + "Z,2024-03-04T10:00,甲,乙,5\n".encode("cp950")
    )
    got = 0
    with pytest.raises(AssistantError, match="is not in the encoding of the lines before it"):
        for _ in read_csv(mixed):
            got += 1
    assert got >= 39_000
