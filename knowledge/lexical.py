"""The embedded lexical index: BM25 (bm25s, sparse matrices in numpy) over two fields, the
analyzer's terms (words and bigrams) and single characters, fused by a weight the eval chose.

Built from the catalog's cached terms after each ingestion that changed something, written to
a fresh folder and swapped in, so a reader never sees half an index.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from knowledge.analyzer import Analyzer
from knowledge.catalog import StoredChunk
from knowledge.fusion import weighted
from knowledge.models import SearchFilters

_META_KEYS = ("law_zh", "law", "level", "lang", "doc_class", "category")


class LexicalIndex:
    def __init__(
        self, path: Path, char_weight: float = 0.5, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self._path = path
        self.char_weight = char_weight
        self._k1 = k1
        self._b = b
        self._lock = threading.Lock()
        self._retriever = None
        self._chars = None
        self._ids: list[str] = []
        self._meta: dict[str, np.ndarray] = {}
        self._amended = np.zeros(0, dtype=np.int64)
        self._version: str | None = None

    @property
    def current(self) -> Path:
        return self._path / "current"

    def rebuild(self, chunks: Iterable[StoredChunk]) -> int:
        import bm25s

        ids: list[str] = []
        corpus: list[list[str]] = []
        char_corpus: list[list[str]] = []
        meta: dict[str, list[str]] = {k: [] for k in _META_KEYS}
        amended: list[int] = []
        for c in chunks:
            ids.append(c.id)
            corpus.append(c.tokens)
            p = c.payload
            char_corpus.append(
                Analyzer.chars(f"{p.get('law', '')} {p.get('chapter', '')} {p['text']}")
            )
            for k in _META_KEYS:
                meta[k].append(str(c.payload.get(k) or ""))
            amended.append(int(c.payload.get("amended_int") or 0))
        staging = self._path / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if ids:
            fields = [("bm25", corpus)]
            if any(char_corpus):  # an English-only corpus has no characters to index
                fields.append(("chars", char_corpus))
            for name, docs in fields:
                model = bm25s.BM25(k1=self._k1, b=self._b, method="lucene")
                model.index(docs, show_progress=False)
                model.save(str(staging / name), show_progress=False)
        (staging / "docs.json").write_text(
            json.dumps({"ids": ids, "meta": meta, "amended": amended}, ensure_ascii=False),
            encoding="utf-8",
        )
        old = self._path / "old"
        shutil.rmtree(old, ignore_errors=True)
        if self.current.exists():
            self.current.rename(old)
        staging.rename(self.current)
        shutil.rmtree(old, ignore_errors=True)
        with self._lock:
            self._retriever = self._chars = None  # reload on next search
        return len(ids)

    def _ensure_loaded(self) -> bool:
        with self._lock:
            if self._retriever is not None:
                return True
            docs = self.current / "docs.json"
            if not docs.exists():
                return False
            import bm25s

            data = json.loads(docs.read_text(encoding="utf-8"))
            self._ids = data["ids"]
            if not self._ids:
                return False
            self._meta = {k: np.array(v, dtype=object) for k, v in data["meta"].items()}
            self._amended = np.array(data["amended"], dtype=np.int64)
            self._retriever = bm25s.BM25.load(str(self.current / "bm25"), show_progress=False)
            chars = self.current / "chars"
            self._chars = (
                bm25s.BM25.load(str(chars), show_progress=False) if chars.exists() else None
            )
            return True

    def __len__(self) -> int:
        return len(self._ids) if self._ensure_loaded() else 0

    def doc_classes(self) -> set[str]:
        """Document classes present in the index."""
        return set(self._meta["doc_class"]) if self._ensure_loaded() else set()

    def _mask(self, f: SearchFilters | None) -> np.ndarray | None:
        if f is None:
            return None
        mask = np.ones(len(self._ids), dtype=bool)
        if f.laws:
            laws = set(f.laws)
            mask &= np.isin(self._meta["law_zh"], list(laws)) | np.isin(
                self._meta["law"], list(laws)
            )
        if f.levels:
            mask &= np.isin(self._meta["level"], f.levels)
        if f.langs:
            mask &= np.isin(self._meta["lang"], f.langs)
        if f.doc_classes is not None:
            mask &= np.isin(self._meta["doc_class"], f.doc_classes)
        if f.categories:
            cats = f.categories
            mask &= np.array([any(c in v for c in cats) for v in self._meta["category"]])
        if f.amended_from:
            mask &= self._amended >= int(f.amended_from.replace("-", ""))
        if f.amended_to:
            mask &= self._amended <= int(f.amended_to.replace("-", ""))
        return mask

    def search(
        self,
        terms: Sequence[str],
        chars: Sequence[str],
        filters: SearchFilters | None,
        limit: int,
    ) -> list[tuple[str, float]]:
        if not (terms or chars) or not self._ensure_loaded():
            return []
        mask = self._mask(filters)
        term_top = self._top(self._retriever, terms, mask, limit)
        if not chars or self.char_weight <= 0 or self._chars is None:
            return [(self._ids[i], s) for i, s in term_top]
        char_top = self._top(self._chars, chars, mask, limit)
        fused = weighted(
            [
                ([(self._ids[i], s) for i, s in term_top], 1.0 - self.char_weight),
                ([(self._ids[i], s) for i, s in char_top], self.char_weight),
            ]
        )
        return fused[:limit]

    @staticmethod
    def _top(
        model, query: Sequence[str], mask: np.ndarray | None, limit: int
    ) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
        if not query:
            return []
        scores = model.get_scores(list(query))
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        n = min(limit, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
