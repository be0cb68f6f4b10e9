"""Retrieval eval: recall@1, recall@5 and MRR@10 for dense-only, sparse-only and hybrid.

Input: JSONL of {"id", "q", "gold": [[law, article], ...]}. A hit counts when its Chinese law
name and normalised article match any gold pair, so English hits score against the same gold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.articles import normalise_article
from knowledge.search import Mode, Retriever

MODES: tuple[Mode, ...] = ("hybrid", "dense", "sparse")


@dataclass
class Case:
    id: str
    q: str
    gold: set[tuple[str, str]]


def load_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            gold = {(str(law), normalise_article(str(art))) for law, art in row["gold"]}
            cases.append(Case(str(row.get("id", n)), str(row["q"]), gold))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{path}:{n}: 不是有效的評測題 / not a valid eval case: {exc}"
            ) from exc
    if not cases:
        raise ValueError(f"{path}: 沒有評測題 / no cases")
    return cases


def first_gold_rank(hits: list[tuple[str, str]], gold: set[tuple[str, str]]) -> int | None:
    for rank, pair in enumerate(hits, start=1):
        if pair in gold:
            return rank
    return None


def evaluate(
    retriever: Retriever, cases: list[Case], modes: tuple[Mode, ...] = MODES
) -> dict[str, Any]:
    report: dict[str, Any] = {}
    details: list[dict[str, Any]] = []
    for mode in modes:
        r1 = r5 = mrr = 0.0
        for case in cases:
            hits = retriever.search(case.q, k=10, mode=mode)
            rank = first_gold_rank([(h.law, h.article) for h in hits], case.gold)
            r1 += rank == 1
            r5 += rank is not None and rank <= 5
            mrr += 1.0 / rank if rank else 0.0
            if mode == "hybrid":
                details.append(
                    {"id": case.id, "rank": rank, "top": [f"{h.law}:{h.article}" for h in hits[:3]]}
                )
        n = len(cases)
        report[mode] = {
            "recall@1": round(r1 / n, 4),
            "recall@5": round(r5 / n, 4),
            "mrr@10": round(mrr / n, 4),
        }
    report["n"] = len(cases)
    report["cases"] = details
    return report
