"""Hybrid retrieval over the regulation corpus.

Pipeline: analyse the question (language, laws and articles it names, statutory words for its
everyday wording) → articles it names exactly come first → dense and lexical candidates, fused
→ candidates from the laws it names are lifted → one hit per article, best first.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from knowledge.analyzer import Analyzer
from knowledge.catalog import Catalog
from knowledge.edge_store import EdgeStore
from knowledge.embedder import Embedder
from knowledge.errors import IndexNotReady, SearchError
from knowledge.fusion import min_max, rrf, weighted
from knowledge.lexical import LexicalIndex
from knowledge.lexicon import OTHER_SECTORS
from knowledge.models import Hit, SearchFilters
from knowledge.query import AnalysedQuery, QueryAnalyser
from knowledge.server_store import ServerStore
from knowledge.vectorstore import QdrantStore

_FORMAL = re.compile(r"^the\s+|\s+of\s+the\s+republic\s+of\s+china\b", re.IGNORECASE)
Mode = Literal["hybrid", "dense", "sparse"]
Ranked = list[tuple[str, float]]

# How far a candidate from a law the question names is lifted, on the fused 0–1 scale.
NAMED_LAW_LIFT = 0.5
EXACT_ARTICLE_SCORE = 10.0


class Retriever:
    def __init__(
        self,
        catalog: Catalog,
        store: QdrantStore | EdgeStore | ServerStore,
        lexical: LexicalIndex | None,
        embedder: Embedder,
        analyzer: Analyzer,
        *,
        fusion: Literal["weighted", "rrf"] = "weighted",
        dense_weight_zh: float = 0.0,
        dense_weight_en: float = 0.5,
        rrf_k: int = 60,
        candidates: int = 100,
        max_query_chars: int = 2000,
        act_prior: float = 0.0,
        sector_penalty: float = 0.0,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._lexical = lexical
        self._embedder = embedder
        self._analyzer = analyzer
        self.fusion = fusion
        self.dense_weight_zh = dense_weight_zh
        self.dense_weight_en = dense_weight_en
        self._rrf_k = rrf_k
        self._candidates = candidates
        self._max_chars = max_query_chars
        self.act_prior = act_prior
        self.sector_penalty = sector_penalty
        self._query_analyser: QueryAnalyser | None = None
        self._last_embedding: tuple[str, np.ndarray] | None = None
        self._lock = threading.Lock()
        # A store that fuses in code (Qdrant Edge with fusion "code") gets the same weighted
        # fusion as the bm25s path; a Qdrant server fuses in its query API.
        self._engine_fusion = lexical is None and getattr(store, "engine_fusion", True)
        self._store_version: str | None = None

    def refresh(self) -> None:
        """Forget what was read from the catalog (after an ingestion)."""
        with self._lock:
            self._query_analyser = None

    def _analyser(self) -> QueryAnalyser:
        with self._lock:
            if self._query_analyser is None:
                names: dict[str, str] = {}
                for law_zh, law, lang in self._catalog.law_names():
                    names[law_zh] = law_zh
                    if lang == "en" and law != law_zh:
                        names[law] = law_zh
                        # Staff drop the formalities: "Banking Act", not "The Banking Act of
                        # The Republic of China".
                        short = _FORMAL.sub("", law).strip()
                        names.setdefault(short, law_zh)
                self._analyzer.add_words(n for n in names if not n.isascii())
                self._query_analyser = QueryAnalyser(self._analyzer, names)
            return self._query_analyser

    def analyse(self, question: str) -> AnalysedQuery:
        return self._analyser().analyse(question)

    def search(
        self,
        question: str,
        k: int = 5,
        filters: SearchFilters | None = None,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        question = (question or "").strip()
        if not question:
            raise SearchError("問題是空的 / the question is empty")
        if len(question) > self._max_chars:
            raise SearchError(
                f"問題過長（{len(question)} 字，上限 {self._max_chars}）/ question too long"
            )
        if k < 1:
            raise SearchError("k 必須至少為 1 / k must be at least 1")
        # One version of the store for the whole search: an ingestion publishing meanwhile is
        # seen by the next search, never half by this one.
        with self.pinned():
            return self._search(question, k, filters, mode)

    def absent_articles(self, q: AnalysedQuery) -> list[tuple[str, str]]:
        """Articles the question names by number in the one law it names that the law does not
        have (a typo, a repealed number, 「銀行法第100條之1」): said, instead of answering with
        other articles as if they were the one asked for."""
        if len(q.laws) != 1 or not q.articles:
            return []
        law = q.laws[0]
        found = {a for a in q.articles if self._catalog.find([law], [a])}
        return [(law, a) for a in q.articles if a not in found]

    def english_name(self, law_zh: str) -> str:
        """The law's English name where the English text is indexed, else its Chinese name."""
        names = [
            own for zh, own, lang in self._catalog.law_names() if zh == law_zh and lang == "en"
        ]
        return names[0] if names else law_zh

    def pinned(self) -> contextlib.AbstractContextManager[Any]:
        """One version of the store for everything inside (an answer's searches, its rewrite's
        second search included), where the store keeps versions (Qdrant Edge); elsewhere
        nothing to pin."""
        pin = getattr(self._store, "pinned", None)
        return pin() if pin is not None else contextlib.nullcontext()

    def _search(
        self, question: str, k: int, filters: SearchFilters | None, mode: Mode
    ) -> list[Hit]:
        version = getattr(self._store, "version", None)
        if version != self._store_version:
            # Another process published an ingestion: law names may have changed.
            self._store_version = version
            self.refresh()
        q = self.analyse(question)
        filters = self._without_vacuous_classes(filters)
        scored = self._candidates_for(q, filters, mode, self._candidates)
        if q.laws and not (filters and filters.laws):
            # The question names a law: search inside it too, and lift what is found there.
            inside = SearchFilters(**{**(filters.model_dump() if filters else {}), "laws": q.laws})
            within = replace(q, tokens=q.inner_tokens or q.tokens, chars=q.inner_chars or q.chars)
            # In local mode Qdrant evaluates payload filters in Python (~0.5 s over the corpus),
            # so inside a named law the lexical side alone decides, which the eval supports.
            sparse_inside = self._lexical is not None or not self._engine_fusion
            inner_mode: Mode = "sparse" if mode == "hybrid" and sparse_inside else mode
            inner = self._candidates_for(within, inside, inner_mode, self._candidates // 2)
            for cid, s in inner.items():
                scored[cid] = max(scored.get(cid, 0.0), s) + NAMED_LAW_LIFT
        exact = self._exact(q, filters)
        for cid in exact:
            scored[cid] = EXACT_ARTICLE_SCORE + scored.get(cid, 0.0)
        if not scored and self._catalog.count() == 0:
            # Checked only when nothing was found, to keep a count off every search.
            raise IndexNotReady(
                "知識庫是空的，請先執行 `assistant ingest laws` / nothing is indexed yet: "
                "run `assistant ingest laws PATH` first"
            )
        return self._collapse(scored, k, "en" if q.english else "zh-TW", q.text)

    def _without_vacuous_classes(self, filters: SearchFilters | None) -> SearchFilters | None:
        """Drop a document-class filter that admits every class in the index: in local mode
        Qdrant applies payload filters in Python, which costs ~0.3 s a search for nothing."""
        if filters is None or filters.doc_classes is None or self._lexical is None:
            return filters
        if not self._lexical.doc_classes() <= set(filters.doc_classes):
            return filters
        rest = filters.model_copy(update={"doc_classes": None})
        return rest if rest.model_dump(exclude_none=True) else None

    def _candidates_for(
        self, q: AnalysedQuery, filters: SearchFilters | None, mode: Mode, n: int
    ) -> dict[str, float]:
        """Candidate id → score on a 0–1 scale (fused for hybrid)."""
        w_dense = self.dense_weight_en if q.english else self.dense_weight_zh
        if mode == "hybrid" and w_dense == 0.0:
            # The eval shows the dense side adds only noise here; skip its cost as well.
            return dict(min_max(self._sparse(q, filters, n)))
        dense = self._dense(q, filters, n) if mode in ("hybrid", "dense") else []
        if mode == "dense":
            return dict(min_max(dense))
        sparse = self._sparse(q, filters, n)
        if mode == "sparse":
            return dict(min_max(sparse))
        if self._engine_fusion and self.fusion != "rrf":
            # On a Qdrant server (or Edge set to fuse in the engine), fusion happens in Qdrant.
            vec = self._embed(q.text)
            fused = self._store.fused(vec, _server_terms(q), filters, n, n, dense_weight=w_dense)
            return dict(min_max(fused))
        if self.fusion == "rrf":
            return dict(min_max(rrf([dense, sparse], k=self._rrf_k)))
        return dict(weighted([(dense, w_dense), (sparse, 1.0 - w_dense)]))

    def _embed(self, text: str) -> np.ndarray:
        # A question is embedded once, however many searches it takes.
        cached = self._last_embedding
        if cached is not None and cached[0] == text:
            return cached[1]
        vector = self._embedder.embed([text], kind="query")[0]
        self._last_embedding = (text, vector)
        return vector

    def _dense(self, q: AnalysedQuery, filters: SearchFilters | None, n: int) -> Ranked:
        return self._store.dense(self._embed(q.text), filters, n)

    def _sparse(self, q: AnalysedQuery, filters: SearchFilters | None, n: int) -> Ranked:
        if self._lexical is not None:
            return self._lexical.search(q.tokens, q.chars, filters, n)
        return self._store.sparse(_server_terms(q), filters, n)

    def _exact(self, q: AnalysedQuery, filters: SearchFilters | None) -> list[str]:
        if not (q.laws and q.articles):
            return []
        if len(q.laws) > 1 and q.pairs and all(law for law, _ in q.pairs):
            ids = [i for law, a in q.pairs if law for i in self._catalog.find([law], [a])]
        else:
            ids = self._catalog.find(q.laws, q.articles)
        if filters is None:
            return ids
        allowed = set(self._filter_ids(ids, filters))
        return [i for i in ids if i in allowed]

    def _payloads(self, ids: Sequence[str]) -> dict[str, dict[str, object]]:
        """From the store's pinned version when it keeps them (Edge), else from the catalog."""
        from_store = getattr(self._store, "payloads", None)
        return from_store(ids) if from_store is not None else self._catalog.get(ids)

    def _filter_ids(self, ids: Sequence[str], filters: SearchFilters) -> list[str]:
        payloads = self._payloads(ids)
        return [i for i, p in payloads.items() if _passes(p, filters)]

    def _collapse(
        self, scored: dict[str, float], k: int, prefer_lang: str, question: str = ""
    ) -> list[Hit]:
        """One hit per article (law, article number), in the question's language where the
        article is held in it, carrying the best score of any of its parts in any language: the
        Chinese article and its English translation are one source, not two of the five."""
        order = sorted(scored.items(), key=lambda kv: -kv[1])[: max(60, 8 * k)]
        payloads = self._payloads([cid for cid, _ in order])
        best: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        for cid, s in order:
            p = payloads.get(cid)
            if p is None:
                continue  # deleted between search and fetch
            key = (p["law_zh"], p["article"] or cid)
            # An act (法律) outranks the regulations made under it when both match about as
            # well: they repeat its words, but the act is what is cited.
            bonus = self.act_prior if p.get("level") == "法律" else 0.0
            if _other_sector(p["law_zh"], question):
                bonus -= self.sector_penalty
            held = best.get(key)
            if held is None:
                best[key] = (s + bonus, p)
            elif held[1].get("lang") != prefer_lang and p.get("lang") == prefer_lang:
                best[key] = (held[0], p)  # the best score, shown in the question's language
        hits = [Hit.from_payload(p, score) for score, p in best.values()]
        hits.sort(key=lambda h: (-h.score, h.lang != prefer_lang))
        return hits[:k]


@functools.cache
def _sector_of(law: str) -> tuple[str, ...] | None:
    for name_words, question_words in OTHER_SECTORS:
        if any(w in law for w in name_words):
            return question_words
    return None


def _other_sector(law: str, question: str) -> bool:
    """A regulation for another industry, asked about by a question that does not name it."""
    words = _sector_of(law)
    return words is not None and not any(w in question for w in words)


def _server_terms(q: AnalysedQuery) -> list[str]:
    return q.tokens + [f"#{ch}" for ch in q.chars]


def _passes(p: dict[str, object], f: SearchFilters) -> bool:
    def within(value: object, allowed: list[str] | None) -> bool:
        return allowed is None or value in allowed

    if f.laws and p.get("law_zh") not in f.laws and p.get("law") not in f.laws:
        return False
    if not (within(p.get("level"), f.levels) and within(p.get("lang"), f.langs)):
        return False
    if f.doc_classes is not None and p.get("doc_class") not in f.doc_classes:
        return False
    if f.categories and not any(c in str(p.get("category", "")) for c in f.categories):
        return False
    amended = int(p.get("amended_int") or 0)  # type: ignore[call-overload]
    if f.amended_from and amended < int(f.amended_from.replace("-", "")):
        return False
    return not (f.amended_to and amended > int(f.amended_to.replace("-", "")))
