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
from assistant.federation.runconfig import MIN_SECURE_BANKS


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


# ------------------------------------------------------------------ secure aggregation (SecAgg+)
#
# With SecAgg+ the coordinator never sees one bank's update, only the weighted mean of all of
# them: every check above that reads an update moves to the bank (``bank_delta``, before it
# masks its update), and the coordinator checks what it can, the mean (``secure_aggregate``).


def bank_delta(global_params: np.ndarray, new_params: np.ndarray, clip_norm: float) -> np.ndarray:
    """A bank's own checks on its update before masking it: the change from the round's global
    weights, of the right length, finite, clipped to ``clip_norm``. Raises if unusable: the
    bank then abstains from the round instead of adding something broken to the sum."""
    if new_params.shape != global_params.shape:
        raise AssistantError(
            f"權重數不符 / wrong number of weights: {new_params.size}, expected "
            f"{global_params.size}"
        )
    if not np.all(np.isfinite(new_params)):
        raise AssistantError("權重含非有限數值 / the weights hold NaN or infinity")
    return clip(new_params - global_params, clip_norm)[0]


def secure_aggregate(
    global_params: np.ndarray,
    mean_delta: np.ndarray | None,
    banks: list[dict[str, Any]],
    *,
    clip_norm: float,
    min_banks: int,
    round_no: int,
    tolerance: float,
    extra: dict[str, Any] | None = None,
    halted: str = "",
) -> tuple[np.ndarray, dict[str, Any]]:
    """The new global weights from SecAgg+'s weighted mean of the banks' changes, and the
    round record. ``banks``: one row per bank as the coordinator saw it in the clear (its
    name, example count, metrics, ``accepted``, or ``reason``), never its update. Raises
    ``RoundFailed`` (the model unchanged) when fewer than ``min_banks`` (at least 3) banks are
    in the sum, when a refused bank's update went into it anyway, or when the mean is missing,
    of the wrong shape, not finite, or longer than ``clip_norm`` + ``tolerance`` (a mean of
    changes each clipped to ``clip_norm`` cannot be: some bank did not clip). ``halted``: why
    the protocol was not even started."""
    need = max(min_banks, MIN_SECURE_BANKS)
    record: dict[str, Any] = {
        "round": round_no,
        "protocol": PROTOCOL,
        "clip_norm": clip_norm,
        # what the record cannot hold: each bank's update and its length are hidden from the
        # coordinator; the banks clipped their own
        "secure_aggregation": True,
        "clipping": "bank",
        **(extra or {}),
        "banks": banks,
        "participants": [b["bank"] for b in banks if b["accepted"]],
        "refused": [b["bank"] for b in banks if not b["accepted"]],
        "previous_sha256": params_hash(global_params),
    }
    why = halted or _secure_problem(global_params, mean_delta, banks, clip_norm, need, tolerance)
    if mean_delta is not None and mean_delta.shape == global_params.shape:
        norm = float(np.linalg.norm(mean_delta))
        record["aggregate_norm"] = round(norm, 6) if np.isfinite(norm) else str(norm)
    if why:
        record.update(status="failed", sha256=record["previous_sha256"])
        raise RoundFailed(
            f"第 {round_no} 輪安全聚合失敗，模型維持不變 / round {round_no}: secure aggregation "
            f"failed, the model is unchanged: {why}",
            record,
        )
    assert mean_delta is not None
    new = global_params + mean_delta
    record.update(status="ok", sha256=params_hash(new))
    return new, record


def _secure_problem(
    global_params: np.ndarray,
    mean_delta: np.ndarray | None,
    banks: list[dict[str, Any]],
    clip_norm: float,
    need: int,
    tolerance: float,
) -> str:
    """Why the secure mean may not be used ("" when it may), in both languages."""
    accepted = sum(1 for b in banks if b["accepted"])
    if accepted < need:
        return (
            f"總和只含 {accepted} 家的更新（至少需 {need} 家）/ the sum holds {accepted} banks' "
            f"updates, {need} needed"
        )
    # a refused bank that still put weight into the sum cannot be taken out of it again
    mixed = [b["bank"] for b in banks if not b["accepted"] and b.get("examples", 0) > 0]
    if mixed:
        return (
            f"被拒的更新已加入總和：{', '.join(mixed)} / refused updates are in the sum: "
            f"{', '.join(mixed)}"
        )
    if mean_delta is None:
        return "協定未完成（逾時或分片不足）/ the protocol did not complete (timeout or too few shares)"
    if mean_delta.shape != global_params.shape:
        return (
            f"總和形狀不符 / the sum has {mean_delta.size} weights, expected {global_params.size}"
        )
    if not np.all(np.isfinite(mean_delta)):
        return "總和含非有限數值 / the sum holds NaN or infinity"
    norm = float(np.linalg.norm(mean_delta))
    if norm > clip_norm + tolerance:
        return (
            f"平均更新長度 {norm:.4g} 超過裁減上限 {clip_norm}：有銀行未裁減其更新 / the mean "
            f"change is {norm:.4g} long, over the clip norm {clip_norm}: a bank did not clip"
        )
    return ""
