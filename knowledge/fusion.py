"""Rank fusion. Inputs are ranked (id, score) lists, best first."""

from __future__ import annotations

from collections.abc import Sequence

Ranked = list[tuple[str, float]]


def min_max(ranked: Ranked) -> Ranked:
    """Scores scaled to 0–1 within the list, so rankers with different scales can be mixed."""
    if not ranked:
        return []
    scores = [s for _, s in ranked]
    lo, hi = min(scores), max(scores)
    if hi - lo < 1e-12:
        return [(cid, 1.0) for cid, _ in ranked]
    return [(cid, (s - lo) / (hi - lo)) for cid, s in ranked]


def weighted(lists: Sequence[tuple[Ranked, float]]) -> Ranked:
    """Weighted sum of min-max-normalised scores (a candidate absent from a list scores 0 there)."""
    total: dict[str, float] = {}
    for ranked, weight in lists:
        if weight <= 0:
            continue
        for cid, s in min_max(ranked):
            total[cid] = total.get(cid, 0.0) + weight * s
    return sorted(total.items(), key=lambda kv: -kv[1])


def rrf(lists: Sequence[Ranked], k: int = 60) -> Ranked:
    """Reciprocal rank fusion: sum of 1 / (k + rank)."""
    total: dict[str, float] = {}
    for ranked in lists:
        for rank, (cid, _) in enumerate(ranked, start=1):
            total[cid] = total.get(cid, 0.0) + 1.0 / (k + rank)
    return sorted(total.items(), key=lambda kv: -kv[1])
