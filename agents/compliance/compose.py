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


# A question about what is allowed, a first clause that allows without a negation, and articles
# that forbid: a small model gets the direction wrong (Qwen2.5-Coder-0.5B answered 「可以」 to
# whether staff may take a customer's commission, over 銀行法 §35's 「不得」).
_ASKS_ZH = re.compile(r"可以|可不可以|能不能|能否|可否|是否可|是否得|得否|准不准|允不允許")
_ASKS_EN = re.compile(r"^\s*(?:can|may|could|is it (?:allowed|permitted|legal))\b", re.IGNORECASE)
_ALLOWS_ZH = re.compile(r"^\s*是|可以|得以|允許|准許|能夠")
_NEGATES_ZH = re.compile(r"[不無未非禁否毋]")
_ALLOWS_EN = re.compile(r"^\s*(?:yes\b|\w+(?: \w+)? (?:can|may)\b)", re.IGNORECASE)
_NEGATES_EN = re.compile(r"\b(?:not|no|never|cannot|prohibit\w*)\b|n't", re.IGNORECASE)
_FORBIDS_ZH = ("不得", "禁止", "不可", "不能")
_FORBIDS_EN = ("shall not", "may not", "must not", "prohibit")
_FIRST_CLAUSE = re.compile(r"[。，,.;；！!？?\n]")
CONFLICT_ZH = (
    "⚠ 所依條文有「不得」或「禁止」的規定，與上面「可以」的說法可能不一致，請以條文原文為準。"
)
CONFLICT_EN = (
    '⚠ The articles this rests on say what may not be done; the "yes" above may contradict '
    "them: rely on the articles' own text."
)


def permission_conflict(
    question: str, answer: str, excerpts: list[tuple[str, str]], english: bool
) -> str:
    """A warning to put under a model's answer that allows what the articles it rests on (the
    first, and any its first clause cites) forbid; "" when there is nothing to say. Code cannot
    read the law's exceptions (「不得…但…得」), so it warns and never rewrites."""
    first = _FIRST_CLAUSE.split(answer.strip(), maxsplit=1)[0]
    if english:
        asks = _ASKS_EN.search(question)
        allows = _ALLOWS_EN.search(first) and not _NEGATES_EN.search(first)
        words = _FORBIDS_EN
    else:
        asks = _ASKS_ZH.search(question)
        allows = _ALLOWS_ZH.search(first) and not _NEGATES_ZH.search(first)
        words = _FORBIDS_ZH
    if not (asks and allows and excerpts):
        return ""
    resting = [excerpts[0]] + [e for e in excerpts[1:] if f"〔{e[0]}〕" in answer.split("。")[0]]
    forbids = any(w in text.lower() for _, text in resting for w in words)
    return (CONFLICT_EN if english else CONFLICT_ZH) if forbids else ""
