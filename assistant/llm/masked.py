"""Customer identifiers never reach a model outside this process.

``PseudonymisingLLM`` is the pipeline's innermost stage over a backend that sends text elsewhere
(one marked ``remote``, the ``openai`` backend: a server that may sit on another machine, run by
another team; ``assistant.model_pipeline`` adds it). Every message is pseudonymised
before it leaves (``A123456789`` → ``[身分證#3f9a2c1b]``, a keyed token: the same customer gets
the same token within the call, so the model can still tell two customers apart), and the
tokens in the answer are put back before anyone reads it. The key is random per process and
the originals live only in the call's own table.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from assistant.llm.base import LLM, Completion
from assistant.llm.pipeline import Call, Stage
from assistant.pii import Pseudonymizer

# The longest token the pseudonymiser writes ("[電子郵件#" + 8 hex + "]"), with room to spare:
# a stream holds back at most this much while a token may still be arriving in pieces.
_HOLD = 24


class PseudonymisingLLM(Stage):
    """Pseudonymises every message on its way out and puts the originals back in what comes
    in: the answer, its reasoning and a structured call's parsed data. One table per call."""

    def __init__(self, inner: LLM, key: bytes | None = None) -> None:
        super().__init__(inner)
        self._key = key or secrets.token_bytes(32)

    def before(self, call: Call) -> Call:
        p = Pseudonymizer(self._key)
        call.notes["p"], call.notes["held"] = p, ""
        return replace(
            call, messages=[replace(m, content=p.pseudonymise(m.content)) for m in call.messages]
        )

    def after(self, call: Call, out: Completion) -> Completion:
        p: Pseudonymizer = call.notes["p"]
        return replace(
            out,
            text=p.unmask(out.text),
            thinking=p.unmask(out.thinking),
            data=_unmask_data(out.data, p.unmask),
        )

    def on_thinking(self, call: Call, text: str) -> str:
        return call.notes["p"].unmask(text)

    def on_piece(self, call: Call, piece: str) -> str:
        held = call.notes["p"].unmask(call.notes["held"] + piece)
        # Hold back an unfinished "[…" that may be the start of a token.
        cut = held.rfind("[")
        if cut != -1 and "]" not in held[cut:] and len(held) - cut <= _HOLD:
            ready, call.notes["held"] = held[:cut], held[cut:]
        else:
            ready, call.notes["held"] = held, ""
        return ready

    def on_end(self, call: Call) -> str:
        held, call.notes["held"] = call.notes["held"], ""
        return call.notes["p"].unmask(held) if held else ""


def _unmask_data(data: Any, unmask: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return unmask(data)
    if isinstance(data, list):
        return [_unmask_data(x, unmask) for x in data]
    if isinstance(data, dict):
        return {k: _unmask_data(v, unmask) for k, v in data.items()}
    return data
