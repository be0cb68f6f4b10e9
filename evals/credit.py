"""Credit eval: the share of statement figures extracted exactly from a folder of reports.

The expected file is JSON mapping a PDF's file name to what must be read from it (keys that
start with "_" are comments)::

    {"2301_202404_AI1.pdf": {
        "periods": ["2024-12-31", "2023-12-31"],
        "items": {"total_assets": [204682769000, 188972260000], "eps": [5.21, 6.36], ...}}}

Values are as ``assistant credit extract --json`` gives them: NT$ with the unit applied, EPS in
NT$ per share, one per period, current first; null where the report shows nothing. A figure
counts as exact when it equals the expected value to the unit (no tolerance: a total off by
one thousand is a wrong total). Balance-sheet totals are also scored on their own. A report
that cannot be read is listed with its reason and scores zero on every figure it has expected.

Per statement (``statements``), over every PDF of the folder, expected values or not: the share
of reports whose statement was extracted, and balanced (every arithmetic check of the statement
that could be computed holds: assets = liabilities + equity, current + non-current = total,
gross profit, net income, the cash roll-forward), each failure with its reason and each failed
check with its differences. An unreadable report counts as extracted in no statement.
A malformed entry of the expected file is skipped and listed (``skipped_items``): its report
counts as one without expected values.

    python -m evals.credit ../shared/data/statements --json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from assistant.credit.crosscheck import cross_check
from assistant.credit.pdftext import StatementError
from assistant.credit.schema import BALANCE_SHEET_TOTALS, ITEMS, ITEMS_LIST, STATEMENT_KINDS
from assistant.credit.statements import Extraction, extract
from assistant.modeleval.items import ItemError, Loaded, Row, collect, skipped_lines

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "evals" / "credit_expected" / "statements.json"


def default_expected(folder: Path) -> Path:
    """DIR/expected.json when the folder brings its own, else the bundled file."""
    own = folder / "expected.json"
    return own if own.is_file() else BUNDLED


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _entry(row: Row) -> tuple[str, dict[str, Any]]:
    name, entry = row.value
    if not isinstance(entry, dict) or not isinstance(entry.get("items"), dict):
        raise ItemError('缺少 "items" / needs an "items" object')
    unknown = sorted(set(entry["items"]) - set(ITEMS))
    if unknown:
        raise ItemError(f"未知項目 / unknown items {unknown}")
    periods = entry.get("periods")
    if periods is not None and not (
        isinstance(periods, list) and all(isinstance(p, str) for p in periods)
    ):
        raise ItemError('periods 應為日期清單 / "periods" must be a list of dates')
    for item, values in entry["items"].items():
        if not isinstance(values, list) or not all(_number(v) for v in values):
            raise ItemError(f"{item}: 應為數字或 null 的清單 / must be a list of numbers or null")
        if periods is not None and len(values) > len(periods):
            # Figures are matched to periods by position: one without a period has no column.
            raise ItemError(f"{item}: 數值多於期別 / more values than periods")
    return name, entry


def load_expected(path: Path) -> Loaded[tuple[str, dict[str, Any]]]:
    """(file name, {"periods", "items"}) pairs; a malformed entry is skipped and listed in
    ``.skipped`` (its report then counts as one without expected values); ValueError for a
    file that is not a JSON object or has no valid entry."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path}: 無法讀取期望值 / cannot read the expected values: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: 應為物件 / must be an object of file name → expected values")
    rows = [
        Row(n, name, (name, entry))
        for n, (name, entry) in enumerate(data.items(), 1)
        if not name.startswith("_")
    ]
    return collect(path, rows, _entry, what=("期望值", "expected entries"))


def _same(got: Any, want: Any) -> bool:
    if want is None or got is None:
        return want is None and got is None
    try:
        return Decimal(str(got)) == Decimal(str(want))
    except InvalidOperation:
        return False


def score_file(extracted: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Figures, exact ones and mismatches of one report against its expected values."""
    periods = extracted["periods"]
    want_periods = expected.get("periods")
    figures = exact = totals = totals_exact = 0
    mismatches: list[str] = []
    if want_periods is not None and want_periods != periods:
        mismatches.append(f"periods: got {periods}, expected {want_periods}")
    for name, wants in expected["items"].items():
        got_item = extracted["items"].get(name)
        for i, want in enumerate(wants):
            # Align by the expected period's date when given, so a missing column shows as a
            # miss on its own figures rather than shifting every later one.
            got = None
            if got_item is not None:
                j = (
                    periods.index(want_periods[i])
                    if want_periods and want_periods[i] in periods
                    else (i if not want_periods else None)
                )
                if j is not None and j < len(got_item["values"]):
                    got = got_item["values"][j]
            figures += 1
            ok = _same(got, want)
            exact += ok
            if name in BALANCE_SHEET_TOTALS:
                totals += 1
                totals_exact += ok
            if not ok:
                at = want_periods[i] if want_periods else str(i)
                mismatches.append(f"{name}[{at}]: got {got}, expected {want}")
    return {
        "figures": figures,
        "exact": exact,
        "share": round(exact / figures, 4) if figures else None,
        "totals": totals,
        "totals_exact": totals_exact,
        "totals_share": round(totals_exact / totals, 4) if totals else None,
        "periods_ok": want_periods is None or want_periods == periods,
        "mismatches": mismatches,
    }


def evaluate(
    folder: Path,
    expected_path: Path,
    progress: Callable[[Path], Callable[[int, int], None] | None] | None = None,
) -> dict[str, Any]:
    """The corpus figures; ``progress(pdf)`` gives the hook a report's OCR'd pages are told to
    (reports with scanned statement pages take seconds a page)."""
    loaded = load_expected(expected_path)
    expected = dict(loaded)
    pdfs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".pdf")
    files: list[dict[str, Any]] = []
    found_items: dict[str, int] = {}  # schema item → reports it was read from
    read: list[Extraction] = []
    figures = exact = totals = totals_exact = unreadable = unscored = 0
    per: dict[str, dict[str, Any]] = {
        k: {"extracted": 0, "balanced": 0, "failures": [], "failed_checks": []}
        for k in STATEMENT_KINDS
    }
    for pdf in pdfs:
        want = expected.get(pdf.name)
        entry: dict[str, Any] = {"file": pdf.name}
        try:
            x = extract(pdf, progress=progress(pdf) if progress is not None else None)
            read.append(x)
        except StatementError as exc:
            unreadable += 1
            entry.update(error=str(exc), error_kind=exc.kind)
            for k in STATEMENT_KINDS:
                per[k]["failures"].append({"file": pdf.name, "reason": str(exc)})
            if want is not None:
                n = sum(len(v) for v in want["items"].values())
                t = sum(len(v) for k, v in want["items"].items() if k in BALANCE_SHEET_TOTALS)
                entry.update(
                    figures=n,
                    exact=0,
                    share=0.0,
                    totals=t,
                    totals_exact=0,
                    totals_share=0.0 if t else None,
                )
                figures += n
                totals += t
            files.append(entry)
            continue
        entry["seconds"] = round(x.seconds, 3)
        if x.ocr_pages:
            entry["ocr_pages"] = x.ocr_pages
            entry["ocr_seconds"] = round(x.ocr_seconds, 1)
        entry["statements"] = {k: st.to_dict() for k, st in x.status.items()}
        for name in x.items:
            found_items[name] = found_items.get(name, 0) + 1
        for k, st in x.status.items():
            per[k]["extracted"] += st.extracted
            per[k]["balanced"] += st.balanced is True
            if not st.extracted:
                per[k]["failures"].append({"file": pdf.name, "reason": st.reason})
            elif st.balanced is not True:
                per[k]["failures"].append(
                    {
                        "file": pdf.name,
                        "reason": "沒有可計算的勾稽 / no check could be computed"
                        if st.balanced is None
                        else "勾稽不符 / a check failed",
                    }
                )
        for c in x.checks:
            if c.failed:
                per[c.statement]["failed_checks"].append(
                    {
                        "file": pdf.name,
                        "check": c.name,
                        "description": c.description,
                        "periods": [p.isoformat() for p in x.periods],
                        "differences": [None if d is None else str(d) for d in c.differences],
                    }
                )
        if want is None:
            unscored += 1
            entry["figures"] = None
            files.append(entry)
            continue
        s = score_file(x.to_dict(), want)
        entry.update(s)
        figures += s["figures"]
        exact += s["exact"]
        totals += s["totals"]
        totals_exact += s["totals_exact"]
        files.append(entry)
    # Reports of one company in the folder are loaded together: the dates they share must
    # agree (a quarter's prior year-end against the annual report).
    check = cross_check(read)
    missing = sorted(set(expected) - {p.name for p in pdfs})
    return {
        "folder": str(folder),
        "expected": str(expected_path),
        "n_files": len(pdfs),
        "n_read": len(pdfs) - unreadable,
        "n_unreadable": unreadable,
        "n_unscored": unscored,
        "expected_but_absent": missing,
        # Malformed entries of the expected file: their reports count as without expected values.
        "n_skipped": len(loaded.skipped),
        "skipped_items": loaded.skipped_dicts(),
        "overall": {
            "figures": figures,
            "exact": exact,
            "share": round(exact / figures, 4) if figures else 0.0,
            "totals": totals,
            "totals_exact": totals_exact,
            "totals_share": round(totals_exact / totals, 4) if totals else None,
        },
        "statements": {
            k: {
                **v,
                "share_extracted": round(v["extracted"] / len(pdfs), 4) if pdfs else 0.0,
                "share_balanced": round(v["balanced"] / len(pdfs), 4) if pdfs else 0.0,
            }
            for k, v in per.items()
        },
        # Per schema item, of the reports read, how many it was read from (a report may not
        # print an item: 非控制權益 in a company without subsidiaries).
        "items": {d.name: found_items.get(d.name, 0) for d in ITEMS_LIST},
        "cross_report": {
            "pairs": len(check.pairs),
            "compared": check.compared,
            "agreed": check.agreed,
            "disagreements": [d.to_dict() for d in check.disagreements],
            # Pairs of one company left out (consolidated against parent-only); pairs of
            # different companies are not listed.
            "not_compared": [w for w in check.not_compared if "different companies" not in w],
        },
        # Reports whose statement pages are scanned images, read by OCR: how many, and the
        # time a page took (the text-layer reports never run it).
        "ocr": _ocr_summary(files),
        "unreadable": [
            {"file": f["file"], "kind": f["error_kind"], "reason": f["error"]}
            for f in files
            if "error" in f
        ],
        "files": files,
    }


def _ocr_summary(files: list[dict[str, Any]]) -> dict[str, Any]:
    ocr = [f for f in files if f.get("ocr_pages")]
    pages = sum(len(f["ocr_pages"]) for f in ocr)
    seconds = sum(f["ocr_seconds"] for f in ocr)
    statements = {
        k: sum(1 for f in ocr if f["statements"][k]["ocr"] and f["statements"][k]["balanced"])
        for k in STATEMENT_KINDS
    }
    return {
        "reports": [f["file"] for f in ocr],
        "balanced": statements,
        "pages": pages,
        "seconds": round(seconds, 1),
        "seconds_per_page": round(seconds / pages, 1) if pages else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--expected", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = evaluate(args.folder, args.expected or default_expected(args.folder))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    o = report["overall"]
    print(f"overall {o['exact']}/{o['figures']} = {o['share']}, totals {o['totals_share']}")
    print(f"{report['n_skipped']} expected entries skipped")
    for k, v in report["statements"].items():
        print(f"{k}: extracted {v['share_extracted']}, balanced {v['share_balanced']}")
    for line in skipped_lines(report["skipped_items"]):
        print(line)
    for f in report["files"]:
        print(f"  {f['file']}: {f.get('share', f.get('error'))}")


if __name__ == "__main__":
    main()
