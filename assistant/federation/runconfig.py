"""A federated run's settings: what ``flwr run --run-config`` passes to the ServerApp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.errors import AssistantError

# with two banks in a secure sum, each bank can subtract its own update from the published
# total and read the other's: secure aggregation hides nothing below three
MIN_SECURE_BANKS = 3


@dataclass
class RunSettings:
    """The run config (``flwr run --run-config``), with the defaults ``processes`` writes."""

    out: str
    rounds: int = 3
    min_banks: int = 2
    clip_norm: float = 10.0
    # differential privacy: Gaussian noise of this many clip norms on the sum (0: none)
    noise_multiplier: float = 0.0
    # SecAgg+ (Flower's): the coordinator sees only the sum of the banks' updates; each bank
    # checks and clips its own. Off by default: each round takes several message exchanges
    # (about 25 s a round for three banks on one machine, README "Measured")
    secure_aggregation: bool = False
    steps: int = 60
    lr: float = 0.02
    # logistic: measured level with the small network on unseen typologies (README), smaller
    # updates and a plainer explanation
    architecture: str = "logistic"
    seed: int = 0
    round_timeout: float = 300.0
    node_wait: float = 60.0
    # wait (up to node_wait) for this many banks before round 1; 0: min_banks
    expect_banks: int = 0
    report_threshold: float = 500_000.0
    structuring_band: float = 0.1

    def __post_init__(self) -> None:
        if self.secure_aggregation:
            check_secure(self.min_banks, self.clip_norm, self.noise_multiplier)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> RunSettings:
        kw = {k.replace("-", "_"): v for k, v in cfg.items()}
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in kw.items() if k in known})


def secure_refusal(banks: int) -> str:
    """Why secure aggregation over ``banks`` banks is refused (both languages)."""
    return (
        f"安全聚合至少需 {MIN_SECURE_BANKS} 家銀行（此處為 {banks} 家）：只有兩家時，每家都能由總和"
        f"減去自己的更新，算出另一家的更新 / secure aggregation needs at least "
        f"{MIN_SECURE_BANKS} banks ({banks} here): with two, each bank can subtract its own "
        f"update from the total and read the other's"
    )


def check_secure(min_banks: int, clip_norm: float, noise_multiplier: float) -> None:
    """Refuse settings under which secure aggregation would hide nothing or be wrong."""
    if min_banks < MIN_SECURE_BANKS:
        raise AssistantError(secure_refusal(min_banks) + " (--min-banks)")
    if clip_norm <= 0:
        # the banks' clipping bounds every coordinate, which SecAgg+'s quantiser needs
        raise AssistantError(
            "安全聚合需要裁減上限 / secure aggregation needs a clip norm > 0 (--clip-norm)"
        )
    if noise_multiplier > 0:
        raise AssistantError(
            "安全聚合尚不能與差分隱私並用 / secure aggregation cannot yet be combined with "
            "differential privacy (--noise-multiplier)"
        )
