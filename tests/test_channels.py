"""The page and its HTTP API as channels: every route is classified, nothing answers without a
login, and a route that reaches a desk hands it the logged-in user, so the desk (not the page)
refuses and records.

The API half runs against `serve_ui` on loopback (the 防詐 and 管理 tabs' container from
tests/test_ui_panels.py); the page half calls the tabs' own handlers with a logged-in request.
A new named route fails `test_every_route_is_classified` until it is listed in `ROUTES`, and a
new desk route fails `test_desk_routes_pass_the_logged_in_user` until it has a case there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from assistant.audit import AuditRow
from assistant.container import Container
from assistant.permissions import OPERATIONS, UserContext
from tests.test_ui import PASSWORD, Served
from tests.test_ui_alerts import open_alert, transfer
from tests.test_ui_panels import _normal_account, desk, runs, served  # noqa: F401  (fixtures)

# Every named route, and what decides who may use it once Gradio's login let the caller in:
# "service" (`AssistantService`, which keeps each user to their own conversations and answers;
# its routes are tested with the law corpus in tests/test_ui.py), or the desk operation the
# route's desk method checks.
ROUTES: dict[str, str] = {
    "ask": "service",
    "ask_with_file": "service",
    "review": "service",
    "feedback": "service",
    "conversations": "service",
    "messages": "service",
    "fraud_actions": "fraud.read",
    "fraud_decide": "fraud.decide",
    "fraud_alerts": "fraud.read",
    "fraud_alert_accounts": "fraud.read",
    "fraud_alert_decide": "fraud.decide",
    "fraud_alert_decide_account": "fraud.decide",
    "fraud_alert_trace": "fraud.read",
    "fraud_monitor_score": "fraud.monitor",
    "fraud_monitor_batch": "fraud.monitor",
    "fraud_monitor_warm": "fraud.monitor",
    "eval_runs": "admin.evals",
    "eval_run": "admin.evals",
}


def _user(c: Container, role: str) -> UserContext:
    return c.users.add(f"ch-{role}-{uuid.uuid4().hex[:8]}", role, PASSWORD)


def _client(served: Served, user: UserContext) -> Client:  # noqa: F811
    return Client(served.url, auth=(user.name, PASSWORD), verbose=False)


def _last(c: Container, user: UserContext) -> AuditRow:
    (row,) = c.audit.recent(1, user_name=user.name)
    return row


def _named(demo: gr.Blocks) -> set[str]:
    """The routes the app exposes to API clients: every event or `gr.api` not kept private."""
    return {
        str(fn.api_name)
        for fn in demo.fns.values()
        if fn.api_name and fn.api_visibility != "private"
    }


# ---- the API: every route known, none open without a login ---------------------------------


def test_every_route_is_classified(served: Served, desk: Container) -> None:  # noqa: F811
    exposed = _named(served.demo)
    unknown = exposed - set(ROUTES)
    assert not unknown, f"new API routes, classify them in ROUTES: {sorted(unknown)}"
    assert exposed == set(ROUTES), f"routes gone: {sorted(set(ROUTES) - exposed)}"
    # What a client is shown is the same list.
    client = _client(served, _user(desk, "fx"))
    shown = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {name.lstrip("/") for name in shown} == set(ROUTES)
    # A desk route names an operation of the permission table (one missing there is refused
    # for everyone, which would pass the refusal tests below for the wrong reason).
    assert {op for op in ROUTES.values() if op != "service"} <= set(OPERATIONS)


def test_no_route_answers_without_a_login(served: Served) -> None:  # noqa: F811
    base = f"{served.url}gradio_api"
    with httpx.Client(timeout=30) as http:
        for name in ROUTES:
            for path in (f"/call/{name}", f"/run/{name}", f"/api/{name}"):
                r = http.post(f"{base}{path}", json={"data": []})
                assert r.status_code in (401, 403), (path, r.status_code)
        # The page's own handlers too, named or not: the queue takes none of them.
        for fn_index in served.demo.fns:
            r = http.post(
                f"{base}/queue/join",
                json={"fn_index": fn_index, "data": [], "session_hash": "no-login"},
            )
            assert r.status_code in (401, 403), (fn_index, r.status_code)
    with pytest.raises(Exception, match=r"401|[Ll]ogin|[Uu]nauthorized"):
        Client(served.url, verbose=False).predict(api_name="/conversations")


# ---- the API: a desk route hands the desk the logged-in user --------------------------------

# route -> (arguments, a role the desk refuses, a role it allows, the allowed call's record)
Case = tuple[Callable[[Container, dict[str, str]], tuple[Any, ...]], str, str, str]
CASES: dict[str, Case] = {
    "fraud_actions": (lambda c, r: ("all",), "compliance", "fraud", "fraud.actions"),
    "fraud_decide": (
        lambda c, r: (
            c.fraud_desk.propose(_user(c, "fraud"), "flag", _normal_account(c, 5))["id"],
            False,
            "查無異常",
        ),
        "compliance",
        "fraud",
        "fraud.flag.reject",
    ),
    "fraud_alerts": (lambda c, r: ("all", 10, ""), "compliance", "fraud", "fraud.monitor.alerts"),
    "fraud_alert_accounts": (
        lambda c, r: ("all", 10),
        "compliance",
        "fraud",
        "fraud.monitor.alert_accounts",
    ),
    "fraud_alert_decide": (
        lambda c, r: (open_alert(c)["alert_id"], False, "查無異常"),
        "fx",
        "fraud",
        "fraud.monitor.dismiss",
    ),
    "fraud_alert_decide_account": (
        lambda c, r: (open_alert(c)["account"], True, "已照會", None),
        "fx",
        "fraud",
        "fraud.monitor.confirm_account",
    ),
    "fraud_alert_trace": (
        lambda c, r: (open_alert(c, _normal_account(c, 7))["alert_id"], "up", 1),
        "auditor",
        "fraud",
        "fraud.trace",
    ),
    "fraud_monitor_score": (
        lambda c, r: (
            transfer(f"CH-{uuid.uuid4().hex[:8]}", "2024-03-06T09:00:00", "CHA1", "CHB1", 500),
        ),
        "credit",
        "fraud",
        "fraud.monitor.score",
    ),
    "fraud_monitor_batch": (
        lambda c, r: (
            [transfer(f"CH-{uuid.uuid4().hex[:8]}", "2024-03-06T09:00:00", "CHA1", "CHB1", 500)],
        ),
        "auditor",
        "fraud",
        "fraud.monitor.batch",
    ),
    "fraud_monitor_warm": (lambda c, r: (1,), "compliance", "fraud", "fraud.monitor.warm"),
    "eval_runs": (lambda c, r: (), "fraud", "admin", "admin.evals"),
    "eval_run": (lambda c, r: (r["done"],), "auditor", "admin", "admin.eval"),
}


def test_every_desk_route_has_a_case() -> None:
    assert set(CASES) == {name for name, guard in ROUTES.items() if guard != "service"}


@pytest.mark.parametrize("route", sorted(CASES))
def test_desk_routes_pass_the_logged_in_user(
    route: str,
    served: Served,  # noqa: F811
    desk: Container,  # noqa: F811
    runs: dict[str, str],  # noqa: F811
) -> None:
    make_args, refused_role, allowed_role, action = CASES[route]
    operation = ROUTES[route]

    refused = _user(desk, refused_role)
    args = make_args(desk, runs)
    with pytest.raises(Exception, match=rf"不能執行 {operation}") as err:
        _client(served, refused).predict(*args, api_name=f"/{route}")
    assert "Traceback" not in str(err.value)
    row = _last(desk, refused)
    assert (row.user_role, row.tool_calls[0]["name"]) == (refused_role, "access_denied")
    assert row.tool_calls[0]["args"]["operation"] == operation

    allowed = _user(desk, allowed_role)
    _client(served, allowed).predict(*args, api_name=f"/{route}")
    row = _last(desk, allowed)
    assert (row.user_role, row.tool_calls[0]["name"]) == (allowed_role, action)


# ---- the page: the tabs' handlers call the desks with the logged-in user --------------------


def _handlers(demo: gr.Blocks, module: str, name: str) -> list[Callable[..., Any]]:
    found = [
        fn.fn
        for fn in demo.fns.values()
        if fn.fn is not None and fn.fn.__module__ == module and fn.fn.__name__ == name
    ]
    assert found, f"no handler {module}.{name}"
    return list({id(f): f for f in found}.values())  # one function may serve several events


def _request(user: UserContext | None) -> gr.Request:
    return gr.Request(username=user.name if user is not None else None)


def _text(out: dict[Any, Any]) -> str:
    return " ".join(str(v) for v in out.values())


def test_fraud_tab_is_the_desks(served: Served, desk: Container) -> None:  # noqa: F811
    demo = served.demo
    (shown,) = _handlers(demo, "ui.fraud_panel", "on_page_load")
    (read,) = _handlers(demo, "ui.fraud_panel", "read")
    decide = _handlers(demo, "ui.fraud_panel", "handler")  # confirm, reject
    officer, investigator = _user(desk, "compliance"), _user(desk, "fraud")

    # Shown or hidden by the permission table; no data on the page's load either way.
    assert [u["visible"] for u in shown(_request(officer)).values()] == [False]
    assert [u["visible"] for u in shown(_request(investigator)).values()] == [True]
    assert [u["visible"] for u in shown(_request(None)).values()] == [False]

    # Opened anyway (a crafted request): the desk refuses, says so in both languages, records.
    out = read("proposed", "en", _request(officer))
    assert "你的角色（compliance）不能執行 fraud.read / your role (compliance) may not" in _text(
        out
    )
    row = _last(desk, officer)
    assert row.tool_calls[0]["name"] == "access_denied"
    assert row.tool_calls[0]["args"]["operation"] == "fraud.read"
    assert "請先登入" in _text(read("proposed", "zh-TW", _request(None)))

    proposal = desk.fraud_desk.propose(investigator, "flag", _normal_account(desk, 6))
    for handler in decide:
        out = handler(proposal["id"], "不是我的案子", "proposed", "zh-TW", _request(officer))
        assert "不能執行 fraud.decide" in _text(out)
        assert _last(desk, officer).tool_calls[0]["args"]["operation"] == "fraud.decide"
    assert desk.fraud_actions.get(proposal["id"])["status"] == "proposed"

    out = read("proposed", "zh-TW", _request(investigator))
    assert proposal["account"] in _text(out)
    assert _last(desk, investigator).tool_calls[0]["name"] == "fraud.actions"


def test_admin_tab_is_the_desks(served: Served, desk: Container) -> None:  # noqa: F811
    demo = served.demo
    (shown,) = _handlers(demo, "ui.admin_panel", "on_page_load")
    (read,) = _handlers(demo, "ui.admin_panel", "read")
    (flip,) = _handlers(demo, "ui.admin_panel", "set_switch")
    (logins,) = _handlers(demo, "ui.admin_panel", "logins")
    investigator, boss = _user(desk, "fraud"), _user(desk, "admin")

    assert [u["visible"] for u in shown(_request(investigator)).values()] == [False]
    assert [u["visible"] for u in shown(_request(boss)).values()] == [True]

    assert "不能執行 admin.evals" in _text(read(None, False, "zh-TW", _request(investigator)))
    assert _last(desk, investigator).tool_calls[0]["args"]["operation"] == "admin.evals"
    assert "不能執行 admin.logins" in _text(logins(False, "zh-TW", _request(investigator)))
    assert _last(desk, investigator).tool_calls[0]["args"]["operation"] == "admin.logins"
    out = flip("off", "試試看", "zh-TW", _request(investigator))
    assert "不能執行 admin.switch" in _text(out)
    assert _last(desk, investigator).tool_calls[0]["args"]["operation"] == "admin.switch"
    assert desk.switches.enabled("model")

    out = logins(False, "zh-TW", _request(boss))
    assert investigator.name not in _text(out)  # made without a login: none recorded
    assert _last(desk, boss).tool_calls[0]["name"] == "admin.logins"
    try:
        out = flip("off", "演練", "zh-TW", _request(boss))
        assert "已將語言模型關閉" in _text(out) and not desk.switches.enabled("model")
        row = _last(desk, boss)
        assert row.tool_calls[0]["name"] == "admin.model.off"
        assert row.tool_calls[0]["args"]["reason"] == "演練"
    finally:
        desk.admin_desk.set_switch(boss, "model", True, "演練結束")
    out = read(None, False, "zh-TW", _request(boss))
    assert "演練結束" in _text(out)  # the switch line says who set it and why
