"""Synthetic identifier lists for the clean room's test and benchmark: phone numbers in
disjoint ranges, so the shared ones are exactly those both sides draw from the common range.

Each side makes its own list in its own process from (size, shared, seed): nothing of one list
passes to the other side.
"""

from __future__ import annotations

import numpy as np

# 09xx prefixes: common to both lists, the bank's own, the partner's own (disjoint ranges)
_PREFIX = {"common": "0911", "bank": "0922", "partner": "0933"}


def _numbers(prefix: str, n: int, seed: int) -> list[str]:
    if n > 1_000_000:
        raise ValueError("at most 1,000,000 numbers per range")
    picks = np.random.default_rng(seed).choice(1_000_000, size=n, replace=False)
    return [f"{prefix}{x:06d}" for x in picks.tolist()]


def phone_list(side: str, size: int, shared: int, seed: int = 0) -> list[str]:
    """``size`` numbers for ``side`` ("bank" or "partner"), ``shared`` of them from the common
    range (the same on both sides for the same ``seed``), shuffled."""
    if side not in ("bank", "partner") or not 0 <= shared <= size:
        raise ValueError("side bank|partner, 0 ≤ shared ≤ size")
    items = _numbers(_PREFIX["common"], shared, seed) + _numbers(
        _PREFIX[side], size - shared, seed + (1 if side == "bank" else 2)
    )
    order = np.random.default_rng(seed + 7).permutation(len(items))
    return [items[i] for i in order.tolist()]
