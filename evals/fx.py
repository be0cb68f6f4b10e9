"""FX eval: the share of conversion and declaration-rule cases the FX service gets right.

JSONL, one object per line:

* rate tables to load first (into a temporary store of the eval's own):
  ``{"rates": "{shared}/fx/bot_usd_rates_20141001_20170930.csv", "source": "BOT"}`` — a path,
  relative to the case file, where ``{shared}`` is ``ASSISTANT_SHARED_DATA`` or
  ``../shared/data`` beside the project — or an inline table
  ``{"rates_csv": ["資料日期,幣別,…", "20170929,JPY,本行買入,…"], "source": "EVAL"}``.
* a conversion: ``{"id", "kind": "convert", "amount", "from", "to", "side"?, "rate_kind"?,
  "on"?, "expect": {"amount", "currency", "rate", "rate_side", "rate_kind", "rate_date",
  "stale_days"} or {"error": "text the error contains"}}``
* a rule check: ``{"id", "kind": "check", "customer", "amount", "currency", "ytd_usd"?, "on"?,
  "side"?, "expect": {"declaration_required", "documents_required", "approval_required",
  "direct_settlement", "amount_twd", "amount_usd", "articles": [[law, article], …]}}``

Every key given under ``expect`` must match; amounts and rates compare as numbers. A malformed
case line is skipped and reported (``skipped_items``); the rest are scored.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fx.service import FxService
from assistant.modeleval.items import ItemError, Loaded, Row, collect, jsonl_rows
from knowledge.articles import normalise_article

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("convert", "check")
_NUMBERS = {"amount", "rate", "amount_twd", "amount_usd"}
_CONVERT_KEYS = {"amount", "currency", "rate", "rate_side", "rate_kind", "rate_date", "stale_days"}
_CHECK_KEYS = {
    "declaration_required",
    "documents_required",
    "approval_required",
    "direct_settlement",
    "amount_twd",
    "amount_usd",
    "articles",
}


def shared_dir() -> Path:
    return Path(os.environ.get("ASSISTANT_SHARED_DATA", ROOT.parent / "shared" / "data"))


_REQUIRED = {"convert": ("amount", "from", "to"), "check": ("customer", "amount", "currency")}


def _case(row: Row) -> dict[str, Any]:
    item = dict(row.value)
    if item.get("kind") not in KINDS:
        raise ItemError('"kind" 應為 convert 或 check / must be convert or check')
    expect = item.get("expect")
    if not isinstance(expect, dict) or not expect:
        raise ItemError('缺少 "expect" / needs an "expect" object')
    missing = [k for k in _REQUIRED[item["kind"]] if item.get(k) in (None, "")]
    if missing:
        raise ItemError(f"缺少欄位 / missing fields {missing}")
    allowed = (_CONVERT_KEYS if item["kind"] == "convert" else _CHECK_KEYS) | {"error"}
    unknown = set(expect) - allowed
    if unknown:
        raise ItemError(f"未知的期望欄位 / unknown expect keys {sorted(unknown)}")
    articles = expect.get("articles")
    if articles is not None and not (
        isinstance(articles, list) and all(isinstance(a, list) and len(a) == 2 for a in articles)
    ):
        raise ItemError('articles 格式不對 / "articles" must be [[law, article], ...]')
    if item.get("on") is not None:
        # Checked here: a bad date would otherwise stop the whole run in the middle.
        try:
            date.fromisoformat(str(item["on"]))
        except ValueError as exc:
            raise ItemError(f'"on" 不是日期 / not a date (YYYY-MM-DD): {item["on"]!r}') from exc
    item["id"] = str(item.get("id") or f"line{row.n}")
    return item


def load_cases(path: Path) -> tuple[list[dict[str, Any]], Loaded[dict[str, Any]]]:
    """(rate tables, cases). A malformed case line is skipped and listed in the cases'
    ``.skipped``; a malformed rate table refuses the file, since every case scored against a
    table that did not load would be wrong for a reason that is not the service's."""
    tables: list[dict[str, Any]] = []

    def cases_only() -> Iterator[Row]:
        for row in jsonl_rows(path):
            item = row.value
            if isinstance(item, dict) and ("rates" in item or "rates_csv" in item):
                lines = item.get("rates_csv")
                ok = (
                    isinstance(item.get("rates"), str)
                    or isinstance(lines, str)
                    or (isinstance(lines, list) and all(isinstance(x, str) for x in lines))
                )
                if not ok:
                    raise ValueError(
                        f"{path}:{row.n}: 匯率表格式不對 / a rate table needs a path in "
                        '"rates" or lines in "rates_csv"'
                    )
                tables.append({**item, "_line": row.n})
            else:
                yield row

    cases = collect(path, cases_only(), _case, key=lambda c: c["id"], what=("案例", "cases"))
    return tables, cases


def _same_number(got: Any, want: Any) -> bool:
    try:
        return got is not None and Decimal(str(got)) == Decimal(str(want))
    except InvalidOperation:
        return False


def _run(service: FxService, case: dict[str, Any]) -> dict[str, Any]:
    on = date.fromisoformat(case["on"]) if case.get("on") else None
    if case["kind"] == "convert":
        return service.convert(
            str(case["amount"]),
            case["from"],
            case["to"],
            side=case.get("side"),
            kind=case.get("rate_kind", "spot"),
            on=on,
            source=case.get("source"),
        ).to_dict()
    return service.check(
        customer=case["customer"],
        amount=str(case["amount"]),
        currency=case["currency"],
        ytd_usd=str(case.get("ytd_usd", "0")),
        on=on,
        side=case.get("side"),
        source=case.get("source"),
    ).to_dict()


def score(service: FxService, case: dict[str, Any]) -> dict[str, Any]:
    expect = case["expect"]
    mismatches: list[str] = []
    try:
        got = _run(service, case)
    except AssistantError as exc:
        if "error" in expect and str(expect["error"]) in str(exc):
            return {"id": case["id"], "kind": case["kind"], "ok": True, "mismatches": []}
        return {"id": case["id"], "kind": case["kind"], "ok": False, "mismatches": [str(exc)]}
    if "error" in expect:
        mismatches.append(f"expected an error containing {expect['error']!r}")
    for key, want in expect.items():
        if key == "error":
            continue
        value = got.get(key)
        if key == "articles":
            have = {(a["law"], normalise_article(a["article"])) for a in value}
            need = {(law, normalise_article(str(a))) for law, a in want}
            ok = have == need
            value = sorted(f"{law}§{a}" for law, a in have)
        elif key in _NUMBERS:
            ok = _same_number(value, want)
        else:
            ok = value == want
        if not ok:
            mismatches.append(f"{key}: got {value!r}, expected {want!r}")
    return {"id": case["id"], "kind": case["kind"], "ok": not mismatches, "mismatches": mismatches}


def evaluate(service: FxService, cases: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [score(service, c) for c in cases]
    by_kind = {}
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if mine:
            right = sum(r["ok"] for r in mine)
            by_kind[kind] = {"n": len(mine), "correct": right, "accuracy": right / len(mine)}
    correct = sum(r["ok"] for r in rows)
    skipped = cases.skipped if isinstance(cases, Loaded) else []
    return {
        "n": len(rows),
        "correct": correct,
        "accuracy": correct / len(rows) if rows else None,
        # Malformed lines of the file, not run: the accuracy is over the rest.
        "n_skipped": len(skipped),
        "skipped_items": [s.as_dict() for s in skipped],
        "by_kind": by_kind,
        "cases": rows,
    }


def _table_path(base: Path, raw: str) -> Path:
    path = Path(raw.replace("{shared}", str(shared_dir())))
    return path if path.is_absolute() else base / path


def evaluate_file(path: Path, default: Callable[[], FxService] | None = None) -> dict[str, Any]:
    """Run a case file: against its own rate tables in a temporary store when it names any,
    else against ``default()`` (the installation's service)."""
    tables, cases = load_cases(path)
    if not tables:
        if default is None:
            raise ValueError(f"{path}: 沒有匯率表 / names no rate tables and no store was given")
        report = evaluate(default(), cases)
        report["rates"] = "installation"
        return report
    from assistant.fx.rates import RateStore
    from assistant.schema import open_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'fx_eval.db'}")
        try:
            service = FxService(RateStore(engine), None)
            for i, t in enumerate(tables):
                source = t.get("source", "BOT")
                if "rates_csv" in t:
                    file = Path(tmp) / f"inline{i}.csv"
                    lines = t["rates_csv"]
                    text = "\n".join(lines) if isinstance(lines, list) else str(lines)
                    file.write_text(text + "\n", encoding="utf-8-sig")
                else:
                    file = _table_path(path.parent, str(t["rates"]))
                try:
                    imported = service.import_rates(file, source)
                except AssistantError as exc:
                    raise ValueError(f"{path}:{t['_line']}: {exc}") from exc
                if imported.errors:
                    first = imported.errors[0]
                    raise ValueError(
                        f"{path}:{t['_line']}: 匯率表有錯誤行 / rate table has malformed lines; "
                        f"line {first.line}: {first.reason}"
                    )
            report = evaluate(service, cases)
        finally:
            engine.dispose()
    report["rates"] = "case file"
    return report
