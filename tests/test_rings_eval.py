"""``python -m evals.rings`` on two small runs in AMLGentex's log format: fan-in patterns into
collectors among everyday accounts. The eval fits on one run and measures the other; the
curve, the best recall at half precision and the ceiling with labels as scores are what the
README quotes."""

from __future__ import annotations

import csv
import random
from itertools import pairwise
from pathlib import Path

import pytest

from evals.fraud import load_amlgentex
from evals.rings import evaluate_rings, main
from tests.conftest import eval_on_own_sqlite

pytestmark = eval_on_own_sqlite

HEADER = ["step", "type", "amount", "nameOrig", "nameDest", "bankOrig", "bankDest"]
HEADER += ["daysInBankOrig", "isSAR", "patternID", "modelType"]


def _run(folder: Path, seed: int) -> Path:
    """120 everyday accounts paying their few regular payees every few days over 60 days,
    and 8 fan-ins: 4 senders each pay a fresh collector once within two days."""
    rng = random.Random(seed)
    rows: list[list[object]] = [HEADER]

    def row(step: int, amount: float, a: int, b: int, pid: int = -1) -> None:
        sar = int(pid >= 0)
        rows.append([step, "TRANSFER", amount, a, b, "bank_a", "bank_a", 0, sar, pid, 2 * sar])

    everyday = list(range(120))
    payees = {a: rng.sample([x for x in everyday if x != a], 3) for a in everyday}
    for step in range(60):
        for a in everyday:
            if rng.random() < 0.3:
                row(step, round(rng.uniform(200, 3000), 2), a, rng.choice(payees[a]))
    nxt = 1000
    for p in range(8):
        collector, senders = nxt, list(range(nxt + 1, nxt + 5))
        nxt += 5
        start = 10 + 5 * p
        for s in senders:  # an ordinary life before, then one payment into the collector
            for step in range(0, start, 4):
                row(step, round(rng.uniform(200, 3000), 2), s, rng.choice(everyday))
            row(start + rng.randint(0, 1), round(rng.uniform(8000, 9500), 2), s, collector, p)
        row(start + 3, 30_000.0, collector, rng.choice(everyday))
    out = folder / f"run_s{seed}"
    (out / "temporal").mkdir(parents=True)
    with (out / "temporal" / "tx_log.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("rings")
    return _run(folder, 1), _run(folder, 2)


def test_the_curve_runs_along_the_threshold_and_labels_as_scores_is_the_ceiling(
    runs: tuple[Path, Path],
) -> None:
    train, test = (load_amlgentex(p) for p in runs)
    got = evaluate_rings(train, [test])
    ceiling = evaluate_rings(train, [test], labels_as_scores=True)
    assert not got["labels_as_scores"] and ceiling["labels_as_scores"]
    assert "members" not in ceiling  # no member model to judge with labels as scores
    for result in (got, ceiling):
        for variant in ("members", "linked", "links_only", "scored"):
            if variant not in result:
                continue
            curve = result[variant]["curve"][test.name]
            recalls = [c["recall"] for c in curve]
            # a higher threshold keeps fewer members: recall never rises along the curve
            assert all(a >= b - 1e-12 for a, b in pairwise(recalls))
            assert curve[0]["threshold"] == 0.0
    # with each account's label as its score the walk keeps the siblings of a fan-in (two
    # hops: sender → collector → sender) and leaves every everyday account out
    low = next(c for c in ceiling["scored"]["curve"][test.name] if c["threshold"] > 0)
    assert low["recall"] >= 0.9 and low["precision"] == 1.0
    # so does the path walk with each transfer's own label as its link probability: only the
    # laundering links carry a path at all
    low = next(c for c in ceiling["linked"]["curve"][test.name] if c["threshold"] > 0)
    assert low["recall"] >= 0.9 and low["precision"] == 1.0
    # the link model fitted on the first run finds the fan-ins of the second
    linked = got["linked"]["test"][test.name]
    assert linked["recall"] >= 0.8 and linked["precision"] >= 0.8
    # so does the member model over three hops, its threshold the best recall at half
    # precision on the first run's expansions (each judged by a model without its pattern)
    judged = got["members"]
    assert judged["rule"] == "precision_floor 0.55" and judged["train"]["precision"] >= 0.55
    assert judged["test"][test.name]["recall"] >= 0.8
    assert judged["test"][test.name]["precision"] >= 0.5
    assert judged["train"]["seeds"] == got["linked"]["train"]["seeds"]
    # at threshold 0 everything reached is kept, whatever the scores
    assert ceiling["scored"]["curve"][test.name][0] == got["scored"]["curve"][test.name][0]


def test_the_command_prints_the_best_recall_at_half_precision(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "rings.json"
    argv = ["--train", str(runs[0]), "--test", str(runs[1]), "--window-days", "14"]
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "best recall at precision ≥ 0.5" in printed and runs[1].name in printed
    assert out.read_text(encoding="utf-8").count('"curve"') == 5  # five walks


def test_several_training_runs_are_fitted_and_tuned_together(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    first, test, second = (load_amlgentex(p) for p in (*runs, _run(tmp_path, 3)))
    got = evaluate_rings([first, second], [test])
    assert got["train"] == f"{first.name}+{second.name}"
    linked = got["linked"]
    # the threshold is chosen over both runs' expansions: 8 fan-ins × 3 seeds each
    assert linked["train"]["seeds"] == 2 * 8 * 3
    assert set(linked["curve"]) == {first.name, second.name, test.name}
    measured = linked["test"][test.name]
    assert measured["recall"] >= 0.8 and measured["precision"] >= 0.8
