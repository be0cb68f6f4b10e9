"""FX benchmark: a conversion and a declaration check through the FX service, against the
strongest bare alternatives measured side by side in the same run.

    python -m benchmarks.fx --json
    python -m benchmarks.fx --rates other_board.csv --laws ChLaw.json --rounds 5

The service runs as the application builds it (``Container.fx``: SQLite rate table, knowledge
catalog holding the two FX laws for the articles' amendment dates). The alternatives do the
least work that still answers: the same "latest quote on or before the day" as one raw SQL
query on the same file, the same lookup in memory (pandas, and bisect over a preloaded list),
and for the check one raw query plus the individual's thresholds written inline, without and
with a second raw query for the cited articles' amendment dates (the like-for-like one).
Goal: ≤ 10 ms per conversion and per check (p95).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from assistant.container import Container
from assistant.settings import load_settings
from benchmarks.stats import summary

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
GOAL_MS = 10.0
FX_LAWS = ("管理外匯條例", "外匯收支或交易申報辦法")
AMOUNT = Decimal(700_000)
YTD = Decimal(4_500_000)
CITED = [(FX_LAWS[0], "6-1"), (FX_LAWS[1], "2"), (FX_LAWS[1], "5"), (FX_LAWS[1], "6")]


def timed(fn: Callable[[date], Any], days: list[date], rounds: int) -> dict[str, float]:
    for d in days[:20]:
        fn(d)  # warm: compiled statements, caches, connections
    samples = []
    for _ in range(rounds):
        for d in days:
            t = time.perf_counter()
            fn(d)
            samples.append((time.perf_counter() - t) * 1000)
    return summary(samples, digits=4)


def law_subset(laws: Path, folder: Path) -> Path:
    data = json.loads(laws.read_text(encoding="utf-8-sig"))
    subset = {
        "UpdateDate": data.get("UpdateDate"),
        "Laws": [law for law in data["Laws"] if law["LawName"] in FX_LAWS],
    }
    out = folder / "fx_laws.json"
    out.write_text(json.dumps(subset, ensure_ascii=False), encoding="utf-8")
    return out


def load_board(path: Path) -> dict[date, tuple[Decimal, Decimal]]:
    """USD spot (buys, sells) by day, straight from the CSV (columns 5 and 15)."""
    out = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for r in rows:
            if r[1] == "USD":
                d = date(int(r[0][:4]), int(r[0][4:6]), int(r[0][6:8]))
                out[d] = (Decimal(r[4]), Decimal(r[14]))
    return out


def alternatives(db: Path, board: dict[date, tuple[Decimal, Decimal]]) -> dict[str, Any]:
    import pandas as pd

    conn = sqlite3.connect(db, check_same_thread=False)
    sql = (
        "SELECT rate_date, bank_buys, bank_sells FROM fx_rate WHERE currency = 'USD' "
        "AND kind = 'spot' AND rate_date <= ? ORDER BY rate_date DESC LIMIT 1"
    )

    def sql_convert(d: date) -> Decimal:
        row = conn.execute(sql, (d.isoformat(),)).fetchone()
        return (AMOUNT * Decimal(row[2])).quantize(Decimal(1), ROUND_HALF_UP)

    def sql_check(d: date) -> tuple[bool, bool, bool]:
        row = conn.execute(sql, (d.isoformat(),)).fetchone()
        mid = (Decimal(row[1]) + Decimal(row[2])) / 2
        twd = (AMOUNT * mid).quantize(Decimal(1), ROUND_HALF_UP)
        return twd >= 500_000, AMOUNT >= 500_000, YTD + AMOUNT > 5_000_000

    cite_sql = (
        "SELECT law_zh, article, json_extract(payload, '$.amended') FROM knowledge_chunk "
        "WHERE lang = 'zh-TW' AND law_zh IN (?, ?) AND article IN ('6-1', '2', '5', '6')"
    )

    def sql_check_cited(d: date) -> tuple[bool, bool, bool]:
        duties = sql_check(d)
        amended = {(law, art): when for law, art, when in conn.execute(cite_sql, FX_LAWS)}
        if not all(k in amended for k in CITED):
            raise RuntimeError("the FX laws are not in the catalog")
        return duties

    days = sorted(board)
    sells = [board[d][1] for d in days]

    def bisect_convert(d: date) -> Decimal:
        i = bisect.bisect_right(days, d) - 1
        return (AMOUNT * sells[i]).quantize(Decimal(1), ROUND_HALF_UP)

    frame = pd.DataFrame(
        {"sells": [str(s) for s in sells]}, index=pd.DatetimeIndex(pd.to_datetime(days))
    )

    def pandas_convert(d: date) -> Decimal:
        i = frame.index.searchsorted(pd.Timestamp(d), side="right") - 1
        return (AMOUNT * Decimal(frame["sells"].iat[i])).quantize(Decimal(1), ROUND_HALF_UP)

    return {
        "convert": {
            "raw_sql": sql_convert,
            "pandas_in_memory": pandas_convert,
            "bisect_in_memory": bisect_convert,
        },
        "check": {
            "raw_sql_inline_thresholds": sql_check,
            "raw_sql_inline_with_citations": sql_check_cited,
        },
        "close": conn.close,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rates", type=Path, default=SHARED / "fx" / "bot_usd_rates_20141001_20170930.csv"
    )
    parser.add_argument("--laws", type=Path, default=SHARED / "laws" / "ChLaw.json")
    parser.add_argument("--days", type=int, default=500, help="Random days asked about.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    c = Container(load_settings(data_dir=Path(tmp.name) / "data"))
    try:
        c.ingestor.ingest_laws(law_subset(args.laws, Path(tmp.name)))
        t = time.perf_counter()
        imported = c.fx.import_rates(args.rates)
        import_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        c.fx.import_rates(args.rates)
        reimport_ms = (time.perf_counter() - t) * 1000
        board = load_board(args.rates)
        first, last = min(board), max(board)
        rng = random.Random(7)
        # Any calendar day, weekends and holidays included: those take the previous board.
        span = (last - first).days
        days = [first + timedelta(days=rng.randint(0, span)) for _ in range(args.days)]

        def service_convert(d: date) -> Any:
            return c.fx.convert(AMOUNT, "USD", "TWD", side="customer-buys", on=d)

        def service_check(d: date) -> Any:
            return c.fx.check(
                customer="individual", amount=AMOUNT, currency="USD", ytd_usd=YTD, on=d
            )

        # The same answers, or the comparison means nothing.
        alt = alternatives(Path(c.settings.database_url.removeprefix("sqlite:///")), board)
        for d in days[:50]:
            want = service_convert(d).amount
            for name, fn in alt["convert"].items():
                if fn(d) != want:
                    raise SystemExit(f"{name} disagrees on {d}: {fn(d)} vs {want}")
            r = service_check(d)
            got = (r.declaration_required, r.documents_required, r.approval_required)
            for name, fn in alt["check"].items():
                if fn(d) != got:
                    raise SystemExit(f"{name} disagrees on {d}")
        report: dict[str, Any] = {
            "quotes": imported.rows,
            "days_asked": len(days),
            "rounds": args.rounds,
            "goal_ms": GOAL_MS,
            "import_ms": round(import_ms, 1),
            "reimport_unchanged_ms": round(reimport_ms, 1),
            "convert": {"service": timed(service_convert, days, args.rounds)},
            "check": {"service": timed(service_check, days, args.rounds)},
        }
        for op in ("convert", "check"):
            for name, fn in alt[op].items():
                report[op][name] = timed(fn, days, args.rounds)
            service = report[op]["service"]["p50_ms"]
            others = {k: v["p50_ms"] for k, v in report[op].items() if k != "service"}
            strongest = min(others, key=others.__getitem__)
            report[op]["strongest_alternative"] = strongest
            report[op]["ratio_p50_vs_strongest"] = round(service / others[strongest], 2)
            report[op]["ratio_p50"] = {k: round(service / v, 2) for k, v in others.items()}
            report[op]["meets_goal"] = report[op]["service"]["p95_ms"] <= GOAL_MS
        alt["close"]()
    finally:
        c.close()
        tmp.cleanup()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(
        f"{report['quotes']} quotes imported in {report['import_ms']} ms "
        f"(re-import {report['reimport_unchanged_ms']} ms); {len(days)} days × {args.rounds} "
        f"rounds; goal ≤ {GOAL_MS:.0f} ms"
    )
    for op in ("convert", "check"):
        print(f"\n{op}")
        print(f"  {'run':28} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
        for name, r in report[op].items():
            if isinstance(r, dict) and "p50_ms" in r:
                print(f"  {name:28} {r['p50_ms']:9.4f} {r['p95_ms']:9.4f} {r['max_ms']:9.4f}")
        print(
            f"  service / {report[op]['strongest_alternative']} (p50): "
            f"{report[op]['ratio_p50_vs_strongest']}x"
        )


if __name__ == "__main__":
    main()
