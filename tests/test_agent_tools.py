"""The permission table of tools is what the agents declare: every tool names a desk operation
that exists, and a role may call a tool exactly when it may use the agent and perform the
operation (the check the desk makes again)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from agents.registry import ToolTable
from agents.tools import Tool
from assistant.container import Container
from assistant.permissions import OPERATIONS, ROLE_AGENTS, UserContext, may
from tests.conftest import make_settings


def test_the_tool_table_is_derived_from_the_specs(tmp_path: Path) -> None:
    c = Container(make_settings(tmp_path / "data"))
    specs = c.agent_specs()
    table = ToolTable.of(specs)
    role_tools = table.role_tools
    declared = {s.name: s.tool_operations for s in specs}
    assert table.agents == declared
    assert set(table.agents) == set().union(*ROLE_AGENTS.values())
    for agent, tools in declared.items():
        assert tools, agent
        for tool, operation in tools.items():
            assert operation in OPERATIONS, (agent, tool)
            assert table.operation(tool) == operation
    for role, agents in ROLE_AGENTS.items():
        user = UserContext("u", role)
        for agent, tools in declared.items():
            for tool, operation in tools.items():
                allowed = table.may_call(user, tool)
                if agent in agents:
                    assert allowed is may(role, operation), (role, tool)
                elif tool not in role_tools(role):
                    assert not allowed
    # Written out: what each role may call (the fx role gained fx_carry with the border check).
    assert role_tools("fx") == {
        "search_regulations",
        "fx_rate",
        "fx_convert",
        "fx_check",
        "fx_carry",
    }
    assert "fraud_propose" in role_tools("fraud") and "credit_memo" not in role_tools("fraud")
    assert role_tools("auditor") == role_tools("compliance")


def test_each_agent_declares_every_tool_of_its_tools_module() -> None:
    from agents.compliance.graph import SPEC as COMPLIANCE
    from agents.fraud import tools as fraud_tools
    from agents.fraud.graph import SPEC as FRAUD
    from agents.fx import tools as fx_tools
    from agents.fx.graph import SPEC as FX

    for spec, module in ((FX, fx_tools), (FRAUD, fraud_tools)):
        own = {v.name for v in vars(module).values() if isinstance(v, Tool)}
        assert own <= {t.name for t in spec.tools}, spec.name
    for spec in (COMPLIANCE, FX, FRAUD):
        assert spec.build is not None and not inspect.signature(spec.build).parameters
        assert all(t.operation in OPERATIONS for t in spec.tools)


def test_a_tool_with_an_unknown_operation_is_refused_at_start_up() -> None:
    from dataclasses import replace

    from agents.fraud.graph import SPEC as FRAUD
    from agents.fx.graph import SPEC as FX

    book = replace(FX.tools[-1], name="fx_book", operation="fx.write")
    wrong = replace(FX, tools=(*FX.tools, book))
    with pytest.raises(ValueError, match="unknown operation"):
        ToolTable.of([wrong])
    rate = next(t for t in FX.tools if t.name == "fx_rate")
    twice = replace(FRAUD, tools=(*FRAUD.tools, replace(rate, operation="fraud.read")))
    with pytest.raises(ValueError, match="operation"):
        ToolTable.of([FX, twice])
