"""Agent eval: routing accuracy and how often an answer cites a gold article.

Same JSONL as the retrieval eval, plus an optional expected ``agent`` per line. Each question
is asked in a conversation of its own, through the same service the UI uses. A malformed line
is skipped and reported; the report's ``skipped_items`` lists it.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

from assistant.modeleval.items import ItemError, Loaded, Row, collect, jsonl_rows
from assistant.permissions import UserContext
from assistant.service import AssistantService
from knowledge.articles import normalise_article


def _case(row: Row) -> dict[str, Any]:
    case = dict(row.value)
    if not isinstance(case.get("q"), str) or not case["q"].strip():
        raise ItemError('缺少問題 / needs a "q" field (text)')
    gold = case.get("gold")
    if gold is not None and not (
        isinstance(gold, list) and all(isinstance(g, list) and len(g) == 2 and all(g) for g in gold)
    ):
        raise ItemError('gold 格式不對 / "gold" must be [[law, article], ...]')
    if case.get("agent") is not None and not isinstance(case["agent"], str):
        raise ItemError('agent 應為文字 / "agent" must be text')
    case["id"] = str(case.get("id") or f"line{row.n}")
    return case


def load_cases(path: Path) -> Loaded[dict[str, Any]]:
    """The questions of a JSONL file; a malformed line (not JSON, no "q", a "gold" that is
    not [[law, article], ...]) is skipped and listed in ``.skipped``."""
    return collect(path, jsonl_rows(path), _case, key=lambda c: c["id"], what=("題目", "questions"))


def evaluate(
    service: AssistantService, user: UserContext, cases: list[dict[str, Any]]
) -> dict[str, Any]:
    routed: list[bool] = []
    cited: list[bool] = []
    out_cases = []
    latencies, calls, no_basis = [], [], []
    for case in cases:
        ans = service.ask(user, case["q"])
        got = [(c.law, normalise_article(c.article)) for c in ans.citations]
        row: dict[str, Any] = {
            "id": case["id"],
            "agent": ans.agent,
            "cited": [c.label for c in ans.citations],
            "model_calls": ans.llm_calls,
            "latency_ms": round(ans.latency_ms, 1),
        }
        if case.get("agent"):
            routed.append(ans.agent == case["agent"])
            row["routed_ok"] = routed[-1]
        if case.get("gold"):
            gold = {(law, normalise_article(str(a))) for law, a in case["gold"]}
            cited.append(any(g in gold for g in got))
            row["cited_gold"] = cited[-1]
        latencies.append(ans.latency_ms)
        calls.append(ans.llm_calls)
        no_basis.append(ans.no_basis)
        out_cases.append(row)
    skipped = cases.skipped if isinstance(cases, Loaded) else []
    return {
        "n": len(cases),
        # Malformed lines of the file, not asked: the rates above are over the rest.
        "n_skipped": len(skipped),
        "skipped_items": [s.as_dict() for s in skipped],
        "model": service.model_name,
        "routing_accuracy": mean(routed) if routed else None,
        "cited_gold": mean(cited) if cited else None,
        "no_basis_rate": mean(no_basis),
        "mean_latency_ms": mean(latencies),
        "mean_model_calls": mean(calls),
        "cases": out_cases,
    }
