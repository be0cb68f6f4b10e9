"""The mule model the transfer monitor scores with on arrival (``monitor.mule_score``).

Logistic regression over the percentiles of ``features.STREAM_FEATURES``: a dot product per
score, a few microseconds, where the batch scorer's boosted trees take a millisecond a row, so
every transfer can score both its parties. Fitted on labelled accounts beside the batch scorer
(``FraudService.train``), on the same percentiles; saved as JSON (plain data, never pickle) with
the score at which it alerts: the score of the k-th highest account out of fold, k the number of
mules it was fitted on (the batch scorer's precision-equals-recall point).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fraud.features import STREAM_FEATURES, CashRules

FORMAT = "twfin-mule-stream"
VERSION = 1
FILE_NAME = "mule_stream.json"


@dataclass(frozen=True)
class StreamModel:
    """Logistic regression over the stream features' percentiles (see the module docstring)."""

    names: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    fill: tuple[float, ...]  # a feature the account does not have: the training median
    alert_at: float
    cash_rules: CashRules | None
    trained: Mapping[str, Any] = field(default_factory=dict)  # accounts, mules, when

    def score(self, ranks: Sequence[float]) -> float:
        z = self.intercept
        for c, f, r in zip(self.coef, self.fill, ranks, strict=True):
            z += c * (f if r != r else r)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def score_many(self, R: Any) -> Any:
        """``score`` for each row of a matrix of percentiles (numpy)."""
        import numpy as np

        R = np.asarray(R, dtype=float)
        filled = np.where(np.isnan(R), np.asarray(self.fill), R)
        z = filled @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))

    @property
    def mule_share(self) -> float | None:
        """The share of mules among the accounts it was fitted on (None: not recorded)."""
        n, k = self.trained.get("accounts"), self.trained.get("mules")
        return k / n if n and k else None

    def reasons(self, ranks: Sequence[float], top: int = 2) -> list[tuple[str, float]]:
        """The features that raise this score most against an account at the training
        medians: ``(feature, contribution to the log-odds)``, strongest first, positive only."""
        parts = [
            (n, c * ((f if r != r else r) - f))
            for n, c, f, r in zip(self.names, self.coef, self.fill, ranks, strict=True)
        ]
        parts = [p for p in parts if p[1] > 0]
        parts.sort(key=lambda p: -p[1])
        return parts[:top]

    def to_dict(self) -> dict[str, Any]:
        rules = self.cash_rules
        return {
            "format": FORMAT,
            "version": VERSION,
            "features": list(self.names),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "fill": list(self.fill),
            "alert_at": self.alert_at,
            "cash_rules": None
            if rules is None
            else [rules.report_threshold, rules.structuring_band],
            "trained": dict(self.trained),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> StreamModel:
        if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
            raise AssistantError(
                "檔案不是本產品的即時人頭帳戶模型 / the file is not this product's mule model "
                "for the monitor"
            )
        if doc.get("version") != VERSION or list(doc.get("features") or ()) != list(
            STREAM_FEATURES
        ):
            raise AssistantError(
                "即時人頭帳戶模型的版本或特徵與本版本不符，請重新訓練（assistant fraud train）/ "
                "the monitor's mule model is of another version or features: train it again "
                "(assistant fraud train)"
            )
        try:
            rules = doc.get("cash_rules")
            model = cls(
                names=tuple(doc["features"]),
                coef=tuple(float(x) for x in doc["coef"]),
                intercept=float(doc["intercept"]),
                fill=tuple(float(x) for x in doc["fill"]),
                alert_at=float(doc["alert_at"]),
                cash_rules=None if rules is None else CashRules(float(rules[0]), float(rules[1])),
                trained=dict(doc.get("trained") or {}),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise AssistantError(
                f"即時人頭帳戶模型檔內容不完整（{exc}）/ the monitor's mule model file is "
                f"incomplete ({exc})"
            ) from None
        width = len(model.names)
        if len(model.coef) != width or len(model.fill) != width:
            raise AssistantError(
                "即時人頭帳戶模型的係數數目不符 / the monitor's mule model has the wrong number "
                "of coefficients"
            )
        return model

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> StreamModel:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise AssistantError(
                f"無法讀取即時人頭帳戶模型 {path}（{exc}）/ cannot read the monitor's mule model "
                f"{path} ({exc})"
            ) from None
        return cls.from_dict(doc)


def fit(
    names: Sequence[str],
    X: Any,
    y: Any,
    *,
    cash_rules: CashRules | None,
    seed: int = 0,
) -> StreamModel:
    """Fit on labelled accounts: ``X`` the accounts' percentiles of every feature in ``names``
    (the batch scorer's matrix; the stream features are taken from it), ``y`` 1 for a mule.
    The score it alerts at is read out of fold.

    Measured and left out: fitting also on the accounts as they stood part-way through the
    ledger (a tenth, a quarter, half of its transfers), which the monitor scores them on; on
    AMLGentex it named half as many accounts again at the same recall."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(int)
    missing = [f for f in STREAM_FEATURES if f not in names]
    if missing:
        raise AssistantError(f"缺少特徵 / features missing: {', '.join(missing)}")
    n_pos = int(y.sum())
    if n_pos < 2 or n_pos > len(y) - 2:
        raise AssistantError("訓練資料需同時有正負樣本 / need both mules and non-mules")
    cols = [list(names).index(f) for f in STREAM_FEATURES]
    Xs = X[:, cols]
    with np.errstate(all="ignore"):
        med = np.array(
            [np.nanmedian(c) if np.isfinite(c).any() else 0.5 for c in Xs.T], dtype=float
        )
    full = np.where(np.isfinite(Xs), Xs, med)

    def model() -> LogisticRegression:
        # Balanced: a ledger holds a mule in a hundred accounts; unweighted, the model learns
        # mostly what ordinary accounts look like.
        return LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced")

    oof = np.empty(len(y))
    folds = StratifiedKFold(n_splits=min(5, n_pos), shuffle=True, random_state=seed)
    for train, test in folds.split(full, y):
        oof[test] = model().fit(full[train], y[train]).predict_proba(full[test])[:, 1]
    alert_at = float(np.sort(oof)[::-1][n_pos - 1])
    est = model().fit(full, y)
    return StreamModel(
        names=tuple(STREAM_FEATURES),
        coef=tuple(float(c) for c in est.coef_[0]),
        intercept=float(est.intercept_[0]),
        fill=tuple(float(m) for m in med),
        alert_at=alert_at,
        cash_rules=cash_rules,
        trained={
            "accounts": len(y),
            "mules": n_pos,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
