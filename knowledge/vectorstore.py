"""Qdrant adapter: local mode (a folder) by default, a Qdrant server when a URL is set.

Everything above this module sees only ``VectorStore``. On a server, lexical sparse vectors
live in the same collection and fusion happens in Qdrant's query API; in local mode Qdrant
scores sparse vectors in pure Python (hundreds of ms over the corpus), so there the lexical
side is a BM25 index of its own (``knowledge.lexical``) and fusion happens in code.
"""

from __future__ import annotations

import sqlite3
import warnings
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.errors import KnowledgeError
from knowledge.models import SearchFilters

DENSE = "dense"
SPARSE = "lexical"


def sparse_terms(tokens: Sequence[str], k1: float = 1.2) -> tuple[list[int], list[float]]:
    """Term ids (stable hashes) and saturated term frequencies; Qdrant's IDF modifier adds IDF."""
    counts = Counter(zlib.crc32(t.encode("utf-8")) & 0x7FFFFFFF for t in tokens)
    idx = sorted(counts)
    return idx, [counts[i] * (k1 + 1) / (counts[i] + k1) for i in idx]


def speed_up_local_writes(client: Any) -> None:
    """Qdrant local mode commits every point to SQLite on its own, with an fsync each time:
    tens of thousands of points then take minutes. Write-ahead logging without a sync per
    commit keeps the file consistent and makes that seconds. What a crash could lose is re-done
    by the next ingest, since the catalog, written after the vectors, would not list it."""
    local = getattr(client, "_client", None)
    for coll in getattr(local, "collections", {}).values():
        conn = getattr(getattr(coll, "storage", None), "storage", None)
        if isinstance(conn, sqlite3.Connection):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")


def build_filter(filters: SearchFilters | None):  # type: ignore[no-untyped-def]
    from qdrant_client import models as m

    if filters is None:
        return None
    must: list[Any] = []
    if filters.laws:
        must.append(
            m.Filter(
                should=[
                    m.FieldCondition(key="law_zh", match=m.MatchAny(any=filters.laws)),
                    m.FieldCondition(key="law", match=m.MatchAny(any=filters.laws)),
                ]
            )
        )
    if filters.levels:
        must.append(m.FieldCondition(key="level", match=m.MatchAny(any=filters.levels)))
    if filters.langs:
        must.append(m.FieldCondition(key="lang", match=m.MatchAny(any=filters.langs)))
    if filters.doc_classes is not None:
        must.append(m.FieldCondition(key="doc_class", match=m.MatchAny(any=filters.doc_classes)))
    if filters.categories:
        must.append(
            m.Filter(
                should=[
                    m.FieldCondition(key="category", match=m.MatchText(text=c))
                    for c in filters.categories
                ]
            )
        )
    if filters.amended_from or filters.amended_to:

        def as_int(d: str | None) -> int | None:
            return int(d.replace("-", "")) if d else None

        must.append(
            m.FieldCondition(
                key="amended_int",
                range=m.Range(gte=as_int(filters.amended_from), lte=as_int(filters.amended_to)),
            )
        )
    return m.Filter(must=must) if must else None


class QdrantStore:
    def __init__(
        self,
        collection: str,
        *,
        path: Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        sparse_in_qdrant: bool | None = None,
    ) -> None:
        """sparse_in_qdrant: keep lexical sparse vectors in the collection (default: on a
        server only). Tests turn it on in local mode to run the server's code path."""
        try:
            from qdrant_client import QdrantClient
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise KnowledgeError(
                "qdrant-client is not installed: pip install qdrant-client"
            ) from exc
        self.collection = collection
        self.is_server = url is not None
        self.sparse_in_qdrant = self.is_server if sparse_in_qdrant is None else sparse_in_qdrant
        if url is not None:
            self._client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout_s))
        else:
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            # Local mode warns past 20,000 points; the full corpus is ~28,000 and measured
            # fast enough here (benchmarks/), and the server is one setting away.
            warnings.filterwarnings("ignore", message="Local mode is not recommended")
            try:
                self._client = QdrantClient(path=str(path))
            except RuntimeError as exc:
                # Local mode locks its folder: a second process (a running `assistant serve`)
                # cannot open it at the same time.
                raise KnowledgeError(
                    f"向量庫正被另一個程序使用 / the vector store at {path} is in use by another "
                    f"process; stop it or use a Qdrant server (ASSISTANT_QDRANT_URL): {exc}"
                ) from exc

    def close(self) -> None:
        self._client.close()

    def _speed_up_local_writes(self) -> None:
        speed_up_local_writes(self._client)

    def exists(self) -> bool:
        return bool(self._client.collection_exists(self.collection))

    def ensure_collection(self, dim: int) -> None:
        from qdrant_client import models as m

        if self.exists():
            info = self._client.get_collection(self.collection)
            vectors = info.config.params.vectors
            size = vectors[DENSE].size if isinstance(vectors, dict) else None
            if size != dim:
                raise KnowledgeError(
                    f"集合 {self.collection} 的向量維度是 {size}，模型是 {dim} / the collection was "
                    f"built with another embedding model; re-ingest into a new data directory"
                )
            self._speed_up_local_writes()
            return
        self._client.create_collection(
            self.collection,
            vectors_config={DENSE: m.VectorParams(size=dim, distance=m.Distance.COSINE)},
            sparse_vectors_config=(
                {SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF)}
                if self.sparse_in_qdrant
                else None
            ),
        )
        self._speed_up_local_writes()
        if self.is_server:
            for key in ("law_zh", "law", "level", "lang", "doc_class"):
                self._client.create_payload_index(self.collection, key, m.PayloadSchemaType.KEYWORD)
            self._client.create_payload_index(self.collection, "category", m.PayloadSchemaType.TEXT)
            self._client.create_payload_index(
                self.collection, "amended_int", m.PayloadSchemaType.INTEGER
            )

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[dict[str, Any]],
        tokens: Sequence[Sequence[str]],
        batch: int = 256,
    ) -> None:
        from qdrant_client import models as m

        for start in range(0, len(ids), batch):
            points = []
            for i in range(start, min(start + batch, len(ids))):
                vector: dict[str, Any] = {DENSE: vectors[i].tolist()}
                if self.sparse_in_qdrant:
                    idx, val = sparse_terms(tokens[i])
                    vector[SPARSE] = m.SparseVector(indices=idx, values=val)
                points.append(m.PointStruct(id=ids[i], vector=vector, payload=payloads[i]))
            self._client.upsert(self.collection, points=points, wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        from qdrant_client import models as m

        if ids:
            self._client.delete(self.collection, points_selector=m.PointIdsList(points=list(ids)))

    def count(self) -> int:
        return self._client.count(self.collection).count if self.exists() else 0

    def _query(
        self, query: Any, using: str, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        res = self._client.query_points(
            self.collection,
            query=query,
            using=using,
            query_filter=build_filter(filters),
            limit=limit,
            with_payload=False,
        )
        return [(str(p.id), float(p.score)) for p in res.points]

    def dense(
        self, vector: np.ndarray, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        return self._query(vector.tolist(), DENSE, filters, limit)

    def sparse(
        self, tokens: Sequence[str], filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        """Server only: lexical search on the sparse vectors."""
        from qdrant_client import models as m

        idx, _ = sparse_terms(tokens)
        return self._query(
            m.SparseVector(indices=idx, values=[1.0] * len(idx)), SPARSE, filters, limit
        )

    def fused(
        self,
        vector: np.ndarray,
        tokens: Sequence[str],
        filters: SearchFilters | None,
        limit: int,
        candidates: int,
        dense_weight: float = 0.5,
    ) -> list[tuple[str, float]]:
        """Server only: dense and sparse prefetched and fused by Qdrant (distribution-based,
        which takes no weights: ``dense_weight`` is accepted for the common interface)."""
        from qdrant_client import models as m

        flt = build_filter(filters)
        idx, _ = sparse_terms(tokens)
        res = self._client.query_points(
            self.collection,
            prefetch=[
                m.Prefetch(query=vector.tolist(), using=DENSE, filter=flt, limit=candidates),
                m.Prefetch(
                    query=m.SparseVector(indices=idx, values=[1.0] * len(idx)),
                    using=SPARSE,
                    filter=flt,
                    limit=candidates,
                ),
            ],
            query=m.FusionQuery(fusion=m.Fusion.DBSF),
            limit=limit,
            with_payload=False,
        )
        return [(str(p.id), float(p.score)) for p in res.points]
