"""The FX agent: understand → compute (rate, convert, check) → compose.

Every number comes from the FX desk; the articles cited are the ones the rules rest on,
fetched from the knowledge base so the answer shows their text and amendment date. A question
with no amount (「個人每年結匯額度是多少？」) is answered from the FX regulations instead.

Wiring only: the nodes are in ``nodes.py``, the tools in ``tools.py``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agents.compliance.tools import SEARCH_REGULATIONS
from agents.context import RunContext
from agents.fx import nodes
from agents.fx.state import FxInput, FxOutput, FxState
from agents.fx.tools import TOOLS
from agents.registry import AgentSpec


def build() -> Any:
    g = StateGraph(FxState, context_schema=RunContext, input_schema=FxInput, output_schema=FxOutput)
    g.add_node("understand", nodes.understand)
    g.add_node("compute", nodes.compute)
    g.add_node("compose", nodes.compose)
    g.add_edge(START, "understand")
    g.add_edge("understand", "compute")
    g.add_edge("compute", "compose")
    g.add_edge("compose", END)
    return g.compile()


SPEC = AgentSpec(
    name="fx",
    title_zh="外匯助理",
    title_en="FX desk",
    keywords=(
        "結購",
        "結售",
        "結匯",
        "匯率",
        "牌告",
        "美元",
        "美金",
        "日圓",
        "日幣",
        "歐元",
        "人民幣",
        "港幣",
        "外幣",
        "換匯",
        "現鈔",
        "匯出",
        "匯入",
        "台幣多少",
        "臺幣多少",
        "USD",
        "JPY",
        "EUR",
        "exchange rate",
        "convert",
        "board rate",
        "foreign currency",
        # Cash through customs: the border check (fx_carry), not a settlement's.
        "海關",
        "過海關",
        "出入境",
        "入出境",
        "攜帶",
        "customs",
    ),
    examples=(
        "客戶要結購 60 萬美元匯出，要附什麼文件？換算台幣多少？",
        "今天美金現鈔賣出匯率是多少？",
        "公司今年已結匯 4,800 萬美元，再結購 300 萬美元需要央行核准嗎？",
        "Convert USD 600,000 to NT dollars at the bank's selling rate",
        "客人身上要帶 15 萬台幣和 1.2 萬美金出國，過海關要申報嗎？",
    ),
    build=build,
    tools=(SEARCH_REGULATIONS, *TOOLS),
)
