"""Deterministic parts of an answer: how well the hits cover the question, the answer composed
without a model, and the citations found in a model's answer."""

from __future__ import annotations

import re
from typing import Any

from agents.compliance.prompts import (
    COMPOSED_EN,
    COMPOSED_ZH,
    SOURCES_EN,
    SOURCES_ZH,
    WEAK_EN,
    WEAK_ZH,
)
from knowledge.analyzer import Analyzer
from knowledge.search import Retriever

EXCERPT_CHARS = 160
# What a model reads of each article: the sentences that hold the question's terms, enough to
# carry a condition and its exception.
MODEL_EXCERPT = 260
QUOTED = 3  # articles quoted in a composed answer; the rest are listed by label
_SENTENCE = re.compile(r"(?<=[。；;！？!?])|(?<=\.)\s+")


def key_terms(retriever: Retriever, question: str) -> set[str]:
    """The question's search terms, with the statutory words its everyday wording stands for
    (行員 → 職員): what an article must hold to be about the question."""
    return set(retriever.analyse(question).tokens)


def coverage(analyzer: Analyzer, terms: set[str], hit: dict[str, Any]) -> float:
    """Share of the question's terms that the article (with its law name) contains."""
    if not terms:
        return 0.0
    have = set(
        analyzer.tokens(f"{hit['title']} {hit['law']} {hit.get('chapter', '')} {hit['text']}")
    )
    return len(terms & have) / len(terms)


def excerpt(analyzer: Analyzer, terms: set[str], text: str, limit: int = EXCERPT_CHARS) -> str:
    """The sentences of an article that carry most of the question's terms, in their order."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if not sentences:
        return ""
    scored = sorted(
        range(len(sentences)),
        key=lambda i: (-len(terms & set(analyzer.tokens(sentences[i]))), i),
    )
    chosen: list[int] = []
    used = 0
    for i in scored:
        if used and used + len(sentences[i]) > limit:
            break
        chosen.append(i)
        used += len(sentences[i])
    out = "".join(
        sentences[i] if i == 0 or i - 1 in chosen else "…" + sentences[i] for i in sorted(chosen)
    )
    if len(out) > limit:
        out = out[:limit].rstrip() + "…"
    if max(chosen) < len(sentences) - 1:
        out += "…"
    return out


def compose_without_model(
    analyzer: Analyzer,
    terms: set[str],
    hits: list[dict[str, Any]],
    english: bool,
    weak: bool = False,
) -> str:
    lines = [COMPOSED_EN if english else COMPOSED_ZH, ""]
    if weak:
        lines[1:1] = [WEAK_EN if english else WEAK_ZH, ""]
    for n, h in enumerate(hits[:QUOTED], 1):
        amended = h.get("amended")
        if english:
            date = f" (amended {amended})" if amended else ""
        else:
            date = f"（修正日期 {amended}）" if amended else ""
        lines.append(f"{n}. 〔{h['label']}〕{date}")
        quote = " ".join(excerpt(analyzer, terms, h["text"]).split())
        if quote:
            lines.append(f"   「{quote}」" if not english else f'   "{quote}"')
    if hits[QUOTED:]:
        head = "See also: " if english else "其他相關條文："
        lines.append("\n" + head + "".join(f"〔{h['label']}〕" for h in hits[QUOTED:]))
    return "\n".join(lines)


def model_excerpts(
    analyzer: Analyzer, terms: set[str], hits: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """(label, the article's sentences that hold the question's terms) of each hit: what a
    model reads, numbered, instead of whole articles."""
    return [
        (h["label"], " ".join(excerpt(analyzer, terms, h["text"], MODEL_EXCERPT).split()))
        for h in hits
    ]


def sources_line(hits: list[dict[str, Any]], english: bool, dated: bool = False) -> str:
    head = SOURCES_EN if english else SOURCES_ZH
    return head + "".join(f"〔{h['label']}〕" + (_date(h, english) if dated else "") for h in hits)


def see_also_line(hits: list[dict[str, Any]], english: bool) -> str:
    head = "See also: " if english else "其他相關條文："
    return head + "".join(f"〔{h['label']}〕" for h in hits)


def _date(hit: dict[str, Any], english: bool) -> str:
    amended = hit.get("amended")
    if not amended:
        return ""
    return f" (amended {amended}) " if english else f"（修正日期 {amended}）"
