"""The mule score on arrival: the monitor's running tallies equal the batch scorer's features
over the same transfers, the percentiles on arrival equal the batch's, a model fitted on one
generated ledger names the planted mules of another as their money moves, and the model file and
the monitor's snapshot keep what they must."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import AssistantError
from assistant.fraud.features import (
    STREAM_FEATURES,
    CashRules,
    account_features,
    within_ledger_ranks,
)
from assistant.fraud.ledger import LedgerArrays
from assistant.fraud.stream_model import StreamModel, fit
from assistant.monitor import state
from assistant.monitor.monitor import TransferMonitor
from assistant.monitor.mule_score import OnArrival, Ranks, Tally, count
from assistant.monitor.rules import DEFAULT_RULES, parse_rules
from assistant.monitor.transfers import Transfer, from_arrays

RULES = CashRules(500_000.0, 0.1)  # the product's defaults, and the structuring rule's


@dataclass(frozen=True)
class Generated:
    arrays: LedgerArrays
    fraud: frozenset[str]
    labels: list[str | None]


@cache
def _ledger(seed: int) -> Generated:
    from sqlalchemy import text

    from assistant.fraud.generator import generate
    from assistant.fraud.ledger import Ledger
    from assistant.schema import open_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'l.db'}")
        try:
            ledger = Ledger(engine)
            g = generate(2000, 20000, seed=seed, start=date(2024, 1, 1), days=20, fraud_rings=8)
            g.write_to(ledger)
            arrays = ledger.arrays()
            with engine.connect() as conn:
                pattern = dict(conn.execute(text("SELECT id, pattern FROM fraud_transfer")).all())
        finally:
            engine.dispose()
    fraud = frozenset(a for a, bad in g.labels.items() if bad)
    return Generated(arrays, fraud, [pattern[i] for i in arrays.transfer_ids.tolist()])


def _rules_doc(*, mule: dict | None = None) -> dict:
    doc = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    doc["anomaly"]["enabled"] = False
    doc["rules"] = [r for r in doc["rules"] if r["kind"] != "mule_score"]
    if mule is not None:
        doc["rules"].append({"id": "mule_score", "kind": "mule_score", "action": "alert", **mule})
    return doc


def _batch(g: Generated) -> tuple[list[str], np.ndarray]:
    names, raw = account_features(g.arrays, rules=RULES)
    return names, raw


def _with_more_kinds(a: LedgerArrays, n: int = 400) -> LedgerArrays:
    """The ledger with deposits, money from and to outside parties, transfers to oneself and
    amounts just under the reporting threshold added (the generator makes none of some)."""
    rng = np.random.default_rng(7)
    ids = a.account_ids.tolist()
    customers = [i for i, x in enumerate(ids) if not a.reserved[i]]
    extra_ids = [x for x in ("CASH004", "OUTSIDE") if x not in a.index]
    all_ids = np.array(ids + extra_ids, dtype=object)
    index = {x: i for i, x in enumerate(all_ids.tolist())}
    cash, outside = index["CASH004"], index["OUTSIDE"]
    src, dst, kind = [], [], []
    for k in range(n):
        c = int(rng.choice(customers))
        form = k % 4
        src.append([cash, outside, c, c][form])
        dst.append([c, c, outside, c][form])
        kind.append(1 if form == 0 else 0)
    amount = np.where(rng.random(n) < 0.3, 470_000.0, rng.integers(1, 90, n) * 1000.0)
    ts = rng.integers(int(a.ts.min()), int(a.ts.max()), n)
    return LedgerArrays(
        account_ids=all_ids,
        index=index,
        transfer_ids=np.concatenate((a.transfer_ids, [f"X{k}" for k in range(n)])),
        src=np.concatenate((a.src, src)).astype(np.int64),
        dst=np.concatenate((a.dst, dst)).astype(np.int64),
        ts=np.concatenate((a.ts, ts)).astype(np.int64),
        amount=np.concatenate((a.amount, amount)),
        kind=np.concatenate((a.kinds(), kind)).astype(np.int8),
        channel=np.concatenate((a.channels(), np.zeros(n))).astype(np.int8),
    )


def test_the_running_tallies_are_the_batch_features_of_the_same_transfers() -> None:
    arrays = _with_more_kinds(_ledger(3).arrays)
    m = TransferMonitor(parse_rules(_rules_doc()))
    for t in from_arrays(arrays):
        m.process(t)
    names, raw = account_features(arrays, rules=RULES)
    cols = [names.index(f) for f in STREAM_FEATURES]
    ids = arrays.account_ids.tolist()
    assert {0, 1, 2} <= set(arrays.kinds().tolist())  # transfers, deposits, withdrawals
    compared = 0
    nonzero = np.zeros(len(cols), dtype=bool)
    for i, a in enumerate(ids):
        st = m.accounts.get(a)
        if st is None:
            continue
        got = np.array(st.tally.features(True), dtype=float)
        want = raw[i, cols]
        nonzero |= np.nan_to_num(want) != 0
        assert np.allclose(got, want, equal_nan=True, rtol=1e-9), (a, got, want)
        compared += 1
    assert compared > 1500
    assert nonzero.all()  # every feature was exercised, not compared as zeros


def test_percentiles_on_arrival_are_the_ledgers_percentiles() -> None:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 20, size=(300, 3)).astype(float)
    X[rng.random(X.shape) < 0.1] = np.nan
    r = Ranks(3)
    r.refresh(X.tolist())
    want = within_ledger_ranks(X)
    for i in range(len(X)):
        assert np.allclose(r.of(X[i].tolist()), want[i], equal_nan=True)
    # a value above all known ones is the top; below all, near the bottom
    top, low, nan = r.of([99.0, -1.0, math.nan])
    assert top == 1.0 and low < 0.01 and math.isnan(nan)


@cache
def _model() -> StreamModel:
    g = _ledger(5)
    names, raw = _batch(g)
    keep = [i for i, a in enumerate(g.arrays.account_ids.tolist()) if not g.arrays.reserved[i]]
    y = np.array([1 if g.arrays.account_ids[i] in g.fraud else 0 for i in keep])
    return fit(names, within_ledger_ranks(raw[keep]), y, cash_rules=RULES)


def test_a_model_from_one_ledger_names_the_mules_of_another_as_money_moves() -> None:
    model = _model()
    assert 0 < model.alert_at < 1 and model.trained["mules"] > 10
    g = _ledger(3)  # not the ledger it was fitted on
    m = TransferMonitor(parse_rules(_rules_doc(mule={"params": {}})), mule=OnArrival(model))
    named: dict[str, int] = {}
    texts = []
    last_hop: dict[str, int] = {}
    for t in from_arrays(g.arrays, g.labels):
        d = m.process(t)
        for r in d.reasons:
            if r.rule == "mule_score":
                named.setdefault(r.account, t.ts)
                texts.append(r.text)
        if t.label:
            for a in (t.from_account, t.to_account):
                if a in g.fraud:
                    last_hop[a] = t.ts
    hit = set(named) & g.fraud
    # Measured: every planted mule named, one named account in two a mule (ordinary accounts
    # with a busy day look alike on a few days of history; the batch scorer's threshold alike)
    assert len(hit) >= 0.8 * len(g.fraud)
    assert len(hit) >= 0.45 * len(named)
    # named on arrival, before most of their laundering hops were done
    assert sum(named[a] < last_hop[a] for a in hit if a in last_hop) >= 0.5 * len(hit)
    assert "人頭帳戶分數" in texts[0] and "scores" in texts[0] and "mule" in texts[0]
    assert m.mule is not None and m.mule.refreshes >= 10  # refreshed as the days went by


def test_without_a_model_the_rule_does_not_fire_and_with_a_threshold_of_its_own_it_obeys() -> None:
    g = _ledger(3)
    quiet = TransferMonitor(parse_rules(_rules_doc(mule={"params": {}})))
    strict = TransferMonitor(
        parse_rules(_rules_doc(mule={"params": {"threshold": 0.999999}})), mule=OnArrival(_model())
    )
    for t in list(from_arrays(g.arrays))[:8000]:
        for m in (quiet, strict):
            d = m.process(t)
            assert all(r.rule != "mule_score" or r.value >= 0.999999 for r in d.reasons)
            if m is quiet:
                assert all(r.rule != "mule_score" for r in d.reasons)


def test_the_model_file_is_plain_data_read_back_or_refused(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "mule_stream.json"
    model.save(path)
    back = StreamModel.load(path)
    assert back == model
    ranks = [0.5] * len(STREAM_FEATURES)
    assert back.score(ranks) == model.score(ranks)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:-1]
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(AssistantError, match="重新訓練"):
        StreamModel.load(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(AssistantError, match="無法讀取"):
        StreamModel.load(path)
    path.write_text(json.dumps({"format": "other"}), encoding="utf-8")
    with pytest.raises(AssistantError, match="不是本產品"):
        StreamModel.load(path)


def test_a_snapshot_keeps_the_tallies_and_an_older_one_starts_them_at_zero() -> None:
    rules = parse_rules(_rules_doc())
    m = TransferMonitor(rules)
    m.process(Transfer("A", 1_700_000_000, "C1", "C2", 490_000.0))
    m.process(Transfer("B", 1_700_000_100, "C2", "CASH", 480_000.0, kind="cash_out"))
    doc = json.loads(json.dumps(state.dump(m)))
    back = state.restore(doc, rules).monitor
    assert back.accounts["C2"].tally == m.accounts["C2"].tally
    assert back.accounts["C2"].tally.cash_out_count == 1 and back.accounts["C2"].tally.near == 2
    # a snapshot from a product that kept fewer totals: those it has are kept
    for d in doc["accounts"].values():
        del d["tally"]["named_ts"]
        d["tally"]["a_total_of_a_later_version"] = 1
    fewer = state.restore(doc, rules).monitor
    assert fewer.accounts["C2"].tally == m.accounts["C2"].tally  # named_ts was -1 anyway
    for d in doc["accounts"].values():
        del d["tally"]
    old = state.restore(doc, rules).monitor
    assert old.accounts["C2"].tally == Tally()


def test_training_the_fraud_desk_gives_the_running_monitor_its_mule_score(tmp_path: Path) -> None:
    """``fraud train`` fits the monitor's model beside the batch scorer; a monitor already
    running picks it up from the next transfer, and its decisions say why in both languages."""
    from assistant.container import Container
    from assistant.fraud.generator import generate
    from assistant.permissions import UserContext
    from tests.conftest import make_settings

    inv = UserContext("inv", "fraud")
    c = Container(make_settings(tmp_path / "data"))
    try:
        monitor = c.fraud_monitor
        assert not monitor.mule_scored  # nothing trained yet: the rule does not fire
        assert c.fraud_monitor_desk.rules(inv)["mule_model"] is None
        generate(2000, 20000, seed=5, start=date(2024, 1, 1), days=20, fraud_rings=8).write_to(
            c.fraud.ledger
        )
        out = c.fraud_desk.train(inv)
        assert Path(out["monitor_model"]).is_file() and 0 < out["monitor_alert_at"] < 1
        assert monitor.mule_scored
        shown = c.fraud_monitor_desk.rules(inv)["mule_model"]
        assert shown["alert_at"] == out["monitor_alert_at"] and shown["mules"] > 10
        running = monitor.monitor()  # running now: a model trained again is shown and used
        path = Path(out["monitor_model"])
        retrained = replace(StreamModel.load(path), alert_at=0.5)
        retrained.save(path)
        assert c.fraud_monitor_desk.rules(inv)["mule_model"]["alert_at"] == 0.5
        assert running.mule is not None and running.mule.model.alert_at == 0.5
        replace(retrained, alert_at=out["monitor_alert_at"]).save(path)
        g = _ledger(3)
        rows = list(enumerate(from_arrays(g.arrays), start=1))
        result = c.fraud_monitor_desk.score_batch(inv, rows, keep_passes=False)
        named = {
            r["account"]
            for d in result.decisions
            for r in d["reasons"]
            if r["rule"] == "mule_score"
        }
        assert len(named & g.fraud) >= 0.8 * len(g.fraud)
        reason = next(
            r for d in result.decisions for r in d["reasons"] if r["rule"] == "mule_score"
        )
        assert "人頭帳戶分數" in reason["zh"] and "as a mule" in reason["en"]

        # a warm on history builds the tallies without naming anyone, and keeps the model
        def counted() -> int:
            return sum(st.tally.rows for st in monitor.monitor().accounts.values())

        before = counted()
        assert monitor.warm([t for _, t in rows[:3000]]) == 3000 and monitor.mule_scored
        assert counted() - before >= 3000  # each row counted for its customer parties
    finally:
        c.close()


def test_min_looks_names_an_account_only_after_scores_in_a_row() -> None:
    """An account whose score crosses on one odd moment is not named with ``min_looks`` 3;
    every account named so was named with 1 too, and on a later transfer of its own."""
    g = _ledger(3)
    firsts: list[dict[str, int]] = []
    for looks in (1, 3):
        m = TransferMonitor(
            parse_rules(_rules_doc(mule={"params": {"min_looks": looks}})),
            mule=OnArrival(_model()),
        )
        first: dict[str, int] = {}
        for n, t in enumerate(from_arrays(g.arrays)):
            for r in m.process(t).reasons:
                if r.rule == "mule_score":
                    first.setdefault(r.account, n)
        firsts.append(first)
    one, three = firsts
    assert set(three) <= set(one) and len(three) < len(one)
    assert all(three[a] > one[a] for a in three)


def test_a_named_account_is_named_again_only_after_repeat_s() -> None:
    """The alert queue gets one mule-score alert per account a day, at the same moments the
    account would first be named without the pause."""
    g = _ledger(3)
    named: list[dict[str, list[int]]] = []
    for repeat in (0, 86400):
        params = {"min_looks": 2, "repeat_s": repeat}
        m = TransferMonitor(
            parse_rules(_rules_doc(mule={"params": params})), mule=OnArrival(_model())
        )
        times: dict[str, list[int]] = {}
        for t in from_arrays(g.arrays):
            for r in m.process(t).reasons:
                if r.rule == "mule_score":
                    times.setdefault(r.account, []).append(t.ts)
        named.append(times)
    every, daily = named
    assert {a: ts[0] for a, ts in every.items()} == {a: ts[0] for a, ts in daily.items()}
    assert sum(map(len, daily.values())) < sum(map(len, every.values())) / 3
    for ts in daily.values():
        assert all(b - a >= 86400 for a, b in pairwise(ts))


def test_percentiles_from_a_sample_of_a_large_population_are_close_to_the_whole() -> None:
    rng = np.random.default_rng(1)
    tallies = []
    for _ in range(5000):
        t = Tally()
        for _ in range(int(rng.integers(1, 30))):
            count("transfer", 1_700_000_000, float(rng.integers(1, 99)) * 1000, t, Tally(),
                  new_out=bool(rng.random() < 0.5), new_in=False, near=False)  # fmt: skip
        tallies.append(t)
    whole = OnArrival(_model(), max_rows=10**9)
    sampled = OnArrival(_model(), max_rows=500)
    for m in (whole, sampled):
        m.refresh(tallies, 1_700_000_000, 5000)
    assert whole.ranks.accounts == 5000 and sampled.ranks.accounts == 500
    gaps = [
        abs(a - b)
        for t in tallies[:200]
        for a, b in zip(
            whole.ranks.of(t.features(True)), sampled.ranks.of(t.features(True)), strict=True
        )
        if a == a and b == b
    ]
    assert gaps and max(gaps) < 0.08 and sum(gaps) / len(gaps) < 0.02
