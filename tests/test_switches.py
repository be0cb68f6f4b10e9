"""The administrators' model switch: off, every answer is composed without the model and the
page says so; on again, the model answers. Only admins flip it (the admin desk decides, from
the permission table), and each flip, allowed or refused, is audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.container import Container
from assistant.errors import AuthError
from assistant.llm.llama_cpp import LlamaCppLLM
from assistant.settings import AgentSettings
from evals.tiny_gguf import build_tiny_gguf
from tests.agent_support import make_service
from ui.app import banner_text

Q = "銀行對疑似不法的存款帳戶可以怎麼處理？"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> LlamaCppLLM:
    path = build_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny.gguf", n_ctx_train=2048)
    return LlamaCppLLM(path, context_size=1024, threads=1)


PASSWORD = "correct-horse-42"


@pytest.fixture
def switched(kb: Container) -> Iterator[Container]:
    yield kb
    # Below the desk: the fixture's own clean-up, not a decision anyone took.
    kb.switches.set("switch-admin", "model", True, "test done")


def test_switching_the_model_off_takes_effect_on_the_next_turn(
    switched: Container, tiny: LlamaCppLLM
) -> None:
    kb = switched
    admin = kb.users.ensure("switch-admin", "admin")
    officer = kb.users.ensure("switch-officer", "compliance")
    svc = make_service(
        kb,
        tiny,
        agents=AgentSettings(answer_max_tokens=32),
        model_enabled=lambda: kb.switches.enabled("model"),
    )
    assert svc.ask(officer, Q).generated and svc.model_loaded

    with pytest.raises(AuthError, match=r"不能執行 admin\.switch"):
        kb.admin_desk.set_switch(officer, "model", False, "not mine to decide")
    denied = kb.audit.recent(1)[0]
    assert denied.user_name == "switch-officer" and denied.tool_calls[0]["name"] == "access_denied"
    assert denied.tool_calls[0]["args"] == {
        "operation": "admin.switch",
        "switch": "model",
        "enabled": False,
        "reason": "not mine to decide",
    }
    assert kb.switches.enabled("model")  # refused: nothing changed
    kb.admin_desk.set_switch(admin, "model", False, "模型輸出異常，調查中")
    record = kb.audit.recent(1)[0]
    assert record.user_name == "switch-admin" and record.tool_calls[0]["name"] == "admin.model.off"
    assert kb.admin_desk.switch("model")["changed_by"] == "switch-admin"

    off = svc.ask(officer, Q)
    assert not off.generated and off.llm_calls == 0 and off.citations
    assert "未經語言模型生成" in off.answer
    assert not svc.model_loaded and svc.model_switched_off
    assert "系統管理員已暫停語言模型功能" in banner_text(svc, "zh-TW")

    kb.admin_desk.set_switch(admin, "model", True, "恢復")
    assert svc.ask(officer, Q).generated and "tiny.gguf" in banner_text(svc, "zh-TW")


def test_the_switch_from_the_command_line(tmp_path: Path) -> None:
    def run(*args: str, user: str = "boss") -> tuple[int, str]:
        r = CliRunner().invoke(
            cli,
            ["--data-dir", str(tmp_path), *args, "--user", user],
            env={"ASSISTANT_PASSWORD": PASSWORD},
        )
        return r.exit_code, r.output

    # The first account is made without a login; the next one by that admin.
    for name, role, acting in (("boss", "admin", []), ("fxo", "fx", ["--user", "boss"])):
        add = ["users", "add", name, "--role", role, "--password-stdin"]
        made = CliRunner().invoke(
            cli,
            ["--data-dir", str(tmp_path), *acting, *add],
            input=f"{PASSWORD}\n",
            env={"ASSISTANT_PASSWORD": PASSWORD},
        )
        assert made.exit_code == 0, made.output

    code, out = run("admin", "model", "--off", "--reason", "不是我的事", user="fxo")
    assert code != 0 and "不能執行 admin.switch" in out
    code, out = run("admin", "model", "--json")
    assert code == 0 and json.loads(out)["enabled"] is True
    code, out = run("admin", "model", "--off", "--reason", "演練", "--json")
    state = json.loads(out)
    assert code == 0 and state["enabled"] is False and state["reason"] == "演練"
    code, out = run("admin", "model")
    assert code == 0 and "關閉 off" in out
    code, out = run("audit", "list", "--json")
    assert code == 0 and "admin.model.off" in out and "access_denied" in out
