"""What the agents work with, built once by the composition root: the desks they call with the
user, and the shared plumbing (settings, telemetry, audit, conversations).

The agents reach customer data and decisions only through desks, which check the role and
write the audit record; no domain service is here except the credit service, which the credit
agent still uses until it moves to ``credit_desk``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the desks import their domains (sklearn, pypdf): typed, not loaded here
    from assistant.audit import AuditLog
    from assistant.conversations import ConversationStore
    from assistant.desks.compliance import ComplianceDesk
    from assistant.desks.credit import CreditDesk
    from assistant.desks.fraud import FraudDesk
    from assistant.desks.fx import FxDesk
    from assistant.desks.monitor import FraudMonitorDesk
    from assistant.settings import AgentSettings
    from assistant.telemetry import Telemetry
    from knowledge.analyzer import Analyzer
    from knowledge.embedder import Embedder
    from knowledge.search import Retriever


@dataclass(frozen=True)
class AgentDeps:
    compliance: ComplianceDesk
    analyzer: Analyzer
    telemetry: Telemetry
    settings: AgentSettings
    audit: AuditLog
    conversations: ConversationStore
    model_sha256: Callable[[], str]
    embedder: Embedder | None = None  # for the router's similarity to example questions
    fx: FxDesk | None = None
    fraud: FraudDesk | None = None
    fraud_monitor: FraudMonitorDesk | None = None  # the alert queue (「警示 #12 …」)
    credit_desk: CreditDesk | None = None

    @property
    def retriever(self) -> Retriever:
        """For query analysis only (key terms, named laws), which reads no document; searches
        go through :attr:`compliance`, which applies the role's document classes."""
        return self.compliance.retriever
