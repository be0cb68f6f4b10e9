"""The model that federates: a small network over the mule scorer's features, as one vector.

Why not the local scorer's gradient boosting: scikit-learn's boosted trees cannot be averaged,
and the federated tree strategies need a library the product does not ship. A network's
weights can: every bank trains the same vector on its own accounts and the coordinator averages
the changes (``aggregate``). ``architecture`` is ``"mlp"`` (one hidden layer, tanh) or
``"logistic"``; ``evals.federation`` measures both.

Input: the features as within-ledger percentiles (``features.within_ledger_ranks``, what the
fraud service computes), a missing value read as 0. Percentiles need no shared scaling, so no
bank has to reveal its means or spreads, and every column's median is 0.5 in every ledger:
the explanation below needs no bank's data.

Training (``local_train``): full-batch Adam on the class-balanced log loss with a small L2
penalty, a fixed number of steps from the weights the coordinator sent. The output is a risk
score in (0, 1), not a calibrated probability: the classes are balanced in training.

Files: JSON (weights as numbers, no pickle: a file that crossed a bank's boundary is data, not
code), with the protocol, the feature names and a SHA-256 of the weights; ``load`` refuses a
file of another protocol or other features, or whose weights do not match their hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import AssistantError
from assistant.fraud.features import FEATURE_NAMES, FEATURE_TEXT

if TYPE_CHECKING:
    # scoring imports scikit-learn (a second); a bank's ClientApp process, one per message,
    # needs none of it to take part in a secure round's key exchange
    from assistant.fraud.scoring import Reason

# Bumped whenever the features, the input transform or the weight layout change: a bank
# running another protocol sends weights that mean something else, and is refused.
PROTOCOL = "twfin-fed-mule/1"
FILE_KIND = "twfin-federated-mule"
ARCHITECTURES = ("mlp", "logistic")
HIDDEN = 16


def features_digest(names: Sequence[str] = FEATURE_NAMES) -> str:
    """A short fingerprint of the feature list: two banks with different feature code differ."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def model_input(X: np.ndarray) -> np.ndarray:
    """Percentile features with a missing value as 0 (below every account that has one)."""
    X = np.asarray(X, dtype=float)
    return np.where(np.isfinite(X), X, 0.0)


def n_params(d: int, architecture: str) -> int:
    return d + 1 if architecture == "logistic" else d * HIDDEN + HIDDEN + HIDDEN + 1


def init_params(d: int, architecture: str, seed: int = 0) -> np.ndarray:
    """The round-0 weights, the same for every bank (the coordinator sends them)."""
    _check_arch(architecture)
    if architecture == "logistic":
        return np.zeros(d + 1)
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0.0, 1.0 / np.sqrt(d), size=(d, HIDDEN))
    w2 = rng.normal(0.0, 1.0 / np.sqrt(HIDDEN), size=HIDDEN)
    return np.concatenate([W1.ravel(), np.zeros(HIDDEN), w2, np.zeros(1)])


def _check_arch(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise AssistantError(
            f"模型架構須為 {'/'.join(ARCHITECTURES)} / architecture must be one of "
            f"{ARCHITECTURES}: {architecture!r}"
        )


def _unpack(p: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    k = d * HIDDEN
    return (
        p[:k].reshape(d, HIDDEN),
        p[k : k + HIDDEN],
        p[k + HIDDEN : k + 2 * HIDDEN],
        float(p[-1]),
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def predict(params: np.ndarray, X: np.ndarray, architecture: str) -> np.ndarray:
    """Scores in (0, 1) for rows of ``model_input`` X."""
    d = X.shape[1]
    if architecture == "logistic":
        return _sigmoid(X @ params[:d] + params[d])
    W1, b1, w2, b2 = _unpack(params, d)
    return _sigmoid(np.tanh(X @ W1 + b1) @ w2 + b2)


def _loss_grad(
    params: np.ndarray, X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, architecture: str
) -> tuple[float, np.ndarray]:
    """The weighted log loss (weights sum to 1) plus ``l2``·|weights|², and its gradient."""
    d = X.shape[1]
    if architecture == "logistic":
        p = _sigmoid(X @ params[:d] + params[d])
        r = w * (p - y)
        g = np.concatenate([X.T @ r, [r.sum()]])
        g[:d] += 2 * l2 * params[:d]
    else:
        W1, b1, w2, b2 = _unpack(params, d)
        H = np.tanh(X @ W1 + b1)
        p = _sigmoid(H @ w2 + b2)
        r = w * (p - y)
        dH = np.outer(r, w2) * (1 - H * H)
        gW1 = X.T @ dH + 2 * l2 * W1
        g = np.concatenate([gW1.ravel(), dH.sum(0), H.T @ r + 2 * l2 * w2, [r.sum()]])
    eps = 1e-12
    loss = -float(np.sum(w * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))))
    return loss + l2 * float(np.sum(params[:-1] ** 2)), g


def local_train(
    params: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    architecture: str,
    *,
    steps: int = 60,
    lr: float = 0.02,
    l2: float = 1e-4,
) -> tuple[np.ndarray, float]:
    """``steps`` of full-batch Adam from ``params`` on this bank's labelled rows; returns the new
    weights and the final loss. The classes weigh half each: a bank with ten mules among ten
    thousand accounts still learns what a mule looks like."""
    _check_arch(architecture)
    y = np.asarray(y, dtype=float)
    n_pos = float(y.sum())
    if n_pos == 0 or n_pos == len(y):
        raise AssistantError("訓練資料需同時有正負樣本 / need both mules and non-mules")
    w = np.where(y == 1, 0.5 / n_pos, 0.5 / (len(y) - n_pos))
    p = np.array(params, dtype=float)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    b1, b2 = 0.9, 0.999
    loss = float("nan")
    for t in range(1, steps + 1):
        loss, g = _loss_grad(p, X, y, w, l2, architecture)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + 1e-8)
    return p, loss


def params_hash(params: np.ndarray) -> str:
    """SHA-256 of the weights as little-endian float64: the model's identity in the audit."""
    return hashlib.sha256(np.asarray(params, dtype="<f8").tobytes()).hexdigest()


class FederatedScorer:
    """A federated model ready to score: the same face as ``scoring.MuleScorer`` (``names``,
    ``score``, ``explain``), so the fraud desk can use either."""

    federated = True

    def __init__(
        self,
        params: np.ndarray,
        architecture: str,
        names: Sequence[str] = FEATURE_NAMES,
        info: dict[str, Any] | None = None,
    ) -> None:
        _check_arch(architecture)
        self.params = np.asarray(params, dtype=float)
        self.architecture = architecture
        self.names = list(names)
        if self.params.shape != (n_params(len(self.names), architecture),):
            raise AssistantError(
                f"權重數不符 / {self.params.size} weights do not fit {len(self.names)} features "
                f"({architecture})"
            )
        # what the reasons say about the model: rounds, banks, hash (see ``describe``)
        self.info = dict(info or {})

    @property
    def hash(self) -> str:
        return params_hash(self.params)

    def describe(self) -> dict[str, str]:
        """The model in words, for the reasons a score is shown with."""
        banks = ", ".join(self.info.get("banks", [])) or "?"
        rounds = self.info.get("rounds", "?")
        short = self.hash[:12]
        return {
            "kind": "federated",
            "hash": self.hash,
            "zh": f"聯邦模型（金融盾）：{rounds} 輪，參與銀行 {banks}，雜湊 {short}",
            "en": f"federated model: {rounds} rounds across banks {banks}, hash {short}",
        }

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1] != len(self.names):
            raise AssistantError(
                f"特徵數不符 / expected {len(self.names)} features, got {X.shape[1]}"
            )
        return model_input(X)

    def score(self, X: np.ndarray) -> np.ndarray:
        return predict(self.params, self._check(X), self.architecture)

    def explain(self, x_row: np.ndarray, top_k: int = 5) -> list[Reason]:
        """As ``MuleScorer.explain``, each feature set to the median percentile (0.5) in turn."""
        from assistant.fraud.scoring import Reason

        x = self._check(x_row)[0]
        k = len(self.names)
        probe = np.tile(x, (k + 1, 1))
        probe[np.arange(1, k + 1), np.arange(k)] = 0.5
        p = predict(self.params, probe, self.architecture)
        contrib = p[0] - p[1:]
        order = np.argsort(-np.abs(contrib), kind="stable")[:top_k]
        raw = np.asarray(x_row, dtype=float).reshape(-1)
        out = []
        for j in order.tolist():
            name = self.names[j]
            zh, en = FEATURE_TEXT.get(name, (name, name))
            out.append(Reason(name, float(raw[j]), float(contrib[j]), zh, en))
        return out

    # ------------------------------------------------------------------ files

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": FILE_KIND,
            "protocol": PROTOCOL,
            "architecture": self.architecture,
            "feature_names": self.names,
            "params": self.params.tolist(),
            "sha256": self.hash,
            "info": self.info,
        }

    def save(self, path: str | Path) -> None:
        """Written to a temporary file and renamed: a reader never sees half a model."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_json()), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(
        cls, path: str | Path, feature_names: Sequence[str] | None = FEATURE_NAMES
    ) -> FederatedScorer:
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AssistantError(f"無法讀取模型檔 / cannot read model file {path}: {exc}") from exc
        return cls.from_json(payload, feature_names, source=str(path))

    @classmethod
    def from_json(
        cls,
        payload: Any,
        feature_names: Sequence[str] | None = FEATURE_NAMES,
        source: str = "",
    ) -> FederatedScorer:
        if not isinstance(payload, dict) or payload.get("kind") != FILE_KIND:
            raise AssistantError(f"不是聯邦模型檔 / not a federated model file: {source}")
        if payload.get("protocol") != PROTOCOL:
            raise AssistantError(
                f"聯邦模型版本不符 / federated model protocol {payload.get('protocol')!r}, "
                f"expected {PROTOCOL!r}"
            )
        names = list(payload.get("feature_names", []))
        if feature_names is not None and names != list(feature_names):
            raise AssistantError(
                "模型特徵與本系統不符 / the model's features differ from this system's"
            )
        params = np.asarray(payload.get("params", []), dtype=float)
        if params_hash(params) != payload.get("sha256"):
            raise AssistantError(
                f"模型權重與雜湊不符，檔案可能已損毀 / the weights do not match their hash, the "
                f"file may be corrupted: {source}"
            )
        return cls(params, payload["architecture"], names, payload.get("info"))


def is_federated_file(path: str | Path) -> bool:
    """Whether ``path`` holds a federated model (JSON) rather than a local scorer (joblib)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and FILE_KIND.encode() in Path(path).read_bytes()[:4096]
