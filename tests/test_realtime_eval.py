"""``make realtime``'s measurement on a small generated ledger: the replay, the nightly batch
beside it and the per-pattern accounting add up (the figures themselves are the README's)."""

from __future__ import annotations

import pytest

from evals.realtime import evaluate, load_product
from tests.conftest import eval_on_own_sqlite

pytestmark = eval_on_own_sqlite


@pytest.fixture(scope="module")
def result() -> dict:
    data = load_product(3, accounts=2000, transfers=20_000, rings=8, days=30)
    return evaluate(data, warmup_days=7)


def test_every_planted_ring_is_accounted_for_on_both_sides(result: dict) -> None:
    side = result["side_by_side"]
    assert side["patterns"] == 8
    # each ring is caught by one side, the other, both, or neither; of those both caught, one
    # side came first
    assert side["caught_by_both"] == side["monitor_first"] + side["batch_first"]
    assert side["batch_first_both_before_pattern"] <= side["batch_first"]
    caught = side["caught_by_both"] + side["caught_by_monitor_only"]
    assert caught == result["monitor"]["lead_time"]["caught"]
    assert caught >= 6  # planted rings of the product's generator: the monitor finds them


def test_the_replay_reports_latency_and_the_rules_only_run_beside_it(result: dict) -> None:
    mon = result["monitor"]
    assert mon["transfers_replayed"] == result["transfers"]
    assert 0 < mon["latency_ms"]["p50"] <= mon["latency_ms"]["p99"] <= mon["latency_ms"]["max"]
    assert mon["accounts"]["positives"] == result["fraud_accounts"]
    assert "_first_hop" not in mon and "_first_alert" not in mon  # internals not printed
    assert mon["rules"]["mule_score"]["fired"] > 0  # the mule score on arrival took part
    plain = result["monitor_rules_only"]
    assert plain["side_by_side"]["patterns"] == 8 and plain["latency_ms"]["p99"] > 0
