"""Retrieval eval: recall@1, recall@5 and MRR@10 for dense-only, sparse-only and hybrid.

Input: JSONL of {"id", "q", "gold": [[law, article], ...]}. A hit counts when its Chinese law
name and normalised article match any gold pair, so English hits score against the same gold.
A malformed line is skipped and reported (``skipped_items``); the rest are scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.modeleval.items import ItemError, Loaded, Row, collect, jsonl_rows
from knowledge.articles import normalise_article
from knowledge.search import Mode, Retriever

MODES: tuple[Mode, ...] = ("hybrid", "dense", "sparse")


@dataclass
class Case:
    id: str
    q: str
    gold: set[tuple[str, str]]


def _case(row: Row) -> Case:
    data = row.value
    q = data.get("q")
    if not isinstance(q, str) or not q.strip():
        raise ItemError('缺少問題 / needs a "q" field (text)')
    gold = data.get("gold")
    if not gold:
        # Nothing to find: the case would count as a miss in every mode.
        raise ItemError('缺少標準答案 / needs "gold" articles')
    bad = ItemError('gold 格式不對 / "gold" must be [[law, article], ...]')
    if not isinstance(gold, list) or not all(isinstance(g, list) and len(g) == 2 for g in gold):
        raise bad
    pairs = {(str(law), normalise_article(str(art))) for law, art in gold}
    ident = data.get("id")
    return Case(str(ident if ident is not None else row.n), q, pairs)


def load_cases(path: Path) -> Loaded[Case]:
    """The cases of a JSONL file; a malformed line (not JSON, no "q", no usable "gold") is
    skipped and listed in ``.skipped``."""
    return collect(path, jsonl_rows(path), _case, key=lambda c: c.id, what=("評測題", "cases"))


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
    # Malformed lines of the file, not searched: the figures above are over the rest.
    skipped = cases.skipped if isinstance(cases, Loaded) else []
    report["n_skipped"] = len(skipped)
    report["skipped_items"] = [s.as_dict() for s in skipped]
    report["cases"] = details
    return report
