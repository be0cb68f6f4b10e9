"""The LLM seam on the real llama.cpp path, with a tiny GGUF model the suite builds itself."""

import json
import threading
from pathlib import Path

import pytest

from assistant.llm import LLMError, Message, make_llm
from assistant.llm.budget import TRIM_MARK, fit_messages
from assistant.llm.llama_cpp import LlamaCppLLM
from assistant.llm.thinking import ThinkSplitter, split_thinking
from assistant.settings import load_settings
from evals.tiny_gguf import build_tiny_gguf

SCHEMA = {
    "type": "object",
    "properties": {
        "tool": {"type": "string", "enum": ["search", "none"]},
        "k": {"type": "integer"},
    },
    "required": ["tool", "k"],
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="module")
def llm(tiny_model: Path) -> LlamaCppLLM:
    return LlamaCppLLM(tiny_model, context_size=256, threads=1)


def test_loads_and_counts_chinese_tokens(llm: LlamaCppLLM) -> None:
    assert llm.available and llm.name == "tiny.gguf"
    assert llm.count_tokens("銀行法第12條") > 6  # bytes of CJK text, no crash


@pytest.mark.parametrize("seed_prompt", ["你好", "請問洗錢防制法第5條", "hello"])
def test_tool_call_is_well_formed_under_a_json_schema(llm: LlamaCppLLM, seed_prompt: str) -> None:
    out = llm.complete([Message("user", seed_prompt)], max_tokens=64, json_schema=SCHEMA)
    assert out.data["tool"] in ("search", "none") and isinstance(out.data["k"], int)
    assert json.loads(out.text) == out.data
    assert out.model == "tiny.gguf" and out.tokens_in > 0


def test_streams_text(llm: LlamaCppLLM) -> None:
    chunks = list(llm.stream([Message("user", "hello")], max_tokens=8))
    assert all(isinstance(c, str) for c in chunks)


def test_overlong_prompt_is_trimmed_not_a_crash(llm: LlamaCppLLM) -> None:
    context = "第一條 " + "銀行應保守客戶秘密。" * 400  # far beyond 256 tokens
    out = llm.complete(
        [
            Message("system", "你是銀行法遵助理。"),
            Message("user", context, trimmable=True),
            Message("user", "問題：行員可以洩漏客戶資料嗎？"),
        ],
        max_tokens=64,
        json_schema=SCHEMA,
    )
    assert out.trimmed and set(out.data) == {"tool", "k"}


def test_a_question_alone_too_long_gets_a_clear_error(llm: LlamaCppLLM) -> None:
    with pytest.raises(LLMError, match="longer than the model's context"):
        llm.complete([Message("user", "銀" * 2000)], max_tokens=16)


def test_concurrent_users_queue_on_one_model(llm: LlamaCppLLM) -> None:
    errors: list[BaseException] = []
    results: list[dict] = []

    def ask(i: int) -> None:
        try:
            results.append(
                llm.complete([Message("user", f"問題 {i}")], max_tokens=64, json_schema=SCHEMA).data
            )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(results) == 8


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LLMError, match="not found"):
        LlamaCppLLM(tmp_path / "nope.gguf")


def test_backend_from_settings(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_llm(load_settings(llm={"backend": "none"}).llm).name == "none"
    assert not make_llm(load_settings().llm).available  # no model file given: runs without one
    monkeypatch.setenv("ASSISTANT_MODEL_PATH", str(tiny_model))
    assert make_llm(load_settings().llm).name == "tiny.gguf"
    none = make_llm(load_settings(llm={"backend": "none"}).llm)
    with pytest.raises(LLMError, match="no language model"):
        none.complete([Message("user", "hi")])


def test_thinking_is_kept_out_of_the_answer() -> None:
    assert split_thinking("<think>先查銀行法</think>答案是第12條") == ("答案是第12條", "先查銀行法")
    s = ThinkSplitter()
    pieces = ["<thi", "nk>推理", "中</th", "ink>答", "案"]
    assert "".join(s.feed(p) for p in pieces) + s.finish() == "答案"
    assert "".join(s.thinking) == "推理中"


def test_budget_trims_retrieved_text_first() -> None:
    msgs = [
        Message("system", "s" * 10),
        Message("user", "x" * 500, trimmable=True),
        Message("user", "q" * 10),
    ]
    fitted, trimmed = fit_messages(msgs, budget=200, count=len)
    assert trimmed and fitted[0].content == "s" * 10 and fitted[-1].content == "q" * 10
    assert fitted[1].content.endswith(TRIM_MARK) and sum(len(m.content) + 4 for m in fitted) <= 200
