"""The fraud pipeline's scaling curve: the in-memory engine and the Spark engine side by side on
the same generated ledgers, time and peak memory per step, printed as JSON.

    python -m benchmarks.fraud_scale                               # 100k and 1M transfers
    python -m benchmarks.fraud_scale --sizes 1000000 10000000 --workdir /tmp/scale

The ledgers are ``benchmarks.fraud_trace``'s (the product's generator, ``transfers / 20``
accounts over 90 days, written through the ledger's batch insert to SQLite, kept in
``--workdir`` and reused; beyond 10M transfers as regions of 10M that share no account, so the
generator never holds more than one region). Each engine runs in its own child process, so the peak memory of one is not the
other's: the peak is the largest sum of resident memory over the child and everything it
started (the Spark JVM included), sampled every 0.2 s from /proc.

Steps, both engines through ``FraudService`` / ``SparkFraudService`` as the desk calls them:
  load      local: ``Ledger.arrays()`` and the trace index; spark: the ledger read through the
            product's SQL, staged, and kept as Parquet (``spark_engine.load_ledger``)
  features  every account's features and within-ledger ranks (spark: materialised)
  score     every account scored with one trained model, the 20 highest returned
  trace     5 planted ring accounts traced 3 hops downstream, at most 50 per account per hop
Spark runs ``local[2]`` here (the machine's two cores); the figures are a single-machine curve,
not a cluster's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

SEEDS = 5


def _tree_rss_mib(root: int) -> float:
    """Resident MiB of ``root`` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _train(db: str, model: Path) -> None:
    """One scorer for both engines, fitted on a small ledger of the same generator."""
    from assistant.fraud.features import CashRules
    from assistant.fraud.generator import generate
    from assistant.fraud.ledger import Ledger
    from assistant.fraud.service import FraudService
    from assistant.schema import open_engine

    ledger = Ledger(open_engine(f"sqlite:///{db}"))
    g = generate(2000, 40_000, seed=11, start=date(2026, 1, 1), days=90, fraud_rings=20)
    g.write_to(ledger)
    FraudService(ledger, model_path=model, cash_rules=CashRules(500_000.0, 0.1)).train()


def run_one(engine: str, db: str, model: str, seeds: list[str], work: str) -> dict[str, Any]:
    """One engine over one ledger (run in a child process)."""
    from assistant.db import make_engine
    from assistant.fraud.features import CashRules
    from assistant.fraud.ledger import Ledger

    ledger = Ledger(make_engine(f"sqlite:///{db}"))
    rules = CashRules(500_000.0, 0.1)
    out: dict[str, Any] = {}
    t = time.perf_counter()
    if engine == "spark":
        from assistant.fraud.spark_engine import SparkFraudService

        svc: Any = SparkFraudService(
            ledger,
            model_path=Path(model),
            cash_rules=rules,
            work_dir=Path(work),
            conf={"spark.driver.memory": os.environ.get("SPARK_DRIVER_MEMORY", "6g")},
        )
        assert svc.spark is not None  # the JVM's start, timed on its own
        out["start_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        sl = svc.spark_ledger()
        out["load_s"] = round(time.perf_counter() - t, 1)
        out["load_read_sql_s"] = round(sl.read_s, 1)
        t = time.perf_counter()
        svc._frames()
    else:
        from assistant.fraud.service import FraudService

        svc = FraudService(ledger, model_path=Path(model), cash_rules=rules)
        out["start_s"] = 0.0
        svc.index()
        out["load_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        svc._feature_matrix()
    out["features_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    top = svc.top(20)
    out["score_s"] = round(time.perf_counter() - t, 1)
    out["top_score"] = top[0]["score"] if top else None
    t = time.perf_counter()
    traced = 0
    for s in seeds:
        traced += len(svc.trace(s, "down", 3, per_hop_limit=50).transfers)
    out["trace_s_each"] = round((time.perf_counter() - t) / max(1, len(seeds)), 2)
    out["traced_transfers"] = traced
    return out


def measure(engine: str, db: Path, model: Path, seeds: list[str], work: Path) -> dict[str, Any]:
    """``run_one`` in a child process, its tree's peak resident memory sampled meanwhile."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.fraud_scale",
        "--one",
        json.dumps([engine, str(db), str(model), seeds, str(work)]),
    ]
    t = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_mib(child.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    stop.set()
    sampler.join()
    if child.returncode != 0:
        return {"engine": engine, "error": f"exit {child.returncode}"}
    line = [x for x in stdout.splitlines() if x.startswith("{")][-1]
    return {
        "engine": engine,
        **json.loads(line),
        "total_s": round(time.perf_counter() - t, 1),
        "peak_rss_mib": round(peak),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--engines", nargs="+", default=["local", "spark"])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "fraud-scale")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        engine, db, model, seeds, work = json.loads(args.one)
        print(json.dumps(run_one(engine, db, model, seeds, work)))
        return
    from benchmarks.fraud_trace import make_ledger

    args.workdir.mkdir(parents=True, exist_ok=True)
    model = args.workdir / "mule_scorer.joblib"
    if not model.is_file():
        train_db = args.workdir / "train.db"
        train_db.unlink(missing_ok=True)
        _train(str(train_db), model)
    curve = []
    for n in args.sizes:
        ledger, rings, made_s = make_ledger(n, args.workdir)
        db = Path(str(ledger.engine.url.database))
        seeds = rings[:SEEDS]
        row: dict[str, Any] = {"transfers": n, "ledger_s": round(made_s, 1), "engines": []}
        for engine in args.engines:
            row["engines"].append(measure(engine, db, model, seeds, args.workdir / f"spark-{n}"))
            print(json.dumps(row["engines"][-1]), file=sys.stderr, flush=True)
        curve.append(row)
    print(json.dumps({"curve": curve, "cores": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
