"""One federated round's arithmetic: check every bank's update, clip it, average.

FedAvg over the *changes*: each bank sends the weights it trained from the global ones; the
coordinator takes the change (update − global), scales any change longer than ``clip_norm``
down to that length, and adds the example-weighted mean of the changes to the global weights.
Clipping bounds what one bank can do: whatever it sends, the global weights move by at most
``clip_norm`` on its account (a poisoned or broken update is bounded, and reported).

An update is refused, with its reason in the round record, when it comes from another protocol
(another product version: its weights mean something else), has the wrong length, holds a
non-finite number, or reports no examples. A bank that sent nothing (dropped out, crashed,
timed out) is named too. With fewer than ``min_banks`` accepted updates the round fails
(``RoundFailed``) and the global weights stay as they were: no model is built from one bank's
update alone, nor from a half-received round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.errors import AssistantError
from assistant.federation.model import PROTOCOL, params_hash


class RoundFailed(AssistantError):
    """Too few usable updates: the round is recorded as failed, the model unchanged."""

    def __init__(self, message: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.record = record


@dataclass
class Update:
    """What one bank sent back for a round (or why it sent nothing: ``error``)."""

    bank: str
    protocol: str = PROTOCOL
    params: np.ndarray | None = None
    examples: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""


def check(update: Update, size: int) -> str:
    """Why this update cannot be used ("" when it can), in both languages."""
    if update.error:
        return update.error
    if update.protocol != PROTOCOL:
        return (
            f"版本不符：該行為 {update.protocol}，協調端為 {PROTOCOL}，請升級至相同版本 / "
            f"version mismatch: the bank runs {update.protocol}, the coordinator {PROTOCOL}; "
            f"upgrade to the same version"
        )
    if update.params is None or update.params.shape != (size,):
        got = None if update.params is None else update.params.size
        return f"權重數不符 / wrong number of weights: {got}, expected {size}"
    if not np.all(np.isfinite(update.params)):
        return "權重含非有限數值 / the weights hold NaN or infinity"
    if update.examples <= 0:
        return "未回報訓練筆數 / no training examples reported"
    return ""


def clip(delta: np.ndarray, clip_norm: float) -> tuple[np.ndarray, float]:
    """The change scaled to at most ``clip_norm`` (L2), and its length before."""
    norm = float(np.linalg.norm(delta))
    if clip_norm > 0 and norm > clip_norm:
        return delta * (clip_norm / norm), norm
    return delta, norm


def dp_epsilon(noise_multiplier: float, rounds: int, delta: float = 1e-5) -> float:
    """ε of ``rounds`` Gaussian-noised sums with noise ``noise_multiplier`` × the clip norm,
    every bank in every round (no sampling), bank-level (one bank's whole ledger added or
    removed), by Rényi DP: each round is (α, α/2z²)-RDP; composed and converted,
    ε = min over α of rounds·α/2z² + log(1/δ)/(α − 1)."""
    if noise_multiplier <= 0:
        return float("inf")
    alphas = np.concatenate([np.linspace(1.01, 10, 400), np.linspace(10, 1000, 400)])
    rdp = rounds * alphas / (2 * noise_multiplier**2)
    return float(np.min(rdp + np.log(1 / delta) / (alphas - 1)))


def aggregate(
    global_params: np.ndarray,
    updates: list[Update],
    *,
    clip_norm: float,
    min_banks: int,
    round_no: int = 0,
    noise_multiplier: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The new global weights and the round record (who took part, who was refused and why,
    each bank's change length and whether it was clipped, the metrics each bank reported, the
    new model's hash). Raises ``RoundFailed`` (with the record) below ``min_banks``.

    ``noise_multiplier`` z > 0 (differential privacy, needs ``clip_norm`` > 0): the changes
    are summed with equal weight (a bank's weight may not depend on its data), Gaussian noise
    of standard deviation z × ``clip_norm`` is added to the sum, and the sum divided by the
    number of banks (``dp_epsilon`` gives the ε)."""
    size = global_params.size
    banks: list[dict[str, Any]] = []
    deltas: list[np.ndarray] = []
    weights: list[float] = []
    for u in updates:
        why = check(u, size)
        row: dict[str, Any] = {"bank": u.bank, "metrics": dict(u.metrics)}
        if why:
            row.update(accepted=False, reason=why)
        else:
            assert u.params is not None
            delta, norm = clip(u.params - global_params, clip_norm)
            row.update(
                accepted=True,
                examples=u.examples,
                update_norm=round(norm, 6),
                clipped=bool(clip_norm > 0 and norm > clip_norm),
            )
            deltas.append(delta)
            weights.append(float(u.examples))
        banks.append(row)
    record: dict[str, Any] = {
        "round": round_no,
        "protocol": PROTOCOL,
        "clip_norm": clip_norm,
        "banks": banks,
        "participants": [b["bank"] for b in banks if b["accepted"]],
        "refused": [b["bank"] for b in banks if not b["accepted"]],
        "previous_sha256": params_hash(global_params),
    }
    if len(deltas) < min_banks:
        record.update(status="failed", sha256=record["previous_sha256"])
        raise RoundFailed(
            f"第 {round_no} 輪只收到 {len(deltas)} 家可用的更新（至少需 {min_banks} 家），模型"
            f"維持不變 / round {round_no}: {len(deltas)} usable updates, {min_banks} needed; "
            f"the model is unchanged",
            record,
        )
    if noise_multiplier > 0:
        if clip_norm <= 0:
            raise AssistantError(
                "差分隱私需要裁減上限 / differential privacy needs a clip norm > 0"
            )
        rng = rng or np.random.default_rng()
        total = np.sum(deltas, axis=0)
        std = noise_multiplier * clip_norm
        new = global_params + (total + rng.normal(0.0, std, size=total.shape)) / len(deltas)
        record.update(noise_multiplier=noise_multiplier, noise_std=std)
    else:
        w = np.asarray(weights) / sum(weights)
        new = global_params + np.tensordot(w, np.stack(deltas), axes=1)
    record.update(status="ok", sha256=params_hash(new))
    return new, record
