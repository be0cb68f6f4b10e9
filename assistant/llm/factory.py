"""Chooses the backend from settings; heavy imports stay inside the adapters. The stages around
it (pseudonymising, tracing, the conversion to Traditional, the guard) are added by
``assistant.model_pipeline`` only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.llm.base import LLM, LLMError

if TYPE_CHECKING:
    from assistant.settings import LLMSettings


def make_llm(settings: LLMSettings) -> LLM:
    if settings.backend == "none":
        from assistant.llm.none import NoLLM

        return NoLLM()
    if settings.backend == "llama_cpp":
        from assistant.llm.llama_cpp import LlamaCppLLM

        if settings.model_path is None:
            # The embedded default with no model file given: run without a model, and say so.
            from assistant.llm.none import NoLLM

            return NoLLM()
        if not settings.model_path.is_file():
            # A model name whose file is not installed says how to install it.
            from assistant.llm.model_store import missing_model_error

            raise missing_model_error(settings.model_path)
        return LlamaCppLLM(
            settings.model_path,
            context_size=settings.context_size,
            threads=settings.threads,
            gpu_layers=settings.gpu_layers,
        )
    if settings.backend == "openai":
        from assistant.llm.openai import OpenAICompatibleLLM

        if not settings.base_url:
            raise LLMError(
                "請設定模型伺服器網址 / set ASSISTANT_LLM_BASE_URL for the openai backend"
            )
        # Pseudonymised by the pipeline (assistant.model_pipeline): it is ``remote``.
        return OpenAICompatibleLLM(
            settings.base_url,
            settings.server_model,
            api_key=settings.api_key,
            context_size=settings.context_size,
            timeout_s=settings.timeout_s,
        )
    raise LLMError(f"未知的後端 / unknown LLM backend: {settings.backend}")
