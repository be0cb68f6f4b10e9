"""Any OpenAI-compatible server (llama.cpp server, vLLM) for when one machine is not enough.

Plain HTTP through httpx: the chat-completions endpoint, streaming as server-sent events, and
the JSON-schema `response_format` that llama.cpp and vLLM both decode under a grammar.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from assistant.llm.base import Completion, LLMError, Message, to_completion
from assistant.llm.budget import fit_messages
from assistant.llm.thinking import ThinkSplitter


def estimate_tokens(text: str) -> int:
    """The server's tokenizer is not at hand: about one token per three UTF-8 bytes (a Chinese
    character, or most of an English word). Calibrated per server when it says otherwise."""
    return len(text.encode("utf-8")) // 3 + 1


class ContextExceeded(LLMError):
    """The server counted more tokens than we estimated."""

    def __init__(self, message: str, ratio: float) -> None:
        super().__init__(message)
        self.ratio = ratio


_REQUESTED = re.compile(r"(\d+) in the messages")


class OpenAICompatibleLLM:
    # Text sent here leaves the process: the pipeline pseudonymises it (assistant.llm.masked).
    remote = True

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        context_size: int = 4096,
        timeout_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = model
        self.context_size = context_size
        # Server tokens per estimated token, learned from the server's own refusals.
        self._ratio = 1.0
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    @property
    def available(self) -> bool:
        return True

    def count_tokens(self, text: str) -> int:
        return int(estimate_tokens(text) * self._ratio) + 1

    def _body(
        self, messages: list[Message], max_tokens: int, temperature: float
    ) -> tuple[dict[str, Any], bool]:
        fitted, trimmed = fit_messages(
            messages, self.context_size - max_tokens - 16, self.count_tokens
        )
        body = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in fitted],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        return body, trimmed

    def _post(self, body: dict[str, Any], stream: bool = False) -> httpx.Response:
        try:
            if stream:
                request = self._client.build_request("POST", "/v1/chat/completions", json=body)
                response = self._client.send(request, stream=True)
            else:
                response = self._client.post("/v1/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise LLMError(f"無法連線到模型伺服器 / cannot reach the model server: {exc}") from exc
        if response.status_code >= 400:
            detail = response.read().decode("utf-8", "replace")[:300]
            response.close()
            if "context" in detail and "length" in detail:
                m = _REQUESTED.search(detail)
                sent = sum(self.count_tokens(x["content"]) + 4 for x in body["messages"])
                ratio = int(m.group(1)) / max(sent, 1) if m else 2.0
                raise ContextExceeded(f"context exceeded: {detail}", max(ratio, 1.1))
            raise LLMError(
                f"模型伺服器回應錯誤 / model server error {response.status_code}: {detail}"
            )
        return response

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        started = time.perf_counter()
        for _ in range(3):
            body, trimmed = self._body(messages, max_tokens, temperature)
            if json_schema is not None:
                body["response_format"] = {"type": "json_object", "schema": json_schema}
            try:
                out = self._post(body).json()
                break
            except ContextExceeded as exc:
                self._ratio *= exc.ratio  # count as the server counts, and fit again
        else:
            raise LLMError("無法將提示縮到模型的上下文內 / could not fit the prompt in the context")
        return to_completion(out, json_schema is not None, started, self.name, trimmed)

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_thinking: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        for _ in range(3):
            body, _ = self._body(messages, max_tokens, temperature)
            body["stream"] = True
            try:
                response = self._post(body, stream=True)
                break
            except ContextExceeded as exc:
                self._ratio *= exc.ratio
        else:
            raise LLMError("無法將提示縮到模型的上下文內 / could not fit the prompt in the context")
        splitter = ThinkSplitter()
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line.removeprefix("data:").strip()
                if payload == "[DONE]":
                    break
                choices = json.loads(payload).get("choices") or [{}]
                text = splitter.feed((choices[0].get("delta") or {}).get("content") or "")
                if text:
                    yield text
        finally:
            response.close()
        tail = splitter.finish()
        if tail:
            yield tail
        if on_thinking is not None and splitter.thinking:
            on_thinking("".join(splitter.thinking).strip())

    def close(self) -> None:
        self._client.close()
