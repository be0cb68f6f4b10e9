"""The compliance desk: the regulation knowledge base searched as the calling user.

The user's role decides which document classes a search may return (internal policies,
confidential letters), whatever the question or a model asks for.
"""

from __future__ import annotations

from assistant.desks.base import AuditTrail, Desk
from assistant.llm.script import normalise_question
from assistant.permissions import UserContext
from knowledge.models import Hit, SearchFilters
from knowledge.search import Mode, Retriever


class ComplianceDesk(Desk):
    area = "compliance"

    def __init__(self, retriever: Retriever, audit: AuditTrail) -> None:
        super().__init__(audit)
        self._retriever = retriever

    @property
    def retriever(self) -> Retriever:
        """For query analysis (terms, named laws), which reads no document."""
        return self._retriever

    def search(
        self,
        user: UserContext | None,
        query: str,
        k: int = 5,
        filters: SearchFilters | None = None,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        u = self.allow(user, "compliance.search")
        allowed = sorted(u.doc_classes)
        wanted = (filters.doc_classes if filters else None) or allowed
        classes = [c for c in wanted if c in allowed]
        if not classes:  # asked only for classes the role may not read
            return []
        scoped = (filters or SearchFilters()).model_copy(update={"doc_classes": classes})
        # The corpus is Taiwan Traditional: a query in Simplified is searched in Traditional.
        query = normalise_question(query)
        return self._retriever.search(query, k=k, filters=scoped, mode=mode)

    def lookup(
        self,
        user: UserContext | None,
        query: str,
        k: int = 5,
        filters: SearchFilters | None = None,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """A search asked directly on a channel (the command line), not inside an answer: the
        answer's own audit record lists what an agent searched, so only this path records the
        search itself, with the documents it returned."""
        hits = self.search(user, query, k=k, filters=filters, mode=mode)
        assert user is not None  # search() refused a missing user
        self.record(
            user,
            "compliance.search",
            {"query": query, "k": k, "doc_classes": filters.doc_classes if filters else None},
            "; ".join(f"{h.law} {h.article} ({h.doc_class})" for h in hits) or "no hits",
        )
        return hits
