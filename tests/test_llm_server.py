"""The openai backend against a real OpenAI-compatible server: llama.cpp's own server, run on
loopback with the tiny GGUF model the suite builds."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.llm import LLMError, Message, make_llm
from assistant.llm.openai import OpenAICompatibleLLM
from assistant.settings import load_settings
from evals.tiny_gguf import build_tiny_gguf
from tests.test_llm import SCHEMA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = build_tiny_gguf(tmp_path_factory.mktemp("srv") / "tiny.gguf")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "512",
            "--n_threads",
            "1",
            "--model_alias",
            "tiny",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("llama.cpp server did not start")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_schema_constrained_call_through_the_server(server: str) -> None:
    llm = make_llm(
        load_settings(llm={"backend": "openai", "base_url": server, "server_model": "tiny"}).llm
    )
    out = llm.complete([Message("user", "請查洗錢防制法")], max_tokens=64, json_schema=SCHEMA)
    assert out.data["tool"] in ("search", "none") and isinstance(out.data["k"], int)


def test_streams_through_the_server(server: str) -> None:
    llm = OpenAICompatibleLLM(server, "tiny", context_size=512)
    assert all(isinstance(c, str) for c in llm.stream([Message("user", "hello")], max_tokens=8))


def test_overlong_context_is_trimmed_before_sending(server: str) -> None:
    llm = OpenAICompatibleLLM(server, "tiny", context_size=512)
    out = llm.complete(
        [
            Message("user", "條文：" + "銀行應保守客戶秘密。" * 300, trimmable=True),
            Message("user", "問題？"),
        ],
        max_tokens=64,
        json_schema=SCHEMA,
    )
    assert out.trimmed and set(out.data) == {"tool", "k"}


def test_unreachable_server_is_a_clear_error() -> None:
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}", "tiny", timeout_s=2)
    with pytest.raises(LLMError, match="cannot reach"):
        llm.complete([Message("user", "hi")])
    with pytest.raises(LLMError, match="BASE_URL"):
        make_llm(load_settings(llm={"backend": "openai"}).llm)


def test_server_errors_are_reported(server: str, tmp_path: Path) -> None:
    llm = OpenAICompatibleLLM(server + "/nope", "tiny")
    with pytest.raises(LLMError, match="model server error 404"):
        llm.complete([Message("user", "hi")])
