"""The fraud agent: understand → investigate (trace, score) → compose.

Only fraud investigators reach it (the route node checks the role in code, the desk again).
Every figure comes from the fraud desk; the answer names the transfers by id so it can be used
as evidence, and the traces travel with the answer (``Answer.data``) for the UI to draw.

Wiring only: the nodes are in ``nodes.py``, the tools in ``tools.py``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agents.compliance.tools import SEARCH_REGULATIONS
from agents.context import RunContext
from agents.fraud import nodes
from agents.fraud.state import FraudInput, FraudOutput, FraudState
from agents.fraud.tools import TOOLS
from agents.registry import AgentSpec


def build() -> Any:
    g = StateGraph(
        FraudState, context_schema=RunContext, input_schema=FraudInput, output_schema=FraudOutput
    )
    g.add_node("understand", nodes.understand)
    g.add_node("investigate", nodes.investigate)
    g.add_node("compose", nodes.compose)
    g.add_edge(START, "understand")
    g.add_edge("understand", "investigate")
    g.add_edge("investigate", "compose")
    g.add_edge("compose", END)
    return g.compile()


SPEC = AgentSpec(
    name="fraud",
    title_zh="防詐助理",
    title_en="Fraud investigation",
    # Words of an investigation, not of the rules about fraud (「警示帳戶的期限」 is compliance's).
    keywords=(
        "金流",
        "追查",
        "水房",
        "人頭帳戶",
        "車手",
        "前期金流",
        "追蹤",
        "資金流向",
        "上游",
        "下游",
        # 「往下追兩層」「往上追 3 層」: how investigators ask for a trace
        "往下追",
        "往上追",
        "向下追",
        "向上追",
        "trace",
        "mule",
        "money flow",
        # 「這個帳戶的同夥有哪些？」: the ring around an account
        "同夥",
        "共犯",
        "accomplices",
        # the investigator's decisions (proposed here, confirmed by a person)
        "列為警示",
        "標記為警示",
        "設為警示",
        "列為衍生管制",
        "標記為衍生管制",
        "證據",  # 「匯出…的證據」: 匯出 alone is also the FX desk's outward remittance
        "flag account",
        "export the evidence",
        # 「目前風險最高的帳戶是哪些？」「這個帳戶的風險分數」: the mule scores
        "風險分數",
        "人頭分數",
        "risk score",
        "mule score",
        "風險最高",
        "最可疑",
        "highest risk",
        "riskiest",
    ),
    examples=(
        "追查帳戶 0123-456-789012 近 7 天的前三層金流",
        "這個帳戶像水房嗎？",
        "帳戶 0123-456-789012 的同夥有哪些？",
        "Trace where the money of account 822015930000107 went, 2 hops",
    ),
    build=build,
    tools=(SEARCH_REGULATIONS, *TOOLS),
)
