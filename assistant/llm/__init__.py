"""The one seam to language models. Nothing outside this package knows which backend runs."""

from assistant.llm.base import LLM, Completion, LLMError, Message
from assistant.llm.factory import make_llm

__all__ = ["LLM", "Completion", "LLMError", "Message", "make_llm"]
