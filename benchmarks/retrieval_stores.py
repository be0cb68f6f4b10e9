"""The embedded stores side by side, in one run, on one ingested corpus: quality and latency.

    python -m benchmarks.retrieval_stores --data-dir DIR [--laws ../shared/data/laws] [--json]

DIR is a data dir ingested in local mode (``ASSISTANT_QDRANT_MODE=local assistant ingest laws``;
with ``--laws`` it is ingested first, which embeds the corpus once: minutes). Compared:

- ``local``: today's path, qdrant-client local mode for dense plus the bm25s index, fusion in
  code (min-max weighted);
- ``edge-code``: Qdrant Edge, the lexical fields as sparse vectors (IDF modifier) scored in the
  engine, filters in the engine, fusion in code with the same weights;
- ``edge-rrf`` / ``edge-dbsf``: the same shard, fusion in the engine (prefetch, weighted RRF or
  DBSF).

The Edge shard is built from what DIR already holds (the catalog's terms, the dense vectors
stored in local mode), so every store ranks the very same vectors; its build time is the
Edge share of an ingestion (the embedding, common to all, is not repeated).
Quality: recall@1/@5 and MRR@10 of hybrid search (``evals/retrieval.py``); latency: hybrid
search p50/p95 (query analysis and embedding included) and the lexical side alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.container import Container
from assistant.settings import load_settings
from benchmarks.retrieval import ROOT, percentiles
from evals.retrieval import evaluate, load_cases
from knowledge.analyzer import Analyzer
from knowledge.models import Chunk, SearchFilters

SETS = {
    "dev": ROOT.parent / "shared/data/eval/regulation_dev.jsonl",
    "holdout": ROOT / "evals/regulation_holdout.jsonl",
    "unseen": ROOT / "evals/regulation_unseen.jsonl",
}
STORES = ("local", "edge-code", "edge-rrf", "edge-dbsf")


def build_edge_from_local(local: Container, edge: Container, batch: int = 1024) -> dict[str, float]:
    """Every chunk of the catalog into the Edge shard, with the dense vector local mode holds.
    Returns the whole time and the engine's share (upserts, flush, optimise, publish)."""
    client = local.vector_store._client
    collection = local.vector_store.collection
    store = edge.vector_store
    started = time.perf_counter()
    engine = 0.0
    chunks = list(local.catalog.iter_all())
    with store.batch():
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            records = client.retrieve(collection, [c.id for c in part], with_vectors=True)
            vec = {str(r.id): r.vector["dense"] for r in records}  # type: ignore[index]
            part = [c for c in part if c.id in vec]
            tokens = [
                c.tokens + [f"#{ch}" for ch in Analyzer.chars(Chunk(**c.payload).lexical_text())]
                for c in part
            ]
            vectors = np.array([vec[c.id] for c in part], dtype=np.float32)
            t = time.perf_counter()
            store.ensure_collection(vectors.shape[1])
            store.upsert([c.id for c in part], vectors, [c.payload for c in part], tokens)
            engine += time.perf_counter() - t
        t = time.perf_counter()
    publish = time.perf_counter() - t  # flush, optimise (HNSW), publish
    return {
        "edge_build_s": round(time.perf_counter() - started, 1),
        "edge_engine_s": round(engine + publish, 1),
        "edge_publish_s": round(publish, 1),
    }


def lexical_alone(c: Container, q: str) -> None:
    """The lexical side by itself: bm25s, or the two sparse fields in the engine."""
    a = c.retriever.analyse(q)
    if c.lexical is not None:
        c.lexical.search(a.tokens, a.chars, None, 100)
    else:
        c.vector_store.sparse(a.tokens + [f"#{ch}" for ch in a.chars], None, 100)


def container(data_dir: Path, store: str, lent: dict[str, Any] | None = None) -> Container:
    mode = "local" if store == "local" else "edge"
    fusion = store.split("-", 1)[1] if mode == "edge" else "code"
    settings = load_settings(data_dir=data_dir, qdrant={"mode": mode, "edge_fusion": fusion})
    return Container(settings, lent=lent)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--laws", type=Path, help="ingest ChLaw.json and EngLaw.json first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stores", nargs="*", default=list(STORES), choices=STORES)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--latency-only", action="store_true", help="skip the quality eval")
    args = parser.parse_args()

    out: dict[str, Any] = {}
    local = container(args.data_dir, "local")
    if args.laws:
        started = time.perf_counter()
        for name in ("ChLaw.json", "EngLaw.json"):
            local.ingestor.ingest_laws(args.laws / name)
        out["local_ingest_s"] = round(time.perf_counter() - started, 1)
    lent = {"catalog": local.catalog, "embedder": local.embedder, "analyzer": local.analyzer}
    edge_dir = args.data_dir / "edge"
    shutil.rmtree(edge_dir, ignore_errors=True)
    builder = container(args.data_dir, "edge-code", lent)
    out.update(build_edge_from_local(local, builder))
    out["chunks"] = builder.vector_store.count()
    builder.close()
    cases = {name: load_cases(path) for name, path in SETS.items() if path.exists()}
    questions = [c.q for cs in cases.values() for c in cs]
    out["questions"] = len(questions)
    stores = {
        name: local if name == "local" else container(args.data_dir, name, lent)
        for name in args.stores
    }
    for name, c in stores.items():
        c.retriever.refresh()
        out[name] = {
            set_name: evaluate(c.retriever, cs, modes=("hybrid",))["hybrid"]
            for set_name, cs in cases.items()
            if not args.latency_only
        }
        print(name, json.dumps(out[name], ensure_ascii=False), flush=True)
    # Latency, the stores interleaved question by question, so a busy machine slows them alike.
    vectors = {q: local.retriever._embed(q) for q in questions}
    law = SearchFilters(laws=["銀行法"])
    probes = {
        "search_hybrid": lambda c, q: c.retriever.search(q, k=10),
        "search_sparse": lambda c, q: c.retriever.search(q, k=10, mode="sparse"),
        "lexical_alone": lexical_alone,
        "dense_alone": lambda c, q: c.vector_store.dense(vectors[q], None, 100),
        "dense_in_a_law": lambda c, q: c.vector_store.dense(vectors[q], law, 100),
    }
    samples: dict[tuple[str, str], list[float]] = {}
    for c in stores.values():
        for fn in probes.values():
            fn(c, questions[0])  # lazy loads outside the measurement
    order = list(stores.items())
    for _ in range(args.rounds):
        for q in questions:
            order = order[1:] + order[:1]  # no store always runs first, or right after another
            for probe, fn in probes.items():
                for name, c in order:
                    t = time.perf_counter()
                    fn(c, q)
                    samples.setdefault((name, probe), []).append(time.perf_counter() - t)
    for (name, probe), values in samples.items():
        out[name][probe] = percentiles(values)
    for name, c in stores.items():
        print(name, json.dumps(out[name], ensure_ascii=False), flush=True)
        if c is not local:
            c.close()
    local.close()
    print(json.dumps(out, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
