"""Credit extraction benchmark: the three statements of a ~100-page MOPS report, against the
strongest simple alternative measured side by side in the same run.

    python -m benchmarks.credit_extract --json
    python -m benchmarks.credit_extract --pdf other_report.pdf --rounds 5

The alternative is what a plain implementation does before any parsing: pypdf text extraction
of every page (pdfplumber and pdfminer.six are slower still on the same pages, and PyMuPDF is
AGPL). The extractor uses the same pypdf, so the ratio measures the work it saves (stopping
after the cash flow statement) and what its parsing costs. Goal: under 10 s per 100-page
report on 2 cores (p50).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.credit.statements import extract
from benchmarks.stats import summary

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
REPORT = SHARED / "statements" / "2301_202404_AI1.pdf"
GOAL_S = 10.0


def plain_pypdf(path: Path) -> int:
    from pypdf import PdfReader

    reader = PdfReader(path)
    if reader.is_encrypted:
        reader.decrypt("")
    return sum(len(p.extract_text() or "") for p in reader.pages)


def timed(fn: Callable[[], Any], rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return summary(samples)


def run(pdf: Path, rounds: int) -> dict[str, Any]:
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    x = extract(pdf)  # also warms imports
    ours = timed(lambda: extract(pdf), rounds)
    alt = timed(lambda: plain_pypdf(pdf), rounds)
    per_100 = ours["p50_ms"] / 1000 * 100 / max(x.page_count, 1)
    return {
        "pdf": pdf.name,
        "pages": x.page_count,
        "pages_read": x.pages_read,
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "extract": ours,
        "pypdf_all_pages": alt,
        "speedup_p50": round(alt["p50_ms"] / ours["p50_ms"], 2),
        "extract_s_per_100_pages": round(per_100, 2),
        "goal_s_per_100_pages": GOAL_S,
        "meets_goal": ours["p50_ms"] / 1000 < GOAL_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdf", type=Path, default=REPORT)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = run(args.pdf, args.rounds)
    if args.json:
        print(json.dumps(r, ensure_ascii=False, indent=2))
        return
    print(
        f"{r['pdf']}: {r['pages']} pages ({r['pages_read']} read by the extractor), "
        f"{r['rounds']} rounds, {r['cpus']} cpus"
    )
    print(f"{'method':28} {'p50 ms':>10} {'p95 ms':>10} {'max ms':>10}")
    for name, key in (("credit extract", "extract"), ("pypdf text, all pages", "pypdf_all_pages")):
        m = r[key]
        print(f"{name:28} {m['p50_ms']:10.0f} {m['p95_ms']:10.0f} {m['max_ms']:10.0f}")
    print(
        f"speed-up (p50): {r['speedup_p50']}×; goal < {GOAL_S:.0f} s: "
        f"{'met' if r['meets_goal'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
