"""Qdrant server adapter: the collection layout, weighting and fusion of Qdrant Edge, on a server.

A bank that outgrows one machine moves the knowledge base to a Qdrant server and keeps its
ranking: the same dense vector, the same two BM25-weighted sparse vectors with the IDF modifier
(``knowledge.bm25``), the same payload indexes, and the same fusion (in code, min-max weighted,
or weighted RRF or DBSF in the engine), so ``assistant eval retrieval`` measures one ranking in
both modes.

The client is the transport seam: ``ServerStore.connect(url)`` talks to a server; the tests
hand in a qdrant-client local-mode client, which speaks the same API (no server runs here).

Versions, as Edge keeps them: the configured name (``qdrant.collection``) is a Qdrant alias for
one concrete collection, ``<name>__v000001`` and on. An ingestion copies the live version into
the next, writes and re-weights there, and moves the alias in one call, so searches never see
half an ingestion; one answer reads one version (``pinned``), and the version before stays for
an answer that pinned it a moment earlier. A collection made under the name itself (before
versions) becomes the first version at the next ingestion.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np

from knowledge import bm25
from knowledge.bm25 import CHARS, TERMS, bm25_query, split_terms
from knowledge.errors import KnowledgeError
from knowledge.filters import Condition, filter_groups
from knowledge.fusion import weighted
from knowledge.models import SearchFilters

DENSE = "dense"
VERSION_MARK = "__v"  # <alias>__v000001: the versions behind one alias
KEYWORDS = ("law_zh", "law", "level", "lang", "doc_class")
ServerFusion = Literal["code", "rrf", "dbsf"]


def build_filter(filters: SearchFilters | None) -> Any:
    """SearchFilters as a Qdrant filter, evaluated by the server on its payload indexes."""
    from qdrant_client import models as m

    groups = filter_groups(filters)
    if not groups:
        return None

    def one(c: Condition) -> Any:
        if c.kind == "any":
            return m.FieldCondition(key=c.key, match=m.MatchAny(any=list(c.values)))
        if c.kind == "substring":  # the category's full-text index
            return m.FieldCondition(key=c.key, match=m.MatchText(text=c.values[0]))
        return m.FieldCondition(key=c.key, range=m.Range(gte=c.gte, lte=c.lte))

    must = [one(g[0]) if len(g) == 1 else m.Filter(should=[one(c) for c in g]) for g in groups]
    return m.Filter(must=must)


def collection_layout(client: Any, collection: str) -> tuple[int | None, list[str]]:
    """An existing collection's dense size and sparse vector names."""
    params = client.get_collection(collection).config.params
    vectors = params.vectors
    size = vectors[DENSE].size if isinstance(vectors, dict) and DENSE in vectors else None
    return size, sorted(params.sparse_vectors or {})


class ServerStore:
    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        fusion: ServerFusion = "code",
        char_weight: float = 0.5,
        rrf_k: int = 60,
        keep_versions: int = 2,
    ) -> None:
        self._client = client
        self.collection = collection  # the alias searches read through
        self.fusion = fusion
        self.char_weight = char_weight
        self._rrf_k = rrf_k
        self._keep = max(2, keep_versions)
        self._lock = threading.Lock()
        self._batch_owner: int | None = None
        self._changed = False
        self._totals: list[int] | None = None  # docs, terms length, chars length
        self._base: str | None = None  # the version the running batch started from
        self._staging: str | None = None  # the version it writes
        # The version pinned by the running search or answer; a context variable, so that it
        # reaches the threads LangGraph runs an answer's nodes on (as in EdgeStore).
        self._pin: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            f"qdrant-server-pin-{id(self)}", default=None
        )

    @classmethod
    def connect(
        cls,
        url: str,
        collection: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        **options: Any,
    ) -> ServerStore:
        try:
            from qdrant_client import QdrantClient
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise KnowledgeError("qdrant-client 未安裝 / qdrant-client is not installed") from exc
        client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout_s))
        return cls(client, collection, **options)

    @property
    def engine_fusion(self) -> bool:
        return self.fusion != "code"

    def close(self) -> None:
        self._client.close()

    # ---- versions -----------------------------------------------------------------------

    def _live(self) -> str | None:
        """The collection the alias points to now (the name itself for a collection made before
        versions; None: nothing ingested)."""
        for a in self._client.get_aliases().aliases:
            if a.alias_name == self.collection:
                return str(a.collection_name)
        return self.collection if self._client.collection_exists(self.collection) else None

    def _read(self) -> str | None:
        return self._pin.get() or self._live()

    @property
    def version(self) -> str | None:
        """The version searches now see (the pinned one inside ``pinned``)."""
        return self._read()

    @contextlib.contextmanager
    def pinned(self) -> Iterator[str | None]:
        """The version one search (or one answer: every search inside it) reads, start to end,
        while an ingestion moves the alias meanwhile."""
        held = self._pin.get()
        if held is not None:
            yield held
            return
        live = self._live()
        token = self._pin.set(live)
        try:
            yield live
        finally:
            try:
                self._pin.reset(token)
            except ValueError:  # a generator closed from another context: unpin here
                self._pin.set(None)

    def versions(self) -> list[str]:
        """The concrete collections behind the alias, oldest first."""
        mark = self.collection + VERSION_MARK
        names = [c.name for c in self._client.get_collections().collections]
        return sorted(n for n in names if n.startswith(mark) and n[len(mark) :].isdigit())

    def _next_name(self) -> str:
        have = self.versions()
        number = int(have[-1][len(self.collection) + len(VERSION_MARK) :]) + 1 if have else 1
        return f"{self.collection}{VERSION_MARK}{number:06d}"

    def exists(self) -> bool:
        return self._read() is not None

    def _check_layout(self, collection: str, dim: int | None) -> int:
        size, sparse = collection_layout(self._client, collection)
        if (dim is not None and size != dim) or set(sparse) != set(bm25.FIELDS) or size is None:
            raise KnowledgeError(
                f"集合 {self.collection} 的結構與目前版本不同（向量維度 {size}，模型 {dim}）/ "
                f"the collection was built with another embedding model or layout; ingest "
                f"into a new collection (qdrant.collection)"
            )
        return size

    def ensure_collection(self, dim: int) -> None:
        """Inside an ingestion: its new version, made now. Outside: the live one is checked."""
        if self._batch_owner == threading.get_ident():
            self._stage(dim)
        elif (live := self._live()) is not None:
            self._check_layout(live, dim)

    def _create(self, name: str, dim: int) -> None:
        from qdrant_client import models as m

        self._client.create_collection(
            name,
            vectors_config={DENSE: m.VectorParams(size=dim, distance=m.Distance.COSINE)},
            sparse_vectors_config={
                n: m.SparseVectorParams(modifier=m.Modifier.IDF) for n in bm25.FIELDS
            },
        )
        indexes = [(key, m.PayloadSchemaType.KEYWORD) for key in KEYWORDS]
        indexes += [
            ("category", m.PayloadSchemaType.TEXT),
            ("amended_int", m.PayloadSchemaType.INTEGER),
        ]
        with warnings.catch_warnings():
            # qdrant-client's local mode (the tests' transport) ignores payload indexes and says so.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for key, schema in indexes:
                self._client.create_payload_index(name, key, schema)

    def _stage(self, dim: int | None) -> str | None:
        """The running batch's version: the live one copied into a new collection on the first
        write (None: nothing to write into, a delete before anything was ingested)."""
        if self._staging is not None:
            return self._staging
        base = self._base
        if base is None and dim is None:
            return None
        size = self._check_layout(base, dim) if base is not None else dim
        assert size is not None
        name = self._next_name()
        try:
            self._create(name, size)
        except Exception as exc:
            if self._client.collection_exists(name):  # another process made it first
                raise KnowledgeError(
                    f"另一個匯入正在寫入 {name}，請待其完成後再匯入 / another ingestion is writing "
                    f"{name}: ingest again when it has finished"
                ) from exc
            raise
        self._staging = name  # from here on, a failure drops it
        if base is not None:
            self._copy(base, name)
        return name

    def _copy(self, source: str, target: str, page: int = 256) -> None:
        from qdrant_client import models as m

        offset = None
        while True:
            points, offset = self._client.scroll(
                source, offset=offset, limit=page, with_payload=True, with_vectors=True
            )
            if points:
                self._client.upsert(
                    target,
                    points=[
                        m.PointStruct(id=p.id, vector=p.vector, payload=p.payload) for p in points
                    ],
                    wait=True,
                )
            if offset is None:
                return

    def _publish(self, staging: str, base: str | None) -> None:
        """Move the alias to ``staging`` in one call; drop versions beyond the last ``keep``."""
        from qdrant_client import models as m

        # No lock spans processes on a server: an ingestion that published since this one began
        # would be undone by moving the alias now, so this one is refused instead.
        if (live := self._live()) != base:
            raise KnowledgeError(
                f"匯入期間另一個匯入已發布 {live}，本次未發布，請重新匯入 / another ingestion "
                f"published {live} meanwhile: this one was not published; ingest again"
            )
        ops: list[Any] = []
        if base == self.collection:
            # A collection made under the name itself, before versions: the name becomes the
            # alias (its contents were copied into the first version).
            self._client.delete_collection(self.collection)
        elif base is not None:
            ops.append(
                m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=self.collection))
            )
        ops.append(
            m.CreateAliasOperation(
                create_alias=m.CreateAlias(collection_name=staging, alias_name=self.collection)
            )
        )
        self._client.update_collection_aliases(change_aliases_operations=ops)
        for old in self.versions()[: -self._keep]:
            self._client.delete_collection(old)

    # ---- writing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One ingestion's writes, into a new version published at the end (the average field
        lengths counted again and what they moved weighted again first); searches keep reading
        the live version meanwhile. Nested calls in the same thread join the batch."""
        if self._batch_owner == threading.get_ident():
            yield
            return
        with self._lock:
            self._batch_owner = threading.get_ident()
            self._changed = False
            self._totals = None
            self._base, self._staging = self._live(), None
            published = False
            try:
                yield
                if self._changed and self._staging is not None:
                    self._reweight()
                    self._publish(self._staging, self._base)
                    published = True
            finally:
                if self._staging is not None and not published:
                    self._client.delete_collection(self._staging)
                self._batch_owner = None
                self._totals = None
                self._base = self._staging = None

    def _stored(self) -> dict[str, list[float]]:
        fields = [bm25.BM25_LEN, bm25.BM25_AVG]
        return bm25.stored_lengths(
            lambda offset: self._client.scroll(
                self._staging, offset=offset, limit=2048, with_payload=fields, with_vectors=False
            )
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

        if not ids:
            return
        with self.batch():
            target = self._stage(int(vectors.shape[1]))
            if self._totals is None:
                stored = self._stored()
                avgs = bm25.averages(stored)
                self._totals = [
                    len(stored),
                    round(avgs[0] * len(stored)),
                    round(avgs[1] * len(stored)),
                ]
            n_terms, n_chars = bm25.lengths(tokens)
            t = self._totals
            t[0], t[1], t[2] = t[0] + len(ids), t[1] + n_terms, t[2] + n_chars
            avgs = (t[1] / t[0], t[2] / t[0])
            for start in range(0, len(ids), batch):
                points = []
                for i in range(start, min(start + batch, len(ids))):
                    sparse, extra = bm25.document(tokens[i], avgs)
                    vector: dict[str, Any] = {DENSE: vectors[i].tolist()}
                    vector.update(
                        {n: m.SparseVector(indices=ix, values=vs) for n, (ix, vs) in sparse.items()}
                    )
                    points.append(
                        m.PointStruct(id=ids[i], vector=vector, payload={**payloads[i], **extra})
                    )
                self._client.upsert(target, points=points, wait=True)
            self._changed = True

    def _reweight(self) -> int:
        from qdrant_client import models as m

        def fetch(ids: list[str]) -> list[Any]:
            return self._client.retrieve(
                self._staging, ids=ids, with_payload=False, with_vectors=list(bm25.FIELDS)
            )

        def write(
            updates: list[tuple[Any, dict[str, bm25.Sparse]]], ids: list[str], now: Any
        ) -> None:
            points = [
                m.PointVectors(
                    id=pid,
                    vector={
                        n: m.SparseVector(indices=ix, values=vs) for n, (ix, vs) in new.items()
                    },
                )
                for pid, new in updates
            ]
            if points:
                self._client.update_vectors(self._staging, points=points, wait=True)
            self._client.set_payload(
                self._staging, payload={bm25.BM25_AVG: list(now)}, points=ids, wait=True
            )

        return bm25.reweight(self._stored(), fetch, write)

    def delete(self, ids: Sequence[str]) -> None:
        from qdrant_client import models as m

        if not ids:
            return
        with self.batch():
            target = self._stage(None)
            if target is None:
                return
            self._client.delete(target, points_selector=m.PointIdsList(points=list(ids)))
            self._changed = True

    # ---- reading ------------------------------------------------------------------------

    def count(self) -> int:
        name = self._read()
        return self._client.count(name).count if name is not None else 0

    def payloads(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        name = self._read()
        if not ids or name is None:
            return {}
        records = self._client.retrieve(name, ids=list(ids), with_payload=True)
        return {str(r.id): dict(r.payload or {}) for r in records}

    def doc_classes(self) -> set[str]:
        name = self._read()
        if name is None:
            return set()
        facet = self._client.facet(name, key="doc_class", limit=100, exact=True)
        return {str(h.value) for h in facet.hits}

    def _query(self, **request: Any) -> list[tuple[str, float]]:
        name = self._read()
        if name is None:
            return []
        res = self._client.query_points(name, with_payload=False, **request)
        return [(str(p.id), float(p.score)) for p in res.points]

    @staticmethod
    def _sparse_vector(terms: Sequence[str]) -> Any:
        from qdrant_client import models as m

        idx, val = bm25_query(terms)
        return m.SparseVector(indices=idx, values=val)

    def dense(
        self, vector: np.ndarray, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        return self._query(
            query=vector.tolist(), using=DENSE, query_filter=build_filter(filters), limit=limit
        )

    def _lexical_prefetches(
        self, terms: list[str], chars: list[str], flt: Any, n: int
    ) -> list[tuple[Any, float]]:
        """(prefetch, its weight within the lexical side) for each field the query has."""
        from qdrant_client import models as m

        out = []
        if terms:
            query = self._sparse_vector(terms)
            out.append(
                (m.Prefetch(query=query, using=TERMS, filter=flt, limit=n), 1.0 - self.char_weight)
            )
        if chars and self.char_weight > 0:
            query = self._sparse_vector(chars)
            out.append(
                (m.Prefetch(query=query, using=CHARS, filter=flt, limit=n), self.char_weight)
            )
        return out

    def _fusion(self, weights: list[float]) -> Any:
        from qdrant_client import models as m

        if self.fusion == "dbsf":
            return m.FusionQuery(fusion=m.Fusion.DBSF)
        return m.RrfQuery(rrf=m.Rrf(k=self._rrf_k, weights=weights))

    def sparse(
        self, tokens: Sequence[str], filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        """Both lexical fields, fused in code (min-max, char_weight) or in the engine."""
        terms, chars = split_terms(tokens)
        flt = build_filter(filters)
        pre = self._lexical_prefetches(terms, chars, flt, limit)
        if not pre:
            return []
        if self.fusion == "code" or len(pre) == 1:
            ranked = [
                (self._query(query=p.query, using=p.using, query_filter=flt, limit=limit), w)
                for p, w in pre
            ]
            if len(ranked) == 1:
                return ranked[0][0][:limit]
            return weighted(ranked)[:limit]
        fusion = self._fusion([w for _, w in pre])
        return self._query(prefetch=[p for p, _ in pre], query=fusion, limit=limit)

    def fused(
        self,
        vector: np.ndarray,
        tokens: Sequence[str],
        filters: SearchFilters | None,
        limit: int,
        candidates: int,
        dense_weight: float = 0.5,
    ) -> list[tuple[str, float]]:
        """Dense and both lexical fields prefetched and fused by the engine."""
        from qdrant_client import models as m

        terms, chars = split_terms(tokens)
        flt = build_filter(filters)
        dense = m.Prefetch(query=vector.tolist(), using=DENSE, filter=flt, limit=candidates)
        lexical = self._lexical_prefetches(terms, chars, flt, candidates)
        if self.fusion == "dbsf":
            # DBSF takes no weights: the lexical fields are fused first, then with dense.
            prefetches = [p for p, _ in lexical]
            inner = (
                prefetches[0]
                if len(prefetches) == 1
                else m.Prefetch(
                    prefetch=prefetches, query=m.FusionQuery(fusion=m.Fusion.DBSF), limit=candidates
                )
            )
            pre = [dense, inner] if lexical else [dense]
            return self._query(prefetch=pre, query=m.FusionQuery(fusion=m.Fusion.DBSF), limit=limit)
        pre = [dense, *(p for p, _ in lexical)]
        weights = [dense_weight, *((1.0 - dense_weight) * w for _, w in lexical)]
        rrf = m.RrfQuery(rrf=m.Rrf(k=self._rrf_k, weights=weights))
        return self._query(prefetch=pre, query=rrf, limit=limit)
