"""BM25 as sparse vectors: the one weighting of the lexical side, for Qdrant Edge and a server.

A point carries two sparse vectors with Qdrant's IDF modifier (the engine multiplies in IDF):

- ``terms``: the analyzer's terms (jieba words, character bigrams, single-character runs,
  lexicon words);
- ``chars``: single Chinese characters (the analyzer's ``#`` tokens).

Their values are BM25's term-frequency part, normalised by the field's length against the
average over the whole collection. That average moves as files are ingested, so each point
keeps in its payload its field lengths (``_bm25_len``) and the averages it was weighted with
(``_bm25_avg``); at the end of an ingestion the store counts the average again and weights
again, from the stored values, the points whose average has moved. A corpus ingested file by
file then ranks as one ingested at once.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

TERMS = "terms"
CHARS = "chars"
FIELDS = (TERMS, CHARS)
BM25_LEN = "_bm25_len"
BM25_AVG = "_bm25_avg"
# A relative move of the average below this changes no ranking we could measure and is left.
REWEIGHT_TOLERANCE = 0.005
K1 = 1.2
B = 0.75

Sparse = tuple[list[int], list[float]]
# point id -> [terms length, chars length, terms average, chars average]
Stored = Mapping[str, Sequence[float]]


def term_id(term: str) -> int:
    """Stable id of a lexical term (every store hashes the same way)."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def split_terms(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """The analyzer's token list (terms, then characters marked ``#``) as the two fields."""
    terms = [t for t in tokens if not t.startswith("#")]
    chars = [t[1:] for t in tokens if t.startswith("#") and len(t) > 1]
    return terms, chars


def _norm(length: float, avgdl: float, k1: float, b: float) -> float:
    return k1 * (1 - b + b * length / max(avgdl, 1.0))


def bm25_doc(terms: Sequence[str], avgdl: float, k1: float = K1, b: float = B) -> Sparse:
    """BM25's term-frequency part with length normalisation; the engine multiplies in IDF."""
    counts = Counter(term_id(t) for t in terms)
    norm = _norm(len(terms), avgdl, k1, b)
    idx = sorted(counts)
    return idx, [counts[i] * (k1 + 1) / (counts[i] + norm) for i in idx]


def bm25_query(terms: Sequence[str], weight: float = 1.0) -> Sparse:
    """A repeated query term counts again, as in bm25s."""
    counts = Counter(term_id(t) for t in terms)
    idx = sorted(counts)
    return idx, [weight * counts[i] for i in idx]


def document(
    tokens: Sequence[str], averages: tuple[float, float], k1: float = K1, b: float = B
) -> tuple[dict[str, Sparse], dict[str, list[float]]]:
    """One chunk's sparse vectors (fields it has words in) and the payload the re-weighting
    reads later."""
    terms, chars = split_terms(tokens)
    vectors = {
        name: bm25_doc(words, avg, k1, b)
        for name, words, avg in ((TERMS, terms, averages[0]), (CHARS, chars, averages[1]))
        if words
    }
    return vectors, {BM25_LEN: [len(terms), len(chars)], BM25_AVG: list(averages)}


def lengths(tokens: Sequence[Sequence[str]]) -> tuple[int, int]:
    """Total field lengths of a batch of chunks."""
    fields = [split_terms(t) for t in tokens]
    return sum(len(f[0]) for f in fields), sum(len(f[1]) for f in fields)


def stored_entry(payload: Mapping[str, object] | None) -> list[float] | None:
    """A point's lengths and averages from its payload (absent on points written before they
    were kept: those keep their weights until the next full ingestion)."""
    if not payload or BM25_LEN not in payload or BM25_AVG not in payload:
        return None
    return [*payload[BM25_LEN], *payload[BM25_AVG]]  # type: ignore[misc]


def averages(stored: Stored) -> tuple[float, float]:
    docs = len(stored) or 1
    return (
        sum(e[0] for e in stored.values()) / docs,
        sum(e[1] for e in stored.values()) / docs,
    )


def stale(stored: Stored, now: tuple[float, float]) -> list[str]:
    """Points weighted with averages that have moved by more than the tolerance."""

    def moved(old: float, new: float) -> bool:
        return abs(old - new) > REWEIGHT_TOLERANCE * max(new, 1.0)

    return [pid for pid, e in stored.items() if moved(e[2], now[0]) or moved(e[3], now[1])]


def reweighted(
    values: Sequence[float],
    length: float,
    old_avg: float,
    new_avg: float,
    k1: float = K1,
    b: float = B,
) -> list[float]:
    """Stored weights again under a new average: the term counts behind them are recovered
    exactly (the weighting is invertible for a known length), then weighted anew."""
    old, new = _norm(length, old_avg, k1, b), _norm(length, new_avg, k1, b)
    counts = [max(1, round(v * old / max(k1 + 1 - v, 1e-9))) for v in values]
    return [c * (k1 + 1) / (c + new) for c in counts]


def reweight_vectors(
    vectors: Mapping[str, Sparse], entry: Sequence[float], now: tuple[float, float]
) -> dict[str, Sparse]:
    """A point's sparse vectors, given as (indices, values) per field, under new averages."""
    out: dict[str, Sparse] = {}
    for i, name in enumerate(FIELDS):
        sv = vectors.get(name)
        if sv is None or not sv[0]:
            continue
        out[name] = (list(sv[0]), reweighted(sv[1], entry[i], entry[2 + i], now[i]))
    return out


def stored_lengths(scroll: Callable[[Any], tuple[Iterable[Any], Any]]) -> dict[str, list[float]]:
    """Every point's lengths and averages, paging with ``scroll(offset) -> (records, next)``
    (each engine's scroll over the payload fields ``BM25_LEN`` and ``BM25_AVG``)."""
    out: dict[str, list[float]] = {}
    offset = None
    while True:
        records, offset = scroll(offset)
        for r in records:
            entry = stored_entry(r.payload)
            if entry is not None:
                out[str(r.id)] = entry
        if offset is None:
            return out


def reweight(
    stored: Stored,
    fetch: Callable[[list[str]], Iterable[Any]],
    write: Callable[[list[tuple[Any, dict[str, Sparse]]], list[str], tuple[float, float]], None],
    batch: int = 512,
) -> int:
    """Weight again, under the averages counted now, every point weighted with averages that
    have moved: ``fetch(ids)`` returns the engine's records with their sparse vectors (``.id``,
    ``.vector`` by field name, each with ``.indices`` and ``.values``); ``write(updates, ids,
    averages)`` stores the new vectors and records the averages on ``ids``. Returns how many."""
    if not stored:
        return 0
    now = averages(stored)
    todo = stale(stored, now)
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        updates = []
        for r in fetch(chunk):
            have = {
                name: (list(sv.indices), list(sv.values))
                for name, sv in (r.vector or {}).items()
                if name in FIELDS
            }
            new = reweight_vectors(have, stored[str(r.id)], now)
            if new:
                updates.append((r.id, new))
        write(updates, chunk, now)
    return len(todo)
