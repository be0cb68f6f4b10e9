"""A GGUF model loaded in-process through llama-cpp-python.

One lock per loaded model: a llama.cpp context is not safe to call from two threads, so
concurrent users queue here instead of crashing it. The system prompt goes first and stays
byte-identical across turns, so llama.cpp's prompt cache reuses its evaluation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from assistant.llm.base import Completion, LLMError, Message, to_completion
from assistant.llm.budget import fit_messages
from assistant.llm.thinking import ThinkSplitter


class LlamaCppLLM:
    def __init__(
        self,
        model_path: Path,
        *,
        context_size: int = 4096,
        threads: int | None = None,
        gpu_layers: int = 0,
        seed: int = 0,
    ) -> None:
        if not model_path.is_file():
            raise LLMError(f"找不到模型檔 / model file not found: {model_path}")
        self.path = model_path
        self.name = model_path.name
        self.context_size = context_size
        self._threads = threads
        self._gpu_layers = gpu_layers
        self._seed = seed
        self._llama: Any = None
        self._framing = 4  # tokens the chat template adds per message, measured on load
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return True

    def _model(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LLMError(
                    "llama-cpp-python 未安裝 / llama-cpp-python is not installed: pip install "
                    "'twfin-assistant[llm]', or set ASSISTANT_LLM_BACKEND=openai|none"
                ) from exc
            try:
                self._llama = Llama(
                    model_path=str(self.path),
                    n_ctx=self.context_size,
                    n_threads=self._threads,
                    n_threads_batch=self._threads,
                    n_gpu_layers=self._gpu_layers,
                    seed=self._seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise LLMError(f"無法載入模型 / cannot load {self.path}: {exc}") from exc
            self._framing = self._measure_framing()
        return self._llama

    def _measure_framing(self) -> int:
        """Tokens the model's chat template adds per message: role marks cost 5 tokens in one
        template and 13 in another (a byte-level vocabulary spells them out), and a prompt
        fitted with too few overflows the context while the answer is written. One probe of
        two one-letter messages, once per load."""
        probe = [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]
        out = self._llama.create_chat_completion(messages=probe, max_tokens=1)
        used = out.get("usage", {}).get("prompt_tokens", 0)
        content = sum(
            len(self._llama.tokenize(m["content"].encode(), add_bos=False)) for m in probe
        )
        return max(4, -(-(used - content) // len(probe)))

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _prepare(
        self, messages: list[Message], max_tokens: int
    ) -> tuple[list[dict[str, str]], bool]:
        budget = self.context_size - max_tokens - 16
        self.count_tokens("")  # loads the model, and with it the template's framing
        fitted, trimmed = fit_messages(messages, budget, self.count_tokens, self._framing)
        return [{"role": m.role, "content": m.content} for m in fitted], trimmed

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: dict[str, Any] | None = None,
    ) -> Completion:
        chat, trimmed = self._prepare(messages, max_tokens)
        kwargs: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
        if json_schema is not None:
            # Grammar-constrained decoding: even a small model cannot emit malformed JSON.
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        started = time.perf_counter()
        with self._lock:
            out = self._model().create_chat_completion(messages=chat, **kwargs)
        return to_completion(out, json_schema is not None, started, self.name, trimmed)

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_thinking: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """Answer text as it is generated, thinking held back; the lock is held throughout."""
        chat, _ = self._prepare(messages, max_tokens)
        splitter = ThinkSplitter()
        with self._lock:
            for chunk in self._model().create_chat_completion(
                messages=chat, max_tokens=max_tokens, temperature=temperature, stream=True
            ):
                delta = chunk["choices"][0].get("delta", {}).get("content") or ""
                text = splitter.feed(delta)
                if text:
                    yield text
        tail = splitter.finish()
        if tail:
            yield tail
        if on_thinking is not None and splitter.thinking:
            on_thinking("".join(splitter.thinking).strip())
