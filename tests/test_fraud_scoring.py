"""Mule scoring: features, the calibrated scorer, its files, and the AMLSim eval."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from assistant.errors import AssistantError
from assistant.fraud.features import FEATURE_NAMES, FEATURE_TEXT, account_features, account_meta
from assistant.fraud.generator import generate
from assistant.fraud.ledger import Ledger
from assistant.fraud.scoring import MuleScorer, cross_validated_scores
from assistant.schema import open_engine
from evals.fraud import evaluate_amlsim, labels_for
from tests.conftest import SHARED, eval_on_own_sqlite

AMLSIM = SHARED / "aml" / "amlsim_fanin200"


def _ledger(path: Path) -> Ledger:
    return Ledger(open_engine(f"sqlite:///{path / 'x.db'}"))


def _tiny(tmp_path: Path) -> tuple[list[str], np.ndarray, dict[str, int]]:
    ledger = _ledger(tmp_path)
    accounts = [
        {"id": "A1", "opened": date(2020, 1, 1)},
        {"id": "B1"},
        {"id": "C1"},
        # the mule: a label that the features must never read
        {"id": "M1", "opened": date(2023, 12, 2), "is_fraud": True, "pattern": "x:mule"},
        {"id": "X1", "status": "警示"},
    ]
    rows = [  # times are UTC; Taiwan is +8
        ("T1", datetime(2024, 1, 1, 1), "A1", "M1", 10_000.0),  # 09:00
        ("T2", datetime(2024, 1, 1, 2), "B1", "M1", 5_000.0),  # 10:00
        ("T3", datetime(2024, 1, 1, 3), "M1", "C1", 14_500.0),  # 11:00
        ("T4", datetime(2024, 1, 1, 15), "C1", "X1", 300.5),  # 23:00, night
    ]
    transfers = [
        {"id": i, "ts": t, "from_account": f, "to_account": d, "amount": a}
        for i, t, f, d, a in rows
    ]
    ledger.bulk_insert([], accounts, transfers)
    arrays = ledger.arrays()
    meta = account_meta(ledger)
    assert all(set(v) == {"opened", "status"} for v in meta.values())  # no labels read
    names, X = account_features(arrays, meta)
    return names, X, arrays.index


def test_features_on_a_tiny_ledger(tmp_path: Path) -> None:
    names, X, index = _tiny(tmp_path)
    assert names == list(FEATURE_NAMES) and X.shape == (5, len(names))
    assert set(FEATURE_TEXT) == set(names)

    def f(acct: str, name: str) -> float:
        return float(X[index[acct], names.index(name)])

    assert f("M1", "fan_in") == 2 and f("M1", "fan_out") == 1
    assert f("M1", "in_degree") == 2 and f("M1", "out_degree") == 1
    assert f("M1", "total_in") == 15_000 and f("M1", "total_out") == 14_500
    assert f("M1", "pass_through") == pytest.approx(14_500 / 15_000)
    assert f("M1", "dwell_median_h") == pytest.approx(1.5)  # 2 h and 1 h to T3
    assert f("M1", "round_1000_share") == pytest.approx(2 / 3)
    assert f("M1", "round_10000_share") == pytest.approx(1 / 3)
    assert f("M1", "night_share") == 0.0
    assert f("C1", "night_share") == pytest.approx(0.5)
    assert f("C1", "dwell_median_h") == pytest.approx(12.0)
    assert f("M1", "velocity") == 3.0 and f("M1", "active_days") == 1
    assert f("M1", "age_days") == pytest.approx(30 + 15 / 24)  # to the last transfer
    assert np.isnan(f("B1", "age_days"))
    assert np.isnan(f("A1", "pass_through"))  # nothing came in
    assert np.isnan(f("A1", "dwell_median_h"))
    assert f("M1", "min_amount") == 5_000
    # flagged links come from status only: C1 pays 警示 X1; A1 pays M1, whose label is True
    assert f("C1", "flagged_links") == 1
    assert f("A1", "flagged_links") == 0 and f("M1", "flagged_links") == 0
    # neighbour means: M1 sends to C1 only; A1 and B1 send to M1 (fan_in of C1 is 1)
    assert f("M1", "to_mean_fan_in") == 1 and f("M1", "from_mean_fan_out") == 1
    assert f("C1", "from_mean_total_in") == 15_000  # its one sender, M1
    assert f("M1", "from_mean_age_days") == pytest.approx(f("A1", "age_days"))  # B1's unknown
    assert np.isnan(f("A1", "from_mean_fan_in"))  # nobody sends to A1


def test_flagged_links_ignore_labels_in_meta(tmp_path: Path) -> None:
    _, X, _ = _tiny(tmp_path)
    ledger = _ledger(tmp_path)
    arrays = ledger.arrays()
    meta = account_meta(ledger)
    meta["M1"]["is_fraud"] = True  # even if a caller passes labels along, they are not read
    _, X2 = account_features(arrays, meta)
    np.testing.assert_array_equal(X, X2)


def _fit_small(seed: int = 0) -> tuple[MuleScorer, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, len(FEATURE_NAMES)))
    y = (X[:, 0] + 0.5 * X[:, 6] + rng.normal(scale=0.5, size=400) > 1).astype(int)
    names = list(FEATURE_NAMES)
    return MuleScorer().fit(names, X, y), names, X


def test_scorer_round_trip_and_refusal(tmp_path: Path) -> None:
    scorer, names, X = _fit_small()
    p = scorer.score(X)
    assert p.shape == (400,) and np.all((p >= 0) & (p <= 1))
    reasons = scorer.explain(X[int(np.argmax(p))], top_k=3)
    assert len(reasons) == 3 and reasons[0].feature in ("fan_in", "pass_through")
    assert reasons[0].contribution > 0 and reasons[0].zh == FEATURE_TEXT[reasons[0].feature][0]
    path = tmp_path / "mule.joblib"
    scorer.save(path)
    again = MuleScorer.load(path)
    np.testing.assert_allclose(again.score(X), p)
    other = MuleScorer().fit(names[:5], X[:, :5], (X[:, 0] > 1).astype(int))
    other.save(tmp_path / "other.joblib")
    with pytest.raises(AssistantError, match="特徵"):
        MuleScorer.load(tmp_path / "other.joblib")
    (tmp_path / "junk.joblib").write_bytes(b"not a model")
    with pytest.raises(AssistantError):
        MuleScorer.load(tmp_path / "junk.joblib")
    with pytest.raises(AssistantError):
        scorer.score(X[:, :5])


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], np.ndarray, object]:
    g = generate(3000, 30_000, seed=7, start=date(2024, 3, 1), days=45, fraud_rings=12)
    ledger = _ledger(tmp_path_factory.mktemp("gen"))
    g.write_to(ledger)
    arrays = ledger.arrays()
    names, X = account_features(arrays, account_meta(ledger))
    return names, X, labels_for(ledger, arrays)


def test_scorer_separates_planted_mules(generated: tuple[list[str], np.ndarray, object]) -> None:
    names, X, y = generated
    y = np.asarray(y)
    assert 20 <= y.sum() < 200
    oof = cross_validated_scores(names, X, y, folds=5, seed=0)
    assert roc_auc_score(y, oof) > 0.85
    scorer = MuleScorer().fit(names, X, y)
    p = scorer.score(X)
    top = int(np.argmax(np.where(y == 1, p, -1)))
    reasons = [r.feature for r in scorer.explain(X[top], top_k=5)]
    assert {"pass_through", "fan_in", "in_degree", "dwell_median_h", "age_days"} & set(reasons)


def test_fit_keeps_out_of_fold_scores_of_its_training_rows(
    generated: tuple[list[str], np.ndarray, object],
) -> None:
    """``fit`` also leaves each training row's score from the inner model that did not see it:
    labels that carry no signal score like a coin there, while the fitted model has partly
    learned them; planted mules still rank high."""
    names, X, y = generated
    y = np.asarray(y)
    scorer = MuleScorer().fit(names, X, y)
    assert scorer.oof is not None and scorer.oof.shape == y.shape
    assert not np.isnan(scorer.oof).any()
    assert roc_auc_score(y, scorer.oof) > 0.85
    noise = np.random.default_rng(0).permutation(y)
    shuffled = MuleScorer().fit(names, X, noise)
    assert shuffled.oof is not None
    held_out = roc_auc_score(noise, shuffled.oof)
    assert held_out < 0.65, held_out
    # in sample, each row is scored by two inner models that learned it
    assert roc_auc_score(noise, shuffled.score(X)) > held_out + 0.05


@eval_on_own_sqlite
def test_amlsim_eval_beats_degree_baseline() -> None:
    if not (AMLSIM / "nodes.csv").is_file():
        pytest.skip("AMLSim sample not in ../shared/data")
    r = evaluate_amlsim(AMLSIM, folds=5, seed=0)
    for key in ("auc", "precision_at_k", "baseline_auc", "n_accounts", "n_fraud", "trace_recall"):
        assert key in r
    assert (r["n_accounts"], r["n_fraud"]) == (20_000, 954)
    assert r["auc"] > r["baseline_auc"] and r["auc"] > 0.9
    assert 0 <= r["trace_recall"] <= 1 and 0 < r["precision_at_k"] <= 1
