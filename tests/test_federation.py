"""金融盾: a federation of banks through real Flower processes, and its arithmetic.

One end-to-end test runs a SuperLink and three SuperNodes on loopback (two banks with ledgers,
one whose ledger vanished after it joined: it fails mid-run), two rounds, through the desk: the
audit trail gets every round and the model, the model deploys as the fraud desk's scorer and
its scores say they are federated. The other tests drive the aggregation directly: a poisoned
update is clipped, a client of another version and a dropped bank are refused with a clear
message, too few banks leave the model unchanged.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from assistant.container import Container
from assistant.errors import AssistantError
from assistant.federation.aggregate import RoundFailed, Update, aggregate
from assistant.federation.apps import bank_train
from assistant.federation.local import open_bank_data
from assistant.federation.model import (
    PROTOCOL,
    FederatedScorer,
    features_digest,
    init_params,
    local_train,
    model_input,
    params_hash,
    predict,
)
from assistant.federation.split import even_members, member_views
from assistant.fraud.features import FEATURE_NAMES
from assistant.fraud.generator import BANKS, generate
from assistant.permissions import UserContext
from tests.conftest import make_settings

ADMIN = UserContext("fed-admin", "admin", None)
SEEN = {"bank1": ["chain", "cycle"], "bank2": ["scatter_gather", "fan_in"]}


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two banks' ledgers cut from one small generated ledger, each having seen other
    typologies."""
    folder = tmp_path_factory.mktemp("banks")
    g = generate(600, 4000, seed=3, start=date(2024, 1, 1), days=20, fraud_rings=12)
    out = {}
    for v in member_views(g, even_members(list(BANKS), 2), SEEN):
        v.write(folder / f"{v.name}.db")
        out[v.name] = folder / f"{v.name}.db"
    return out


def test_each_bank_sees_its_own_typologies(ledgers: dict[str, Path]) -> None:
    a, b = open_bank_data(str(ledgers["bank1"])), open_bank_data(str(ledgers["bank2"]))
    assert a.X.shape[1] == b.X.shape[1] == len(FEATURE_NAMES)
    # both have mules to learn from, and accounts nobody there has judged (the other bank's
    # customers, the mules of typologies it has not seen)
    assert a.y.sum() > 0 and b.y.sum() > 0
    assert (a.labels == -1).any() and (b.labels == -1).any()
    # each labels only its own customers: a customer of the other bank is a counterparty
    own_a = {i for i, lab in zip(a.ids, a.labels, strict=True) if lab >= 0}
    own_b = {i for i, lab in zip(b.ids, b.labels, strict=True) if lab >= 0}
    assert own_a and own_b and not own_a & own_b


def _settings(tmp: Path) -> Container:
    return Container(make_settings(tmp / "data"))


def test_two_banks_two_rounds_through_flower_processes(
    ledgers: dict[str, Path], tmp_path: Path
) -> None:
    c = _settings(tmp_path)
    desk = c.federation_desk
    try:
        desk.start(ADMIN)
        desk.join(ADMIN, "bank1", str(ledgers["bank1"]))
        desk.join(ADMIN, "bank2", str(ledgers["bank2"]))
        # a third bank whose ledger disappears after it joined (its client fails in round 1)
        # and whose SuperNode is stopped after round 1 (it is gone in round 2)
        gone = tmp_path / "gone.db"
        gone.write_bytes(ledgers["bank1"].read_bytes())
        desk.join(ADMIN, "bank3", str(gone))
        gone.unlink()
        with pytest.raises(AssistantError, match="has already joined"):
            desk.join(ADMIN, "bank1", str(ledgers["bank1"]))
        runs = c.settings.data_dir / "federation" / "runs"

        def drop_out() -> None:
            deadline = time.monotonic() + 120
            while not list(runs.glob("*/rounds.jsonl")) and time.monotonic() < deadline:
                time.sleep(0.2)
            desk.leave(ADMIN, "bank3")

        dropper = threading.Thread(target=drop_out, daemon=True)
        dropper.start()
        result = desk.run(ADMIN, rounds=2, min_banks=2, node_wait=60.0, round_timeout=120.0)
        dropper.join(5)
        status = desk.status(ADMIN)
    finally:
        desk.stop(ADMIN)
    assert result["summary"]["status"] == "ok", result
    assert result["summary"]["rounds_ok"] == 2
    rounds = result["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    for r in rounds:
        assert sorted(r["participants"]) == ["bank1", "bank2"]
        refused = {b["bank"]: b["reason"] for b in r["banks"] if not b["accepted"]}
        # round 1: its client failed; round 2: its node was gone (the SuperLink says so, or
        # the round's time ran out; or it had left the SuperLink's list before the round)
        assert list(refused) == ["bank3"] if r["round"] == 1 else set(refused) <= {"bank3"}
        for reason in refused.values():
            assert ("未完成本輪" in reason and "did not complete the round" in reason) or (
                "逾時未回應" in reason and "dropped out" in reason
            )
        if r["round"] == 1:
            assert "no ledger database" in refused["bank3"]
        for b in r["banks"]:
            if b["accepted"]:
                assert b["examples"] > 0 and 0.5 <= b["metrics"]["auc_after"] <= 1.0
    # the model on disk is the last round's, whole (its hash checks out)
    model = FederatedScorer.load(result["model"])
    assert model.hash == rounds[-1]["sha256"] == result["summary"]["sha256"]
    assert rounds[1]["previous_sha256"] == rounds[0]["sha256"]
    assert status["runs"][-1]["status"] == "ok"

    # the audit trail: each round (who, when, hash, metrics) and the model
    trail = [r.tool_calls[0] for r in reversed(c.audit.recent(50)) if r.tool_calls]
    names = [t["name"] for t in trail]
    for op in (
        "federation.start",
        "federation.join",
        "federation.leave",
        "federation.model",
        "federation.stop",
    ):
        assert op in names
    logged = [t["args"] for t in trail if t["name"] == "federation.round"]
    assert [a["round"] for a in logged] == [1, 2]
    assert logged[-1]["sha256"] == model.hash
    assert sorted(logged[-1]["participants"]) == ["bank1", "bank2"]
    assert set(logged[-1]["metrics"]) >= {"bank1", "bank2"} and logged[-1]["sent"]

    # deployed as the fraud desk's scorer, on a ledger of this installation
    c.fraud_desk.generate(
        ADMIN, accounts=400, transfers=2500, seed=5, start=date(2024, 1, 1), days=14, rings=6
    )
    out = desk.deploy(ADMIN)
    assert out["hash"] == model.hash
    top = c.fraud_desk.top(ADMIN, 1)[0]
    scored = c.fraud_desk.score(ADMIN, top["account"])
    assert scored["model"]["kind"] == "federated" and "聯邦模型" in scored["model"]["zh"]
    assert model.hash[:12] in scored["model"]["en"]
    assert scored["reasons"]
    c.close()


# ---------------------------------------------------------------- the arithmetic, directly


def _banks(ledgers: dict[str, Path]) -> list:
    return [open_bank_data(str(p)) for p in ledgers.values()]


def test_a_poisoned_update_is_clipped(ledgers: dict[str, Path]) -> None:
    d = len(FEATURE_NAMES)
    g = init_params(d, "mlp")
    honest = [
        Update(
            bank=f"b{i}",
            params=local_train(g, model_input(b.X_train), b.y, "mlp")[0],
            examples=len(b.y),
        )
        for i, b in enumerate(_banks(ledgers))
    ]
    poison = Update(
        bank="evil", params=g - 1e6 * np.sign(np.arange(d * 16 + 33) % 3 - 1.0), examples=10**9
    )
    clean, _ = aggregate(g, honest, clip_norm=10.0, min_banks=2)
    bad, record = aggregate(g, [*honest, poison], clip_norm=10.0, min_banks=2)
    row = {b["bank"]: b for b in record["banks"]}
    assert row["evil"]["clipped"] and row["evil"]["update_norm"] > 1e6
    # whatever it sent, the model moved by at most the clip norm on its account
    assert np.linalg.norm(bad - g) <= 10.0 + 1e-9
    assert np.linalg.norm(bad - clean) <= 2 * 10.0
    assert np.all(np.isfinite(bad))
    # without clipping the same update wrecks the model
    wrecked, _ = aggregate(g, [*honest, poison], clip_norm=0.0, min_banks=2)
    assert np.linalg.norm(wrecked - g) > 1e5


def test_a_client_of_another_version_is_refused_both_ways(ledgers: dict[str, Path]) -> None:
    d = len(FEATURE_NAMES)
    g = init_params(d, "logistic")
    ok = [Update(bank=f"b{i}", params=g + 0.1, examples=10) for i in range(2)]
    old = Update(bank="old", protocol="twfin-fed-mule/0", params=g + 5.0, examples=10)
    new, record = aggregate(g, [*ok, old], clip_norm=10.0, min_banks=2)
    refused = {b["bank"]: b["reason"] for b in record["banks"] if not b["accepted"]}
    assert set(refused) == {"old"}
    assert "版本不符" in refused["old"] and "version mismatch" in refused["old"]
    assert np.allclose(new, g + 0.1)  # the old client's weights took no part
    # and a bank refuses a coordinator of another version, saying why, training nothing
    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    content = RecordDict(
        {
            "model": ArrayRecord(numpy_ndarrays=[g]),
            "config": ConfigRecord({"protocol": "twfin-fed-mule/0", "features": "x"}),
        }
    )
    reply = bank_train(content, "bank1", str(ledgers["bank1"]))
    info = reply.config_records["info"]
    assert info["protocol"] == PROTOCOL and "version mismatch" in str(info["error"])
    assert "model" not in reply.array_records


def test_a_bank_that_drops_out_leaves_no_corrupted_model() -> None:
    d = len(FEATURE_NAMES)
    g = init_params(d, "mlp")
    dropped = Update(bank="b2", error="逾時未回應 / no reply within 5 s: the bank dropped out")
    broken = Update(bank="b3", params=np.full(g.size, np.nan), examples=10)
    short = Update(bank="b4", params=g[:10], examples=10)
    with pytest.raises(RoundFailed) as err:
        aggregate(
            g,
            [Update(bank="b1", params=g + 1, examples=5), dropped, broken, short],
            clip_norm=10.0,
            min_banks=2,
            round_no=3,
        )
    assert "模型維持不變" in str(err.value) and "the model is unchanged" in str(err.value)
    rec = err.value.record
    assert rec["status"] == "failed" and rec["sha256"] == params_hash(g)
    reasons = {b["bank"]: b["reason"] for b in rec["banks"] if not b["accepted"]}
    assert "dropped out" in reasons["b2"]
    assert "NaN" in reasons["b3"] and "wrong number of weights" in reasons["b4"]


def test_model_file_round_trip_and_tampering(tmp_path: Path, ledgers: dict[str, Path]) -> None:
    b = _banks(ledgers)[0]
    p, _ = local_train(init_params(len(FEATURE_NAMES), "mlp"), model_input(b.X_train), b.y, "mlp")
    m = FederatedScorer(p, "mlp", info={"rounds": 1, "banks": ["bank1"]})
    path = tmp_path / "model.json"
    m.save(path)
    back = FederatedScorer.load(path)
    assert np.array_equal(back.score(b.X), m.score(b.X))
    assert np.array_equal(back.score(b.X), predict(p, model_input(b.X), "mlp"))
    assert back.explain(b.X[0], 3)[0].feature in FEATURE_NAMES
    doc = json.loads(path.read_text())
    doc["params"][0] += 1.0
    path.write_text(json.dumps(doc))
    with pytest.raises(AssistantError, match="雜湊不符"):
        FederatedScorer.load(path)
    assert features_digest() == features_digest(list(FEATURE_NAMES))


def test_differential_privacy_adds_noise_and_reports_epsilon() -> None:
    from assistant.federation.aggregate import dp_epsilon

    g = np.zeros(50)
    ups = [Update(bank=f"b{i}", params=g + 0.01 * (i + 1), examples=10 + i) for i in range(3)]
    plain, _ = aggregate(g, ups, clip_norm=1.0, min_banks=2)
    noisy, rec = aggregate(
        g, ups, clip_norm=1.0, min_banks=2, noise_multiplier=1.0, rng=np.random.default_rng(0)
    )
    assert rec["noise_std"] == 1.0 and not np.allclose(noisy, plain)
    # the noise on the mean is z × clip / banks: its spread shows it
    assert 0.2 < float(np.std(noisy - plain)) < 0.5
    with pytest.raises(AssistantError, match="clip norm"):
        aggregate(g, ups, clip_norm=0.0, min_banks=2, noise_multiplier=1.0)
    eps = [dp_epsilon(z, 5) for z in (0.5, 1.0, 2.0, 4.0)]
    assert eps == sorted(eps, reverse=True) and 10 < eps[1] < 15
    assert dp_epsilon(1.0, 10) > dp_epsilon(1.0, 5) and dp_epsilon(0.0, 5) == float("inf")
