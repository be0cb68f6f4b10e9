"""The money-flow trace engine on small ledgers whose answer is known, and against a plain BFS."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

import numpy as np
import pytest

from assistant.errors import AssistantError
from assistant.fraud.trace import TransferIndex

T0 = 1_700_000_000


def ledger(rows: list[tuple[str, str, str, int, float]]) -> TransferIndex:
    """rows: (id, from, to, seconds after T0, amount)."""
    names = sorted({r[1] for r in rows} | {r[2] for r in rows})
    pos = {a: i for i, a in enumerate(names)}
    return TransferIndex.from_arrays(
        np.array([r[0] for r in rows], dtype=object),
        np.array([pos[r[1]] for r in rows], dtype=np.int64),
        np.array([pos[r[2]] for r in rows], dtype=np.int64),
        np.array([T0 + r[3] for r in rows], dtype=np.int64),
        np.array([r[4] for r in rows], dtype=np.float64),
        names,
    )


def found(result) -> dict[str, int]:
    return {t.id: t.hop for t in result.transfers}


CHAIN = [
    ("t1", "A", "B", 100, 1000.0),
    ("t0", "B", "X", 50, 900.0),  # before the money arrived: not followed downstream
    ("t2", "B", "C", 150, 800.0),
    ("t3", "B", "D", 5000, 100.0),  # late: outside a 1 h window
    ("t4", "C", "E", 200, 500.0),
    ("t5", "C", "F", 210, 5.0),  # small
    ("t6", "Z", "A", 25, 300.0),
    ("t7", "Y", "Z", 20, 300.0),
    ("t8", "Y", "Z", 30, 50.0),  # after t6 left Z: not upstream of it
]


def test_downstream_is_time_respecting():
    r = ledger(CHAIN).trace("A", "down", 3)
    assert found(r) == {"t1": 1, "t2": 2, "t3": 2, "t4": 3, "t5": 3}
    roles = {a.id: a.role for a in r.accounts}
    assert roles == {
        "A": "root",
        "B": "intermediate",
        "C": "intermediate",
        "D": "sink",
        "E": "sink",
        "F": "sink",
    }
    assert [t.hop for t in r.transfers] == sorted(t.hop for t in r.transfers)


def test_window_min_amount_and_hop_one_bounds():
    ix = ledger(CHAIN)
    assert found(ix.trace("A", "down", 3, window_s=3600)) == {"t1": 1, "t2": 2, "t4": 3, "t5": 3}
    assert found(ix.trace("A", "down", 3, min_amount=50)) == {"t1": 1, "t2": 2, "t3": 2, "t4": 3}
    assert found(ix.trace("A", "down", 3, since=T0 + 101)) == {}
    # since / until bound hop 1 only: t2..t5 lie after until and are still followed.
    assert len(found(ix.trace("A", "down", 3, since=T0, until=T0 + 100))) == 5
    # A window of 0 s: only transfers in the same second.
    assert found(ix.trace("A", "down", 2, window_s=0)) == {"t1": 1}


def test_upstream_mirrors_downstream():
    ix = ledger(CHAIN)
    up = ix.trace("C", "up", 3)
    assert found(up) == {"t2": 1, "t1": 2, "t6": 3}
    assert {a.id: a.role for a in up.accounts}["Z"] == "source"
    assert found(ix.trace("A", "up", 2)) == {"t6": 1, "t7": 2}
    assert found(ix.trace("A", "up", 2, window_s=4)) == {"t6": 1}
    assert up.direction == "up" and up.root == "C"


def test_cycles_end_and_take_each_transfer_once():
    rows = []
    for lap in range(20):
        for i, (a, b) in enumerate([("A", "B"), ("B", "C"), ("C", "A")]):
            rows.append((f"c{lap}-{i}", a, b, lap * 100 + i * 10, 100.0))
    ix = ledger(rows)
    for direction in ("down", "up"):
        r = ix.trace("A", direction, 6)
        ids = [t.id for t in r.transfers]
        assert len(ids) == len(set(ids))
        assert max(t.hop for t in r.transfers) <= 6
    assert not ix._scratch.seen.any()  # the per-thread work flags are left clean


def test_hub_truncation_is_recorded():
    rows = [("r", "H", "R", 10_000, 1.0)]
    rows += [(f"h{i:02d}", f"S{i:02d}", "H", 100 + i, float(i + 1)) for i in range(80)]
    ix = ledger(rows)
    r = ix.trace("R", "up", 2, per_hop_limit=50)
    kept = {t.id for t in r.transfers if t.hop == 2}
    assert kept == {f"h{i:02d}" for i in range(30, 80)}  # the 50 largest
    (cut,) = r.truncated
    assert (cut.account, cut.hop, cut.kept, cut.dropped) == ("H", 2, 50, 30)
    assert cut.dropped_amount == pytest.approx(sum(range(1, 31)))
    # order="time" upstream keeps those nearest the fed transfer: the latest.
    r = ix.trace("R", "up", 2, per_hop_limit=50, order="time")
    assert {t.id for t in r.transfers if t.hop == 2} == {f"h{i:02d}" for i in range(30, 80)}
    r = ix.trace("R", "up", 2, per_hop_limit=10, order="time")
    assert {t.id for t in r.transfers if t.hop == 2} == {f"h{i:02d}" for i in range(70, 80)}
    assert r.truncated[0].dropped == 70
    assert ix.trace("R", "up", 2, per_hop_limit=100).truncated == []


FIFO = [
    ("a1", "A", "B", 10, 30.0),
    ("a2", "A", "B", 20, 70.0),
    ("b1", "B", "C", 15, 50.0),
    ("b2", "B", "D", 25, 80.0),
]


def test_fifo_and_proportional_downstream_by_hand():
    ix = ledger(FIFO)
    fifo = {t.id: t.attributed for t in ix.trace("A", "down", 2, attribution="fifo").transfers}
    # b1 at t15 can only take the 30 that had arrived; b2 takes the remaining 70.
    assert fifo == {"a1": 30.0, "a2": 70.0, "b1": 30.0, "b2": 70.0}
    prop = ix.trace("A", "down", 2)
    got = {t.id: t.attributed for t in prop.transfers}
    assert got["b1"] == pytest.approx(50 * 100 / 130, abs=0.01)
    assert got["b2"] == pytest.approx(80 * 100 / 130, abs=0.01)
    assert "proportional" in prop.rule
    assert {a.id: a.attributed for a in prop.accounts}["B"] == 100.0


def test_fifo_upstream_by_hand():
    rows = [
        ("t1", "A", "B", 10, 100.0),
        ("t2", "B", "C", 20, 60.0),
        ("t3", "C", "D", 30, 50.0),
        ("t4", "B", "D", 5, 40.0),
    ]
    r = ledger(rows).trace("D", "up", 3, attribution="fifo")
    assert {t.id: t.attributed for t in r.transfers} == {
        "t4": 40.0,
        "t3": 50.0,
        "t2": 50.0,  # C sent on 50 of the 60 it received
        "t1": 50.0,  # B sent on 60 of t1's 100, of which 50/60 reached D
    }
    assert {a.id: a.attributed for a in r.accounts} == {"D": 90.0, "B": 90.0, "C": 50.0, "A": 50.0}
    assert "fifo" in r.rule


def random_ledger(seed: int, n: int = 4000, accounts: int = 300):
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.5, accounts) + 1
    p = weights / weights.sum()
    src = rng.choice(accounts, n, p=p)
    dst = rng.choice(accounts, n, p=rng.permutation(p))
    ts = T0 + rng.integers(0, 30 * 86400, n)
    amount = np.round(rng.lognormal(9, 1.5, n), 0)
    ids = np.array([f"T{i:06d}" for i in range(n)], dtype=object)
    names = [f"ACC{i:04d}" for i in range(accounts)]
    return ids, src, dst, ts, amount, names


def reference_bfs(data, root, direction, hops, since=None, until=None, window=None, minimum=0):
    """Plain BFS over transfers: each transfer once, at the first hop that reaches it."""
    ids, src, dst, ts, amount, names = data
    root_i = names.index(root)
    by_near = defaultdict(list)
    for i in range(len(ids)):
        by_near[int(dst[i] if direction == "up" else src[i])].append(i)
    far = src if direction == "up" else dst
    out: dict[str, int] = {}
    seen: set[int] = set()
    frontier = []
    for i in by_near[root_i]:
        if amount[i] < minimum:
            continue
        if (since is None or ts[i] >= since) and (until is None or ts[i] <= until):
            seen.add(i)
            frontier.append(i)
            out[ids[i]] = 1
    for hop in range(2, hops + 1):
        nxt = []
        for x in frontier:
            for i in by_near[int(far[x])]:
                if i in seen or amount[i] < minimum:
                    continue
                gap = ts[i] - ts[x] if direction == "down" else ts[x] - ts[i]
                if gap < 0 or (window is not None and gap > window):
                    continue
                seen.add(i)
                nxt.append(i)
                out[ids[i]] = hop
        frontier = nxt
    return out


def test_matches_plain_bfs_on_a_random_ledger():
    data = random_ledger(1)
    ix = TransferIndex.from_arrays(*data)
    rng = np.random.default_rng(2)
    names = data[5]
    checked = 0
    for a in rng.choice(names, 25, replace=False):
        for direction in ("up", "down"):
            for kw in (
                {},
                {"window": 3 * 86400, "minimum": 5000},
                {"since": T0 + 10 * 86400, "until": T0 + 20 * 86400, "window": 86400},
            ):
                want = reference_bfs(data, a, direction, 3, **kw)
                r = ix.trace(
                    a,
                    direction,
                    3,
                    since=kw.get("since"),
                    until=kw.get("until"),
                    window_s=kw.get("window"),
                    min_amount=kw.get("minimum", 0),
                    per_hop_limit=10**9,
                )
                assert r.truncated == []
                assert found(r) == want
                checked += len(want)
    assert checked > 1000  # the graph is not trivially empty


def test_attribution_never_exceeds_what_was_received():
    data = random_ledger(3)
    ix = TransferIndex.from_arrays(*data)
    for a in data[5][:40]:
        for direction in ("up", "down"):
            for rule in ("proportional", "fifo"):
                r = ix.trace(a, direction, 4, attribution=rule, per_hop_limit=20)
                passed_in: dict[tuple[str, int], float] = defaultdict(float)
                passed_on: dict[tuple[str, int], float] = defaultdict(float)
                for t in r.transfers:
                    assert -0.01 <= t.attributed <= t.amount + 0.01
                    # Downstream money enters `to` at hop k and leaves `to` at hop k+1;
                    # upstream it leaves `from` at hop k toward the root, fed at hop k+1.
                    carrier = t.to_account if direction == "down" else t.from_account
                    passed_in[(carrier, t.hop)] += t.attributed
                    onward = t.from_account if direction == "down" else t.to_account
                    passed_on[(onward, t.hop - 1)] += t.attributed
                for (acc, hop), amt in passed_on.items():
                    if hop == 0:
                        continue
                    assert amt <= passed_in[(acc, hop)] + 0.05, (a, direction, rule, acc)


def test_csv_and_json():
    r = ledger(CHAIN).trace("A", "down", 3)
    buf = io.StringIO()
    r.to_csv(buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0][:3] == ["hop", "transfer_id", "ts"]
    assert len(rows) == 1 + len(r.transfers)
    assert rows[1][1] == "t1" and rows[1][2].endswith("+08:00")
    d = json.loads(json.dumps(r.to_dict(), ensure_ascii=False))
    assert d["transfers"][0]["from"] == "A" and d["parameters"]["per_hop_limit"] == 50
    assert d["rule"] and d["elapsed_ms"] >= 0


def test_csv_to_a_file(tmp_path):
    r = ledger(CHAIN).trace("C", "up", 2)
    path = tmp_path / "evidence.csv"
    r.to_csv(path)
    text = path.read_text(encoding="utf-8-sig")
    assert "t2" in text and "t1" in text


def test_errors():
    ix = ledger(CHAIN)
    with pytest.raises(AssistantError, match="查無帳戶 NOPE / Unknown account NOPE"):
        ix.trace("NOPE", "down", 3)
    for bad in (0, 7):
        with pytest.raises(AssistantError, match="hops must be between 1 and 6"):
            ix.trace("A", "down", bad)
    with pytest.raises(AssistantError, match="direction"):
        ix.trace("A", "sideways", 2)  # type: ignore[arg-type]
    with pytest.raises(AssistantError, match="per_hop_limit"):
        ix.trace("A", "down", 2, per_hop_limit=0)


def test_index_size_and_an_account_with_no_transfers():
    ix = TransferIndex.from_arrays(
        np.array(["x"], dtype=object),
        np.array([0]),
        np.array([1]),
        np.array([T0]),
        np.array([1.0]),
        ["A", "B", "LONE"],
    )
    assert ix.trace("LONE", "up", 3).transfers == []
    assert ix.nbytes < 200 and ix.build_ms >= 0
