"""金融盾: a federation of banks through real Flower processes, and its arithmetic.

One end-to-end test runs a SuperLink and three SuperNodes on loopback (two banks with ledgers,
one whose ledger vanished after it joined: it fails mid-run), two rounds, through the desk: the
audit trail gets every round and the model, the model deploys as the fraud desk's scorer and
its scores say they are federated. Another runs the set-up for real banks: a consortium CA, the
coordinator on TLS with node authentication, banks registered by their public keys; a bank
whose key was not registered, one without the CA and one trusting another CA are refused. The
other tests drive the aggregation directly: a poisoned update is clipped, a client of another
version and a dropped bank are refused with a clear message, too few banks leave the model
unchanged.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from assistant.cli import cli
from assistant.container import Container
from assistant.errors import AssistantError
from assistant.federation.aggregate import (
    RoundFailed,
    Update,
    aggregate,
    bank_delta,
    secure_aggregate,
)
from assistant.federation.apps import bank_train, round_config, train_update
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
from assistant.federation.processes import Tls, tls_host
from assistant.federation.runconfig import RunSettings
from assistant.federation.secure import Quantisation, secure_mod
from assistant.federation.split import even_members, member_views
from assistant.fraud.features import FEATURE_NAMES
from assistant.fraud.generator import BANKS, generate
from assistant.permissions import UserContext
from tests.cli_users import login_env
from tests.conftest import PG_MODE, make_settings

ADMIN = UserContext("fed-admin", "admin", None)
SEEN = {"bank1": ["chain", "cycle"], "bank2": ["scatter_gather", "fan_in"]}
SEEN3 = {"bank1": ["chain"], "bank2": ["scatter_gather", "fan_in"], "bank3": ["cycle"]}


# The banks' ledgers are SQLite files in both passes and the coordinator's desk path on
# PostgreSQL is the plain two-bank run's; these slow real-process runs (TLS, SecAgg+: about two
# minutes) would repeat the same work on the PostgreSQL pass, so they run on the SQLite pass.
_ONCE = pytest.mark.skipif(
    PG_MODE, reason="run on the SQLite pass: the banks' ledgers are SQLite files in both passes"
)


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


@pytest.fixture(scope="module")
def ledgers3(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same small world cut into three banks: secure aggregation needs three."""
    folder = tmp_path_factory.mktemp("banks3")
    g = generate(600, 4000, seed=3, start=date(2024, 1, 1), days=20, fraud_rings=12)
    out = {}
    for v in member_views(g, even_members(list(BANKS), 3), SEEN3):
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


# ---------------------------------------------------------------- real banks: TLS, node keys


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _consortium(folder: Path, dns: list[str], ips: list[str]) -> dict[str, Path]:
    """A consortium CA and the coordinator's certificate (``dns`` and ``ips`` in its SAN),
    signed by it, as an operator would make them (README: openssl does the same)."""
    now = dt.datetime.now(dt.UTC)
    valid = (now - dt.timedelta(minutes=5), now + dt.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("TWFin consortium CA"))
        .issuer_name(_name("TWFin consortium CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP384R1())
    san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name((dns or ips)[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    out = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    out["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out["key"].write_bytes(_pem_key(key))
    return out


def _node_key(folder: Path, bank: str) -> tuple[Path, Path]:
    """A bank's ECDSA P-384 key pair in OpenSSH format, what
    ``ssh-keygen -t ecdsa -b 384 -N "" -f bankN`` writes."""
    key = ec.generate_private_key(ec.SECP384R1())
    private, public = folder / bank, folder / f"{bank}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    )
    return private, public


def _cli(data: Path, *args: str) -> tuple[int, str]:
    """``assistant --data-dir DATA ARGS`` as the consortium's operators type it."""
    if data not in _LOGINS:
        _LOGINS[data] = login_env(data)
    result = CliRunner().invoke(cli, ["--data-dir", str(data), *args], env=_LOGINS[data])
    return result.exit_code, result.output


_LOGINS: dict[Path, dict[str, str]] = {}


@_ONCE
def test_real_banks_tls_and_registered_node_keys(ledgers: dict[str, Path], tmp_path: Path) -> None:
    """README "For real banks", command by command, on loopback."""
    creds = _consortium(tmp_path / "consortium", ["localhost"], ["127.0.0.1"])
    rogue = _consortium(tmp_path / "rogue", ["localhost"], ["127.0.0.1"])
    keys = {b: _node_key(tmp_path, b) for b in ("bank1", "bank2", "bank3")}
    ca = str(creds["ca"])
    data = tmp_path / "data"
    try:
        code, out = _cli(
            data, "federation", "start", "--ca", ca, "--cert", str(creds["cert"]),
            "--key", str(creds["key"]), "--json",
        )  # fmt: skip
        assert code == 0, out
        coord = json.loads(out)
        assert coord["insecure"] is False and coord["fleet"].startswith("127.0.0.1:")
        # the coordinator registers the public keys the banks sent it
        nodes = {}
        for b in ("bank1", "bank2"):
            code, out = _cli(data, "federation", "register", b, str(keys[b][1]), "--json")
            assert code == 0, out
            nodes[b] = json.loads(out)["node_id"]
        code, out = _cli(data, "federation", "register", "bank1", str(keys["bank1"][1]))
        assert code != 0 and "無法登錄" in out and "already in use" in out
        for b in ("bank1", "bank2"):
            code, out = _cli(
                data, "federation", "join", b, str(ledgers[b]), "--superlink", coord["fleet"],
                "--ca", ca, "--node-key", str(keys[b][0]), "--json",
            )  # fmt: skip
            assert code == 0, out
            # the SuperLink knows it by the registered key
            assert json.loads(out)["node_id"] == nodes[b]
        join = ["federation", "join", "bank3", str(ledgers["bank1"]), "--superlink", coord["fleet"]]
        # a bank whose key nobody registered is turned away by the SuperLink
        code, out = _cli(data, *join, "--ca", ca, "--node-key", str(keys["bank3"][0]))
        assert code != 0 and "節點金鑰未登錄" in out and "not registered" in out
        # nor may a bank without a key register itself (Flower's default: SuperNode auth off)
        code, out = _cli(data, *join, "--ca", ca)
        assert code != 0 and "請以 --node-key 加入" in out and "requires node authentication" in out
        # a registered key does not help a bank that does not trust the consortium's CA...
        code, out = _cli(data, *join, "--ca", str(rogue["ca"]), "--node-key", str(keys["bank1"][0]))
        assert code != 0 and "無法以此 CA 驗證" in out and "does not verify against this CA" in out
        # ...nor one that speaks without TLS at all
        code, out = _cli(data, *join, "--connect-timeout", "4")
        assert code != 0 and "could not connect to the coordinator" in out
        code, out = _cli(data, "federation", "status", "--json")
        # the refused ones are not left running, nor counted as joined
        assert [b["bank"] for b in json.loads(out)["banks"]] == ["bank1", "bank2"]
        code, out = _cli(data, "federation", "run", "--rounds", "2", "--min-banks", "2", "--json")
        assert code == 0, out
        result = json.loads(out)
    finally:
        _cli(data, "federation", "stop")
    assert result["summary"]["status"] == "ok", result
    assert result["summary"]["rounds_ok"] == 2 and result["model"]
    for r in result["rounds"]:
        # only the registered banks took part, each with its own results
        assert sorted(r["participants"]) == ["bank1", "bank2"]
        assert sorted(b["bank"] for b in r["banks"]) == ["bank1", "bank2"]
        for b in r["banks"]:
            assert b["accepted"] and b["examples"] > 0 and 0.5 <= b["metrics"]["auc_after"] <= 1
    assert FederatedScorer.load(result["model"]).hash == result["summary"]["sha256"]
    c = _settings(tmp_path)
    trail = [r.tool_calls[0] for r in reversed(c.audit.recent(50)) if r.tool_calls]
    c.close()
    registered = [t for t in trail if t["name"] == "federation.register"]
    assert [t["args"]["bank"] for t in registered] == ["bank1", "bank2", "bank1"]
    refused = [t for t in trail if t["name"] == "federation.join" and t["args"]["bank"] == "bank3"]
    assert len(refused) == 4


def test_tls_needs_the_whole_set_and_names_the_host_the_certificate_holds(tmp_path: Path) -> None:
    creds = _consortium(tmp_path, ["coord.consortium.example"], [])
    with pytest.raises(AssistantError, match="missing --key"):
        Tls(ca=str(creds["ca"]), cert=str(creds["cert"])).coordinator_files()
    # listening everywhere, the coordinator's own `flwr` reaches it by its certificate's name
    assert tls_host(str(creds["cert"]), "0.0.0.0") == "coord.consortium.example"
    assert tls_host(str(creds["cert"]), "coord.consortium.example") == "coord.consortium.example"


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


# ---------------------------------------------------------------- secure aggregation (SecAgg+)

SECURE_CLIP = 2.0  # the command's default: these banks' changes (length ~4) are clipped
# SecAgg+'s rounding, measured on this test: the model after two rounds within 9e-7 of the
# plain run's in every weight (4e-6 in L2; Quantisation.tolerance bounds one round's at 1.2e-5
# in L2 here); weighting the mean otherwise moves the weights by 0.03
SECURE_TOL = 1e-5


def _plain_reference(
    ledgers: dict[str, Path], rounds: int, cfg: RunSettings
) -> tuple[np.ndarray, np.ndarray]:
    """What a plain run of the same banks, rounds and seed produces, computed here with the
    banks' and the coordinator's own code: the model, and (to show the tolerance can tell)
    the model an unweighted mean of the same changes would give."""
    g = init_params(len(FEATURE_NAMES), cfg.architecture, cfg.seed)
    unweighted = g
    for r in range(1, rounds + 1):
        updates = []
        for bank, path in ledgers.items():
            new, metrics = train_update(round_config(cfg, r), g, str(path))
            updates.append(Update(bank=bank, params=new, examples=int(metrics["examples"])))
        even = [Update(bank=u.bank, params=u.params, examples=1) for u in updates]
        unweighted, _ = aggregate(g, even, clip_norm=cfg.clip_norm, min_banks=3)
        g, _ = aggregate(g, updates, clip_norm=cfg.clip_norm, min_banks=3)
    return g, unweighted


@_ONCE
def test_secure_aggregation_three_banks_through_flower_processes(
    ledgers3: dict[str, Path], tmp_path: Path
) -> None:
    c = _settings(tmp_path)
    desk = c.federation_desk
    try:
        desk.start(ADMIN)
        for bank, path in ledgers3.items():
            desk.join(ADMIN, bank, str(path))
        # two banks in a secure sum could each read the other's update: refused, nothing runs
        with pytest.raises(AssistantError) as refused:
            desk.run(ADMIN, rounds=2, min_banks=2, secure_aggregation=True)
        started = time.monotonic()
        result = desk.run(
            ADMIN,
            rounds=2,
            min_banks=3,
            secure_aggregation=True,
            clip_norm=SECURE_CLIP,
            node_wait=60.0,
            round_timeout=120.0,
        )
        seconds = time.monotonic() - started
    finally:
        desk.stop(ADMIN)
    why = str(refused.value)
    assert "安全聚合至少需 3 家銀行" in why and "secure aggregation needs at least 3 banks" in why
    assert why.index("安全聚合") < why.index("secure aggregation")  # Chinese first
    assert not (c.settings.data_dir / "federation" / "runs" / "2").exists()  # one run only

    summary, rounds = result["summary"], result["rounds"]
    assert summary["status"] == "ok" and summary["rounds_ok"] == 2, result
    assert summary["secure_aggregation"] is True
    assert seconds < 150, seconds
    for rec in rounds:
        assert rec["secure_aggregation"] is True and rec["clipping"] == "bank"
        assert sorted(rec["participants"]) == ["bank1", "bank2", "bank3"]
        # the coordinator saw no bank's update: no length, no clipping flag, per bank; only
        # what a bank says in the clear, and the mean's length (clipped by the banks: ≤ 2)
        for b in rec["banks"]:
            assert b["accepted"] and b["examples"] > 0 and "update_norm" not in b
            assert "clipped" not in b and 0.5 <= b["metrics"]["auc_after"] <= 1.0
        assert 0 < rec["aggregate_norm"] <= SECURE_CLIP + 1e-4
        assert rec["quantisation"]["max_weight"] == max(b["examples"] for b in rec["banks"])
    model = FederatedScorer.load(result["model"])
    assert model.hash == rounds[-1]["sha256"] == summary["sha256"]

    # the same model as a plain run of the same banks, rounds and seed, within SecAgg+'s
    # rounding; a mean weighted otherwise would be far outside it
    cfg = RunSettings(
        out="",
        clip_norm=SECURE_CLIP,
        report_threshold=c.settings.fraud.report_threshold,
        structuring_band=c.settings.fraud.structuring_band,
    )
    plain, unweighted = _plain_reference(ledgers3, 2, cfg)
    assert np.max(np.abs(model.params - plain)) < SECURE_TOL
    assert np.max(np.abs(unweighted - plain)) > 100 * SECURE_TOL

    # the audit trail says it, and holds no bank's update
    trail = [r.tool_calls[0] for r in reversed(c.audit.recent(50)) if r.tool_calls]
    runs = [t for t in trail if t["name"] == "federation.run"]
    assert len(runs) == 1 and runs[0]["args"]["min_banks"] == 2  # the refused one
    logged = [t["args"] for t in trail if t["name"] == "federation.round"]
    assert [a["round"] for a in logged] == [1, 2]
    for a in logged:
        assert a["secure_aggregation"] is True and a["clipped"] == []
        assert a["aggregate_norm"] <= SECURE_CLIP + 1e-4
        assert set(a["metrics"]) == {"bank1", "bank2", "bank3"}
        assert not any("update_norm" in m for m in a["metrics"].values())
    c.close()


def test_secure_settings_are_refused_where_they_would_hide_nothing(tmp_path: Path) -> None:
    for bad, words in (
        ({"min_banks": 2}, "at least 3 banks"),
        ({"min_banks": 3, "clip_norm": 0.0}, "clip norm"),
        ({"min_banks": 3, "noise_multiplier": 1.0}, "differential privacy"),
    ):
        with pytest.raises(AssistantError, match=words):
            RunSettings(out="", secure_aggregation=True, **bad)  # type: ignore[arg-type]
    # a plain run keeps its settings
    assert RunSettings(out="", min_banks=2).secure_aggregation is False
    # through the command line: refused before anything starts
    code, out = _cli(
        tmp_path / "data", "federation", "run", "--secure-aggregation", "--min-banks", "2"
    )
    assert code != 0 and "安全聚合至少需 3 家銀行" in out and "at least 3 banks" in out


def test_a_bank_refuses_a_secure_round_of_two_whatever_the_coordinator_says() -> None:
    from flwr.app import ConfigRecord, Context, Message, MessageType, Metadata, RecordDict
    from flwr.common.secure_aggregation.secaggplus_constants import (
        RECORD_KEY_CONFIGS,
        Key,
        Stage,
    )

    def setup(banks: int, threshold: int) -> Message:
        cfg = {
            Key.STAGE: Stage.SETUP,
            Key.SAMPLE_NUMBER: banks,
            Key.SHARE_NUMBER: banks,
            Key.THRESHOLD: threshold,
            Key.CLIPPING_RANGE: 2.0,
            Key.TARGET_RANGE: 2**22,
            Key.MOD_RANGE: 2**32,
            Key.MAX_WEIGHT: 100.0,
        }
        content = RecordDict({RECORD_KEY_CONFIGS: ConfigRecord(cfg)})
        # as it arrives at the bank's SuperNode (a message made outside a ServerApp needs
        # its metadata given)
        meta = Metadata(
            run_id=1,
            message_id="m1",
            src_node_id=0,
            dst_node_id=7,
            reply_to_message_id="",
            group_id="1",
            created_at=time.time(),
            ttl=60.0,
            message_type=MessageType.TRAIN,
        )
        return Message(content=content, metadata=meta)

    def never(msg: Message, ctx: Context) -> Message:
        raise AssertionError("the setup stage trains nothing")

    ctx = Context(run_id=1, node_id=7, node_config={}, state=RecordDict(), run_config={})
    with pytest.raises(AssistantError, match="at least 3 banks"):
        secure_mod(setup(2, 2), ctx, never)
    with pytest.raises(AssistantError, match="threshold must be at least 2"):
        secure_mod(setup(3, 1), ctx, never)
    # three banks, threshold two: Flower's mod answers with this bank's public keys
    reply = secure_mod(setup(3, 2), ctx, never)
    assert {Key.PUBLIC_KEY_1, Key.PUBLIC_KEY_2} <= set(
        reply.content.config_records[RECORD_KEY_CONFIGS]
    )


def test_the_banks_clip_and_the_coordinator_checks_only_the_secure_mean() -> None:
    g = np.zeros(109)
    # a bank's own checks before masking: clipped to the norm, broken updates refused
    change = bank_delta(g, g + 1.0, 2.0)
    assert np.isclose(np.linalg.norm(change), 2.0)
    with pytest.raises(AssistantError, match="NaN"):
        bank_delta(g, np.full(109, np.nan), 2.0)
    with pytest.raises(AssistantError, match="wrong number of weights"):
        bank_delta(g, g[:10], 2.0)
    rows = [
        {"bank": f"b{i}", "metrics": {"auc_after": 0.9}, "examples": 10 + i, "accepted": True}
        for i in range(3)
    ]
    q = Quantisation(clipping_range=2.0, max_weight=12)
    tol = q.tolerance(3, 33, 109)
    assert 0 < tol < 1e-4
    kw = {"clip_norm": 2.0, "min_banks": 3, "round_no": 4, "tolerance": tol}
    new, rec = secure_aggregate(g, g + 0.1, rows, **kw)  # type: ignore[arg-type]
    assert np.allclose(new, 0.1) and rec["status"] == "ok" and rec["secure_aggregation"] is True
    assert rec["aggregate_norm"] == pytest.approx(0.1 * np.sqrt(109))
    bad_means = {
        "did not clip": g + 1.0,  # length 10.4 > 2: some bank skipped its clipping
        "NaN or infinity": np.full(109, np.inf),
        "has 10 weights": g[:10],
        "did not complete": None,
    }
    for words, mean in bad_means.items():
        with pytest.raises(RoundFailed, match=words) as err:
            secure_aggregate(g, mean, rows, **kw)  # type: ignore[arg-type]
        assert "模型維持不變" in str(err.value) and err.value.record["sha256"] == params_hash(g)
    # two banks in the sum: refused even with min_banks 2; a refused bank's weight in the sum
    two = [*rows[:2], {**rows[2], "accepted": False, "reason": "x", "examples": 0}]
    with pytest.raises(RoundFailed, match="holds 2 banks' updates, 3 needed"):
        secure_aggregate(g, g + 0.1, two, **{**kw, "min_banks": 2})  # type: ignore[arg-type]
    four = [*rows, {"bank": "b9", "metrics": {}, "examples": 50, "accepted": False, "reason": "x"}]
    with pytest.raises(RoundFailed, match="refused updates are in the sum: b9"):
        secure_aggregate(g, g + 0.1, four, **kw)  # type: ignore[arg-type]
