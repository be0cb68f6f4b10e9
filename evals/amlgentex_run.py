"""Generate AMLGentex ledgers from a local AMLGentex checkout (``make amlgentex``).

AMLGentex (Apache-2.0) is run as it is, from its own folder; nothing of it is copied here. One
run per seed: its template experiment's configuration with our seed, account count and steps,
written to ``OUT/amlgentex_s{seed}_n{accounts}/config``, then its spatial simulation (the graph)
and its temporal simulation (the transactions). The transaction log is written as
``temporal/tx_log.csv`` (the columns of its ``tx_log.parquet``), so reading it needs no Parquet
library; ``import_amlgentex`` reads either.

Two details of running it without its optional extras: ``src/utils/__init__`` imports
torch_geometric (for its learning code, not for generating data), so ``src.utils`` is registered
as a bare package and only ``src.utils.logging`` is loaded; and the transactions the simulator
holds are written to CSV by this script, not through the simulator's Parquet writer.

``python -m evals.amlgentex_run --amlgentex ../AMLGentex --out ../shared/data/aml --seeds 1 2``
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import time
import types
from pathlib import Path
from typing import Any

TEMPLATE = Path("experiments/template_experiment/config")
COLUMNS = (
    "step",
    "type",
    "amount",
    "nameOrig",
    "nameDest",
    "bankOrig",
    "bankDest",
    "isSAR",
    "patternID",
    "modelType",
)


def missing_checkout_message(root: Path) -> str:
    return (
        f"找不到 AMLGentex：{root}（應有 {TEMPLATE}）。請先取得 AMLGentex 原始碼"
        "（git clone https://github.com/aks-fund/AMLGentex），再以 AMLGENTEX=路徑 指定，例如 "
        "make amlgentex AMLGENTEX=../AMLGentex。\n"
        f"AMLGentex not found at {root} (expected {TEMPLATE}). Clone AMLGentex "
        "(https://github.com/aks-fund/AMLGentex) and point AMLGENTEX at it, e.g. "
        "make amlgentex AMLGENTEX=../AMLGentex."
    )


def _write_config(root: Path, run: Path, seed: int, accounts: int, steps: int) -> Path:
    import yaml

    config = run / "config"
    if config.exists():
        shutil.rmtree(config)
    shutil.copytree(root / TEMPLATE, config)
    data = yaml.safe_load((config / "data.yaml").read_text(encoding="utf-8"))
    data["general"]["simulation_name"] = run.name
    data["general"]["random_seed"] = seed
    data["general"]["total_steps"] = steps
    (config / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with (config / "accounts.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("count", "bank_id"), *_banks(accounts)])
    return config / "data.yaml"


def _banks(accounts: int) -> list[tuple[int, str]]:
    """Accounts spread over three banks, so transfers between banks and cash at each exist."""
    share = accounts // 3
    return [(accounts - 2 * share, "bank_a"), (share, "bank_b"), (share, "bank_c")]


def _load_amlgentex(root: Path) -> Any:
    sys.path.insert(0, str(root))
    import src  # noqa: F401  (AMLGentex's top package, from its checkout)

    bare = types.ModuleType("src.utils")
    bare.__path__ = [str(root / "src" / "utils")]  # type: ignore[attr-defined]
    sys.modules["src.utils"] = bare
    from src.data_creation import DataGenerator
    from src.utils.config import load_data_config

    return DataGenerator, load_data_config


def generate(root: Path, out: Path, seed: int, accounts: int, steps: int) -> Path:
    """One AMLGentex run; returns the folder holding ``temporal/tx_log.csv``."""
    import yaml

    DataGenerator, load_data_config = _load_amlgentex(root)
    run = out / f"amlgentex_s{seed}_n{accounts}"
    conf = _write_config(root, run, seed, accounts, steps)
    config = load_data_config(str(conf))
    resolved = run / "config" / "resolved.yaml"
    resolved.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    gen = DataGenerator(str(resolved.resolve()))
    gen.run_spatial(force=True)
    from temporal_simulation.simulator import AMLSimulator  # on the path DataGenerator set

    cwd = os.getcwd()
    try:
        os.chdir(gen.data_creation_dir)
        sim = AMLSimulator(gen.config)
        sim.load_accounts()
        sim.load_transactions()
        sim.load_normal_models()
        sim.load_alert_members()
        sim.run()
    finally:
        os.chdir(cwd)
    temporal = run / "temporal"
    temporal.mkdir(parents=True, exist_ok=True)
    with (temporal / "tx_log.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for tx in sim.transactions:
            w.writerow([tx[c] for c in COLUMNS])
    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--amlgentex", type=Path, required=True, help="AMLGentex checkout")
    p.add_argument("--out", type=Path, required=True, help="where the ledgers go")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args(argv)
    root = args.amlgentex.resolve()
    if not (root / TEMPLATE).is_dir():
        print(missing_checkout_message(root), file=sys.stderr)
        return 2
    for seed in args.seeds:
        t0 = time.perf_counter()
        run = generate(root, args.out.resolve(), seed, args.accounts, args.steps)
        print(f"{run}/temporal/tx_log.csv  ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
