"""The compliance agent's one tool: search the regulation knowledge base as the calling user.

Permissions are applied here, in code: the user's role decides which document classes the
search may return, whatever the model asks for.
"""

from __future__ import annotations

import time
from typing import Any

from assistant.errors import AuthError
from assistant.permissions import UserContext
from knowledge.articles import article_url
from knowledge.models import Hit, SearchFilters
from knowledge.search import Retriever


def search_regulations(
    retriever: Retriever, user: UserContext, query: str, k: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Hits as plain dicts (they go into the checkpoint), and the tool call for the audit."""
    if not user.may_call("search_regulations"):
        raise AuthError(
            f"你的角色（{user.role}）不能檢索法規 / your role may not search the regulations"
        )
    started = time.perf_counter()
    filters = SearchFilters(doc_classes=sorted(user.doc_classes))
    hits = retriever.search(query, k=k, filters=filters)
    call = {
        "name": "search_regulations",
        "args": {"query": query, "k": k, "doc_classes": filters.doc_classes},
        "summary": (
            f"{len(hits)} 條 / articles" + (f"; 最相關 / best: {_label(hits[0])}" if hits else "")
        ),
        "seconds": round(time.perf_counter() - started, 4),
        "ok": True,
    }
    return [_as_dict(h) for h in hits], call


def _label(h: Hit) -> str:
    if h.lang == "en":
        return f"{h.title} Article {h.article}" if h.article else h.title
    return f"{h.law}第{h.article}條" if h.article else h.law


def _as_dict(h: Hit) -> dict[str, Any]:
    return {
        "chunk_id": h.chunk_id,
        "law": h.law,
        "title": h.title,
        "article": h.article,
        "label": _label(h),
        "text": h.text,
        "amended": h.amended,
        "url": article_url(h.url, h.article) if h.url else None,
        "lang": h.lang,
        "score": round(h.score, 4),
        "chapter": h.chapter,
    }
