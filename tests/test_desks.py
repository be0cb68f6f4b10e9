"""Every desk method that takes a user refuses without one, refuses a role the permission table
does not allow and records that refusal; the permission table is consistent with the agents'
tools. Walked by introspection, so a new desk method is covered without being listed."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assistant.container import Container
from assistant.desks.base import Desk, LoginRequired
from assistant.errors import AuthError
from assistant.permissions import OPERATIONS, ROLE_AGENTS, ROLES, UserContext
from tests.conftest import make_settings

DESKS = (
    "fraud_desk",
    "federation_desk",
    "fraud_monitor_desk",
    "cleanroom_desk",
    "credit_desk",
    "fx_desk",
    "compliance_desk",
    "audit_desk",
    "admin_desk",
)


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = Container(make_settings(tmp_path_factory.mktemp("desks")))
    # An installation in use: the first account (made without a login) exists.
    c.admin_desk.add_user(None, "first-admin", "admin", "first-password")
    yield c
    c.close()


def _value(p: inspect.Parameter, tmp: Path) -> Any:
    ann = str(p.annotation)
    if "Path" in ann:
        return tmp / "missing.pdf"
    if "int" in ann:
        return 1
    if "bool" in ann:
        return True
    if "dict" in ann:
        return {}
    if "Facility" in ann:
        from assistant.credit.rules import Facility

        return Facility()
    if "Extraction" in ann or "RatioReport" in ann:
        one = SimpleNamespace(file="report.pdf")
        return [one, one] if ann.startswith("list[") else one
    if "date" in ann:
        from datetime import date

        return date(2024, 1, 1)
    return "0123456789012"


def _user_methods(container: Container) -> list[tuple[str, str, Any]]:
    out = []
    for attr in DESKS:
        desk = getattr(container, attr)
        assert isinstance(desk, Desk)
        for name, fn in inspect.getmembers(desk, inspect.ismethod):
            if name.startswith("_") or name in ("allow", "record"):
                continue
            params = list(inspect.signature(fn).parameters.values())
            if params and params[0].name == "user":
                out.append((attr, name, fn))
    return out


def _call(fn: Any, user: UserContext | None, tmp: Path) -> Any:
    params = list(inspect.signature(fn).parameters.values())[1:]
    args = [
        _value(p, tmp)
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    kwargs = {
        p.name: _value(p, tmp)
        for p in params
        if p.default is inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY
    }
    return fn(user, *args, **kwargs)


def test_every_desk_method_with_a_user_refuses_without_one(
    container: Container, tmp_path: Path
) -> None:
    methods = _user_methods(container)
    assert len(methods) >= 25  # the walk found the desks' methods
    before = container.audit.head()
    for _attr, _name, fn in methods:
        with pytest.raises(LoginRequired):
            _call(fn, None, tmp_path)
    # Nobody to name: nothing is recorded.
    assert container.audit.head() == before


def test_a_role_outside_the_table_is_refused_and_recorded(
    container: Container, tmp_path: Path
) -> None:
    refused = 0
    for attr, name, fn in _user_methods(container):
        source = inspect.getsource(fn)
        ops = [op for op in OPERATIONS if f'"{op}"' in source]
        assert ops, f"{attr}.{name} checks no operation of the permission table"
        outsiders = [r for r in ROLES if r not in OPERATIONS[ops[0]]]
        if not outsiders:
            continue  # open to every role (regulations, board rates)
        user = UserContext(f"outsider-{outsiders[0]}", outsiders[0])
        with pytest.raises(AuthError):
            _call(fn, user, tmp_path)
        last = container.audit.recent(1)[0]
        assert last.user_name == user.name and last.tool_calls[0]["name"] == "access_denied"
        assert ops[0] in last.question
        refused += 1
    assert refused >= 20
    assert container.audit.verify().ok


def test_the_tool_table_agrees_with_the_operations(container: Container) -> None:
    """A role that may use an agent may perform the operations of all its tools (else the
    agent would offer work its users are always refused)."""
    from agents.registry import ToolTable

    table = ToolTable.of(container.agent_specs())
    for agent, tools in table.agents.items():
        for tool, op in tools.items():
            assert op in OPERATIONS, (tool, op)
            for role, agents in ROLE_AGENTS.items():
                if agent in agents:
                    assert role in OPERATIONS[op], (role, agent, tool)


def test_the_first_account_is_an_admin_made_without_a_login(tmp_path: Path) -> None:
    c = Container(make_settings(tmp_path / "data"))
    try:
        desk = c.admin_desk
        with pytest.raises(AuthError, match="first account"):
            desk.add_user(None, "clerk", "fx", "a-password-1")
        desk.add_user(None, "boss", "admin", "a-password-1")
        made = c.audit.recent(1)[0]
        assert made.user_name == "setup" and made.tool_calls[0]["name"] == "admin.user_add"
        with pytest.raises(LoginRequired):
            desk.add_user(None, "clerk", "fx", "a-password-1")
        boss = c.users.get("boss")
        desk.add_user(boss, "clerk", "fx", "a-password-1")
        with pytest.raises(AuthError, match=r"admin\.users"):
            desk.add_user(c.users.get("clerk"), "other", "admin", "a-password-1")
        # Everyone changes their own password; only an admin changes another's.
        desk.set_password(c.users.get("clerk"), "clerk", "a-password-2")
        with pytest.raises(AuthError):
            desk.set_password(c.users.get("clerk"), "boss", "a-password-2")
    finally:
        c.close()
