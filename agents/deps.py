"""The services every agent may use, built once by the composition root and passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.audit import AuditLog
from assistant.conversations import ConversationStore
from assistant.settings import AgentSettings
from assistant.telemetry import Telemetry
from knowledge.analyzer import Analyzer
from knowledge.search import Retriever


@dataclass
class AgentDeps:
    retriever: Retriever
    analyzer: Analyzer
    telemetry: Telemetry
    settings: AgentSettings
    audit: AuditLog
    conversations: ConversationStore
    model_sha256: Callable[[], str]
    embedder: Any | None = None  # for the router's similarity to example questions
    fx: Any | None = None  # assistant.fx.service.FxService, for the FX agent
    fraud: Any | None = None  # assistant.fraud.service.FraudService, for the fraud agent
    fraud_actions: Any | None = None  # assistant.fraud.actions.ActionDesk: proposals only
    credit: Any | None = None  # assistant.credit.service.CreditService, for the credit agent
    credit_desk: Any | None = None  # assistant.desks.credit.CreditDesk: the credit agent's tools
