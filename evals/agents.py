"""Agent eval: routing accuracy and how often an answer cites a gold article.

Same JSONL as the retrieval eval, plus an optional expected ``agent`` per line. Each question
is asked in a conversation of its own, through the same service the UI uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean
from typing import Any

from assistant.permissions import UserContext
from assistant.service import AssistantService
from knowledge.articles import normalise_article


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: 不是 JSON / not JSON: {exc}") from exc
        if not isinstance(case, dict) or not str(case.get("q", "")).strip():
            raise ValueError(f'{path}:{n}: 缺少問題 / needs a "q" field')
        gold = case.get("gold")
        if gold is not None and not all(isinstance(g, list) and len(g) == 2 for g in gold):
            raise ValueError(f'{path}:{n}: "gold" must be [[law, article], ...]')
        case.setdefault("id", f"line{n}")
        cases.append(case)
    if not cases:
        raise ValueError(f"{path}: 沒有題目 / no questions")
    return cases


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
    return {
        "n": len(cases),
        "model": service.model_name,
        "routing_accuracy": mean(routed) if routed else None,
        "cited_gold": mean(cited) if cited else None,
        "no_basis_rate": mean(no_basis),
        "mean_latency_ms": mean(latencies),
        "mean_model_calls": mean(calls),
        "cases": out_cases,
    }
