"""The compliance agent: search → (rewrite → search, when the first search is weak) → compose.

At most two model calls: one rewrite, one answer. Without a model there is no rewrite (the
retriever's own lexicon already widens the question; a second search on the terms the first one
missed measured worse on the unseen questions) and the answer quotes the articles found,
marked as composed.

Wiring only: the nodes are in ``nodes.py``, the tool in ``tools.py``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agents.compliance import nodes
from agents.compliance.state import ComplianceInput, ComplianceOutput, ComplianceState
from agents.compliance.tools import SEARCH_REGULATIONS
from agents.context import RunContext
from agents.registry import AgentSpec


def build() -> Any:
    g = StateGraph(
        ComplianceState,
        context_schema=RunContext,
        input_schema=ComplianceInput,
        output_schema=ComplianceOutput,
    )
    g.add_node("search", nodes.search)
    g.add_node("rewrite", nodes.rewrite)
    g.add_node("compose", nodes.compose)
    g.add_edge(START, "search")
    g.add_conditional_edges(
        "search", nodes.after_search, {"rewrite": "rewrite", "compose": "compose"}
    )
    g.add_conditional_edges(
        "rewrite", nodes.after_rewrite, {"search": "search", "compose": "compose"}
    )
    g.add_edge("compose", END)
    return g.compile()


SPEC = AgentSpec(
    name="compliance",
    title_zh="法遵助理",
    title_en="Compliance",
    keywords=(
        "法",
        "條例",
        "辦法",
        "規定",
        "條文",
        "第",
        "條",
        "主管機關",
        "罰",
        "申報",
        "洗錢",
        "法遵",
        "合規",
        "規範",
        "應",
        "得否",
        "可否",
        "regulation",
        "act",
        "article",
        "law",
        "comply",
        "compliance",
        "penalty",
    ),
    examples=(
        "銀行法對利害關係人授信有什麼限制？",
        "疑似洗錢交易要向哪個機關申報？期限多久？",
        "個人資料保護法對蒐集客戶資料有什麼規定？",
        "What does the Banking Act say about loans to related parties?",
    ),
    build=build,
    tools=(SEARCH_REGULATIONS,),
)
