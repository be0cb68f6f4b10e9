"""The credit agent: understand → work (extract, ratios, draft) → review (a person) → compose.

Only roles with the credit agent reach it (the route node checks the role in code). Every figure
comes from the credit desk, called with the run's user: the statements are read from the
uploaded PDF, ratios are computed in code with the page of each input, and the 5P memo is
drafted with the lending rules chosen in code and quoted from the knowledge base. Nothing is
final until a person decides: after drafting, the ``review`` node pauses the graph with the
credit review contract's interrupt (maker-checker, ``agents.interrupts``); the analyst approves,
approves an edited text or rejects with a note, and the run resumes with
``Command(resume=decision)``. The desk records the decision as ``credit.approve`` /
``credit.reject``; the turn itself is audited by the top graph's audit node as usual.

A question about the lending rules without a report to work on (「利害關係人授信有什麼限制？」)
is answered from the regulations, as the compliance agent would.

The shape: ``state`` (the agent's data and its review contract), ``prompts`` (what it says),
``tools`` (desk calls), ``nodes`` (module-level ``(state, runtime)`` functions), and this wiring.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agents.compliance.tools import SEARCH_REGULATIONS
from agents.context import RunContext
from agents.credit.nodes import after_work, compose, review, understand, work
from agents.credit.state import CREDIT_REVIEW, CreditInput, CreditOutput, CreditState
from agents.credit.tools import TOOLS
from agents.registry import AgentSpec


def build() -> Any:
    """The compiled subgraph. Its nodes read the shared dependencies from each run's context
    (``RunContext.deps``), so nothing is captured here."""
    g = StateGraph(
        CreditState,
        context_schema=RunContext,
        input_schema=CreditInput,
        output_schema=CreditOutput,
    )
    g.add_node("understand", understand)
    g.add_node("work", work)
    g.add_node("review", review)
    g.add_node("compose", compose)
    g.add_edge(START, "understand")
    g.add_edge("understand", "work")
    g.add_conditional_edges("work", after_work, ["review", "compose"])
    g.add_edge("review", "compose")
    g.add_edge("compose", END)
    return g.compile()


SPEC = AgentSpec(
    name="credit",
    title_zh="徵信助理",
    title_en="Credit analysis",
    # Words of a credit analyst's work on a borrower, not of the rules about lending: a plain
    # 「銀行對利害關係人辦理無擔保授信有什麼限制？」 stays the compliance agent's (every role).
    keywords=(
        "徵信",
        "財報",
        "財務報表",
        "報表",
        "申請額度",
        "週轉金",
        "授信案",
        "授信申請",
        "5P",
        "credit memo",
        "financial statements",
        "financial report",
    ),
    examples=(
        "幫我做徵信分析草稿，申請額度 5000 萬，短期營運週轉金，一年期，無擔保",
        "用剛剛那份報表再算一次",
        "Draft a credit memo from this financial report, NT$50 million working capital",
    ),
    build=build,
    tools=(SEARCH_REGULATIONS, *TOOLS),
    review=CREDIT_REVIEW,
)
