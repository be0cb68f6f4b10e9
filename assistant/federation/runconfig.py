"""A federated run's settings: what ``flwr run --run-config`` passes to the ServerApp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class RunSettings:
    """The run config (``flwr run --run-config``), with the defaults ``processes`` writes."""

    out: str
    rounds: int = 3
    min_banks: int = 2
    clip_norm: float = 10.0
    # differential privacy: Gaussian noise of this many clip norms on the sum (0: none)
    noise_multiplier: float = 0.0
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

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> RunSettings:
        kw = {k.replace("-", "_"): v for k, v in cfg.items()}
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in kw.items() if k in known})
