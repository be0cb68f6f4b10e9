"""Agent benchmark: per compliance question, the time spent outside the model (guard, routing,
retrieval, graph, checkpoint, audit and conversation writes) and the number of model calls.

    python -m benchmarks.agents --data-dir DIR          # a knowledge base already ingested
    python -m benchmarks.agents --laws ChLaw.json       # ingest into a temporary folder first

Runs the same questions through the whole graph with no model and with a tiny GGUF model on the
real llama.cpp path, and side by side the strongest bare alternative: the same search and the
same composed answer called directly, with no graph, checkpoint or audit. Goal: ≤ 150 ms outside
the model and at most 2 model calls per compliance question.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agents.compliance.compose import compose_without_model, key_terms
from agents.compliance.tools import search_regulations
from assistant.container import Container
from assistant.llm.llama_cpp import LlamaCppLLM
from assistant.llm.none import NoLLM
from assistant.settings import load_settings
from benchmarks.stats import summary
from evals.retrieval import load_cases

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 150.0


def warm_up(questions: list[str]) -> list[str]:
    """One question per language: an English one loads the embedding model."""
    english = [q for q in questions if q.isascii()]
    return [questions[0], *english[:1]]


def run_graph(c: Container, llm: Any, questions: list[str], rounds: int) -> dict[str, Any]:
    service = c.service_with(llm)  # the production pipeline around this backend
    user = c.eval_user()
    for q in warm_up(questions):  # lazy loads (indexes, models) stay out of the figures
        service.ask(user, q)
    outside: list[float] = []
    calls: list[int] = []
    per_question: dict[str, dict[str, list[float]]] = {}
    for _ in range(rounds):
        for q in questions:
            a = service.ask(user, q)
            outside.append(a.latency_ms - a.model_ms)
            calls.append(a.llm_calls)
            row = per_question.setdefault(q, {"outside_ms": [], "model_calls": []})
            row["outside_ms"].append(outside[-1])
            row["model_calls"].append(a.llm_calls)
    rows = [
        {
            "question": q,
            "outside_ms_median": round(statistics.median(r["outside_ms"]), 1),
            "outside_ms_max": round(max(r["outside_ms"]), 1),
            "model_calls": int(max(r["model_calls"])),
        }
        for q, r in per_question.items()
    ]
    return {
        **summary(outside),
        "model_calls_max": max(calls),
        "model_calls_mean": round(statistics.mean(calls), 2),
        "slowest": sorted(rows, key=lambda r: -r["outside_ms_max"])[:3],
        "per_question": rows,
    }


def run_bare(c: Container, questions: list[str], rounds: int) -> dict[str, Any]:
    """The same search and composition, called directly: what the graph adds is the difference."""
    user = c.eval_user()
    k = c.settings.agents.top_k

    def answer(q: str) -> str:
        hits, _ = search_regulations(c.compliance_desk, user, q, k)
        return compose_without_model(c.analyzer, key_terms(c.retriever, q), hits, False)

    for q in warm_up(questions):
        answer(q)
    samples = []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            answer(q)
            samples.append((time.perf_counter() - t) * 1000)
    return summary(samples)


def main() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `assistant` does; see cli.main
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, help="An ingested knowledge base.")
    parser.add_argument("--laws", type=Path, help="Laws to ingest into a temporary folder.")
    parser.add_argument(
        "--questions",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "eval" / "regulation_dev.jsonl",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data_dir and not args.laws:
        parser.error("give --data-dir or --laws")
    tmp = tempfile.TemporaryDirectory()
    data_dir = args.data_dir or Path(tmp.name) / "data"
    c = Container(load_settings(data_dir=data_dir))
    try:
        if args.laws:
            c.ingestor.ingest_laws(args.laws)
            c.retriever.refresh()
        questions = [case.q for case in load_cases(args.questions)]
        from evals.tiny_gguf import build_tiny_gguf

        gguf = build_tiny_gguf(Path(tmp.name) / "tiny.gguf", n_ctx_train=4096)
        tiny = LlamaCppLLM(gguf, context_size=4096, threads=2)
        c.settings.agents.answer_max_tokens = 64  # random weights: the length is arbitrary
        report = {
            "questions": len(questions),
            "rounds": args.rounds,
            "goal_outside_model_ms": GOAL_MS,
            "graph_none": run_graph(c, NoLLM(), questions, args.rounds),
            "graph_tiny_gguf": run_graph(c, tiny, questions, args.rounds),
            "bare_search_and_compose": run_bare(c, questions, args.rounds),
        }
        base = report["bare_search_and_compose"]["p50_ms"]
        report["graph_overhead_ratio_p50"] = round(report["graph_none"]["p50_ms"] / base, 2)
    finally:
        c.close()
        tmp.cleanup()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(
        f"{report['questions']} questions × {args.rounds} rounds; goal ≤ {GOAL_MS:.0f} ms outside the model"
    )
    print(f"{'run':26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'calls max':>10}")
    for name in ("graph_none", "graph_tiny_gguf", "bare_search_and_compose"):
        r = report[name]
        calls = r.get("model_calls_max", "-")
        print(f"{name:26} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f} {calls:>10}")
    print(f"graph / bare (p50): {report['graph_overhead_ratio_p50']}x")


if __name__ == "__main__":
    main()
