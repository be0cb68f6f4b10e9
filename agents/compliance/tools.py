"""The compliance agent's one tool: search the regulation knowledge base as the calling user,
through the compliance desk, which applies the role's document classes whatever the model or
the question asks for."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import Field

from agents.tools import Tool, ToolArgs
from assistant.errors import AuthError
from assistant.permissions import UserContext
from knowledge.articles import article_url
from knowledge.models import Hit, SearchFilters

if TYPE_CHECKING:
    from agents.context import RunContext
    from assistant.desks.compliance import ComplianceDesk


class SearchArgs(ToolArgs):
    query: str = Field(min_length=1)
    k: int = Field(5, ge=1, le=50)


def _search(ctx: RunContext, args: SearchArgs) -> list[dict[str, Any]]:
    hits = ctx.services.compliance.search(ctx.user, args.query, k=args.k)
    return [_as_dict(h) for h in hits]


def _described(hits: list[dict[str, Any]]) -> str:
    return f"{len(hits)} 條 / articles" + (f"; 最相關 / best: {hits[0]['label']}" if hits else "")


SEARCH_REGULATIONS: Tool[SearchArgs, list[dict[str, Any]]] = Tool(
    name="search_regulations",
    operation="compliance.search",
    summary_zh="檢索法規與內規條文（依角色可讀的文件類別）",
    summary_en="Search the regulations and internal policies the role may read",
    args=SearchArgs,
    run=_search,
    describe=_described,
)


def search_regulations(
    desk: ComplianceDesk, user: UserContext, query: str, k: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Hits as plain dicts (they go into the checkpoint), and the tool call for the audit, with
    the document classes searched: a search is recorded with what it could see."""
    tool = SEARCH_REGULATIONS
    if not user.may(tool.operation):
        raise AuthError(
            f"你的角色（{user.role}）不能檢索法規 / your role may not search the regulations"
        )
    started = time.perf_counter()
    filters = SearchFilters(doc_classes=sorted(user.doc_classes))
    hits = [_as_dict(h) for h in desk.search(user, query, k=k, filters=filters)]
    call = {
        "name": tool.name,
        "args": {"query": query, "k": k, "doc_classes": filters.doc_classes},
        "summary": _described(hits),
        "seconds": round(time.perf_counter() - started, 4),
        "ok": True,
    }
    return hits, call


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
