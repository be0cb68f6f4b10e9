"""Qdrant local mode (a folder, qdrant-client), the earlier default, beside a bm25s index.

Local mode scores sparse vectors in pure Python (seconds over the corpus), so here the lexical
side is a BM25 index of its own (``knowledge.lexical``) and fusion happens in code. Qdrant Edge
(``knowledge.edge_store``) and a Qdrant server (``knowledge.server_store``) keep the lexical
side in the collection instead.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.errors import KnowledgeError
from knowledge.models import SearchFilters
from knowledge.server_store import DENSE, build_filter, collection_layout


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


class QdrantStore:
    def __init__(self, collection: str, *, path: Path) -> None:
        try:
            from qdrant_client import QdrantClient
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise KnowledgeError(
                "qdrant-client is not installed: pip install qdrant-client"
            ) from exc
        self.collection = collection
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
                f"process; stop it or use Qdrant Edge (the default): {exc}"
            ) from exc

    def close(self) -> None:
        self._client.close()

    def exists(self) -> bool:
        return bool(self._client.collection_exists(self.collection))

    def ensure_collection(self, dim: int) -> None:
        from qdrant_client import models as m

        if self.exists():
            size, _ = collection_layout(self._client, self.collection)
            if size != dim:
                raise KnowledgeError(
                    f"集合 {self.collection} 的向量維度是 {size}，模型是 {dim} / the collection was "
                    f"built with another embedding model; re-ingest into a new data directory"
                )
            speed_up_local_writes(self._client)
            return
        self._client.create_collection(
            self.collection,
            vectors_config={DENSE: m.VectorParams(size=dim, distance=m.Distance.COSINE)},
        )
        speed_up_local_writes(self._client)

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[dict[str, Any]],
        tokens: Sequence[Sequence[str]],
        batch: int = 256,
    ) -> None:
        """``tokens`` are for the stores that keep the lexical side; here bm25s holds it."""
        from qdrant_client import models as m

        for start in range(0, len(ids), batch):
            points = [
                m.PointStruct(id=ids[i], vector={DENSE: vectors[i].tolist()}, payload=payloads[i])
                for i in range(start, min(start + batch, len(ids)))
            ]
            self._client.upsert(self.collection, points=points, wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        from qdrant_client import models as m

        if ids:
            self._client.delete(self.collection, points_selector=m.PointIdsList(points=list(ids)))

    def count(self) -> int:
        return self._client.count(self.collection).count if self.exists() else 0

    def dense(
        self, vector: np.ndarray, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        res = self._client.query_points(
            self.collection,
            query=vector.tolist(),
            using=DENSE,
            query_filter=build_filter(filters),
            limit=limit,
            with_payload=False,
        )
        return [(str(p.id), float(p.score)) for p in res.points]
