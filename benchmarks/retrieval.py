"""Retrieval benchmark: ingestion throughput and search latency, side by side in one run.

    python -m benchmarks.retrieval --laws ../shared/data/laws [--data-dir DIR] [--json]

Measures, on this machine:
- full ingestion of ChLaw.json + EngLaw.json (articles/s) and a re-ingest with nothing changed;
- search latency p50/p95, query embedding included, for hybrid, dense-only and sparse-only;
- the lexical side against the strongest embedded alternative: the same terms as Qdrant
  sparse vectors, queried in Qdrant local mode (how a server deployment stores them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.container import Container
from assistant.settings import load_settings
from evals.retrieval import load_cases

ROOT = Path(__file__).resolve().parents[1]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


def time_queries(fn: Any, questions: list[str], rounds: int) -> list[float]:
    fn(questions[0])  # warm caches and lazy loads outside the measurement
    samples = []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            fn(q)
            samples.append(time.perf_counter() - t)
    return samples


def _terms(c: Container, question: str) -> tuple[list[str], list[str]]:
    q = c.retriever.analyse(question)
    return q.tokens, q.chars


def _edge_terms(c: Container, question: str) -> list[str]:
    terms, chars = _terms(c, question)
    return terms + [f"#{ch}" for ch in chars]


def _chars(payload: dict[str, Any]) -> list[str]:
    from knowledge.analyzer import Analyzer

    return Analyzer.chars(
        f"{payload.get('law', '')} {payload.get('chapter', '')} {payload['text']}"
    )


def qdrant_sparse_alternative(c: Container, questions: list[str], folder: Path) -> dict[str, Any]:
    """The same lexical terms as sparse vectors in a Qdrant local collection."""
    from qdrant_client import QdrantClient
    from qdrant_client import models as m

    from knowledge.bm25 import bm25_doc, bm25_query
    from knowledge.vectorstore import speed_up_local_writes

    client = QdrantClient(path=str(folder))
    client.create_collection(
        "sparse",
        vectors_config={},
        sparse_vectors_config={"lexical": m.SparseVectorParams(modifier=m.Modifier.IDF)},
    )
    speed_up_local_writes(client)
    batch: list[m.PointStruct] = []
    started = time.perf_counter()
    chunks = [
        (ch.id, ch.tokens + [f"#{x}" for x in _chars(ch.payload)]) for ch in c.catalog.iter_all()
    ]
    avgdl = sum(len(t) for _, t in chunks) / max(len(chunks), 1)
    for chunk_id, terms in chunks:
        idx, val = bm25_doc(terms, avgdl)
        batch.append(
            m.PointStruct(id=chunk_id, vector={"lexical": m.SparseVector(indices=idx, values=val)})
        )
        if len(batch) == 512:
            client.upsert("sparse", batch)
            batch = []
    if batch:
        client.upsert("sparse", batch)
    build_s = time.perf_counter() - started

    def query(q: str) -> None:
        a = c.retriever.analyse(q)
        idx, val = bm25_query(a.tokens + [f"#{ch}" for ch in a.chars])
        client.query_points(
            "sparse",
            query=m.SparseVector(indices=idx, values=val),
            using="lexical",
            limit=100,
        )

    samples = time_queries(query, questions, 1)
    client.close()
    return {"build_s": round(build_s, 1), **percentiles(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--laws", type=Path, required=True, help="folder with ChLaw.json and EngLaw.json"
    )
    parser.add_argument(
        "--questions",
        type=Path,
        nargs="*",
        default=[
            ROOT.parent / "shared/data/eval/regulation_dev.jsonl",
            ROOT / "evals/regulation_holdout.jsonl",
            ROOT / "evals/regulation_unseen.jsonl",
        ],
    )
    parser.add_argument(
        "--data-dir", type=Path, help="reuse this data dir (default: a fresh temp one)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-alternative", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="twfin-bench-"))
    data_dir = args.data_dir or tmp / "data"
    c = Container(load_settings(data_dir=data_dir))
    out: dict[str, Any] = {}
    try:
        files = [args.laws / "ChLaw.json", args.laws / "EngLaw.json"]
        started = time.perf_counter()
        reports = [c.ingestor.ingest_laws(f) for f in files]
        full_s = time.perf_counter() - started
        embedded = sum(r.added + r.amended for r in reports)
        articles = len(
            {(p["doc_key"], p["article"]) for p in (ch.payload for ch in c.catalog.iter_all())}
        )
        started = time.perf_counter()
        again = [c.ingestor.ingest_laws(f) for f in files]
        reingest_s = time.perf_counter() - started
        assert not any(r.changed for r in again), "re-ingest of unchanged files changed something"
        out["ingest"] = {
            "chunks": sum(r.chunks for r in reports),
            "articles": articles,
            "embedded": embedded,
            "full_s": round(full_s, 1),
            "articles_per_s": round(articles / full_s, 1),
            "chunks_per_s": round(embedded / full_s, 1) if embedded else None,
            "unchanged_reingest_s": round(reingest_s, 2),
        }
        c.retriever.refresh()
        questions = [case.q for f in args.questions if f.exists() for case in load_cases(f)]
        out["questions"] = len(questions)
        for mode in ("hybrid", "dense", "sparse"):
            samples = time_queries(
                lambda q, m=mode: c.retriever.search(q, k=10, mode=m), questions, args.rounds
            )
            out[f"search_{mode}"] = percentiles(samples)
        if c.lexical is not None:
            lexical_key = "lexical_bm25s"
            lex = time_queries(
                lambda q: c.lexical.search(*_terms(c, q), None, 100),  # type: ignore[union-attr]
                questions,
                args.rounds,
            )
        else:  # Qdrant Edge (the default): the same terms as sparse vectors in the engine
            lexical_key = "lexical_qdrant_edge"
            lex = time_queries(
                lambda q: c.vector_store.sparse(_edge_terms(c, q), None, 100),
                questions,
                args.rounds,
            )
        out[lexical_key] = percentiles(lex)
        if not args.skip_alternative:
            alt = qdrant_sparse_alternative(c, questions, tmp / "alt")
            out["lexical_qdrant_local_sparse"] = alt
            out["lexical_speedup_p50"] = round(alt["p50_ms"] / out[lexical_key]["p50_ms"], 1)
    finally:
        c.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    ing = out["ingest"]
    print(
        f"ingest: {ing['articles']} articles in {ing['chunks']} chunks, {ing['full_s']} s "
        f"({ing['articles_per_s']} articles/s); "
        f"unchanged re-ingest {ing['unchanged_reingest_s']} s"
    )
    print(
        f"search over {out['questions']} questions x {args.rounds} (p50 / p95 ms, query embedding included):"
    )
    for key in (
        "search_hybrid",
        "search_dense",
        "search_sparse",
        "lexical_bm25s",
        "lexical_qdrant_edge",
        "lexical_qdrant_local_sparse",
    ):
        if key in out:
            print(f"  {key:30} {out[key]['p50_ms']:8.1f} {out[key]['p95_ms']:8.1f}")
    if "lexical_speedup_p50" in out:
        print(
            f"  lexical side vs Qdrant local sparse vectors: {out['lexical_speedup_p50']}x faster at p50"
        )


if __name__ == "__main__":
    main()
