"""The figures every benchmark reports for a list of timings in milliseconds."""

from __future__ import annotations

import statistics


def summary(samples_ms: list[float], digits: int = 2) -> dict[str, float]:
    """p50, p95 (nearest rank) and max, rounded to ``digits``."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), digits),
        "p95_ms": round(p95, digits),
        "max_ms": round(ordered[-1], digits),
    }
