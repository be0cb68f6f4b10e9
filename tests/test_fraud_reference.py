"""The reference mule scorer: a ledger without labels of its own (what a bank's export is) is
scored anyway, by a model fitted on generated ledgers, and says so; a bank's own trained model
takes precedence; a reference file of another model version is replaced, not trusted."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from assistant.container import Container
from assistant.errors import AssistantError
from assistant.fraud.generator import generate
from assistant.fraud.reference import LEDGERS, ReferenceModel, build
from assistant.permissions import UserContext
from tests.conftest import make_settings

INV = UserContext("inv", "fraud")
TINY = ({"seed": 7, "accounts": 600, "transfers": 6_000, "rings": 6, "days": 20},)


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Container, dict[str, bool]]:
    """A generated ledger of a seed the reference never saw, imported as a bank exports it: a
    transfer CSV without any label. The truth stays with the test."""
    tmp = tmp_path_factory.mktemp("unlabelled")
    g = generate(4_000, 40_000, seed=4242, start=date(2024, 3, 1), days=30, fraud_rings=8)
    assert 4242 not in {spec["seed"] for spec in LEDGERS}
    t = g.transfers
    path = tmp / "transfers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["序號", "時間", "轉出", "轉入", "金額", "種類"])
        for i in range(len(t.id)):
            kind = "cash_out" if t.kind[i] == "cash_out" else "transfer"
            when = datetime.fromtimestamp(int(t.ts[i]), tz=UTC).isoformat()
            w.writerow([t.id[i], when, t.from_account[i], t.to_account[i], t.amount[i], kind])
    c = Container(make_settings(tmp / "data"))
    mapping = {
        "id": "序號",
        "ts": "時間",
        "from_account": "轉出",
        "to_account": "轉入",
        "amount": "金額",
        "kind": "種類",
    }
    report = c.fraud_desk.import_csv(INV, path, mapping)
    assert report.added > 0.99 * len(t.id), report
    yield c, g.labels
    c.close()


def test_an_unlabelled_ledger_is_scored_by_the_reference_and_says_so(unlabelled) -> None:
    c, truth = unlabelled
    with pytest.raises(AssistantError, match=r"標記.*labelled"):
        c.fraud_desk.train(INV)  # nothing to train on: no labels came with the export
    top = c.fraud_desk.top(INV, 40)
    mules = {a for a, is_mule in truth.items() if is_mule}
    hits = sum(r["account"] in mules for r in top)
    assert hits >= 30, (hits, top[:5])  # the planted mules lead the list
    one = c.fraud_desk.score(INV, top[0]["account"])
    assert one["model"]["kind"] == "reference"
    assert "參考模型" in one["model"]["zh"] and "reference model" in one["model"]["en"]
    assert c.fraud_desk.model(INV)["kind"] == "reference"


def test_reference_ranks_the_unseen_ledgers_mules(unlabelled) -> None:
    c, truth = unlabelled
    ranked = c.fraud_desk.top(INV, 10_000)
    scores = {r["account"]: r["score"] for r in ranked}
    labelled = [a for a in truth if a in scores]
    y = np.array([truth[a] for a in labelled], dtype=int)
    s = np.array([scores[a] for a in labelled])
    assert roc_auc_score(y, s) > 0.95


def test_a_reference_of_another_version_is_not_trusted(tmp_path: Path) -> None:
    stale = tmp_path / "installed.joblib"
    stale.write_bytes(b"not a model")
    fallback = tmp_path / "data" / "fraud" / "mule_reference.joblib"
    built = build(fallback, ledgers=TINY)
    loaded = ReferenceModel(stale, fallback).load()
    assert loaded.names == built.names
    x = np.full((1, len(built.names)), 0.5)
    assert loaded.score(x)[0] == pytest.approx(built.score(x)[0])
