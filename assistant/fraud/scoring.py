"""Mule scoring: a calibrated gradient-boosted model over ``features.account_features``.

Model: scikit-learn ``HistGradientBoostingClassifier`` (handles the features' NaN natively),
wrapped in ``CalibratedClassifierCV`` with ``method="sigmoid"`` (Platt scaling) and 3 internal
folds. Sigmoid rather than isotonic because a bank's labelled set often holds only a few dozen
mules, where isotonic over-fits its step function; sigmoid also keeps the score smooth, so the
"replace with the median" explanation below does not vanish on a flat isotonic step.

Explanation (``explain``): for each feature, the account's score minus its score with that one
feature replaced by the training median (all others kept). Positive: the feature's value pushed
the score up. It is a one-at-a-time sensitivity, not a Shapley value: interactions are not
split fairly, and the contributions need not add up to the score.

Files (``save`` / ``load``): joblib, with the feature names, the model version and the
scikit-learn version recorded; ``load`` refuses a file whose feature names differ from the
ones expected. A joblib file is a pickle: load only files this system wrote.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import joblib
import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold

from assistant.errors import AssistantError
from assistant.fraud.features import (
    DEGREE_AMOUNT_FEATURES,
    DEGREE_FEATURES,
    FEATURE_NAMES,
    FEATURE_TEXT,
)

MODEL_VERSION = "mule-hgb-sigmoid/2"  # 2: cash features, graph features without cash hubs
FILE_KIND = "twfin-mule-scorer"


class Reason(NamedTuple):
    feature: str
    value: float
    contribution: float
    zh: str
    en: str


class MuleScorer:
    """Fit on labelled accounts (``y``: 1 mule, 0 not), score any accounts, explain a score."""

    def __init__(
        self,
        *,
        calibration: str = "sigmoid",
        max_iter: int = 100,
        learning_rate: float = 0.1,
        seed: int = 0,
    ) -> None:
        if calibration not in ("sigmoid", "isotonic"):
            raise AssistantError("校準方法須為 sigmoid 或 isotonic / calibration: sigmoid|isotonic")
        self.calibration = calibration
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.seed = seed
        self.names: list[str] = []
        self.medians: np.ndarray | None = None
        self.empty: np.ndarray | None = None
        self.model: CalibratedClassifierCV | None = None
        # out-of-fold scores of the training rows (``fit``), in memory only
        self.oof: np.ndarray | None = None

    def _estimator(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=self.seed,
        )

    def fit(self, names: Sequence[str], X: np.ndarray, y: np.ndarray) -> MuleScorer:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y).astype(int)
        if X.ndim != 2 or X.shape[1] != len(names) or len(X) != len(y):
            raise AssistantError("特徵矩陣形狀不符 / X does not match names or y")
        n_pos = int(y.sum())
        if n_pos < 2 or n_pos > len(y) - 2:
            raise AssistantError("訓練資料需同時有正負樣本 / need both mules and non-mules")
        cv = min(3, n_pos, len(y) - n_pos)
        self.names = list(names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: median NaN
            med = np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0)
        self.medians = med
        # a column with no value at all in training (e.g. no opening dates known) is held at 0:
        # the model then ignores it, and scoring treats it the same way
        # so is a column with one value or none (scikit-learn's binning cannot cut a column of
        # one distinct value that also has missing ones): it carries nothing to split on
        distinct = np.array([np.unique(X[np.isfinite(X[:, j]), j]).size for j in range(X.shape[1])])
        self.empty = ~np.isfinite(med) | (distinct < 2)
        # shuffled inner folds: rows often come sorted (by ledger, by label, by time), and a
        # fold holding none of a ledger's rows would see its columns empty
        folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=self.seed)
        self.model = CalibratedClassifierCV(self._estimator(), method=self.calibration, cv=folds)
        filled = self._fill(X)
        self.model.fit(filled, y)
        # Each inner model never saw its own fold: its scores there are out-of-fold, for free
        # (what the ring's link model must be fitted on, as mule scores read on unseen
        # accounts). The folds are the same ones the calibration split used (a fixed seed).
        self.oof = np.full(len(y), np.nan)
        inner = self.model.calibrated_classifiers_
        for model, (_, test) in zip(inner, folds.split(filled, y), strict=True):
            self.oof[test] = model.predict_proba(filled[test])[:, 1]
        return self

    def _fill(self, X: np.ndarray) -> np.ndarray:
        if self.empty is not None and self.empty.any():
            X = X.copy()
            X[:, self.empty] = 0.0
        return X

    def _check(self, X: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise AssistantError("模型尚未訓練 / the scorer is not fitted")
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1] != len(self.names):
            raise AssistantError(
                f"特徵數不符 / expected {len(self.names)} features, got {X.shape[1]}"
            )
        return X

    def score(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of being a mule, one per row."""
        X = self._check(X)
        assert self.model is not None
        return self.model.predict_proba(self._fill(X))[:, 1]

    def explain(self, x_row: np.ndarray, top_k: int = 5) -> list[Reason]:
        """The ``top_k`` features with the largest |score − score with that feature at the
        training median|, largest first (see the module docstring)."""
        x = self._check(x_row)[0]
        assert self.medians is not None
        k = len(self.names)
        probe = np.tile(x, (k + 1, 1))
        probe[np.arange(1, k + 1), np.arange(k)] = self.medians
        p = self.score(probe)
        contrib = p[0] - p[1:]
        order = np.argsort(-np.abs(contrib), kind="stable")[:top_k]
        out = []
        for j in order.tolist():
            name = self.names[j]
            zh, en = FEATURE_TEXT.get(name, (name, name))
            out.append(Reason(name, float(x[j]), float(contrib[j]), zh, en))
        return out

    # ------------------------------------------------------------------ files

    def save(self, path: str | Path) -> None:
        if self.model is None:
            raise AssistantError("模型尚未訓練 / the scorer is not fitted")
        payload: dict[str, Any] = {
            "kind": FILE_KIND,
            "model_version": MODEL_VERSION,
            "sklearn": sklearn.__version__,
            "feature_names": list(self.names),
            "medians": self.medians,
            "empty": self.empty,
            "calibration": self.calibration,
            "params": {"max_iter": self.max_iter, "learning_rate": self.learning_rate},
            "seed": self.seed,
            "model": self.model,
        }
        joblib.dump(payload, Path(path))

    @classmethod
    def load(
        cls, path: str | Path, feature_names: Sequence[str] | None = FEATURE_NAMES
    ) -> MuleScorer:
        """A saved scorer; refused (AssistantError) if the file is not one, was written by
        another model version, or its feature names differ from ``feature_names`` (default:
        the current ``FEATURE_NAMES``; None accepts any)."""
        try:
            payload = joblib.load(Path(path))
        except Exception as exc:
            raise AssistantError(f"無法讀取模型檔 / cannot read model file {path}: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("kind") != FILE_KIND:
            raise AssistantError(f"不是詐騙評分模型檔 / not a mule-scorer file: {path}")
        if payload.get("model_version") != MODEL_VERSION:
            raise AssistantError(
                f"模型版本不符 / model version {payload.get('model_version')!r}, "
                f"expected {MODEL_VERSION!r}"
            )
        names = list(payload["feature_names"])
        if feature_names is not None and names != list(feature_names):
            raise AssistantError(
                f"模型特徵不符 / the file's features {names} differ from {list(feature_names)}"
            )
        params = payload.get("params", {})
        self = cls(calibration=payload["calibration"], seed=payload.get("seed", 0), **params)
        self.names = names
        self.medians = payload["medians"]
        self.empty = payload["empty"]
        self.model = payload["model"]
        return self


def cross_validated_scores(
    names: Sequence[str],
    X: np.ndarray,
    y: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    **scorer_kw: Any,
) -> np.ndarray:
    """Out-of-fold probabilities: each row scored by a ``MuleScorer`` fitted on the other
    folds (stratified, shuffled with ``seed``). The features themselves use no labels, so no
    label crosses a fold boundary."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(int)
    oof = np.full(len(y), np.nan)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in skf.split(X, y):
        scorer = MuleScorer(seed=seed, **scorer_kw).fit(names, X[train], y[train])
        oof[test] = scorer.score(X[test])
    return oof


def degree_only(
    names: Sequence[str], X: np.ndarray, keep: Sequence[str] = DEGREE_FEATURES
) -> tuple[list[str], np.ndarray]:
    """The baseline's columns: the in/out degree features only (transfer counts and distinct
    counterparties), or the columns ``keep`` names, to fit with the same model."""
    cols = [i for i, n in enumerate(names) if n in keep]
    return [names[i] for i in cols], np.asarray(X)[:, cols]


def degree_amount(names: Sequence[str], X: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The degree-and-amount baseline's columns (``features.DEGREE_AMOUNT_FEATURES``: counts,
    counterparties, sums and medians, cash included)."""
    return degree_only(names, X, DEGREE_AMOUNT_FEATURES)


def baseline_cross_validated_scores(
    names: Sequence[str],
    X: np.ndarray,
    y: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    **scorer_kw: Any,
) -> np.ndarray:
    """``cross_validated_scores`` of the degree-only baseline (same model, same folds)."""
    bn, bx = degree_only(names, X)
    return cross_validated_scores(bn, bx, y, folds=folds, seed=seed, **scorer_kw)
