"""What the monitor's journal costs a transfer scored through the service (the API's path):
the same transfers, one call each, through three services side by side, in interleaved rounds:

- ``memory``: no state kept between processes (``monitor.persist`` off), the strongest
  alternative: nothing written;
- ``journal``: the state saved as the product does by default, every transfer appended to the
  journal and flushed to the operating system (survives a crash of the process);
- ``journal_sync``: the same, each write synced to the disk (survives a power cut).

Periodic saves are off in all three (``save_every`` 0), so what differs is the journal alone.
Ordinary payments between 5,000 accounts, seeded; the alert queue is on SQLite in each
service's own folder.

``python -m benchmarks.monitor_journal [--transfers 20000 --rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.container import Container
from assistant.monitor.transfers import Transfer
from assistant.settings import load_settings
from benchmarks.stats import summary

MODES = {
    "memory": {"persist": False},
    "journal": {"persist": True, "save_every": 0, "save_every_s": 0},
    "journal_sync": {"persist": True, "save_every": 0, "save_every_s": 0, "journal_sync": True},
}


def transfers(n: int, accounts: int = 5000, seed: int = 0) -> list[Transfer]:
    rng = random.Random(seed)
    t0 = 1_704_067_200  # 2024-01-01 UTC
    out = []
    for i in range(n):
        a, b = rng.sample(range(accounts), 2)
        amount = round(min(5_000_000.0, rng.lognormvariate(8.0, 1.2)), 0) or 1.0
        out.append(Transfer(f"T{i}", t0 + i * 30, f"{a:014d}", f"{b:014d}", amount))
    return out


def _run(mode: str, rows: list[Transfer], root: Path) -> list[float]:
    folder = root / f"{mode}-{time.monotonic_ns()}"
    c = Container(load_settings(data_dir=folder, monitor=MODES[mode]))
    try:
        service = c.fraud_monitor
        service.score(rows[0])  # the monitor made, its first snapshot written
        samples = []
        for t in rows[1:]:
            start = time.perf_counter()
            service.score(t)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        c.close()
    return samples


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transfers", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    rows = transfers(args.transfers)
    samples: dict[str, list[float]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="twfin-journal-bench-") as tmp:
        for _ in range(args.rounds):
            for mode in MODES:  # interleaved, so drift on a shared machine hits each alike
                samples[mode] += _run(mode, rows, Path(tmp))
    report: dict[str, Any] = {"transfers": args.transfers, "rounds": args.rounds}
    base = sum(samples["memory"]) / len(samples["memory"])
    for mode, got in samples.items():
        mean = sum(got) / len(got)
        report[mode] = {
            **summary(got, 3),
            "mean_ms": round(mean, 4),
            "per_second": round(1000 / mean),
            "ratio_to_memory": round(mean / base, 2),
        }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
