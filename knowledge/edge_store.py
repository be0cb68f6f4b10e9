"""Qdrant Edge adapter: the Qdrant engine in-process, a shard in the data folder.

Same interface and collection layout as ``ServerStore`` (a Qdrant server): a dense vector and
the lexical side as two BM25-weighted sparse vectors with the IDF modifier (``terms``, what the
bm25s ``bm25`` field held, and ``chars``, single Chinese characters).

The weighting, and its re-weighting when the average field length moves, is
``knowledge.bm25``'s, shared with the Qdrant server adapter.

Payload filters are evaluated in the engine on payload indexes. Fusion of the two lexical
fields and of the dense side happens in code (``fusion="code"``: min-max weighted, exactly as
the bm25s path) or in the engine (``"rrf"`` weighted, or ``"dbsf"``), per the eval.

Ingest while serving: a shard folder is opened by one writer at a time, so every change is
written into a new version (a copy of the current one, changed, flushed, optimised) and then
published by replacing ``current.json`` atomically. Readers re-read the pointer before each
search and pin one version for the whole search, so a search sees the old or the new articles,
never a mix. Versions are shards without a write-ahead log: a published version is never
written again, and several processes (``assistant serve``, ``assistant ask``) can read it at
once; its durability comes from the flush before it is published.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from knowledge import bm25
from knowledge.bm25 import CHARS, TERMS, bm25_query, split_terms
from knowledge.errors import KnowledgeError
from knowledge.filters import Condition, filter_groups
from knowledge.fusion import weighted
from knowledge.models import SearchFilters

DENSE = "dense"
POINTER = "current.json"
_VERSION = re.compile(r"^v(\d{6})$")
EdgeFusion = Literal["code", "rrf", "dbsf"]
KEYWORDS = ("law_zh", "law", "level", "lang", "doc_class", "category")


def _edge() -> Any:
    try:
        import qdrant_edge
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise KnowledgeError(
            "qdrant-edge-py 未安裝 / qdrant-edge-py is not installed: pip install qdrant-edge-py"
        ) from exc
    return qdrant_edge


def build_filter(filters: SearchFilters | None) -> Any:
    """SearchFilters as an engine filter, evaluated on the payload indexes."""
    groups = filter_groups(filters)
    if not groups:
        return None
    qe = _edge()

    def one(c: Condition) -> Any:
        if c.kind == "any":
            return qe.FieldCondition(key=c.key, match=qe.MatchAny(list(c.values)))
        if c.kind == "substring":
            return qe.FieldCondition(key=c.key, match=qe.MatchSubstring(c.values[0]))
        return qe.FieldCondition(key=c.key, range=qe.RangeFloat(gte=c.gte, lte=c.lte))

    must = [one(g[0]) if len(g) == 1 else qe.Filter(should=[one(c) for c in g]) for g in groups]
    return qe.Filter(must=must)


@dataclass
class _Version:
    """One published shard, shared by the searches pinned to it."""

    name: str
    shard: Any
    users: int = 0
    retired: bool = False


@dataclass
class _Writer:
    path: Path
    meta: dict[str, Any]
    shard: Any = None
    changed: bool = False
    lock: Any = field(default=None, repr=False)


class EdgeStore:
    def __init__(
        self,
        path: Path,
        *,
        fusion: EdgeFusion = "code",
        char_weight: float = 0.5,
        rrf_k: int = 60,
        keep_versions: int = 2,
    ) -> None:
        _edge()
        self.path = path
        self.fusion = fusion
        self.char_weight = char_weight
        self._rrf_k = rrf_k
        self._keep = max(2, keep_versions)
        self._lock = threading.Lock()
        # The version pinned by the running search or answer. A context variable, not a
        # thread-local: LangGraph runs an answer's nodes on its own worker threads with a copy of
        # the caller's context, so a pin taken around the whole answer reaches every node.
        self._pin: contextvars.ContextVar[_Version | None] = contextvars.ContextVar(
            f"edge-pin-{id(self)}", default=None
        )
        self._current: _Version | None = None
        self._pointer_stamp: tuple[int, int] | None = None
        self._writer: _Writer | None = None
        self._writer_thread: int | None = None
        self._write_lock = threading.Lock()

    # ---- versions -----------------------------------------------------------------------

    @property
    def engine_fusion(self) -> bool:
        return self.fusion != "code"

    def _read_pointer(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / POINTER).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def _refresh(self) -> _Version | None:
        """The published version, reloaded when the pointer changed (a stat per search)."""
        try:
            st = os.stat(self.path / POINTER)
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._pointer_stamp and (self._current is not None or stamp is None):
                return self._current
            meta = self._read_pointer()
            if meta is None:
                return None
            if self._current is None or self._current.name != meta["version"]:
                shard = _edge().EdgeShard.load(str(self.path / meta["version"]))
                old, self._current = self._current, _Version(meta["version"], shard)
                if old is not None:
                    old.retired = True
                    if old.users == 0:
                        old.shard.close()
            self._pointer_stamp = stamp
            return self._current

    @property
    def version(self) -> str | None:
        """Name of the version searches now see (``None``: nothing published yet)."""
        v = self._refresh()
        return v.name if v else None

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Any]:
        """The shard one search (or one answer: every search inside it, on any thread that
        runs with a copy of this context) reads from, start to end."""
        held = self._pin.get()
        if held is not None:
            yield held.shard
            return
        v = self._refresh()
        if v is None:
            yield None
            return
        with self._lock:
            v.users += 1
        token = self._pin.set(v)
        try:
            yield v.shard
        finally:
            try:
                self._pin.reset(token)
            except ValueError:  # a generator closed from another context: unpin here
                self._pin.set(None)
            with self._lock:
                v.users -= 1
                if v.retired and v.users == 0:
                    v.shard.close()

    def _versions(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if _VERSION.match(p.name))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One ingestion's writes, built into a new version and published at the end. One
        writer at a time (a lock file); readers keep searching the published version."""
        if self._writer is not None and self._writer_thread == threading.get_ident():
            yield  # nested in this thread's batch
            return
        # One batch per process at a time (a lock), then one per data dir (a lock file).
        with self._write_lock, self._locked_batch():
            yield

    @contextlib.contextmanager
    def _locked_batch(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = open(self.path / "ingest.lock", "w")  # noqa: SIM115 - held across the batch
        fcntl.flock(lock, fcntl.LOCK_EX)
        self._writer_thread = threading.get_ident()
        meta = self._read_pointer()
        names = self._versions()
        number = int(names[-1][1:]) + 1 if names else 1
        staging = self.path / f"v{number:06d}"
        shutil.rmtree(staging, ignore_errors=True)
        writer = _Writer(staging, dict(meta or {}), lock=lock)
        if meta is not None:
            # The published version is never written again: copy it and change the copy.
            shutil.copytree(self.path / meta["version"], staging)
            writer.shard = _edge().EdgeShard.load(str(staging))
        self._writer = writer
        try:
            yield
            if writer.shard is not None and writer.changed:
                self._reweight(writer)
                writer.shard.flush()
                writer.shard.optimize()
                writer.shard.flush()
                writer.shard.close()
                writer.shard = None
                self._publish(staging.name, writer.meta)
        finally:
            self._writer = None
            self._writer_thread = None
            if writer.shard is not None:
                writer.shard.close()
            if self._read_pointer_name() != staging.name:  # not published: nothing to keep
                shutil.rmtree(staging, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def _read_pointer_name(self) -> str | None:
        meta = self._read_pointer()
        return meta["version"] if meta else None

    def _publish(self, name: str, meta: dict[str, Any]) -> None:
        meta = {**meta, "version": name}
        tmp = self.path / f"{POINTER}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / POINTER)  # the switch: atomic on one filesystem
        # Old versions go; the one before stays for a reader that pinned it a moment ago.
        for old in self._versions()[: -self._keep]:
            shutil.rmtree(self.path / old, ignore_errors=True)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[_Writer]:
        with self.batch():
            assert self._writer is not None
            yield self._writer

    # ---- the VectorStore interface --------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._current is not None and self._current.users == 0:
                self._current.shard.close()
            self._current = None
            self._pointer_stamp = None

    def exists(self) -> bool:
        return self._read_pointer() is not None

    def ensure_collection(self, dim: int) -> None:
        qe = _edge()
        meta = self._read_pointer() if self._writer is None else self._writer.meta
        if meta and meta.get("dim"):
            if meta["dim"] != dim:
                raise KnowledgeError(
                    f"向量庫的向量維度是 {meta['dim']}，模型是 {dim} / the store was built with "
                    f"another embedding model; re-ingest into a new data directory"
                )
            return
        with self._writing() as w:
            if w.shard is not None:
                return
            sparse = {
                name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf) for name in (TERMS, CHARS)
            }
            config = qe.EdgeConfig(
                vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
                sparse_vectors=sparse,
                wal_enabled=False,
            )
            w.shard = qe.EdgeShard.create(str(w.path), config)
            for key in KEYWORDS:
                w.shard.update(
                    qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword)
                )
            w.shard.update(
                qe.UpdateOperation.create_field_index("amended_int", qe.PayloadSchemaType.Integer)
            )
            w.meta.update(dim=dim, docs=0, terms_len=0, chars_len=0)
            w.changed = True

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        payloads: Sequence[dict[str, Any]],
        tokens: Sequence[Sequence[str]],
        batch: int = 512,
    ) -> None:
        if not ids:
            return
        qe = _edge()
        with self._writing() as w:
            if w.shard is None:
                self.ensure_collection(int(vectors.shape[1]))
            # Weighted with the average as it will be with this batch; the batch's end counts
            # it exactly and weights again what moved.
            n_terms, n_chars = bm25.lengths(tokens)
            docs = w.meta.get("docs", 0) + len(ids)
            w.meta.update(
                docs=docs,
                terms_len=w.meta.get("terms_len", 0) + n_terms,
                chars_len=w.meta.get("chars_len", 0) + n_chars,
            )
            avgs = (w.meta["terms_len"] / docs, w.meta["chars_len"] / docs)
            for start in range(0, len(ids), batch):
                points = []
                for i in range(start, min(start + batch, len(ids))):
                    sparse, extra = bm25.document(tokens[i], avgs)
                    vector: dict[str, Any] = {DENSE: vectors[i].tolist()}
                    vector.update({n: qe.SparseVector(*sv) for n, sv in sparse.items()})
                    points.append(qe.Point(ids[i], vector, {**payloads[i], **extra}))
                w.shard.update(qe.UpdateOperation.upsert_points(points))
            w.changed = True

    def _stored(self, shard: Any) -> dict[str, list[float]]:
        """Every point's field lengths and the averages it was weighted with."""
        qe = _edge()
        fields = [bm25.BM25_LEN, bm25.BM25_AVG]
        return bm25.stored_lengths(
            lambda offset: shard.scroll(
                qe.ScrollRequest(offset=offset, limit=2048, with_payload=fields, with_vector=False)
            )
        )

    def _reweight(self, w: _Writer) -> int:
        """Count the average field lengths exactly and weight again the points weighted with an
        average that has moved; returns how many were weighted again."""
        qe = _edge()
        stored = self._stored(w.shard)
        if stored:
            # A deleted or replaced article leaves the running totals; the exact count replaces
            # them.
            now = bm25.averages(stored)
            n = len(stored)
            w.meta.update(docs=n, terms_len=round(now[0] * n), chars_len=round(now[1] * n))

        def write(
            updates: list[tuple[Any, dict[str, bm25.Sparse]]], ids: list[str], now: Any
        ) -> None:
            vectors = [
                qe.PointVectors(pid, {n: qe.SparseVector(*sv) for n, sv in new.items()})
                for pid, new in updates
            ]
            if vectors:
                w.shard.update(qe.UpdateOperation.update_vectors(vectors))
            w.shard.update(qe.UpdateOperation.set_payload(ids, {bm25.BM25_AVG: list(now)}))

        return bm25.reweight(
            stored, lambda ids: w.shard.retrieve(ids, False, [TERMS, CHARS]), write
        )

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        qe = _edge()
        with self._writing() as w:
            if w.shard is None:
                return
            w.shard.update(qe.UpdateOperation.delete_points(list(ids)))
            w.changed = True

    def count(self) -> int:
        with self.pinned() as shard:
            return 0 if shard is None else int(shard.count(_edge().CountRequest(exact=True)))

    def payloads(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Payloads as the pinned version holds them, so a search's hits come from one version."""
        with self.pinned() as shard:
            if shard is None or not ids:
                return {}
            records = shard.retrieve(list(ids), True, False)
            return {str(r.id): dict(r.payload or {}) for r in records}

    def doc_classes(self) -> set[str]:
        with self.pinned() as shard:
            if shard is None:
                return set()
            facet = shard.facet(_edge().FacetRequest(key="doc_class", limit=100, exact=True))
            return {str(h.value) for h in facet.hits}

    # ---- queries --------------------------------------------------------------------------

    def _run(self, request: Any) -> list[tuple[str, float]]:
        with self.pinned() as shard:
            if shard is None:
                return []
            return [(str(p.id), float(p.score)) for p in shard.query(request)]

    def _sparse_query(self, name: str, terms: Sequence[str]) -> Any:
        idx, val = bm25_query(terms)
        return _edge().Query.Nearest(_edge().SparseVector(idx, val), using=name)

    def dense(
        self, vector: np.ndarray, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        qe = _edge()
        return self._run(
            qe.QueryRequest(
                limit=limit,
                query=qe.Query.Nearest(vector.tolist(), using=DENSE),
                filter=build_filter(filters),
                with_payload=False,
            )
        )

    def _lexical_prefetches(
        self, terms: list[str], chars: list[str], flt: Any, n: int
    ) -> list[tuple[Any, float]]:
        """(prefetch, its weight within the lexical side) for each field the query has."""
        qe = _edge()
        out = []
        if terms:
            query = self._sparse_query(TERMS, terms)
            out.append((qe.Prefetch(limit=n, query=query, filter=flt), 1.0 - self.char_weight))
        if chars and self.char_weight > 0:
            query = self._sparse_query(CHARS, chars)
            out.append((qe.Prefetch(limit=n, query=query, filter=flt), self.char_weight))
        return out

    def _fusion(self, weights: list[float]) -> Any:
        qe = _edge()
        if self.fusion == "dbsf":
            return qe.Fusion.Dbsf()
        return qe.Fusion.Rrf(k=self._rrf_k, weights=weights)

    def sparse(
        self, tokens: Sequence[str], filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        """Both lexical fields, fused in code (min-max, char_weight) or in the engine."""
        qe = _edge()
        terms, chars = split_terms(tokens)
        flt = build_filter(filters)
        if self.fusion == "code":
            with self.pinned() as shard:
                if shard is None:
                    return []
                reqs = [
                    qe.QueryRequest(limit=limit, query=self._sparse_query(name, words), filter=flt)
                    for name, words in ((TERMS, terms), (CHARS, chars))
                    if words and (name == TERMS or self.char_weight > 0)
                ]
                if not reqs:
                    return []
                results = shard.query_batch(qe.QueryBatchRequest(reqs))
            ranked = [[(str(p.id), float(p.score)) for p in r] for r in results]
            if len(ranked) == 1:
                return ranked[0][:limit]
            fused = weighted([(ranked[0], 1.0 - self.char_weight), (ranked[1], self.char_weight)])
            return fused[:limit]
        pre = self._lexical_prefetches(terms, chars, flt, limit)
        if not pre:
            return []
        if len(pre) == 1:
            return self._run(qe.QueryRequest(limit=limit, query=pre[0][0].query, filter=flt))
        fusion = self._fusion([w for _, w in pre])
        return self._run(qe.QueryRequest(limit=limit, prefetches=[p for p, _ in pre], query=fusion))

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
        qe = _edge()
        terms, chars = split_terms(tokens)
        flt = build_filter(filters)
        dense = qe.Prefetch(
            limit=candidates, query=qe.Query.Nearest(vector.tolist(), using=DENSE), filter=flt
        )
        lexical = self._lexical_prefetches(terms, chars, flt, candidates)
        if self.fusion == "dbsf":
            # DBSF takes no weights: the lexical fields are fused first, then with dense.
            prefetches = [p for p, _ in lexical]
            inner = (
                prefetches[0]
                if len(prefetches) == 1
                else qe.Prefetch(limit=candidates, prefetches=prefetches, query=qe.Fusion.Dbsf())
            )
            pre = [dense, inner] if lexical else [dense]
            return self._run(qe.QueryRequest(limit=limit, prefetches=pre, query=qe.Fusion.Dbsf()))
        pre = [dense, *(p for p, _ in lexical)]
        weights = [dense_weight, *((1.0 - dense_weight) * w for _, w in lexical)]
        rrf = qe.Fusion.Rrf(k=self._rrf_k, weights=weights)
        return self._run(qe.QueryRequest(limit=limit, prefetches=pre, query=rrf))
