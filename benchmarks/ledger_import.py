"""A bank's transfer export into the ledger: time and peak memory of the product's streaming
CSV import beside the strongest alternative, measured side by side in one run.

    python -m benchmarks.ledger_import [--rows 1000000] [--workdir DIR]

- ``stream``: ``importers.import_csv`` as `assistant fraud import-csv` runs it: the file read
  row by row, every row checked (time, accounts, amount, repeated ids), written 50,000 rows at
  a time inside one transaction;
- ``pandas``: the whole file read at once by pandas' C parser, then written through the same
  ``Ledger.bulk_insert`` (accounts, then transfers) with no row checks at all: the fast way a
  script would load it, and what memory costs when the file is held whole.

The file: the product's column layout as a bank would name it (交易序號, 交易時間, 轉出帳號 …),
``--rows`` transfers among ``rows / 5`` accounts, seeded, written once to ``--workdir``. Each
way runs in a child process of its own into a fresh SQLite file, so one's memory is not the
other's: the peak is the child's maximum resident set (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MAPPING = {
    "id": "交易序號",
    "ts": "交易時間",
    "from_account": "轉出帳號",
    "to_account": "轉入帳號",
    "amount": "金額",
    "from_bank": "轉出行",
    "to_bank": "轉入行",
}
WAYS = ("stream", "pandas")


def write_file(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    accounts = max(10, rows // 5)
    banks = ("004", "005", "007", "008", "822")
    with path.open("w", encoding="utf-8") as fh:
        fh.write(",".join(MAPPING.values()) + "\n")
        for i in range(rows):
            a, b = rng.sample(range(accounts), 2)
            day, minute = 1 + i * 28 // rows, rng.randrange(1440)
            fh.write(
                f"T{i:09d},2024-05-{day:02d} {minute // 60:02d}:{minute % 60:02d},"
                f"{a:014d},{b:014d},{rng.randint(100, 90_000)},{banks[a % 5]},{banks[b % 5]}\n"
            )


def run_one(way: str, path: Path, db: Path) -> dict[str, Any]:
    from assistant.fraud.ledger import Ledger
    from assistant.schema import open_engine

    ledger = Ledger(open_engine(f"sqlite:///{db}"))
    start = time.perf_counter()
    if way == "stream":
        from assistant.fraud.importers import import_csv

        added = import_csv(ledger, path, MAPPING).added
    else:
        import pandas as pd

        frame = pd.read_csv(path, dtype=str)
        frame.columns = list(MAPPING)
        frame["ts"] = pd.to_datetime(frame["ts"]) - pd.Timedelta(hours=8)  # Taipei → UTC
        frame["amount"] = frame["amount"].astype(float)
        owners = pd.concat(
            [
                frame[["from_account", "from_bank"]].set_axis(["id", "bank_code"], axis=1),
                frame[["to_account", "to_bank"]].set_axis(["id", "bank_code"], axis=1),
            ]
        ).drop_duplicates("id")
        banks = [{"code": c, "name": c} for c in sorted(owners["bank_code"].unique())]
        added = ledger.bulk_insert(banks, owners.to_dict("records"), frame.to_dict("records"))[
            "transfers"
        ]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"way": way, "added": added, "seconds": round(seconds, 1), "peak_mib": round(peak)}


def _child(way: str, path: Path, workdir: Path) -> dict[str, Any]:
    db = workdir / f"{way}.db"
    db.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.ledger_import", "--child", way]
    cmd += ["--file", str(path), "--db", str(db)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    db.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.file, args.db)))
        return {}
    with tempfile.TemporaryDirectory(prefix="twfin-import-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"export-{args.rows}.csv"
        if not path.is_file():
            write_file(path, args.rows)
        got = {way: _child(way, path, workdir) for way in WAYS}
    report: dict[str, Any] = {"rows": args.rows, **got}
    report["time_ratio_stream_to_pandas"] = round(
        got["stream"]["seconds"] / got["pandas"]["seconds"], 2
    )
    report["memory_ratio_stream_to_pandas"] = round(
        got["stream"]["peak_mib"] / got["pandas"]["peak_mib"], 2
    )
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
