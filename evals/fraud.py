"""Fraud eval: how well mule scoring and the money-flow trace find planted fraud, on ledgers
from several generators: the product's own (``assistant.fraud.generator``), IBM AMLSim output
and AMLGentex runs.

Each ledger is loaded into a temporary SQLite ledger through the product's own importer (or
generator), its features computed with ``account_features`` (no label enters them), and only
customer accounts are scored (a bank's CASH account and OUTSIDE are endpoints, not customers).
The scorer reads the features as within-ledger percentiles (``within_ledger_ranks``, as the
fraud service does); the baselines read the raw counts and amounts.

Per ledger (``evaluate_ledger``):

- ``auc`` / ``precision_at_k``: ROC AUC and the share of fraud among the ``k`` highest scores
  (``k`` = the number of fraud accounts) of out-of-fold scores (``cross_validated_scores``,
  stratified ``folds``, shuffled with ``seed``). ``baseline_auc``: the degree-only baseline;
  ``degree_amount_auc`` / ``degree_amount_precision_at_k``: the degree-and-amount baseline
  (``features.DEGREE_AMOUNT_FEATURES``, cash included), the same model on the same folds.
- ``typologies``: per planted pattern type, the AUC of its fraud accounts against every
  non-fraud account (the same out-of-fold scores), for the scorer and the degree-and-amount
  baseline, and the trace recall of that type.
- ``trace_recall``: from each fraud account of a pattern of two or more, the trace runs 2 hops
  downstream and 2 hops upstream with a per-hop limit of 1,000 transfers per account; its recall
  is the share of the *other* accounts of its pattern reached. ``trace_recall`` is the mean over
  those accounts; ``trace_recall_micro`` pools them. A pattern is the ledger's own pattern id
  where it has one (AMLGentex ``patternID``, the generator's ring); AMLSim names none, so there a
  pattern is a connected component of fraud-to-fraud transfers (direction ignored).

Across ledgers (``evaluate_generators``): ``cross``: fitted on all of one ledger, scored on
another (every ordered pair), scorer and degree-and-amount baseline; ``held_out``: fitted on
all the other ledgers, scored on one; ``pooled``: out-of-fold over all ledgers' accounts
together (stratified by ledger and label), with the AUC inside each ledger of those scores.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sqlalchemy import select

from assistant.errors import AssistantError
from assistant.fraud.features import (
    CashRules,
    account_features,
    account_meta,
    within_ledger_ranks,
)
from assistant.fraud.generator import generate
from assistant.fraud.importers import import_amlgentex, import_amlsim, import_csv
from assistant.fraud.ledger import Ledger, LedgerArrays
from assistant.fraud.links import accomplice_rows, pattern_codes
from assistant.fraud.records import AccountRow, TransferRow, is_reserved
from assistant.fraud.reference import ReferenceModel
from assistant.fraud.scoring import (
    MuleScorer,
    baseline_cross_validated_scores,
    cross_validated_scores,
    degree_amount,
)
from assistant.fraud.trace import TransferIndex
from assistant.schema import open_engine

TRACE_HOPS = 2
TRACE_PER_HOP_LIMIT = 1000
PRODUCT = {"accounts": 20_000, "transfers": 200_000, "rings": 40, "days": 60}


def labels_for(ledger: Ledger, arrays: LedgerArrays) -> np.ndarray:
    """1 for accounts whose ``is_fraud`` is True, else 0, in ``arrays.account_ids`` order."""
    t = AccountRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        fraud = {r[0] for r in conn.execute(select(t.c.id).where(t.c.is_fraud.is_(True)))}
    return np.array([a in fraud for a in arrays.account_ids.tolist()], dtype=int)


def patterns_for(ledger: Ledger, arrays: LedgerArrays) -> list[str | None]:
    """Each account's ground-truth ``pattern`` (None if none), in ``arrays.account_ids`` order."""
    t = AccountRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        got = dict(conn.execute(select(t.c.id, t.c.pattern)).all())
    return [got.get(a) for a in arrays.account_ids.tolist()]


def ring_members(ledger: Ledger, arrays: LedgerArrays) -> dict[str, np.ndarray]:
    """Per planted pattern (the transfers' own ``pattern``), the customer accounts its
    transfers touch, as positions in ``arrays.account_ids``."""
    t = TransferRow.__table__  # type: ignore[attr-defined]
    q = select(t.c.pattern, t.c.from_account, t.c.to_account).where(t.c.pattern.is_not(None))
    found: dict[str, set[int]] = {}
    with ledger.engine.connect() as conn:
        for pattern, a, b in conn.execute(q):
            for acct in (a, b):
                pos = arrays.index.get(acct)
                if pos is not None and not is_reserved(acct):
                    found.setdefault(pattern, set()).add(pos)
    return {k: np.array(sorted(v), dtype=np.int64) for k, v in found.items()}


def precision_at_k(y: np.ndarray, scores: np.ndarray, k: int) -> float:
    if k <= 0:
        return float("nan")
    top = np.argsort(-scores, kind="stable")[:k]
    return float(np.mean(y[top]))


def fraud_components(arrays: LedgerArrays, y: np.ndarray) -> np.ndarray:
    """Component number per account in the graph of fraud-to-fraud transfers (undirected);
    -1 for non-fraud accounts."""
    n = len(arrays.account_ids)
    both = (y[arrays.src] == 1) & (y[arrays.dst] == 1)
    g = coo_matrix((np.ones(int(both.sum())), (arrays.src[both], arrays.dst[both])), shape=(n, n))
    _, comp = connected_components(g, directed=True, connection="weak")
    return np.where(y == 1, comp, -1)


def pattern_groups(
    arrays: LedgerArrays, y: np.ndarray, patterns: list[str | None]
) -> tuple[np.ndarray, list[str]]:
    """(group number per account, -1 for none; the typology of each group). A group is a
    planted pattern: ``amlgentex:<type>:<id>`` and the generator's ``<ring>:<kind>/<role>`` name
    one; AMLSim's ``amlsim:<type>`` and a labelled file's ``label:<value>`` do not, so their
    groups are ``fraud_components``."""
    keys: list[str | None] = []
    for pat, lab in zip(patterns, y.tolist(), strict=True):
        if not lab or not pat:
            keys.append(None)
        elif pat.startswith("amlgentex:"):
            keys.append(pat)
        elif pat.startswith(("amlsim:", "label:")):
            keys.append(None)  # a label says fraud, not which pattern instance
        else:
            keys.append(pat.split("/", 1)[0])
    if not any(keys) and y.any():
        comp = fraud_components(arrays, y)
        types = {
            int(c): "amlsim:" + (patterns[i] or "fraud").split(":", 1)[-1]
            for i, c in enumerate(comp.tolist())
            if c >= 0
        }
        order = {c: k for k, c in enumerate(sorted(types))}
        group = np.array([order.get(int(c), -1) for c in comp.tolist()], dtype=np.int64)
        return group, [types[c].removeprefix("amlsim:") for c in sorted(types)]
    numbers: dict[str, int] = {}
    for k in keys:
        if k is not None and k not in numbers:
            numbers[k] = len(numbers)
    group = np.array([numbers[k] if k is not None else -1 for k in keys], dtype=np.int64)
    return group, [_typology(k) for k in numbers]


def _typology(key: str) -> str:
    if key.startswith("amlgentex:"):
        return key.split(":")[1]
    return key.split(":", 1)[-1]  # the generator's "<ring>:<kind>"


def trace_recall(
    arrays: LedgerArrays, y: np.ndarray, group: np.ndarray | None = None
) -> dict[str, Any]:
    """See the module docstring; ``group`` defaults to ``fraud_components``. Also returns
    ``per_root``: (account position, recall) for each traced account."""
    comp = fraud_components(arrays, y) if group is None else group
    sizes = np.bincount(comp[comp >= 0]) if (comp >= 0).any() else np.zeros(0, dtype=int)
    index = TransferIndex.from_ledger(arrays)
    per_root: list[tuple[int, float]] = []
    hit = total = 0
    for pos in np.flatnonzero(comp >= 0).tolist():
        size = int(sizes[comp[pos]])
        if size < 2 or index.terminal[pos]:
            continue
        reached: set[int] = set()
        for direction in ("down", "up"):
            res = index.trace(
                str(arrays.account_ids[pos]),
                direction,  # type: ignore[arg-type]
                TRACE_HOPS,
                per_hop_limit=TRACE_PER_HOP_LIMIT,
            )
            reached.update(res.columns.get("account", np.zeros(0, dtype=np.int64)).tolist())
        reached.discard(pos)
        others = np.fromiter(reached, dtype=np.int64, count=len(reached))
        found = int(np.sum(comp[others] == comp[pos])) if len(others) else 0
        per_root.append((pos, found / (size - 1)))
        hit += found
        total += size - 1
    recalls = [r for _, r in per_root]
    return {
        "trace_recall": float(np.mean(recalls)) if recalls else float("nan"),
        "trace_recall_micro": hit / total if total else float("nan"),
        "trace_roots": len(recalls),
        "fraud_components": int(np.sum(sizes >= 2)),
        "per_root": per_root,
    }


@dataclass
class Loaded:
    """One ledger ready to score: customer accounts only (rows of ``X``), their labels and
    planted pattern groups, the arrays for the trace."""

    name: str
    generator: str
    arrays: LedgerArrays
    names: list[str]
    X: np.ndarray  # the scorer's input: within-ledger percentiles of the features
    raw: np.ndarray  # the features themselves (the baselines' input)
    y: np.ndarray
    group: np.ndarray  # per customer row: pattern group number, -1 none
    typologies: list[str]  # per group number
    keep: np.ndarray  # positions in arrays.account_ids of the rows of X
    report: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # planted pattern id → positions (in arrays.account_ids) of the accounts its transfers
    # touch: an account may take part in several patterns (AMLGentex reuses accounts)
    rings: dict[str, np.ndarray] = field(default_factory=dict)
    # per transfer row of ``arrays``: True for a laundering transfer (its ``pattern`` set)
    # between two fraud accounts (``links.accomplice_rows``)
    laundering: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # per transfer row of ``arrays``: a number per laundering pattern, -1 none
    # (``links.pattern_codes``), the step model's labels
    pattern: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pattern_names: list[str] = field(default_factory=list)  # by number


def _load(
    name: str,
    generator: str,
    fill: Callable[[Ledger], dict[str, Any]],
    rules: CashRules | None,
) -> Loaded:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="twfin-fraud-eval-") as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        try:
            ledger = Ledger(engine)
            report = fill(ledger)
            arrays = ledger.arrays()
            meta = account_meta(ledger)
            y_all = labels_for(ledger, arrays)
            patterns = patterns_for(ledger, arrays)
            rings = ring_members(ledger, arrays)
            marked = ledger.laundering_patterns()
            laundering = accomplice_rows(arrays, marked, y_all == 1)
            pattern, pattern_names = pattern_codes(arrays, marked)
        finally:
            engine.dispose()
    names, X = account_features(arrays, meta, rules=rules)
    group_all, typologies = pattern_groups(arrays, y_all, patterns)
    keep = np.flatnonzero(~arrays.reserved)
    return Loaded(
        name=name,
        generator=generator,
        arrays=arrays,
        names=names,
        X=within_ledger_ranks(X[keep]),
        raw=X[keep],
        y=y_all[keep],
        group=group_all[keep],
        typologies=typologies,
        keep=keep,
        report=report,
        seconds=time.perf_counter() - t0,
        rings=rings,
        laundering=laundering,
        pattern=pattern,
        pattern_names=pattern_names,
    )


def _import_report(report: Any) -> dict[str, Any]:
    d = report.as_dict()
    return {k: d[k] for k in ("rows", "added", "skipped", "cash", "omitted")}


def load_amlsim(folder: str | Path, rules: CashRules | None = None) -> Loaded:
    folder = Path(folder)
    return _load(folder.name, "amlsim", lambda lg: _import_report(import_amlsim(lg, folder)), rules)


def load_amlgentex(path: str | Path, rules: CashRules | None = None) -> Loaded:
    path = Path(path)
    return _load(
        path.name, "amlgentex", lambda lg: _import_report(import_amlgentex(lg, path)), rules
    )


def load_csv(path: str | Path, mapping: dict[str, str], rules: CashRules | None = None) -> Loaded:
    """A transfer file of any generator or bank (CSV, Parquet, Excel) through the product's
    mapped import, its label column (``mapping["label"]``, or one the header names) marking
    the laundering transfers: their accounts are the fraud accounts."""
    path = Path(path)

    def fill(ledger: Ledger) -> dict[str, Any]:
        report = import_csv(ledger, path, mapping)
        if not report.labelled:
            raise AssistantError(
                f"{path.name} 沒有標記欄（--csv-map label=欄名） / {path.name} has no label "
                "column: map it with --csv-map label=COLUMN"
            )
        if not report.labelled["fraud"]:
            raise AssistantError(
                f"{path.name} 的標記欄沒有標出任何洗錢交易 / {path.name}'s label column marks "
                "no transfer as laundering: nothing to measure"
            )
        return {**_import_report(report), "mapping": report.mapping, "labelled": report.labelled}

    return _load(path.stem, "csv", fill, rules)


def load_product(seed: int = 0, rules: CashRules | None = None, **size: int) -> Loaded:
    """The product's own synthetic ledger (``PRODUCT`` size unless ``size`` says)."""
    kw = {**PRODUCT, **size}

    def fill(ledger: Ledger) -> dict[str, Any]:
        g = generate(
            kw["accounts"],
            kw["transfers"],
            seed=seed,
            start=date(2024, 1, 1),
            days=kw["days"],
            fraud_rings=kw["rings"],
        )
        return g.write_to(ledger)

    return _load(f"product_s{seed}", "product", fill, rules)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def _measure(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {"auc": _auc(y, s), "precision_at_k": precision_at_k(y, s, int(y.sum()))}


def evaluate_ledger(data: Loaded, *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """The per-ledger figures (see the module docstring)."""
    y, X, raw, names = data.y, data.X, data.raw, data.names
    n_fraud = int(y.sum())
    if n_fraud < folds or len(y) - n_fraud < folds:
        raise AssistantError(
            f"詐騙帳戶數不足以做 {folds} 折交叉驗證 / too few fraud accounts for {folds} folds"
        )
    t0 = time.perf_counter()
    oof = cross_validated_scores(names, X, y, folds=folds, seed=seed)
    base = baseline_cross_validated_scores(names, raw, y, folds=folds, seed=seed)
    dn, dx = degree_amount(names, raw)
    da = cross_validated_scores(dn, dx, y, folds=folds, seed=seed)
    t_score = time.perf_counter()
    group_all = np.full(len(data.arrays.account_ids), -1, dtype=np.int64)
    group_all[data.keep] = data.group
    y_all = np.zeros(len(group_all), dtype=int)
    y_all[data.keep] = y
    tr = trace_recall(data.arrays, y_all, group_all)
    t_end = time.perf_counter()
    return {
        "ledger": data.name,
        "generator": data.generator,
        "n_accounts": len(y),
        "n_fraud": n_fraud,
        "n_transfers": len(data.arrays),
        "n_cash": int(np.sum(data.arrays.kinds() != 0)),
        "import": data.report,
        **_measure(y, oof),
        "baseline_auc": _auc(y, base),
        "baseline_precision_at_k": precision_at_k(y, base, n_fraud),
        "degree_amount_auc": _auc(y, da),
        "degree_amount_precision_at_k": precision_at_k(y, da, n_fraud),
        "typologies": _by_typology(data, oof, da, tr["per_root"]),
        **{k: v for k, v in tr.items() if k != "per_root"},
        "folds": folds,
        "seed": seed,
        "seconds": {
            "load": round(data.seconds, 2),
            "scoring": round(t_score - t0, 2),
            "trace": round(t_end - t_score, 2),
        },
    }


def _by_typology(
    data: Loaded, oof: np.ndarray, da: np.ndarray, per_root: list[tuple[int, float]]
) -> dict[str, dict[str, Any]]:
    row_of = {int(p): i for i, p in enumerate(data.keep.tolist())}
    recall: dict[str, list[float]] = {}
    for pos, r in per_root:
        g = int(data.group[row_of[pos]])
        recall.setdefault(data.typologies[g], []).append(r)
    out: dict[str, dict[str, Any]] = {}
    typ = np.array([data.typologies[g] if g >= 0 else "" for g in data.group.tolist()])
    negative = data.y == 0
    for t in sorted(set(data.typologies)):
        mine = (typ == t) & (data.y == 1)
        rows = mine | negative
        out[t] = {
            "n_fraud": int(mine.sum()),
            "patterns": sum(1 for x in data.typologies if x == t),
            "auc": _auc(data.y[rows], oof[rows]),
            "degree_amount_auc": _auc(data.y[rows], da[rows]),
            "trace_recall": float(np.mean(recall[t])) if recall.get(t) else float("nan"),
        }
    return out


def _fit_score(
    names: list[str], X: np.ndarray, y: np.ndarray, Xt: np.ndarray, seed: int
) -> np.ndarray:
    return MuleScorer(seed=seed).fit(names, X, y).score(Xt)


def _both(train: list[Loaded], test: Loaded, seed: int) -> dict[str, float]:
    names = train[0].names
    X = np.vstack([d.X for d in train])
    y = np.concatenate([d.y for d in train])
    s = _fit_score(names, X, y, test.X, seed)
    dn, dx = degree_amount(names, np.vstack([d.raw for d in train]))
    _, dxt = degree_amount(names, test.raw)
    b = _fit_score(dn, dx, y, dxt, seed)
    m, mb = _measure(test.y, s), _measure(test.y, b)
    return {
        "auc": m["auc"],
        "precision_at_k": m["precision_at_k"],
        "degree_amount_auc": mb["auc"],
        "degree_amount_precision_at_k": mb["precision_at_k"],
    }


def evaluate_generators(ledgers: list[Loaded], *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Per ledger, across ledgers and pooled (see the module docstring)."""
    t0 = time.perf_counter()
    per = [evaluate_ledger(d, folds=folds, seed=seed) for d in ledgers]
    cross = [
        {"train": a.name, "test": b.name, **_both([a], b, seed)}
        for a in ledgers
        for b in ledgers
        if a is not b
    ]
    held_out = [
        {"test": d.name, **_both([o for o in ledgers if o is not d], d, seed)}
        for d in ledgers
        if len(ledgers) > 1
    ]
    pooled = _pooled(ledgers, folds, seed) if len(ledgers) > 1 else {}
    return {
        "ledgers": per,
        "cross": cross,
        "held_out": held_out,
        "pooled": pooled,
        "never_below_baseline": all(
            r["auc"] >= r["degree_amount_auc"] for r in per + cross + held_out
        ),
        "folds": folds,
        "seed": seed,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _pooled(ledgers: list[Loaded], folds: int, seed: int) -> dict[str, Any]:
    names = ledgers[0].names
    X = np.vstack([d.X for d in ledgers])
    y = np.concatenate([d.y for d in ledgers])
    which = np.concatenate([np.full(len(d.y), i) for i, d in enumerate(ledgers)])
    strata = which * 2 + y
    dn, dx = degree_amount(names, np.vstack([d.raw for d in ledgers]))
    oof, da = np.full(len(y), np.nan), np.full(len(y), np.nan)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for tr, te in skf.split(X, strata):
        oof[te] = _fit_score(names, X[tr], y[tr], X[te], seed)
        da[te] = _fit_score(dn, dx[tr], y[tr], dx[te], seed)
    per = {
        d.name: {
            "auc": _auc(y[which == i], oof[which == i]),
            "degree_amount_auc": _auc(y[which == i], da[which == i]),
        }
        for i, d in enumerate(ledgers)
    }
    return {
        **_measure(y, oof),
        "degree_amount_auc": _auc(y, da),
        "degree_amount_precision_at_k": precision_at_k(y, da, int(y.sum())),
        "per_ledger": per,
    }


def evaluate_reference(
    ledgers: list[Loaded], reference: ReferenceModel, *, rules: CashRules | None = None
) -> dict[str, Any]:
    """Each ledger as a bank without labels sees it: scored by the reference scorer (fitted on
    the product's generated ledgers, ``assistant.fraud.reference``), none of the ledger's
    labels used, side by side with what else works without them: the same gradient-boosted
    model on raw degree and amount fitted on the same generated ledgers, an isolation forest
    on the ledger's own percentiles (label-free) and the account's degree alone."""
    from sklearn.ensemble import IsolationForest

    from assistant.fraud.reference import LEDGERS, training_rows

    t0 = time.perf_counter()
    scorer = reference.load(cash_rules=rules)
    parts = [training_rows(spec, rules) for spec in LEDGERS]
    names = parts[0][0]
    dn, dx = degree_amount(names, np.vstack([p[2] for p in parts]))
    y_ref = np.concatenate([p[3] for p in parts])
    baseline = MuleScorer(seed=0).fit(dn, dx, y_ref)
    deg = [names.index("in_degree"), names.index("out_degree")]
    out = []
    for d in ledgers:
        s = scorer.score(d.X)
        _, dxt = degree_amount(names, d.raw)
        b = baseline.score(dxt)
        forest = IsolationForest(n_estimators=200, random_state=0)
        iso = -forest.fit(np.nan_to_num(d.X, nan=0.5)).score_samples(np.nan_to_num(d.X, nan=0.5))
        degree = np.nansum(d.raw[:, deg], axis=1)
        m = _measure(d.y, s)
        out.append(
            {
                "ledger": d.name,
                "generator": d.generator,
                "n_accounts": len(d.y),
                "n_fraud": int(d.y.sum()),
                "auc": m["auc"],
                "precision_at_k": m["precision_at_k"],
                "degree_amount_auc": _auc(d.y, b),
                "isolation_forest_auc": _auc(d.y, iso),
                "degree_auc": _auc(d.y, degree),
            }
        )
    return {
        "ledgers": out,
        "trained_on": [dict(spec) for spec in LEDGERS],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def evaluate_amlsim(folder: str | Path, *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """The per-ledger figures for one AMLSim output folder, under the keys this eval has
    always had (``folder``, ``auc``, ``baseline_auc``, ``trace_recall``, …)."""
    t0 = time.perf_counter()
    data = load_amlsim(folder)
    r = evaluate_ledger(data, folds=folds, seed=seed)
    r["folder"] = str(folder)
    r["import_skipped"] = data.report["skipped"]
    r["features"] = data.names
    r["seconds"]["total"] = round(time.perf_counter() - t0, 2)
    return r
