"""The 防詐 and 管理 tabs end to end: `serve_ui` behind Gradio's login over a container of
their own (a small generated fraud ledger, one stored model evaluation; no law corpus), the
named API through gradio_client, and one confirmation through the page in headless Chromium.

The permission checks are the desks': an fx officer may neither see the queue (it names
accounts and suspicions) nor decide, and only an admin sees the evaluations, whatever the page
shows or hides; each refusal is the desk's words and leaves an ``access_denied`` record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import gradio as gr
import pytest
from gradio_client import Client
from sqlalchemy import text

from assistant.audit import AuditRow
from assistant.container import Container
from assistant.modeleval.store import EvalStore
from assistant.permissions import UserContext
from tests.conftest import make_settings
from tests.test_ui import PASSWORD, Served, _free_port
from ui import admin_panel, fraud_panel
from ui.app import build_app, serve_ui

TINY_SHA = "ab" * 32


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = Container(make_settings(tmp_path_factory.mktemp("ui_panels") / "data"))
    c.fraud.generate(accounts=600, transfers=6000, seed=1, start=date(2024, 1, 1), days=14, rings=2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def runs(desk: Container, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A finished evaluation of two models (no model, a tiny GGUF) and an unfinished one,
    written the way `ModelEvalRunner` writes them."""
    store = EvalStore(desk.engine)
    models = [
        {"file": "none", "sha256": "none", "backend": "none"},
        {
            "file": "tiny-Q4_K_M.gguf",
            "sha256": TINY_SHA,
            "quantization": "Q4_K_M",
            "backend": "llama_cpp",
            "size_bytes": 1024,
        },
    ]
    corpus = {
        "chunks": 321,
        "documents": 5,
        "snapshot_date": "2023-06-28",
        "fingerprint": "0123456789abcdef",
        "laws": [],
    }
    done, _ = store.open_run("a" * 64, {"models": ["none", TINY_SHA]}, ["exam", "regulation"])
    store.update_run(done, models=models, corpus=corpus)
    for i in range(4):
        store.save(done, TINY_SHA, "exam", f"q{i}", {"correct": i < 3})
    out = tmp_path_factory.mktemp("report")
    regulation = {
        "total": 4,
        "gold_questions": 2,
        "no_basis_questions": 2,
        "cited_gold": 0.5,
        "grounded": 1.0,
        "invented_citations": 0,
        "refused_when_no_basis": 1.0,
        "refused_when_answerable": 0.0,
        "generated_rate": 0.0,
        "mean_latency_ms": 812.0,
    }
    summary = {
        "run_id": done,
        "suites": ["exam", "regulation"],
        "report": {
            "markdown": str(out / "report.md"),
            "html": str(out / "report.html"),
            "json": str(out / "result.json"),
        },
        "models": [
            {**models[0], "exam": {"skipped": "needs a model"}, "regulation": regulation},
            {
                **models[1],
                "cost": {"load_s": 0.4},
                "exam": {"total": 4, "answered": 4, "correct": 3, "accuracy": 0.75},
                "regulation": {**regulation, "cited_gold": 1.0, "generated_rate": 1.0},
            },
        ],
    }
    store.update_run(done, status="done", summary=summary, report_dir=str(out))
    unfinished, _ = store.open_run("b" * 64, {"models": [TINY_SHA]}, ["exam"], new=True)
    store.update_run(unfinished, models=models[1:])
    return {"done": done, "unfinished": unfinished}


@pytest.fixture(scope="module")
def served(desk: Container, runs: dict[str, str]) -> Iterator[Served]:
    demo = serve_ui(desk, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield Served(demo.local_url, demo)
    finally:
        demo.close()


def _user(c: Container, role: str) -> UserContext:
    return c.users.add(f"{role}-{uuid.uuid4().hex[:8]}", role, PASSWORD)


def _client(served: Served, user: UserContext) -> Client:
    return Client(served.url, auth=(user.name, PASSWORD), verbose=False)


def _last(c: Container, user: UserContext) -> AuditRow:
    """The user's newest audit record."""
    (row,) = c.audit.recent(1, user_name=user.name)
    return row


def _denied(c: Container, user: UserContext, operation: str) -> None:
    """The desk refused ``user`` ``operation`` and recorded it."""
    row = _last(c, user)
    call = row.tool_calls[0]
    assert call["name"] == "access_denied" and call["args"]["operation"] == operation
    assert row.user_role == user.role


def _normal_account(c: Container, skip: int) -> str:
    """A distinct still-normal account for each test."""
    with c.engine.connect() as db:  # the app's database, SQLite or PostgreSQL
        rows = db.execute(
            text(
                "SELECT id FROM fraud_account WHERE status = 'normal' ORDER BY id LIMIT 1 "
                "OFFSET :skip"
            ),
            {"skip": skip},
        ).fetchall()
    return rows[0][0]


def _status(c: Container, account: str) -> str:
    with c.engine.connect() as db:
        return db.execute(
            text("SELECT status FROM fraud_account WHERE id = :id"), {"id": account}
        ).scalar_one()


# ---- rendering, no server -------------------------------------------------------------


def test_queue_and_runs_render_in_words(runs: dict[str, str], desk: Container) -> None:
    action = {
        "id": 7,
        "status": "confirmed",
        "kind": "export",
        "account": "8221234",
        "params": {"directions": ["up", "down"], "hops": 3},
        "reason": "疑似人頭帳戶",
        "proposed_by": "fraud-bot",
        "created_at": "2024-01-02T03:04:05",
        "decided_by": "inv",
        "note": "已照會",
        "result": {"files": [{"file": "/x/action-7-up.csv", "sha256": "f" * 64}]},
    }
    zh = fraud_panel.table([action], "zh-TW")
    assert list(zh.columns)[:3] == ["編號", "狀態", "動作"]
    row = zh.iloc[0].tolist()
    assert row[1] == "已確認" and row[2] == "匯出證據" and "上游、下游" in row[4]
    assert row[9].splitlines() == ["action-7-up.csv", "sha256 " + "f" * 64, "備註：已照會"]
    en = fraud_panel.table([action], "en").iloc[0].tolist()
    assert en[1] == "confirmed" and en[2] == "export evidence" and "upstream" in en[4]
    # A note is the decider's text: shown as written, never as markup.
    assert fraud_panel.md_escape("<b>_x_</b>") == "\\<b\\>\\_x\\_\\</b\\>"
    message = "角色 fx 無權處理防詐動作 / role fx may not act on fraud cases"
    assert fraud_panel.localise(message, "en") == "role fx may not act on fraud cases"
    assert fraud_panel.localise(message, "zh-TW") == "角色 fx 無權處理防詐動作"

    listed = EvalStore(desk.engine).list_runs()
    grid = admin_panel.table(listed, "zh-TW").map(lambda cell: cell.replace("\\", ""))
    done = grid[grid["編號"] == runs["done"]].iloc[0]
    assert done["狀態"] == "完成" and done["法規快照"] == "2023-06-28"
    assert f"tiny-Q4_K_M.gguf (Q4_K_M, {TINY_SHA[:12]})" in done["模型"]
    assert "考試正確率 75.0%" in done["結果摘要"] and "引用正確條文 100.0%" in done["結果摘要"]
    unfinished = grid[grid["編號"] == runs["unfinished"]].iloc[0]
    assert unfinished["狀態"] == "未完成" and unfinished["結果摘要"] == ""
    assert admin_panel.table([], "en").empty  # no runs: an empty table with its headers


def test_tabs_are_labelled_and_hold_no_data_before_login(
    desk: Container, runs: dict[str, str]
) -> None:
    def labels(demo: gr.Blocks) -> dict[str, object]:
        comps = demo.get_config_file()["components"]
        return {
            c["props"]["elem_id"]: c["props"].get("label") or c["props"].get("value")
            for c in comps
            if c["props"].get("elem_id")
        }

    extra = {"fx": desk.fx_desk, "fraud": desk.fraud_desk, "admin": desk.admin_desk}
    zh = labels(build_app(desk.service, desk.users, **extra))
    en = labels(build_app(desk.service, desk.users, language="en", **extra))
    assert (zh["twfin-tab-fraud"], en["twfin-tab-fraud"]) == ("防詐", "Fraud")
    assert (zh["twfin-tab-admin"], en["twfin-tab-admin"]) == ("管理", "Admin")
    assert (zh["twfin-fraud-ok"], en["twfin-fraud-ok"]) == ("確認執行", "Confirm")
    assert (zh["twfin-admin-apply"], en["twfin-admin-apply"]) == ("套用", "Apply")
    # The page's config carries no evaluation: the table fills only for an admin's session.
    config = str(build_app(desk.service, desk.users, **extra).get_config_file())
    assert runs["done"] not in config and TINY_SHA not in config
    # Both tabs start hidden: the page's load shows them to the roles that may read them.
    hidden = {
        c["props"]["elem_id"]
        for c in build_app(desk.service, desk.users, **extra).get_config_file()["components"]
        if c["props"].get("elem_id") and c["props"].get("visible") is False
    }
    assert {"twfin-tab-fraud", "twfin-tab-admin"} <= hidden
    # Without the desks the tabs are not there.
    plain = labels(build_app(desk.service, desk.users))
    assert "twfin-tab-fraud" not in plain and "twfin-tab-admin" not in plain


# ---- the named API --------------------------------------------------------------------


def test_fx_officer_may_neither_see_nor_decide(served: Served, desk: Container) -> None:
    investigator = _user(desk, "fraud")
    account = _normal_account(desk, 0)
    proposal = desk.fraud_desk.propose(investigator, "flag", account, reason="疑似人頭")
    officer = _user(desk, "fx")
    client = _client(served, officer)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/fraud_actions", "/fraud_decide", "/eval_runs", "/eval_run"} <= set(endpoints)

    with pytest.raises(Exception, match=r"你的角色（fx）不能執行 fraud\.read"):
        client.predict("proposed", api_name="/fraud_actions")
    _denied(desk, officer, "fraud.read")
    listed = _client(served, investigator).predict("proposed", api_name="/fraud_actions")
    assert proposal["id"] in [a["id"] for a in listed]
    assert _last(desk, investigator).tool_calls[0]["name"] == "fraud.actions"
    with pytest.raises(Exception, match=r"你的角色（fx）不能執行 fraud\.decide") as refused:
        client.predict(proposal["id"], True, "試試看", api_name="/fraud_decide")
    assert "Traceback" not in str(refused.value)
    _denied(desk, officer, "fraud.decide")
    assert _last(desk, officer).tool_calls[0]["args"]["action_id"] == proposal["id"]
    # Nothing changed: the account, the proposal.
    assert _status(desk, account) == "normal"
    assert desk.fraud_actions.get(proposal["id"])["status"] == "proposed"
    assert _user(desk, "admin").may("fraud.decide")  # the table, not a name, decides


def test_investigator_confirms_through_the_api(served: Served, desk: Container) -> None:
    investigator = _user(desk, "fraud")
    account = _normal_account(desk, 1)
    proposal = desk.fraud_desk.propose(investigator, "flag", account, params={"status": "衍生管制"})
    client = _client(served, investigator)
    decided = client.predict(proposal["id"], True, "已照會被害人", api_name="/fraud_decide")
    assert decided["status"] == "confirmed" and decided["decided_by"] == investigator.name
    assert decided["result"] == {"status_before": "normal", "status_after": "衍生管制"}
    assert _status(desk, account) == "衍生管制"
    record = _last(desk, investigator)
    assert record.tool_calls[0]["name"] == "fraud.flag.confirm"
    assert record.tool_calls[0]["args"]["note"] == "已照會被害人"

    confirmed = client.predict("confirmed", api_name="/fraud_actions")
    (shown,) = [a for a in confirmed if a["id"] == proposal["id"]]
    assert shown["note"] == "已照會被害人"
    assert proposal["id"] not in [
        a["id"] for a in client.predict("proposed", api_name="/fraud_actions")
    ]
    assert proposal["id"] in [a["id"] for a in client.predict("all", api_name="/fraud_actions")]
    # Decided once: a second decision is refused, and an unknown id is said.
    with pytest.raises(Exception, match="不能再決定"):
        client.predict(proposal["id"], False, "", api_name="/fraud_decide")
    with pytest.raises(Exception, match="沒有這個待辦動作"):
        client.predict(999_999, True, "", api_name="/fraud_decide")


def test_only_admins_see_the_evaluations(
    served: Served, desk: Container, runs: dict[str, str]
) -> None:
    boss = _user(desk, "admin")
    admin = _client(served, boss)
    listed = admin.predict(api_name="/eval_runs")
    assert {r["id"] for r in listed} == set(runs.values())
    assert _last(desk, boss).tool_calls[0]["name"] == "admin.evals"
    (done,) = [r for r in listed if r["id"] == runs["done"]]
    assert done["summary"]["models"][1]["exam"]["accuracy"] == 0.75
    one = admin.predict(runs["done"], api_name="/eval_run")
    assert one["corpus"]["snapshot_date"] == "2023-06-28" and "items" not in one
    with pytest.raises(Exception, match="沒有這筆評測"):
        admin.predict("nope", api_name="/eval_run")

    for role in ("fx", "fraud", "auditor"):
        someone = _user(desk, role)
        other = _client(served, someone)
        with pytest.raises(Exception, match=rf"你的角色（{role}）不能執行 admin\.evals"):
            other.predict(api_name="/eval_runs")
        _denied(desk, someone, "admin.evals")
        with pytest.raises(Exception, match=rf"你的角色（{role}）不能執行 admin\.evals"):
            other.predict(runs["done"], api_name="/eval_run")
        _denied(desk, someone, "admin.evals")
        assert _last(desk, someone).tool_calls[0]["args"]["run"] == runs["done"]


# ---- the page in a browser ------------------------------------------------------------


def test_browser_investigator_confirms_a_proposal(served: Served, desk: Container) -> None:
    from playwright.sync_api import expect

    from tests.browser import logged_in

    investigator = _user(desk, "fraud")
    account = _normal_account(desk, 2)
    proposal = desk.fraud_desk.propose(investigator, "flag", account, reason="水房轉帳")
    with logged_in(served.url, investigator.name, PASSWORD) as page:
        page.get_by_role("tab", name="防詐").click()
        grid = page.locator("#twfin-fraud-table")
        expect(grid).to_contain_text(account)
        expect(grid).to_contain_text("水房轉帳")
        expect(grid).to_contain_text("待確認")
        # The newest pending proposal is the one chosen; choose it explicitly all the same.
        pick = page.locator("#twfin-fraud-pick input")
        pick.click()
        page.get_by_role("option", name=f"#{proposal['id']} 標記警示 {account}").click()
        page.locator("#twfin-fraud-note textarea, #twfin-fraud-note input").first.fill("已查證")
        page.locator("#twfin-fraud-ok").click()
        status = page.locator("#twfin-fraud-status")
        expect(status).to_contain_text(f"已確認動作 #{proposal['id']}")
        expect(status).to_contain_text("normal → 警示")
        expect(grid).not_to_contain_text(account)  # no longer pending
        # The whole queue shows it confirmed, with who decided.
        page.locator("#twfin-fraud-filter").get_by_text("全部").click()
        expect(grid).to_contain_text(account)
        expect(grid).to_contain_text("已確認")
        # The admin tab is not shown to an investigator (the permission table says so).
        expect(page.get_by_role("tab", name="管理")).to_have_count(0)
        # English on demand: the tab, its buttons and the status words switch.
        page.locator("#twfin-language").get_by_text("English").click()
        expect(page.locator("#twfin-fraud-ok")).to_have_text("Confirm")
        expect(page.get_by_role("tab", name="Fraud")).to_be_visible()
        expect(grid).to_contain_text("confirmed")
    assert _status(desk, account) == "警示"
    decided = desk.fraud_actions.get(proposal["id"])
    assert decided["decided_by"] == investigator.name and decided["note"] == "已查證"
