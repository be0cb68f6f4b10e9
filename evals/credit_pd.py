"""Credit PD eval: our model against two baselines, by stratified k-fold cross-validation,
all three on the same folds in the same run.

- ``ours``: ``assistant.credit.scoring.PDModel`` exactly as ``credit train`` builds it
  (engineered features, tuned booster, Platt scaling on its own inner folds of the training
  part only).
- ``logistic``: logistic regression on the same features (raw and engineered): numeric
  columns winsorised at the training fold's 1st/99th percentiles (ratios and amounts are
  heavy-tailed and would otherwise dominate a linear model), median-imputed with a
  missing-indicator, standardised; categoricals one-hot (missing as its own level).
- ``gradient_boosting``: ``HistGradientBoostingClassifier`` with scikit-learn's defaults on
  the raw columns only, not calibrated: what engineering, tuning and calibration add.

Column types, categories and engineered features use no labels, so they are derived once
from the whole file; everything that learns from labels is fitted inside each training fold.

Reported per model: ``auc`` (ROC AUC of the pooled out-of-fold scores), ``auc_folds`` (per
fold), ``brier``, ``log_loss``, ``ece`` (expected calibration error over 10 equal-count bins
of predicted PD: the count-weighted mean |mean predicted − observed default rate|),
``calibration`` (those bins), ``seconds`` (fit and predict, all folds). ``brier_base`` is the
Brier score of predicting the base rate for everyone: a useful model is well below it.
Rows with a value that is not a number or no target are left out of every fold and reported
(``bad_rows``, and ``skipped_items`` with each row's line and reasons).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from assistant.credit.scoring import THREADS, PDModel, RowError, read_table
from assistant.errors import AssistantError
from assistant.modeleval.items import Skipped


class Winsorise(BaseEstimator, TransformerMixin):
    """Clip each column to its training 1st/99th percentiles (NaN kept)."""

    def __init__(self, lower: float = 1.0, upper: float = 99.0) -> None:
        self.lower = lower
        self.upper = upper

    def fit(self, X: np.ndarray, y: Any = None) -> Winsorise:
        X = np.asarray(X, dtype=float)
        self.lo_ = np.nanpercentile(X, self.lower, axis=0)
        self.hi_ = np.nanpercentile(X, self.upper, axis=0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(X, dtype=float), self.lo_, self.hi_)


def logistic(categorical: np.ndarray) -> Pipeline:
    num = np.flatnonzero(~categorical).tolist()
    cat = np.flatnonzero(categorical).tolist()
    steps = [
        (
            "num",
            make_pipeline(
                Winsorise(), SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
            ),
            num,
        )
    ]
    if cat:
        steps.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                cat,
            )
        )
    return make_pipeline(ColumnTransformer(steps), LogisticRegression(C=1.0, max_iter=2000))


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if len(part):
            out.append(
                {
                    "n": len(part),
                    "mean_pd": round(float(p[part].mean()), 4),
                    "observed": round(float(y[part].mean()), 4),
                }
            )
    return out


def metrics(y: np.ndarray, p: np.ndarray, fold_of: np.ndarray) -> dict[str, Any]:
    bins = calibration_bins(y, p)
    ece = sum(b["n"] * abs(b["mean_pd"] - b["observed"]) for b in bins) / len(y)
    return {
        "auc": round(float(roc_auc_score(y, p)), 4),
        "auc_folds": [
            round(float(roc_auc_score(y[fold_of == f], p[fold_of == f])), 4)
            for f in np.unique(fold_of).tolist()
        ],
        "brier": round(float(brier_score_loss(y, p)), 4),
        "log_loss": round(float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6))), 4),
        "ece": round(float(ece), 4),
        "calibration": bins,
    }


def skipped_rows(errors: list[RowError]) -> list[dict[str, str]]:
    """One entry per bad row, all its problems together, in the shape every eval reports."""
    by_line: dict[int, list[str]] = {}
    for e in errors:
        where = f"{e.column} {e.value!r}: " if e.column else ""
        by_line.setdefault(e.line, []).append(f"{where}{e.reason}")
    return [
        Skipped(f"line {line}", "; ".join(reasons)).as_dict()
        for line, reasons in sorted(by_line.items())
    ]


def evaluate(
    path: str | Path,
    target: str,
    id_column: str | None = None,
    folds: int = 5,
    seed: int = 0,
    models: tuple[str, ...] = ("ours", "logistic", "gradient_boosting"),
) -> dict[str, Any]:
    """Out-of-fold scores of each of ``models`` on the same stratified folds (docstring)."""
    if folds < 2:
        raise AssistantError("折數至少為 2 / --folds must be at least 2")
    table = read_table(path)
    template = PDModel(seed=seed)
    template.setup(table, target, id_column)
    data = template.prepare(table, with_target=True)
    assert data.y is not None
    X, y = data.X, data.y
    n_pos = int(y.sum())
    if min(n_pos, len(y) - n_pos) < folds:
        raise AssistantError(
            f"每一類至少需 {folds} 筆 / need at least {folds} rows of each class for {folds} folds"
        )
    n_raw = len(template.columns)
    categorical = template.categorical_mask()
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(skf.split(X, y))
    fold_of = np.zeros(len(y), dtype=int)
    for f, (_, test) in enumerate(splits):
        fold_of[test] = f

    report: dict[str, Any] = {
        "path": str(path),
        "target": target,
        "rows": len(y),
        "positives": n_pos,
        "base_rate": round(n_pos / len(y), 4),
        "brier_base": round(float(brier_score_loss(y, np.full(len(y), n_pos / len(y)))), 4),
        "bad_rows": len({e.line for e in data.errors}),
        # The same rows, each with its reasons: they are left out of every fold.
        "n_skipped": len({e.line for e in data.errors}),
        "skipped_items": skipped_rows(data.errors),
        "folds": folds,
        "seed": seed,
        "features": len(template.feature_names),
        "engineered": [e.name for e in template.plan],
        "models": {},
    }
    with threadpool_limits(limits=THREADS, user_api="openmp"):  # why: see scoring.THREADS
        for name in models:
            _run_model(name, report, X, y, splits, fold_of, template, categorical, n_raw, seed)
    return report


def _run_model(
    name: str,
    report: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    fold_of: np.ndarray,
    template: PDModel,
    categorical: np.ndarray,
    n_raw: int,
    seed: int,
) -> None:
    """Out-of-fold scores of one model on ``splits``; its metrics go into ``report``."""
    oof = np.full(len(y), np.nan)
    started = time.perf_counter()
    for train, test in splits:
        if name == "ours":
            m = PDModel(seed=seed)
            m.columns, m.plan = template.columns, template.plan
            m.fit(X[train], y[train])
            oof[test] = m.predict(X[test])
        elif name == "logistic":
            lr = logistic(categorical).fit(X[train], y[train])
            oof[test] = lr.predict_proba(X[test])[:, 1]
        elif name == "gradient_boosting":
            cat = categorical[:n_raw]
            gb = HistGradientBoostingClassifier(
                random_state=seed, categorical_features=cat if cat.any() else None
            ).fit(X[train][:, :n_raw], y[train])
            oof[test] = gb.predict_proba(X[test][:, :n_raw])[:, 1]
        else:
            raise AssistantError(f"未知的模型 / unknown model {name!r}")
    report["models"][name] = {
        **metrics(y, oof, fold_of),
        "seconds": round(time.perf_counter() - started, 1),
    }
