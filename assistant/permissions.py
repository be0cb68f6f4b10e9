"""Who may do what, decided in code. The model never sees or decides a permission."""

from __future__ import annotations

from dataclasses import dataclass

# Each role's agents. Compliance and FX are open to every role: everyone works under the law,
# and board rates and declaration rules are public. Credit and fraud work reads customer data.
ROLE_AGENTS: dict[str, frozenset[str]] = {
    "admin": frozenset({"compliance", "fx", "credit", "fraud"}),
    "compliance": frozenset({"compliance", "fx"}),
    "credit": frozenset({"compliance", "fx", "credit"}),
    "fx": frozenset({"compliance", "fx"}),
    "fraud": frozenset({"compliance", "fx", "fraud"}),
    "auditor": frozenset({"compliance", "fx"}),
}

# Document classes a role may retrieve from (see `assistant ingest docs --doc-class`).
ROLE_DOC_CLASSES: dict[str, frozenset[str]] = {
    "admin": frozenset({"public", "internal", "confidential"}),
    "compliance": frozenset({"public", "internal", "confidential"}),
    "auditor": frozenset({"public", "internal", "confidential"}),
}
DEFAULT_DOC_CLASSES = frozenset({"public", "internal"})

ROLES = tuple(ROLE_AGENTS)

_EVERYONE = frozenset(ROLES)

# Each desk operation and the roles that may perform it: the one table the desks check, on
# every channel (chat, command line, page, HTTP API). Reading customer data (a ledger, a
# borrower's report, the audit trail) and taking a decision are the operations that matter;
# regulations and board rates are open to every role.
OPERATIONS: dict[str, frozenset[str]] = {
    "compliance.search": _EVERYONE,
    "fx.read": _EVERYONE,
    "fraud.read": frozenset({"admin", "fraud"}),  # traces, accounts, scores, proposals
    "fraud.propose": frozenset({"admin", "fraud"}),
    "fraud.decide": frozenset({"admin", "fraud"}),  # flag an account, export evidence
    "fraud.ledger": frozenset({"admin", "fraud"}),  # import, generate, train the scorer
    "fraud.monitor": frozenset({"admin", "fraud"}),  # score transfers as they arrive
    "fraud.rules": frozenset({"admin", "fraud"}),  # a new version of the monitor's rules
    "fraud.cleanroom": frozenset({"admin", "fraud"}),  # set intersection with a partner
    "credit.read": frozenset({"admin", "credit"}),  # statements, ratios, drafts, PD scores
    "credit.draft": frozenset({"admin", "credit"}),
    "credit.decide": frozenset({"admin", "credit"}),  # approve, edit, reject a memo
    "credit.train": frozenset({"admin", "credit"}),
    "audit.read": frozenset({"admin", "auditor"}),
    "audit.unmasked": frozenset({"admin", "auditor"}),  # customer identifiers as written
    "admin.switch": frozenset({"admin"}),
    "admin.logins": frozenset({"admin"}),
    "admin.evals": frozenset({"admin"}),  # model evaluation runs (the 管理 tab, /eval_runs)
    "admin.users": frozenset({"admin"}),
}


def may(role: str, operation: str) -> bool:
    """Whether ``role`` may perform ``operation``; an operation missing from the table is
    refused (a new desk method is closed until it is added here)."""
    return role in OPERATIONS.get(operation, frozenset())


@dataclass(frozen=True)
class UserContext:
    """The calling user, handed to the graph and from there to every tool."""

    name: str
    role: str
    user_id: int | None = None

    @property
    def agents(self) -> frozenset[str]:
        return ROLE_AGENTS.get(self.role, frozenset())

    @property
    def doc_classes(self) -> frozenset[str]:
        return ROLE_DOC_CLASSES.get(self.role, DEFAULT_DOC_CLASSES)

    def may_use(self, agent: str) -> bool:
        return agent in self.agents

    def may(self, operation: str) -> bool:
        return may(self.role, operation)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
