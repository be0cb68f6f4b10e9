"""Fraud eval on an IBM AMLSim folder: how well mule scoring and the money-flow trace find the
planted fraud accounts.

``evaluate_amlsim(folder)`` imports the folder into a temporary SQLite ledger
(``import_amlsim``), computes ``account_features`` (labels never enter them), and reports:

- ``auc``: ROC AUC of out-of-fold scores (``cross_validated_scores``, stratified ``folds``,
  shuffled with ``seed``); ``baseline_auc``: the same for the degree-only baseline.
- ``precision_at_k``: share of fraud among the ``k`` highest out-of-fold scores, ``k`` = the
  number of fraud accounts.
- ``trace_recall``: AMLSim's output names no pattern ids, so a fraud account's *pattern* is
  taken to be its connected component in the graph of transfers between fraud accounts
  (direction ignored). From each fraud account in a component of two or more, the trace runs
  2 hops downstream and 2 hops upstream (both: the account may be a sender or the collector of
  a fan-in), with no time window beyond the trace's own time-respecting rule and a per-hop
  limit of 1,000 transfers per account (so truncation does not hide anyone in this sample); its
  recall is the share of the *other* accounts of its component reached. ``trace_recall`` is the
  mean over those accounts; ``trace_recall_micro`` pools all of them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import roc_auc_score
from sqlalchemy import select

from assistant.errors import AssistantError
from assistant.fraud.features import account_features, account_meta
from assistant.fraud.importers import import_amlsim
from assistant.fraud.ledger import Ledger, LedgerArrays
from assistant.fraud.records import AccountRow
from assistant.fraud.scoring import baseline_cross_validated_scores, cross_validated_scores
from assistant.fraud.trace import TransferIndex
from assistant.schema import open_engine

TRACE_HOPS = 2
TRACE_PER_HOP_LIMIT = 1000


def labels_for(ledger: Ledger, arrays: LedgerArrays) -> np.ndarray:
    """1 for accounts whose ``is_fraud`` is True, else 0, in ``arrays.account_ids`` order."""
    t = AccountRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        fraud = {r[0] for r in conn.execute(select(t.c.id).where(t.c.is_fraud.is_(True)))}
    return np.array([a in fraud for a in arrays.account_ids.tolist()], dtype=int)


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


def trace_recall(arrays: LedgerArrays, y: np.ndarray) -> dict[str, Any]:
    comp = fraud_components(arrays, y)
    sizes = np.bincount(comp[comp >= 0]) if (comp >= 0).any() else np.zeros(0, dtype=int)
    index = TransferIndex.from_ledger(arrays)
    recalls: list[float] = []
    hit = total = 0
    for pos in np.flatnonzero(comp >= 0).tolist():
        size = int(sizes[comp[pos]])
        if size < 2:
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
        recalls.append(found / (size - 1))
        hit += found
        total += size - 1
    return {
        "trace_recall": float(np.mean(recalls)) if recalls else float("nan"),
        "trace_recall_micro": hit / total if total else float("nan"),
        "trace_roots": len(recalls),
        "fraud_components": int(np.sum(sizes >= 2)),
    }


def evaluate_amlsim(folder: str | Path, *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """The eval's numbers for one AMLSim output folder (see the module docstring)."""
    folder = Path(folder)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="twfin-fraud-eval-") as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        try:
            ledger = Ledger(engine)
            report = import_amlsim(ledger, folder)
            arrays = ledger.arrays()
            meta = account_meta(ledger)
            y = labels_for(ledger, arrays)
        finally:
            engine.dispose()
    t_import = time.perf_counter()
    n_fraud = int(y.sum())
    if n_fraud < folds or len(y) - n_fraud < folds:
        raise AssistantError(
            f"詐騙帳戶數不足以做 {folds} 折交叉驗證 / too few fraud accounts for {folds} folds"
        )
    names, X = account_features(arrays, meta)
    oof = cross_validated_scores(names, X, y, folds=folds, seed=seed)
    base = baseline_cross_validated_scores(names, X, y, folds=folds, seed=seed)
    t_score = time.perf_counter()
    tr = trace_recall(arrays, y)
    t_end = time.perf_counter()
    return {
        "folder": str(folder),
        "n_accounts": len(y),
        "n_fraud": n_fraud,
        "n_transfers": len(arrays),
        "import_skipped": report.skipped,
        "auc": float(roc_auc_score(y, oof)),
        "precision_at_k": precision_at_k(y, oof, n_fraud),
        "baseline_auc": float(roc_auc_score(y, base)),
        "baseline_precision_at_k": precision_at_k(y, base, n_fraud),
        **tr,
        "folds": folds,
        "seed": seed,
        "features": names,
        "seconds": {
            "import": round(t_import - t0, 2),
            "scoring": round(t_score - t_import, 2),
            "trace": round(t_end - t_score, 2),
            "total": round(t_end - t0, 2),
        },
    }
