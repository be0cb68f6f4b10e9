"""Ring expansion's cost: the three-hop step walk judged by the member model, the path walk
over the link and step models, over the link model alone, and the PageRank walk over mule
scores, on the same generated ledger, printed as JSON.

    python -m benchmarks.rings                                  # 1M transfers
    python -m benchmarks.rings --transfers 200000 --workdir /tmp/rings

The ledger is ``benchmarks.fraud_trace``'s (the product's generator, ``transfers / 20``
accounts over 90 days, planted rings whose transfers are marked; kept in ``--workdir`` and
reused). ``FraudService.train`` fits the mule scorer, the link, step and member models on its labels,
as ``assistant fraud train`` does (timed). Then per walk: building the finder (the ledger's new
links; for the path walks also every link's features and probability), its time and the peak
of memory traced meanwhile (``tracemalloc``, which sees numpy's arrays), and expanding from up
to 200 planted ring accounts with each walk's defaults: p50 and p99 milliseconds an expansion
and the members returned. Ratios are each path walk's over PageRank's, the step walk's over
the link model alone, and the judged walk's over the step walk.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

SEEDS = 200


def _build(
    arrays: Any, mule: np.ndarray, links: Any, steps: Any, members: Any
) -> tuple[Any, float, float]:
    from assistant.fraud.rings import RingFinder

    tracemalloc.start()
    t = time.perf_counter()
    finder = RingFinder(arrays, mule, links=links, steps=steps, members=members)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return finder, seconds, peak


def _expand(finder: Any, seeds: list[str]) -> dict[str, Any]:
    times, sizes = [], []
    for s in seeds:
        t = time.perf_counter()
        sizes.append(len(finder.expand(s).members))
        times.append((time.perf_counter() - t) * 1000)
    return {
        "expand_ms_p50": round(float(np.percentile(times, 50)), 2),
        "expand_ms_p99": round(float(np.percentile(times, 99)), 2),
        "members_mean": round(float(np.mean(sizes)), 1),
    }


def run(transfers: int, workdir: Path) -> dict[str, Any]:
    from assistant.fraud.features import CashRules
    from assistant.fraud.links import LINK_NAMES, STEP_NAMES
    from assistant.fraud.records import is_reserved
    from assistant.fraud.rings import MEMBER_NAMES
    from assistant.fraud.scoring import MuleScorer
    from assistant.fraud.service import FraudService
    from benchmarks.fraud_trace import make_ledger

    ledger, rings, _ = make_ledger(transfers, workdir)
    svc = FraudService(
        ledger,
        model_path=workdir / f"rings-model-{transfers}.joblib",
        cash_rules=CashRules(500_000.0, 0.1),
    )
    svc.index()
    t = time.perf_counter()
    trained = svc.train()
    train_s = time.perf_counter() - t
    if not trained.get("link_model"):
        raise SystemExit(f"no link model was fitted: {trained.get('link_model_note')}")
    assert svc._built is not None
    arrays = svc._built.arrays
    _, _, (ids, X) = svc._feature_matrix()
    mule = svc._loaded().score(X)
    mule[[i for i, a in enumerate(ids) if is_reserved(a)]] = 0.0
    links = MuleScorer.load(trained["link_model"], feature_names=LINK_NAMES)
    if not trained.get("step_model"):
        raise SystemExit(f"no step model was fitted: {trained.get('step_model_note')}")
    steps = MuleScorer.load(trained["step_model"], feature_names=STEP_NAMES)
    if not trained.get("member_model"):
        raise SystemExit(f"no member model was fitted: {trained.get('member_model_note')}")
    members = MuleScorer.load(trained["member_model"], feature_names=MEMBER_NAMES)
    seeds = [a for a in rings if a in arrays.index][:SEEDS]
    out: dict[str, Any] = {
        "transfers": len(arrays.src),
        "accounts": len(arrays.account_ids),
        "laundering_transfers": trained["laundering_transfers"],
        "train_s (mule scorer, monitor model, link, step and member models)": round(train_s, 1),
        "seeds": len(seeds),
    }
    walks = (
        ("pagerank", None, None, None),
        ("paths", links, None, None),
        ("steps", links, steps, None),
        ("members", links, steps, members),
    )
    for name, model, step, judge in walks:
        finder, build_s, peak = _build(arrays, mule, model, step, judge)
        out[name] = {
            "new_links": len(finder.rows),
            "build_s": round(build_s, 2),
            "build_peak_mib": round(peak, 1),
            **_expand(finder, seeds),
        }
        del finder
    keys = ("build_s", "build_peak_mib", "expand_ms_p50", "expand_ms_p99")
    pairs = (
        ("paths", "pagerank"),
        ("steps", "pagerank"),
        ("steps", "paths"),
        ("members", "pagerank"),
        ("members", "steps"),
    )
    for a, b in pairs:
        x, y = out[a], out[b]
        out[f"ratio_{a}_over_{b}"] = {k: round(x[k] / y[k], 2) if y[k] else None for k in keys}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--transfers", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, help="keep the generated ledger here for reuse")
    args = ap.parse_args()
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="twfin-rings-") as tmp:
            print(json.dumps(run(args.transfers, Path(tmp)), indent=2))
    else:
        print(json.dumps(run(args.transfers, args.workdir), indent=2))


if __name__ == "__main__":
    main()
