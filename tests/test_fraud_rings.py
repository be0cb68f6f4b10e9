"""Rings from one account, on a generated ledger with planted rings: expansion from one mule
finds most of its ring and few outsiders; the desk refuses other roles and audits; the CLI and
the agent answer; an unknown account gets a clear bilingual error."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from assistant.cli import cli
from assistant.container import Container
from assistant.errors import AssistantError, AuthError
from assistant.fraud.ledger import LedgerArrays
from assistant.fraud.links import STEP_NAMES, step_features
from assistant.fraud.rings import (
    MEMBER_NAMES,
    MEMBER_THRESHOLD,
    RingFinder,
    fit_member_rows,
    fit_steps,
    pattern_rings,
    planted_seeds,
)
from tests.cli_users import login_env
from tests.conftest import make_settings

DAY = 86_400
T0 = 1_700_000_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = Container(make_settings(tmp_path_factory.mktemp("fraud_rings") / "data"))
    c.fraud.generate(
        accounts=3000, transfers=30000, seed=3, start=date(2024, 1, 1), days=30, rings=6
    )
    yield c
    c.close()


def _rings(c: Container) -> dict[str, dict[str, str]]:
    """ring → {account: role} from the generator's ground truth."""
    with c.engine.connect() as db:
        rows = db.execute(
            text("SELECT id, pattern FROM fraud_account WHERE pattern IS NOT NULL")
        ).all()
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for acct, pattern in rows:
        out[pattern.split(":")[0]][acct] = pattern.rsplit("/", 1)[-1]
    return out


def _expand_all(c: Container, user) -> tuple[int, int, int, int]:
    """Over every planted ring, from its first mule: (accomplices found, accomplices, found,
    found that belong to the ring at all, victims included)."""
    hit = total = found = inside = 0
    for members in _rings(c).values():
        seed = sorted(a for a, role in members.items() if role == "mule")[0]
        out = c.fraud_desk.ring(user, seed)
        got = {m["account"] for m in out["members"]}
        accomplices = {a for a, role in members.items() if role != "victim"} - {seed}
        hit += len(got & accomplices)
        total += len(accomplices)
        found += len(got)
        inside += len(got & set(members))
    return hit, total, found, inside


def test_expansion_from_one_mule_finds_its_ring_and_few_outsiders(app: Container) -> None:
    investigator = app.users.ensure("ring-investigator", "fraud")
    # label-free first (no scorer trained yet): the burst links alone already reach the ring
    hit, total, _, _ = _expand_all(app, investigator)
    assert hit / total >= 0.8
    trained = app.fraud.train()
    # the generator marks its ring transfers, each with its ring: a link model and a step
    # model are fitted for the ring walk
    assert trained["link_model"] and trained["laundering_transfers"] > 0
    assert trained["step_model"] and Path(trained["step_model"]).is_file()
    assert trained["member_model"] and Path(trained["member_model"]).is_file()
    hit, total, found, _ = _expand_all(app, investigator)
    # the most probable paths over the link model: most of each ring, and what it returns are
    # the accomplices (the link model learns mule-to-mule links, so not the ring's victims)
    assert hit / total >= 0.8, (hit, total)
    assert hit / found >= 0.8, (hit, found)
    out = app.fraud_desk.ring(investigator, sorted(_rings(app)["R002"])[0])
    assert out["scored"] is True and out["walk"] == "paths" and out["steps"] is True
    assert out["member_model"] is True
    m = out["members"][0]
    assert 0.0 < m["score"] <= 1.0  # the member model's probability that it is in the ring
    assert all(x["score"] >= out["threshold"] for x in out["members"])
    assert m["reasons"][0]["zh"].startswith("距離") and m["reasons"][0]["en"].endswith("account")
    # the transfers that tie the ring are real transfer ids of the ledger
    ids = set(out["transfers"])
    assert ids and set(m["transfers"]) <= ids


def test_other_roles_are_refused_and_recorded(app: Container) -> None:
    seed = sorted(_rings(app)["R001"])[0]
    officer = app.users.ensure("ring-fx-officer", "fx")
    with pytest.raises(AuthError) as err:
        app.fraud_desk.ring(officer, seed)
    assert "不能執行 fraud.read" in str(err.value)
    record = app.audit.recent(1, user_name="ring-fx-officer")[0]
    assert record.tool_calls[0]["name"] == "access_denied"
    assert record.tool_calls[0]["args"]["account"] == seed
    investigator = app.users.ensure("ring-investigator2", "fraud")
    out = app.fraud_desk.ring(investigator, seed)
    record = app.audit.recent(1, user_name="ring-investigator2")[0]
    assert record.tool_calls[0]["name"] == "fraud.ring"
    assert f"{len(out['members'])} 帳戶" in record.tool_calls[0]["summary"]


def test_unknown_account_and_bad_options_are_clear(app: Container) -> None:
    investigator = app.users.ensure("ring-investigator3", "fraud")
    with pytest.raises(AssistantError, match="查無帳戶 999999999999 / unknown account"):
        app.fraud_desk.ring(investigator, "999999999999")
    seed = sorted(_rings(app)["R001"])[0]
    with pytest.raises(AssistantError, match="門檻須介於 0 與 1 / the threshold"):
        app.fraud_desk.ring(investigator, seed, threshold=2.0)
    with pytest.raises(AssistantError, match="現金或外部端點"):
        app.fraud_desk.ring(investigator, "CASH004")


def test_cli_ring_prints_members_and_refuses_an_unknown_account(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = login_env(data, "fraud")

    def run(*args: str):
        return CliRunner().invoke(cli, ["--data-dir", str(data), *args], env=env)

    r = run("fraud", "generate", "--accounts", "1500", "--transfers", "12000", "--rings", "3")
    assert r.exit_code == 0, r.output
    c = Container(make_settings(data))
    try:
        seed = sorted(
            a for ring in _rings(c).values() for a, role in ring.items() if role == "mule"
        )[0]
    finally:
        c.close()
    r = run("fraud", "ring", seed, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    # no model of its own: the reference scorer weighs the links
    assert out["seed"] == seed and out["members"] and out["scored"] is True
    env["ASSISTANT_FRAUD_USE_REFERENCE"] = "false"
    r = run("fraud", "ring", seed, "--json")
    out = json.loads(r.stdout)
    assert out["members"] and out["scored"] is False  # without it, label-free
    del env["ASSISTANT_FRAUD_USE_REFERENCE"]
    r = run("fraud", "ring", seed)
    assert "同夥帳戶 / ring accounts" in r.output and "人頭分數加權" in r.output
    # trained on the generator's marked ring transfers: the link model's paths rank them
    r = run("fraud", "train")
    assert r.exit_code == 0 and "link_model" in r.output, r.output
    r = run("fraud", "ring", seed)
    assert "the step walk's candidates judged by the member model" in r.output
    r = run("fraud", "ring", "999999999999")
    assert r.exit_code != 0
    assert "查無帳戶 999999999999 / unknown account" in r.output


def _arrays(rows: list[tuple[str, str, str, float]]) -> LedgerArrays:
    """rows: (transfer id, from, to, days after T0)."""
    names = sorted({r[1] for r in rows} | {r[2] for r in rows})
    pos = {a: i for i, a in enumerate(names)}
    return LedgerArrays(
        account_ids=np.array(names, dtype=object),
        index=pos,
        transfer_ids=np.array([r[0] for r in rows], dtype=object),
        src=np.array([pos[r[1]] for r in rows], dtype=np.int64),
        dst=np.array([pos[r[2]] for r in rows], dtype=np.int64),
        ts=np.array([T0 + int(r[3] * DAY) for r in rows], dtype=np.int64),
        amount=np.full(len(rows), 1000.0),
    )


def test_standing_relationships_and_far_off_links_are_not_ring_links() -> None:
    rows = [
        ("f1", "A1", "C1", 10.0),  # fan-in of three into C1 within a day
        ("f2", "A2", "C1", 10.2),
        ("f3", "A3", "C1", 10.5),
        ("f4", "C1", "D1", 10.8),  # and on
    ]
    # A1 pays its landlord every month: a standing relationship, not a ring link
    rows += [(f"r{m}", "A1", "LANDLORD", 1.0 + 30 * m) for m in range(4)]
    rows += [(f"p{m}", "LANDLORD", f"T{m}", 2.0 + 30 * m) for m in range(4)]
    rows += [("late", "C1", "Z", 40.0)]  # a month after C1 was paid: outside the 7-day window
    result = RingFinder(_arrays(rows)).expand("A1", threshold=0.0)
    got = {m.account for m in result.members}
    assert got == {"A2", "A3", "C1", "D1"}  # not the landlord, its tenants, nor Z
    c1 = next(m for m in result.members if m.account == "C1")
    assert c1.hops == 1 and set(c1.transfers) == {"f1", "f2", "f3", "f4"}
    assert set(result.transfers) == {"f1", "f2", "f3", "f4"}


def test_the_agent_answers_who_the_accomplices_are(app: Container) -> None:
    investigator = app.users.ensure("ring-investigator4", "fraud")
    seed = sorted(a for a, role in _rings(app)["R002"].items() if role == "mule")[0]
    ans = app.service.ask(investigator, f"帳戶 {seed} 的同夥有哪些？")
    assert ans.agent == "fraud"
    assert [c.name for c in ans.tool_calls] == ["fraud_account", "fraud_ring"]
    assert f"{seed} 的同夥帳戶" in ans.answer
    ring = ans.data["ring"]
    assert ring["seed"] == seed and ring["members"]
    assert ring["members"][0]["account"] in ans.answer


def test_the_path_walk_follows_probable_links_in_time_order() -> None:
    rows = [
        ("f1", "A1", "C1", 10.0),  # A1, A2 pay C1; C1 passes it on to D1
        ("f2", "A2", "C1", 10.5),
        ("f3", "C1", "D1", 12.0),
        ("e1", "C1", "SHOP", 11.0),  # an everyday payment of C1's the model reads as such
        ("late", "C1", "Z", 40.0),  # a month after C1 was reached: outside the 14-day window
    ]
    arrays = _arrays(rows)
    finder = RingFinder(arrays, np.full(len(arrays.account_ids), 0.5))
    ids = arrays.transfer_ids[finder.rows].tolist()
    finder.link = np.array([0.05 if t == "e1" else 0.9 for t in ids])
    assert finder.walk == "paths"
    result = finder.expand("A1")  # the path walk's own window and threshold
    got = {m.account: m for m in result.members}
    assert set(got) == {"C1", "A2", "D1"}  # not SHOP (0.9 × 0.05), nor Z (too late)
    # each path's probability over the strongest one's (0.9, to C1)
    assert got["C1"].score == pytest.approx(1.0) and got["C1"].hops == 1
    assert got["A2"].score == pytest.approx(0.9) and got["D1"].score == pytest.approx(0.9)
    assert result.as_dict()["walk"] == "paths"
    # with a wider window the late link is followed too
    wide = {m.account for m in finder.expand("A1", window_days=60).members}
    assert "Z" in wide and "SHOP" not in wide


class _GapSteps:
    """A stand-in step model: a step is as likely as it is soon after the link before it
    (half-life two days), whatever else the columns say."""

    names = STEP_NAMES

    def score(self, X: np.ndarray) -> np.ndarray:
        hours = np.expm1(X[:, STEP_NAMES.index("gap_hours")])
        return 0.9 * 0.5 ** (hours / 48.0)


def test_the_step_model_keeps_the_walk_in_the_seeds_pattern_at_a_shared_hub() -> None:
    rows = [
        ("p1", "A1", "H", 10.0),  # pattern P: A1 and A2 pay hub H, H passes it on to D1
        ("p2", "A2", "H", 10.2),
        ("p3", "H", "D1", 10.5),
        ("q1", "B1", "H", 19.0),  # pattern Q through the same hub nine days later
        ("q2", "H", "E1", 19.3),
    ]
    arrays = _arrays(rows)
    finder = RingFinder(arrays, np.full(len(arrays.account_ids), 0.5))
    finder.link = np.full(len(finder.rows), 0.9)  # every link looks like laundering
    # the link model alone walks from P into Q through the hub (all within its 14-day window)
    alone = {m.account for m in finder.expand("A1", threshold=0.5).members}
    assert alone == {"H", "A2", "D1", "B1", "E1"}
    finder.steps = _GapSteps()
    result = finder.expand("A1")  # the step walk's own threshold
    got = {m.account: m for m in result.members}
    assert set(got) == {"H", "A2", "D1"}  # Q's accounts are nine days off P's step at H
    assert got["H"].score == pytest.approx(1.0)
    # A2 paid H 0.2 days (4.8 h) after A1 did: 0.9 × 0.9 · 0.5^(4.8/48), over H's 0.9
    assert got["A2"].score == pytest.approx(0.9 * 0.5 ** (4.8 / 48), rel=1e-4)
    assert result.as_dict()["steps"] is True and result.as_dict()["walk"] == "paths"


def test_step_features_read_each_step_against_the_hubs_other_links() -> None:
    rows = [
        ("a", "A1", "H", 10.0),
        ("b", "H", "D1", 10.5),  # out of H twelve hours after A1's payment, twice the amount
        ("c", "A2", "H", 12.0),
    ]
    arrays = _arrays(rows)
    arrays.amount[:] = [100.0, 200.0, 100.0]
    finder = RingFinder(arrays)
    finder.link = np.array([0.9, 0.8, 0.7])
    pos = {t: i for i, t in enumerate(arrays.transfer_ids[finder.rows].tolist())}
    h = int(arrays.index["H"])
    hub, first, nxt = finder.steps_at(np.array([h]), np.array([pos["a"]]), 14 * DAY)
    assert sorted(nxt.tolist()) == sorted([pos["b"], pos["c"]]) and (first == pos["a"]).all()
    amount = arrays.amount[finder.rows]
    X = step_features(finder.ts, finder.u, amount, finder.link, hub, first, nxt)
    col = {name: X[:, j] for j, name in enumerate(STEP_NAMES)}
    b = int(np.flatnonzero(nxt == pos["b"])[0])
    c = 1 - b
    assert np.expm1(col["gap_hours"][b]) == pytest.approx(12.0)
    assert col["gap_sign"][b] == 1.0 and col["first_into_hub"][b] == 1.0
    assert col["next_out_of_hub"][b] == 1.0 and col["next_out_of_hub"][c] == 0.0
    assert col["amount_ratio"][b] == pytest.approx(np.log(2.0))
    assert col["link_first"][b] == 0.9 and col["link_next"][c] == 0.7
    # b is the sooner and the likelier of H's two other links: rank 0 on both; two candidates
    assert col["gap_rank"][b] == 0 and col["gap_rank"][c] == 1
    assert col["link_rank"][b] == 0 and col["link_rank"][c] == 1
    assert (col["candidates"] == 2).all()
    # a window shorter than A2's payment leaves only b
    _, _, near = finder.steps_at(np.array([h]), np.array([pos["a"]]), 1 * DAY)
    assert near.tolist() == [pos["b"]]


def test_the_step_model_needs_the_link_model_and_steps_within_patterns() -> None:
    arrays = _arrays([("f1", "A1", "C1", 10.0), ("f2", "A2", "C1", 10.5)])
    finder = RingFinder(arrays)
    with pytest.raises(AssistantError, match="步進模型需要連結模型 / the step model needs"):
        RingFinder(arrays, np.full(3, 0.5), steps=_GapSteps())
    laundering = np.ones(2, dtype=bool)
    with pytest.raises(AssistantError, match=r"連續交易不足.*too few steps"):
        fit_steps(arrays, laundering, np.array([0, 1]), np.full(len(finder.rows), 0.9))
    with pytest.raises(AssistantError, match="one link probability per new link"):
        fit_steps(arrays, laundering, np.array([0, 0]), np.full(5, 0.9))


class _TieMembers:
    """A stand-in member model: a candidate is as likely as the core accounts it trades with
    are many (an eighth each)."""

    names = MEMBER_NAMES

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.minimum(X[:, MEMBER_NAMES.index("core_ties")] / 8.0, 1.0)


_TIED = [
    ("a", "S", "H", 10.0),  # the seed S pays H and X; H and X both pass on to D1, D1 to E1
    ("b", "A2", "H", 10.2),
    ("c", "H", "D1", 10.5),
    ("d", "D1", "E1", 11.0),
    ("e", "S", "X", 10.1),
    ("f", "X", "D1", 10.3),
]


def test_member_features_read_how_a_candidate_sits_among_the_ring() -> None:
    arrays = _arrays(_TIED)
    finder = RingFinder(arrays, np.full(len(arrays.account_ids), 0.5))
    finder.link = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])  # percentiles 6/6 … 1/6
    pos = arrays.index
    scores = np.zeros(finder.n)
    hop = np.full(finder.n, -1)
    for acct, sc, h in [("S", 0, 0), ("H", 1, 1), ("X", 0.5, 1), ("A2", 0.3, 2)]:
        scores[pos[acct]], hop[pos[acct]] = sc, h
    scores[pos["D1"]], hop[pos["D1"]] = 0.25, 2
    scores[pos["E1"]], hop[pos["E1"]] = 0.1, 3  # below the core
    near = np.array([pos[a] for a in ("H", "X", "A2", "D1", "E1")])
    X = finder.member_features(pos["S"], near, scores, hop, np.arange(6))
    col = {
        name: dict(zip(("H", "X", "A2", "D1", "E1"), X[:, j], strict=True))
        for j, name in enumerate(MEMBER_NAMES)
    }
    assert col["path_score"] == {"H": 1, "X": 0.5, "A2": 0.3, "D1": 0.25, "E1": 0.1}
    assert col["hops"] == {"H": 1, "X": 1, "A2": 2, "D1": 2, "E1": 3}
    assert np.expm1(col["score_rank"]["D1"]) == pytest.approx(3)
    # core: the seed and every candidate scoring 0.2 or more (E1 is not); each tie counts once
    assert col["core_ties"] == {"H": 3, "X": 2, "A2": 1, "D1": 2, "E1": 1}
    assert col["core_link_pct"]["H"] == pytest.approx(1 + 5 / 6 + 4 / 6)
    assert col["core_link_pct"]["D1"] == pytest.approx(4 / 6 + 1 / 6)  # not E1's link
    assert col["link_max_pct"]["D1"] == pytest.approx(4 / 6)
    # D1's nearest link to the seed's (days 10.0 and 10.1) is X's at 10.3: 4.8 hours
    assert np.expm1(col["seed_gap_hours"]["D1"]) == pytest.approx(4.8, abs=1e-3)
    assert np.expm1(col["seed_gap_hours"]["H"]) == pytest.approx(0.0, abs=1e-3)
    assert np.expm1(col["degree"]["D1"]) == pytest.approx(3)
    # the seed's counterparties are H and X: D1 trades with both, A2 with H
    assert col["shared"] == {"H": 0, "X": 0, "A2": 1, "D1": 2, "E1": 0}
    assert list(col["candidates"].values()) == [pytest.approx(np.log1p(5))] * 5


def test_the_member_model_judges_the_step_walks_candidates_three_hops_out() -> None:
    arrays = _arrays(_TIED)
    finder = RingFinder(arrays, np.full(len(arrays.account_ids), 0.5))
    finder.link = np.full(len(finder.rows), 0.9)
    finder.steps = _GapSteps()
    two = {m.account for m in finder.expand("S", threshold=0.0).members}
    assert "E1" not in two  # the step walk alone goes two hops
    finder.members = _TieMembers()
    result = finder.expand("S", threshold=0.0)
    got = {m.account: m for m in result.members}
    assert got["E1"].hops == 3  # three hops with a member model
    assert got["H"].score == pytest.approx(3 / 8)  # ties to S, A2 and D1, each in the core
    assert result.as_dict()["member_model"] is True and result.threshold == 0.0
    # its own threshold: the model's probability, not a share of the strongest path
    kept = {m.account for m in finder.expand("S").members}
    assert kept == {a for a, m in got.items() if m.score >= MEMBER_THRESHOLD}
    assert kept and kept != set(got)


def test_each_hop_goes_on_from_the_likeliest_accounts_only() -> None:
    arrays = _arrays([*_TIED, ("g", "X", "Z", 10.4)])
    finder = RingFinder(arrays, np.full(len(arrays.account_ids), 0.5))
    finder.link = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.8])  # S-H likelier than S-X
    assert finder.frontier == 100
    every = {m.account for m in finder.expand("S", threshold=0.0, hops=2).members}
    assert "Z" in every  # reached only through X
    narrow = RingFinder(arrays, np.full(len(arrays.account_ids), 0.5), frontier=1)
    narrow.link = finder.link
    got = {m.account for m in narrow.expand("S", threshold=0.0, hops=2).members}
    # the second hop goes on from H only: X is still a member, its own counterparty is not
    assert "X" in got and "Z" not in got and {"A2", "D1"} <= got


def test_the_member_model_needs_the_step_model_and_accomplices_to_learn_from() -> None:
    arrays = _arrays(_TIED)
    mule = np.full(len(arrays.account_ids), 0.5)
    with pytest.raises(AssistantError, match="成員模型需要步進模型 / the member model needs"):
        RingFinder(arrays, mule, members=_TieMembers())
    with pytest.raises(AssistantError, match=r"同夥不足.*too few accomplices"):
        fit_member_rows(np.zeros((5, len(MEMBER_NAMES))), np.zeros(5, dtype=int))


def test_planted_seeds_want_every_pattern_the_account_launders_for() -> None:
    arrays = _arrays([*_TIED, ("g", "CASH001", "D1", 11.5)])
    laundering = np.array([True, True, True, True, False, False, True])
    pattern = np.array([0, 0, 0, 1, -1, -1, 1])
    rings = pattern_rings(arrays, laundering, pattern)
    pos = arrays.index
    # pattern 1: D1 to E1 and the cash deposit into D1; the cash endpoint is no ring account
    assert sorted(rings) == ["0", "1"]
    assert set(rings["0"].tolist()) == {pos["S"], pos["H"], pos["A2"], pos["D1"]}
    assert set(rings["1"].tolist()) == {pos["D1"], pos["E1"]}
    seeds = planted_seeds(rings, per_pattern=5)
    truth = {(key, s): t for key, s, t in seeds}
    # D1 is in both: its truth is every other account of both
    assert truth[("0", pos["D1"])] == {pos["S"], pos["H"], pos["A2"], pos["E1"]}
    assert truth[("1", pos["E1"])] == {pos["D1"]}
    assert len(planted_seeds(rings, per_pattern=1)) == 2


def test_link_features_count_the_context_of_each_link() -> None:
    from assistant.fraud.links import LINK_NAMES, link_features

    rows = [
        ("f1", "A1", "C1", 10.0),
        ("f2", "A2", "C1", 10.5),
        ("f3", "C1", "D1", 11.0),  # C1 passes the money on within a day
        ("f4", "A1", "D2", 30.0),  # A1's next new link three weeks later
    ]
    arrays = _arrays(rows)
    mule = np.array([0.9 if a.startswith("C") else 0.1 for a in arrays.account_ids.tolist()])
    finder = RingFinder(arrays, mule)
    X = link_features(arrays, finder.rows, finder.u, finder.v, finder.ts, mule, raw=True)
    col = {name: X[:, j] for j, name in enumerate(LINK_NAMES)}
    row = {t: i for i, t in enumerate(arrays.transfer_ids[finder.rows].tolist())}
    f1, f3 = row["f1"], row["f3"]
    assert col["mule_to"][f1] == 0.9 and col["mule_from"][f1] == 0.1
    assert col["to_new_in_week"][f1] == 2  # C1 was paid by A1 and A2 that week
    assert col["from_new_out_week"][f1] == 1  # A1's other new link is three weeks away
    assert col["from_new_out"][f1] == 2
    assert col["to_out_after"][f1] == 1 and col["to_out_after"][f3] == 0
    assert col["from_in_before"][f3] == 2  # C1 received twice in the three days before f3
    # C1's other new links that week: A2 (0.1) and D1 (0.1) for f1's receiver
    assert col["to_suspects_week"][f1] == pytest.approx(0.2)
    assert col["to_suspect_share_week"][f1] == pytest.approx(0.1)
    assert col["pair_transfers"][f1] == 1
    # the model reads each column as a percentile among the ledger's links: f1's receiver was
    # paid twice that week, more than any other link's receiver
    ranks = link_features(arrays, finder.rows, finder.u, finder.v, finder.ts, mule)
    assert ranks.shape == X.shape and ((ranks > 0) & (ranks <= 1)).all()
    j = LINK_NAMES.index("to_new_in_week")
    assert ranks[f1, j] == ranks[row["f2"], j] == ranks[:, j].max()


def test_the_link_model_needs_mule_scores_and_labelled_links() -> None:
    from assistant.fraud.rings import fit_links

    arrays = _arrays([("f1", "A1", "C1", 10.0), ("f2", "A2", "C1", 10.5)])
    with pytest.raises(AssistantError, match="連結模型需要人頭分數 / the link model needs"):
        RingFinder(arrays, None, links=object())
    with pytest.raises(AssistantError, match="洗錢交易不足"):
        fit_links(arrays, np.full(3, 0.5), np.zeros(2, dtype=bool))


def test_without_marked_laundering_transfers_the_walk_stays_pagerank(tmp_path: Path) -> None:
    c = Container(make_settings(tmp_path / "data"))
    try:
        c.fraud.generate(
            accounts=1500, transfers=12000, seed=5, start=date(2024, 1, 1), days=30, rings=4
        )
        investigator = c.users.ensure("ring-investigator-pr", "fraud")
        seed = sorted(_rings(c)["R001"])[0]
        first = c.fraud.train()
        assert first["link_model"] and first["step_model"] and first["member_model"]
        steps, members = Path(first["step_model"]), Path(first["member_model"])
        assert c.fraud_desk.ring(investigator, seed)["walk"] == "paths"
        # the accounts keep their labels, the transfers lose theirs: no link model to fit, and
        # the one fitted before is removed rather than kept for another ledger's links
        with c.engine.begin() as db:
            db.execute(text("UPDATE fraud_transfer SET pattern = NULL"))
        out = c.fraud.train()
        assert out["link_model"] is None and "沒有標記的洗錢交易" in out["link_model_note"]
        assert not steps.exists() and not members.exists()  # the others go with it
        ring = c.fraud_desk.ring(investigator, seed)
        assert ring["walk"] == "pagerank" and ring["scored"] is True and ring["members"]
    finally:
        c.close()


def test_a_victims_marked_payment_is_no_accomplice_link() -> None:
    from assistant.fraud.links import accomplice_rows

    arrays = _arrays(
        [("v1", "VICTIM", "M1", 1.0), ("m1", "M1", "M2", 1.1), ("e1", "M2", "SHOP", 2.0)]
    )
    fraud = np.array([a.startswith("M") for a in arrays.account_ids.tolist()])
    rows = accomplice_rows(arrays, {"v1", "m1"}, fraud)
    assert dict(zip(arrays.transfer_ids.tolist(), rows.tolist(), strict=True)) == {
        "v1": False,  # marked as the pattern's, but the victim is not labelled fraud
        "m1": True,
        "e1": False,  # between a mule and a shop, unmarked
    }
