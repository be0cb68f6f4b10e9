"""Real-time detection measured (``make realtime``): a ledger replayed in time order through the
transfer monitor, side by side with the batch mule scorer run nightly on the ledger so far.

Ledgers: the product's own generator (``assistant.fraud.generator``) and an AMLGentex run
(``make amlgentex``), each loaded through the product's own generator or importer into a
temporary SQLite ledger; the labels (``pattern`` on transfers, ``is_fraud`` on accounts) are read
for scoring only, the monitor never sees them.

The monitor (``assistant.monitor``), with the product's rule set, sees the transfers one by one
in time order on one core (the process pinned to one CPU where the system allows it):

- ``latency_ms``: p50 / p99 / max of ``TransferMonitor.process`` per transfer (rules, anomaly
  model, state update; storing an alert is the desk's and is not in it);
  ``transfers_per_s``: transfers over the replay's wall time.
- ``transfers``: precision and recall of the transfers alerted or held against the transfers of
  planted patterns; ``accounts``: of the accounts the alerts name against the fraud accounts;
  both also from ``warmup_days`` on (``after_warmup``), when each account's state has seen a
  month of its ordinary traffic (monthly salaries, rents), as a monitor started on history does.
- ``rules``: per rule, how often it fired and the share of those on a planted transfer or a fraud
  account.
- ``lead_time``: per planted pattern (a ring of the generator, an AMLGentex pattern id), the
  first alert on one of its transfers or naming one of its accounts, against its last laundering
  hop (the last transfer of the pattern): ``lead_s`` = last hop − first alert (positive: the
  alert came first). Reported: patterns caught, caught before the last hop, median lead.

The mule score on arrival (the ``mule_score`` rule, ``monitor.mule_score``) is fitted on the
ledger's labels as the batch scorer is, out of fold on the same folds: each account is scored on
arrival by the model fitted without it. ``monitor_rules_only`` is the same replay without it
(what a bank that has trained no model gets).

The batch scorer (``MuleScorer`` on ``account_features`` as within-ledger percentiles, as the fraud
service scores) is fitted out-of-fold on the whole ledger's labels (5 stratified folds; each
account scored by the model that did not see it), its alert threshold the score of the k-th
account (k = the number of fraud accounts). It runs every night at Taiwan midnight on the
ledger so far: a pattern is detected by the first nightly run that scores one of its accounts
at or above the threshold. Its lead time is measured as the monitor's. A label-fitted scorer
read at the end of the ledger is its best case; so is the mule score on arrival; the rules use
no labels at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from assistant.fraud.features import (
    CashRules,
    account_features,
    account_meta,
    within_ledger_ranks,
)
from assistant.fraud.generator import generate
from assistant.fraud.importers import import_amlgentex
from assistant.fraud.ledger import Ledger, LedgerArrays
from assistant.fraud.scoring import MuleScorer
from assistant.fraud.stream_model import StreamModel
from assistant.fraud.stream_model import fit as fit_stream
from assistant.monitor.monitor import TransferMonitor
from assistant.monitor.mule_score import OnArrival
from assistant.monitor.rules import DEFAULT_RULES, load_rules
from assistant.monitor.transfers import from_arrays
from assistant.schema import open_engine

TAIPEI = 8 * 3600
DAY = 86400
PRODUCT = {"accounts": 20_000, "transfers": 200_000, "rings": 40, "days": 60}


@dataclass
class Replayable:
    name: str
    generator: str
    arrays: LedgerArrays
    transfer_pattern: list[str | None]  # per transfer, arrays order
    account_pattern: dict[str, str]  # fraud account → pattern group
    fraud: set[str]
    meta: dict[str, dict[str, Any]]
    load_s: float


def _group(pattern: str) -> str:
    """The planted pattern a label belongs to: the generator writes ``<ring>:<kind>`` on
    transfers and ``<ring>:<kind>/<role>`` on accounts; AMLGentex ``amlgentex:<type>:<id>``."""
    return pattern.split("/", 1)[0]


def _load(name: str, generator: str, fill: Callable[[Ledger], Any]) -> Replayable:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="twfin-realtime-") as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        try:
            ledger = Ledger(engine)
            fill(ledger)
            arrays = ledger.arrays()
            meta = account_meta(ledger)
            with engine.connect() as conn:
                tp = dict(conn.execute(text("SELECT id, pattern FROM fraud_transfer")).all())
                accts = conn.execute(
                    text("SELECT id, pattern FROM fraud_account WHERE is_fraud")
                ).all()
        finally:
            engine.dispose()
    return Replayable(
        name=name,
        generator=generator,
        arrays=arrays,
        transfer_pattern=[tp[i] for i in arrays.transfer_ids.tolist()],
        account_pattern={a: _group(p) for a, p in accts if p},
        fraud={a for a, _ in accts},
        meta=meta,
        load_s=time.perf_counter() - t0,
    )


def load_product(seed: int = 0, **size: int) -> Replayable:
    kw = {**PRODUCT, **size}

    def fill(ledger: Ledger) -> None:
        g = generate(
            kw["accounts"],
            kw["transfers"],
            seed=seed,
            start=date(2024, 1, 1),
            days=kw["days"],
            fraud_rings=kw["rings"],
        )
        g.write_to(ledger)

    return _load(f"product_s{seed}", "product", fill)


def load_amlgentex(path: Path) -> Replayable:
    return _load(path.name, "amlgentex", lambda lg: import_amlgentex(lg, path))


def _pr(tp: int, flagged: int, positives: int) -> dict[str, Any]:
    p = tp / flagged if flagged else None
    r = tp / positives if positives else None
    f1 = 2 * p * r / (p + r) if p and r else None
    return {
        "flagged": flagged,
        "positives": positives,
        "true_positives": tp,
        "precision": _r(p),
        "recall": _r(r),
        "f1": _r(f1),
    }


def _r(x: float | None, n: int = 4) -> float | None:
    return None if x is None else round(float(x), n)


def _per_rule(counts: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    """Per rule: how often it fired, and the share of those on a planted transfer or naming a
    fraud account."""
    return {
        k: {"fired": v[0], "on_planted": _r(v[1] / v[0])}
        for k, v in sorted(counts.items(), key=lambda kv: -kv[1][0])
    }


def _lead(first: dict[str, int], last_hop: dict[str, int]) -> dict[str, Any]:
    leads = [last_hop[g] - first[g] for g in last_hop if g in first]
    before = [x for x in leads if x > 0]
    return {
        "patterns": len(last_hop),
        "caught": len(leads),
        "caught_before_last_hop": len(before),
        "median_lead_s": _r(float(np.median(leads)), 1) if leads else None,
        "median_lead_h": _r(float(np.median(leads)) / 3600, 2) if leads else None,
    }


class OutOfFold(OnArrival):
    """The mule score on arrival as the evaluation reads it: each account scored by the model
    fitted without it (the batch scorer's folds)."""

    def __init__(self, models: list[StreamModel], fold: dict[str, int]) -> None:
        super().__init__(models[0])
        self.models = models
        self.fold = fold

    def model_for(self, account: str) -> StreamModel:
        k = self.fold.get(account)
        return self.models[k] if k is not None else self.model


def stream_models(
    data: Replayable,
    *,
    folds: int = 5,
    seed: int = 0,
    rules: CashRules | None = None,
) -> OutOfFold:
    """The mule score on arrival fitted on the ledger's labels out of fold, on the folds the
    batch scorer uses (the same split of the same accounts)."""
    from sklearn.model_selection import StratifiedKFold

    a = data.arrays
    keep = np.flatnonzero(~a.reserved)
    ids = a.account_ids[keep].tolist()
    y = np.array([1 if x in data.fraud else 0 for x in ids])
    names, raw = account_features(a, data.meta, rules=rules)
    X = within_ledger_ranks(raw[keep])
    models: list[StreamModel] = []
    fold: dict[str, int] = {}
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(skf.split(X, y)):
        models.append(fit_stream(names, X[train], y[train], cash_rules=rules, seed=seed))
        for i in test.tolist():
            fold[ids[i]] = k
    return OutOfFold(models, fold)


def replay_monitor(
    data: Replayable,
    warmup_days: int = 31,
    rules_path: Path = DEFAULT_RULES,
    mule: OnArrival | None = None,
) -> dict[str, Any]:
    """The ledger through a fresh monitor in time order (see the module docstring); ``mule``:
    the mule score on arrival (without it the ``mule_score`` rule does not fire)."""
    rules = load_rules(rules_path)
    monitor = TransferMonitor(rules, mule=mule)
    transfers = list(from_arrays(data.arrays, data.transfer_pattern))
    start = transfers[0].ts if transfers else 0
    warm_from = start + warmup_days * DAY
    latency = np.empty(len(transfers))
    last_hop: dict[str, int] = {}
    first_hop: dict[str, int] = {}
    for t in transfers:
        if t.label:
            g = _group(t.label)
            last_hop[g] = max(last_hop.get(g, 0), t.ts)
            first_hop[g] = min(first_hop.get(g, t.ts), t.ts)
    first_alert: dict[str, int] = {}
    per_rule: dict[str, list[int]] = {}
    per_rule_w: dict[str, list[int]] = {}
    tp_t = flagged_t = tp_t_w = flagged_t_w = pos_t_w = 0
    named: set[str] = set()
    named_w: set[str] = set()
    perf = time.perf_counter
    t0 = perf()
    for i, t in enumerate(transfers):
        s = perf()
        d = monitor.process(t)
        latency[i] = perf() - s
        warm = t.ts >= warm_from
        if warm and t.label:
            pos_t_w += 1
        if d.action == "pass":
            continue
        flagged_t += 1
        tp_t += t.label is not None
        if warm:
            flagged_t_w += 1
            tp_t_w += t.label is not None
        for r in d.reasons:
            bad = t.label is not None or r.account in data.fraud
            for table, on in ((per_rule, True), (per_rule_w, warm)):
                if on:
                    c = table.setdefault(r.rule, [0, 0])
                    c[0] += 1
                    c[1] += bad
            named.add(r.account)
            if warm:
                named_w.add(r.account)
            for g in {_group(t.label) if t.label else None, data.account_pattern.get(r.account)}:
                if g is not None and g in last_hop and g not in first_alert:
                    first_alert[g] = t.ts
    wall = perf() - t0
    positives = sum(1 for t in transfers if t.label)
    # fraud accounts that moved money after the warm-up: the ones it could still name then
    active_w = {
        a
        for t in transfers
        if t.ts >= warm_from
        for a in (t.from_account, t.to_account)
        if a in data.fraud
    }
    lat_ms = latency * 1000.0
    return {
        "rules_version": rules.version,
        "transfers_replayed": len(transfers),
        "latency_ms": {
            "p50": _r(np.percentile(lat_ms, 50), 4),
            "p99": _r(np.percentile(lat_ms, 99), 4),
            "max": _r(lat_ms.max(), 3),
        },
        "transfers_per_s": round(len(transfers) / wall, 1),
        "wall_s": round(wall, 2),
        "transfers": _pr(tp_t, flagged_t, positives),
        "accounts": _pr(len(named & data.fraud), len(named), len(data.fraud)),
        "after_warmup": {
            "warmup_days": warmup_days,
            "transfers": _pr(tp_t_w, flagged_t_w, pos_t_w),
            "accounts": _pr(len(named_w & active_w), len(named_w), len(active_w)),
            "rules": _per_rule(per_rule_w),
        },
        "rules": _per_rule(per_rule),
        "lead_time": _lead(first_alert, last_hop),
        "_first_alert": first_alert,
        "_last_hop": last_hop,
        "_first_hop": first_hop,
        "accounts_in_state": len(monitor.accounts),
    }


def batch_nightly(
    data: Replayable,
    last_hop: dict[str, int],
    *,
    folds: int = 5,
    seed: int = 0,
    every_days: int = 1,
    rules: CashRules | None = None,
) -> dict[str, Any]:
    """The batch scorer, fitted out-of-fold on the whole ledger, run each night on the ledger
    so far (see the module docstring)."""
    from sklearn.model_selection import StratifiedKFold

    a = data.arrays
    keep = np.flatnonzero(~a.reserved)
    ids = a.account_ids[keep].tolist()
    y = np.array([1 if x in data.fraud else 0 for x in ids])
    t0 = time.perf_counter()
    names, raw = account_features(a, data.meta, rules=rules)
    X = within_ledger_ranks(raw[keep])
    fold_of = np.zeros(len(y), dtype=int)
    models = []
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    oof = np.full(len(y), np.nan)
    for k, (train, test) in enumerate(skf.split(X, y)):
        m = MuleScorer(seed=seed).fit(names, X[train], y[train])
        models.append(m)
        fold_of[test] = k
        oof[test] = m.score(X[test])
    k_fraud = int(y.sum())
    threshold = float(np.sort(oof)[::-1][k_fraud - 1]) if k_fraud else 1.0
    flagged = oof >= threshold
    fit_s = time.perf_counter() - t0
    # nightly runs at Taiwan midnight on the ledger so far
    first = int(a.ts.min())
    last = int(a.ts.max())
    night = ((first + TAIPEI) // DAY + 1) * DAY - TAIPEI
    group_of = [data.account_pattern.get(x) for x in ids]
    detected: dict[str, int] = {}
    ever = np.zeros(len(y), dtype=bool)  # flagged on any night: what the analysts were shown
    nights = 0
    run_s: list[float] = []
    while night <= last + DAY:
        s = time.perf_counter()
        _, raw_n = account_features(a.before(night), data.meta, as_of=night, rules=rules)
        Xn = within_ledger_ranks(raw_n[keep])
        score = np.empty(len(y))
        for k, m in enumerate(models):
            rows = fold_of == k
            score[rows] = m.score(Xn[rows])
        ever |= score >= threshold
        for i in np.flatnonzero((score >= threshold) & (y == 1)).tolist():
            g = group_of[i]
            if g is not None and g in last_hop and g not in detected:
                detected[g] = night
        run_s.append(time.perf_counter() - s)
        nights += 1
        night += every_days * DAY
    return {
        "accounts": _pr(int((flagged & (y == 1)).sum()), int(flagged.sum()), k_fraud),
        "accounts_any_night": _pr(int((ever & (y == 1)).sum()), int(ever.sum()), k_fraud),
        "threshold": _r(threshold),
        "fit_s": round(fit_s, 2),
        "nightly_runs": nights,
        "nightly_run_s_median": _r(float(np.median(run_s)), 3) if run_s else None,
        "lead_time": _lead(detected, last_hop),
        "_detected": detected,
    }


def _cash_rules() -> CashRules:
    """The reporting threshold as the product's settings default it (NT$500,000)."""
    from assistant.settings import FraudSettings

    f = FraudSettings()
    return CashRules(report_threshold=f.report_threshold, structuring_band=f.structuring_band)


def _side_by_side(monitor: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
    """Per pattern caught by both: how much earlier the monitor's first alert came than the
    batch scorer's first nightly detection. Of the patterns the batch named first, how many
    both named before the pattern's first transfer (``batch_first_both_before_pattern``: an
    account already odd from earlier activity, which the nightly run scores while it is idle
    and the monitor only when it next moves money)."""
    first, detected = monitor.pop("_first_alert"), batch.pop("_detected")
    last_hop, first_hop = monitor.pop("_last_hop"), monitor.pop("_first_hop")
    both = [g for g in last_hop if g in first and g in detected]
    earlier = [detected[g] - first[g] for g in both]
    batch_first = [g for g in both if detected[g] <= first[g]]
    return {
        "patterns": len(last_hop),
        "caught_by_monitor_only": sum(1 for g in last_hop if g in first and g not in detected),
        "caught_by_batch_only": sum(1 for g in last_hop if g in detected and g not in first),
        "caught_by_both": len(both),
        "monitor_first": sum(1 for x in earlier if x > 0),
        "median_monitor_earlier_h": _r(float(np.median(earlier)) / 3600, 2) if earlier else None,
        "batch_first": len(batch_first),
        "batch_first_both_before_pattern": sum(1 for g in batch_first if first[g] < first_hop[g]),
    }


def evaluate(
    data: Replayable,
    *,
    warmup_days: int,
    batch_every_days: int = 1,
    rules_path: Path = DEFAULT_RULES,
) -> dict[str, Any]:
    rules = _cash_rules()
    t0 = time.perf_counter()
    mule = stream_models(data, rules=rules)
    mule_fit_s = time.perf_counter() - t0
    plain = replay_monitor(data, warmup_days=warmup_days, rules_path=rules_path)
    mon = replay_monitor(data, warmup_days=warmup_days, rules_path=rules_path, mule=mule)
    mon["mule_score"] = {"fit_s": round(mule_fit_s, 2), "refreshes": mule.refreshes}
    batch = batch_nightly(data, mon["_last_hop"], every_days=batch_every_days, rules=rules)
    detected = dict(batch["_detected"])
    rules_only = {
        "latency_ms": plain["latency_ms"],
        "transfers_per_s": plain["transfers_per_s"],
        "transfers": plain["transfers"],
        "accounts": plain["accounts"],
        "lead_time": plain["lead_time"],
        "side_by_side": _side_by_side(plain, {"_detected": detected}),
    }
    return {
        "ledger": data.name,
        "generator": data.generator,
        "transfers": len(data.arrays),
        "laundering_transfers": sum(1 for p in data.transfer_pattern if p),
        "fraud_accounts": len(data.fraud),
        "load_s": round(data.load_s, 2),
        "monitor": mon,
        "batch_scorer": batch,
        "side_by_side": _side_by_side(mon, batch),
        "monitor_rules_only": rules_only,
    }


def _one_core() -> str:
    """Pin this process to one CPU (the figures are per core)."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (the system does not allow it); one thread"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--product-seed", type=int, default=0)
    ap.add_argument("--product-transfers", type=int, default=PRODUCT["transfers"])
    ap.add_argument("--no-product", action="store_true")
    ap.add_argument(
        "--amlgentex",
        type=Path,
        action="append",
        default=[],
        help="An AMLGentex run folder (make amlgentex); may be repeated.",
    )
    ap.add_argument("--warmup-days", type=int, default=31)
    ap.add_argument(
        "--rules",
        type=Path,
        default=DEFAULT_RULES,
        help="A rule set (JSON) to measure before putting it in force (default: the product's).",
    )
    ap.add_argument("--batch-every-days", type=int, default=1)
    ap.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = ap.parse_args(argv)
    core = _one_core()
    out: dict[str, Any] = {"cpu": core, "rules": str(args.rules), "ledgers": [], "skipped": []}
    if not args.amlgentex:
        msg = (
            "找不到 AMLGentex 產生的帳務資料，略過（先執行 make amlgentex，或以 "
            "REALTIME_AMLGENTEX=資料夾 指定）/ no AMLGentex run found, skipped (run make "
            "amlgentex, or give REALTIME_AMLGENTEX=folder)"
        )
        print(msg, file=sys.stderr)
        out["skipped"].append({"ledger": "amlgentex", "reason": msg})
    loaders: list[Callable[[], Replayable]] = []
    if not args.no_product:
        loaders.append(lambda: load_product(args.product_seed, transfers=args.product_transfers))
    for path in args.amlgentex:
        if not (path / "temporal").is_dir() and not path.is_file():
            msg = f"找不到 AMLGentex 執行結果 {path}，略過 / no AMLGentex run at {path}, skipped"
            print(msg, file=sys.stderr)
            out["skipped"].append({"ledger": str(path), "reason": msg})
            continue
        loaders.append(lambda p=path: load_amlgentex(p))
    for load in loaders:
        data = load()
        print(
            f"{data.name}: {len(data.arrays)} transfers loaded in {data.load_s:.1f}s",
            file=sys.stderr,
        )
        out["ledgers"].append(
            evaluate(
                data,
                warmup_days=args.warmup_days,
                batch_every_days=args.batch_every_days,
                rules_path=args.rules,
            )
        )
    text_out = json.dumps(out, ensure_ascii=False, indent=2)
    print(text_out)
    if args.json:
        args.json.write_text(text_out + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
