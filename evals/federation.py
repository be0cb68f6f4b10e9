"""金融盾 eval: does a model trained across banks find typologies a bank has never seen?

Two worlds from the product's generator (``assistant.fraud.generator``), one to train on and one
to test on (another seed). Each world's ledger is cut into member banks (``federation.split``:
each member holds its bank codes' accounts and every transfer touching them, so a transfer
between members is in both ledgers). In the training world each member has *seen* only some
typologies: its mule accounts of the others are unlabelled. In the test world every label is
known.

Per member, three models over the same features (within-ledger percentiles):

- ``local``: trained on that member's ledger alone (the federated architecture, as many steps
  as the federation runs in total), and ``local_hgb``: the product's own local scorer
  (``scoring.MuleScorer``, gradient boosting) on the same rows: the strongest local model;
- ``federated``: the federation's model (``--processes``: a real run, SuperLink and one
  SuperNode per member on loopback; otherwise the same rounds and the same aggregation in this
  process, ``simulate``);
- ``pooled``: the same architecture trained on every member's rows together: the upper bound
  nobody may build.

Each is scored on every member's test ledger (own customer accounts); ``seen``: the AUC of the
mules of the member's own typologies against all non-mules; ``unseen``: of the mules of the
typologies it never saw. ``architectures`` compares the simulated federation of each
architecture (the choice is by mean unseen AUC).

``--amlgentex TRAIN TEST``: the same on AMLGentex runs, its typologies split among three
members. ``--across AMLSIM``: one member per generator (``evaluate_across``), so the members
differ in population as well as typology.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from assistant.federation.aggregate import Update, aggregate, dp_epsilon
from assistant.federation.local import BankData, open_bank_data
from assistant.federation.model import (
    ARCHITECTURES,
    init_params,
    local_train,
    model_input,
    predict,
)
from assistant.federation.runconfig import RunSettings
from assistant.federation.split import MemberView, even_members, member_views, typology
from assistant.fraud.features import CashRules
from assistant.fraud.generator import BANKS, generate
from assistant.fraud.scoring import MuleScorer

WORLD = {"accounts": 6000, "transfers": 60_000, "rings": 60, "days": 30}
SEEN = {"bank1": ["chain"], "bank2": ["scatter_gather"], "bank3": ["cycle", "fan_in"]}
ROUNDS, STEPS, LR = 5, 60, 0.02
CLIP = RunSettings.__dataclass_fields__["clip_norm"].default  # the product's default
# the cash rule the banks' ClientApps compute the structuring features with (RunSettings'
# defaults): the rows here must be the ones a real run trains on, or the simulated federation
# and the models scored here differ from the process run's
RULES = CashRules(
    RunSettings.__dataclass_fields__["report_threshold"].default,
    RunSettings.__dataclass_fields__["structuring_band"].default,
)


def _world(seed: int, size: dict[str, int]) -> Any:
    return generate(
        size["accounts"],
        size["transfers"],
        seed=seed,
        start=date(2024, 1, 1),
        days=size["days"],
        fraud_rings=size["rings"],
    )


def _load(views: list[MemberView], folder: Path) -> dict[str, tuple[BankData, MemberView, Path]]:
    out = {}
    for v in views:
        path = folder / f"{v.name}.db"
        v.write(path)
        out[v.name] = (open_bank_data(str(path), RULES), v, path)
    return out


def _test_rows(data: BankData, view: MemberView, g: Any) -> tuple[np.ndarray, np.ndarray, list]:
    """A member's own customer accounts in the test world: X, y, typology per row."""
    pattern = {a["id"]: a["pattern"] for a in g.accounts}
    fraud = {a["id"]: bool(a["is_fraud"]) for a in g.accounts}
    rows = [i for i, a in enumerate(data.ids) if a in view.own]
    ids = [data.ids[i] for i in rows]
    y = np.array([int(fraud.get(a, False)) for a in ids])
    kinds = [typology(pattern.get(a)) if fraud.get(a) else None for a in ids]
    return data.X[rows], y, kinds


def simulate(
    banks: list[BankData],
    architecture: str,
    rounds: int = ROUNDS,
    seed: int = 0,
    clip_norm: float = CLIP,
    stats: dict[str, Any] | None = None,
    noise_multiplier: float = 0.0,
) -> np.ndarray:
    """The federation's arithmetic in one process: the same local training and aggregation as
    the Flower apps, for comparing architectures quickly. ``stats`` counts updates and clipped
    updates."""
    params = init_params(banks[0].X.shape[1], architecture, seed)
    rng = np.random.default_rng(seed)
    for r in range(1, rounds + 1):
        updates = []
        for i, b in enumerate(banks):
            new, _ = local_train(
                params, model_input(b.X_train), b.y, architecture, steps=STEPS, lr=LR
            )
            updates.append(Update(bank=f"bank{i + 1}", params=new, examples=len(b.y)))
        params, rec = aggregate(
            params,
            updates,
            clip_norm=clip_norm,
            min_banks=len(banks),
            round_no=r,
            noise_multiplier=noise_multiplier,
            rng=rng,
        )
        if stats is not None:
            stats["updates"] = stats.get("updates", 0) + len(rec["banks"])
            stats["clipped"] = stats.get("clipped", 0) + sum(b["clipped"] for b in rec["banks"])
            stats.setdefault("norms", []).extend(b["update_norm"] for b in rec["banks"])
    return params


def _train(X: np.ndarray, y: np.ndarray, architecture: str, seed: int = 0) -> np.ndarray:
    p0 = init_params(X.shape[1], architecture, seed)
    return local_train(p0, model_input(X), y, architecture, steps=STEPS * ROUNDS, lr=LR)[0]


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return round(float(roc_auc_score(y, s)), 4) if 0 < y.sum() < len(y) else float("nan")


def _seen_unseen(
    score: Any, tests: list[tuple[np.ndarray, np.ndarray, list]], seen: set[str]
) -> dict[str, float]:
    s = np.concatenate([score(X) for X, _, _ in tests])
    y = np.concatenate([t[1] for t in tests])
    kinds = [k for t in tests for k in t[2]]
    neg = y == 0
    own = np.array([k in seen for k in kinds]) & (y == 1)
    other = np.array([k is not None and k not in seen for k in kinds]) & (y == 1)
    return {
        "seen": _auc(np.r_[np.ones(own.sum()), np.zeros(neg.sum())], np.r_[s[own], s[neg]]),
        "unseen": _auc(np.r_[np.ones(other.sum()), np.zeros(neg.sum())], np.r_[s[other], s[neg]]),
    }


def _clipping_cost(
    banks: list[BankData],
    arch: str,
    tests: list[tuple[np.ndarray, np.ndarray, list]],
    seen: dict[str, list[str]],
    seed: int,
) -> dict[str, Any]:
    """What clipping costs in accuracy: the simulated federation with and without it."""
    out: dict[str, Any] = {"clip_norm": CLIP}
    for label, norm in (("clipped", CLIP), ("unclipped", 0.0)):
        stats: dict[str, Any] = {}
        p = simulate(banks, arch, seed=seed, clip_norm=norm, stats=stats)
        per = [
            _seen_unseen(lambda X, p=p: predict(p, model_input(X), arch), tests, set(ks))
            for ks in seen.values()
        ]
        out[label] = {
            "mean_seen": round(float(np.mean([v["seen"] for v in per])), 4),
            "mean_unseen": round(float(np.mean([v["unseen"] for v in per])), 4),
            "updates_clipped": f"{stats.get('clipped', 0)}/{stats.get('updates', 0)}",
            "median_update_norm": round(float(np.median(stats.get("norms", [0.0]))), 3),
        }
    return out


DP_CLIP = 1.0
DP_NOISE = (0.5, 1.0, 2.0, 4.0)


def _privacy_cost(
    banks: list[BankData],
    arch: str,
    tests: list[tuple[np.ndarray, np.ndarray, list]],
    seen: dict[str, list[str]],
    seed: int,
) -> list[dict[str, Any]]:
    """Differential privacy at bank level: clip ``DP_CLIP``, noise z × clip on the sum, for each
    z in ``DP_NOISE``: ε (δ 1e-5, ``ROUNDS`` rounds) and the mean AUC it leaves."""
    rows = []
    for z in (0.0, *DP_NOISE):
        p = simulate(banks, arch, seed=seed, clip_norm=DP_CLIP, noise_multiplier=z)
        per = [
            _seen_unseen(lambda X, p=p: predict(p, model_input(X), arch), tests, set(ks))
            for ks in seen.values()
        ]
        rows.append(
            {
                "clip_norm": DP_CLIP,
                "noise_multiplier": z,
                "epsilon": round(dp_epsilon(z, ROUNDS), 2) if z else None,
                "mean_seen": round(float(np.mean([v["seen"] for v in per])), 4),
                "mean_unseen": round(float(np.mean([v["unseen"] for v in per])), 4),
            }
        )
    return rows


def run_processes(
    paths: dict[str, Path], workdir: Path, architecture: str, secure: bool = False
) -> dict[str, Any]:
    """A real federated run: one SuperLink and one SuperNode per member on loopback;
    ``secure``: through SecAgg+ (``RunSettings.secure_aggregation``)."""
    from assistant.federation.processes import Federation
    from assistant.federation.runconfig import RunSettings

    fed = Federation(workdir)
    try:
        fed.start_coordinator()
        for name, path in paths.items():
            fed.join(name, str(path))
        out = fed.next_run_dir()
        settings = RunSettings(
            out=str(out),
            rounds=ROUNDS,
            min_banks=len(paths),
            clip_norm=CLIP,
            steps=STEPS,
            lr=LR,
            architecture=architecture,
            node_wait=120,
            round_timeout=600,
            secure_aggregation=secure,
        )
        return fed.run(settings)
    finally:
        fed.stop()


def evaluate(
    seed: int = 0,
    size: dict[str, int] | None = None,
    processes: bool = False,
    workdir: Path | None = None,
    secure: bool = False,
) -> dict[str, Any]:
    size = {**WORLD, **(size or {})}
    processes = processes or secure
    t0 = time.perf_counter()
    members = even_members(list(BANKS), len(SEEN))
    train_world, test_world = _world(seed, size), _world(seed + 1000, size)
    with tempfile.TemporaryDirectory(prefix="twfin-fed-eval-") as tmp:
        folder = Path(tmp)
        train = _load(member_views(train_world, members, SEEN), folder / "train")
        test = _load(member_views(test_world, members, None), folder / "test")
        tests = [_test_rows(d, v, test_world) for d, v, _ in test.values()]
        banks = [d for d, _, _ in train.values()]
        t_load = time.perf_counter()

        archs: dict[str, Any] = {}
        fed_params: dict[str, np.ndarray] = {}
        for arch in ARCHITECTURES:
            fed_params[arch] = simulate(banks, arch, seed=seed)
            per = {
                name: _seen_unseen(
                    lambda X, p=fed_params[arch], a=arch: predict(p, model_input(X), a),
                    tests,
                    set(SEEN[name]),
                )
                for name in train
            }
            archs[arch] = {
                "banks": per,
                "mean_unseen": round(float(np.mean([v["unseen"] for v in per.values()])), 4),
            }
        arch = max(ARCHITECTURES, key=lambda a: archs[a]["mean_unseen"])
        clipping = _clipping_cost(banks, arch, tests, SEEN, seed)
        privacy = _privacy_cost(banks, arch, tests, SEEN, seed)
        run: dict[str, Any] | None = None
        if processes:
            from assistant.federation.model import FederatedScorer

            run = run_processes(
                {n: p for n, (_, _, p) in train.items()}, workdir or folder / "fed", arch, secure
            )
            if not run["model"]:
                raise SystemExit(f"聯邦訓練失敗 / the federated run failed: {run['summary']}")
            simulated = fed_params[arch]
            fed_params[arch] = FederatedScorer.load(run["model"]).params
            # the same rounds in the clear, in this process: what SecAgg+'s rounding changed
            run["max_abs_vs_plain"] = float(np.max(np.abs(fed_params[arch] - simulated)))
        t_fed = time.perf_counter()

        pooled_X = np.concatenate([b.X_train for b in banks])
        pooled_y = np.concatenate([b.y for b in banks])
        pooled = _train(pooled_X, pooled_y, arch, seed)
        out_banks: dict[str, Any] = {}
        for name, (d, _, _) in train.items():
            seen = set(SEEN[name])
            local = _train(d.X_train, d.y, arch, seed)
            hgb = MuleScorer(seed=seed).fit(d.names, d.X_train, d.y)
            out_banks[name] = {
                "seen_typologies": sorted(seen),
                "train_accounts": len(d.y),
                "train_mules": int(d.y.sum()),
                "local": _seen_unseen(
                    lambda X, p=local: predict(p, model_input(X), arch), tests, seen
                ),
                "local_hgb": _seen_unseen(hgb.score, tests, seen),
                "federated": _seen_unseen(
                    lambda X: predict(fed_params[arch], model_input(X), arch), tests, seen
                ),
                "pooled": _seen_unseen(
                    lambda X: predict(pooled, model_input(X), arch), tests, seen
                ),
            }
    best_local = {
        n: max(b["local"]["unseen"], b["local_hgb"]["unseen"]) for n, b in out_banks.items()
    }
    return {
        "world": size,
        "seed": seed,
        "members": members,
        "rounds": ROUNDS,
        "local_steps_per_round": STEPS,
        "clip_norm": CLIP,
        "architectures": archs,
        "architecture": arch,
        "clipping": clipping,
        "differential_privacy": privacy,
        "federated_by": "flower processes" if processes else "simulation (same aggregation)",
        "secure_aggregation": secure,
        "run": None if run is None else _run_figures(run),
        "banks": out_banks,
        "criteria": {
            "federated_minus_best_local_unseen": {
                n: round(out_banks[n]["federated"]["unseen"] - best_local[n], 4) for n in out_banks
            },
            "pooled_minus_federated_unseen": {
                n: round(b["pooled"]["unseen"] - b["federated"]["unseen"], 4)
                for n, b in out_banks.items()
            },
        },
        "seconds": {
            "load": round(t_load - t0, 1),
            "federation": round(t_fed - t_load, 1),
            "total": round(time.perf_counter() - t0, 1),
        },
    }


def _run_figures(run: dict[str, Any]) -> dict[str, Any]:
    """What the process run cost: seconds per round, and how far its model is from the same
    rounds computed in the clear here (SecAgg+'s rounding; ~0 for a plain run)."""
    secs = [r.get("seconds", 0.0) for r in run["rounds"]]
    return {
        "summary": run["summary"],
        "rounds": len(run["rounds"]),
        "seconds_per_round": round(float(np.mean(secs)), 1) if secs else None,
        "max_abs_weight_vs_plain": run["max_abs_vs_plain"],
        "out": run["out"],
    }


AMLGENTEX_SEEN = {
    "bank1": ["fan_in", "fan_out"],
    "bank2": ["cycle", "bipartite", "stack"],
    "bank3": ["scatter_gather", "gather_scatter"],
}


def _amlgentex_banks(path: Path, seen: dict[str, list[str]] | None) -> tuple[dict, list]:
    """An AMLGentex run as three members: each mule goes to the member that has seen its
    typology, every other account to a member by its number. Features over the whole run's
    ledger (simpler than per-bank views, which would read 670,000 rows three times: a member
    here sees its accounts' full flows); ``seen`` None: every label known (the test world)."""
    from evals.fraud import load_amlgentex

    data = load_amlgentex(path)
    kinds = [data.typologies[g] if g >= 0 else None for g in data.group.tolist()]
    owner_of = {k: n for n, ks in AMLGENTEX_SEEN.items() for k in ks}
    names = list(AMLGENTEX_SEEN)
    ids = [str(data.arrays.account_ids[i]) for i in data.keep.tolist()]
    owner = [
        owner_of.get(k, names[i % len(names)]) if y else names[i % len(names)]
        for i, (k, y) in enumerate(zip(kinds, data.y.tolist(), strict=True))
    ]
    out = {}
    for n in names:
        mine = np.array([o == n for o in owner])
        labels = np.where(mine, data.y, -1)
        if seen is not None:
            unseen = np.array([k is not None and k not in seen[n] for k in kinds])
            labels = np.where(mine & unseen, -1, labels)
        out[n] = BankData(ids, data.names, data.X, labels)
    return out, kinds


def evaluate_amlgentex(train: Path, test: Path, seed: int = 0) -> dict[str, Any]:
    """The same comparison on AMLGentex runs (its seven typologies, split among three members
    by ``AMLGENTEX_SEEN``), federated by ``simulate`` (the Flower apps' arithmetic)."""
    t0 = time.perf_counter()
    banks, _ = _amlgentex_banks(train, AMLGENTEX_SEEN)
    test_banks, kinds = _amlgentex_banks(test, None)
    first = next(iter(test_banks.values()))
    # every label is known in the test world: an account is a mule in whichever member has it
    y_test = np.array(
        [max(int(b.labels[i]) for b in test_banks.values()) for i in range(len(first.ids))]
    )
    tests = [(first.X, y_test, [k if y else None for k, y in zip(kinds, y_test, strict=True)])]
    archs: dict[str, Any] = {}
    fed: dict[str, np.ndarray] = {}
    for arch in ARCHITECTURES:
        fed[arch] = simulate(list(banks.values()), arch, seed=seed)
        per = {
            n: _seen_unseen(
                lambda X, p=fed[arch], a=arch: predict(p, model_input(X), a),
                tests,
                set(AMLGENTEX_SEEN[n]),
            )
            for n in banks
        }
        archs[arch] = {
            "banks": per,
            "mean_unseen": round(float(np.mean([v["unseen"] for v in per.values()])), 4),
        }
    arch = max(ARCHITECTURES, key=lambda a: archs[a]["mean_unseen"])
    clipping = _clipping_cost(list(banks.values()), arch, tests, AMLGENTEX_SEEN, seed)
    privacy = _privacy_cost(list(banks.values()), arch, tests, AMLGENTEX_SEEN, seed)
    pooled_X = np.concatenate([b.X_train for b in banks.values()])
    pooled_y = np.concatenate([b.y for b in banks.values()])
    pooled = _train(pooled_X, pooled_y, arch, seed)
    hgb_pooled = MuleScorer(seed=seed).fit(first.names, pooled_X, pooled_y)
    out: dict[str, Any] = {}
    for n, d in banks.items():
        seen = set(AMLGENTEX_SEEN[n])
        local = _train(d.X_train, d.y, arch, seed)
        hgb = MuleScorer(seed=seed).fit(d.names, d.X_train, d.y)
        out[n] = {
            "seen_typologies": sorted(seen),
            "train_accounts": len(d.y),
            "train_mules": int(d.y.sum()),
            "local": _seen_unseen(lambda X, p=local: predict(p, model_input(X), arch), tests, seen),
            "local_hgb": _seen_unseen(hgb.score, tests, seen),
            "federated": _seen_unseen(
                lambda X: predict(fed[arch], model_input(X), arch), tests, seen
            ),
            "pooled": _seen_unseen(lambda X: predict(pooled, model_input(X), arch), tests, seen),
            "pooled_hgb": _seen_unseen(hgb_pooled.score, tests, seen),
        }
    best_local = {n: max(b["local"]["unseen"], b["local_hgb"]["unseen"]) for n, b in out.items()}
    return {
        "train": str(train),
        "test": str(test),
        "architectures": archs,
        "architecture": arch,
        "clipping": clipping,
        "differential_privacy": privacy,
        "federated_by": "simulation (same aggregation)",
        "rounds": ROUNDS,
        "banks": out,
        "criteria": {
            "federated_minus_best_local_unseen": {
                n: round(out[n]["federated"]["unseen"] - best_local[n], 4) for n in out
            },
            "pooled_minus_federated_unseen": {
                n: round(b["pooled"]["unseen"] - b["federated"]["unseen"], 4)
                for n, b in out.items()
            },
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }


def evaluate_across(
    amlsim: Path, train_run: Path | None, test_run: Path | None, seed: int = 0
) -> dict[str, Any]:
    """Members that differ in more than typologies: each holds another generator's world (the
    product's ledger, the AMLSim sample, AMLGentex when two runs are given), its population
    and its typologies. ``seen`` is a member's own generator's mules, ``unseen`` the others';
    negatives are every member's non-mules. Train and test: another seed of the product's
    generator and of AMLGentex; AMLSim, one sample, is cut in two halves of its accounts
    (features over its whole ledger). Federated by ``simulate``."""
    from evals.fraud import load_amlgentex, load_amlsim, load_product

    t0 = time.perf_counter()
    worlds: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    product, product_test = load_product(seed, RULES), load_product(seed + 1000, RULES)
    worlds["product"] = (product.X, product.y, product_test.X, product_test.y)
    sample = load_amlsim(amlsim, RULES)
    half = np.random.default_rng(seed).random(len(sample.y)) < 0.5
    worlds["amlsim"] = (sample.X[half], sample.y[half], sample.X[~half], sample.y[~half])
    if train_run is not None and test_run is not None:
        a, b = load_amlgentex(train_run, RULES), load_amlgentex(test_run, RULES)
        worlds["amlgentex"] = (a.X, a.y, b.X, b.y)
    names = product.names
    banks = {
        w: BankData([str(i) for i in range(len(y))], names, X, y.astype(int))
        for w, (X, y, _, _) in worlds.items()
    }
    tests = [(Xt, yt, [w if v else None for v in yt]) for w, (_, _, Xt, yt) in worlds.items()]
    out: dict[str, Any] = {}
    for arch in ARCHITECTURES:
        fed = simulate(list(banks.values()), arch, seed=seed)
        pooled = _train(
            np.concatenate([b.X_train for b in banks.values()]),
            np.concatenate([b.y for b in banks.values()]),
            arch,
            seed,
        )
        per: dict[str, Any] = {}
        for w, d in banks.items():
            local = _train(d.X_train, d.y, arch, seed)
            hgb = MuleScorer(seed=seed).fit(names, d.X_train, d.y)
            row = {
                "train_accounts": len(d.y),
                "train_mules": int(d.y.sum()),
                "local": _seen_unseen(
                    lambda X, p=local, a=arch: predict(p, model_input(X), a), tests, {w}
                ),
                "local_hgb": _seen_unseen(hgb.score, tests, {w}),
                "federated": _seen_unseen(
                    lambda X, p=fed, a=arch: predict(p, model_input(X), a), tests, {w}
                ),
                "pooled": _seen_unseen(
                    lambda X, p=pooled, a=arch: predict(p, model_input(X), a), tests, {w}
                ),
            }
            best = max(row["local"]["unseen"], row["local_hgb"]["unseen"])
            row["federated_minus_best_local_unseen"] = round(row["federated"]["unseen"] - best, 4)
            row["pooled_minus_federated_unseen"] = round(
                row["pooled"]["unseen"] - row["federated"]["unseen"], 4
            )
            per[w] = row
        out[arch] = per
    return {
        "members": {w: [len(v[1]), len(v[3])] for w, v in worlds.items()},
        "federated_by": "simulation (same aggregation)",
        "rounds": ROUNDS,
        "architectures": out,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--accounts", type=int, default=WORLD["accounts"])
    ap.add_argument("--transfers", type=int, default=WORLD["transfers"])
    ap.add_argument("--rings", type=int, default=WORLD["rings"])
    ap.add_argument(
        "--processes", action="store_true", help="federate through real Flower processes"
    )
    ap.add_argument(
        "--secure-aggregation",
        action="store_true",
        help="federate through real Flower processes with SecAgg+ (implies --processes)",
    )
    ap.add_argument("--workdir", type=Path, help="the federation's folder (logs, runs)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument(
        "--amlgentex",
        nargs=2,
        type=Path,
        metavar=("TRAIN_RUN", "TEST_RUN"),
        help="instead: two AMLGentex runs (make amlgentex), simulated federation",
    )
    ap.add_argument(
        "--across",
        type=Path,
        metavar="AMLSIM_FOLDER",
        help="instead: one member per generator (the product's, this AMLSim sample, and "
        "AMLGentex when --amlgentex gives two runs), simulated federation",
    )
    a = ap.parse_args(argv)
    size = {"accounts": a.accounts, "transfers": a.transfers, "rings": a.rings}
    if a.across:
        runs = a.amlgentex or (None, None)
        out = evaluate_across(a.across, runs[0], runs[1], a.seed)
    elif a.amlgentex:
        out = evaluate_amlgentex(a.amlgentex[0], a.amlgentex[1], a.seed)
    else:
        out = evaluate(
            a.seed, size, processes=a.processes, workdir=a.workdir, secure=a.secure_aggregation
        )
    text = json.dumps(out, ensure_ascii=False, indent=2)
    print(text)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
