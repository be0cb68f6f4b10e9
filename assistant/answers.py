"""What the assistant hands back: the contract shared by the CLI, the UI and the evals.

Plain dataclasses so they serialise to JSON (``to_dict``) for ``assistant ask --json``, the
Gradio API and the audit trail alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class Citation:
    law: str
    article: str
    label: str  # 銀行法第32條: cited in the answer as 〔銀行法第32條〕
    chunk_id: str
    text: str = ""
    amended: str | None = None
    url: str | None = None
    lang: str = "zh-TW"


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any]
    summary: str = ""  # what came back, in a line: "5 articles, best 銀行法第45-2條"
    seconds: float = 0.0
    ok: bool = True


@dataclass
class Step:
    node: str  # guard, route, compliance.search, compliance.rewrite, answer, audit …
    detail: str
    seconds: float = 0.0


@dataclass
class Answer:
    answer: str
    agent: str
    citations: list[Citation] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    model: str = "none"
    generated: bool = False  # False: composed from retrieval and tools, not by a model
    no_basis: bool = False  # the corpus held nothing to answer from
    refused: str | None = None  # why the guard stopped the question, if it did
    conversation_id: str = ""
    audit_id: int | None = None
    route_method: str = ""  # keywords, similarity, model, only
    llm_calls: int = 0
    latency_ms: float = 0.0
    model_ms: float = 0.0  # of latency_ms, the time spent inside the model
    # From the question to the first piece of model text the reader sees; None without a model.
    first_token_ms: float | None = None
    dropped: list[str] = field(default_factory=list)  # what the citation filter took out
    thinking: str = ""  # a reasoning model's <think> text: for the trace, never the answer
    data: dict[str, Any] = field(default_factory=dict)  # what a UI panel draws (fraud traces)
    # A decision a person must take before the turn is final (the credit memo's sign-off):
    # {"kind": "credit_review", "draft_id", "actions": ["approve", "edit", "reject"], "docx",
    # "markdown", "error"}; None when nothing waits.
    pending: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Event:
    """One item of a streamed answer: a step done, a piece of answer text, or the whole answer."""

    kind: Literal["step", "token", "answer"]
    text: str = ""
    step: Step | None = None
    answer: Answer | None = None
